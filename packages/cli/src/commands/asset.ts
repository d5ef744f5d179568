/**
 * `iip asset tree|list|create|rename|move|delete|place`: the tenant's ISA-95 asset tree (enterprise › site ›
 * area › line › cell) and where devices sit on it, through /api/v1/assets… and PUT /api/v1/devices/{id}/asset.
 */
import { ApiClient } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, noMore, orNone, parse, required, wantsHelp } from '../args.js';
import { isoTime, table } from '../table.js';

export const assetHelp = `iip asset — the asset tree (ISA-95) / 资产树

  iip asset tree [--json]                  the tree, indented, with device counts / 树形显示及设备数
  iip asset list [--json]                  every asset, one a line / 资产列表
  iip asset create <id> --level <level> --name <name> [--name-zh <名称>] [--parent <id>]
      add an asset (no --parent: a root) / 新建资产（无 --parent 即为根）
  iip asset rename <id> [--name <name>] [--name-zh <名称>|none]    rename / 重命名
  iip asset move <id> <new-parent-id|none>  move it with its subtree, devices and grants / 移动（含子树、设备与授权）
  iip asset delete <id>                    delete an empty asset / 删除空资产
  iip asset place <device-id> <asset-id|none>   put a device on an asset, or take it off / 放置设备

  Levels / 层级: enterprise › site › area › line › cell (a child is of a deeper level than its parent).
  Refusals carry their code, e.g. IIP_ERR_ASSET_CYCLE (a move below itself), IIP_ERR_ASSET_LEVEL,
  IIP_ERR_ASSET_NOT_EMPTY (children, devices or grants left), IIP_ERR_ASSET_PARENT.

${CONNECTION_HELP}`;

export interface Asset {
  id: string;
  parent: string | null;
  level: string;
  name: string;
  nameZh: string | null;
  createdAt: number;
}

export interface AssetNode extends Asset {
  /** Devices placed on this asset itself. */
  devices: number;
  /** Devices on it and everywhere below it. */
  subtreeDevices: number;
  children: AssetNode[];
}

/** Counts the devices the caller may see per asset (key null: not on the tree). */
async function deviceCounts(api: ApiClient): Promise<Map<string | null, number>> {
  const counts = new Map<string | null, number>();
  const limit = 10_000;
  for (let offset = 0; ; offset += limit) {
    const page = await api.call<{ items: Array<{ asset?: string | null }>; total: number }>('GET', `/api/v1/devices?limit=${limit}&offset=${offset}`);
    for (const d of page.items) counts.set(d.asset ?? null, (counts.get(d.asset ?? null) ?? 0) + 1);
    if (page.items.length < limit || offset + limit >= page.total) return counts;
  }
}

/** The flat list as a forest; an asset whose parent the caller cannot see is a root of its own. */
export function buildTree(assets: readonly Asset[], counts: ReadonlyMap<string | null, number>): AssetNode[] {
  const nodes = new Map<string, AssetNode>(assets.map((a) => [a.id, { ...a, devices: counts.get(a.id) ?? 0, subtreeDevices: 0, children: [] }]));
  const roots: AssetNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.parent === null ? undefined : nodes.get(n.parent);
    (parent ? parent.children : roots).push(n);
  }
  const sum = (n: AssetNode): number => {
    n.children.sort((a, b) => a.id.localeCompare(b.id));
    n.subtreeDevices = n.devices + n.children.reduce((s, c) => s + sum(c), 0);
    return n.subtreeDevices;
  };
  roots.sort((a, b) => a.id.localeCompare(b.id));
  for (const r of roots) sum(r);
  return roots;
}

const devicesLabel = (n: number): string => `${n} device${n === 1 ? '' : 's'} / 台设备`;

