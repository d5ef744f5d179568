// node bench/tools/cpuprofile-inclusive.mjs <file.cpuprofile> <fromSec> <toSec> [top=40]: inclusive and self time per function in a window of the run
import { readFileSync } from 'node:fs';
const [file, fromS, toS, topArg] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}`;
let t = p.startTime; const incl = new Map(), self = new Map(); let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i]; const s = (t - p.startTime) / 1e6; const dt = p.timeDeltas[i + 1] ?? 0;
  if (s < Number(fromS) || s >= Number(toS)) continue;
  let id = p.samples[i]; const n0 = byId.get(id); if (n0.callFrame.functionName === '(idle)') continue;
  total += dt; self.set(name(n0), (self.get(name(n0)) ?? 0) + dt);
  const seen = new Set();
  while (id !== undefined) { const k = name(byId.get(id)); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + dt); } id = parent.get(id); }
}
console.log(`busy ${(total / 1000).toFixed(0)} ms`);
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 40))) console.log(`${(v / 1000).toFixed(0).padStart(7)} ${(100 * v / total).toFixed(1).padStart(5)}%  self ${((self.get(k) ?? 0) / 1000).toFixed(0).padStart(5)}  ${k}`);
