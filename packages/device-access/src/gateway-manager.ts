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
  type TenantId,
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

interface Pending {
  resolve(v: { ok: true } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } }): void;
  timer: NodeJS.Timeout;
}

function bad(path: string, message: string): never {
  throw new IipError('IIP_ERR_GATEWAY_CONFIG_INVALID', `${path}: ${message}`, { path });
}

/** Structural checks the platform can make; protocol details are checked again by each driver. */
export function checkGatewayConfig(c: unknown, deviceExists: (id: string) => boolean): GatewayConfig {
  if (!c || typeof c !== 'object' || !Array.isArray((c as GatewayConfig).channels)) bad('config', 'needs a "channels" array');
  const cfg = c as GatewayConfig;
  const channelIds = new Set<string>();
  const devices = new Set<string>();
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
    });
  });
  for (const [i, r] of (cfg.rules ?? []).entries()) {
    if (!devices.has(r.device)) bad(`rules[${i}].device`, `device "${r.device}" is not in any channel`);
    if (!['>', '>=', '<', '<='].includes(r.op)) bad(`rules[${i}].op`, `unknown operator "${String(r.op)}"`);
    if (typeof r.threshold !== 'number' || !Number.isFinite(r.threshold)) bad(`rules[${i}].threshold`, 'must be a number');
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

  async setConfig(tenant: TenantId, gateway: DeviceId, config: unknown, actor: string, deviceExists: (id: string) => boolean): Promise<GatewayConfigRecord> {
    const cfg = checkGatewayConfig(config, deviceExists);
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

  /**
   * Sends a write to the gateway that owns the device and waits for its answer. Every attempt, successful or
   * not, is written to the audit log with the old and the new value.
   */
  async write(req: { tenant: TenantId; device: string; property: string; value: PointValue; oldValue: PointValue | null; actor: string }): Promise<void> {
    const gateway = this.ownerOf(req.tenant, req.device);
    const entry = { tenant: req.tenant, ts: this.now(), actor: req.actor, action: 'write', device: req.device, property: req.property, oldValue: req.oldValue, newValue: req.value };
    if (!gateway) {
      this.audit.append({ ...entry, result: 'error', error: 'IIP_ERR_WRITE_NO_ROUTE' });
      throw new IipError('IIP_ERR_WRITE_NO_ROUTE', `device "${req.device}" is not bound to an edge gateway`, { device: req.device });
    }
    const id = randomUUID();
    const timeoutMs = this.opts.commandTimeoutMs ?? 10_000;
    const result = new Promise<{ ok: true } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } }>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: { code: 'IIP_ERR_COMMAND_TIMEOUT', message: `gateway "${gateway}" did not answer within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    try {
      await this.link.publishToDevice(req.tenant, gateway, `commands/${id}`, JSON.stringify({ type: 'write', device: req.device, property: req.property, value: req.value }), { retain: false, qos: 1 });
    } catch (e) {
      const p = this.pending.get(id);
      if (p) clearTimeout(p.timer);
      this.pending.delete(id);
      this.audit.append({ ...entry, result: 'error', error: 'IIP_ERR_COMMAND_TIMEOUT' });
      throw new IipError('IIP_ERR_COMMAND_TIMEOUT', `gateway "${gateway}" is not reachable: ${(e as Error).message}`, { gateway });
    }
    const r = await result;
    if (r.ok) {
      this.audit.append({ ...entry, result: 'ok', error: null });
      return;
    }
    this.audit.append({ ...entry, result: 'error', error: r.error.code });
    if (r.error.code === 'IIP_ERR_COMMAND_TIMEOUT') throw new IipError('IIP_ERR_COMMAND_TIMEOUT', r.error.message, { gateway });
    throw new IipError('IIP_ERR_COMMAND_FAILED', `gateway "${gateway}": ${r.error.code}: ${r.error.message}`, { gateway, error: r.error });
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
