// The layering of ../shared/ARCHITECTURE.md, checked by a machine: which package may import which, no deep
// imports into another package's files, core does no I/O, and the console imports only types from core.
// A new exception must carry a comment here saying why.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LAYER = {
  core: 0,
  storage: 1,
  bus: 1,
  'device-access': 2,
  historian: 2,
  security: 2,
  rules: 2,
  'mechanism-models': 2,
  identifiers: 2,
  evaluation: 2,
  server: 3,
  'edge-gateway': 3,
  cli: 4,
  console: 4,
  simulator: 0.5,
  testkit: 0.5,
};
const SERVICES = new Set(['device-access', 'historian', 'security', 'rules', 'mechanism-models', 'identifiers', 'evaluation']);
// Exceptions, each with its reason:
const ALLOWED_EXTRA = {
  // Services may use the domain and the ports, never each other (rule 2).
  // The composition roots may start the virtual factory for the embedded demo (`npm start`).
  server: ['simulator'],
  'edge-gateway': ['simulator'],
  cli: ['simulator'],
  // Test aids sit beside the domain: they may use core only — and the testkit's conformance suites are
  // written against the storage and bus ports, which every adapter of those ports must pass.
  simulator: [],
  testkit: ['storage', 'bus'],
};
const NO_IO = ['node:fs', 'node:net', 'node:http', 'node:https', 'node:dgram', 'node:child_process', 'fs', 'net', 'http', 'https', 'dgram', 'child_process'];

function mayImport(from, to) {
  if (from === to) return true;
  if ((ALLOWED_EXTRA[from] ?? []).includes(to)) return true;
  if (to === 'simulator' || to === 'testkit') return false;
  if (from === 'simulator' || from === 'testkit') return to === 'core';
  if (SERVICES.has(from) && SERVICES.has(to)) return false;
  if (from === 'console') return to === 'core';
  return LAYER[to] < LAYER[from];
}

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|tsx|mts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

const problems = [];
const IMPORT_RE = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
/** The subpaths a package's exports map names ('.', './platform', …). */
function exportsOf(pkg) {
  try {
    return new Set(Object.keys(JSON.parse(readFileSync(join('packages', pkg, 'package.json'), 'utf8')).exports ?? {}));
  } catch {
    return new Set();
  }
}

for (const pkg of readdirSync('packages')) {
  if (!(pkg in LAYER)) {
    problems.push(`packages/${pkg}: not in the layer table of scripts/check-layers.mjs (add it, and to docs/architecture.md)`);
    continue;
  }
  const manifest = JSON.parse(readFileSync(join('packages', pkg, 'package.json'), 'utf8'));
  const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }));
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (dep.startsWith('@iip/') && !mayImport(pkg, dep.slice(5))) problems.push(`packages/${pkg}/package.json: may not depend on ${dep}`);
  }
  for (const dep of Object.keys(manifest.devDependencies ?? {})) {
    // Any package's tests may use the test aids (fixtures, and the simulator as a real peer).
    if (dep.startsWith('@iip/') && dep !== '@iip/testkit' && dep !== '@iip/simulator' && !mayImport(pkg, dep.slice(5))) problems.push(`packages/${pkg}/package.json: may not depend on ${dep}`);
  }
  if (pkg !== 'console' && !manifest.exports?.['.']) problems.push(`packages/${pkg}/package.json: needs an "exports" map`);
  const srcDir = join('packages', pkg, 'src');
  let srcFiles = [];
  try {
    srcFiles = files(srcDir);
  } catch {
    continue;
  }
  for (const f of srcFiles) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[3] ?? m[4];
      const typeOnly = Boolean(m[2]);
      if (!spec) continue;
      if (spec.startsWith('@iip/')) {
        const [, name, ...deep] = spec.split('/');
        // A subpath is fine when the package exports it (e.g. @iip/device-access/platform); anything else is a deep import.
        if (deep.length > 0 && !exportsOf(name).has(`./${deep.join('/')}`)) problems.push(`${f}: deep import "${spec}" — import "@iip/${name}" (its exports map) instead`);
        if (!mayImport(pkg, name)) problems.push(`${f}: ${pkg} may not import @iip/${name} (layer rule)`);
        else if (name !== pkg && !declared.has(`@iip/${name}`)) problems.push(`${f}: imports @iip/${name} but packages/${pkg}/package.json does not declare it`);
        if (pkg === 'console' && !typeOnly) problems.push(`${f}: the console may import only types from @iip/core (use "import type")`);
      } else if (spec.startsWith('.')) {
        const resolved = join(f, '..', spec);
        if (!resolved.startsWith(join('packages', pkg))) problems.push(`${f}: relative import "${spec}" leaves the package`);
      } else if (pkg === 'core' && NO_IO.includes(spec)) {
        problems.push(`${f}: core does no I/O, but imports "${spec}"`);
      }
    }
  }
}
if (problems.length) {
  console.error(`Layer check failed / 分层检查失败 (${problems.length}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('Layer check passed / 分层检查通过');
