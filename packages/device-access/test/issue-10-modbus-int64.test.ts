/**
 * Issue 10 point 6: 64-bit integer points (int64/uint64, four registers — energy meters' counters), with the
 * same byte and word orders as the other types. Round trips by property test, and against Debian's pymodbus
 * as an independent peer: the test lays out the registers itself with BigInt arithmetic, not with our codec.
 * Values beyond ±(2^53 − 1) decode as the nearest double (reported by `losesPrecision`); the driver refuses such a read of
 * an unscaled point with IIP_ERR_DRIVER_UNSAFE_INTEGER (issue 19) and refuses such a write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ModbusPointConfig } from '@iip/core';
import { decodeRegisters, encodeRegisters, losesPrecision, ModbusDriver, pointWidth, validateModbusChannel } from '@iip/device-access';
import { freePort } from '@iip/testkit';
import fc from 'fast-check';
import { type PymodbusPeer, startPymodbus } from './fixtures/pymodbus-peer.js';

type Order = 'BE' | 'LE';
const order = fc.constantFrom<Order>('BE', 'LE');
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The device side: a 64-bit integer as four registers, in the given orders (independent of the codec). */
function wordsOf(v: bigint, signed: boolean, byteOrder: Order = 'BE', wordOrder: Order = 'BE'): number[] {
  let u = signed && v < 0n ? (1n << 64n) + v : v;
  const be: number[] = [];
  for (let i = 0; i < 4; i++) {
    be.unshift(Number(u & 0xffffn));
    u >>= 16n;
  }
  const swapped = byteOrder === 'LE' ? be.map((w) => ((w & 0xff) << 8) | (w >> 8)) : be;
  return wordOrder === 'LE' ? swapped.reverse() : swapped;
}

const point = (type: 'int64' | 'uint64', extra: Partial<ModbusPointConfig> = {}): ModbusPointConfig => ({ property: 'energy', area: 'holding', address: 0, type, ...extra });

describe('int64/uint64 point codec', () => {
  test('four registers, validated like the other types', () => {
    assert.equal(pointWidth(point('int64')), 4);
    assert.equal(pointWidth(point('uint64')), 4);
    validateModbusChannel({ id: 'c', protocol: 'modbus-tcp', host: 'h', port: 502, devices: [{ id: 'm', unitId: 1, pollIntervalMs: 1000, points: [point('uint64'), { ...point('int64'), property: 'p', address: 4 }] }] });
    assert.throws(
      () => validateModbusChannel({ id: 'c', protocol: 'modbus-tcp', host: 'h', port: 502, devices: [{ id: 'm', unitId: 1, pollIntervalMs: 1000, points: [point('uint64'), { ...point('int64'), property: 'p', address: 3 }] }] }),
      (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && e.details?.path === 'devices[0].points[1].address',
    );
  });

  test('known layouts', () => {
    assert.equal(decodeRegisters(point('int64'), [0xffff, 0xffff, 0xffff, 0xfffe]), -2);
    assert.equal(decodeRegisters(point('uint64'), [0x0000, 0x0001, 0x0000, 0x0000]), 2 ** 32);
    assert.equal(decodeRegisters(point('uint64', { wordOrder: 'LE' }), [0x0000, 0x0000, 0x0001, 0x0000]), 2 ** 32);
    assert.equal(decodeRegisters(point('uint64', { scale: 0.001 }), wordsOf(123_456_789n, false)), 123_456.789);
    assert.deepEqual(encodeRegisters(point('int64'), -1), [0xffff, 0xffff, 0xffff, 0xffff]);
  });

  test('decode(encode(v)) = v and encode = the device layout, for every safe integer and order', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.bigInt({ min: -MAX, max: MAX }), order, order, (signed, big, byteOrder, wordOrder) => {
        const v = signed ? big : big < 0n ? -big : big;
        const p = point(signed ? 'int64' : 'uint64', { byteOrder, wordOrder });
        const words = encodeRegisters(p, Number(v));
        assert.deepEqual(words, wordsOf(v, signed, byteOrder, wordOrder));
        assert.equal(decodeRegisters(p, words), Number(v));
        assert.equal(losesPrecision(p, words), false);
      }),
    );
  });

  test('beyond 2^53 − 1: a read is the nearest double and says so; a write is refused', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MAX + 1n, max: (1n << 64n) - 1n }), order, order, (v, byteOrder, wordOrder) => {
        const p = point('uint64', { byteOrder, wordOrder });
        const words = wordsOf(v, false, byteOrder, wordOrder);
        assert.equal(decodeRegisters(p, words), Number(v));
        assert.equal(losesPrecision(p, words), true);
      }),
    );
    assert.equal(losesPrecision(point('int64'), wordsOf(-(1n << 63n), true)), true);
    assert.equal(decodeRegisters(point('int64'), wordsOf(-(1n << 63n), true)), -(2 ** 63));
    for (const [type, v] of [['uint64', 2 ** 53], ['int64', -(2 ** 60)], ['uint64', -1], ['int64', 1e300]] as const) {
      assert.throws(
        () => encodeRegisters(point(type), v),
        (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE',
        `${type} ${v}`,
      );
    }
  });
});

