/**
 * The tenant's rules (issue 13; docs/reference/rules.md): /api/v1/rules… Reading needs rules:read, saving and
 * deleting rules:edit — on the rule's asset when it names one, else on the tenant. A rule is validated against its
 * product's thing model before anything is stored; a saved rule is (re)installed in the rule engine at once.
 */
import { type DeviceId, IipError, type TenantId } from '@iip/core';
import type { Historian } from '@iip/historian';
import { backtest, type CompiledRule, compileRule, findRuleLoop, type HistoryPoint, type RuleEngine, writtenProperties } from '@iip/rules';
import type { RuleStore, StoredRule } from '@iip/storage';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RegistryService } from '../registry-service.js';
import { errorResponses } from '../schemas.js';
import { authorize, principal, type RequestPrincipal } from './access.js';

const ruleOut = {
  type: 'object',
  additionalProperties: true,
  properties: { id: { type: 'string' }, version: { type: 'integer' }, updatedAt: { type: 'integer' }, updatedBy: { type: 'string' } },
} as const;

export interface RuleRoutesOptions {
  readonly rules: RuleStore;
  readonly registry: RegistryService;
  /** For the backtest: the stored history. */
  readonly historian: Pick<Historian, 'historyPage'>;
  /** Whether e-mail actions can be carried out (an SMTP server is configured). */
  readonly emailConfigured?: boolean;
  /** The rule engine of this process, if it runs one (workers); saved rules are installed there. */
  readonly engine?: RuleEngine;
  /** Tells the other processes that a tenant's rules changed. */
  readonly onChange?: (tenant: string) => void;
}

/** Compiles a rule document against its product's model and checks its asset exists in the tenant. */
export async function compileForTenant(registry: RegistryService, assetExists: (id: string) => Promise<boolean>, tenant: TenantId, doc: unknown): Promise<CompiledRule> {
  const productId = (doc as { scope?: { product?: unknown } } | null)?.scope?.product;
  if (typeof productId !== 'string') return compileRule(doc, { properties: [], events: [], services: [] }); // refused with the field named
  const product = await registry.getProduct(tenant, productId).catch((e: unknown) => {
    if (e instanceof IipError && e.code === 'IIP_ERR_NOT_FOUND') {
      throw new IipError('IIP_ERR_RULE_INVALID', `rule: scope.product: product "${productId}" does not exist`, { rule: String((doc as { id?: unknown }).id ?? '?'), field: 'scope.product' });
    }
    throw e;
  });
  const compiled = compileRule(doc, product.model);
  const asset = compiled.rule.scope.asset;
  if (asset !== null && !(await assetExists(asset))) {
    throw new IipError('IIP_ERR_RULE_INVALID', `rule "${compiled.rule.id}": scope.asset: asset "${asset}" is not in the tenant's asset tree`, { rule: compiled.rule.id, field: 'scope.asset' });
  }
  return compiled;
}

/** What the API adds to a rule when it answers (and ignores when it is sent back): who saved it, when. */
function withoutReadOnly(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const { updatedAt: _a, updatedBy: _b, ...rest } = body as Record<string, unknown>;
  return rest;
}

function publicRule(r: StoredRule): Record<string, unknown> {
  return { ...(r.doc as Record<string, unknown>), version: r.version, updatedAt: r.updatedAt, updatedBy: r.updatedBy };
}

