/**
 * The platform side of cloud–edge collaboration. It keeps each gateway's desired, versioned configuration
 * and pushes it (retained MQTT, re-sent whenever the gateway connects), records what the gateway reports
 * (applied version, buffer depth, per-device poll health), knows which child devices each gateway owns, and
 * carries writes to devices behind a gateway as commands with a reply, writing every attempt to the audit log.
 */
import { randomUUID } from 'node:crypto';
import {
  type ChannelConfig,
  type DeviceId,
  type GatewayConfig,
  IipError,
  type PointValue,
  type ServiceSpec,
  TelemetryValidator,
  type TenantId,
  type ThingModel,
  isValidId,
} from '@iip/core';
import type { AuditStore, GatewayConfigRecord, GatewayStateRecord, GatewayStore } from '@iip/storage';

export interface GatewayLink {
  publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void>;
}

export interface GatewayStatus {
  readonly gateway: string;
  readonly desired: GatewayConfigRecord | null;
  readonly reported: GatewayStateRecord | null;
  readonly inSync: boolean;
  readonly online: boolean;
}

type CommandOutcome = { ok: true } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

interface Pending {
  resolve(v: CommandOutcome): void;
  timer: NodeJS.Timeout;
}

function noRoute(device: string): IipError {
  return new IipError('IIP_ERR_WRITE_NO_ROUTE', `device "${device}" is not bound to an edge gateway`, { device });
}

/** Inputs of a service call: an object of known inputs, every required one present, each of its type. */
function checkInputs(spec: ServiceSpec, raw: unknown): Record<string, PointValue> {
  const given = raw === undefined || raw === null ? {} : raw;
  if (typeof given !== 'object' || Array.isArray(given)) throw new IipError('IIP_ERR_SERVICE_INPUT_INVALID', 'inputs must be an object of {input: value}', { input: null });
  const out: Record<string, PointValue> = {};
  const model = inputModel(spec);
  for (const [k, v] of Object.entries(given as Record<string, unknown>)) {
    if (!spec.inputs.some((i) => i.id === k)) throw new IipError('IIP_ERR_SERVICE_INPUT_INVALID', `"${k}" is not an input of service "${spec.id}"`, { input: k });
    try {
      out[k] = checkValue(model, k, v);
    } catch (e) {
      throw new IipError('IIP_ERR_SERVICE_INPUT_INVALID', `input "${k}": ${e instanceof IipError ? e.message : String(e)}`, { input: k });
    }
  }
  for (const i of spec.inputs) {
    if (i.required && !(i.id in out)) throw new IipError('IIP_ERR_SERVICE_INPUT_INVALID', `input "${i.id}" of service "${spec.id}" is required`, { input: i.id });
  }
  return out;
}

function bad(path: string, message: string): never {
  throw new IipError('IIP_ERR_GATEWAY_CONFIG_INVALID', `${path}: ${message}`, { path });
}

/** The value of one service input or written constant, checked like telemetry against `dataType`'s spec. */
function checkValue(model: ThingModel, property: string, value: unknown): PointValue {
  const [p] = new TelemetryValidator(model).validate({ values: { [property]: value } }, Date.now());
  return (p as { value: PointValue }).value;
}

/** A model whose properties are a service's inputs, so inputs are checked by the telemetry rules. */
function inputModel(service: ServiceSpec): ThingModel {
  return { properties: service.inputs.map((i) => ({ id: i.id, dataType: i.dataType, access: 'rw' as const })), events: [], services: [] };
}

