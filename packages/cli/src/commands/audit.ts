/** `iip audit verify`: checks the hash chain of every tenant's audit event log, straight from the storage. */
import { join, resolve } from 'node:path';
import { verifyAuditLog } from '@iip/server';
import { UsageError, parse } from '../args.js';

export const auditHelp = `iip audit — the audit event log / 审计日志

  iip audit verify [--data <dir> | --storage <url>] [--json]
      check every tenant's hash chain / 校验每个租户的哈希链
      exit code 0: every chain verifies; 1: a chain is broken (the report says where)

  --data <dir>       data directory (env IIP_DATA_DIR, default ./data): the SQLite file <dir>/iip.db
  --storage <url>    postgres://… (env IIP_STORAGE_URL)

Export the log with GET /api/v1/audit/events?format=csv (permission audit:read).`;

export async function audit(argv: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { data: { type: 'string' }, storage: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help || sub === undefined || sub === 'help') {
    out(auditHelp);
    return 0;
  }
  if (sub !== 'verify') throw new UsageError(`unknown audit command "${sub}"`);
  const storage = values.storage ?? process.env.IIP_STORAGE_URL ?? join(resolve(values.data ?? process.env.IIP_DATA_DIR ?? 'data'), 'iip.db');
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
