/**
 * `iip role list|show|create|delete|permissions`: built-in and custom roles and the permission catalogue,
 * through /api/v1/roles… and /api/v1/permissions. Built-in roles are listed and cannot change.
 */
import { ApiClient, ApiError } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, noMore, parse, required, wantsHelp } from '../args.js';
import { table } from '../table.js';

export const roleHelp = `iip role — roles and permissions / 角色与权限

  iip role list [--json]                       built-in and custom roles / 内置与自定义角色
  iip role show <id> [--json]                  a role's permissions, labelled / 角色的权限
  iip role create <id> --name <name> --permission <p>[,<p>…] [--permission …]
      a custom role of the tenant / 新建自定义角色
  iip role delete <id>                         delete a custom role no grant uses / 删除未被使用的自定义角色
  iip role permissions [--json]                the permission catalogue / 权限目录

${CONNECTION_HELP}`;

interface Role {
  id: string;
  name: string;
  nameZh: string | null;
  builtIn: boolean;
  permissions: string[];
}
interface PermissionInfo {
  id: string;
  scope: string;
  en: string;
  zh: string;
}

export async function role(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...CONNECTION_OPTIONS,
    name: { type: 'string' },
    permission: { type: 'string', multiple: true },
  });
  if (values.help || wantsHelp(sub)) return out(roleHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const catalogue = async (): Promise<PermissionInfo[]> => (await api.call<{ items: PermissionInfo[] }>('GET', '/api/v1/permissions')).items;
  switch (sub) {
    case 'list': {
      noMore(positionals, 0, 'iip role list [--json]');
      const r = await api.call<{ items: Role[] }>('GET', '/api/v1/roles');
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(
        table([
          ['ID', 'KIND', 'NAME', 'PERMISSIONS'],
          ...r.items.map((x) => [x.id, x.builtIn ? 'built-in / 内置' : 'custom / 自定义', x.nameZh ? `${x.name} / ${x.nameZh}` : x.name, String(x.permissions.length)]),
        ]),
      );
      return;
    }
    case 'show': {
      const usage = 'iip role show <id> [--json]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      const [{ items }, perms] = await Promise.all([api.call<{ items: Role[] }>('GET', '/api/v1/roles'), catalogue()]);
      const r = items.find((x) => x.id === id);
      if (!r) throw new ApiError(404, 'IIP_ERR_NOT_FOUND', `role "${id}" not found / 角色不存在 (iip role list)`, { resource: 'role', id });
      if (values.json) return out(JSON.stringify(r, null, 2));
      const label = new Map(perms.map((p) => [p.id, p]));
      out(`${r.id}: ${r.nameZh ? `${r.name} / ${r.nameZh}` : r.name} (${r.builtIn ? 'built-in / 内置' : 'custom / 自定义'})`);
      out(table([['PERMISSION', 'SCOPE', 'MEANING'], ...r.permissions.map((p) => [p, label.get(p)?.scope ?? '?', label.get(p) ? `${label.get(p)?.en} / ${label.get(p)?.zh}` : ''])]));
      return;
    }
    case 'create': {
      const usage = 'iip role create <id> --name <name> --permission <p>[,<p>…]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      if (!values.name) throw new UsageError(`--name is required: ${usage}`);
      const permissions = (values.permission ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
      if (permissions.length === 0) throw new UsageError(`give at least one --permission (iip role permissions lists them): ${usage}`);
      const r = await api.call<Role>('POST', '/api/v1/roles', { id, name: values.name, permissions });
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(`Created role / 已创建角色 ${r.id} (${r.name}): ${r.permissions.join(', ')}`);
      return;
    }
    case 'delete': {
      const usage = 'iip role delete <id>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      await api.call('DELETE', `/api/v1/roles/${encodeURIComponent(id)}`);
      return out(values.json ? JSON.stringify({ id, deleted: true }) : `Deleted role / 已删除角色 ${id}`);
    }
    case 'permissions': {
      noMore(positionals, 0, 'iip role permissions [--json]');
      const items = await catalogue();
      if (values.json) return out(JSON.stringify({ items }, null, 2));
      out(table([['PERMISSION', 'SCOPE', 'ENGLISH', '中文'], ...items.map((p) => [p.id, p.scope, p.en, p.zh])]));
      return;
    }
    default:
      throw new UsageError(`unknown subcommand "iip role ${sub}"; use list, show, create, delete or permissions`);
  }
}