/** Structural checks the platform can make; protocol details are checked again by each driver. */
export function checkGatewayConfig(c: unknown, deviceExists: (id: string) => boolean, modelOf?: (device: string) => ThingModel | undefined): GatewayConfig {
  if (!c || typeof c !== 'object' || !Array.isArray((c as GatewayConfig).channels)) bad('config', 'needs a "channels" array');
  const cfg = c as GatewayConfig;
  const channelIds = new Set<string>();
  const devices = new Set<string>();
  /** device → the properties its point map binds (what a service may write). */
  const bound = new Map<string, Set<string>>();
  cfg.channels.forEach((ch: ChannelConfig, i) => {
    const path = `channels[${i}]`;
    if (!ch || typeof ch !== 'object') bad(path, 'must be an object');
    if (!isValidId(ch.id)) bad(`${path}.id`, `"${String(ch.id)}" is not a valid id`);
    if (channelIds.has(ch.id)) bad(`${path}.id`, `duplicate channel id "${ch.id}"`);
    channelIds.add(ch.id);
    if (!['modbus-tcp', 'modbus-rtu', 'opcua'].includes(ch.protocol)) bad(`${path}.protocol`, `unknown protocol "${String(ch.protocol)}"`);
    if (!Array.isArray(ch.devices)) bad(`${path}.devices`, 'must be an array');
    ch.devices.forEach((d, j) => {
      const dp = `${path}.devices[${j}]`;
      if (!d || typeof d.id !== 'string') bad(`${dp}.id`, 'missing');
      if (devices.has(d.id)) bad(`${dp}.id`, `device "${d.id}" appears twice`);
      if (!deviceExists(d.id)) bad(`${dp}.id`, `device "${d.id}" does not exist; create it first`);
      if (!Array.isArray(d.points) || d.points.length === 0) bad(`${dp}.points`, 'needs at least one point');
      devices.add(d.id);
      bound.set(d.id, new Set((d.points as ReadonlyArray<{ property?: string }>).map((pt) => String(pt?.property))));
    });
  });
  for (const [i, r] of (cfg.rules ?? []).entries()) {
    if (!devices.has(r.device)) bad(`rules[${i}].device`, `device "${r.device}" is not in any channel`);
    if (!['>', '>=', '<', '<='].includes(r.op)) bad(`rules[${i}].op`, `unknown operator "${String(r.op)}"`);
    if (typeof r.threshold !== 'number' || !Number.isFinite(r.threshold)) bad(`rules[${i}].threshold`, 'must be a number');
  }
  if (cfg.services !== undefined && !Array.isArray(cfg.services)) bad('services', 'must be an array');
  const seenServices = new Set<string>();
  for (const [i, b] of (cfg.services ?? []).entries()) {
    const sp = `services[${i}]`;
    if (!b || typeof b !== 'object') bad(sp, 'must be an object');
    if (!devices.has(b.device)) bad(`${sp}.device`, `device "${String(b.device)}" is not in any channel`);
    if (seenServices.has(`${b.device}/${b.service}`)) bad(`${sp}.service`, `service "${b.service}" of "${b.device}" is bound twice`);
    seenServices.add(`${b.device}/${b.service}`);
    if (!Array.isArray(b.writes) || b.writes.length === 0) bad(`${sp}.writes`, 'needs at least one write');
    const model = modelOf?.(b.device);
    const spec = model?.services.find((s) => s.id === b.service);
    if (model && !spec) bad(`${sp}.service`, `"${String(b.service)}" is not a service of ${b.device}'s thing model`);
    for (const [j, w] of b.writes.entries()) {
      const wp = `${sp}.writes[${j}]`;
      if (!w || typeof w !== 'object') bad(wp, 'must be an object');
      if (!bound.get(b.device)?.has(w.property)) bad(`${wp}.property`, `"${String(w.property)}" is not a point of ${b.device} in this configuration`);
      if ((w.value === undefined) === (w.input === undefined)) bad(wp, 'needs exactly one of "value" (a constant) or "input" (a service input)');
      if (!model) continue;
      const prop = model.properties.find((x) => x.id === w.property);
      if (prop?.access !== 'rw') bad(`${wp}.property`, `"${w.property}" is not a writable (rw) property of ${b.device}'s thing model`);
      if (w.input !== undefined && !spec?.inputs.some((x) => x.id === w.input)) bad(`${wp}.input`, `"${String(w.input)}" is not an input of service "${b.service}"`);
      if (w.value !== undefined) {
        try {
          checkValue(model, w.property, w.value);
        } catch (e) {
          bad(`${wp}.value`, e instanceof IipError ? e.message : String(e));
        }
      }
    }
  }
  return cfg;
}

