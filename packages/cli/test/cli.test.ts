/** The `iip` command against a real running platform: device create/list, simulate, and its errors. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { main } from '@iip/cli';
import { startPlatform, type Platform } from '@iip/server';
import { tempDir, waitFor } from '@iip/testkit';

let platform: Platform;
let dir: { path: string; cleanup(): Promise<void> };
const PASSWORD = 'cli-test-password-123';

before(async () => {
  dir = await tempDir('iip-cli-test-');
  platform = await startPlatform({ dataDir: `${dir.path}/data`, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: '/nonexistent' });
  await platform.registry.createProduct('default' as never, {
    id: 'sensor',
    model: { properties: [{ id: 't', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] },
  });
  process.env.IIP_URL = platform.httpUrl;
  process.env.IIP_PASSWORD = PASSWORD;
  process.env.IIP_MQTT_URL = platform.mqttUrl;
  process.chdir(dir.path); // `iip simulate` keeps device secrets under ./.iip
});
after(async () => {
  await platform?.close();
  await dir?.cleanup();
});

async function iip(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(argv, (s) => lines.push(s));
  return { code, out: lines.join('\n') };
}

test('device create prints the secret once; device list shows the device', async () => {
  const c = await iip('device', 'create', '--product', 'sensor', '--id', 'cli-1', '--json');
  assert.equal(c.code, 0, c.out);
  const created = JSON.parse(c.out) as { device: { id: string }; secret: string };
  assert.equal(created.device.id, 'cli-1');
  assert.ok(created.secret.length >= 32);
  const l = await iip('device', 'list');
  assert.equal(l.code, 0);
  assert.match(l.out, /cli-1\s+cli-1\s+sensor/);
  assert.equal(l.out.includes(created.secret), false);
});

test('usage errors exit with 2, an unreachable platform with 1', async () => {
  assert.equal((await iip('device', 'create', '--bogus')).code, 2);
  assert.equal((await iip('frobnicate')).code, 2);
  const saved = process.env.IIP_URL;
  process.env.IIP_URL = 'http://127.0.0.1:9';
  try {
    assert.equal((await iip('device', 'list')).code, 1);
  } finally {
    process.env.IIP_URL = saved;
  }
});

test('simulate --rate provisions load devices and their data is stored', async () => {
  const before = platform.historian.stats().written;
  const r = await iip('simulate', '--devices', '3', '--rate', '200', '--duration', '1');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /created 3 devices/);
  const done = /Done[^:]*: (\d+) messages, (\d+) points/.exec(r.out);
  assert.ok(done, r.out);
  const points = Number(done[2]);
  assert.ok(points >= 1000, `at least half the paced messages were sent: ${r.out}`);
  await waitFor(async () => {
    await platform.historian.flush();
    return platform.historian.stats().written - before >= points;
  }, `${points} points stored`);
  // A second run reuses the stored credentials instead of creating devices again.
  const again = await iip('simulate', '--devices', '3', '--rate', '100', '--duration', '0.5');
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /created/);
});
