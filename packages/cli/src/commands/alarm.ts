/**
 * `iip alarm list|show|ack|shelve|unshelve|out-of-service|return-to-service`: the alarms raised by rules and the
 * operator's actions on them (docs/reference/alarms.md), through /api/v1/alarms…
 */
import { ApiClient } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, intOption, noMore, parse, required, wantsHelp } from '../args.js';
import { isoTime, table } from '../table.js';

export const alarmHelp = `iip alarm — alarms and the operator's actions / 告警及处置

  iip alarm list [--open] [--severity S] [--device D] [--rule R] [--limit N] [--before <cursor>] [--json]
      newest first / 按时间倒序; --open: only open alarms / 仅未关闭的告警; S: critical, high, medium, low;
      N: 1–500 (default 100); a full page ends with the --before cursor of the next / 满页时给出下一页的 --before
  iip alarm show <id> [--json]                      the alarm and its history / 告警及其历史
  iip alarm ack <id> [--comment C]                  acknowledge / 确认
  iip alarm shelve <id> (--for 15m|1h|… | --one-shot) [--comment C]
      hide it for a time (at most 24 h) or until it returns to normal (an active alarm)
      / 搁置一段时间（最多 24 小时），或直到恢复正常（仅限活动告警）
  iip alarm unshelve <id> [--comment C]             end shelving / 取消搁置
  iip alarm out-of-service <id> [--comment C]       remove from service, e.g. for sensor maintenance / 停用（如维护传感器）
  iip alarm return-to-service <id> [--comment C]    back in service / 恢复服务
  iip alarm assign <id> (<user> | --nobody) [--comment C]
      who is to deal with it (a user of the tenant), or nobody / 指派处理人（本租户用户），或取消指派

  States (ISA-18.2) / 状态: normal, unacked, acked, rtn-unacked, latched, shelved, suppressed, out-of-service.
  Refusals carry their code, e.g. IIP_ERR_ALARM_NOT_ACKABLE, IIP_ERR_ALARM_SHELVE_DURATION (more than the
  maximum), IIP_ERR_ALARM_NOT_ACTIVE (one-shot shelving of an inactive alarm), IIP_ERR_ALARM_NOT_SHELVED,
  IIP_ERR_ALARM_OUT_OF_SERVICE, IIP_ERR_ALARM_IN_SERVICE.

${CONNECTION_HELP}`;

export interface Alarm {
  id: string;
  rule: string;
  device: string;
  severity: string;
  message: string;
  open: boolean;
  isaState: string;
  active: boolean;
  acked: boolean;
  latched: boolean;
  shelving: { kind: 'unshelved' } | { kind: 'timed'; until: number; user: string; since: number } | { kind: 'one-shot'; user: string; since: number };
  suppressed: boolean;
  outOfService: boolean;
  activeSince: number | null;
  activations: number;
  lastAction: { type: string; user: string; at: number; comment?: string } | null;
  assignee?: string | null;
  ruleName?: string | null;
  raisedAt: number;
  updatedAt: number;
  version: number;
  history?: Array<{ seq: number; ts: number; type: string; user: string | null; comment: string | null; isaState: string }>;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "1h", "90s", "1d", "500ms" as milliseconds; the platform decides whether it is too long. */
export function parseShelveDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v.trim());
  const ms = m ? Math.round(Number(m[1]) * (UNITS[m[2] as string] as number)) : Number.NaN;
  if (!(ms > 0)) throw new UsageError(`--for "${v}": a duration such as 15m, 1h, 90s (at most 24h) / 时长，如 15m、1h`);
  return ms;
}

function shelvingLabel(a: Alarm): string {
  const s = a.shelving;
  if (s.kind === 'timed') return `until / 至 ${isoTime(s.until)} (by ${s.user})`;
  if (s.kind === 'one-shot') return `one-shot, until it returns to normal / 直到恢复正常 (by ${s.user})`;
  return 'no / 否';
}

function describeAlarm(a: Alarm): string[] {
  const lines = [
    `alarm / 告警 ${a.id}  ${a.isaState}${a.open ? '' : ' (closed / 已关闭)'}`,
    `  rule / 规则:       ${a.rule}${a.ruleName && a.ruleName !== a.rule ? `  "${a.ruleName}"` : ''}`,
    `  device / 设备:     ${a.device}`,
    `  severity / 级别:   ${a.severity}`,
    `  message / 消息:    ${a.message || '-'}`,
    `  raised / 产生于:   ${isoTime(a.raisedAt)}; activations / 触发次数 ${a.activations}`,
    `  active / 活动:     ${a.active ? `yes / 是, since / 自 ${a.activeSince === null ? '?' : isoTime(a.activeSince)}` : 'no / 否'}; acked / 已确认: ${a.acked ? 'yes / 是' : 'no / 否'}${a.latched ? '; latched / 闭锁' : ''}`,
    `  shelved / 搁置:    ${shelvingLabel(a)}`,
    `  out of service / 停用: ${a.outOfService ? 'yes / 是' : 'no / 否'}${a.suppressed ? '; suppressed by design / 设计抑制' : ''}`,
    `  assignee / 处理人: ${a.assignee ?? '-'}`,
  ];
  return lines;
}