export class GatewayManager {
  /** tenant → child device → gateway, from the desired configs. */
  private readonly owners = new Map<string, Map<string, string>>();
  private readonly pending = new Map<string, Pending>();
  private readonly online = new Set<string>();

  constructor(
    private readonly store: GatewayStore,
    private readonly audit: AuditStore,
    private readonly link: GatewayLink,
    private readonly opts: { now?: () => number; commandTimeoutMs?: number; log?: (msg: string) => void } = {},
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Learns the child → gateway map of one tenant from the stored configs (call at start). */
  loadTenant(tenant: TenantId): void {
    for (const g of this.store.listGateways(tenant)) {
      const rec = this.store.latestConfig(tenant, g.gateway);
      if (rec) this.index(rec);
    }
  }

  private index(rec: GatewayConfigRecord): void {
    let m = this.owners.get(rec.tenant);
    if (!m) {
      m = new Map();
      this.owners.set(rec.tenant, m);
    }
    for (const [child, gw] of [...m]) if (gw === rec.gateway) m.delete(child);
    for (const ch of rec.config.channels) for (const d of ch.devices) m.set(d.id, rec.gateway);
  }

  ownerOf(tenant: string, device: string): string | undefined {
    return this.owners.get(tenant)?.get(device);
  }

  /** The gateway a device is behind (if any) and the services its configuration binds for the device. */
  serviceBindings(tenant: TenantId, device: string): { gateway: string | null; bound: string[] } {
    const gateway = this.ownerOf(tenant, device);
    if (!gateway) return { gateway: null, bound: [] };
    const services = this.store.latestConfig(tenant, gateway as DeviceId)?.config.services ?? [];
    return { gateway, bound: services.filter((b) => b.device === device).map((b) => b.service) };
  }

  async setConfig(
    tenant: TenantId,
    gateway: DeviceId,
    config: unknown,
    actor: string,
    deviceExists: (id: string) => boolean,
    modelOf?: (device: string) => ThingModel | undefined,
  ): Promise<GatewayConfigRecord> {
    const cfg = checkGatewayConfig(config, deviceExists, modelOf);
    for (const ch of cfg.channels) {
      for (const d of ch.devices) {
        const owner = this.ownerOf(tenant, d.id);
        if (owner && owner !== gateway) bad(`device ${d.id}`, `already belongs to gateway "${owner}"`);
      }
    }
    const version = (this.store.latestConfig(tenant, gateway)?.version ?? 0) + 1;
    const rec: GatewayConfigRecord = { tenant, gateway, version, config: cfg, createdAt: this.now(), createdBy: actor };
    this.store.saveConfig(rec);
    this.index(rec);
    this.audit.append({ tenant, ts: rec.createdAt, actor, action: 'gateway.config', device: gateway, property: null, oldValue: version - 1, newValue: version, result: 'ok', error: null });
    await this.push(rec);
    return rec;
  }

  private push(rec: GatewayConfigRecord): Promise<void> {
    return this.link.publishToDevice(rec.tenant, rec.gateway, 'config', JSON.stringify({ version: rec.version, config: rec.config }), { retain: true, qos: 1 });
  }

  /** A device connected: if it is a gateway, it gets its desired config again (retained state is in memory only). */
  onConnected(tenant: string, device: string): void {
    const rec = this.store.latestConfig(tenant as TenantId, device as DeviceId);
    if (rec) {
      this.online.add(`${tenant}/${device}`);
      this.push(rec).catch((e: unknown) => this.opts.log?.(`gateway ${device}: config push failed: ${(e as Error).message}`));
    }
  }

  onDisconnected(tenant: string, device: string): void {
    this.online.delete(`${tenant}/${device}`);
  }

  /** `iip/{tenant}/{gateway}/state` */
  onState(tenant: string, gateway: string, payload: Buffer): void {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new IipError('IIP_ERR_PAYLOAD_NOT_JSON', 'gateway state is not JSON', {});
    }
    const applied = typeof doc.appliedVersion === 'number' ? doc.appliedVersion : null;
    this.online.add(`${tenant}/${gateway}`);
    this.store.saveState({ tenant: tenant as TenantId, gateway: gateway as DeviceId, appliedVersion: applied, state: doc, updatedAt: this.now() });
  }

