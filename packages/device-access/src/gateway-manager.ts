/**
 * The platform side of cloud–edge collaboration. It keeps each gateway's desired, versioned configuration
 * and pushes it (retained MQTT, re-sent whenever the gateway connects), records what the gateway reports
 * (applied version, buffer depth, per-device poll health), knows which child devices each gateway owns, and
 * carries writes to devices behind a gateway as commands with a reply, writing every attempt to the audit log.
 */
import { randomUUID } from 'node:crypto';
import {
  type CertificateInfo,
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
import type { AuditEntry, AuditStore, GatewayConfigRecord, GatewayStateRecord, GatewayStore } from '@iip/storage';
import { validateChannelConfig } from './drivers/validate-channel.js';
import { keepGatewayPasswords, redactGatewayConfig } from './gateway-secrets.js';

export interface GatewayLink {
  publishToDevice(tenant: string, device: string, subtopic: string, payload: string, opts: { retain: boolean; qos: 0 | 1 }): Promise<void>;
}

/** A channel of the applied configuration that the gateway could not start (reported in its state). */
export interface FailedChannel {
  readonly channel: string;
  readonly code: string;
  readonly message: string;
}

export interface GatewayStatus {
  readonly gateway: string;
  readonly desired: GatewayConfigRecord | null;
  readonly reported: GatewayStateRecord | null;
  /** The gateway runs the desired version and every channel of it started. */
  readonly inSync: boolean;
  /** `pending`: the desired version is not applied yet; `applied-with-failures`: applied, but `failedChannels` did not start. */
  readonly sync: 'in-sync' | 'pending' | 'applied-with-failures';
  readonly failedChannels: readonly FailedChannel[];
  readonly online: boolean;
}

type GatewayError = { code: string; message: string; details?: Record<string, unknown> };

/**
 * What became of a command: `done` and `failed` are the gateway's answer; `expired` means the gateway
 * refused it unexecuted because it arrived after its expiry; `unknown` means no answer came before the
 * expiry, so it may or may not have been carried out (a later answer is still audited).
 */
export type CommandOutcome =
  | { readonly outcome: 'done'; readonly answer?: Readonly<Record<string, unknown>> }
  | { readonly outcome: 'failed'; readonly error: GatewayError }
  | { readonly outcome: 'expired'; readonly error: GatewayError }
  | { readonly outcome: 'unknown'; readonly reason: string; readonly sent: boolean };

/** What the API learns of a command it sent: its id and absolute expiry, and the outcome. */
export interface CommandReport {
  readonly requestId: string;
  readonly expiresAt: number;
  readonly outcome: 'done';
}

/** The audit entry of a command, kept until its answer so a late answer is recorded against the same request. */
type AuditBase = Omit<AuditEntry, 'result' | 'error'>;

interface Pending {
  readonly tenant: string;
  readonly gateway: string;
  readonly expiresAt: number;
  readonly audit: AuditBase;
  resolve(v: CommandOutcome): void;
  timer: NodeJS.Timeout;
}

/** The code a gateway answers with when a command arrived after its `expiresAt` (see @iip/edge-gateway). */
const EDGE_EXPIRED = 'IIP_ERR_EDGE_COMMAND_EXPIRED';
/** Unanswered commands remembered for a late answer; the oldest are forgotten beyond this. */
const MAX_UNANSWERED = 10_000;

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

function bad(path: string, message: string, extra: Record<string, unknown> = {}): never {
  throw new IipError('IIP_ERR_GATEWAY_CONFIG_INVALID', `${path}: ${message}`, { ...extra, path });
}

/** The driver's own checks of a channel (the gateway runs the same ones), with paths from the config root. */
function checkChannelWithDriver(ch: ChannelConfig, path: string): void {
  try {
    validateChannelConfig(ch);
  } catch (e) {
    if (!(e instanceof IipError) || e.code !== 'IIP_ERR_DRIVER_CONFIG') throw e;
    const sub = typeof e.details.path === 'string' && e.details.path.length > 0 ? e.details.path : '';
    const why = sub && e.message.startsWith(`${sub}: `) ? e.message.slice(sub.length + 2) : e.message;
    bad(sub ? `${path}.${sub}` : path, why, 'value' in e.details ? { value: e.details.value } : {});
  }
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

/**
 * Everything the platform can check before a configuration is stored: structure, devices and their owners,
 * service bindings, and each channel against what its driver supports (the driver's own validation), so a
 * configuration the gateway could not run is refused here with `details.path` naming the element.
 */
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
    checkChannelWithDriver(ch, path);
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
  /** Commands that timed out without an answer, by request id (insertion order = age). */
  private readonly unanswered = new Map<string, Omit<Pending, 'resolve' | 'timer'>>();
  private readonly online = new Set<string>();
  /** tenant/gateway → the config version the owner map was built from. */
  private readonly versions = new Map<string, number>();

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
  async loadTenant(tenant: TenantId): Promise<void> {
    for (const g of await this.store.listGateways(tenant)) {
      const rec = await this.store.latestConfig(tenant, g.gateway);
      if (rec) this.index(rec);
    }
  }

  /**
   * A configuration stored by another process of the platform (it reached this one as the retained config
   * push, BusDeviceRouter): the child → gateway map learns it, unless a newer version is known already.
   */
  noteConfig(tenant: string, gateway: string, version: number, config: GatewayConfig): void {
    const key = `${tenant}/${gateway}`;
    if ((this.versions.get(key) ?? 0) > version) return;
    this.index({ tenant: tenant as TenantId, gateway: gateway as DeviceId, version, config, createdAt: 0, createdBy: '' });
  }

  /** Whether this process sent the command `requestId` and waits for (or remembers, for the audit log) its answer. */
  knows(requestId: string): boolean {
    return this.pending.has(requestId) || this.unanswered.has(requestId);
  }

  private index(rec: GatewayConfigRecord): void {
    this.versions.set(`${rec.tenant}/${rec.gateway}`, rec.version);
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
  async serviceBindings(tenant: TenantId, device: string): Promise<{ gateway: string | null; bound: string[] }> {
    const gateway = this.ownerOf(tenant, device);
    if (!gateway) return { gateway: null, bound: [] };
    const services = (await this.store.latestConfig(tenant, gateway as DeviceId))?.config.services ?? [];
    return { gateway, bound: services.filter((b) => b.device === device).map((b) => b.service) };
  }

  /**
   * Checks, stores (the next version) and pushes a configuration. `deviceExists` and `modelOf` ask the
   * registry; they are asked once for each device the configuration names, before the synchronous checks.
   * Two concurrent calls for one gateway cannot both store the same version: the loser gets IIP_ERR_CONFLICT.
   */
  async setConfig(
    tenant: TenantId,
    gateway: DeviceId,
    config: unknown,
    actor: string,
    deviceExists: (id: string) => Promise<boolean>,
    modelOf?: (device: string) => Promise<ThingModel | undefined>,
  ): Promise<GatewayConfigRecord> {
    const named = devicesNamedIn(config);
    const exists = new Map<string, boolean>();
    const models = new Map<string, ThingModel | undefined>();
    for (const id of named) {
      exists.set(id, await deviceExists(id));
      if (modelOf && exists.get(id)) models.set(id, await modelOf(id));
    }
    const cfg = checkGatewayConfig(
      config,
      (id) => exists.get(id) ?? false,
      modelOf ? (id) => models.get(id) : undefined,
    );
    for (const ch of cfg.channels) {
      for (const d of ch.devices) {
        const owner = this.ownerOf(tenant, d.id);
        if (owner && owner !== gateway) bad(`device ${d.id}`, `already belongs to gateway "${owner}"`);
      }
    }
    const previous = await this.store.latestConfig(tenant, gateway);
    const version = (previous?.version ?? 0) + 1;
    // Passwords are write-only: one not sent again is the previous version's (the API never shows it).
    const stored = keepGatewayPasswords(cfg, previous?.config);
    const rec: GatewayConfigRecord = { tenant, gateway, version, config: stored, createdAt: this.now(), createdBy: actor };
    await this.store.saveConfig(rec);
    this.index(rec);
    await this.audit.append({ tenant, ts: rec.createdAt, actor, action: 'gateway.config', device: gateway, property: null, oldValue: version - 1, newValue: version, result: 'ok', error: null });
    await this.push(rec);
    return rec;
  }

  private push(rec: GatewayConfigRecord): Promise<void> {
    return this.link.publishToDevice(rec.tenant, rec.gateway, 'config', JSON.stringify({ version: rec.version, config: rec.config }), { retain: true, qos: 1 });
  }

  /**
   * A device connected: if it is a gateway, it gets its desired config again (retained state is in memory
   * only). The connection does not wait for this; a failure to read or push the config is logged (the
   * gateway keeps running its applied config and gets the desired one on its next connect).
   */
  onConnected(tenant: string, device: string): void {
    this.pushOnConnect(tenant, device).catch((e: unknown) => this.opts.log?.(`gateway ${device}: config push failed: ${(e as Error).message}`));
  }

  private async pushOnConnect(tenant: string, device: string): Promise<void> {
    const rec = await this.store.latestConfig(tenant as TenantId, device as DeviceId);
    if (!rec) return;
    this.online.add(`${tenant}/${device}`);
    await this.push(rec);
  }

  onDisconnected(tenant: string, device: string): void {
    this.online.delete(`${tenant}/${device}`);
  }

  /** `iip/{tenant}/{gateway}/state`: resolves once the state is stored; rejects (IIP_ERR_PAYLOAD_NOT_JSON) on a bad document. */
  async onState(tenant: string, gateway: string, payload: Buffer): Promise<void> {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new IipError('IIP_ERR_PAYLOAD_NOT_JSON', 'gateway state is not JSON', {});
    }
    const applied = typeof doc.appliedVersion === 'number' ? doc.appliedVersion : null;
    this.online.add(`${tenant}/${gateway}`);
    await this.store.saveState({ tenant: tenant as TenantId, gateway: gateway as DeviceId, appliedVersion: applied, state: doc, updatedAt: this.now() });
  }

  /** What the API shows of a gateway; the desired configuration without its passwords (`passwordSet: true`). */
  async status(tenant: TenantId, gateway: DeviceId): Promise<GatewayStatus> {
    const stored = await this.store.latestConfig(tenant, gateway);
    const desired = stored ? { ...stored, config: redactGatewayConfig(stored.config) } : null;
    const reported = (await this.store.getState(tenant, gateway)) ?? null;
    if (!desired && !reported) throw new IipError('IIP_ERR_NOT_FOUND', `gateway "${gateway}" has no configuration or state`, { resource: 'gateway', id: gateway });
    const applied = !!desired && reported?.appliedVersion === desired.version;
    const failedChannels = applied ? failedChannelsOf(reported?.state) : [];
    return {
      gateway,
      desired,
      reported,
      inSync: applied && failedChannels.length === 0,
      sync: !applied ? 'pending' : failedChannels.length > 0 ? 'applied-with-failures' : 'in-sync',
      failedChannels,
      online: this.online.has(`${tenant}/${gateway}`),
    };
  }

  async list(
    tenant: TenantId,
  ): Promise<Array<{ gateway: string; desiredVersion: number | null; appliedVersion: number | null; updatedAt: number | null; online: boolean; failedChannels: number }>> {
    const out = [];
    for (const g of await this.store.listGateways(tenant)) {
      const applied = g.appliedVersion !== null && g.appliedVersion === g.desiredVersion;
      const failed = applied ? failedChannelsOf((await this.store.getState(tenant, g.gateway as DeviceId))?.state).length : 0;
      out.push({ ...g, online: this.online.has(`${tenant}/${g.gateway}`), failedChannels: failed });
    }
    return out;
  }

  /** The time a command may take: the API's timeout, or less when the caller asks for less (never more). */
  private timeoutFor(requestedMs: number | undefined): number {
    const max = this.opts.commandTimeoutMs ?? 10_000;
    return requestedMs !== undefined && Number.isFinite(requestedMs) && requestedMs > 0 ? Math.min(requestedMs, max) : max;
  }

  /**
   * Publishes a command that carries its absolute expiry (`expiresAt`, platform clock) and waits for the
   * gateway's answer until then. The gateway refuses a command that reaches it after `expiresAt` without
   * touching the device — also one the broker queued while the gateway was offline — so once the expiry has
   * passed unanswered the outcome is `unknown`, and an answer arriving later is written to the audit log.
   */
  private async command(gateway: string, tenant: TenantId, body: Record<string, unknown>, audit: AuditBase, timeoutMs: number): Promise<{ requestId: string; expiresAt: number; result: CommandOutcome }> {
    const requestId = randomUUID();
    const expiresAt = this.now() + timeoutMs;
    const result = new Promise<CommandOutcome>((resolve) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(requestId);
        this.pending.delete(requestId);
        if (p) this.remember(requestId, p);
        resolve({ outcome: 'unknown', reason: `gateway "${gateway}" did not answer within ${timeoutMs} ms`, sent: true });
      }, timeoutMs);
      this.pending.set(requestId, { tenant, gateway, expiresAt, audit, resolve, timer });
    });
    try {
      await this.link.publishToDevice(tenant, gateway, `commands/${requestId}`, JSON.stringify({ ...body, expiresAt }), { retain: false, qos: 1 });
    } catch (e) {
      const p = this.pending.get(requestId);
      if (p) clearTimeout(p.timer);
      this.pending.delete(requestId);
      // Not handed to the broker, so it cannot run; still "unknown" to the caller only in name: sent = false.
      return { requestId, expiresAt, result: { outcome: 'unknown', reason: `gateway "${gateway}" is not reachable: ${(e as Error).message}`, sent: false } };
    }
    return { requestId, expiresAt, result: await result };
  }

  private remember(requestId: string, p: Omit<Pending, 'resolve' | 'timer'>): void {
    this.unanswered.set(requestId, { tenant: p.tenant, gateway: p.gateway, expiresAt: p.expiresAt, audit: p.audit });
    if (this.unanswered.size > MAX_UNANSWERED) {
      const oldest = this.unanswered.keys().next().value;
      if (oldest !== undefined) this.unanswered.delete(oldest);
    }
  }

  /** Audits an outcome and turns anything but `done` into the error the API reports. */
  private async settle(gateway: string, sent: { requestId: string; expiresAt: number; result: CommandOutcome }, audit: AuditBase): Promise<CommandReport> {
    const r = sent.result;
    const where = { gateway, requestId: sent.requestId, expiresAt: sent.expiresAt };
    switch (r.outcome) {
      case 'done':
        await this.audit.append({ ...audit, result: 'ok', error: null });
        return { requestId: sent.requestId, expiresAt: sent.expiresAt, outcome: 'done' };
      case 'failed':
        await this.audit.append({ ...audit, result: 'error', error: r.error.code });
        throw new IipError('IIP_ERR_COMMAND_FAILED', `gateway "${gateway}": ${r.error.code}: ${r.error.message}`, { ...where, outcome: 'failed', error: r.error });
      case 'expired':
        await this.audit.append({ ...audit, result: 'error', error: 'IIP_ERR_COMMAND_EXPIRED' });
        throw new IipError('IIP_ERR_COMMAND_EXPIRED', `gateway "${gateway}" received the command after its expiry and did not carry it out`, { ...where, outcome: 'expired', executed: false, error: r.error });
      case 'unknown':
        await this.audit.append({ ...audit, result: 'error', error: 'IIP_ERR_COMMAND_TIMEOUT' });
        throw new IipError(
          'IIP_ERR_COMMAND_TIMEOUT',
          r.sent
            ? `${r.reason}: the command may or may not have been carried out. The gateway refuses it after expiresAt; an answer that comes later is recorded in the audit log (action "*.late-result").`
            : `${r.reason}: the command was not sent and has not been carried out`,
          { ...where, outcome: 'unknown', sent: r.sent, gatewayOnline: this.online.has(`${audit.tenant}/${gateway}`) },
        );
      default: {
        const never: never = r;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Sends a write to the gateway that owns the device and waits for its answer until the command's expiry
   * (`timeoutMs`, at most the API's timeout). Every attempt and its outcome is written to the audit log
   * with the old and the new value; throws IIP_ERR_COMMAND_FAILED / _EXPIRED / _TIMEOUT for the outcomes
   * other than done.
   */
  async write(req: { tenant: TenantId; device: string; property: string; value: PointValue; oldValue: PointValue | null; actor: string; timeoutMs?: number }): Promise<CommandReport> {
    const gateway = this.ownerOf(req.tenant, req.device);
    const entry: AuditBase = { tenant: req.tenant, ts: this.now(), actor: req.actor, action: 'write', device: req.device, property: req.property, oldValue: req.oldValue, newValue: req.value };
    if (!gateway) {
      await this.audit.append({ ...entry, result: 'error', error: 'IIP_ERR_WRITE_NO_ROUTE' });
      throw noRoute(req.device);
    }
    const sent = await this.command(gateway, req.tenant, { type: 'write', device: req.device, property: req.property, value: req.value }, entry, this.timeoutFor(req.timeoutMs));
    return this.settle(gateway, sent, entry);
  }

  /**
   * Invokes a thing-model service of a device behind a gateway: checks the inputs against the service, turns
   * the gateway configuration's binding into concrete point writes (each checked against its property), and
   * has the gateway carry them out in order, stopping at the first failure. Audited with inputs and writes.
   */
  async invokeService(req: {
    tenant: TenantId;
    device: string;
    service: string;
    inputs: unknown;
    model: ThingModel;
    actor: string;
    timeoutMs?: number;
  }): Promise<CommandReport & { writes: Array<{ property: string; value: PointValue }> }> {
    const spec = req.model.services.find((s) => s.id === req.service);
    if (!spec) throw new IipError('IIP_ERR_SERVICE_UNKNOWN', `"${req.service}" is not a service of ${req.device}'s thing model`, { device: req.device, service: req.service });
    const inputs = checkInputs(spec, req.inputs);
    const entry = { tenant: req.tenant, ts: this.now(), actor: req.actor, action: 'service', device: req.device, property: req.service, oldValue: null };
    const refuse = async (e: IipError, writes?: unknown): Promise<never> => {
      await this.audit.append({ ...entry, newValue: { inputs, ...(writes ? { writes } : {}) }, result: 'error', error: e.code });
      throw e;
    };
    const gateway = this.ownerOf(req.tenant, req.device);
    if (!gateway) return refuse(noRoute(req.device));
    const binding = (await this.store.latestConfig(req.tenant, gateway as DeviceId))?.config.services?.find((b) => b.device === req.device && b.service === req.service);
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
    const audit: AuditBase = { ...entry, newValue: { inputs, writes } };
    const sent = await this.command(gateway, req.tenant, { type: 'writes', device: req.device, service: req.service, writes }, audit, this.timeoutFor(req.timeoutMs));
    return { ...(await this.settle(gateway, sent, audit)), writes };
  }

  /**
   * Has a gateway trust the server certificate one of its channels rejected (reported in its state as
   * `channels[].trust`, kind 'server-untrusted'), named by thumbprint: the gateway's driver refuses any other
   * certificate, so a stale page cannot trust a certificate nobody looked at. Audited as 'gateway.trust-certificate'
   * with the thumbprint and subject; outcomes as for a write (IIP_ERR_COMMAND_FAILED keeps the gateway's code).
   */
  async trustServerCertificate(req: {
    tenant: TenantId;
    gateway: DeviceId;
    channel: string;
    thumbprint: string;
    actor: string;
    timeoutMs?: number;
  }): Promise<CommandReport & { certificate: CertificateInfo | null }> {
    const thumbprint = normalizeThumbprint(req.thumbprint);
    const stored = await this.store.latestConfig(req.tenant, req.gateway);
    const reported = (await this.store.getState(req.tenant, req.gateway))?.state;
    const reportedChannel = reportedChannels(reported).find((c) => c.channel === req.channel);
    if (!stored?.config.channels.some((c) => c.id === req.channel) && !reportedChannel) {
      throw new IipError('IIP_ERR_NOT_FOUND', `gateway "${req.gateway}" has no channel "${req.channel}" in its configuration or its state`, {
        resource: 'gateway channel',
        id: req.channel,
        gateway: req.gateway,
      });
    }
    // The subject the operator saw, when the state names this certificate; the gateway's answer confirms it.
    const seen = trustedCertificateOf(reportedChannel?.trust);
    const entry: AuditBase = {
      tenant: req.tenant,
      ts: this.now(),
      actor: req.actor,
      action: 'gateway.trust-certificate',
      device: req.gateway,
      property: req.channel,
      oldValue: null,
      newValue: { thumbprint, subject: seen?.thumbprint === thumbprint ? seen.subject : null },
    };
    const sent = await this.command(req.gateway, req.tenant, { type: 'trust-server-certificate', channel: req.channel, thumbprint }, entry, this.timeoutFor(req.timeoutMs));
    const certificate = sent.result.outcome === 'done' ? certificateOf(sent.result.answer?.certificate) : null;
    const audit = certificate ? { ...entry, newValue: { thumbprint, subject: certificate.subject } } : entry;
    return { ...(await this.settle(req.gateway, sent, audit)), certificate };
  }

  /**
   * `iip/{tenant}/{gateway}/command-results/{id}`: resolves once a late answer is in the audit log (an
   * answer to a waiting command is audited by the waiting call).
   */
  async onCommandResult(id: string, payload: Buffer): Promise<void> {
    const outcome = parseResult(payload);
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(outcome);
      return;
    }
    const late = this.unanswered.get(id);
    if (!late) {
      this.opts.log?.(`command result ${id}: no such command is waiting (already answered, or forgotten); ignored`);
      return;
    }
    // The caller was told "unknown"; what really happened goes to the audit log, so it is not lost.
    this.unanswered.delete(id);
    const error = outcome.outcome === 'done' ? null : outcome.outcome === 'expired' ? 'IIP_ERR_COMMAND_EXPIRED' : outcome.outcome === 'failed' ? outcome.error.code : 'IIP_ERR_COMMAND_TIMEOUT';
    await this.audit.append({ ...late.audit, ts: this.now(), action: `${late.audit.action}.late-result`, result: error === null ? 'ok' : 'error', error });
    this.opts.log?.(`gateway ${late.gateway}: late answer to command ${id} (${late.audit.action} ${late.audit.device}): ${outcome.outcome}`);
  }

  close(): void {
    for (const [, p] of this.pending) clearTimeout(p.timer);
    this.pending.clear();
    this.unanswered.clear();
  }
}

/** The device ids a (not yet checked) configuration names in its channels, tolerating any shape. */
function devicesNamedIn(config: unknown): string[] {
  const ids = new Set<string>();
  const channels = (config as { channels?: unknown } | null | undefined)?.channels;
  if (!Array.isArray(channels)) return [];
  for (const ch of channels as unknown[]) {
    const devices = (ch as { devices?: unknown } | null | undefined)?.devices;
    if (!Array.isArray(devices)) continue;
    for (const d of devices as unknown[]) {
      const id = (d as { id?: unknown } | null | undefined)?.id;
      if (typeof id === 'string') ids.add(id);
    }
  }
  return [...ids];
}

/** A gateway's answer to a command; an unreadable one counts as a failure the audit log names. */
function parseResult(payload: Buffer): CommandOutcome {
  let doc: { ok?: boolean; error?: { code?: string; message?: string; details?: Record<string, unknown> } };
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { outcome: 'failed', error: { code: 'IIP_ERR_PAYLOAD_NOT_JSON', message: 'command result is not JSON' } };
  }
  if (doc?.ok === true) {
    const { ok: _ok, ...answer } = doc as Record<string, unknown>;
    return Object.keys(answer).length > 0 ? { outcome: 'done', answer } : { outcome: 'done' };
  }
  const error = { code: doc?.error?.code ?? 'IIP_ERR_INTERNAL', message: doc?.error?.message ?? 'no message', details: doc?.error?.details ?? {} };
  return error.code === EDGE_EXPIRED ? { outcome: 'expired', error } : { outcome: 'failed', error };
}

/** The channels a gateway's state message reports as failed to start (any other shape is ignored). */
function failedChannelsOf(state: unknown): FailedChannel[] {
  const channels = (state as { channels?: unknown } | null | undefined)?.channels;
  if (!Array.isArray(channels)) return [];
  const out: FailedChannel[] = [];
  for (const c of channels as Array<Record<string, unknown> | null>) {
    if (!c || c.state !== 'failed') continue;
    const err = (c.error ?? {}) as { code?: unknown; message?: unknown };
    out.push({ channel: String(c.channel), code: typeof err.code === 'string' ? err.code : 'IIP_ERR_INTERNAL', message: typeof err.message === 'string' ? err.message : '' });
  }
  return out;
}

/** A thumbprint as typed or copied (any case, with or without ':' or spaces) → 40 upper-case hex digits. */
function normalizeThumbprint(raw: unknown): string {
  const t = typeof raw === 'string' ? raw.replace(/[\s:]/g, '').toUpperCase() : '';
  if (!/^[0-9A-F]{40}$/.test(t)) {
    throw new IipError('IIP_ERR_VALIDATION', "thumbprint must be the certificate's SHA-1 thumbprint: 40 hex digits (':' and spaces are ignored)", { field: 'thumbprint' });
  }
  return t;
}

/** The channels of a gateway's state document (any shape tolerated). */
function reportedChannels(state: unknown): Array<{ channel: string; trust?: unknown }> {
  const channels = (state as { channels?: unknown } | null | undefined)?.channels;
  if (!Array.isArray(channels)) return [];
  return (channels as unknown[]).flatMap((c) => (c && typeof c === 'object' && typeof (c as { channel?: unknown }).channel === 'string' ? [c as { channel: string; trust?: unknown }] : []));
}

function trustedCertificateOf(trust: unknown): { thumbprint: string; subject: string } | null {
  return certificateOf((trust as { certificate?: unknown } | null | undefined)?.certificate);
}

/** A certificate as a gateway reports it, or null when it is not one. */
function certificateOf(v: unknown): CertificateInfo | null {
  if (!v || typeof v !== 'object') return null;
  const c = v as Record<string, unknown>;
  const text = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : '');
  if (typeof c.thumbprint !== 'string' || typeof c.subject !== 'string') return null;
  return {
    thumbprint: c.thumbprint,
    subject: c.subject,
    issuer: text('issuer'),
    notBefore: text('notBefore'),
    notAfter: text('notAfter'),
    applicationUri: typeof c.applicationUri === 'string' ? c.applicationUri : null,
    pem: text('pem'),
  };
}