function treeLines(nodes: readonly AssetNode[], prefix = ''): string[] {
  const lines: string[] = [];
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    const title = n.nameZh ? `${n.name} / ${n.nameZh}` : n.name;
    const below = n.subtreeDevices > n.devices ? ` (${n.subtreeDevices} in subtree / 含下级)` : '';
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${title}  [${n.id}, ${n.level}]  ${devicesLabel(n.devices)}${below}`);
    lines.push(...treeLines(n.children, prefix + (last ? '   ' : '│  ')));
  });
  return lines;
}

export async function asset(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...CONNECTION_OPTIONS,
    level: { type: 'string' },
    name: { type: 'string' },
    'name-zh': { type: 'string' },
    parent: { type: 'string' },
  });
  if (values.help || wantsHelp(sub)) return out(assetHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const print = (v: unknown, text: string): void => out(values.json ? JSON.stringify(v, null, 2) : text);
  switch (sub) {
    case 'tree': {
      noMore(positionals, 0, 'iip asset tree [--json]');
      const [{ items }, counts] = await Promise.all([api.call<{ items: Asset[] }>('GET', '/api/v1/assets'), deviceCounts(api)]);
      const roots = buildTree(items, counts);
      const unplaced = counts.get(null) ?? 0;
      if (values.json) return out(JSON.stringify({ tree: roots, unplacedDevices: unplaced }, null, 2));
      if (roots.length === 0) out('no assets yet / 尚无资产 (iip asset create <id> --level enterprise --name <name>)');
      for (const l of treeLines(roots)) out(l);
      out(`not on the tree / 未放置: ${devicesLabel(unplaced)}`);
      return;
    }
    case 'list': {
      noMore(positionals, 0, 'iip asset list [--json]');
      const r = await api.call<{ items: Asset[] }>('GET', '/api/v1/assets');
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(table([['ID', 'LEVEL', 'PARENT', 'NAME', 'NAME_ZH', 'CREATED'], ...r.items.map((a) => [a.id, a.level, a.parent ?? '-', a.name, a.nameZh ?? '', isoTime(a.createdAt)])]));
      out(`${r.items.length} assets / 个资产`);
      return;
    }
    case 'create': {
      const usage = 'iip asset create <id> --level <level> --name <name> [--name-zh <名称>] [--parent <id>]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      if (!values.level) throw new UsageError(`--level is required (enterprise, site, area, line or cell): ${usage}`);
      if (!values.name) throw new UsageError(`--name is required: ${usage}`);
      const a = await api.call<Asset>('POST', '/api/v1/assets', {
        id,
        level: values.level,
        name: values.name,
        parent: values.parent === undefined ? null : orNone(values.parent),
        ...(values['name-zh'] !== undefined && { nameZh: orNone(values['name-zh']) }),
      });
      return print(a, `Created asset / 已创建资产 ${a.id} (${a.level}${a.parent ? ` under ${a.parent}` : ', a root / 根'})`);
    }
    case 'rename': {
      const usage = 'iip asset rename <id> [--name <name>] [--name-zh <名称>|none]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      if (values.name === undefined && values['name-zh'] === undefined) throw new UsageError(`give --name and/or --name-zh: ${usage}`);
      const a = await api.call<Asset>('PATCH', `/api/v1/assets/${encodeURIComponent(id)}`, {
        ...(values.name !== undefined && { name: values.name }),
        ...(values['name-zh'] !== undefined && { nameZh: orNone(values['name-zh']) }),
      });
      return print(a, `Renamed / 已重命名 ${a.id}: ${a.name}${a.nameZh ? ` / ${a.nameZh}` : ''}`);
    }
    case 'move': {
      const usage = 'iip asset move <id> <new-parent-id|none>';
      const id = required(positionals, 0, 'id', usage);
      const parent = orNone(required(positionals, 1, 'new-parent-id|none', usage));
      noMore(positionals, 2, usage);
      const a = await api.call<Asset>('PATCH', `/api/v1/assets/${encodeURIComponent(id)}`, { parent });
      return print(a, `Moved / 已移动 ${a.id} ${a.parent ? `under / 到 ${a.parent}` : 'to the top / 到根'}`);
    }
    case 'delete': {
      const usage = 'iip asset delete <id>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      await api.call('DELETE', `/api/v1/assets/${encodeURIComponent(id)}`);
      return print({ id, deleted: true }, `Deleted asset / 已删除资产 ${id}`);
    }
    case 'place': {
      const usage = 'iip asset place <device-id> <asset-id|none>';
      const deviceId = required(positionals, 0, 'device-id', usage);
      const target = orNone(required(positionals, 1, 'asset-id|none', usage));
      noMore(positionals, 2, usage);
      const r = await api.call<{ device: string; asset: string | null }>('PUT', `/api/v1/devices/${encodeURIComponent(deviceId)}/asset`, { asset: target });
      return print(r, r.asset ? `Placed device / 已放置设备 ${r.device} on / 于 ${r.asset}` : `Took device / 已移出设备 ${r.device} off the tree / 资产树`);
    }
    default:
      throw new UsageError(`unknown subcommand "iip asset ${sub}"; use tree, list, create, rename, move, delete or place`);
  }
}
