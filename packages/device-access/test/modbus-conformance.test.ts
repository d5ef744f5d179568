import type { ModbusDeviceConfig, PointValue } from '@iip/core';
import { ModbusDriver } from '@iip/device-access';
import { type DriverFixture, type DriverPeer, freePort, runDriverConformance, tempDir } from '@iip/testkit';
import { type PymodbusPeer, startPymodbus, startSerialPair } from './fixtures/pymodbus-peer.js';

const UNIT = 1;
const DEVICE = 'press-01';

/** The point map both conformance runs use: a float input, a scaled holding int, a coil, a discrete input. */
const device: ModbusDeviceConfig = {
  id: DEVICE,
  unitId: UNIT,
  pollIntervalMs: 200,
  points: [
    { property: 'temperature', area: 'input', address: 0, type: 'float32' },
    { property: 'pressure_setpoint', area: 'holding', address: 4, type: 'int16', scale: 0.1 },
    { property: 'pump_on', area: 'coil', address: 0, type: 'bool' },
    { property: 'door_open', area: 'discrete', address: 3, type: 'bool' },
    { property: 'energy_total', area: 'holding', address: 8, type: 'uint64' },
  ],
};

/** A uint64 as four registers, high word first (the Modbus default), computed with BigInt apart from the codec. */
function uint64Words(v: bigint): number[] {
  return [48n, 32n, 16n, 0n].map((s) => Number((v >> s) & 0xffffn));
}

// The test encodes on the device side with Buffer directly, independent of the driver's codec.
function float32Words(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v, 0);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

function peerFor(current: () => PymodbusPeer, restart: () => Promise<void>): DriverPeer {
  return {
    async set(_device: string, property: string, value: PointValue): Promise<void> {
      if (property === 'energy_total') return current().set(UNIT, 'holding', 8, uint64Words(BigInt(value as number | string)));
      if (property !== 'temperature') throw new Error(`the fixture steers only temperature and energy_total, not ${property}`);
      await current().set(UNIT, 'input', 0, float32Words(Number(value)));
    },
    async get(_device: string, property: string): Promise<PointValue> {
      if (property === 'energy_total') {
        const words = await current().get(UNIT, 'holding', 8, 4);
        const v = words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      }
      if (property !== 'pressure_setpoint') throw new Error(`the fixture reads back only pressure_setpoint and energy_total, not ${property}`);
      const [w] = await current().get(UNIT, 'holding', 4, 1);
      const raw = w! >= 0x8000 ? w! - 0x10000 : w!;
      return raw * 0.1;
    },
    restart,
  };
}

function fixture(driver: ModbusDriver, peer: DriverPeer, cleanup: () => Promise<void>): DriverFixture {
  return {
    driver,
    peer,
    device: DEVICE,
    readable: { property: 'temperature', values: [21.5, 37.25] },
    writable: { property: 'pressure_setpoint', value: -12.3 },
    readOnly: 'temperature',
    int64: { property: 'energy_total', safe: Number.MAX_SAFE_INTEGER, beyond: '18446744073709551615', writable: true },
    skips: { array: 'a Modbus point is one scalar over a register range; the point map has no array type' },
    tolerance: 1e-3,
    cleanup,
  };
}

runDriverConformance('Modbus TCP against pymodbus', async () => {
  const port = await freePort();
  let peer = await startPymodbus({ tcpPort: port }, [UNIT]);
  const driver = new ModbusDriver({ id: 'tcp-line', protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 1000, devices: [device] });
  return fixture(
    driver,
    peerFor(
      () => peer,
      async () => {
        await peer.stop();
        peer = await startPymodbus({ tcpPort: port }, [UNIT]);
      },
    ),
    () => peer.stop(),
  );
});

runDriverConformance('Modbus RTU over a socat serial pair against pymodbus', async () => {
  const dir = await tempDir('iip-modbus-rtu-');
  const baud = 38400;
  let cable = await startSerialPair(dir.path);
  let peer: Awaited<ReturnType<typeof startPymodbus>>;
  try {
    peer = await startPymodbus({ serialPath: cable.a, baud }, [UNIT]);
  } catch (e) {
    // Without this the socat pair kept the test process alive for the whole 300 s timeout (issue 11).
    await cable.stop();
    await dir.cleanup();
    throw e;
  }
  const driver = new ModbusDriver({ id: 'rtu-line', protocol: 'modbus-rtu', path: cable.b, baudRate: baud, timeoutMs: 1000, devices: [device] });
  return fixture(
    driver,
    peerFor(
      () => peer,
      // Pulling the cable: the pty pair disappears under the driver, then comes back at the same path.
      async () => {
        await peer.stop();
        await cable.stop();
        cable = await startSerialPair(dir.path);
        peer = await startPymodbus({ serialPath: cable.a, baud }, [UNIT]);
      },
    ),
    async () => {
      await peer.stop();
      await cable.stop();
      await dir.cleanup();
    },
  );
});
