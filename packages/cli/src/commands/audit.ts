/**
 * `iip audit events`: the acting tenant's audit event log through GET /api/v1/audit/events (filters; a table,
 * JSON or the server's CSV export). `iip audit verify`: checks the hash chain of every tenant's audit event log,
 * straight from the storage.
 */
import { join, resolve } from 'node:path';
import { ApiClient } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, intOption, noMore, parse, wantsHelp } from '../args.js';
import { isoTime, table } from '../table.js';

export const auditHelp = `iip audit — the audit event log / 审计日志

  iip audit events [--actor <user>] [--action <action>] [--result ok|denied|failed]
                   [--since <time>] [--until <time>] [--limit N] [--after-seq N] [--csv | --json]
      the tenant's audit events, oldest first (permission audit:read) / 租户审计事件（需 audit:read）
      --action is exact, e.g. "POST /api/v1/users" or "auth.login" / 操作名须完全匹配
      <time>: an ISO 8601 time (2025-01-31, 2025-01-31T08:00:00Z), epoch ms, or an age such as
              30m, 12h, 7d ("that long ago") / 时间：ISO 8601、毫秒时间戳或 30m、12h、7d 等
      --limit N (1–100000, default 1000); when more events match, the output says the --after-seq to go on with
      --csv prints the server's CSV export (a spreadsheet-safe file) / 导出 CSV

  iip audit verify [--data <dir> | --storage <url>] [--json]
      check every tenant's hash chain / 校验每个租户的哈希链
      exit code 0: every chain verifies; 1: a chain is broken (the report says where)
      --data <dir>       data directory (env IIP_DATA_DIR, default ./data): the SQLite file <dir>/iip.db
      --storage <url>    postgres://… (env IIP_STORAGE_URL)

${CONNECTION_HELP}`;

interface AuditEvent {
  seq: number;
  ts: number;
  tenant: string;
  actor: string;
  source: string;
  action: string;
  target: string;
  result: 'ok' | 'denied' | 'failed';
  details: Record<string, unknown>;
  hash: string;
}

const AGE = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** ISO 8601, epoch ms, or an age ("30m" = 30 minutes ago) as epoch ms. */
export function parseTime(flag: string, v: string, now = Date.now()): number {
  const age = AGE.exec(v);
  if (age) return Math.round(now - Number(age[1]) * (UNIT_MS[age[2] as string] as number));
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${flag}: "${v}" is not a time; use ISO 8601 (2025-01-31T08:00:00Z), epoch ms, or an age like 30m, 12h, 7d`);
  return t;
}

const RESULTS = ['ok', 'denied', 'failed'];

export async function audit(argv: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    data: { type: 'string' },
    storage: { type: 'string' },
    ...CONNECTION_OPTIONS,
    actor: { type: 'string' },
    action: { type: 'string' },
    result: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    'after-seq': { type: 'string' },
    csv: { type: 'boolean' },
  });
  if (values.help || wantsHelp(sub)) {
    out(auditHelp);
    return 0;
  }
  switch (sub) {
    case 'events':
      noMore(positionals, 0, 'iip audit events [filters] [--csv | --json]');
      await events(values, out);
      return 0;
    case 'verify':
      noMore(positionals, 0, 'iip audit verify [--data <dir> | --storage <url>] [--json]');
      return verify(values, out);
    default:
      throw new UsageError(`unknown audit command "${sub}"; use events or verify`);
  }
}

async function events(
  values: { url?: string; tenant?: string; json?: boolean; csv?: boolean; actor?: string; action?: string; result?: string; since?: string; until?: string; limit?: string; 'after-seq'?: string },
  out: (s: string) => void,
): Promise<void> {
  if (values.csv && values.json) throw new UsageError('--csv and --json: choose one');
  if (values.result !== undefined && !RESULTS.includes(values.result)) throw new UsageError(`--result: "${values.result}" must be ok, denied or failed`);
  const limit = intOption(values.limit, '--limit', 1000, 1);
  if (limit > 100_000) throw new UsageError(`--limit: ${limit} is above 100000`);
  const q = new URLSearchParams({ limit: String(limit) });
  if (values.actor) q.set('actor', values.actor);
  if (values.action) q.set('action', values.action);
  if (values.result) q.set('result', values.result);
  const now = Date.now();
  const from = values.since === undefined ? undefined : parseTime('--since', values.since, now);
  const to = values.until === undefined ? undefined : parseTime('--until', values.until, now);
  if (from !== undefined && to !== undefined && from >= to) throw new UsageError(`--since (${isoTime(from)}) must be before --until (${isoTime(to)})`);
  if (from !== undefined) q.set('from', String(from));
  if (to !== undefined) q.set('to', String(to));
  if (values['after-seq'] !== undefined) q.set('afterSeq', String(intOption(values['after-seq'], '--after-seq', 0, 0)));
  const api = ApiClient.fromEnv(values.url, values.tenant);
  if (values.csv) {
    q.set('format', 'csv');
    // The CSV ends with a line break; `out` adds one.
    out((await api.text('GET', `/api/v1/audit/events?${q}`)).replace(/\r?\n$/, ''));
    return;
  }
  const r = await api.call<{ items: AuditEvent[]; nextAfterSeq?: number }>('GET', `/api/v1/audit/events?${q}`);
  if (values.json) return out(JSON.stringify(r, null, 2));
  out(
    table([
      ['SEQ', 'TIME', 'ACTOR', 'SOURCE', 'ACTION', 'TARGET', 'RESULT', 'CODE'],
      ...r.items.map((e) => [String(e.seq), isoTime(e.ts), e.actor, e.source, e.action, e.target || '-', e.result, typeof e.details.code === 'string' ? e.details.code : '']),
    ]),
  );
  out(`${r.items.length} events / 条事件${r.nextAfterSeq !== undefined ? `; more / 更多: --after-seq ${r.nextAfterSeq}` : ''}`);
}

async function verify(values: { data?: string; storage?: string; json?: boolean }, out: (s: string) => void): Promise<number> {
  const storage = values.storage ?? process.env.IIP_STORAGE_URL ?? join(resolve(values.data ?? process.env.IIP_DATA_DIR ?? 'data'), 'iip.db');
  // Loaded here: the server package pulls in the protocol stacks, which the API commands do not need.
  const { verifyAuditLog } = await import('@iip/server');
  const reports = await verifyAuditLog(storage);
  if (values.json) out(JSON.stringify(reports, null, 2));
  else {
    if (reports.length === 0) out('no audit events yet / 尚无审计事件');
    for (const r of reports) {
      out(
        r.ok
          ? `ok      ${r.tenant}: ${r.events} events, head #${r.headSeq} ${r.headHash}`
          : `BROKEN  ${r.tenant}: at event #${r.brokenAt?.seq}: ${r.brokenAt?.reason} (verified up to #${r.headSeq})`,
      );
    }
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}