describe('int64/uint64 against pymodbus', () => {
  let peer: PymodbusPeer;
  let driver: ModbusDriver;
  before(async () => {
    const port = await freePort();
    peer = await startPymodbus({ tcpPort: port }, [1]);
    driver = new ModbusDriver({
      id: 'meters',
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      timeoutMs: 1000,
      devices: [
        {
          id: 'meter-1',
          unitId: 1,
          pollIntervalMs: 1000,
          points: [
            { property: 'energy', area: 'holding', address: 10, type: 'uint64', scale: 0.001 },
            { property: 'balance', area: 'holding', address: 20, type: 'int64', wordOrder: 'LE' },
            { property: 'counter', area: 'input', address: 0, type: 'uint64', byteOrder: 'LE', wordOrder: 'LE' },
          ],
        },
      ],
    });
    await driver.connect();
  });
  after(async () => {
    await driver?.close();
    await peer?.stop();
  });

  test('reads what the meter holds, in each layout', async () => {
    await peer.set(1, 'holding', 10, wordsOf(9_876_543_210_123n, false));
    await peer.set(1, 'holding', 20, wordsOf(-4_000_000_000_001n, true, 'BE', 'LE'));
    await peer.set(1, 'input', 0, wordsOf(0x0123_4567_89ab_cdefn, false, 'LE', 'LE'));
    const got = Object.fromEntries((await driver.readOnce('meter-1')).map((r) => [r.property, r.value]));
    assert.ok(Math.abs((got.energy as number) - 9_876_543_210.123) < 1e-5, `energy ${got.energy}`);
    assert.equal(got.balance, -4_000_000_000_001);
    // 0x0123456789abcdef is beyond 2^53 − 1 and the point is unscaled: refused with its exact value, not rounded (issue 19)
    assert.equal(got.counter, undefined);
    const failure = driver.health().devices[0]?.pointFailures?.find((f) => f.property === 'counter');
    assert.equal(failure?.code, 'IIP_ERR_DRIVER_UNSAFE_INTEGER');
    assert.equal(failure?.details?.value, 0x0123_4567_89ab_cdefn.toString());
    await peer.set(1, 'input', 0, wordsOf(0x0012_3456_789a_bcden, false, 'LE', 'LE'));
    const again = Object.fromEntries((await driver.readOnce('meter-1')).map((r) => [r.property, r.value]));
    assert.equal(again.counter, Number(0x0012_3456_789a_bcden));
    assert.equal(driver.health().devices[0]?.pointFailures, undefined, 'the failure clears once the counter reads exactly');
  });

  test('writes reach the meter as the same four registers, and read back', async () => {
    await driver.write('meter-1', 'balance', -(2 ** 53 - 1));
    assert.deepEqual(await peer.get(1, 'holding', 20, 4), wordsOf(-MAX, true, 'BE', 'LE'));
    await driver.write('meter-1', 'energy', 4_294_967_296.5);
    assert.deepEqual(await peer.get(1, 'holding', 10, 4), wordsOf(4_294_967_296_500n, false));
    const got = Object.fromEntries((await driver.readOnce('meter-1')).map((r) => [r.property, r.value]));
    assert.deepEqual([got.balance, got.energy], [-(2 ** 53 - 1), 4_294_967_296.5]);
    await assert.rejects(driver.write('meter-1', 'balance', 2 ** 63), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    assert.deepEqual(await peer.get(1, 'holding', 20, 4), wordsOf(-MAX, true, 'BE', 'LE'), 'a refused write leaves the registers alone');
  });
});
