/**
 * `npm run bench -- modbus`: 100 simulated PLCs (one Modbus TCP server each, in a separate process so
 * their CPU is not counted) × 100 registers, polled at 1 Hz by 100 ModbusDriver channels for ~10 s.
 * Reports requests per cycle against points per cycle (the coalescing ratio) and this process's CPU %,
 * beside a baseline measured in the same run: the same polling with coalescing off (one request per
 * register, `limits: { maxRegisters: 1 }`). MODBUS_BENCH_SECONDS changes the duration of each phase.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModbusPointConfig, ModbusTcpChannelConfig } from '@iip/core';
import { ModbusDriver, type ReadLimits } from '@iip/device-access';
import { type ModbusPlc, startModbusPlc } from '@iip/simulator';
import { stopChild } from './child-process.js';

const PLCS = 100;
const REGISTERS = 100;
const PRODUCTS = ['cnc-machine', 'air-compressor', 'injection-moulding-machine', 'energy-meter'];

/** Child mode: serve the PLCs and print their ports; exit when stdin closes. */
async function serve(): Promise<void> {
  const plcs: ModbusPlc[] = [];
  for (let i = 0; i < PLCS; i++) {
    plcs.push(await startModbusPlc({ port: 0, units: [{ unitId: 1, deviceId: `plc-${i}`, product: PRODUCTS[i % PRODUCTS.length]!, seed: i }] }));
  }
  console.log(JSON.stringify(plcs.map((p) => p.port)));
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await Promise.all(plcs.map((p) => p.close()));
    process.exit(0);
  });
}

function channel(port: number, i: number): ModbusTcpChannelConfig {
  // 100 one-register points side by side: the input registers where the PLC keeps its signals and beyond
  const points = Array.from({ length: REGISTERS }, (_, r): ModbusPointConfig => ({ property: `r${r}`, area: 'input', address: r, type: 'uint16' }));
  return { id: `plc-${i}`, protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 2000, devices: [{ id: `plc-${i}`, unitId: 1, pollIntervalMs: 1000, points }] };
}

interface Phase {
  readonly requestsPerCycle: number;
  readonly pointsPerCycle: number;
  readonly cpuPercent: number;
  readonly cyclesDone: number;
  readonly cyclesExpected: number;
  readonly readings: number;
  readonly errors: number;
}

async function phase(ports: readonly number[], seconds: number, limits?: ReadLimits): Promise<Phase> {
  const drivers = ports.map((p, i) => new ModbusDriver(channel(p, i), { limits }));
  await Promise.all(drivers.map((d) => d.connect()));
  let readings = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    drivers.map((d) =>
      d.subscribe(
        (rs) => {
          readings += rs.length;
        },
        () => {
          errors++;
        },
      ),
    ),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const polls = drivers.reduce((n, d) => n + d.health().devices.reduce((m, x) => m + x.polls, 0), 0);
  const requestsPerCycle = drivers.reduce((n, d) => n + d.readPlan().length, 0);
  await Promise.all(drivers.map((d) => d.close()));
  return {
    requestsPerCycle,
    pointsPerCycle: PLCS * REGISTERS,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    cyclesDone: polls / PLCS,
    cyclesExpected: Math.floor(seconds) + 1,
    readings,
    errors,
  };
}

export async function main(): Promise<void> {
  const seconds = Number(process.env.MODBUS_BENCH_SECONDS ?? 10);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`PLC simulator exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l) as number[]));
    });
    console.log(`${PLCS} simulated PLCs × ${REGISTERS} registers on 127.0.0.1 (separate process), polled at 1 Hz for ${seconds} s per phase`);
    const base = await phase(ports, seconds, { maxRegisters: 1 });
    const show = (name: string, p: Phase): void =>
      console.log(
        `  ${name.padEnd(24)} ${p.requestsPerCycle} requests/cycle for ${p.pointsPerCycle} points, CPU ${p.cpuPercent.toFixed(1)}%, ` +
          `${p.cyclesDone.toFixed(1)} of ~${p.cyclesExpected} cycles completed, ${p.readings} readings, ${p.errors} errors`,
      );
    show('uncoalesced (baseline)', base);
    const co = await phase(ports, seconds);
    show('coalesced', co);
    const ratio = co.pointsPerCycle / co.requestsPerCycle;
    console.log(`  CPU ratio baseline/coalesced: ${(base.cpuPercent / co.cpuPercent).toFixed(1)}×`);
    console.log(
      `modbus: ${co.requestsPerCycle} requests/cycle for ${co.pointsPerCycle} points (coalescing ${ratio.toFixed(0)}:1), CPU ${co.cpuPercent.toFixed(1)}% ` +
        `(uncoalesced baseline ${base.requestsPerCycle} requests/cycle, CPU ${base.cpuPercent.toFixed(1)}%)`,
    );
  } finally {
    await stopChild(child);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--serve')) await serve();
  else await main();
}