export async function ruleRoutes(app: FastifyInstance, opts: RuleRoutesOptions): Promise<void> {
  const { rules, registry } = opts;
  const assetExists = (req: FastifyRequest) => async (id: string) => (await req.server.accessControl.tree(principal(req).tenant)).has(id);

  /** rules:edit where the rule sits (its asset, else the tenant). */
  async function mayEdit(req: FastifyRequest, asset: string | null, what: string): Promise<RequestPrincipal> {
    return authorize(req, 'rules:edit', asset, what);
  }

  app.get('/api/v1/rules', { schema: { tags: ['rules'], description: "The tenant's rules (those on assets the principal may read rules of)." } }, async (req) => {
    const p = principal(req);
    const all = await rules.listRules(p.tenant);
    const ac = req.server.accessControl;
    const items = [];
    for (const r of all) {
      const asset = (r.doc as { scope?: { asset?: string | null } }).scope?.asset ?? null;
      if (await ac.allows(p.subject, 'rules:read', { tenant: p.tenant, asset })) items.push(publicRule(r));
    }
    return { items };
  });

  app.get<{ Params: { id: string } }>('/api/v1/rules/:id', { schema: { tags: ['rules'], response: { 200: ruleOut, ...errorResponses } } }, async (req) => {
    const p = principal(req);
    const r = await rules.getRule(p.tenant, req.params.id);
    const asset = (r?.doc as { scope?: { asset?: string | null } } | undefined)?.scope?.asset ?? null;
    if (!r || !(await req.server.accessControl.allows(p.subject, 'rules:read', { tenant: p.tenant, asset }))) {
      throw new IipError('IIP_ERR_NOT_FOUND', `rule "${req.params.id}" not found`, { resource: 'rule', id: req.params.id });
    }
    return publicRule(r);
  });

  app.post<{ Body: unknown }>(
    '/api/v1/rules/validate',
    {
      schema: {
        tags: ['rules'],
        description: 'Checks a rule document against its product without saving it: the rule with its defaults, or the refusal naming the field.',
        body: { type: 'object', additionalProperties: true },
        response: { 200: ruleOut, ...errorResponses },
      },
    },
    async (req) => {
      const p = await authorize(req, 'rules:read', null, 'check a rule');
      const c = await compileForTenant(registry, assetExists(req), p.tenant, req.body);
      await checkActions(p.tenant, c);
      return { ...c.rule, properties: c.properties };
    },
  );

  app.post<{ Body: { rule: unknown; from?: number; to?: number } }>(
    '/api/v1/rules/backtest',
    {
      schema: {
        tags: ['rules'],
        description:
          'Runs a rule (saved or a draft) over the stored history of the devices it covers and the principal may read (default: the last 7 days; at most 200 devices and 100,000 points per property and device): when it would have raised and cleared, and how many alarms it would have made.',
        body: { type: 'object', properties: { rule: { type: 'object', additionalProperties: true }, from: { type: 'integer' }, to: { type: 'integer' } }, required: ['rule'] },
      },
    },
    async (req) => {
      const p = await authorize(req, 'rules:read', null, 'backtest a rule');
      const c = await compileForTenant(registry, assetExists(req), p.tenant, req.body.rule);
      if (c.rule.when.assetExpression) {
        throw new IipError('IIP_ERR_RULE_INVALID', `rule "${c.rule.id}": when.assetExpression: the backtest replays one device's history at a time; a rule over the devices of an asset cannot be backtested yet`, {
          rule: c.rule.id,
          field: 'when.assetExpression',
        });
      }
      const to = req.body.to ?? Date.now();
      const from = req.body.from ?? to - 7 * 86_400_000;
      if (!(from < to)) throw new IipError('IIP_ERR_VALIDATION', 'from: before to', { field: 'from' });
      const { scope } = c.rule;
      const tree = await req.server.accessControl.tree(p.tenant);
      const ac = req.server.accessControl;
      const devices = [];
      let truncated = false;
      for (let offset = 0; devices.length < 200; offset += 1_000) {
        const page = await registry.listDevices(p.tenant, { product: scope.product }, { limit: 1_000, offset });
        for (const d of page.items) {
          if (scope.devices && !scope.devices.includes(d.id)) continue;
          if (scope.asset && !(d.asset && tree.path(d.asset).includes(scope.asset))) continue;
          if (!(await ac.allows(p.subject, 'devices:read', { tenant: p.tenant, asset: d.asset ?? null }))) continue;
          if (devices.length === 200) {
            truncated = true;
            break;
          }
          devices.push(d.id);
        }
        if (page.items.length < 1_000 || truncated) break;
      }
      const results = [];
      for (const device of devices) {
        const points: HistoryPoint[] = [];
        for (const property of c.properties) {
          const h = await opts.historian.historyPage(p.tenant, device as DeviceId, property, { from, to, limit: 100_000 });
          if (h.truncated) truncated = true;
          for (const pt of h.points) points.push({ property, ts: pt.ts, value: pt.value });
        }
        results.push({ device, ...backtest(c, points) });
      }
      return {
        rule: c.rule.id,
        from,
        to,
        devices: results.length,
        alarms: results.reduce((n, r) => n + r.alarms, 0),
        truncated,
        results: results.map((r) => ({ ...r, transitions: r.transitions.slice(0, 1_000) })),
      };
    },
  );

  /**
   * Refuses a rule whose write actions would close a loop with the tenant's other rules of its product (each other's
   * inputs), and e-mail actions without an SMTP server.
   */
  async function checkActions(tenant: TenantId, c: CompiledRule): Promise<void> {
    const email = c.rule.actions.findIndex((a) => a.type === 'email');
    if (email >= 0 && !opts.emailConfigured) {
      throw new IipError('IIP_ERR_RULE_ACTION_UNAVAILABLE', `rule "${c.rule.id}": actions[${email}]: e-mail actions need an SMTP server (IIP_SMTP_URL), and none is configured`, {
        rule: c.rule.id,
        field: `actions[${email}]`,
      });
    }
    const writes = writtenProperties(c.rule.actions);
    // A disabled rule writes nothing, so it closes no loop: the tenant's rules are not read for it.
    if (writes.length === 0 || !c.rule.enabled) return;
    const model = (await registry.getProduct(tenant, c.rule.scope.product)).model;
    const others = [];
    for (const r of await rules.listRules(tenant)) {
      const doc = r.doc as { id: string; enabled?: boolean; scope?: { product?: string } };
      if (r.id === c.rule.id || doc.enabled === false || doc.scope?.product !== c.rule.scope.product) continue;
      try {
        const o = compileRule(r.doc, model);
        others.push({ id: o.rule.id, product: o.rule.scope.product, reads: o.properties, writes: writtenProperties(o.rule.actions) });
      } catch {
        // A stored rule its product no longer fits is not evaluated (rules-runtime.ts): it cannot take part in a loop.
      }
    }
    const cycle = findRuleLoop([{ id: c.rule.id, product: c.rule.scope.product, reads: c.properties, writes }, ...others]);
    if (cycle) {
      const first = c.rule.actions.findIndex((a) => a.type === 'write');
      const what = cycle.length === 2 ? `the rule would write a property it reads itself` : `the rules ${cycle.join(' → ')} would write each other's inputs in a loop`;
      throw new IipError('IIP_ERR_RULE_LOOP', `rule "${c.rule.id}": actions[${first}]: ${what}`, {
        rule: c.rule.id,
        field: `actions[${first}]`,
        cycle,
      });
    }
  }

  async function save(req: FastifyRequest, doc: unknown, expectedVersion: number | undefined): Promise<StoredRule> {
    const p = principal(req);
    const c = await compileForTenant(registry, assetExists(req), p.tenant, doc);
    await mayEdit(req, c.rule.scope.asset, 'save a rule');
    await checkActions(p.tenant, c);
    // Changing a rule in place also needs rules:edit where it was (moving it out of an asset one may edit).
    const before = await rules.getRule(p.tenant, c.rule.id);
    if (before) await mayEdit(req, (before.doc as { scope?: { asset?: string | null } }).scope?.asset ?? null, 'change a rule');
    const stored = await rules.putRule({ tenant: p.tenant, id: c.rule.id, doc: c.rule, enabled: c.rule.enabled, updatedAt: Date.now(), updatedBy: p.username }, expectedVersion);
    // A changed condition starts over (its stored runs mean something else now).
    const sameCondition = before !== undefined && JSON.stringify((before.doc as { when?: unknown }).when) === JSON.stringify(c.rule.when);
    if (!sameCondition) await rules.clearStates(p.tenant, c.rule.id);
    await opts.engine?.install(p.tenant, c, !sameCondition);
    opts.onChange?.(p.tenant);
    return stored;
  }

  app.post<{ Body: unknown }>(
    '/api/v1/rules',
    { schema: { tags: ['rules'], description: 'Creates a rule (IIP_ERR_CONFLICT when the id exists).', body: { type: 'object', additionalProperties: true }, response: { 201: ruleOut, ...errorResponses } } },
    async (req, reply) => reply.status(201).send(publicRule(await save(req, withoutReadOnly(req.body), 0))),
  );

  app.put<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/api/v1/rules/:id',
    {
      schema: {
        tags: ['rules'],
        description: 'Replaces a rule. With `version` (the one read), refused with IIP_ERR_CONFLICT when someone saved it meanwhile.',
        body: { type: 'object', additionalProperties: true },
        response: { 200: ruleOut, ...errorResponses },
      },
    },
    async (req) => {
      const { version, ...doc } = withoutReadOnly(req.body ?? {}) as Record<string, unknown>;
      if (doc.id !== undefined && doc.id !== req.params.id) {
        throw new IipError('IIP_ERR_RULE_INVALID', `rule "${req.params.id}": id: the body names "${String(doc.id)}"`, { rule: req.params.id, field: 'id' });
      }
      if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 1)) {
        throw new IipError('IIP_ERR_RULE_INVALID', `rule "${req.params.id}": version: the version read (a whole number ≥ 1)`, { rule: req.params.id, field: 'version' });
      }
      return publicRule(await save(req, { ...doc, id: req.params.id }, version as number | undefined));
    },
  );

  app.delete<{ Params: { id: string } }>('/api/v1/rules/:id', { schema: { tags: ['rules'], response: errorResponses } }, async (req, reply) => {
    const p = principal(req);
    const r = await rules.getRule(p.tenant, req.params.id);
    if (!r) throw new IipError('IIP_ERR_NOT_FOUND', `rule "${req.params.id}" not found`, { resource: 'rule', id: req.params.id });
    await mayEdit(req, (r.doc as { scope?: { asset?: string | null } }).scope?.asset ?? null, 'delete a rule');
    await rules.deleteRule(p.tenant, req.params.id);
    opts.engine?.remove(p.tenant, req.params.id);
    opts.onChange?.(p.tenant);
    return reply.status(204).send();
  });
}
