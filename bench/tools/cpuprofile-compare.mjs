// node bench/tools/cpuprofile-compare.mjs <file.cpuprofile> <fromA> <toA> <fromB> <toB> [top=30]: self time per function in two windows of a run, per second of each (to compare a burst with the steady state)
import { readFileSync } from 'node:fs';
const [file, a0, a1, b0, b1, topArg] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}`;
const win = (from, to) => {
  const m = new Map();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    const s = (t - p.startTime) / 1e6;
    if (s < from || s >= to) continue;
    const k = name(byId.get(p.samples[i]));
    m.set(k, (m.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1000 / (to - from));
  }
  m.delete('(idle) ');
  return m;
};
const A = win(Number(a0), Number(a1));
const B = win(Number(b0), Number(b1));
const sum = (m) => [...m.values()].reduce((x, y) => x + y, 0);
console.log(`busy ms per second: A ${sum(A).toFixed(0)}  B ${sum(B).toFixed(0)}`);
const keys = [...new Set([...A.keys(), ...B.keys()])].sort((x, y) => (A.get(y) ?? 0) - (B.get(y) ?? 0) - ((A.get(x) ?? 0) - (B.get(x) ?? 0)));
for (const k of keys.slice(0, Number(topArg ?? 30))) console.log(`${(A.get(k) ?? 0).toFixed(1).padStart(7)} ${(B.get(k) ?? 0).toFixed(1).padStart(7)}  ${k}`);
