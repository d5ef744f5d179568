/**
 * `iip user list|create|grant|revoke|disable|enable|reset-password`: the tenant's users and their role grants,
 * through /api/v1/users… A user is named by its user name or its id. Passwords are read without being shown.
 */
import { ApiClient, ApiError } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, noMore, parse, required, wantsHelp } from '../args.js';
import { readSecret } from '../secret-input.js';
import { isoTime, table } from '../table.js';

export const userHelp = `iip user — users and their roles / 用户与角色授权

  iip user list [--json]                                         users with their grants / 用户及授权
  iip user create <username> [--password <p>|-] [--role <role>[@<asset>]]…
      new user; the password comes from --password, else IIP_NEW_PASSWORD, else standard input
      (asked for on a terminal, never shown) / 新建用户；密码取自 --password、IIP_NEW_PASSWORD 或标准输入（不回显）
  iip user grant <user> --role <role>[@<asset>] [--role …]       grant roles (no @asset: the whole tenant) / 授予角色
  iip user revoke <user> --role <role>[@<asset>]… | --grant <grant-id>…    revoke grants / 撤销授权
  iip user disable <user>                                        cannot sign in; sessions end / 停用用户
  iip user enable <user>                                         enable again / 启用用户
  iip user reset-password <user> [--password <p>|-]
      new password; without one the platform generates it and it is printed once
      / 重置密码；未指定时由平台生成，仅显示一次

  <user> is a user name or a user id. Roles: see 'iip role list'.

${CONNECTION_HELP}`;

export interface Grant {
  id: string;
  userId: string;
  role: string;
  asset: string | null;
  createdAt: number;
}
export interface User {
  id: string;
  username: string;
  tenant: string;
  createdAt: number;
  disabled: boolean;
  lockedUntil: number | null;
  grants: Grant[];
}

/** "role" (the whole tenant) or "role@asset". */
export function parseRole(spec: string): { role: string; asset: string | null } {
  const at = spec.indexOf('@');
  const role = at < 0 ? spec : spec.slice(0, at);
  const asset = at < 0 ? null : spec.slice(at + 1);
  if (role === '' || asset === '') throw new UsageError(`--role "${spec}": use <role> or <role>@<asset-id>`);
  return { role, asset };
}

export const grantLabel = (g: { role: string; asset: string | null }): string => (g.asset ? `${g.role}@${g.asset}` : g.role);

function status(u: User): string {
  if (u.disabled) return 'disabled / 已停用';
  if (u.lockedUntil !== null && u.lockedUntil > Date.now()) return `locked until / 锁定至 ${isoTime(u.lockedUntil)}`;
  return 'active / 正常';
}

async function findUser(api: ApiClient, who: string): Promise<User> {
  const { items } = await api.call<{ items: User[] }>('GET', '/api/v1/users');
  const u = items.find((x) => x.username === who) ?? items.find((x) => x.id === who);
  if (!u) throw new ApiError(404, 'IIP_ERR_NOT_FOUND', `no user "${who}" in ${api.tenant ? `tenant "${api.tenant}"` : 'your tenant'} / 用户不存在 (iip user list)`, { resource: 'user', id: who });
  return u;
}