  status(tenant: TenantId, gateway: DeviceId): GatewayStatus {
    const desired = this.store.latestConfig(tenant, gateway) ?? null;
    const reported = this.store.getState(tenant, gateway) ?? null;
    if (!desired && !reported) throw new IipError('IIP_ERR_NOT_FOUND', `gateway "${gateway}" has no configuration or state`, { resource: 'gateway', id: gateway });
    return {
      gateway,
      desired,
      reported,
      inSync: !!desired && reported?.appliedVersion === desired.version,
      online: this.online.has(`${tenant}/${gateway}`),
    };
  }

  list(tenant: TenantId): Array<{ gateway: string; desiredVersion: number | null; appliedVersion: number | null; updatedAt: number | null; online: boolean }> {
    return this.store.listGateways(tenant).map((g) => ({ ...g, online: this.online.has(`${tenant}/${g.gateway}`) }));
  }

  /** Publishes a command to a gateway and waits for its result, or for the timeout. */
  private async command(gateway: string, tenant: TenantId, body: Record<string, unknown>): Promise<CommandOutcome> {
    const id = randomUUID();
    const timeoutMs = this.opts.commandTimeoutMs ?? 10_000;
    const result = new Promise<CommandOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: { code: 'IIP_ERR_COMMAND_TIMEOUT', message: `gateway "${gateway}" did not answer within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    try {
      await this.link.publishToDevice(tenant, gateway, `commands/${id}`, JSON.stringify(body), { retain: false, qos: 1 });
    } catch (e) {
      const p = this.pending.get(id);
      if (p) clearTimeout(p.timer);
      this.pending.delete(id);
      return { ok: false, error: { code: 'IIP_ERR_COMMAND_TIMEOUT', message: `gateway "${gateway}" is not reachable: ${(e as Error).message}` } };
    }
    return result;
  }

  /** Turns a failed outcome into the error the API reports. */
  private failure(gateway: string, r: Extract<CommandOutcome, { ok: false }>): IipError {
    if (r.error.code === 'IIP_ERR_COMMAND_TIMEOUT') return new IipError('IIP_ERR_COMMAND_TIMEOUT', r.error.message, { gateway });
    return new IipError('IIP_ERR_COMMAND_FAILED', `gateway "${gateway}": ${r.error.code}: ${r.error.message}`, { gateway, error: r.error });
  }

  /**
   * Sends a write to the gateway that owns the device and waits for its answer. Every attempt, successful or
   * not, is written to the audit log with the old and the new value.
   */
  async write(req: { tenant: TenantId; device: string; property: string; value: PointValue; oldValue: PointValue | null; actor: string }): Promise<void> {
    const gateway = this.ownerOf(req.tenant, req.device);
    const entry = { tenant: req.tenant, ts: this.now(), actor: req.actor, action: 'write', device: req.device, property: req.property, oldValue: req.oldValue, newValue: req.value };
    if (!gateway) {
      this.audit.append({ ...entry, result: 'error', error: 'IIP_ERR_WRITE_NO_ROUTE' });
      throw noRoute(req.device);
    }
    const r = await this.command(gateway, req.tenant, { type: 'write', device: req.device, property: req.property, value: req.value });
    this.audit.append({ ...entry, result: r.ok ? 'ok' : 'error', error: r.ok ? null : r.error.code });
    if (!r.ok) throw this.failure(gateway, r);
  }

  /**
   * Invokes a thing-model service of a device behind a gateway: checks the inputs against the service, turns
   * the gateway configuration's binding into concrete point writes (each checked against its property), and
   * has the gateway carry them out in order, stopping at the first failure. Audited with inputs and writes.
   */
  async invokeService(req: { tenant: TenantId; device: string; service: string; inputs: unknown; model: ThingModel; actor: string }): Promise<{ writes: Array<{ property: string; value: PointValue }> }> {
    const spec = req.model.services.find((s) => s.id === req.service);
    if (!spec) throw new IipError('IIP_ERR_SERVICE_UNKNOWN', `"${req.service}" is not a service of ${req.device}'s thing model`, { device: req.device, service: req.service });
    const inputs = checkInputs(spec, req.inputs);
    const entry = { tenant: req.tenant, ts: this.now(), actor: req.actor, action: 'service', device: req.device, property: req.service, oldValue: null };
    const refuse = (e: IipError, writes?: unknown): never => {
      this.audit.append({ ...entry, newValue: { inputs, ...(writes ? { writes } : {}) }, result: 'error', error: e.code });
      throw e;
    };
    const gateway = this.ownerOf(req.tenant, req.device);
    if (!gateway) return refuse(noRoute(req.device));
    const binding = this.store.latestConfig(req.tenant, gateway as DeviceId)?.config.services?.find((b) => b.device === req.device && b.service === req.service);
    if (!binding) {
      return refuse(
        new IipError('IIP_ERR_SERVICE_NOT_BOUND', `gateway "${gateway}" has no binding for service "${req.service}" of ${req.device}`, { gateway, device: req.device, service: req.service }),
      );
    }
    const writes: Array<{ property: string; value: PointValue }> = [];
    for (const w of binding.writes) {
      const prop = req.model.properties.find((p) => p.id === w.property);
      if (prop?.access !== 'rw') return refuse(new IipError('IIP_ERR_PROPERTY_READ_ONLY', `property "${w.property}" is not writable`, { property: w.property }));
      if (w.input !== undefined && !(w.input in inputs)) {
        return refuse(new IipError('IIP_ERR_SERVICE_INPUT_INVALID', `input "${w.input}" is needed: it is written to "${w.property}"`, { input: w.input, property: w.property }));
      }
      const raw = w.input !== undefined ? inputs[w.input] : w.value;
      try {
        writes.push({ property: w.property, value: checkValue(req.model, w.property, raw) });
      } catch (e) {
        const why = e instanceof IipError ? e.message : String(e);
        return refuse(new IipError('IIP_ERR_SERVICE_INPUT_INVALID', `${w.input !== undefined ? `input "${w.input}"` : 'the bound constant'} does not fit property "${w.property}": ${why}`, { input: w.input ?? null, property: w.property }));
      }
    }
    const r = await this.command(gateway, req.tenant, { type: 'writes', device: req.device, service: req.service, writes });
    this.audit.append({ ...entry, newValue: { inputs, writes }, result: r.ok ? 'ok' : 'error', error: r.ok ? null : r.error.code });
    if (!r.ok) throw this.failure(gateway, r);
    return { writes };
  }

  /** `iip/{tenant}/{gateway}/command-results/{id}` */
  onCommandResult(id: string, payload: Buffer): void {
    const p = this.pending.get(id);
    if (!p) return; // late answer after a timeout
    this.pending.delete(id);
    clearTimeout(p.timer);
    try {
      const doc = JSON.parse(payload.toString('utf8')) as { ok?: boolean; error?: { code?: string; message?: string; details?: Record<string, unknown> } };
      if (doc.ok === true) p.resolve({ ok: true });
      else p.resolve({ ok: false, error: { code: doc.error?.code ?? 'IIP_ERR_INTERNAL', message: doc.error?.message ?? 'no message', details: doc.error?.details ?? {} } });
    } catch {
      p.resolve({ ok: false, error: { code: 'IIP_ERR_PAYLOAD_NOT_JSON', message: 'command result is not JSON' } });
    }
  }

  close(): void {
    for (const [, p] of this.pending) clearTimeout(p.timer);
    this.pending.clear();
  }
}
