/**
 * `iip tenant usage|policy`: usage against quotas, and the retention and quota policy of the acting tenant;
 * `iip tenant list|create|suspend|resume|delete`: the platform administrator's tenants. All through the REST API.
 */
import { ApiClient } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, noMore, parse, required, wantsHelp } from '../args.js';
import { readSecret } from '../secret-input.js';
import { isoTime, table } from '../table.js';

export const tenantHelp = `iip tenant — tenants, their usage, retention and quotas / 租户、用量、数据保留与配额

  iip tenant usage [--json]                       usage against the quotas / 用量与配额
  iip tenant policy [--json]                      show the policy / 查看策略
  iip tenant policy [--raw-days N] [--minute-days N] [--hour-days N] [--day-days N]
                    [--devices N] [--points-per-day N] [--stored-bytes N]
                    [--audit-days N] [--event-days N] [--json]
      change it (admin only; quotas: platform administrator; other fields keep their value) / 修改策略
      N = a number, or "forever" / "unlimited" (both mean no limit / 不限); --audit-days: at least 30

  Platform administrator / 平台管理员:
  iip tenant list [--json]                        every tenant / 所有租户
  iip tenant create <id> [--name <name>] [--admin <username> [--admin-password <p>|-]]
      a new tenant, with its first tenant administrator; the password comes from --admin-password, else
      IIP_NEW_PASSWORD, else standard input (never shown) / 新建租户及其首个管理员（密码不回显）
  iip tenant suspend <id> --reason <text>         its devices and users are refused; nothing is deleted / 停用租户
  iip tenant resume <id>                          active again / 恢复租户
  iip tenant delete <id>                          delete a suspended tenant and all its data (the audit log stays)
      / 删除已停用的租户及其全部数据（审计日志保留）; refused while active: IIP_ERR_TENANT_ACTIVE

Retention runs every 10 minutes; quotas apply from the next message or device.
${CONNECTION_HELP}`;

interface TenantInfo {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  suspendedReason: string | null;
  createdAt: number;
}

interface Policy {
  retention: { rawDays: number | null; rollups: Record<string, number | null>; auditDays?: number | null; eventDays?: number | null };
  quotas: { devices: number | null; pointsPerDay: number | null; storedBytes: number | null };
  security?: { totpRequiredForAdmins: boolean };
}
interface UsageReply {
  usage: { tenant: string; devices: number; pointsToday: number; day: string; rawPoints: number; rollupRows: number; storedBytes: number };
  policy: Policy;
  retention: { lastRun: null | { finishedAt: number; rawDeleted: number; rollupsDeleted: Record<string, number>; error: null | { code: string } } };
}

const LEVELS: Record<string, string> = { 'minute-days': '60000', 'hour-days': '3600000', 'day-days': '86400000' };

