// node bench/tools/cpuprofile-windows.mjs <file.cpuprofile> [windowMs=1000] [top=8] [fromSec] [toSec]: self time per function in each window of the run
import { readFileSync } from 'node:fs';
const [file, winArg, topArg, fromArg, toArg] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const win = Number(winArg ?? 1000) * 1000, top = Number(topArg ?? 8);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
let t = p.startTime; const windows = new Map();
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i]; const w = Math.floor((t - p.startTime) / win);
  const m = windows.get(w) ?? new Map(); windows.set(w, m);
  const k = name(byId.get(p.samples[i])); m.set(k, (m.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
}
for (const [w, m] of [...windows].sort((a, b) => a[0] - b[0])) {
  const s = w * win / 1e6; if (fromArg && s < Number(fromArg)) continue; if (toArg && s > Number(toArg)) continue;
  const tot = [...m.values()].reduce((a, b) => a + b, 0);
  const idle = (m.get('(idle) :-1') ?? 0);
  console.log(`-- ${s.toFixed(1)}s busy ${((tot - idle) / 1000).toFixed(0)} ms`);
  for (const [k, v] of [...m].filter(([k]) => k !== '(idle) :-1').sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`   ${(v / 1000).toFixed(1).padStart(7)} ${k}`);
}
