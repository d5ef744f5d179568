/**
 * Processes of a scaled-out platform for tests (issue 11): each is `iip up` as its own process (as an operator
 * starts it), on free ports, against a throwaway PostgreSQL and nats-server of the testkit. Killing one with
 * SIGKILL is a real crash.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import type { DeviceId, TenantId } from '@iip/core';
import { openPostgresStorage } from '@iip/storage';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ADMIN_PASSWORD = 'scale-out-password-123';

export interface PlatformProcess {
  readonly role: string;
  readonly child: ChildProcess;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly mqttPort: number;
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (clean stop: flushes), and wait for the exit. */
  stop(): Promise<void>;
}

export async function startProcess(role: 'front-door' | 'worker' | 'front-door,worker', storage: string, bus: string): Promise<PlatformProcess> {
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const data = await tempDir('iip-scale-out-');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'packages/cli/src/main.ts', 'up', '--port', String(httpPort), '--mqtt-port', String(mqttPort), '--data', data.path, '--storage', storage, '--bus', bus, '--role', role],
    { cwd: ROOT, env: { ...process.env, IIP_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`iip up --role ${role} exited (${child.exitCode}):\n${out}`);
      return fetch(`${httpUrl}/api/v1/auth/login`, { method: 'POST' }).then(
        () => true,
        () => false,
      );
    },
    `iip up --role ${role} to listen`,
    60_000,
    100,
  );
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    await data.cleanup();
  };
  return {
    role,
    child,
    httpUrl,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    mqttPort,
    output: () => out,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

export async function api<T>(p: { httpUrl: string }, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(p.httpUrl + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T };
}

export async function login(p: { httpUrl: string }): Promise<string> {
  const r = await api<{ token: string }>(p, undefined, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/** Stored raw points of these devices (default tenant, property `v`), read through the PostgreSQL adapter: device → sorted ts. */
export async function storedTimestamps(url: string, devices: readonly string[]): Promise<Map<string, number[]>> {
  const storage = await openPostgresStorage({ url });
  try {
    const out = new Map<string, number[]>();
    for (const d of devices) {
      const series = (await storage.telemetry.listSeries('default' as TenantId, d as DeviceId)).find((s) => s.property === 'v');
      const rows = series ? await storage.telemetry.raw(series.id, 0, Number.MAX_SAFE_INTEGER, 10_000_000) : [];
      out.set(d, rows.map((r) => r.ts));
    }
    return out;
  } finally {
    await storage.close();
  }
}
