/**
 * The edge half of the `npm start` demo: simulated Modbus TCP PLCs and an OPC UA server stand in for a
 * shop floor of "dumb" devices, and a real edge gateway reads them and forwards to the platform, taking
 * its configuration from the platform like any deployed gateway would.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelConfig, DeviceId, TenantId } from '@iip/core';
import { createDriver } from '@iip/device-access';
import { EdgeGateway } from '@iip/edge-gateway';
import type { Platform } from '@iip/server';
import { DEFAULT_PLC_UNITS, startModbusPlc, startOpcUaServer } from '@iip/simulator';

const GATEWAY = 'edge-01';
const OPCUA_DEVICES = [
  { id: 'ua-cnc-01', product: 'cnc-machine', name: 'OPC UA 数控机床 CNC machine' },
  { id: 'ua-meter-01', product: 'energy-meter', name: 'OPC UA 电能表 Energy meter' },
];

type Credentials = Record<string, { product: string; secret: string }>;

async function exists(platform: Platform, tenant: TenantId, id: string): Promise<boolean> {
  return (await platform.registry.findDevice(tenant, id)) !== undefined;
}

export interface EdgeDemo {
  readonly gateway: EdgeGateway;
  stop(): Promise<void>;
}

export async function startEdgeDemo(platform: Platform, dataDir: string, log: (line: string) => void): Promise<EdgeDemo | undefined> {
  const tenant = 'default' as TenantId;
  const credFile = join(dataDir, 'simulator', 'credentials.json');
  mkdirSync(join(dataDir, 'simulator'), { recursive: true });
  const creds: Credentials = existsSync(credFile) ? (JSON.parse(readFileSync(credFile, 'utf8')) as Credentials) : {};

  const children = [
    ...DEFAULT_PLC_UNITS.map((u) => ({ id: u.deviceId, product: u.product, name: `PLC ${u.deviceId}` })),
    ...OPCUA_DEVICES,
  ];
  for (const d of children) {
    if (!(await exists(platform, tenant, d.id))) await platform.registry.createDevice(tenant, { id: d.id, name: d.name, product: d.product, attributes: { simulated: 'true', via: GATEWAY } });
  }
  if (!creds[GATEWAY]) {
    if (await exists(platform, tenant, GATEWAY)) {
      log(`edge demo: gateway ${GATEWAY} exists but its secret is not in ${credFile}; the edge demo is skipped / 缺少网关凭据，跳过边缘演示`);
      return undefined;
    }
    const issued = await platform.registry.createDevice(tenant, { id: GATEWAY, name: '边缘网关 01 Edge gateway 01', product: 'iip-edge-gateway' });
    creds[GATEWAY] = { product: 'iip-edge-gateway', secret: issued.secret };
    writeFileSync(credFile, JSON.stringify(creds, null, 2));
    chmodSync(credFile, 0o600);
  }

  log('edge demo: starting simulated Modbus PLCs and an OPC UA server / 正在启动模拟 PLC 和 OPC UA 服务器 …');
  const plc = await startModbusPlc({ port: 0 });
  const ua = await startOpcUaServer({ port: 0, devices: OPCUA_DEVICES.map(({ id, product }) => ({ id, product })) });
  const modbus = plc.units.map((u) => ({ ...plc.pointMap(u.deviceId), pollIntervalMs: 1000 }));
  const channels: ChannelConfig[] = [
    { id: 'modbus-line-1', protocol: 'modbus-tcp', host: plc.host, port: plc.port, timeoutMs: 1000, devices: modbus },
    ua.channelConfig('None', { id: 'opcua-line-1' }),
  ];
  const config = {
    channels,
    rules: [{ id: 'compressor-hot', device: 'plc-compressor-01', property: 'temperature', op: '>' as const, threshold: 95, severity: 'warn' as const, message: 'discharge temperature high' }],
  };
  const gatewayId = GATEWAY as DeviceId;
  // The simulators listen on new ports each start, so the desired config gets a new version each start.
  const rec = await platform.gateways.setConfig(tenant, gatewayId, config, 'demo', (id) => exists(platform, tenant, id));
  const gateway = new EdgeGateway({
    platform: { mqttUrl: platform.mqttUrl, tenant, gatewayId: GATEWAY, secret: (creds[GATEWAY] as { secret: string }).secret },
    dataDir: join(dataDir, 'edge'),
    driverFactory: (ch) => createDriver(ch),
    stateIntervalMs: 5000,
    log: (level, msg, fields) => {
      if (level === 'warn' || level === 'error') log(`edge: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
    },
  });
  await gateway.start();
  log(`Edge gateway / 边缘网关: ${GATEWAY} (config v${rec.version}) reading ${modbus.length} Modbus PLCs and ${OPCUA_DEVICES.length} OPC UA devices`);
  return {
    gateway,
    async stop() {
      await gateway.stop();
      await ua.close();
      await plc.close();
    },
  };
}
