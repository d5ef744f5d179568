/**
 * Rules that run at the edge (issue 13, point 4; docs/reference/rules.md "At the edge"): a rule with
 * `runAt: "edge"` is stored like any other but evaluated by the edge gateways of the devices it covers — offline
 * too. The platform pushes each gateway, on its retained `rules` topic, the edge rules that cover devices behind
 * it, with the thing model they are checked against (edge-gateway edge-rules.ts compiles them with the same code);
 * again whenever a rule or the gateway's configuration changes. The gateway sends each raise or clear as an
 * `iip.rule` message on the device's events topic, buffered on disk while offline; here it becomes the alarm's
 * transition and the rule's actions, stored before the gateway is acknowledged.
 */
import { type DeviceId, IipError, type TenantId, type ThingModel } from '@iip/core';
import { type AlarmService, type CompiledRule, compileRule, type Transition } from '@iip/rules';
import type { Storage } from '@iip/storage';
import type { AccessControl } from './access-control.js';
import type { RegistryService } from './registry-service.js';
import { recordTransition } from './rules-runtime.js';

export interface EdgeRulePorts {
  readonly storage: Pick<Storage, 'rules' | 'gateways' | 'actions'>;
  readonly registry: RegistryService;
  readonly accessControl: AccessControl;
  readonly alarms: AlarmService;
  /** The gateway's MQTT session (the front door here, or the bus router scaled out). */
  readonly publisher: { publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void> };
  /** Rule actions were stored: carry them out soon (this process's dispatcher, when it runs one). */
  readonly actionsStored?: () => void;
  readonly log: (line: string) => void;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export class EdgeRules {
  /** Version of the last push (one counter for all gateways): a newer push always carries a greater one. */
  private lastVersion = 0;
  /** Each device's transitions, one at a time in arrival order (a raise and its clear may arrive back to back). */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly p: EdgeRulePorts) {}

  /** Pushes every gateway of the tenant the edge rules covering its devices (an empty list takes old ones away). */
  async push(tenant: TenantId): Promise<void> {
    const { storage, registry } = this.p;
    // A tenant without gateways has nobody to push to: its rules are not read.
    const gateways = await storage.gateways.listGateways(tenant);
    if (gateways.length === 0) return;
    const rules: Array<{ compiled: CompiledRule; model: ThingModel }> = [];
    for (const r of await storage.rules.listRules(tenant)) {
      const doc = r.doc as { runAt?: string; enabled?: boolean; scope?: { product?: string } };
      if (doc.runAt !== 'edge' || doc.enabled === false || typeof doc.scope?.product !== 'string') continue;
      try {
        const model = (await registry.getProduct(tenant, doc.scope.product)).model;
        rules.push({ compiled: compileRule(r.doc, model), model });
      } catch (e) {
        this.p.log(`edge rules: rule "${r.id}" of tenant "${tenant}" is not pushed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const tree = await this.p.accessControl.tree(tenant);
    for (const g of gateways) {
      const cfg = await storage.gateways.latestConfig(tenant, g.gateway);
      const behind = (cfg?.config.channels ?? []).flatMap((ch) => ch.devices.map((d) => d.id));
      const devices = new Map<string, { product: string; asset: string | null }>();
      for (const id of behind) {
        try {
          const d = await registry.getDevice(tenant, id);
          devices.set(id, { product: d.product, asset: d.asset ?? null });
        } catch {
          // A device deleted since the configuration was stored: nothing runs for it.
        }
      }
      const pushed = rules
        .map(({ compiled, model }) => {
          const { scope } = compiled.rule;
          const covered = [...devices]
            .filter(([id, d]) => d.product === scope.product && (!scope.devices || scope.devices.includes(id)) && (!scope.asset || (d.asset !== null && tree.path(d.asset).includes(scope.asset))))
            .map(([id]) => id);
          return { rule: compiled.rule, model, devices: covered };
        })
        .filter((x) => x.devices.length > 0);
      this.lastVersion = Math.max(Date.now(), this.lastVersion + 1);
      await this.p.publisher.publishToDevice(tenant, g.gateway, 'rules', JSON.stringify({ version: this.lastVersion, rules: pushed }), { retain: true, qos: 1 });
    }
  }

  /** Pushes in the background; a failure is logged (the next change pushes again). */
  pushSoon(tenant: string): void {
    this.push(tenant as TenantId).catch((e: unknown) => this.p.log(`edge rules: push to the gateways of tenant "${tenant}" failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  /**
   * An edge rule's raise or clear, from the gateway `gateway` for its child `device`. Refused (4xx, the gateway keeps
   * it in its dead-letter table) when the message is malformed or names a rule that is not an edge rule covering
   * the device; stored (the alarm, the actions) before the gateway is acknowledged.
   */
  transition(tenant: string, device: string, gateway: string, body: unknown): Promise<void> {
    const key = `${tenant}\u0000${device}`;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(() => this.apply(tenant, device, gateway, body));
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run;
  }

  private async apply(tenant: string, device: string, gateway: string, body: unknown): Promise<void> {
    const b = body as { rule?: unknown; transition?: unknown; ts?: unknown; values?: unknown };
    if (!isObject(body) || typeof b.rule !== 'string' || (b.transition !== 'raise' && b.transition !== 'clear') || typeof b.ts !== 'number' || !Number.isFinite(b.ts) || !isObject(b.values)) {
      throw new IipError('IIP_ERR_PAYLOAD_SHAPE', 'an edge rule message is {"event": "iip.rule", "rule", "transition": "raise" | "clear", "ts", "values"}', { device });
    }
    const stored = await this.p.storage.rules.getRule(tenant as TenantId, b.rule);
    const doc = stored?.doc as { runAt?: string; scope?: { product?: string } } | undefined;
    if (!stored || doc?.runAt !== 'edge') {
      throw new IipError('IIP_ERR_RULE_NOT_AT_EDGE', `gateway "${gateway}" reported rule "${b.rule}" for ${device}, which is not an edge rule of tenant "${tenant}"`, { rule: b.rule, device, gateway });
    }
    const d = await this.p.registry.getDevice(tenant as TenantId, device);
    const compiled = compileRule(stored.doc, (await this.p.registry.getProduct(tenant as TenantId, d.product)).model);
    const { scope } = compiled.rule;
    const inAsset = !scope.asset || (d.asset !== undefined && d.asset !== null && (await this.p.accessControl.tree(tenant)).path(d.asset).includes(scope.asset));
    if (d.product !== scope.product || (scope.devices && !scope.devices.includes(device)) || !inAsset) {
      throw new IipError('IIP_ERR_RULE_NOT_AT_EDGE', `rule "${b.rule}" does not cover ${device}`, { rule: b.rule, device, gateway });
    }
    const t: Transition = { tenant, rule: compiled, device: device as DeviceId, kind: b.transition, ts: b.ts, values: b.values as Transition['values'] };
    if (await recordTransition(this.p.alarms, this.p.storage.actions, t)) this.p.actionsStored?.();
  }
}
