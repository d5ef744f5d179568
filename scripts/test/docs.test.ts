/**
 * Keeps the written contract in step with the code: the error table in docs/reference/errors.md equals
 * what the packages define, every IIP_ERR_* code used in source is defined, and docs/architecture.md names
 * every package that exists.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONSOLE_ERRORS, loadAllErrorTables, renderErrorsDoc } from '../errors-doc.js';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name === 'test') continue;
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

test('docs/reference/errors.md is exactly what the error tables generate (run `npm run docs:errors`)', async () => {
  const codes = await loadAllErrorTables();
  assert.equal(readFileSync('docs/reference/errors.md', 'utf8'), renderErrorsDoc(codes));
});

test('every IIP_ERR_* code used in source is defined in an errors table', async () => {
  const codes = await loadAllErrorTables();
  const undefinedCodes = new Set<string>();
  for (const f of sources('packages')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/IIP_ERR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])/g)) {
      if (!codes.has(m[0]) && !(m[0] in CONSOLE_ERRORS)) undefinedCodes.add(`${m[0]} (${f})`);
    }
  }
  assert.deepEqual([...undefinedCodes], []);
});

test('docs/architecture.md lists every package', () => {
  const doc = readFileSync('docs/architecture.md', 'utf8');
  for (const pkg of readdirSync('packages')) assert.ok(doc.includes(`| ${pkg} |`), `docs/architecture.md has no row for packages/${pkg}`);
});
