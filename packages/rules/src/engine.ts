/**
 * The rule engine's core, independent of transport and storage: it keeps each device's latest values, runs the
 * tenant's rules that cover the device over every stored batch, one device at a time and in order, and reports
 * each raise and clear. Evaluation states are handed to a port to be stored (flushed in the background, and at
 * `flush()`), and loaded back when a rule is (re)installed, so a restart carries on where evaluation stopped.
 *
 * What covers a device: the rule's product is the device's, and, when the rule names them, the device is in its
 * device list and in its asset's subtree (the caller says which assets contain which, from the asset tree).
 */
import type { PointValue, TelemetryBatch } from '@iip/core';
import { type ConditionState, INITIAL_CONDITION_STATE, stepCondition } from './condition.js';
import type { CompiledRule } from './rule.js';

export interface DeviceInfo {
  readonly product: string;
  /** The asset the device is placed on, or null. */
  readonly asset: string | null;
}

export interface Transition {
  readonly tenant: string;
  readonly rule: CompiledRule;
  readonly device: string;
  /** What `device` names: a device, or — for a rule over the devices of an asset (when.assetExpression) — the asset. */
  readonly source?: 'device' | 'asset';
  /** raise / clear: the condition; suppress / unsuppress: alarm.suppressWhen began or stopped holding. */
  readonly kind: 'raise' | 'clear' | 'suppress' | 'unsuppress';
  /** Device time of the sample that caused it (a no-data rule: the platform's time when it found the silence). */
  readonly ts: number;
  /** The rule is suppressed by design for the device now (a raise then opens a suppressed alarm, and no action runs). */
  readonly suppressed?: boolean;
  /** The device's values at that sample (for the alarm's text and history). */
  readonly values: Readonly<Record<string, PointValue>>;
}

export interface RuleEnginePorts {
  /** The device's product and asset (cached by the caller). */
  deviceInfo(tenant: string, device: string): Promise<DeviceInfo | undefined>;
  /** Whether `asset` is `ancestor` or below it. */
  inSubtree(tenant: string, ancestor: string, asset: string): Promise<boolean>;
  /** A raise or clear, awaited before the device's next batch is evaluated (it opens or updates the alarm). */
  onTransition(t: Transition): Promise<void>;
  /** The devices of a product (no-data rules watch them from the moment the rule is installed). */
  listDevices?(tenant: string, product: string): Promise<ReadonlyArray<{ readonly id: string; readonly asset: string | null }>>;
  /** Stores evaluation states (one call per tenant and flush). */
  saveStates(tenant: string, rows: ReadonlyArray<{ rule: string; device: string; state: ConditionState }>): Promise<void>;
  /** The stored states of a rule, by device. */
  loadStates(tenant: string, rule: string): Promise<ReadonlyArray<{ device: string; state: unknown }>>;
}

export interface RuleEngineStats {
  batches: number;
  evaluations: number;
  raises: number;
  clears: number;
  /** Failures of a port during evaluation (logged); the batch's other rules went on. */
  failures: number;
}

interface Installed {
  readonly compiled: CompiledRule;
  readonly states: Map<string, ConditionState>;
  /** No-data rules: when it was installed, and whether the product's devices were given a state to watch. */
  readonly installedAt: number;
  seeded: boolean;
  /** A rule over the devices of an asset: each covered device's latest values and when they came (platform time). */
  readonly members?: Map<string, { values: Readonly<Record<string, PointValue>>; seenAt: number }>;
}

/** A product's rules: those for all its devices (or an asset's), and those naming devices, indexed by device. */
interface ProductRules {
  readonly wide: Map<string, Installed>;
  readonly byDevice: Map<string, Map<string, Installed>>;
}

const EMPTY = new Map<string, Installed>();

/** An event rule's `where` over the event's outputs; one that cannot be evaluated (an optional output absent) does not hold. */
function whereHolds(c: CompiledRule, values: Readonly<Record<string, unknown>>): boolean {
  if (!c.eventWhere) return true;
  for (const p of c.eventWhere.properties) if (!Object.hasOwn(values, p)) return false;
  try {
    return c.eventWhere.evaluate(values as Record<string, PointValue>) === true;
  } catch {
    return false;
  }
}

const isState = (v: unknown): v is ConditionState =>
  v !== null && typeof v === 'object' && typeof (v as ConditionState).active === 'boolean' && typeof (v as ConditionState).streak === 'number';

