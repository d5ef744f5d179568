/**
 * The embedded demo: provisions the virtual factory's products and devices in the registry (once) and runs
 * the simulator against the platform's own MQTT broker with real device credentials. The credentials are
 * kept in `<data>/simulator/credentials.json` (mode 0600) — the devices' side of the secret, exactly as a
 * real device would keep it — because the platform itself stores only hashes.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TenantId } from '@iip/core';
import type { VirtualFactory } from '@iip/simulator';
import type { RegistryService } from './registry-service.js';

type Credentials = Record<string, { product: string; secret: string }>;

export async function startDemoFactory(opts: {
  dataDir: string;
  tenant: TenantId;
  registry: RegistryService;
  mqttUrl: string;
  devices: number;
  intervalMs?: number;
  log: (line: string) => void;
}): Promise<VirtualFactory> {
  // Loaded only when the demo runs: the simulator package carries OPC UA and Modbus servers (node-opcua alone is
  // ~90 MB of memory), which a platform without the demo does not need (issue 20).
  const { VirtualFactory, factoryDevicePlan, factoryProducts } = await import('@iip/simulator');
  const dir = join(opts.dataDir, 'simulator');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'credentials.json');
  const creds: Credentials = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Credentials) : {};

  for (const p of factoryProducts()) {
    if (!(await opts.registry.findProduct(opts.tenant, p.id))) {
      await opts.registry.createProduct(opts.tenant, { id: p.id, name: `${p.nameZh} ${p.name}`, category: p.category, model: p.model });
    }
  }
  const plan = factoryDevicePlan(opts.devices);
  const missing = plan.filter((d) => !creds[d.id]);
  const devices: Array<{ id: string; product: string; secret: string }> = [];
  for (const d of missing) {
    if (await opts.registry.findDevice(opts.tenant, d.id)) {
      opts.log(`simulator: device ${d.id} exists but its credential is not in ${file}; it is left out / 设备 ${d.id} 缺少凭据，已跳过`);
      continue;
    }
    const issued = await opts.registry.createDevice(opts.tenant, { id: d.id, name: `${d.nameZh} ${d.name}`, product: d.product, attributes: { simulated: 'true' } });
    creds[d.id] = { product: d.product, secret: issued.secret };
  }
  if (missing.length > 0) {
    writeFileSync(file, JSON.stringify(creds, null, 2));
    chmodSync(file, 0o600);
  }
  for (const d of plan) {
    const c = creds[d.id];
    if (c) devices.push({ id: d.id, product: c.product, secret: c.secret });
  }
  const factory = new VirtualFactory({ mqttUrl: opts.mqttUrl, tenant: opts.tenant, devices, intervalMs: opts.intervalMs ?? 1000, log: opts.log });
  await factory.start();
  return factory;
}
