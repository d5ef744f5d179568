/**
 * The shared conformance suite every protocol driver passes (Modbus TCP, Modbus RTU, OPC UA, …). A driver's
 * test file supplies a fixture — the driver wired to a real peer it can steer — and calls
 * `runDriverConformance`. A case a driver cannot pass is skipped only with a stated reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Driver, DriverReading, PointValue, ScalarValue } from '@iip/core';
import { waitFor } from './index.js';

/** The real device/server behind the driver, steered by the test. */
export interface DriverPeer {
  /** Sets a point on the device side, in engineering units (scale/offset already applied by the fixture). */
  set(device: string, property: string, value: PointValue): Promise<void>;
  get(device: string, property: string): Promise<PointValue>;
  /** Stops the peer (the link drops) and starts it again on the same address. */
  restart(): Promise<void>;
}

export interface DriverFixture {
  readonly driver: Driver;
  readonly peer: DriverPeer;
  readonly device: string;
  /** A numeric point the peer can change; the two values must differ. */
  readonly readable: { readonly property: string; readonly values: readonly [number, number] };
  /** A writable point and a value to write. */
  readonly writable: { readonly property: string; readonly value: PointValue };
  /** A point that must refuse writes. */
  readonly readOnly: string;
  /**
   * A 64-bit integer point. `safe` is an integer near ±(2^53 − 1) the point's type holds, `beyond` a decimal
   * string beyond it; the peer's set() takes both (a string for the exact value). Such a value must be delivered
   * exactly (as that string) or not at all with a point failure IIP_ERR_DRIVER_UNSAFE_INTEGER — never rounded.
   */
  readonly int64?: { readonly property: string; readonly safe: number; readonly beyond: string; readonly writable: boolean };
  /** An array point and two different arrays the peer can hold; delivered and (when writable) written whole. */
  readonly array?: { readonly property: string; readonly values: readonly [readonly ScalarValue[], readonly ScalarValue[]]; readonly writable: boolean };
  /** Numeric tolerance when comparing values (float32 storage, scale). Default 1e-6. */
  readonly tolerance?: number;
  readonly skips?: Partial<Record<DriverCase, string>>;
  cleanup(): Promise<void>;
}

export type DriverCase = 'readOnce' | 'readPlan' | 'subscribe' | 'write' | 'readOnlyWrite' | 'unknownPoint' | 'health' | 'int64' | 'array' | 'reconnect' | 'close';

function close(a: PointValue | undefined, b: PointValue, tol: number): boolean {
  return typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= tol : a === b;
}