export async function alarm(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...CONNECTION_OPTIONS,
    open: { type: 'boolean' },
    severity: { type: 'string' },
    device: { type: 'string' },
    rule: { type: 'string' },
    limit: { type: 'string' },
    before: { type: 'string' },
    comment: { type: 'string' },
    for: { type: 'string' },
    'one-shot': { type: 'boolean' },
    nobody: { type: 'boolean' },
  });
  if (values.help || wantsHelp(sub)) return out(alarmHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const path = (id: string): string => `/api/v1/alarms/${encodeURIComponent(id)}`;
  const comment = values.comment !== undefined ? { comment: values.comment } : {};
  const one = (usage: string): string => {
    const id = required(positionals, 0, 'id', usage);
    noMore(positionals, 1, usage);
    return id;
  };
  /** An operator action: the alarm as it is afterwards. */
  const act = async (id: string, action: string, body: Record<string, unknown>, done: string): Promise<void> => {
    const a = await api.call<Alarm>('POST', `${path(id)}/${action}`, body);
    out(values.json ? JSON.stringify(a, null, 2) : `${done} ${a.id}: ${a.isaState}${a.open ? '' : ' (closed / 已关闭)'}`);
  };
  switch (sub) {
    case 'list': {
      noMore(positionals, 0, 'iip alarm list [--open] [--severity S] [--device D] [--rule R] [--limit N] [--json]');
      const limit = intOption(values.limit, '--limit', 100, 1);
      if (limit > 500) throw new UsageError(`--limit: "${values.limit}" must be at most 500`);
      if (values.severity !== undefined && !['critical', 'high', 'medium', 'low'].includes(values.severity)) {
        throw new UsageError(`--severity: "${values.severity}" is not one of critical, high, medium, low`);
      }
      const q = new URLSearchParams({ limit: String(limit) });
      if (values.open) q.set('open', 'true');
      for (const k of ['severity', 'device', 'rule', 'before'] as const) if (values[k] !== undefined) q.set(k, values[k] as string);
      const r = await api.call<{ items: Alarm[]; next?: string }>('GET', `/api/v1/alarms?${q}`);
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(table([['ID', 'RAISED', 'SEVERITY', 'STATE', 'DEVICE', 'RULE', 'MESSAGE'], ...r.items.map((a) => [a.id, isoTime(a.raisedAt), a.severity, a.isaState, a.device, a.rule, a.message])]));
      out(`${r.items.length} alarms / 条告警${r.next ? `; more / 更多: --before ${r.next}` : ''}`);
      return;
    }
    case 'show': {
      const a = await api.call<Alarm>('GET', path(one('iip alarm show <id> [--json]')));
      if (values.json) return out(JSON.stringify(a, null, 2));
      for (const l of describeAlarm(a)) out(l);
      out('history / 历史:');
      out(table([['TIME', 'WHAT', 'USER', 'STATE', 'COMMENT'], ...(a.history ?? []).map((h) => [isoTime(h.ts), h.type, h.user ?? '-', h.isaState, h.comment ?? ''])]));
      return;
    }
    case 'ack':
      return act(one('iip alarm ack <id> [--comment C]'), 'ack', comment, 'Acknowledged / 已确认');
    case 'shelve': {
      const usage = 'iip alarm shelve <id> (--for 15m|1h|… | --one-shot) [--comment C]';
      const id = one(usage);
      if ((values.for === undefined) === !values['one-shot']) throw new UsageError(`give either --for <duration> or --one-shot: ${usage}`);
      const body = values['one-shot'] ? { kind: 'one-shot', ...comment } : { kind: 'timed', durationMs: parseShelveDuration(values.for as string), ...comment };
      return act(id, 'shelve', body, 'Shelved / 已搁置');
    }
    case 'unshelve':
      return act(one('iip alarm unshelve <id> [--comment C]'), 'unshelve', comment, 'Unshelved / 已取消搁置');
    case 'out-of-service':
      return act(one('iip alarm out-of-service <id> [--comment C]'), 'out-of-service', comment, 'Removed from service / 已停用');
    case 'return-to-service':
      return act(one('iip alarm return-to-service <id> [--comment C]'), 'return-to-service', comment, 'Returned to service / 已恢复服务');
    case 'assign': {
      const usage = 'iip alarm assign <id> (<user> | --nobody) [--comment C]';
      const id = required(positionals, 0, 'id', usage);
      const user = positionals[1];
      noMore(positionals, user === undefined ? 1 : 2, usage);
      if ((user === undefined) === !values.nobody) throw new UsageError(`give either a user or --nobody: ${usage}`);
      return act(id, 'assign', { assignee: user ?? null, ...comment }, user === undefined ? 'Unassigned / 已取消指派' : `Assigned to ${user} / 已指派给 ${user}:`);
    }
    default:
      throw new UsageError(`unknown subcommand "iip alarm ${sub}"; use list, show, ack, shelve, unshelve, out-of-service, return-to-service or assign`);
  }
}
