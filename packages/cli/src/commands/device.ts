/** `iip device create|list`: manage devices of a running platform through its REST API. */
import { readFileSync } from 'node:fs';
import { ApiClient } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, intOption, parse, wantsHelp } from '../args.js';
import { table } from '../table.js';

export const deviceHelp = `iip device — manage devices / 设备管理

  iip device create --product <id> [--id <id>] [--name <name>] [--json]
  iip device create --csv <file> [--json]        bulk import (header: id,name,product[,attribute…])
  iip device list [--product <id>] [--limit <n>] [--json]

${CONNECTION_HELP}
The device secret is printed once at creation; the platform keeps only its hash.`;

interface DeviceOut {
  id: string;
  name: string;
  product: string;
  createdAt: number;
}

export async function device(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, {
    product: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    csv: { type: 'string' },
    limit: { type: 'string' },
    ...CONNECTION_OPTIONS,
  });
  if (values.help || wantsHelp(sub)) return out(deviceHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  switch (sub) {
    case 'create': {
      if (values.csv) {
        const csv = readFileSync(values.csv, 'utf8');
        out(`Importing ${values.csv} / 正在导入 …`);
        const r = await api.call<{ created: number; devices: Array<{ device: DeviceOut; secret: string }> }>('POST', '/api/v1/devices/import', csv, 'text/csv');
        if (values.json) return out(JSON.stringify(r, null, 2));
        out(`Created ${r.created} devices / 已创建 ${r.created} 台设备. Secrets (shown once / 仅显示一次):`);
        out(table([['ID', 'PRODUCT', 'SECRET'], ...r.devices.map((d) => [d.device.id, d.device.product, d.secret])]));
        return;
      }
      if (!values.product) throw new UsageError('iip device create needs --product <id> (or --csv <file>)');
      const r = await api.call<{ device: DeviceOut; secret: string }>('POST', '/api/v1/devices', {
        product: values.product,
        ...(values.id ? { id: values.id } : {}),
        ...(values.name ? { name: values.name } : {}),
      });
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(`Created device / 已创建设备 ${r.device.id} (product ${r.device.product})`);
      out(`  MQTT username / 用户名: default/${r.device.id}`);
      out(`  secret / 密钥 (shown once / 仅显示一次): ${r.secret}`);
      return;
    }
    case 'list': {
      const limit = intOption(values.limit, '--limit', 1000, 1);
      const q = new URLSearchParams({ limit: String(limit) });
      if (values.product) q.set('product', values.product);
      const r = await api.call<{ items: DeviceOut[]; total: number }>('GET', `/api/v1/devices?${q}`);
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(table([['ID', 'NAME', 'PRODUCT', 'CREATED'], ...r.items.map((d) => [d.id, d.name, d.product, new Date(d.createdAt).toISOString()])]));
      out(`${r.items.length} of ${r.total} devices / 共 ${r.total} 台设备`);
      return;
    }
    default:
      throw new UsageError(`unknown subcommand "iip device ${sub}"; use create or list`);
  }
}
