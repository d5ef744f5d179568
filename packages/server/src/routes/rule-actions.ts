/**
 * Rule actions as they are carried out (issue 13, point 3; docs/reference/rules.md "Actions"): /api/v1/rule-actions…
 * lists the deliveries of the tenant's outbox — pending, done, dead-lettered — with their attempts and last error,
 * and retries a dead one; /api/v1/rules/signing-secret shows (and rotates) the secret webhook receivers check
 * signatures with. Reading needs rules:read on the tenant; retrying and the secret rules:edit.
 */
import { IipError } from '@iip/core';
import type { ActionJob, ActionJobState, ActionOutbox } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';
import { authorize } from './access.js';

const STATES: readonly ActionJobState[] = ['pending', 'done', 'dead'];

function publicJob(j: ActionJob): Record<string, unknown> {
  const payload = j.payload as { action?: unknown; notice?: unknown } | null;
  return {
    id: j.id,
    rule: j.rule,
    device: j.device,
    kind: j.kind,
    state: j.state,
    attempts: j.attempts,
    dueAt: j.dueAt,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    lastError: j.lastError,
    action: payload?.action ?? null,
    notice: payload?.notice ?? null,
  };
}

export async function ruleActionRoutes(app: FastifyInstance, opts: { outbox: ActionOutbox }): Promise<void> {
  const { outbox } = opts;

  app.get<{ Querystring: { state?: string; rule?: string; device?: string; limit?: number; before?: string } }>(
    '/api/v1/rule-actions',
    {
      schema: {
        tags: ['rules'],
        description:
          "The tenant's rule-action deliveries, newest first: state (pending, done, dead), attempts, when due, the last error (an IIP_ERR_* code and text), the action and the notice it carries; `counts` by state. Page with before=<createdAt>:<id> of the last one seen.",
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: [...STATES] },
            rule: { type: 'string' },
            device: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            before: { type: 'string', pattern: '^\\d+:.+$' },
          },
        },
      },
    },
    async (req) => {
      const p = await authorize(req, 'rules:read', null, 'list rule actions');
      const q = req.query;
      const cut = q.before?.indexOf(':') ?? -1;
      const items = await outbox.list(p.tenant, {
        limit: q.limit ?? 100,
        ...(q.state ? { state: q.state as ActionJobState } : {}),
        ...(q.rule ? { rule: q.rule } : {}),
        ...(q.device ? { device: q.device } : {}),
        ...(q.before && cut > 0 ? { before: { createdAt: Number(q.before.slice(0, cut)), id: q.before.slice(cut + 1) } } : {}),
      });
      return { items: items.map(publicJob), counts: await outbox.counts(p.tenant) };
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/rule-actions/:id', { schema: { tags: ['rules'], response: errorResponses } }, async (req) => {
    const p = await authorize(req, 'rules:read', null, 'read a rule action');
    const j = await outbox.get(p.tenant, req.params.id);
    if (!j) throw new IipError('IIP_ERR_NOT_FOUND', `rule action "${req.params.id}" not found`, { resource: 'rule-action', id: req.params.id });
    return publicJob(j);
  });

  app.post<{ Params: { id: string } }>(
    '/api/v1/rule-actions/:id/retry',
    {
      schema: {
        tags: ['rules'],
        description: 'Retries a dead-lettered delivery: pending again, due now, attempts from 0 (IIP_ERR_CONFLICT when it is not dead).',
        response: errorResponses,
      },
    },
    async (req) => {
      const p = await authorize(req, 'rules:edit', null, 'retry a rule action');
      const j = await outbox.get(p.tenant, req.params.id);
      if (!j) throw new IipError('IIP_ERR_NOT_FOUND', `rule action "${req.params.id}" not found`, { resource: 'rule-action', id: req.params.id });
      if (!(await outbox.retry(p.tenant, req.params.id, Date.now()))) {
        throw new IipError('IIP_ERR_CONFLICT', `rule action "${req.params.id}" is ${j.state}, not dead: only a dead-lettered delivery is retried`, { id: req.params.id, state: j.state });
      }
      return publicJob((await outbox.get(p.tenant, req.params.id)) as ActionJob);
    },
  );

  app.get(
    '/api/v1/rules/signing-secret',
    { schema: { tags: ['rules'], description: "The tenant's webhook signing secret: receivers check X-IIP-Signature (sha256=HMAC-SHA256 of \"<X-IIP-Timestamp>.<body>\") with it. Made on first use." } },
    async (req) => {
      const p = await authorize(req, 'rules:edit', null, 'read the webhook signing secret');
      return { secret: await outbox.signingSecret(p.tenant) };
    },
  );

  app.post(
    '/api/v1/rules/signing-secret/rotate',
    { schema: { tags: ['rules'], description: 'Replaces the webhook signing secret with a new one (calls from then on are signed with it).' } },
    async (req) => {
      const p = await authorize(req, 'rules:edit', null, 'rotate the webhook signing secret');
      return { secret: await outbox.rotateSigningSecret(p.tenant) };
    },
  );
}
