/**
 * Reads a gateway's reported state into the shape the Gateways pages show. The document comes from the
 * gateway itself (any firmware version, possibly half-written), so every field is checked and a wrong or
 * missing one becomes `undefined` instead of breaking the page. Pure (no DOM), unit-tested in Node.
 */
import type { DeviceLinkState, GatewayConfig } from '@iip/core';
import { type OutageView, readOutages, readTrust, type TrustView } from './gateway-trust/trust-model';

export interface BufferView {
  readonly points: number | undefined;
  readonly bytes: number | undefined;
  readonly oldestTs: number | undefined;
  readonly dropped: number | undefined;
}

export interface DeviceHealthView {
  readonly device: string;
  /** `undefined` when the device is in the desired config but the gateway has not reported it. */
  readonly state: DeviceLinkState | undefined;
  readonly lastLatencyMs: number | undefined;
  readonly polls: number | undefined;
  readonly errors: number | undefined;
  readonly consecutiveFailures: number | undefined;
  readonly lastError: { readonly code: string; readonly message: string; readonly ts: number | undefined } | undefined;
}

export interface ChannelView {
  readonly channel: string;
  readonly protocol: string | undefined;
  /** `undefined` when the channel is configured but absent from the report. */
  readonly connected: boolean | undefined;
  /** The gateway's run state of the channel; `failed` means it cannot run with this configuration. */
  readonly state?: 'starting' | 'running' | 'failed' | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
  /** Set while the link is refused over certificate trust (OPC UA). */
  readonly trust?: TrustView | undefined;
  /** Periods the link was down, newest first (undefined when the driver keeps no history). */
  readonly outages?: readonly OutageView[] | undefined;
  readonly devices: readonly DeviceHealthView[];
}

export interface GatewayStateView {
  readonly ts: number | undefined;
  readonly appliedVersion: number | undefined;
  readonly buffer: BufferView;
  readonly uplink: {
    readonly connected: boolean | undefined;
    readonly sentPoints: number | undefined;
    readonly lastConnectedAt: number | undefined;
  };
  readonly channels: readonly ChannelView[];
  readonly rulesFired: number | undefined;
  /** Rows the platform refused, kept in the gateway's dead-letter table (`iip edge dead-letter list`). */
  readonly deadLetter: { readonly points: number | undefined; readonly lastCode: string | undefined; readonly lastMessage: string | undefined };
}

const LINK_STATES: readonly DeviceLinkState[] = ['unknown', 'ok', 'failing', 'demoted'];

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function readDevice(v: unknown): DeviceHealthView | undefined {
  const d = obj(v);
  const device = str(d.device);
  if (!device) return undefined;
  const state = LINK_STATES.find((s) => s === d.state) ?? 'unknown';
  const e = obj(d.lastError);
  const code = str(e.code);
  return {
    device,
    state,
    lastLatencyMs: num(d.lastLatencyMs),
    polls: num(d.polls),
    errors: num(d.errors),
    consecutiveFailures: num(d.consecutiveFailures),
    lastError: code ? { code, message: str(e.message) ?? '', ts: num(e.ts) } : undefined,
  };
}

function readChannel(v: unknown): ChannelView | undefined {
  const c = obj(v);
  const channel = str(c.channel);
  if (!channel) return undefined;
  const e = obj(c.error);
  const code = str(e.code);
  return {
    channel,
    protocol: str(c.protocol),
    connected: bool(c.connected),
    state: c.state === 'starting' || c.state === 'running' || c.state === 'failed' ? c.state : undefined,
    error: code ? { code, message: str(e.message) ?? '' } : undefined,
    trust: readTrust(c.trust),
    outages: readOutages(c.outages),
    devices: arr(c.devices).flatMap((d) => readDevice(d) ?? []),
  };
}

export function readGatewayState(state: unknown): GatewayStateView {
  const s = obj(state);
  const b = obj(s.buffer);
  const u = obj(s.uplink);
  return {
    ts: num(s.ts),
    appliedVersion: num(s.appliedVersion),
    buffer: { points: num(b.points), bytes: num(b.bytes), oldestTs: num(b.oldestTs), dropped: num(b.dropped) },
    uplink: { connected: bool(u.connected), sentPoints: num(u.sentPoints), lastConnectedAt: num(u.lastConnectedAt) },
    channels: arr(s.channels).flatMap((c) => readChannel(c) ?? []),
    rulesFired: num(obj(s.rules).fired),
    deadLetter: { points: num(obj(s.deadLetter).points), lastCode: str(obj(obj(s.deadLetter).last).code), lastMessage: str(obj(obj(s.deadLetter).last).message) },
  };
}

/**
 * Channels and devices as configured, each with what the gateway reported about it, followed by any
 * reported channel or device the desired config no longer lists (a gateway still on an older version).
 * Showing configured-but-silent devices matters: a device the gateway never polls is the one to look at.
 */
export function mergeChannels(config: GatewayConfig | undefined, reported: readonly ChannelView[]): ChannelView[] {
  const byId = new Map(reported.map((c) => [c.channel, c]));
  const out: ChannelView[] = [];
  for (const ch of config?.channels ?? []) {
    const rep = byId.get(ch.id);
    byId.delete(ch.id);
    const health = new Map((rep?.devices ?? []).map((d) => [d.device, d]));
    const devices: DeviceHealthView[] = ch.devices.map((d) => {
      const h = health.get(d.id);
      health.delete(d.id);
      return h ?? silentDevice(d.id);
    });
    out.push({
      channel: ch.id,
      protocol: rep?.protocol ?? ch.protocol,
      connected: rep?.connected,
      state: rep?.state,
      error: rep?.error,
      trust: rep?.trust,
      outages: rep?.outages,
      devices: [...devices, ...health.values()],
    });
  }
  return [...out, ...byId.values()];
}

function silentDevice(device: string): DeviceHealthView {
  return {
    device,
    state: undefined,
    lastLatencyMs: undefined,
    polls: undefined,
    errors: undefined,
    consecutiveFailures: undefined,
    lastError: undefined,
  };
}

export type SyncState = 'inSync' | 'pending' | 'noConfig';

/** Whether the gateway runs the configuration the platform wants it to run. */
export function syncState(desiredVersion: number | null | undefined, appliedVersion: number | null | undefined): SyncState {
  if (desiredVersion === null || desiredVersion === undefined) return 'noConfig';
  return appliedVersion === desiredVersion ? 'inSync' : 'pending';
}

export type HealthTone = 'ok' | 'bad' | 'warn' | 'unknown';

export function linkStateTone(state: DeviceLinkState | undefined): HealthTone {
  switch (state) {
    case 'ok':
      return 'ok';
    case 'failing':
      return 'bad';
    case 'demoted':
      return 'warn';
    case 'unknown':
    case undefined:
      return 'unknown';
    default: {
      const never: never = state;
      return never;
    }
  }
}
