// Builds what the platform serves: the console bundle (Vite). Skips the build when dist/ is newer than every
// source file, so `npm start` after the first run starts in seconds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const root = 'packages/console';
const out = join(root, 'dist', 'index.html');
const srcTime = Math.max(newest(join(root, 'src')), statSync(join(root, 'index.html')).mtimeMs, statSync(join(root, 'vite.config.ts')).mtimeMs);
if (existsSync(out) && statSync(out).mtimeMs >= srcTime && !process.argv.includes('--force')) {
  console.log('Console is up to date / 控制台已是最新');
} else {
  console.log('Building the console / 正在构建控制台 (vite build) …');
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log('Console built / 控制台构建完成');
}
