/**
 * Property tests of the Modbus driver's pure parts: point codec (decode ∘ encode = id), read planning
 * (coverage, limits, areas, minimality), deadband, timing rules and config validation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModbusArea, ModbusDataType, ModbusPointConfig } from '@iip/core';
import {
  decodeRegisters,
  effectiveIntervalMs,
  encodeRegisters,
  isBitArea,
  MODBUS_MAX_BITS_PER_READ,
  MODBUS_MAX_REGISTERS_PER_READ,
  ModbusDriver,
  nextDue,
  passesDeadband,
  planReads,
  pointWidth,
  RECONNECT_CAP_MS,
  reconnectDelayMs,
  validateModbusChannel,
  shortestFloat32,
} from '@iip/device-access';
import fc from 'fast-check';

const order = fc.constantFrom<'BE' | 'LE'>('BE', 'LE');

describe('point codec', () => {
  test('known layouts decode as the datasheets say', () => {
    const p = (type: ModbusDataType, extra: Partial<ModbusPointConfig> = {}): ModbusPointConfig => ({ property: 'x', area: 'holding', address: 0, type, ...extra });
    assert.equal(decodeRegisters(p('float32'), [0x41c8, 0x0000]), 25); // 25.0f = 0x41C80000
    assert.equal(decodeRegisters(p('float32', { wordOrder: 'LE' }), [0x0000, 0x41c8]), 25);
    assert.equal(decodeRegisters(p('float32', { byteOrder: 'LE', wordOrder: 'LE' }), [0x0000, 0xc841]), 25);
    assert.equal(decodeRegisters(p('int16'), [0xffff]), -1);
    assert.equal(decodeRegisters(p('uint32'), [0x0001, 0x0000]), 65536);
    assert.equal(decodeRegisters(p('int16', { scale: 0.1, offset: -40 }), [650]), 25);
    assert.equal(decodeRegisters(p('bool', { bit: 3 }), [0b1000]), true);
    assert.equal(decodeRegisters(p('bool', { bit: 2 }), [0b1000]), false);
    assert.equal(decodeRegisters(p('string', { length: 5 }), [0x4142, 0x4344, 0x4500]), 'ABCDE');
    assert.equal(decodeRegisters(p('string', { length: 6 }), [0x4f4b, 0x0000, 0x5858]), 'OK');
    assert.deepEqual(encodeRegisters(p('float64'), 1), [0x3ff0, 0, 0, 0]);
    assert.deepEqual(encodeRegisters(p('bool', { bit: 0 }), true, 0b1010), [0b1011]);
  });

  const numericPoint = fc.record({
    type: fc.constantFrom<ModbusDataType>('int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'),
    byteOrder: order,
    wordOrder: order,
  });

  test('decode(encode(raw)) = raw for every integer type and order', () => {
    const ranges: Record<string, [number, number]> = { int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1] };
    fc.assert(
      fc.property(numericPoint, fc.double({ min: 0, max: 1, noNaN: true }), (cfg, t) => {
        const range = ranges[cfg.type];
        const p: ModbusPointConfig = { property: 'x', area: 'holding', address: 0, ...cfg };
        const v = range ? Math.round(range[0] + t * (range[1] - range[0])) : t * 1e6 - 5e5;
        const words = encodeRegisters(p, cfg.type === 'float32' ? Math.fround(v) : v);
        assert.equal(words.length, pointWidth(p));
        assert.ok(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff));
        const decoded = decodeRegisters(p, words);
        // A float32 decodes to the shortest decimal of the same float32 (33.9, not 33.900001525878906), which
        // is a different double than Math.fround(v): compare them as float32.
        if (cfg.type === 'float32') assert.equal(Math.fround(decoded as number), Math.fround(v));
        else assert.equal(decoded, v);
      }),
    );
  });

  test('any words decode and re-encode to the same words (floats: same value; all orders)', () => {
    fc.assert(
      fc.property(numericPoint, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }), (cfg, all) => {
        const p: ModbusPointConfig = { property: 'x', area: 'holding', address: 0, ...cfg };
        const words = all.slice(0, pointWidth(p));
        const v = decodeRegisters(p, words) as number;
        if (Number.isNaN(v)) return; // NaN payloads are not preserved bit for bit, nor need they be
        assert.deepEqual(decodeRegisters(p, encodeRegisters(p, v)), v);
      }),
    );
  });

  test('scale and offset: encode then decode returns the engineering value within one raw step', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ModbusDataType>('int16', 'uint16', 'int32', 'uint32'),
        fc.constantFrom(0.1, 0.01, 2, 0.5),
        fc.integer({ min: -100, max: 100 }),
        fc.integer({ min: 0, max: 30000 }),
        (type, scale, offset, raw) => {
          const p: ModbusPointConfig = { property: 'x', area: 'holding', address: 0, type, scale, offset };
          const eng = raw * scale + offset;
          const back = decodeRegisters(p, encodeRegisters(p, eng)) as number;
          assert.ok(Math.abs(back - eng) <= scale / 2 + 1e-9, `${eng} -> ${back}`);
        },
      ),
    );
  });

  test('strings and register bits round-trip', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCxyz0129 -_'.split('')), maxLength: 20 }), fc.integer({ min: 20, max: 24 }), order, (s, length, byteOrder) => {
        const p: ModbusPointConfig = { property: 's', area: 'holding', address: 0, type: 'string', length, byteOrder };
        assert.equal(decodeRegisters(p, encodeRegisters(p, s)), s);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.integer({ min: 0, max: 0xffff }), (bit, v, current) => {
        const p: ModbusPointConfig = { property: 'b', area: 'holding', address: 0, type: 'bool', bit };
        const [w] = encodeRegisters(p, v, current);
        assert.equal(decodeRegisters(p, [w!]), v);
        assert.equal(w! & ~(1 << bit), current & ~(1 << bit), 'other bits untouched');
      }),
    );
  });

  test('values that do not fit are refused with typed errors', () => {
    const p: ModbusPointConfig = { property: 'x', area: 'holding', address: 0, type: 'uint16', scale: 0.1 };
    assert.throws(() => encodeRegisters(p, 7000), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_OUT_OF_RANGE');
    assert.throws(() => encodeRegisters(p, 'x'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_TYPE');
    const s: ModbusPointConfig = { property: 's', area: 'holding', address: 0, type: 'string', length: 2 };
    assert.throws(() => encodeRegisters(s, 'abc'), (e: Error & { code?: string }) => e.code === 'IIP_ERR_TELEMETRY_STRING_TOO_LONG');
  });

  test('deadband: first reading always, then only moves larger than the band', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), (band, a, b) => {
        const p: ModbusPointConfig = { property: 'x', area: 'input', address: 0, type: 'float32', deadband: band };
        assert.equal(passesDeadband(p, undefined, a), true);
        assert.equal(passesDeadband(p, a, b), Math.abs(b - a) > band);
        assert.equal(passesDeadband({ ...p, deadband: undefined }, a, b), true);
      }),
    );
  });
});

describe('read plan', () => {
  const AREAS: ModbusArea[] = ['coil', 'discrete', 'holding', 'input'];
  const arbPoints = fc
    .array(
      fc.record({
        area: fc.constantFrom(...AREAS),
        address: fc.integer({ min: 0, max: 3000 }),
        type: fc.constantFrom<ModbusDataType>('uint16', 'float32', 'float64', 'string'),
      }),
      { maxLength: 120 },
    )
    .map((raw) => {
      // lay them out without overlaps, as validation guarantees
      const taken = new Map<ModbusArea, Set<number>>(AREAS.map((a) => [a, new Set<number>()]));
      const out: ModbusPointConfig[] = [];
      raw.forEach((r, i) => {
        const p: ModbusPointConfig = isBitArea(r.area)
          ? { property: `p${i}`, area: r.area, address: r.address, type: 'bool' }
          : { property: `p${i}`, area: r.area, address: r.address, type: r.type, ...(r.type === 'string' ? { length: 7 } : {}) };
        const cells = Array.from({ length: pointWidth(p) }, (_, k) => p.address + k);
        const set = taken.get(p.area)!;
        if (cells.some((c) => set.has(c))) return;
        for (const c of cells) set.add(c);
        out.push(p);
      });
      return out;
    });

  test('every point is covered by exactly one request, within limits, never across areas', () => {
    fc.assert(
      fc.property(arbPoints, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 125 }), (points, maxGap, maxRegisters) => {
        const plan = planReads({ points, maxGap }, { maxRegisters });
        const seen = new Map<string, number>();
        for (const r of plan) {
          const limit = isBitArea(r.area) ? MODBUS_MAX_BITS_PER_READ : Math.min(maxRegisters, MODBUS_MAX_REGISTERS_PER_READ);
          assert.ok(r.count >= 1 && r.count <= Math.max(limit, ...r.points.map(pointWidth)), `request of ${r.count}`);
          for (const p of r.points) {
            assert.equal(p.area, r.area, 'request spans areas');
            assert.ok(p.address >= r.start && p.address + pointWidth(p) <= r.start + r.count, 'point inside its request');
            seen.set(p.property, (seen.get(p.property) ?? 0) + 1);
          }
        }
        assert.equal(seen.size, points.length);
        assert.ok([...seen.values()].every((n) => n === 1), 'each point exactly once');
      }),
    );
  });

  test('with gap 0 and n contiguous registers, the plan is minimal: ceil(n / 125) requests', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 5000 }), fc.constantFrom<ModbusArea>('holding', 'input'), (n, start, area) => {
        const points = Array.from({ length: n }, (_, i): ModbusPointConfig => ({ property: `r${i}`, area, address: start + i, type: 'uint16' }));
        // listed out of order on purpose: the planner must not depend on how the map is written
        assert.equal(planReads({ points: points.reverse(), maxGap: 0 }).length, Math.ceil(n / 125));
      }),
      { numRuns: 50 },
    );
    const coils = Array.from({ length: 4500 }, (_, i): ModbusPointConfig => ({ property: `c${i}`, area: 'coil', address: i, type: 'bool' }));
    assert.equal(planReads({ points: coils, maxGap: 0 }).length, 3);
  });

  test('near points merge across a gap up to maxGap, not beyond', () => {
    const pts = (gap: number): ModbusPointConfig[] => [
      { property: 'a', area: 'holding', address: 0, type: 'float32' },
      { property: 'b', area: 'holding', address: 2 + gap, type: 'uint16' },
    ];
    assert.equal(planReads({ points: pts(8) }).length, 1);
    assert.equal(planReads({ points: pts(9) }).length, 2);
    assert.equal(planReads({ points: pts(3), maxGap: 2 }).length, 2);
  });
});

describe('timing rules', () => {
  test('demoted devices wait 10 × their interval, capped at 60 s (or their own longer interval)', () => {
    assert.equal(effectiveIntervalMs(1000, 2), 1000);
    assert.equal(effectiveIntervalMs(1000, 3), 10_000);
    assert.equal(effectiveIntervalMs(10_000, 5), 60_000);
    assert.equal(effectiveIntervalMs(120_000, 5), 120_000);
  });

  test('healthy devices keep their cadence and skip missed slots instead of bursting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 10, max: 10_000 }), (due, took, interval) => {
        const next = nextDue(due, due + took, interval, 0);
        assert.ok(next > due + took, 'next poll is in the future');
        assert.equal((next - due) % interval, 0, 'on the original cadence');
        assert.ok(next - (due + took) <= interval);
      }),
    );
  });

  test('reconnect backoff doubles from 0.5 s to a 30 s cap, with jitter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = reconnectDelayMs(attempt, () => r);
        const base = Math.min(RECONNECT_CAP_MS, 500 * 2 ** attempt);
        assert.ok(d >= Math.floor(base * 0.8) && d <= RECONNECT_CAP_MS, `attempt ${attempt}: ${d}`);
      }),
    );
    assert.equal(reconnectDelayMs(0, () => 0.5), 500);
    assert.equal(reconnectDelayMs(20, () => 0.5), 30_000);
  });
});

describe('config validation', () => {
  const base = {
    id: 'line',
    protocol: 'modbus-tcp' as const,
    host: '127.0.0.1',
    port: 502,
    devices: [{ id: 'd', unitId: 1, pollIntervalMs: 1000, points: [{ property: 'a', area: 'holding' as const, address: 0, type: 'float32' as const }] }],
  };
  const refuse = (patch: (c: typeof base) => unknown, path: string): void => {
    const c = structuredClone(base);
    const bad = patch(c) ?? c;
    assert.throws(
      () => new ModbusDriver(bad as typeof base),
      (e: Error & { code?: string; details?: { path?: string } }) => e.code === 'IIP_ERR_DRIVER_CONFIG' && e.details?.path === path,
      path,
    );
  };

  test('accepts a sound channel', () => {
    validateModbusChannel(base);
  });

  test('refuses what a point map can get wrong, naming the element', () => {
    refuse((c) => void (c.devices[0]!.points as ModbusPointConfig[]).push({ property: 'b', area: 'holding', address: 1, type: 'uint16' }), 'devices[0].points[1].address');
    refuse((c) => void (c.devices[0]!.points as ModbusPointConfig[]).push({ property: 's', area: 'holding', address: 10, type: 'string' }), 'devices[0].points[1].length');
    refuse((c) => ({ ...c, devices: [{ ...c.devices[0]!, unitId: 256 }] }), 'devices[0].unitId');
    refuse((c) => ({ ...c, protocol: 'modbus-rtu', path: '/dev/ttyS0', baudRate: 9600, devices: [{ ...c.devices[0], unitId: 0 }] }), 'devices[0].unitId');
    refuse((c) => void (c.devices[0]!.points as ModbusPointConfig[]).push({ property: 'c', area: 'coil', address: 0, type: 'uint16' }), 'devices[0].points[1].type');
    refuse((c) => void (c.devices[0]!.points as ModbusPointConfig[]).push({ property: 'a', area: 'input', address: 0, type: 'uint16' }), 'devices[0].points[1].property');
    refuse((c) => void (c.devices[0]!.points as ModbusPointConfig[]).push({ property: 'x', area: 'holding', address: 9, type: 'uint16', bit: 16 }), 'devices[0].points[1].bit');
    refuse((c) => ({ ...c, devices: [{ ...c.devices[0]!, pollIntervalMs: 0 }] }), 'devices[0].pollIntervalMs');
    refuse((c) => ({ ...c, port: 70000 }), 'port');
    refuse((c) => ({ ...c, devices: [...c.devices, { ...c.devices[0], id: 'e' }] }), 'devices[1].unitId');
  });

  test('two bits of one register may share it', () => {
    const c = structuredClone(base);
    (c.devices[0]!.points as ModbusPointConfig[]).push(
      { property: 'b0', area: 'holding', address: 5, type: 'bool', bit: 0 },
      { property: 'b1', area: 'holding', address: 5, type: 'bool', bit: 1 },
    );
    validateModbusChannel(c);
  });
});

test('float32 decodes to the shortest decimal of the same float32 (33.9, not 33.900001525878906)', () => {
  assert.equal(shortestFloat32(Math.fround(33.9)), 33.9);
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
      const x = Math.fround(f);
      assert.equal(Math.fround(shortestFloat32(x)), x);
    }),
  );
});
