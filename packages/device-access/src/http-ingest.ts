/**
 * HTTP ingest, transport-neutral: the server's route hands over the Authorization header and the raw body
 * and sends back what this returns. Devices authenticate with HTTP Basic `{tenant}/{device}:{secret}` (or
 * `{device}:{secret}` in the default tenant) — the same credential as MQTT.
 */
import { IipError } from '@iip/core';
import type { TelemetryAdmission } from './admission.js';
import type { EventAdmission } from './event-admission.js';
import { type DeviceDirectory, parseDeviceUsername } from './directory.js';

/** At most this many duplicates are named one by one in a reply; `duplicates` always counts all of them. */
export const MAX_NAMED_DUPLICATES = 100;

/**
 * The answer to an accepted message: `accepted` points were stored; `duplicates` points repeated a
 * (property, ts) already stored and were not stored again; the first of them are named.
 */
export interface IngestAccepted {
  accepted: number;
  duplicates: number;
  duplicatePoints?: Array<{ property: string; ts: number }>;
  device: string;
}

export interface IngestReply {
  readonly status: number;
  readonly body: IngestAccepted | { code: string; message: string; details: Readonly<Record<string, unknown>> };
}

export class HttpIngest {
  constructor(
    private readonly directory: DeviceDirectory,
    private readonly admission: TelemetryAdmission,
    private readonly defaultTenant: string,
    private readonly events?: EventAdmission,
  ) {}

  /** Device events (POST /api/v1/ingest/events): 202 once stored, with their sequence numbers; refusals as for telemetry. */
  async handleEvents(authorization: string | undefined, body: Uint8Array | string): Promise<{ status: number; body: unknown }> {
    try {
      const who = await this.authenticate(authorization);
      if (!this.events) throw new IipError('IIP_ERR_TOPIC_UNKNOWN', 'this server does not store device events', {});
      const stored = await this.events.admitRaw(who.tenant, who.device, body);
      return { status: 202, body: { accepted: stored.length, device: who.device, seqs: stored.map((e) => e.seq) } };
    } catch (e) {
      if (e instanceof IipError) return { status: e.status, body: e.toJSON() };
      throw e;
    }
  }

  /**
   * Resolves with the reply once the message is settled: 202 only after its points are committed (ADR 0001
   * §6); a refusal with its 4xx code; a commit that failed with 503 (IIP_ERR_HISTORIAN_WRITE_FAILED), so the
   * device sends again — a re-delivery is stored once.
   */
  async handle(authorization: string | undefined, body: Uint8Array | string): Promise<IngestReply> {
    try {
      const who = await this.authenticate(authorization);
      const r = await this.admission.admitRaw(who.tenant, who.device, body);
      const reply: IngestAccepted = { accepted: r.accepted, duplicates: r.duplicates.length, device: who.device };
      if (r.duplicates.length > 0) {
        reply.duplicatePoints = r.duplicates.slice(0, MAX_NAMED_DUPLICATES).map((p) => ({ property: p.property, ts: p.ts }));
      }
      return { status: 202, body: reply };
    } catch (e) {
      if (e instanceof IipError) return { status: e.status, body: e.toJSON() };
      throw e;
    }
  }

  private async authenticate(authorization: string | undefined): Promise<{ tenant: string; device: string }> {
    const m = authorization ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization) : null;
    if (!m) {
      throw new IipError('IIP_ERR_DEVICE_AUTH_FAILED', 'device credentials required: HTTP Basic `{tenant}/{device}:{secret}`', {});
    }
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const who = colon > 0 ? parseDeviceUsername(decoded.slice(0, colon), this.defaultTenant) : undefined;
    if (!who) throw new IipError('IIP_ERR_DEVICE_AUTH_FAILED', 'malformed device credentials', {});
    const entry = await this.directory.lookup(who.tenant, who.device);
    if (!entry) {
      const e = new IipError('IIP_ERR_DEVICE_UNKNOWN', `device "${who.device}" does not exist in tenant "${who.tenant}"`, who);
      this.admission.countRejection(e);
      throw e;
    }
    if (!entry.verifySecret(decoded.slice(colon + 1))) {
      const e = new IipError('IIP_ERR_DEVICE_AUTH_FAILED', `wrong secret for device "${who.device}"`, { device: who.device });
      this.admission.countRejection(e);
      throw e;
    }
    return who;
  }
}
