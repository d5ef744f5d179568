// Runs `npm install` when dependencies are missing or older than package-lock.json, so that `npm start`
// and `npm test` work on a fresh clone with no other step. Prints progress because a first install of the
// native SQLite binding takes a minute or two.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const lock = 'package-lock.json';
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
const sqlite = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
if (stale || !existsSync(sqlite)) {
  console.log('Installing dependencies / 正在安装依赖 (npm install) …');
  const t0 = Date.now();
  const env = { ...process.env };
  // Native addons build against the system's Node headers (no downloads on this network).
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  // `npm install` rather than `npm ci`: the lock file omits other platforms' optional binaries (biome), which
  // `npm ci` would reject as out of sync.
  const args = ['install', '--no-audit', '--no-fund'];
  const r = spawnSync('npm', args, { stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error('npm install failed / 依赖安装失败 — see the output above.');
    process.exit(r.status ?? 1);
  }
  console.log(`Dependencies installed in ${((Date.now() - t0) / 1000).toFixed(0)} s / 依赖安装完成`);
}
