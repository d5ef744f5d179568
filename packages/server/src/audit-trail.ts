/**
 * Writes the audit event log (issue 12; @iip/storage event-log.ts): every state-changing request under /api/v1,
 * every request refused as unauthenticated or forbidden (a security event, whatever its method), and every
 * sign-in attempt (written by the auth route, which knows the user name tried). Who (user, or `-`), tenant (the
 * acting one; the platform's own for unidentified callers), UTC time, source address, action (method and route),
 * target (the route's ids), result and details (status, error code).
 *
 * The event is appended after the response is sent; an append that fails is logged and counted in `stats()`
 * (and shown by /api/v1/status), never dropped silently.
 */
import type { TenantId } from '@iip/core';
import type { AuditResult, EventLogStore } from '@iip/storage';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Device traffic and reads of the log itself are not audit events (devices are audited by their own counters). */
const NOT_AUDITED = new Set(['/api/v1/ingest', '/api/v1/auth/login']);

declare module 'fastify' {
  interface FastifyRequest {
    /** The IipError code the request failed with, for its audit event. */
    auditErrorCode?: string;
  }
}

export function resultOf(status: number): AuditResult {
  if (status < 400) return 'ok';
  return status === 401 || status === 403 || status === 423 || status === 429 ? 'denied' : 'failed';
}

export class AuditTrail {
  private written = 0;
  private failures = 0;

  constructor(
    private readonly store: EventLogStore,
    private readonly platformTenant: string,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one event; a failure is logged and counted. */
  record(e: { tenant?: string; actor: string; source: string; action: string; target: string; result: AuditResult; details: Record<string, unknown> }): Promise<void> {
    return this.store
      .append({ ...e, tenant: (e.tenant ?? this.platformTenant) as TenantId, ts: this.now() })
      .then(
        () => {
          this.written++;
        },
        (err: unknown) => {
          this.failures++;
          this.log(`audit: an event could not be written (${e.action} by ${e.actor}): ${(err as Error).message}`);
        },
      );
  }

  /** Registers the hooks that audit requests (see the module comment). */
  install(app: FastifyInstance): void {
    app.addHook('onError', async (req, _reply, err) => {
      req.auditErrorCode = (err as { code?: string }).code;
    });
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url;
      if (!req.url.startsWith('/api/v1/') || !route || NOT_AUDITED.has(route)) return;
      const status = reply.statusCode;
      if (!STATE_CHANGING.has(req.method) && status !== 401 && status !== 403) return;
      await this.record({
        tenant: req.principal?.tenant,
        actor: req.principal?.username ?? '-',
        source: req.ip,
        action: `${req.method} ${route}`,
        target: targetOf(req),
        result: resultOf(status),
        details: { status, ...(req.auditErrorCode !== undefined && { code: req.auditErrorCode }) },
      });
    });
  }

  stats(): { written: number; failures: number } {
    return { written: this.written, failures: this.failures };
  }
}

function targetOf(req: FastifyRequest): string {
  const params = (req.params ?? {}) as Record<string, unknown>;
  return Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}
