/**
 * The simulated Modbus PLC speaks real Modbus TCP: Debian's pymodbus, an independent client, reads its
 * registers, writes set points, and sees the injected exception and silence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModbusPointConfig } from '@iip/core';
import { DEFAULT_PLC_UNITS, modbusDemoChannel, startModbusPlc } from '@iip/simulator';
import { run, waitFor } from '@iip/testkit';

type Op =
  | { op: 'read'; unit: number; area: 'coil' | 'discrete' | 'holding' | 'input'; address: number; count: number }
  | { op: 'write'; unit: number; address: number; values: number[] };
type Result = { registers?: number[]; bits?: boolean[]; exception?: number; error?: string; ok?: boolean };

// A pymodbus 3.0 client run by Debian's Python; ops in, one JSON result per op out.
const CLIENT = `
import json, sys
from pymodbus.client import ModbusTcpClient
port, ops = int(sys.argv[1]), json.loads(sys.argv[2])
c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
assert c.connect()
out = []
for o in ops:
    try:
        if o["op"] == "read":
            fn = {"coil": c.read_coils, "discrete": c.read_discrete_inputs, "holding": c.read_holding_registers, "input": c.read_input_registers}[o["area"]]
            r = fn(o["address"], o["count"], slave=o["unit"])
        else:
            r = c.write_registers(o["address"], o["values"], slave=o["unit"])
        if r.isError():
            out.append({"exception": r.exception_code} if hasattr(r, "exception_code") else {"error": str(r)})
        elif o["op"] == "read" and o["area"] in ("coil", "discrete"):
            out.append({"bits": list(r.bits[: o["count"]])})
        elif o["op"] == "read":
            out.append({"registers": list(r.registers)})
        else:
            out.append({"ok": True})
    except Exception as e:
        out.append({"error": repr(e)})
c.close()
print(json.dumps(out))
`;

async function pymodbus(port: number, ops: Op[]): Promise<Result[]> {
  const r = await run('/usr/bin/python3', ['-c', CLIENT, String(port), JSON.stringify(ops)], 30_000);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result[];
}

function decode(p: ModbusPointConfig, words: number[]): number | string {
  const b = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => {
    b.writeUInt16BE(w, i * 2);
  });
  if (p.type === 'float32') return b.readFloatBE(0);
  if (p.type === 'uint32') return b.readUInt32BE(0);
  return b.toString('latin1').replace(/\0.*$/, '');
}

test('pymodbus reads every register point of every simulated machine, and the values are plausible', async (t) => {
  // signals frozen (no refresh during the test) so pymodbus and get() see the same values
  const plc = await startModbusPlc({ port: 0, updateMs: 3_600_000 });
  t.after(() => plc.close());
  for (const u of DEFAULT_PLC_UNITS) {
    const map = plc.pointMap(u.deviceId);
    const regs = map.points.filter((p) => p.area === 'input' || p.area === 'holding');
    const results = await pymodbus(
      plc.port,
      regs.map((p) => ({ op: 'read', unit: u.unitId, area: p.area as 'input' | 'holding', address: p.address, count: p.type === 'string' ? (p.length ?? 0) / 2 : 2 })),
    );
    regs.forEach((p, i) => {
      const words = results[i]!.registers;
      assert.ok(words, `${u.deviceId}.${p.property}: ${JSON.stringify(results[i])}`);
      const v = decode(p, words);
      const expected = plc.get(u.deviceId, p.property);
      if (typeof v === 'number') assert.ok(Math.abs(v - Number(expected)) <= Math.abs(Number(expected)) * 1e-6 + 1e-6, `${p.property}: ${v} vs ${expected}`);
      else assert.equal(v, expected);
      if (p.property === 'state') assert.ok(['run', 'idle', 'fault'].includes(String(v)), `state ${v}`);
      if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, `${p.property} = ${v}`);
    });
  }
  const compressor = plc.pointMap('plc-compressor-01');
  const running = compressor.points.find((p) => p.property === 'running')!;
  assert.equal(running.area, 'discrete');
  const [bits] = await pymodbus(plc.port, [{ op: 'read', unit: 2, area: 'discrete', address: running.address, count: 1 }]);
  assert.deepEqual(bits!.bits, [plc.get('plc-compressor-01', 'running')]);
});

test('a set point written by pymodbus lands in the PLC; exceptions and silence are injected per unit', async (t) => {
  const plc = await startModbusPlc({ port: 0 });
  t.after(() => plc.close());
  const sp = plc.pointMap('plc-compressor-01').points.find((p) => p.property === 'pressure_setpoint')!;
  assert.equal(sp.area, 'holding');
  const b = Buffer.alloc(4);
  b.writeFloatBE(7.5, 0);
  const [w] = await pymodbus(plc.port, [{ op: 'write', unit: 2, address: sp.address, values: [b.readUInt16BE(0), b.readUInt16BE(2)] }]);
  assert.deepEqual(w, { ok: true });
  assert.equal(plc.get('plc-compressor-01', 'pressure_setpoint'), 7.5);

  plc.misbehave(3, { exception: 4 });
  plc.misbehave(4, 'silent');
  const [exc, silent, healthy, unknown, past] = await pymodbus(plc.port, [
    { op: 'read', unit: 3, area: 'input', address: 0, count: 2 },
    { op: 'read', unit: 4, area: 'input', address: 0, count: 2 },
    { op: 'read', unit: 1, area: 'input', address: 0, count: 2 },
    { op: 'read', unit: 99, area: 'input', address: 0, count: 2 },
    { op: 'read', unit: 1, area: 'holding', address: 9_999, count: 2 },
  ]);
  assert.equal(exc!.exception, 4);
  assert.ok(silent!.error, `a silent unit gives the client nothing: ${JSON.stringify(silent)}`);
  assert.equal(healthy!.registers?.length, 2);
  assert.equal(unknown!.exception, 11, 'an unknown unit id: gateway target failed to respond');
  assert.equal(past!.exception, 2, 'beyond the memory: illegal data address');
  plc.misbehave(3, null);
  const [again] = await pymodbus(plc.port, [{ op: 'read', unit: 3, area: 'input', address: 0, count: 2 }]);
  assert.equal(again!.registers?.length, 2);
});

test('signals move over time, and the demo channel covers every unit', async (t) => {
  const plc = await startModbusPlc({ port: 0, updateMs: 200 });
  t.after(() => plc.close());
  const ch = modbusDemoChannel(plc, { pollIntervalMs: 500 });
  assert.equal(ch.port, plc.port);
  assert.deepEqual(
    ch.devices.map((d) => d.unitId),
    DEFAULT_PLC_UNITS.map((u) => u.unitId),
  );
  assert.ok(ch.devices.every((d) => d.pollIntervalMs === 500 && d.points.length > 0));
  const first = plc.getRaw(4, 'input', 0, 20).join(',');
  await waitFor(() => plc.getRaw(4, 'input', 0, 20).join(',') !== first, 'the energy meter registers to change', 15_000);
});