export async function user(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...CONNECTION_OPTIONS,
    password: { type: 'string' },
    role: { type: 'string', multiple: true },
    grant: { type: 'string', multiple: true },
  });
  if (values.help || wantsHelp(sub)) return out(userHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const print = (v: unknown, text: string): void => out(values.json ? JSON.stringify(v, null, 2) : text);
  const roles = (values.role ?? []).map(parseRole);
  const one = (usage: string): string => {
    const who = required(positionals, 0, sub === 'create' ? 'username' : 'user', usage);
    noMore(positionals, 1, usage);
    return who;
  };
  switch (sub) {
    case 'list': {
      noMore(positionals, 0, 'iip user list [--json]');
      const r = await api.call<{ items: User[] }>('GET', '/api/v1/users');
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(table([['USERNAME', 'ID', 'STATUS', 'ROLES', 'CREATED'], ...r.items.map((u) => [u.username, u.id, status(u), u.grants.map(grantLabel).join(', ') || '-', isoTime(u.createdAt)])]));
      out(`${r.items.length} users / 个用户`);
      return;
    }
    case 'create': {
      const username = one('iip user create <username> [--password <p>|-] [--role <role>[@<asset>]]…');
      const password = await readSecret({ flag: values.password, flagName: '--password', env: 'IIP_NEW_PASSWORD', prompt: `password for / 密码 ${username}` });
      const u = await api.call<Omit<User, 'disabled' | 'lockedUntil'>>('POST', '/api/v1/users', { username, password, grants: roles });
      return print(u, `Created user / 已创建用户 ${u.username} (id ${u.id}, tenant ${u.tenant})${u.grants.length ? `; roles / 角色: ${u.grants.map(grantLabel).join(', ')}` : '; no roles yet / 尚无角色'}`);
    }
    case 'grant': {
      const u = await findUser(api, one('iip user grant <user> --role <role>[@<asset>]…'));
      if (roles.length === 0) throw new UsageError('iip user grant needs at least one --role <role>[@<asset>]');
      const made: Grant[] = [];
      for (const g of roles) made.push(await api.call<Grant>('POST', `/api/v1/users/${encodeURIComponent(u.id)}/grants`, g));
      return print(made, made.map((g) => `Granted / 已授予 ${grantLabel(g)} to ${u.username} (grant ${g.id})`).join('\n'));
    }
    case 'revoke': {
      const u = await findUser(api, one('iip user revoke <user> --role <role>[@<asset>]… | --grant <grant-id>…'));
      if (roles.length === 0 && !values.grant?.length) throw new UsageError('iip user revoke needs --role <role>[@<asset>] or --grant <grant-id>');
      const targets: Grant[] = [];
      for (const id of values.grant ?? []) {
        const g = u.grants.find((x) => x.id === id);
        if (!g) throw new ApiError(404, 'IIP_ERR_NOT_FOUND', `user ${u.username} has no grant "${id}" (iip user list shows them)`, { resource: 'grant', id });
        targets.push(g);
      }
      for (const r of roles) {
        const g = u.grants.find((x) => x.role === r.role && x.asset === r.asset);
        if (!g) throw new ApiError(404, 'IIP_ERR_NOT_FOUND', `user ${u.username} has no grant ${grantLabel(r)}; it has ${u.grants.map(grantLabel).join(', ') || 'none / 无'}`, { resource: 'grant', id: grantLabel(r) });
        targets.push(g);
      }
      for (const g of targets) await api.call('DELETE', `/api/v1/users/${encodeURIComponent(u.id)}/grants/${encodeURIComponent(g.id)}`);
      return print(targets, targets.map((g) => `Revoked / 已撤销 ${grantLabel(g)} from ${u.username}`).join('\n'));
    }
    case 'disable':
    case 'enable': {
      const u = await findUser(api, one(`iip user ${sub} <user>`));
      const r = await api.call<{ id: string; disabled: boolean }>('POST', `/api/v1/users/${encodeURIComponent(u.id)}/${sub}`);
      return print({ ...r, username: u.username }, r.disabled ? `Disabled / 已停用 ${u.username}: it cannot sign in and its sessions ended` : `Enabled / 已启用 ${u.username}`);
    }
    case 'reset-password': {
      const u = await findUser(api, one('iip user reset-password <user> [--password <p>|-]'));
      const body = values.password === undefined ? undefined : { password: await readSecret({ flag: values.password, flagName: '--password', prompt: `new password for / 新密码 ${u.username}` }) };
      // An empty object, not no body: the route takes JSON, and "no password" means "generate one".
      const r = await api.call<{ id: string; password?: string }>('POST', `/api/v1/users/${encodeURIComponent(u.id)}/password`, body ?? {});
      if (values.json) return out(JSON.stringify({ ...r, username: u.username }, null, 2));
      out(`Password reset / 密码已重置 for ${u.username}; its sessions ended / 其会话已结束`);
      if (r.password !== undefined) out(`  new password / 新密码 (shown once / 仅显示一次): ${r.password}`);
      return;
    }
    default:
      throw new UsageError(`unknown subcommand "iip user ${sub}"; use list, create, grant, revoke, disable, enable or reset-password`);
  }
}
