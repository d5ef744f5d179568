/**
 * kill -9 of the gateway process while its buffer is full and the uplink is down, in the middle of writing:
 * after a restart, every point that had been committed to the buffer reaches the broker. The gateway runs as
 * a child process (test/fixtures/gateway-process.ts) with a SyntheticDriver standing in for a PLC.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { tempDir, waitFor } from '@iip/testkit';
import { TestPlatform } from './fixtures/test-platform.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/gateway-process.ts', import.meta.url));
const DEVICES = ['press-1', 'press-2', 'press-3', 'press-4'];

interface Report {
  collected: number;
  buffered: number;
  sent: number;
  connected: boolean;
}

let platform: TestPlatform;
let dir: { path: string; cleanup: () => Promise<void> };
const children = new Set<ChildProcess>();

before(async () => {
  platform = await TestPlatform.start();
  dir = await tempDir('iip-edge-crash-');
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await platform?.close();
  await dir?.cleanup();
});

function startGateway(rate: number, t0: number): { child: ChildProcess; last: () => Report | null; exited: Promise<void> } {
  const args = { mqttUrl: platform.url, tenant: platform.tenant, gatewayId: platform.gatewayId, secret: platform.secret, dataDir: dir.path, rate, t0, devices: DEVICES };
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let last: Report | null = null;
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) last = JSON.parse(l) as Report;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, last: () => last, exited };
}

test('kill -9 with a full buffer and the uplink down: nothing committed is lost after restart', async (t) => {
  // Recent timestamps: the buffer's age bound (7 days by default) would drop older ones.
  const t0 = Date.now();
  platform.cut();
  const first = startGateway(40_000, t0);
  await waitFor(() => (first.last()?.collected ?? 0) >= 80_000, 'the first gateway to buffer 80,000 points', 40_000);
  assert.equal(first.last()!.connected, false);
  // Killed while the driver is still producing: a transaction may be half written.
  const committed = first.last()!.collected;
  first.child.kill('SIGKILL');
  await first.exited;
  assert.equal(first.child.signalCode, 'SIGKILL');

  platform.restore();
  const second = startGateway(0, t0);
  await waitFor(() => {
    const r = second.last();
    return r?.connected && r.buffered === 0 && platform.points.length >= committed;
  }, 'the restarted gateway to drain its buffer', 40_000).catch((e: unknown) => {
    throw new Error(`${String(e)}; last report ${JSON.stringify(second.last())}, ${platform.points.length} points arrived, ${committed} committed`);
  });
  second.child.kill('SIGTERM');
  await second.exited;

  t.diagnostic(`${committed} points reported committed before kill -9; ${platform.points.length} unique arrived after restart`);
  assert.ok(platform.points.length >= committed, `${platform.points.length} points arrived, ${committed} were committed before the kill`);
  assert.equal(platform.outOfOrder, 0);
  // Each series is a gap-free run from the first reading: nothing in the middle was lost.
  const bySeries = new Map<string, number[]>();
  for (const p of platform.points) {
    const k = `${p.device}|${p.property}`;
    const list = bySeries.get(k) ?? [];
    list.push(p.ts - t0);
    bySeries.set(k, list);
    assert.equal(p.value, (p.ts - t0) * 10 + Number(p.property.slice(1)), 'value belongs to its timestamp');
  }
  assert.equal(bySeries.size, DEVICES.length * 10);
  for (const [k, seqs] of bySeries) {
    seqs.sort((a, b) => a - b);
    assert.equal(seqs[0], 0, `${k} starts at its first reading`);
    assert.equal(seqs.at(-1), seqs.length - 1, `${k} has no gaps`);
  }
});