export function runDriverConformance(name: string, open: () => Promise<DriverFixture>): void {
  describe(`driver conformance: ${name}`, () => {
    let f: DriverFixture;
    const readings: DriverReading[] = [];
    const skip = (c: DriverCase): string | false => f?.skips?.[c] ?? false;

    before(async () => {
      f = await open();
      await f.driver.connect();
    });
    after(async () => {
      await f?.driver.close();
      await f?.cleanup();
    });

    test('readOnce returns the value the device holds', async (t) => {
      if (skip('readOnce')) return t.skip(skip('readOnce') as string);
      const [v] = f.readable.values;
      await f.peer.set(f.device, f.readable.property, v);
      const r = await f.driver.readOnce(f.device);
      const got = r.find((x) => x.property === f.readable.property);
      assert.ok(got, `readOnce returned no ${f.readable.property}`);
      assert.ok(close(got.value, v, f.tolerance ?? 1e-6), `expected ${v}, got ${String(got.value)}`);
      assert.equal(got.device, f.device);
      assert.ok(Math.abs(got.ts - Date.now()) < 60_000, 'timestamp is now-ish');
    });

    test('readPlan lists the requests and covers every bound property', async (t) => {
      if (skip('readPlan')) return t.skip(skip('readPlan') as string);
      const plan = f.driver.readPlan();
      assert.ok(plan.length > 0);
      const covered = new Set(plan.filter((p) => p.device === f.device).flatMap((p) => p.properties));
      assert.ok(covered.has(f.readable.property));
      for (const p of plan) assert.ok(p.request.length > 0);
    });

    test('subscribe delivers changed values', async (t) => {
      if (skip('subscribe')) return t.skip(skip('subscribe') as string);
      await f.driver.subscribe((rs) => readings.push(...rs));
      const [, v] = f.readable.values;
      await f.peer.set(f.device, f.readable.property, v);
      await waitFor(
        () => readings.some((r) => r.device === f.device && r.property === f.readable.property && close(r.value, v, f.tolerance ?? 1e-6)),
        `a reading of ${f.readable.property} = ${v}`,
        15_000,
      );
    });

    test('write changes the device', async (t) => {
      if (skip('write')) return t.skip(skip('write') as string);
      await f.driver.write(f.device, f.writable.property, f.writable.value);
      const now = await f.peer.get(f.device, f.writable.property);
      assert.ok(close(now, f.writable.value, f.tolerance ?? 1e-6), `device holds ${String(now)}, wrote ${String(f.writable.value)}`);
    });

    test('a write to a read-only point is refused with IIP_ERR_DRIVER_NOT_WRITABLE', async (t) => {
      if (skip('readOnlyWrite')) return t.skip(skip('readOnlyWrite') as string);
      await assert.rejects(f.driver.write(f.device, f.readOnly, 1), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_NOT_WRITABLE');
    });

    test('unknown devices and properties are refused with IIP_ERR_DRIVER_UNKNOWN_POINT', async (t) => {
      if (skip('unknownPoint')) return t.skip(skip('unknownPoint') as string);
      await assert.rejects(f.driver.write(f.device, 'no_such_property', 1), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_UNKNOWN_POINT');
      await assert.rejects(f.driver.readOnce('no-such-device'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_DRIVER_UNKNOWN_POINT');
    });

    test('health reports the link and per-device latency', async (t) => {
      if (skip('health')) return t.skip(skip('health') as string);
      const h = await waitFor(() => {
        const x = f.driver.health();
        const d = x.devices.find((y) => y.device === f.device);
        return x.connected && d && d.state === 'ok' && d.lastLatencyMs !== null ? x : undefined;
      }, 'a healthy device with a latency', 15_000);
      assert.equal(h.channel, f.driver.channel);
      assert.equal(h.protocol, f.driver.protocol);
    });

    test('64-bit integers are exact: a safe value reads and writes as itself, one beyond 2^53 is never rounded', async (t) => {
      if (skip('int64')) return t.skip(skip('int64') as string);
      const p = f.int64;
      assert.ok(p, 'the fixture names no 64-bit point (give one, or skip the case with a reason)');
      await f.peer.set(f.device, p.property, p.safe);
      let got = (await f.driver.readOnce(f.device)).find((r) => r.property === p.property);
      assert.equal(got?.value, p.safe, `read ${String(got?.value)}, the device holds ${p.safe}`);
      await f.peer.set(f.device, p.property, p.beyond);
      got = (await f.driver.readOnce(f.device)).find((r) => r.property === p.property);
      if (got !== undefined) {
        assert.equal(got.value, p.beyond, `a 64-bit value beyond 2^53 was delivered as ${JSON.stringify(got.value)}, not exactly`);
      } else {
        const failure = f.driver.health().devices.find((d) => d.device === f.device)?.pointFailures?.find((x) => x.property === p.property);
        assert.equal(failure?.code, 'IIP_ERR_DRIVER_UNSAFE_INTEGER', 'the value was dropped without a point failure saying why');
        assert.equal(failure?.details?.value, p.beyond, 'the point failure names the exact value');
      }
      if (p.writable) {
        const v = p.safe > 0 ? p.safe - 2 : p.safe + 2;
        await f.driver.write(f.device, p.property, v);
        assert.equal(await f.peer.get(f.device, p.property), v);
      }
    });

    test('arrays are delivered whole, by readOnce and by the subscription, and written whole', async (t) => {
      if (skip('array')) return t.skip(skip('array') as string);
      const p = f.array;
      assert.ok(p, 'the fixture names no array point (give one, or skip the case with a reason)');
      const [a, b] = p.values;
      await f.peer.set(f.device, p.property, a);
      const got = (await f.driver.readOnce(f.device)).find((r) => r.property === p.property);
      assert.deepEqual(got?.value, a);
      if (!skip('subscribe')) {
        await f.peer.set(f.device, p.property, b);
        await waitFor(() => readings.some((r) => r.property === p.property && JSON.stringify(r.value) === JSON.stringify(b)), `the array ${JSON.stringify(b)} from the subscription`, 15_000);
      }
      if (p.writable) {
        await f.driver.write(f.device, p.property, a);
        assert.deepEqual(await f.peer.get(f.device, p.property), a);
      }
    });

    test('after the peer restarts, the driver reconnects and readings resume', async (t) => {
      if (skip('reconnect')) return t.skip(skip('reconnect') as string);
      await f.peer.restart();
      const [v] = f.readable.values;
      await f.peer.set(f.device, f.readable.property, v);
      const since = Date.now();
      await waitFor(
        () => readings.some((r) => r.ts >= since && r.property === f.readable.property && close(r.value, v, f.tolerance ?? 1e-6)),
        'readings after the restart',
        30_000,
      );
    });

    test('close stops readings and may be called twice', async (t) => {
      if (skip('close')) return t.skip(skip('close') as string);
      await f.driver.close();
      await f.driver.close();
      const n = readings.length;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(readings.length, n, 'no readings after close');
    });
  });
}
