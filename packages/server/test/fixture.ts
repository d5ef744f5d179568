/** Starts a real platform (temp data dir, free ports) for a test file and signs in as admin. */
import type { ThingModel } from '@iip/core';
import { type OidcOptions, startPlatform, type Platform, type PlatformOptions } from '@iip/server';
import { tempDir } from '@iip/testkit';

export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

export const SENSOR_MODEL: ThingModel = {
  properties: [
    { id: 'temperature', name: 'Temperature', dataType: { type: 'float', min: -40, max: 150, unit: '°C' }, access: 'r' },
    { id: 'count', dataType: { type: 'int', min: 0 }, access: 'r' },
    { id: 'running', dataType: { type: 'bool' }, access: 'r' },
    { id: 'state', dataType: { type: 'enum', values: [{ value: 'run' }, { value: 'idle' }, { value: 'fault' }] }, access: 'r' },
    { id: 'note', dataType: { type: 'string', maxLength: 16 }, access: 'rw' },
  ],
  events: [],
  services: [],
};

export interface TestPlatform {
  platform: Platform;
  /** The platform's data directory (its SQLite file is iip.db in it). */
  dataDir: string;
  token: string;
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  /** Same, without the admin's token. */
  anon<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  createDevice(id: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPlatform(
  opts: { limits?: { maxPayloadBytes?: number }; mqttServer?: 'aedes' | 'iip'; oidc?: OidcOptions; platform?: Partial<Pick<PlatformOptions, 'smtp' | 'ruleActions'>> } = {},
): Promise<TestPlatform> {
  const dir = await tempDir('iip-server-test-');
  const platform = await startPlatform({
    dataDir: dir.path,
    httpPort: 0,
    mqttPort: 0,
    adminPassword: ADMIN_PASSWORD,
    consoleDir: '/nonexistent',
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.mqttServer ? { mqttServer: opts.mqttServer } : {}),
    ...(opts.oidc ? { oidc: opts.oidc } : {}),
    ...opts.platform,
  });
  async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
    const res = await fetch(platform.httpUrl + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
  const login = await api<{ token: string }>('POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  const token = login.body.token;
  const authed = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    api<T>(method, path, body, { authorization: `Bearer ${token}`, ...headers });
  const created = await authed('POST', '/api/v1/products', { id: 'sensor', name: 'Sensor', model: SENSOR_MODEL });
  if (created.status !== 201) throw new Error(`product create failed: ${JSON.stringify(created.body)}`);
  return {
    platform,
    dataDir: dir.path,
    token,
    api: authed,
    anon: api,
    async createDevice(id: string) {
      const r = await authed<{ secret: string }>('POST', '/api/v1/devices', { id, product: 'sensor' });
      if (r.status !== 201) throw new Error(`device create failed: ${JSON.stringify(r.body)}`);
      return r.body.secret;
    },
    async close() {
      await platform.close();
      await dir.cleanup();
    },
  };
}
