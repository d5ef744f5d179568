/**
 * The audit event log of the acting tenant: GET /api/v1/audit/events (filters; JSON, or CSV with format=csv for
 * export) and GET /api/v1/audit/verify (the hash chain checked end to end). Both need audit:read.
 */
import type { TenantId } from '@iip/core';
import { type AuditEvent, type ChainReport, type EventLogStore, openStorage, verifyEventChain } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import { authorize } from './access.js';

interface Query {
  from?: number;
  to?: number;
  actor?: string;
  action?: string;
  result?: 'ok' | 'denied' | 'failed';
  afterSeq?: number;
  limit: number;
  format?: 'json' | 'csv';
}

const CSV_COLUMNS = ['seq', 'time', 'tenant', 'actor', 'source', 'action', 'target', 'result', 'details', 'hash'] as const;

function csvCell(v: string): string {
  // Quoted, with a leading quote before characters a spreadsheet would run as a formula.
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return `"${safe.replaceAll('"', '""')}"`;
}

function toCsv(events: readonly AuditEvent[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of events) {
    lines.push(
      [String(e.seq), new Date(e.ts).toISOString(), e.tenant, e.actor, e.source, e.action, e.target, e.result, JSON.stringify(e.details), e.hash].map(csvCell).join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

export async function auditEventRoutes(app: FastifyInstance, opts: { events: EventLogStore }): Promise<void> {
  app.get<{ Querystring: Query }>(
    '/api/v1/audit/events',
    {
      schema: {
        tags: ['audit'],
        description: 'Audit events of the tenant, oldest first: state-changing requests, refused requests, sign-ins. format=csv exports.',
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'integer', description: 'epoch ms, inclusive' },
            to: { type: 'integer', description: 'epoch ms, exclusive' },
            actor: { type: 'string' },
            action: { type: 'string', description: 'e.g. "POST /api/v1/devices" or "auth.login"' },
            result: { type: 'string', enum: ['ok', 'denied', 'failed'] },
            afterSeq: { type: 'integer', minimum: 0, description: 'paging: events after this seq' },
            limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1_000 },
            format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
          },
        },
      },
    },
    async (req, reply) => {
      const p = await authorize(req, 'audit:read', null, 'read the audit log');
      const q = req.query;
      const events = await opts.events.list(p.tenant as TenantId, {
        ...(q.from !== undefined && { from: q.from }),
        ...(q.to !== undefined && { to: q.to }),
        ...(q.actor && { actor: q.actor }),
        ...(q.action && { action: q.action }),
        ...(q.result && { result: q.result }),
        ...(q.afterSeq !== undefined && { afterSeq: q.afterSeq }),
        limit: q.limit,
      });
      if (q.format === 'csv') {
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="iip-audit-${p.tenant}.csv"`)
          .send(toCsv(events));
      }
      return { items: events, ...(events.length === q.limit && { nextAfterSeq: events[events.length - 1]?.seq }) };
    },
  );
  app.get('/api/v1/audit/verify', { schema: { tags: ['audit'], description: "Checks the tenant's audit hash chain from its anchor to its head." } }, async (req) => {
    const p = await authorize(req, 'audit:read', null, 'verify the audit log');
    return verifyTenantChain(opts.events, p.tenant);
  });
}

/** Reads a tenant's whole chain in pages and verifies it. */
export async function verifyTenantChain(events: EventLogStore, tenant: string): Promise<ReturnType<typeof verifyEventChain>> {
  const anchor = await events.anchor(tenant as TenantId);
  const all: AuditEvent[] = [];
  let after = anchor?.seq ?? 0;
  for (;;) {
    const page = await events.list(tenant as TenantId, { afterSeq: after, limit: 10_000 });
    all.push(...page);
    if (page.length < 10_000) break;
    after = (page[page.length - 1] as AuditEvent).seq;
  }
  return verifyEventChain(tenant, all, anchor);
}

/**
 * `iip audit verify`: opens the storage (SQLite file or PostgreSQL URL) read as it is and checks every tenant's
 * chain. The reports say where a chain breaks and what its head is (note the head hash somewhere safe: a chain
 * can only prove that nothing before its head changed).
 */
export async function verifyAuditLog(storage: string): Promise<ChainReport[]> {
  const s = await openStorage(storage);
  try {
    const reports: ChainReport[] = [];
    for (const tenant of await s.events.tenants()) reports.push(await verifyTenantChain(s.events, tenant));
    return reports;
  } finally {
    await s.close();
  }
}
