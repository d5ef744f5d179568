/**
 * Rules and alarms in the platform (issue 13): the rule engine (@iip/rules) over the stored telemetry, its raises
 * and clears kept as alarms (AlarmService over the AlarmStore), evaluation states flushed every few seconds, timed
 * shelving expired on a timer, rule actions carried out from the outbox. It runs in the embedded process, or scaled
 * out in every worker, of which one at a time evaluates (the holder of a NATS lease), so a device's batches are
 * evaluated in order in one place.
 *
 * Telemetry and device events reach it through the bus's `rules` group (its own group beside the historian's; a
 * batch whose alarm could not be stored is delivered again).
 */
import type { Bus, Subscription } from '@iip/bus';
import { type DeviceId, IipError, type TenantId } from '@iip/core';
import { type ActionDeliverer, ActionDispatcher, type ActionDispatcherOptions, type ActionKind, actionJobs, AlarmService, compileRule, RuleEngine, type Transition } from '@iip/rules';
import type { ActionOutbox, Storage } from '@iip/storage';
import type { AccessControl } from './access-control.js';
import type { RegistryService } from './registry-service.js';

export const RULES_GROUP = 'rules';
/** Evaluation states are stored this often (and at close). */
const FLUSH_EVERY_MS = 5_000;
/** Timed shelving is checked this often. */
const SHELVE_TICK_MS = 30_000;
/** Done and dead rule-action deliveries are kept this long after their last attempt (docs/reference/rules.md). */
const ACTION_KEEP_MS = 30 * 86_400_000;
const ACTION_PURGE_EVERY_MS = 3_600_000;
/** A bus announcement (registry.changed) that a tenant's rules changed in another process. */
export const RULES_CHANGED = '#rules';

/**
 * A raise or clear of a rule evaluated here or at the edge: its alarm, then its actions' jobs in the outbox — stored
 * before the batch or message is acknowledged, so a failure has it re-delivered, and the same jobs (same ids) are
 * stored once. True when jobs were stored (the dispatcher may run them now).
 */
export async function recordTransition(alarms: Pick<AlarmService, 'onTransition'>, outbox: Pick<ActionOutbox, 'enqueue'>, t: Transition): Promise<boolean> {
  await alarms.onTransition(t);
  const now = Date.now();
  const jobs = actionJobs(t, now);
  if (jobs.length === 0) return false;
  await outbox.enqueue(jobs, now);
  return true;
}

