#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so the workspace needs no separate compile step.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PLATFORM_NODE_FLAGS } from './node-flags.mjs';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const r = spawnSync(process.execPath, [...PLATFORM_NODE_FLAGS, '--import', 'tsx', main, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
