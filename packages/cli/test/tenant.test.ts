/** `iip tenant usage|policy` against a real running platform (issue 11, point 6). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { main } from '@iip/cli';
import { type Platform, startPlatform } from '@iip/server';
import { tempDir } from '@iip/testkit';

let platform: Platform;
let dir: { path: string; cleanup(): Promise<void> };
const PASSWORD = 'cli-tenant-password-123';

before(async () => {
  dir = await tempDir('iip-cli-tenant-');
  platform = await startPlatform({ dataDir: `${dir.path}/data`, httpPort: 0, mqttPort: 0, adminPassword: PASSWORD, consoleDir: '/nonexistent' });
  await platform.registry.createProduct('default' as never, {
    id: 'sensor',
    model: { properties: [{ id: 't', dataType: { type: 'float' }, access: 'r' }], events: [], services: [] },
  });
  process.env.IIP_URL = platform.httpUrl;
  process.env.IIP_PASSWORD = PASSWORD;
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

test('tenant policy changes only the named fields; tenant usage shows usage against the quotas', async () => {
  const set = await iip('tenant', 'policy', '--raw-days', '30', '--minute-days', '365', '--devices', '2', '--json');
  assert.equal(set.code, 0, set.out);
  assert.deepEqual(JSON.parse(set.out), {
    retention: { rawDays: 30, rollups: { '60000': 365 }, auditDays: null, eventDays: null },
    quotas: { devices: 2, pointsPerDay: null, storedBytes: null },
    security: { totpRequiredForAdmins: false },
  });
  const again = await iip('tenant', 'policy', '--points-per-day', '1000', '--devices', 'unlimited', '--json');
  assert.deepEqual(JSON.parse(again.out), {
    retention: { rawDays: 30, rollups: { '60000': 365 }, auditDays: null, eventDays: null },
    quotas: { devices: null, pointsPerDay: 1000, storedBytes: null },
    security: { totpRequiredForAdmins: false },
  });
  // The audit retention is changed by its own flag and kept by the others (issue 12).
  const audit = await iip('tenant', 'policy', '--audit-days', '400', '--json');
  assert.equal(audit.code, 0, audit.out);
  assert.equal((JSON.parse(audit.out) as { retention: { auditDays: number } }).retention.auditDays, 400);
  const kept = await iip('tenant', 'policy', '--raw-days', '30', '--json');
  assert.equal((JSON.parse(kept.out) as { retention: { auditDays: number } }).retention.auditDays, 400);
  const shown = await iip('tenant', 'policy');
  assert.equal(shown.code, 0);
  assert.match(shown.out, /raw \/ 原始数据 30 days/);
  assert.match(shown.out, /points per day \/ 每日数据点 1,000/);
  assert.match(shown.out, /audit events \/ 审计事件 400 days/);
  assert.match(shown.out, /second factor for administrators \/ 管理员双因素 optional/);

  await iip('device', 'create', '--product', 'sensor', '--id', 't-1');
  const u = await iip('tenant', 'usage');
  assert.equal(u.code, 0, u.out);
  assert.match(u.out, /devices \/ 设备:\s+1 of unlimited/);
  assert.match(u.out, /points today \/ 今日数据点:\s+0 of 1,000/);
  const json = JSON.parse((await iip('tenant', 'usage', '--json')).out) as { usage: { devices: number } };
  assert.equal(json.usage.devices, 1);
});

test('a bad value is a usage error (2); a refused policy is the API code (1)', async () => {
  assert.equal((await iip('tenant', 'policy', '--devices', '-3')).code, 2);
  assert.equal((await iip('tenant', 'policy', '--raw-days', '0')).code, 1, 'rawDays must be above 0: IIP_ERR_VALIDATION');
  assert.equal((await iip('tenant', 'bogus')).code, 2);
  assert.equal((await iip('tenant', 'policy', '--audit-days', '7')).code, 1, 'audit events are kept at least 30 days: IIP_ERR_VALIDATION');
});