export interface RulesRuntime {
  readonly engine: RuleEngine;
  readonly alarms: AlarmService;
  /** Carries out the rules' actions from the outbox. */
  readonly actions: ActionDispatcher;
  /** Reads the tenant's rules again (after a change in another process). */
  reloadTenant(tenant: string): Promise<void>;
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startRulesRuntime(o: {
  storage: Pick<Storage, 'rules' | 'alarms' | 'actions'>;
  registry: RegistryService;
  accessControl: AccessControl;
  bus: Bus;
  log: (line: string) => void;
  /**
   * Scaled out, several workers run this runtime but one evaluates (a NATS lease): it alone takes the `rules` group's
   * telemetry and events, in order, so a device's rule state lives in one place; the others stand by and take over,
   * with the states last stored, when its lease runs out. Embedded (absent), this process always evaluates.
   */
  leader?: { readonly held: boolean; onChange(cb: (held: boolean) => void): void };
  /** Who carries out which kind of action here (rule-actions.ts). */
  deliverers?: Partial<Record<ActionKind, ActionDeliverer>>;
  actionOptions?: Pick<ActionDispatcherOptions, 'pollMs' | 'maxAttempts' | 'backoffMs'>;
  /** How often states are stored and no-data rules checked (default 5 s). */
  tickMs?: number;
}): Promise<RulesRuntime> {
  const { storage, registry, accessControl, bus, log } = o;
  const devices = new Map<string, { product: string; asset: string | null } | null>();
  registry.onChange((t, d) => {
    if (d === undefined) {
      for (const k of devices.keys()) if (k.startsWith(`${t}\u0000`)) devices.delete(k);
    } else devices.delete(`${t}\u0000${d}`);
  });
  const alarms = new AlarmService(storage.alarms, { log: (msg, f) => log(`${msg} ${JSON.stringify(f)}`) });
  const actions = new ActionDispatcher(storage.actions, o.deliverers ?? {}, { ...o.actionOptions, log: (msg, f) => log(`${msg} ${JSON.stringify(f)}`) });
  const engine = new RuleEngine(
    {
      deviceInfo: async (tenant, device) => {
        const key = `${tenant}\u0000${device}`;
        if (devices.has(key)) return devices.get(key) ?? undefined;
        try {
          const d = await registry.getDevice(tenant as TenantId, device);
          const info = { product: d.product, asset: d.asset ?? null };
          devices.set(key, info);
          return info;
        } catch (e) {
          if (e instanceof IipError && e.code === 'IIP_ERR_NOT_FOUND') {
            devices.set(key, null);
            return undefined;
          }
          throw e;
        }
      },
      inSubtree: async (tenant, ancestor, asset) => (await accessControl.tree(tenant)).path(asset).includes(ancestor),
      listDevices: async (tenant, product) => {
        const out: Array<{ id: string; asset: string | null }> = [];
        for (let offset = 0; ; offset += 1_000) {
          const page = await registry.listDevices(tenant as TenantId, { product }, { limit: 1_000, offset });
          for (const d of page.items) out.push({ id: d.id, asset: d.asset ?? null });
          if (page.items.length < 1_000) return out;
        }
      },
      onTransition: async (t) => {
        if (await recordTransition(alarms, storage.actions, t)) actions.kick();
      },
      saveStates: (tenant, rows) => storage.rules.saveStates(tenant as TenantId, rows.map((r) => ({ rule: r.rule, device: r.device as DeviceId, state: r.state }))),
      loadStates: (tenant, rule) => storage.rules.loadStates(tenant as TenantId, rule),
    },
    (msg, f) => log(`${msg} ${JSON.stringify(f)}`),
  );

  const installed = new Map<string, Set<string>>();
  async function reloadTenant(tenant: string): Promise<void> {
    const now = new Set<string>();
    for (const r of await storage.rules.listRules(tenant as TenantId)) {
      now.add(r.id);
      try {
        const product = await registry.getProduct(tenant as TenantId, (r.doc as { scope: { product: string } }).scope.product);
        await engine.install(tenant, compileRule(r.doc, product.model));
      } catch (e) {
        // A rule its product no longer fits (the thing model changed): not evaluated, and said so.
        engine.remove(tenant, r.id);
        log(`rules: rule "${r.id}" of tenant "${tenant}" is not evaluated: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    for (const id of installed.get(tenant) ?? []) if (!now.has(id)) engine.remove(tenant, id);
    installed.set(tenant, now);
  }
  // The rules are loaded when this process starts evaluating (startEvaluating below), not before as well.

  const subs: Subscription[] = [
    bus.subscribe('registry.changed', (m) => {
      if (m.device === RULES_CHANGED) void reloadTenant(m.tenant).catch((e: unknown) => log(`rules: reloading tenant "${m.tenant}" failed: ${String(e)}`));
    }),
  ];
  await Promise.all(subs.map((s) => s.ready));

  // Telemetry and device events (event triggers) from the bus's `rules` group, while this process evaluates.
  let evaluating: Subscription[] = [];
  let leading = false;
  const startEvaluating = async () => {
    if (evaluating.length > 0) return;
    // The states as last stored: another process may have evaluated since this one last did.
    for (const tenant of new Set((await storage.rules.listEnabledRules()).map((r) => r.tenant))) await reloadTenant(tenant);
    evaluating = [bus.subscribe('telemetry', (batch) => engine.evaluate(batch), { group: RULES_GROUP }), bus.subscribe('device.events', (m) => engine.evaluateEvents(m), { group: RULES_GROUP })];
    await Promise.all(evaluating.map((s) => s.ready));
    leading = true;
  };
  const stopEvaluating = async () => {
    leading = false;
    const s = evaluating;
    evaluating = [];
    await Promise.all(s.map((x) => x.unsubscribe()));
    await engine.flush();
  };
  let turn = Promise.resolve();
  const follow = (held: boolean) => {
    turn = turn
      .then(() => (held ? startEvaluating() : stopEvaluating()))
      .then(() => log(held ? 'rules: this process evaluates the rules now' : 'rules: this process stands by (another evaluates the rules)'))
      .catch((e: unknown) => log(`rules: ${held ? 'taking over' : 'handing over'} evaluation failed: ${String(e)}`));
  };
  if (o.leader) {
    o.leader.onChange(follow);
    if (o.leader.held) await startEvaluating();
  } else await startEvaluating();

  actions.start();
  // No-data rules are checked on the same beat as the states are stored.
  let checking = false;
  const flush = setInterval(() => {
    void engine.flush();
    if (checking || !leading) return;
    checking = true;
    engine
      .tick()
      .catch((e: unknown) => log(`rules: no-data check failed: ${String(e)}`))
      .finally(() => {
        checking = false;
      });
  }, o.tickMs ?? FLUSH_EVERY_MS);
  flush.unref();
  let ticking = false;
  const tick = setInterval(() => {
    if (ticking) return;
    ticking = true;
    void (async () => {
      for (const t of await registry.listTenants()) await alarms.expireShelving(t.id as TenantId);
    })()
      .catch((e: unknown) => log(`alarms: shelving expiry failed: ${String(e)}`))
      .finally(() => {
        ticking = false;
      });
  }, SHELVE_TICK_MS);
  tick.unref();
  const purge = setInterval(() => {
    storage.actions.purge(Date.now() - ACTION_KEEP_MS).catch((e: unknown) => log(`rule actions: old deliveries not purged: ${String(e)}`));
  }, ACTION_PURGE_EVERY_MS);
  purge.unref();

  return {
    engine,
    alarms,
    actions,
    reloadTenant,
    stats: () => ({ ...engine.stats(), rules: engine.size, evaluating: leading, actions: actions.stats() }),
    async close() {
      clearInterval(flush);
      clearInterval(tick);
      clearInterval(purge);
      await turn;
      await Promise.all([...subs, ...evaluating].map((s) => s.unsubscribe()));
      evaluating = [];
      await engine.flush();
      await actions.close();
    },
  };
}
