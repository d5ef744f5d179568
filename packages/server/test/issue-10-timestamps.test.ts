/**
 * Issue 10, point 2: readings sent without a timestamp are never lost, and an accepted count is the stored
 * count. Ten QoS 0 publishes of one property without `ts` (mqtt.js and Debian's mosquitto_pub) used to
 * land in one or two server milliseconds and be stored once each as (series, ts) duplicates; an HTTP batch of
 * three untimestamped records answered `accepted: 3` and stored one. Re-delivered points (same client ts)
 * are still stored once — that is how gateways get exactly-once — but the answer now says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, waitFor } from '@iip/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type TestPlatform, startTestPlatform } from './fixture.js';

let tp: TestPlatform;
const secrets: Record<string, string> = {};

before(async () => {
  tp = await startTestPlatform();
  for (const id of ['mq1', 'mp1', 'http1', 'http2', 'http3', 'mix1']) secrets[id] = await tp.createDevice(id);
});
after(async () => {
  await tp?.close();
});

type Point = { ts: number; value: unknown };

async function history(device: string, prop: string): Promise<Point[]> {
  const r = await tp.api<{ points: Point[] }>('GET', `/api/v1/devices/${device}/properties/${prop}/history?from=946684800000&to=${Date.now() + 600_000}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.points;
}

/** Waits until `n` points are stored (or fails naming how many were), then checks nothing more arrives. */
async function storedPoints(device: string, prop: string, n: number): Promise<Point[]> {
  let last: Point[] = [];
  try {
    await waitFor(
      async () => {
        last = await history(device, prop);
        return last.length >= n ? last : undefined;
      },
      `${n} points of ${device}.${prop}`,
      5_000,
    );
  } catch {
    assert.fail(`expected ${n} stored points of ${device}.${prop}, found ${last.length}: ${JSON.stringify(last)}`);
  }
  return last;
}

/** The values in time order must be exactly the values sent, in the order sent, each with its own ts. */
function assertAllInOrder(points: Point[], values: number[]): void {
  assert.deepEqual(
    points.map((p) => p.value),
    values,
  );
  for (let i = 1; i < points.length; i++) assert.ok((points[i] as Point).ts > (points[i - 1] as Point).ts, 'timestamps strictly increase');
}

function ingest(device: string, body: unknown) {
  const auth = `Basic ${Buffer.from(`default/${device}:${secrets[device]}`).toString('base64')}`;
  return tp.anon<{ accepted: number; duplicates: number; duplicatePoints?: Array<{ property: string; ts: number }>; device: string }>(
    'POST',
    '/api/v1/ingest',
    body,
    { authorization: auth },
  );
}

function connect(device: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${tp.platform.mqttPort}`, {
      username: `default/${device}`,
      password: secrets[device] as string,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

const TEN = Array.from({ length: 10 }, (_, i) => 100 + i);

describe('untimestamped readings over MQTT are all stored', () => {
  test('mqtt.js: ten QoS 0 publishes of one property without ts store ten points, in order', async () => {
    const c = await connect('mq1');
    try {
      // Sent back to back: they reach the platform within a millisecond or two.
      await Promise.all(TEN.map((v) => c.publishAsync('iip/default/mq1/telemetry', JSON.stringify({ count: v }), { qos: 0 })));
      assertAllInOrder(await storedPoints('mq1', 'count', 10), TEN);
    } finally {
      await c.endAsync();
    }
  });

  test('mosquitto_pub (Debian): ten lines published QoS 0 on one connection store ten points, in order', async () => {
    const r = await run(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(tp.platform.mqttPort), '-q', '0', '-i', 'mp1', '-u', 'default/mp1', '-P', secrets.mp1 as string, '-t', 'iip/default/mp1/telemetry', '-l'],
      15_000,
      `${TEN.map((v) => JSON.stringify({ count: v })).join('\n')}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    assertAllInOrder(await storedPoints('mp1', 'count', 10), TEN);
  });
});

describe('HTTP ingest answers with what it stored', () => {
  test('a batch of three records without ts answers accepted 3 and stores all three, in order', async () => {
    const r = await ingest('http1', [{ count: 601 }, { count: 602 }, { count: 603 }]);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 3, duplicates: 0, device: 'http1' });
    assertAllInOrder(await storedPoints('http1', 'count', 3), [601, 602, 603]);
  });

  test('properties of one untimestamped record share one timestamp', async () => {
    const r = await ingest('http3', [
      { count: 1, temperature: 20 },
      { count: 2, temperature: 21 },
    ]);
    assert.deepEqual(r.body, { accepted: 4, duplicates: 0, device: 'http3' });
    const count = await storedPoints('http3', 'count', 2);
    const temperature = await storedPoints('http3', 'temperature', 2);
    assert.deepEqual(
      count.map((p) => p.ts),
      temperature.map((p) => p.ts),
    );
  });

  test('a re-delivered point (same client ts) is stored once and the answer counts and names it', async () => {
    const T = Date.now() - 60_000;
    const first = await ingest('http2', { ts: T, values: { count: 1 } });
    assert.deepEqual(first.body, { accepted: 1, duplicates: 0, device: 'http2' });
    // Re-delivery of T, one new point, and a point repeated inside the batch.
    const again = await ingest('http2', [
      { ts: T, values: { count: 1 } },
      { ts: T + 1000, values: { count: 2 } },
      { ts: T + 1000, values: { count: 2 } },
    ]);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.deepEqual(again.body, {
      accepted: 1,
      duplicates: 2,
      duplicatePoints: [
        { property: 'count', ts: T },
        { property: 'count', ts: T + 1000 },
      ],
      device: 'http2',
    });
    const pts = await storedPoints('http2', 'count', 2);
    assert.deepEqual(pts, [
      { ts: T, value: 1 },
      { ts: T + 1000, value: 2 },
    ]);
  });

  test('an accepted count is the stored count: admission and historian agree', async () => {
    const T = Date.now() - 30_000;
    await ingest('mix1', [{ ts: T, values: { count: 5 } }, { count: 6 }, { count: 7 }]);
    await ingest('mix1', [{ ts: T, values: { count: 5 } }, { count: 8 }]);
    await tp.platform.historian.flush();
    assertAllInOrder(await storedPoints('mix1', 'count', 4), [5, 6, 7, 8]);
    const ingestStats = tp.platform.admission.stats();
    const historianStats = tp.platform.historian.stats();
    assert.equal(ingestStats.acceptedPoints, historianStats.written, 'accepted points = points written');
    assert.equal(ingestStats.duplicatePoints, historianStats.duplicates, 'duplicates reported = duplicates not written');
  });
});
