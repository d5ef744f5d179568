// `npm start`: build what is stale, then run `iip up` (platform + simulated factory) in the foreground.
// Signals are forwarded so Ctrl-C reaches the platform, which flushes its data before it exits.
import { spawn, spawnSync } from 'node:child_process';
import { PLATFORM_NODE_FLAGS } from '../packages/cli/bin/node-flags.mjs';

const b = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (b.status !== 0) process.exit(b.status ?? 1);
const child = spawn(process.execPath, [...PLATFORM_NODE_FLAGS, '--import', 'tsx', 'packages/cli/src/main.ts', 'up', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