export class RuleEngine {
  /** tenant → product → its rules. */
  private readonly rules = new Map<string, Map<string, ProductRules>>();
  /** tenant → rule id → where it is installed (to remove it). */
  private readonly where = new Map<string, Map<string, { product: string; devices: readonly string[] | null }>>();
  /** tenant/device → latest value of every property. */
  private readonly latest = new Map<string, Record<string, PointValue>>();
  /** tenant/device → the tail of its evaluation chain (one batch at a time, in arrival order). */
  private readonly chains = new Map<string, Promise<void>>();
  /** tenant → rule → device → state not yet stored. */
  private readonly dirty = new Map<string, Map<string, Map<string, ConditionState>>>();
  private readonly counters: RuleEngineStats = { batches: 0, evaluations: 0, raises: 0, clears: 0, failures: 0 };

  constructor(
    private readonly ports: RuleEnginePorts,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void = () => {},
    /** The platform's clock (no-data rules). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Installs (or replaces) a rule, with its stored states unless `fresh` (its condition changed). */
  async install(tenant: string, compiled: CompiledRule, fresh = false): Promise<void> {
    const states = new Map<string, ConditionState>();
    if (!fresh) for (const row of await this.ports.loadStates(tenant, compiled.rule.id)) if (isState(row.state)) states.set(row.device, row.state);
    this.remove(tenant, compiled.rule.id);
    // An edge rule is evaluated by the gateways; its transitions arrive as events (edgeTransition in the server).
    if (!compiled.rule.enabled || compiled.rule.runAt === 'edge') return;
    let byProduct = this.rules.get(tenant);
    if (!byProduct) {
      byProduct = new Map();
      this.rules.set(tenant, byProduct);
    }
    const { product, devices } = compiled.rule.scope;
    let pr = byProduct.get(product);
    if (!pr) {
      pr = { wide: new Map(), byDevice: new Map() };
      byProduct.set(product, pr);
    }
    const inst: Installed = { compiled, states, installedAt: this.now(), seeded: false, ...(compiled.rule.when.assetExpression && { members: new Map() }) };
    if (devices === null) pr.wide.set(compiled.rule.id, inst);
    else {
      for (const d of devices) {
        let m = pr.byDevice.get(d);
        if (!m) {
          m = new Map();
          pr.byDevice.set(d, m);
        }
        m.set(compiled.rule.id, inst);
      }
    }
    let where = this.where.get(tenant);
    if (!where) {
      where = new Map();
      this.where.set(tenant, where);
    }
    where.set(compiled.rule.id, { product, devices });
  }

  /** Stops evaluating a rule (its stored states are the caller's to delete). */
  remove(tenant: string, ruleId: string): void {
    const w = this.where.get(tenant)?.get(ruleId);
    if (w) {
      const pr = this.rules.get(tenant)?.get(w.product);
      if (pr) {
        pr.wide.delete(ruleId);
        for (const d of w.devices ?? []) {
          const m = pr.byDevice.get(d);
          m?.delete(ruleId);
          if (m?.size === 0) pr.byDevice.delete(d);
        }
      }
      this.where.get(tenant)?.delete(ruleId);
    }
    this.dirty.get(tenant)?.delete(ruleId);
  }

  /** Whether any rule is installed for the tenant (a batch of a tenant without rules costs nothing). */
  hasRules(tenant: string): boolean {
    return (this.where.get(tenant)?.size ?? 0) > 0;
  }

  /** The number of installed rules. */
  get size(): number {
    let n = 0;
    for (const w of this.where.values()) n += w.size;
    return n;
  }

  /**
   * Evaluates a stored batch. Resolves when this batch (and every earlier batch of the device) is evaluated and its
   * transitions reported; batches of one device never overlap. Rejects when a transition could not be reported
   * (the alarm store is down): the rule's state for that device is then left as it was before the sample, so the
   * batch given again (the bus re-delivers what its consumer did not acknowledge) raises or clears then. The
   * device's later batches go on either way.
   */
  evaluate(batch: TelemetryBatch): Promise<void> {
    // Nothing to evaluate for a tenant without rules (a rule installed later starts fresh).
    if (!this.hasRules(batch.tenant)) return Promise.resolve();
    return this.inChain(batch.tenant, batch.device, () => this.evaluateNow(batch));
  }

  /**
   * Evaluates a device's stored events for the rules with an event trigger, in the device's chain (after its earlier
   * batches and events). A matching event raises the rule — and, without `clearOn`, clears it at once, so the alarm
   * returns to normal and waits for its acknowledgement; `clearOn` clears it. Rejects like evaluate().
   */
  evaluateEvents(msg: { tenant: string; device: string; events: ReadonlyArray<{ event: string; ts: number; data: Readonly<Record<string, unknown>> }> }): Promise<void> {
    if (!this.hasRules(msg.tenant) || msg.events.length === 0) return Promise.resolve();
    return this.inChain(msg.tenant, msg.device, () => this.evaluateEventsNow(msg));
  }

  private async evaluateEventsNow(msg: { tenant: string; device: string; events: ReadonlyArray<{ event: string; ts: number; data: Readonly<Record<string, unknown>> }> }): Promise<void> {
    const rules = await this.rulesFor(msg.tenant, msg.device);
    if (!rules) return;
    const { info, list } = rules;
    for (const e of [...msg.events].sort((a, b) => a.ts - b.ts)) {
      for (const inst of list) {
        const trigger = inst.compiled.rule.when.event;
        if (!trigger || (e.event !== trigger.event && e.event !== trigger.clearOn)) continue;
        const r = inst.compiled.rule;
        if (r.scope.asset && (info.asset === null || !(await this.ports.inSubtree(msg.tenant, r.scope.asset, info.asset)))) continue;
        this.counters.evaluations++;
        const prev = inst.states.get(msg.device) ?? INITIAL_CONDITION_STATE;
        const values = e.data as Record<string, PointValue>;
        const report = async (kind: 'raise' | 'clear') => {
          await this.ports.onTransition({ tenant: msg.tenant, rule: inst.compiled, device: msg.device, kind, ts: e.ts, values });
          if (kind === 'raise') this.counters.raises++;
          else this.counters.clears++;
        };
        let next: ConditionState = { ...prev, lastTs: Math.max(prev.lastTs ?? e.ts, e.ts) };
        if (e.event === trigger.event && whereHolds(inst.compiled, values)) {
          if (!prev.active) {
            await report('raise');
            if (trigger.clearOn) next = { ...next, active: true, pendingSince: e.ts, streak: 1 };
            else await report('clear');
          }
        } else if (e.event === trigger.clearOn && prev.active) {
          await report('clear');
          next = { ...next, active: false, pendingSince: null, streak: 0 };
        }
        inst.states.set(msg.device, next);
        this.markDirty(msg.tenant, r.id, msg.device, next);
      }
    }
  }

  /** The device's product and asset and the rules that cover it (before the asset check), or undefined when none do. */
  private async rulesFor(tenant: string, device: string): Promise<{ info: DeviceInfo; list: Installed[] } | undefined> {
    const byProduct = this.rules.get(tenant);
    if (!byProduct) return undefined;
    const info = await this.ports.deviceInfo(tenant, device);
    if (!info) return undefined;
    const pr = byProduct.get(info.product);
    if (!pr) return undefined;
    const own = pr.byDevice.get(device) ?? EMPTY;
    if (pr.wide.size === 0 && own.size === 0) return undefined;
    return { info, list: own.size === 0 ? [...pr.wide.values()] : pr.wide.size === 0 ? [...own.values()] : [...pr.wide.values(), ...own.values()] };
  }

  /** Runs `fn` after the device's earlier evaluations (batches and events), one at a time, in arrival order. */
  private inChain(tenant: string, device: string, fn: () => Promise<void>): Promise<void> {
    const key = `${tenant}\u0000${device}`;
    const before = this.chains.get(key) ?? Promise.resolve();
    const run = before.then(fn);
    const next = run.catch((e: unknown) => {
      this.counters.failures++;
      this.log('rules: evaluation failed', { tenant, device, err: String(e) });
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return run;
  }

  private async evaluateNow(batch: TelemetryBatch): Promise<void> {
    this.counters.batches++;
    if (batch.points.length === 0) return;
    const covering = await this.rulesFor(batch.tenant, batch.device);
    if (!covering) return;
    const { info } = covering;
    // Rules over the devices of an asset take the device's values once the batch is applied (overAsset below).
    const list = covering.list.filter((inst) => !inst.members);
    const overAsset = covering.list.filter((inst) => inst.members);
    // The device's values after this batch, and one sample per timestamp in it, in time order.
    const key = `${batch.tenant}\u0000${batch.device}`;
    const values = this.latest.get(key) ?? {};
    this.latest.set(key, values);
    const times = [...new Set(batch.points.map((p) => p.ts))].sort((a, b) => a - b);
    const receivedAt = this.now();
    for (const ts of times) {
      // The properties sampled at this time: whether a rule reads one is asked per rule and property.
      const sampled = new Set<string>();
      for (const p of batch.points) {
        if (p.ts !== ts) continue;
        values[p.property] = p.value;
        sampled.add(p.property);
      }
      const sample = { ts, values: { ...values } };
      const has = (prop: string) => sampled.has(prop);
      for (const inst of list) {
        const c = inst.compiled;
        const r = c.rule;
        const noData = r.when.noData;
        const reads = noData ? (noData.property === null || has(noData.property)) : c.properties.some(has);
        const suppressReads = c.suppress?.properties ?? [];
        const tellsSuppression = suppressReads.some(has) && suppressReads.every((p) => Object.hasOwn(sample.values, p));
        if (!reads && !tellsSuppression) continue;
        if (r.scope.asset && (info.asset === null || !(await this.ports.inSubtree(batch.tenant, r.scope.asset, info.asset)))) continue;
        this.counters.evaluations++;
        const prev = inst.states.get(batch.device) ?? INITIAL_CONDITION_STATE;
        let state = prev;
        const report = async (kind: Transition['kind'], suppressed: boolean) => {
          // Reported first: when it fails, the state stays as it was and the sample counts again when re-delivered.
          await this.ports.onTransition({ tenant: batch.tenant, rule: c, device: batch.device, kind, ts, values: sample.values, suppressed });
          if (kind === 'raise') this.counters.raises++;
          else if (kind === 'clear') this.counters.clears++;
        };
        if (tellsSuppression) {
          const suppressed = c.suppress?.evaluate(sample.values) === true;
          if (suppressed !== (prev.suppressed ?? false)) {
            await report(suppressed ? 'suppress' : 'unsuppress', suppressed);
            state = { ...state, suppressed };
          }
        }
        if (reads) {
          if (noData) {
            // Data came: a silent device is back (clear), and the silence is measured from now.
            if (state.active) await report('clear', state.suppressed ?? false);
            state = { ...state, active: false, pendingSince: null, streak: 0, lastTs: Math.max(state.lastTs ?? ts, ts), lastSeen: receivedAt };
          } else {
            const step = stepCondition(c, state, sample);
            if (step.transition) await report(step.transition, state.suppressed ?? false);
            state = step.state;
          }
        }
        if (state !== prev) {
          inst.states.set(batch.device, state);
          this.markDirty(batch.tenant, r.id, batch.device, state);
        }
      }
    }
    if (overAsset.length > 0) await this.evaluateOverAsset(batch.tenant, batch.device, info.asset, batch, values, overAsset);
  }

  /**
   * A device's batch for the rules over the devices of an asset that cover its product: the device's values join the
   * rule's (or leave it, when the device is no longer in the asset's subtree), and the rule is evaluated over all of
   * them in the rule's own chain — one evaluation at a time per rule, so one alarm per rule and asset.
   */
  private async evaluateOverAsset(tenant: string, device: string, deviceAsset: string | null, batch: TelemetryBatch, values: Readonly<Record<string, PointValue>>, list: readonly Installed[]): Promise<void> {
    const receivedAt = this.now();
    for (const inst of list) {
      const members = inst.members as NonNullable<Installed['members']>;
      const r = inst.compiled.rule;
      if (!inst.compiled.properties.some((p) => batch.points.some((x) => x.property === p))) continue;
      const asset = r.scope.asset as string;
      if (deviceAsset === null || !(await this.ports.inSubtree(tenant, asset, deviceAsset))) {
        members.delete(device);
        continue;
      }
      members.set(device, { values: { ...values }, seenAt: receivedAt });
      await this.inChain(tenant, `\u0001rule\u0001${r.id}`, async () => {
        const { maxAgeMs } = r.when.assetExpression as NonNullable<typeof r.when.assetExpression>;
        const now = this.now();
        const lists: Record<string, PointValue[]> = {};
        for (const [d, m] of members) if (now - m.seenAt > maxAgeMs) members.delete(d);
        for (const p of inst.compiled.properties) {
          const xs: PointValue[] = [];
          for (const m of members.values()) if (Object.hasOwn(m.values, p)) xs.push(m.values[p] as PointValue);
          if (xs.length > 0) lists[p] = xs;
        }
        this.counters.evaluations++;
        const prev = inst.states.get(asset) ?? INITIAL_CONDITION_STATE;
        // By the platform's clock: the devices' clocks need not agree, and a sample older than the last is ignored.
        const step = stepCondition(inst.compiled, prev, { ts: now, values: lists as unknown as Record<string, PointValue> });
        if (step.transition) {
          await this.ports.onTransition({ tenant, rule: inst.compiled, device: asset, source: 'asset', kind: step.transition, ts: now, values: lists as unknown as Record<string, PointValue> });
          if (step.transition === 'raise') this.counters.raises++;
          else this.counters.clears++;
        }
        if (step.state !== prev) {
          inst.states.set(asset, step.state);
          this.markDirty(tenant, r.id, asset, step.state);
        }
      });
    }
  }

  /**
   * No-data rules (every few seconds): a device in scope with nothing received for the rule's `after` — counted from
   * its last sample, or from when the rule was installed for one never heard from since — raises it (within the
   * rule's schedule). Runs in each device's chain like its batches. Resolves when every check is done.
   */
  async tick(): Promise<void> {
    const now = this.now();
    const runs: Array<Promise<void>> = [];
    for (const [tenant, byProduct] of this.rules) {
      for (const [product, pr] of byProduct) {
        const all = [...pr.wide.values(), ...[...pr.byDevice.values()].flatMap((m) => [...m.values()])];
        for (const inst of new Set(all)) {
          const noData = inst.compiled.rule.when.noData;
          if (!noData) continue;
          if (!inst.seeded) await this.seed(tenant, product, inst);
          if (inst.compiled.inSchedule && !inst.compiled.inSchedule(now)) continue;
          for (const [device, st] of inst.states) {
            const since = st.lastSeen ?? inst.installedAt;
            if (st.active || now - since < noData.afterMs) continue;
            runs.push(
              this.inChain(tenant, device, async () => {
                const cur = inst.states.get(device) ?? st;
                if (cur.active || now - (cur.lastSeen ?? inst.installedAt) < noData.afterMs) return;
                const values = { ...(this.latest.get(`${tenant}\u0000${device}`) ?? {}) };
                await this.ports.onTransition({ tenant, rule: inst.compiled, device, kind: 'raise', ts: now, values, suppressed: cur.suppressed ?? false });
                this.counters.raises++;
                const next: ConditionState = { ...cur, active: true, pendingSince: now, streak: 1 };
                inst.states.set(device, next);
                this.markDirty(tenant, inst.compiled.rule.id, device, next);
              }).catch(() => undefined),
            );
          }
        }
      }
    }
    await Promise.all(runs);
  }

  /** Gives a no-data rule's devices in scope that have no state yet one that starts their silence at install. */
  private async seed(tenant: string, product: string, inst: Installed): Promise<void> {
    if (!this.ports.listDevices) {
      inst.seeded = true;
      return;
    }
    try {
      const r = inst.compiled.rule;
      for (const d of await this.ports.listDevices(tenant, product)) {
        if (inst.states.has(d.id)) continue;
        if (r.scope.devices && !r.scope.devices.includes(d.id)) continue;
        if (r.scope.asset && (d.asset === null || !(await this.ports.inSubtree(tenant, r.scope.asset, d.asset)))) continue;
        inst.states.set(d.id, { ...INITIAL_CONDITION_STATE, lastSeen: inst.installedAt });
      }
      inst.seeded = true;
    } catch (e) {
      this.log('rules: the devices of a no-data rule could not be listed; trying again', { tenant, rule: inst.compiled.rule.id, err: String(e) });
    }
  }

  private markDirty(tenant: string, rule: string, device: string, state: ConditionState): void {
    let byRule = this.dirty.get(tenant);
    if (!byRule) {
      byRule = new Map();
      this.dirty.set(tenant, byRule);
    }
    let byDevice = byRule.get(rule);
    if (!byDevice) {
      byDevice = new Map();
      byRule.set(rule, byDevice);
    }
    byDevice.set(device, state);
  }

  /**
   * Waits for every device's evaluation in progress (the chains never reject: a failed batch is counted, logged
   * and reported to its caller), then stores the states changed since the last flush.
   */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const [tenant, byRule] of dirty) {
      const rows = [...byRule].flatMap(([rule, byDevice]) => [...byDevice].map(([device, state]) => ({ rule, device, state })));
      try {
        await this.ports.saveStates(tenant, rows);
      } catch (e) {
        // Kept for the next flush: newer states of the same keys win.
        for (const r of rows) if (!this.dirty.get(tenant)?.get(r.rule)?.has(r.device)) this.markDirty(tenant, r.rule, r.device, r.state);
        this.counters.failures++;
        this.log('rules: evaluation states not stored; retrying at the next flush', { tenant, rows: rows.length, err: String(e) });
      }
    }
  }

  stats(): RuleEngineStats {
    return { ...this.counters };
  }
}
