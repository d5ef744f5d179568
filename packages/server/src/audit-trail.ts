/**
 * Writes the audit event log (issue 12; @iip/storage event-log.ts): every state-changing request under /api/v1,
 * every request refused as unauthenticated or forbidden (a security event, whatever its method), and every
 * sign-in attempt (written by the auth route, which knows the user name tried). Who (user, or `-`), tenant (the
 * acting one; the platform's own for unidentified callers), UTC time, source address, action (method and route),
 * target (the route's ids), result and details (status, error code).
 *
 * The event is appended after the response is sent; an append that fails is logged and counted in `stats()`
 * (and shown by /api/v1/status), never dropped silently.
 *
 * Refusals are throttled so a flood of bad tokens cannot turn into a flood of writes: per caller (tenant, actor,
 * source address) the first `REFUSAL_BURST` in a minute are written one by one, the rest are counted and written
 * as one `audit.suppressed` event (how many, of what, from when to when) when the minute is over.
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

/** Refusals per caller and minute written one by one; the rest become one summary event. */
export const REFUSAL_BURST = 20;
const REFUSAL_WINDOW_MS = 60_000;
/** Callers tracked at once; beyond this every window is summarised and closed at once (memory stays bounded). */
const MAX_TRACKED = 10_000;

interface RefusalWindow {
  readonly tenant: string | undefined;
  readonly actor: string;
  readonly source: string;
  readonly since: number;
  count: number;
  suppressed: number;
  lastAction: string;
  lastAt: number;
}

export function resultOf(status: number): AuditResult {
  if (status < 400) return 'ok';
  return status === 401 || status === 403 || status === 423 || status === 429 ? 'denied' : 'failed';
}

export class AuditTrail {
  private written = 0;
  private failures = 0;
  private suppressed = 0;
  private readonly refusals = new Map<string, RefusalWindow>();
  private flushTimer: NodeJS.Timeout | undefined;

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

  /**
   * Records a refusal, throttled per caller (see the module comment): false when it was only counted, to be
   * written in the window's summary.
   */
  async refusal(e: { tenant?: string; actor: string; source: string; action: string; target: string; details: Record<string, unknown> }): Promise<boolean> {
    const now = this.now();
    const key = `${e.tenant ?? ''}\u0000${e.actor}\u0000${e.source}`;
    let w = this.refusals.get(key);
    if (w && now - w.since >= REFUSAL_WINDOW_MS) {
      await this.closeWindow(key, w);
      w = undefined;
    }
    if (!w) {
      if (this.refusals.size >= MAX_TRACKED) await this.flush(true);
      w = { tenant: e.tenant, actor: e.actor, source: e.source, since: now, count: 0, suppressed: 0, lastAction: e.action, lastAt: now };
      this.refusals.set(key, w);
      this.flushTimer ??= setInterval(() => void this.flush(false), REFUSAL_WINDOW_MS).unref();
    }
    w.count++;
    w.lastAction = e.action;
    w.lastAt = now;
    if (w.count <= REFUSAL_BURST) {
      await this.record({ ...e, result: 'denied' });
      return true;
    }
    w.suppressed++;
    this.suppressed++;
    return false;
  }

  /** Writes the summary of every window that is over (`all`: of every window) and forgets it. */
  async flush(all: boolean): Promise<void> {
    const now = this.now();
    for (const [key, w] of [...this.refusals]) if (all || now - w.since >= REFUSAL_WINDOW_MS) await this.closeWindow(key, w);
    if (this.refusals.size === 0 && this.flushTimer) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
  }

  private async closeWindow(key: string, w: RefusalWindow): Promise<void> {
    this.refusals.delete(key);
    if (w.suppressed === 0) return;
    await this.record({
      tenant: w.tenant,
      actor: w.actor,
      source: w.source,
      action: 'audit.suppressed',
      target: '',
      result: 'denied',
      details: { suppressed: w.suppressed, refusals: w.count, lastAction: w.lastAction, from: new Date(w.since).toISOString(), to: new Date(w.lastAt).toISOString() },
    });
  }

  /** Registers the hooks that audit requests (see the module comment). */
  install(app: FastifyInstance): void {
    app.addHook('onClose', async () => this.flush(true));
    app.addHook('onError', async (req, _reply, err) => {
      req.auditErrorCode = (err as { code?: string }).code;
    });
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url;
      if (!req.url.startsWith('/api/v1/') || !route || NOT_AUDITED.has(route)) return;
      const status = reply.statusCode;
      if (!STATE_CHANGING.has(req.method) && status !== 401 && status !== 403) return;
      const e = {
        tenant: req.principal?.tenant,
        actor: req.principal?.username ?? '-',
        source: req.ip,
        action: `${req.method} ${route}`,
        target: targetOf(req),
        details: { status, ...(req.auditErrorCode !== undefined && { code: req.auditErrorCode }) },
      };
      if (status === 401 || status === 403) await this.refusal(e);
      else await this.record({ ...e, result: resultOf(status) });
    });
  }

  /** Events written, appends that failed, and refusals counted into a summary instead of written one by one. */
  stats(): { written: number; failures: number; suppressed: number } {
    return { written: this.written, failures: this.failures, suppressed: this.suppressed };
  }
}

function targetOf(req: FastifyRequest): string {
  const params = (req.params ?? {}) as Record<string, unknown>;
  return Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}
