/**
 * `iip simulate`: drives simulated devices against a running platform. It provisions the devices through
 * the REST API (once; their secrets are kept in `.iip/simulate/` like a device keeps its own), then either
 * runs the virtual factory with realistic signals, or, with `--rate`, publishes a steady load of batches.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IipError, type ThingModel } from '@iip/core';
import { VirtualFactory, factoryDevicePlan, factoryProducts, runLoad } from '@iip/simulator';
import { ApiClient, ApiError } from '../api-client.js';
import { UsageError, intOption, parse } from '../args.js';

export const simulateHelp = `iip simulate — simulated devices against a running platform / 向运行中的平台发送模拟数据

  --devices <n>     number of devices (default 24)
  --rate <r>        load mode: r messages per second in all (each a batch of --points points)
  --points <n>      points per message in load mode (default 10)
  --duration <s>    stop after s seconds (default: run until Ctrl-C)
  --interval <ms>   factory mode: publish period per device (default 1000)
  --url <url>       platform API (env IIP_URL, default http://localhost:8080)
  --mqtt <url>      platform MQTT (env IIP_MQTT_URL, default mqtt://<API host>:11883)
Credentials: IIP_TOKEN, or IIP_USERNAME + IIP_PASSWORD.`;

const LOAD_PRODUCT = 'iip-load';
const LOAD_PROPS = Array.from({ length: 10 }, (_, i) => `v${i}`);
const LOAD_MODEL: ThingModel = {
  properties: LOAD_PROPS.map((id) => ({ id, name: id, dataType: { type: 'float', min: 0, max: 1000 }, access: 'r' })),
  events: [],
  services: [],
};

type Creds = Record<string, { product: string; secret: string }>;

async function ensureProduct(api: ApiClient, p: { id: string; name: string; category: string; model: ThingModel }): Promise<void> {
  try {
    await api.call('GET', `/api/v1/products/${encodeURIComponent(p.id)}`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    await api.call('POST', '/api/v1/products', p);
  }
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function simulate(argv: string[], out: (s: string) => void): Promise<void> {
  const { values } = parse(argv, {
    devices: { type: 'string' },
    rate: { type: 'string' },
    points: { type: 'string' },
    duration: { type: 'string' },
    interval: { type: 'string' },
    url: { type: 'string' },
    mqtt: { type: 'string' },
  });
  if (values.help) return out(simulateHelp);
  const count = intOption(values.devices, '--devices', 24, 1);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0)) throw new UsageError(`--rate: "${values.rate}" must be a positive number`);
  const points = intOption(values.points, '--points', 10, 1);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration: "${values.duration}" must be a positive number of seconds`);

  const api = ApiClient.fromEnv(values.url);
  const apiUrl = new URL(api.url);
  const mqttUrl = values.mqtt ?? process.env.IIP_MQTT_URL ?? `mqtt://${apiUrl.hostname}:11883`;
  const me = await api.call<{ tenant: string }>('GET', '/api/v1/auth/me');

  // Which devices: factory kinds, or the flat load product.
  const plan =
    rate === undefined
      ? factoryDevicePlan(count).map((d) => ({ id: `sim-${d.id}`, name: `${d.nameZh} ${d.name}`, product: d.product }))
      : Array.from({ length: count }, (_, i) => ({ id: `load-${String(i + 1).padStart(4, '0')}`, name: `load ${i + 1}`, product: LOAD_PRODUCT }));
  out(`Provisioning ${count} devices / 正在准备 ${count} 台设备 …`);
  if (rate === undefined) for (const p of factoryProducts()) await ensureProduct(api, { id: p.id, name: `${p.nameZh} ${p.name}`, category: p.category, model: p.model });
  else await ensureProduct(api, { id: LOAD_PRODUCT, name: '负载测试 Load test', category: 'load', model: LOAD_MODEL });

  const dir = join('.iip', 'simulate');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${apiUrl.hostname}_${apiUrl.port || '80'}_${me.tenant}.json`);
  const creds: Creds = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Creds) : {};
  const missing = plan.filter((d) => !creds[d.id]);
  if (missing.length > 0) {
    const csv = ['id,name,product', ...missing.map((d) => [d.id, d.name, d.product].map(csvCell).join(','))].join('\n');
    try {
      const r = await api.call<{ devices: Array<{ device: { id: string; product: string }; secret: string }> }>('POST', '/api/v1/devices/import', csv, 'text/csv');
      for (const d of r.devices) creds[d.device.id] = { product: d.device.product, secret: d.secret };
    } catch (e) {
      if (e instanceof ApiError && e.code === 'IIP_ERR_CONFLICT') {
        throw new IipError('IIP_ERR_CONFLICT', `${e.message} — the devices exist but their secrets are not in ${file}; delete those devices or restore the file`, {});
      }
      throw e;
    }
    writeFileSync(file, JSON.stringify(creds, null, 2));
    chmodSync(file, 0o600);
    out(`  created ${missing.length} devices / 新建 ${missing.length} 台设备 (secrets in ${file})`);
  }
  const devices = plan.map((d) => ({ id: d.id, product: d.product, secret: (creds[d.id] as { secret: string }).secret }));

  const abort = new AbortController();
  const onSig = () => abort.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const timer = duration ? setTimeout(onSig, duration * 1000) : undefined;
  try {
    if (rate === undefined) {
      const factory = new VirtualFactory({ mqttUrl, tenant: me.tenant, devices, intervalMs: intOption(values.interval, '--interval', 1000, 10), log: out });
      await factory.start();
      out(`Factory running / 模拟工厂运行中: ${devices.length} devices → ${mqttUrl} (Ctrl-C to stop)`);
      const tick = setInterval(() => {
        const s = factory.stats();
        out(`  connected ${s.connected}, published ${s.published}, rejected ${s.errors}${s.lastError ? ` (last: ${s.lastError})` : ''}`);
      }, 5000);
      await new Promise<void>((r) => abort.signal.addEventListener('abort', () => r(), { once: true }));
      clearInterval(tick);
      await factory.stop();
    } else {
      out(`Load / 负载: ${rate} msg/s × ${points} points over ${devices.length} devices → ${mqttUrl}`);
      let last = Date.now();
      const r = await runLoad({
        mqttUrl,
        tenant: me.tenant,
        devices,
        pointsPerMessage: points,
        totalMessages: duration ? Math.round(rate * duration) : Number.POSITIVE_INFINITY,
        ratePerSec: rate,
        propertyIds: LOAD_PROPS,
        model: LOAD_MODEL,
        qos: 1,
        signal: abort.signal,
        onProgress: (sent) => {
          if (Date.now() - last >= 5000) {
            last = Date.now();
            out(`  sent ${sent} messages / 已发送 ${sent} 条`);
          }
        },
      });
      out(`Done / 完成: ${r.messages} messages, ${r.points} points in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((r.points * 1000) / r.elapsedMs)} points/s)`);
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}
