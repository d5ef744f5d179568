/** `iip tenant usage|policy`: usage against quotas, and the retention and quota policy, through the REST API. */
import { ApiClient } from '../api-client.js';
import { UsageError, parse } from '../args.js';

export const tenantHelp = `iip tenant — usage, retention and quotas of your tenant / 租户用量、数据保留与配额

  iip tenant usage [--json]                       usage against the quotas / 用量与配额
  iip tenant policy [--json]                      show the policy / 查看策略
  iip tenant policy [--raw-days N] [--minute-days N] [--hour-days N] [--day-days N]
                    [--devices N] [--points-per-day N] [--stored-bytes N] [--json]
      change it (admin only; other fields keep their value) / 修改策略（仅管理员）
      N = a number, or "forever" / "unlimited" (both mean no limit / 不限)

Retention runs every 10 minutes; quotas apply from the next message or device.
Connection: --url or IIP_URL (default http://localhost:8080); IIP_TOKEN, or IIP_USERNAME + IIP_PASSWORD.`;

interface Policy {
  retention: { rawDays: number | null; rollups: Record<string, number | null> };
  quotas: { devices: number | null; pointsPerDay: number | null; storedBytes: number | null };
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
  lines.push(`quotas / 配额:     devices / 设备 ${show(p.quotas.devices)}; points per day / 每日数据点 ${show(p.quotas.pointsPerDay)}; stored bytes / 存储字节 ${show(p.quotas.storedBytes)}`);
  return lines;
}

export async function tenant(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, {
    'raw-days': { type: 'string' },
    'minute-days': { type: 'string' },
    'hour-days': { type: 'string' },
    'day-days': { type: 'string' },
    devices: { type: 'string' },
    'points-per-day': { type: 'string' },
    'stored-bytes': { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help || !sub) return out(tenantHelp);
  const api = ApiClient.fromEnv(values.url);
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
      const quotas = {
        devices: amount('devices', values.devices, true),
        pointsPerDay: amount('points-per-day', values['points-per-day'], true),
        storedBytes: amount('stored-bytes', values['stored-bytes'], true),
      };
      const rollups: Record<string, number | null> = { ...current.retention.rollups };
      let changed = raw !== undefined || Object.values(quotas).some((v) => v !== undefined);
      for (const [flag, level] of Object.entries(LEVELS)) {
        const v = amount(flag, values[flag as keyof typeof values] as string | undefined, false);
        if (v === undefined) continue;
        rollups[level] = v;
        changed = true;
      }
      let policy = current;
      if (changed) {
        const next: Policy = {
          retention: { rawDays: raw === undefined ? current.retention.rawDays : raw, rollups },
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
    default:
      throw new UsageError(`unknown subcommand "iip tenant ${sub}"; use usage or policy`);
  }
}
