/**
 * Issue 11, point 5 and its defect ("kill -9 of the platform during MQTT ingest lost 2 of 840 QoS 1 messages
 * that had been PUBACKed"): a QoS 1 PUBACK and an HTTP 2xx mean the reading is committed. The embedded
 * platform runs as its own process (`iip up`, as `npm start` runs it) on free ports with a temp data dir;
 * mqtt.js clients, Debian's mosquitto_pub -q 1 and HTTP ingest send readings; every acknowledged reading is
 * recorded; the platform is killed with SIGKILL in the middle of it; then the SQLite file is opened read-only
 * and every acknowledged reading must be in it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, waitFor } from '@iip/testkit';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ADMIN_PASSWORD = 'kill-nine-password-123';
const MODEL = { properties: [{ id: 'v', dataType: { type: 'int', min: 0 }, access: 'r' }], events: [], services: [] };
/** Acknowledged readings of each source before the kill (the kill comes when all are reached). */
const TARGET = { mqttjs: 600, mosquitto: 100, http: 60 };

interface Running {
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  mqttPort: number;
  dataDir: string;
  output: () => string;
}

async function startPlatformProcess(dataDir: string): Promise<Running> {
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'up', '--port', String(httpPort), '--mqtt-port', String(mqttPort), '--data', dataDir, '--simulate', '0'], {
    cwd: ROOT,
    env: { ...process.env, IIP_ADMIN_PASSWORD: ADMIN_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the platform exited (${child.exitCode}):\n${out}`);
      return fetch(`${httpUrl}/api/v1/auth/login`, { method: 'POST' }).then(
        () => true,
        () => false,
      );
    },
    'the platform to listen',
    60_000,
    100,
  );
  return { child, httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, mqttPort, dataDir, output: () => out };
}

async function api<T>(p: Running, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(p.httpUrl + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Readings acknowledged to their senders: device → timestamps. */
type Acked = Map<string, number[]>;

function ack(acked: Acked, device: string, ts: number): void {
  const list = acked.get(device) ?? [];
  list.push(ts);
  acked.set(device, list);
}

const count = (acked: Acked, prefix: string) => [...acked].filter(([d]) => d.startsWith(prefix)).reduce((n, [, l]) => n + l.length, 0);

/** mqtt.js devices: each keeps `window` QoS 1 readings in flight until stopped. */
function runMqttJs(p: Running, devices: Array<{ id: string; secret: string }>, t0: number, acked: Acked, stop: { now: boolean }): { clients: MqttClient[]; done: Promise<void> } {
  const clients: MqttClient[] = [];
  const done = Promise.all(
    devices.map(async (d) => {
      const c = await mqtt.connectAsync(p.mqttUrl, { username: `default/${d.id}`, password: d.secret, clientId: `default/${d.id}`, reconnectPeriod: 0, protocolVersion: 4 });
      clients.push(c);
      let next = 0;
      const worker = async () => {
        while (!stop.now) {
          const ts = t0 + next++;
          try {
            await c.publishAsync(`iip/default/${d.id}/telemetry`, JSON.stringify({ ts, v: ts - t0 }), { qos: 1 });
          } catch {
            return; // the platform is gone: what was not acknowledged is not recorded
          }
          if (stop.now && !c.connected) return;
          ack(acked, d.id, ts);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    }),
  ).then(() => undefined);
  return { clients, done };
}

/**
 * mosquitto_pub -q 1 -l publishes each stdin line; -d prints every PUBLISH it sends (with its message id)
 * and every PUBACK it receives. Lines are sent in order, so the k-th first sending is line k.
 */
function runMosquitto(p: Running, d: { id: string; secret: string }, t0: number, acked: Acked): ChildProcess {
  const child = spawn('stdbuf', ['-oL', 'mosquitto_pub', '-d', '-q', '1', '-l', '-h', '127.0.0.1', '-p', String(p.mqttPort), '-i', `default/${d.id}`, '-u', `default/${d.id}`, '-P', d.secret, '-t', `iip/default/${d.id}/telemetry`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(JSON.stringify({ ts: t0 + i, v: i }));
  child.stdin?.on('error', () => undefined); // EPIPE once it exits
  child.stdin?.write(`${lines.join('\n')}\n`);
  const tsOfMid = new Map<number, number>();
  let sent = 0;
  let buf = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) {
      const s = /sending PUBLISH \(d0, q1, r0, m(\d+),/.exec(line);
      if (s) tsOfMid.set(Number(s[1]), t0 + sent++);
      const a = /received PUBACK \(Mid: (\d+)/.exec(line);
      if (a) {
        const ts = tsOfMid.get(Number(a[1]));
        assert.ok(ts !== undefined, `PUBACK for a message id mosquitto_pub did not send: ${line}`);
        ack(acked, d.id, ts);
      }
    }
  });
  return child;
}

/** HTTP ingest: `parallel` requests at a time, each reading recorded once it got its 2xx. */
async function runHttp(p: Running, d: { id: string; secret: string }, t0: number, acked: Acked, stop: { now: boolean }, parallel: number): Promise<void> {
  const auth = `Basic ${Buffer.from(`default/${d.id}:${d.secret}`).toString('base64')}`;
  let next = 0;
  const worker = async () => {
    while (!stop.now) {
      const ts = t0 + next++;
      let status: number;
      try {
        const res = await fetch(`${p.httpUrl}/api/v1/ingest`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ ts, v: ts - t0 }) });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        return;
      }
      if (status >= 200 && status < 300) ack(acked, d.id, ts);
      else if (!stop.now) throw new Error(`HTTP ingest answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe('issue 11: a PUBACK or an HTTP 2xx means the reading is committed (kill -9 of the embedded platform)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    dir = await tempDir('iip-kill9-');
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('every reading acknowledged before SIGKILL is in the SQLite file afterwards', { timeout: 240_000 }, async (t) => {
    const p = await startPlatformProcess(dir.path);
    const stop = { now: false };
    let mosquitto: ChildProcess | undefined;
    let clients: MqttClient[] = [];
    const acked: Acked = new Map();
    try {
      const login = await api<{ token: string }>(p, undefined, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const token = login.body.token;
      const product = await api(p, token, 'POST', '/api/v1/products', { id: 'meter', name: 'Meter', model: MODEL });
      assert.equal(product.status, 201, JSON.stringify(product.body));
      const devices: Record<string, { id: string; secret: string }> = {};
      for (const id of ['js-1', 'js-2', 'js-3', 'js-4', 'mosq-1', 'http-1']) {
        const r = await api<{ secret: string }>(p, token, 'POST', '/api/v1/devices', { id, product: 'meter' });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        devices[id] = { id, secret: r.body.secret };
      }
      const t0 = Date.now() - 60_000;
      const js = runMqttJs(p, ['js-1', 'js-2', 'js-3', 'js-4'].map((id) => devices[id] as { id: string; secret: string }), t0, acked, stop);
      mosquitto = runMosquitto(p, devices['mosq-1'] as { id: string; secret: string }, t0, acked);
      const http = runHttp(p, devices['http-1'] as { id: string; secret: string }, t0, acked, stop, 4);
      await waitFor(
        () => count(acked, 'js-') >= TARGET.mqttjs && count(acked, 'mosq-') >= TARGET.mosquitto && count(acked, 'http-') >= TARGET.http,
        `acknowledgements from every source (mqtt.js ${count(acked, 'js-')}, mosquitto_pub ${count(acked, 'mosq-')}, HTTP ${count(acked, 'http-')})`,
        120_000,
        5,
      );
      clients = js.clients;
      // In the middle of the load: readings are queued, in a transaction and on the wire.
      const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
      p.child.kill('SIGKILL');
      await exited;
      stop.now = true;
      await Promise.race([Promise.all([js.done, http]), new Promise((r) => setTimeout(r, 10_000))]);
    } finally {
      stop.now = true;
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      mosquitto?.kill('SIGKILL');
      for (const c of clients) c.end(true);
    }

    const db = new Database(join(dir.path, 'iip.db'), { readonly: true, fileMustExist: true });
    const stored = new Map<string, Set<number>>();
    try {
      const rows = db.prepare("SELECT s.device AS device, r.ts AS ts FROM raw_all r JOIN series s ON s.id = r.series WHERE s.tenant = 'default' AND s.property = 'v'").all() as Array<{ device: string; ts: number }>;
      for (const r of rows) {
        const set = stored.get(r.device) ?? new Set<number>();
        set.add(r.ts);
        stored.set(r.device, set);
      }
    } finally {
      db.close();
    }
    const missing: string[] = [];
    let total = 0;
    for (const [device, list] of acked) {
      total += list.length;
      const have = stored.get(device) ?? new Set<number>();
      for (const ts of list) if (!have.has(ts)) missing.push(`${device}@${ts}`);
    }
    const storedTotal = [...stored.values()].reduce((n, s) => n + s.size, 0);
    t.diagnostic(`acknowledged ${total} readings (mqtt.js ${count(acked, 'js-')}, mosquitto_pub ${count(acked, 'mosq-')}, HTTP ${count(acked, 'http-')}); ${storedTotal} stored`);
    assert.ok(count(acked, 'mosq-') >= TARGET.mosquitto && count(acked, 'http-') >= TARGET.http);
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${total} acknowledged readings are not in the file after kill -9`);
  });
});