/** A number, or null for "forever"/"unlimited"/"none"; undefined when the flag is absent. */
function amount(flag: string, v: string | undefined, integer: boolean): number | null | undefined {
  if (v === undefined) return undefined;
  if (/^(forever|unlimited|none|null)$/i.test(v)) return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag}: "${v}" must be ${integer ? 'an integer' : 'a number'} ≥ 0, or "unlimited"/"forever"`);
  return n;
}

const show = (v: number | null, unit = ''): string => (v === null ? 'unlimited / 不限' : `${v.toLocaleString('en')}${unit}`);

function describePolicy(p: Policy): string[] {
  const lines = [`retention / 保留:  raw / 原始数据 ${p.retention.rawDays === null ? 'for ever / 永久' : `${p.retention.rawDays} days / 天`}`];
  for (const [level, name] of [['60000', '1-minute'], ['3600000', '1-hour'], ['86400000', '1-day']] as const) {
    const d = p.retention.rollups[level];
    lines.push(`                   ${name} rollups / 汇总 ${d == null ? 'for ever / 永久' : `${d} days / 天`}`);
  }
  if (p.retention.auditDays !== undefined) {
    lines.push(`                   audit events / 审计事件 ${p.retention.auditDays === null ? 'for ever / 永久' : `${p.retention.auditDays} days / 天`}`);
  }
  if (p.retention.eventDays !== undefined) {
    lines.push(`                   device events / 设备事件 ${p.retention.eventDays === null ? 'for ever / 永久' : `${p.retention.eventDays} days / 天`}`);
  }
  lines.push(`quotas / 配额:     devices / 设备 ${show(p.quotas.devices)}; points per day / 每日数据点 ${show(p.quotas.pointsPerDay)}; stored bytes / 存储字节 ${show(p.quotas.storedBytes)}`);
  if (p.security) lines.push(`sign-in / 登录:     second factor for administrators / 管理员双因素 ${p.security.totpRequiredForAdmins ? 'required / 必须' : 'optional / 可选'}`);
  return lines;
}

export async function tenant(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    'raw-days': { type: 'string' },
    'minute-days': { type: 'string' },
    'hour-days': { type: 'string' },
    'day-days': { type: 'string' },
    devices: { type: 'string' },
    'points-per-day': { type: 'string' },
    'stored-bytes': { type: 'string' },
    'audit-days': { type: 'string' },
    'event-days': { type: 'string' },
    name: { type: 'string' },
    admin: { type: 'string' },
    'admin-password': { type: 'string' },
    reason: { type: 'string' },
    ...CONNECTION_OPTIONS,
  });
  if (values.help || wantsHelp(sub)) return out(tenantHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const print = (v: unknown, text: string): void => out(values.json ? JSON.stringify(v, null, 2) : text);
  const path = (id: string): string => `/api/v1/tenants/${encodeURIComponent(id)}`;
  switch (sub) {
    case 'usage': {
      const r = await api.call<UsageReply>('GET', '/api/v1/tenant/usage');
      if (values.json) return out(JSON.stringify(r, null, 2));
      const u = r.usage;
      const q = r.policy.quotas;
      out(`tenant / 租户 ${u.tenant}`);
      out(`  devices / 设备:            ${u.devices.toLocaleString('en')} of ${show(q.devices)}`);
      out(`  points today / 今日数据点:  ${u.pointsToday.toLocaleString('en')} of ${show(q.pointsPerDay)} (UTC ${u.day})`);
      out(`  stored bytes / 存储字节:    ~${u.storedBytes.toLocaleString('en')} of ${show(q.storedBytes)} (${u.rawPoints.toLocaleString('en')} raw points, ${u.rollupRows.toLocaleString('en')} rollup cells)`);
      const last = r.retention.lastRun;
      out(last ? `  last retention run / 上次清理: ${new Date(last.finishedAt).toISOString()}, ${last.rawDeleted} raw points deleted${last.error ? `, failed: ${last.error.code}` : ''}` : '  last retention run / 上次清理: none yet / 尚未运行');
      return;
    }
    case 'policy': {
      const current = await api.call<Policy>('GET', '/api/v1/tenant/policy');
      const raw = amount('raw-days', values['raw-days'], false);
      const auditDays = amount('audit-days', values['audit-days'], false);
      const eventDays = amount('event-days', values['event-days'], false);

      const quotas = {
        devices: amount('devices', values.devices, true),
        pointsPerDay: amount('points-per-day', values['points-per-day'], true),
        storedBytes: amount('stored-bytes', values['stored-bytes'], true),
      };
      const rollups: Record<string, number | null> = { ...current.retention.rollups };
      let changed = raw !== undefined || auditDays !== undefined || eventDays !== undefined || Object.values(quotas).some((v) => v !== undefined);
      for (const [flag, level] of Object.entries(LEVELS)) {
        const v = amount(flag, values[flag as keyof typeof values] as string | undefined, false);
        if (v === undefined) continue;
        rollups[level] = v;
        changed = true;
      }
      let policy = current;
      if (changed) {
        const next: Policy = {
          // auditDays and eventDays, when not named, and the sign-in rules are left out: the server keeps their current value.
          retention: { rawDays: raw === undefined ? current.retention.rawDays : raw, rollups, ...(auditDays !== undefined && { auditDays }), ...(eventDays !== undefined && { eventDays }) },
          quotas: {
            devices: quotas.devices === undefined ? current.quotas.devices : quotas.devices,
            pointsPerDay: quotas.pointsPerDay === undefined ? current.quotas.pointsPerDay : quotas.pointsPerDay,
            storedBytes: quotas.storedBytes === undefined ? current.quotas.storedBytes : quotas.storedBytes,
          },
        };
        policy = await api.call<Policy>('PUT', '/api/v1/tenant/policy', next);
      }
      if (values.json) return out(JSON.stringify(policy, null, 2));
      if (changed) out('Policy saved / 策略已保存');
      for (const l of describePolicy(policy)) out(l);
      return;
    }
    case 'list': {
      noMore(positionals, 0, 'iip tenant list [--json]');
      const r = await api.call<{ items: TenantInfo[] }>('GET', '/api/v1/tenants');
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(
        table([
          ['ID', 'STATUS', 'NAME', 'CREATED', 'REASON'],
          ...r.items.map((t) => [t.id, t.status === 'active' ? 'active / 正常' : 'suspended / 已停用', t.name, isoTime(t.createdAt), t.suspendedReason ?? '']),
        ]),
      );
      out(`${r.items.length} tenants / 个租户`);
      return;
    }
    case 'create': {
      const usage = 'iip tenant create <id> [--name <name>] [--admin <username> [--admin-password <p>|-]]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      if (values['admin-password'] !== undefined && !values.admin) throw new UsageError(`--admin-password needs --admin <username>: ${usage}`);
      const admin = values.admin
        ? { username: values.admin, password: await readSecret({ flag: values['admin-password'], flagName: '--admin-password', env: 'IIP_NEW_PASSWORD', prompt: `password for / 密码 ${values.admin}` }) }
        : undefined;
      const t = await api.call<TenantInfo>('POST', '/api/v1/tenants', { id, ...(values.name !== undefined && { name: values.name }), ...(admin && { admin }) });
      return print(
        { ...t, ...(admin && { admin: admin.username }) },
        `Created tenant / 已创建租户 ${t.id} (${t.name})${admin ? `; tenant administrator / 租户管理员: ${admin.username}` : '; no users yet / 尚无用户'}`,
      );
    }
    case 'suspend': {
      const usage = 'iip tenant suspend <id> --reason <text>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      if (!values.reason?.trim()) throw new UsageError(`--reason is required (it is shown to the tenant's users) / 必须说明原因: ${usage}`);
      const t = await api.call<TenantInfo>('PATCH', path(id), { status: 'suspended', suspendedReason: values.reason });
      return print(t, `Suspended tenant / 已停用租户 ${t.id}: ${t.suspendedReason} — its devices and users are refused; nothing is deleted / 数据未删除`);
    }
    case 'resume': {
      const usage = 'iip tenant resume <id>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      const t = await api.call<TenantInfo>('PATCH', path(id), { status: 'active', suspendedReason: null });
      return print(t, `Resumed tenant / 已恢复租户 ${t.id}`);
    }
    case 'delete': {
      const usage = 'iip tenant delete <id>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      const r = await api.call<{ id: string; deleted: boolean; devices: number }>('DELETE', path(id));
      return print(r, `Deleted tenant / 已删除租户 ${r.id} with ${r.devices} devices / 台设备 (its audit log stays / 审计日志保留)`);
    }
    default:
      throw new UsageError(`unknown subcommand "iip tenant ${sub}"; use usage, policy, list, create, suspend, resume or delete`);
  }
}
