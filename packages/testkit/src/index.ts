/**
 * @iip/testkit — fixtures for tests that talk to real peers: free ports, throw-away data directories,
 * waiting for a condition, and running an external program (mosquitto_pub, python3) with a timeout.
 * Everything a fixture starts is cleaned up by the function it returns or by `t.after`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IipError } from '@iip/core';

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory and a function that removes it. */
export async function tempDir(prefix = 'iip-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`) and returns its exit code and output. */
export function run(cmd: string, args: readonly string[], timeoutMs = 15_000, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

export { startNats, type NatsServer, type StartNatsOptions } from './nats.js';
export { runBusConformance, type BusFixture } from './bus-conformance.js';
export { runDriverConformance, type DriverCase, type DriverFixture, type DriverPeer } from './driver-conformance.js';
export { runStorageConformance, type StorageFixture } from './storage-conformance.js';
export { runHandleStoreConformance, type HandleStoreFixture } from './handle-store-conformance.js';

/** Runs `fn`, which must throw an IipError with `code` (and a message matching `match`); returns the error. */
export function throwsIipError(fn: () => unknown, code: string, match?: RegExp): IipError {
  try {
    fn();
  } catch (e) {
    return asIipError(e, code, match);
  }
  assert.fail(`expected ${code}`);
}

/** The same for an async `fn`. */
export async function rejectsIipError(fn: () => Promise<unknown>, code: string, match?: RegExp): Promise<IipError> {
  try {
    await fn();
  } catch (e) {
    return asIipError(e, code, match);
  }
  assert.fail(`expected ${code}`);
}

function asIipError(e: unknown, code: string, match: RegExp | undefined): IipError {
  assert.ok(e instanceof IipError, `expected IipError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (match) assert.match(e.message, match);
  return e;
}
export { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';
export { authenticator, base32Decode, stepOf, TOTP_STEP_S, totpAt } from './totp-code.js';
