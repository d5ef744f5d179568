/**
 * The OPC UA driver: one node-opcua client session per channel, one subscription with a monitored item
 * per bound point (sampling interval and absolute/percent deadband per point), reads and typed writes,
 * browsing for discovery, and security modes None and SignAndEncrypt with the client's certificate in a
 * PKI folder. When the link drops, node-opcua reconnects forever with backoff; after a server restart
 * the old session and subscription are gone, so the driver rebuilds the subscription and every monitored
 * item on the new session itself rather than trusting the server to still know them.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  DeviceHealth,
  DeviceLinkState,
  Driver,
  DriverFailure,
  DriverHealth,
  DriverReading,
  FailureSink,
  OpcUaChannelConfig,
  PointValue,
  ReadingSink,
  ReadPlanEntry,
} from '@iip/core';
import { IipError } from '@iip/core';
import {
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  type DataValue,
  DeadbandType,
  MessageSecurityMode,
  NodeClass,
  OPCUAClient,
  type OPCUACertificateManager,
  resolveNodeId,
  SecurityPolicy,
  type StatusCode,
  TimestampsToReturn,
  Variant,
} from 'node-opcua';
import { DEVICE_ACCESS_ERRORS } from '../../errors.js';
import { ensureOpcUaClientCertificate, opcUaClientApplicationUri, opcUaClientCertificateFile, openOpcUaPki } from './opcua-client-pki.js';
import { connectError, statusError } from './opcua-errors.js';
import { type BoundOpcUaPoint, bindOpcUaPoints, type OpcUaPointMap } from './opcua-point-map.js';
import { pointValueOf, variantValueFor } from './opcua-values.js';

// The codes used here are defined in device-access's error table; referencing it keeps the registration
// (and with it the HTTP status of each code) loaded wherever the driver is.
void DEVICE_ACCESS_ERRORS;

export type OpcUaLog = (level: 'info' | 'warn', msg: string, fields?: object) => void;

export interface OpcUaDriverOptions {
  readonly log?: OpcUaLog;
  /** Application name in the client certificate and session (default "iip-edge"). */
  readonly applicationName?: string;
  /** Attempts for the first connect before connect() rejects (default 3); reconnects later never give up. */
  readonly connectAttempts?: number;
}

export type OpcUaNodeClassName = 'Object' | 'Variable' | 'Method' | 'ObjectType' | 'VariableType' | 'ReferenceType' | 'DataType' | 'View' | 'Unspecified';

/** One child found by browse(). */
export interface OpcUaBrowseEntry {
  readonly nodeId: string;
  readonly browseName: string;
  readonly displayName: string;
  readonly nodeClass: OpcUaNodeClassName;
}

interface DeviceStats {
  state: DeviceLinkState;
  lastLatencyMs: number | null;
  polls: number;
  errors: number;
  consecutiveFailures: number;
  lastError: DriverFailure | null;
}

const NODE_CLASS_NAMES: Readonly<Record<number, OpcUaNodeClassName>> = {
  [NodeClass.Object]: 'Object',
  [NodeClass.Variable]: 'Variable',
  [NodeClass.Method]: 'Method',
  [NodeClass.ObjectType]: 'ObjectType',
  [NodeClass.VariableType]: 'VariableType',
  [NodeClass.ReferenceType]: 'ReferenceType',
  [NodeClass.DataType]: 'DataType',
  [NodeClass.View]: 'View',
};

const POLICIES: Readonly<Record<NonNullable<OpcUaChannelConfig['securityPolicy']>, SecurityPolicy>> = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
};

/** Client PKI used when a None-mode channel names no pkiDir: the certificate is still required by the stack. */
const DEFAULT_NONE_PKI = join(tmpdir(), 'iip-opcua-client-pki');

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export class OpcUaDriver implements Driver {
  readonly channel: string;
  readonly protocol = 'opcua';
  private readonly config: OpcUaChannelConfig;
  private readonly points: OpcUaPointMap;
  private readonly log: OpcUaLog;
  private readonly applicationName: string;
  private readonly connectAttempts: number;
  private readonly pkiDir: string;
  private readonly stats = new Map<string, DeviceStats>();
  private readonly dataTypes = new Map<string, DataType>();
  private client: OPCUAClient | null = null;
  private certificateManager: OPCUACertificateManager | null = null;
  private session: ClientSession | null = null;
  private subscription: ClientSubscription | null = null;
  private onReadings: ReadingSink | null = null;
  private onFailure: FailureSink | null = null;
  private connected = false;
  private closed = false;
  private rebuilding: Promise<void> | null = null;
  private pending: DriverReading[] = [];
  private flushScheduled = false;

  constructor(channel: OpcUaChannelConfig, opts: OpcUaDriverOptions = {}) {
    this.config = channel;
    this.channel = channel.id;
    this.points = bindOpcUaPoints(channel);
    this.log = opts.log ?? (() => {});
    this.applicationName = opts.applicationName ?? 'iip-edge';
    this.connectAttempts = Math.max(1, opts.connectAttempts ?? 3);
    if (channel.securityMode !== 'None' && !channel.pkiDir) {
      throw new IipError('IIP_ERR_DRIVER_CONFIG', `channels[${channel.id}]: securityMode ${channel.securityMode} needs pkiDir (the client's certificate folder)`, {
        path: `channels[${channel.id}].pkiDir`,
      });
    }
    this.pkiDir = channel.pkiDir ?? DEFAULT_NONE_PKI;
    for (const device of this.points.keys()) {
      this.stats.set(device, { state: 'unknown', lastLatencyMs: null, polls: 0, errors: 0, consecutiveFailures: 0, lastError: null });
    }
  }

  /** The client's application certificate (DER), created on first use; hand it to the server to trust. */
  async certificate(): Promise<Buffer> {
    return (await ensureOpcUaClientCertificate(this.pkiDir, this.applicationName)).certificate;
  }

  async connect(): Promise<void> {
    if (this.closed) throw new IipError('IIP_ERR_DRIVER_CONNECT', `OPC UA channel ${this.channel} is closed; create a new driver`, { channel: this.channel });
    if (this.client) return;
    const ctx = {
      channel: this.channel,
      endpointUrl: this.config.endpointUrl,
      securityMode: this.config.securityMode,
      pkiDir: this.pkiDir,
      certificateFile: opcUaClientCertificateFile(this.pkiDir),
    };
    await ensureOpcUaClientCertificate(this.pkiDir, this.applicationName);
    // With security None nothing is signed, so there is nothing to gain from rejecting an unknown server.
    const cm = await openOpcUaPki(this.pkiDir, this.config.securityMode === 'None');
    const securityMode = this.config.securityMode === 'None' ? MessageSecurityMode.None : MessageSecurityMode.SignAndEncrypt;
    const policy = this.config.securityPolicy ?? (this.config.securityMode === 'None' ? 'None' : 'Basic256Sha256');
    const client = OPCUAClient.create({
      applicationName: this.applicationName,
      applicationUri: opcUaClientApplicationUri(this.applicationName),
      clientCertificateManager: cm,
      securityMode,
      securityPolicy: POLICIES[policy],
      endpointMustExist: false,
      keepSessionAlive: true,
      requestedSessionTimeout: 60_000,
      // maxRetry bounds the first connect only; node-opcua retries reconnects forever (maxRetry > 0 enables them)
      connectionStrategy: { maxRetry: this.connectAttempts, initialDelay: 250, maxDelay: 5_000, randomisationFactor: 0.2 },
    });
    client.on('connection_lost', () => this.onConnectionLost());
    client.on('after_reconnection', () => this.log('info', 'OPC UA secure channel re-established', { channel: this.channel }));
    client.on('connection_reestablished', () => {
      if (!this.closed) this.connected = true;
    });
    try {
      await client.connect(this.config.endpointUrl);
      this.client = client;
      this.certificateManager = cm;
      const session = await client.createSession();
      this.session = session;
      session.on('session_restored', () => this.onReconnected());
    } catch (e) {
      this.client = null;
      this.certificateManager = null;
      await withTimeout(client.disconnect(), 3_000).catch(() => undefined);
      await cm.dispose().catch(() => undefined);
      throw connectError(e, ctx);
    }
    this.connected = true;
    this.log('info', 'OPC UA session open', { channel: this.channel, endpointUrl: this.config.endpointUrl, securityMode: this.config.securityMode });
  }

  readPlan(): readonly ReadPlanEntry[] {
    const plan: ReadPlanEntry[] = [];
    for (const points of this.points.values()) {
      for (const p of points.values()) {
        const db = p.config.deadband ? `, ${p.config.deadband.type} deadband ${p.config.deadband.value}` : '';
        plan.push({
          device: p.device,
          request: `monitor ${p.config.nodeId} (sampling ${p.config.samplingIntervalMs ?? this.publishingInterval()} ms${db})`,
          properties: [p.property],
        });
      }
    }
    return plan;
  }

  async subscribe(onReadings: ReadingSink, onFailure?: FailureSink): Promise<void> {
    this.requireSession();
    this.onReadings = onReadings;
    this.onFailure = onFailure ?? null;
    await this.buildSubscription();
  }

  async readOnce(device: string): Promise<DriverReading[]> {
    const points = this.devicePoints(device);
    const session = this.requireSession();
    const list = [...points.values()];
    const started = Date.now();
    let values: DataValue[];
    try {
      values = await session.read(
        list.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })),
        0,
      );
    } catch (e) {
      const err = this.asError(e, 'read', { device });
      this.recordFailure(device, err);
      throw err;
    }
    const ts = Date.now();
    const readings: DriverReading[] = [];
    let firstBad: IipError | null = null;
    values.forEach((dv, i) => {
      const p = list[i];
      if (!p) return;
      if (dv.statusCode.isNotGood()) {
        const err = statusError(dv.statusCode, 'read', { device, property: p.property, nodeId: p.config.nodeId });
        firstBad ??= err;
        this.recordFailure(device, err);
        return;
      }
      this.rememberType(p, dv);
      const value = pointValueOf(dv.value);
      if (value !== null) readings.push({ device, property: p.property, ts, value });
    });
    if (readings.length === 0 && firstBad) throw firstBad;
    this.recordSuccess(device, ts - started);
    return readings;
  }

  async write(device: string, property: string, value: PointValue): Promise<void> {
    const p = this.devicePoints(device).get(property);
    if (!p) {
      throw new IipError('IIP_ERR_DRIVER_UNKNOWN_POINT', `device ${device} has no OPC UA point bound to "${property}"`, { channel: this.channel, device, property });
    }
    const session = this.requireSession();
    const where = { channel: this.channel, device, property, nodeId: p.config.nodeId };
    const dataType = await this.dataTypeOf(session, p);
    const variant = new Variant(variantValueFor(dataType, value, where));
    let status: StatusCode;
    try {
      status = await session.write({ nodeId: p.nodeId, attributeId: AttributeIds.Value, value: { value: variant } });
    } catch (e) {
      throw this.asError(e, 'write', where);
    }
    if (status.isNotGood()) throw statusError(status, 'write', where);
  }

  /** Children of a node (default: the Objects folder), for discovering what a server offers. */
  async browse(nodeId = 'ns=0;i=85'): Promise<OpcUaBrowseEntry[]> {
    const session = this.requireSession();
    let target: ReturnType<typeof resolveNodeId>;
    try {
      target = resolveNodeId(nodeId);
    } catch (e) {
      throw new IipError('IIP_ERR_DRIVER_CONFIG', `node id "${nodeId}" cannot be parsed`, { nodeId, cause: String(e) });
    }
    const out: OpcUaBrowseEntry[] = [];
    try {
      let result = await session.browse({
        nodeId: target,
        browseDirection: BrowseDirection.Forward,
        referenceTypeId: 'HierarchicalReferences',
        includeSubtypes: true,
        nodeClassMask: 0,
        resultMask: 0x3f,
      });
      for (;;) {
        if (result.statusCode.isNotGood()) throw statusError(result.statusCode, 'browse', { channel: this.channel, nodeId });
        for (const r of result.references ?? []) {
          out.push({
            nodeId: r.nodeId.toString(),
            browseName: r.browseName.name ?? '',
            displayName: r.displayName.text ?? '',
            nodeClass: NODE_CLASS_NAMES[r.nodeClass] ?? 'Unspecified',
          });
        }
        if (!result.continuationPoint || result.continuationPoint.length === 0) break;
        result = await session.browseNext(result.continuationPoint, false);
      }
    } catch (e) {
      throw this.asError(e, 'browse', { nodeId });
    }
    return out;
  }

  health(): DriverHealth {
    const devices: DeviceHealth[] = [...this.stats.entries()].map(([device, s]) => ({ device, ...s }));
    return { channel: this.channel, protocol: this.protocol, connected: this.connected, devices };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onReadings = null;
    this.onFailure = null;
    this.connected = false;
    const client = this.client;
    const cm = this.certificateManager;
    this.client = null;
    this.session = null;
    this.subscription = null;
    this.certificateManager = null;
    // disconnect() closes the session and cancels a reconnection in progress; a dead server must not hang close()
    if (client) await withTimeout(client.disconnect(), 5_000).catch(() => undefined);
    if (cm) await cm.dispose().catch(() => undefined);
  }

  private publishingInterval(): number {
    return this.config.publishingIntervalMs ?? 1_000;
  }

  private devicePoints(device: string): ReadonlyMap<string, BoundOpcUaPoint> {
    const points = this.points.get(device);
    if (!points) throw new IipError('IIP_ERR_DRIVER_UNKNOWN_POINT', `OPC UA channel ${this.channel} has no device "${device}"`, { channel: this.channel, device });
    return points;
  }

  private requireSession(): ClientSession {
    if (!this.session || this.closed) {
      throw new IipError('IIP_ERR_DRIVER_CONNECT', `OPC UA channel ${this.channel} is not connected; call connect() first`, { channel: this.channel });
    }
    // while node-opcua reconnects, requests would queue until the link is back; fail fast instead
    if (!this.connected) {
      throw new IipError('IIP_ERR_DRIVER_CONNECT', `OPC UA channel ${this.channel} lost its connection to ${this.config.endpointUrl}; reconnecting`, {
        channel: this.channel,
        endpointUrl: this.config.endpointUrl,
      });
    }
    return this.session;
  }

  private asError(e: unknown, operation: string, where: Record<string, unknown>): IipError {
    if (e instanceof IipError) return e;
    const message = e instanceof Error ? e.message : String(e);
    const status = /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1];
    if (status) {
      return new IipError('IIP_ERR_OPCUA_STATUS', `OPC UA ${operation} failed: ${message}`, { channel: this.channel, ...where, statusCode: status, operation });
    }
    return new IipError('IIP_ERR_DRIVER_CONNECT', `OPC UA ${operation} on ${this.channel} failed: ${message}`, { channel: this.channel, ...where, operation, cause: message });
  }

  private rememberType(p: BoundOpcUaPoint, dv: DataValue): void {
    if (dv.value.dataType !== DataType.Null) this.dataTypes.set(`${p.device}\u0000${p.property}`, dv.value.dataType);
  }

  /** The node's built-in type, learnt from a read of its value (servers reject writes of another type). */
  private async dataTypeOf(session: ClientSession, p: BoundOpcUaPoint): Promise<DataType> {
    const key = `${p.device}\u0000${p.property}`;
    const known = this.dataTypes.get(key);
    if (known !== undefined) return known;
    const where = { channel: this.channel, device: p.device, property: p.property, nodeId: p.config.nodeId };
    let dv: DataValue;
    try {
      dv = await session.read({ nodeId: p.nodeId, attributeId: AttributeIds.Value }, 0);
    } catch (e) {
      throw this.asError(e, 'read', where);
    }
    if (dv.statusCode.isNotGood()) throw statusError(dv.statusCode, 'read', where);
    this.rememberType(p, dv);
    const found = this.dataTypes.get(key);
    if (found === undefined) throw new IipError('IIP_ERR_OPCUA_STATUS', `node ${p.config.nodeId} holds no value, so its data type is unknown`, { ...where, statusCode: 'BadWaitingForInitialData' });
    return found;
  }

  private async buildSubscription(): Promise<void> {
    const session = this.requireSession();
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: this.publishingInterval(),
      requestedLifetimeCount: 120,
      requestedMaxKeepAliveCount: 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.subscription = subscription;
    // One CreateMonitoredItems request per distinct (sampling, deadband) instead of one per point.
    const groups = new Map<string, BoundOpcUaPoint[]>();
    for (const points of this.points.values()) {
      for (const p of points.values()) {
        const key = `${p.config.samplingIntervalMs ?? -1}|${p.config.deadband?.type ?? ''}|${p.config.deadband?.value ?? ''}`;
        const list = groups.get(key);
        if (list) list.push(p);
        else groups.set(key, [p]);
      }
    }
    for (const list of groups.values()) {
      const first = list[0];
      if (!first) continue;
      const db = first.config.deadband;
      const filter = db
        ? new DataChangeFilter({
            trigger: DataChangeTrigger.StatusValue,
            deadbandType: db.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
            deadbandValue: db.value,
          })
        : null;
      const group = await subscription.monitorItems(
        list.map((p) => ({ nodeId: p.nodeId, attributeId: AttributeIds.Value })),
        { samplingInterval: first.config.samplingIntervalMs ?? -1, discardOldest: true, queueSize: 10, filter },
        TimestampsToReturn.Both,
      );
      group.on('changed', (_item, dataValue, index) => {
        const p = list[index];
        if (p && this.subscription === subscription) this.onData(p, dataValue);
      });
      group.monitoredItems.forEach((item, i) => {
        const p = list[i];
        if (p && item.statusCode.isNotGood()) {
          const err = statusError(item.statusCode, 'monitor', { channel: this.channel, device: p.device, property: p.property, nodeId: p.config.nodeId });
          this.recordFailure(p.device, err);
        }
      });
    }
  }

  private onData(p: BoundOpcUaPoint, dv: DataValue): void {
    if (!this.onReadings) return;
    if (dv.statusCode.isNotGood()) {
      this.recordFailure(p.device, statusError(dv.statusCode, 'monitor', { channel: this.channel, device: p.device, property: p.property, nodeId: p.config.nodeId }));
      return;
    }
    this.rememberType(p, dv);
    const value = pointValueOf(dv.value);
    if (value === null) return;
    const s = this.stats.get(p.device);
    if (s && s.state !== 'ok') {
      s.state = 'ok';
      s.consecutiveFailures = 0;
    }
    // stamped on arrival, like a Modbus poll: server clocks drift and an unchanged value keeps an old source time
    this.pending.push({ device: p.device, property: p.property, ts: Date.now(), value });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.onReadings?.(batch);
  }

  private onConnectionLost(): void {
    if (this.closed) return;
    this.connected = false;
    this.log('warn', 'OPC UA connection lost; reconnecting', { channel: this.channel, endpointUrl: this.config.endpointUrl });
    const failure = new IipError('IIP_ERR_DRIVER_CONNECT', `lost the connection to ${this.config.endpointUrl}`, { channel: this.channel });
    for (const device of this.stats.keys()) this.recordFailure(device, failure);
  }

  /**
   * After a reconnect node-opcua either re-activates the old session (server still up: subscription
   * intact) or creates a new one (server restarted: subscription gone). The second case leaves our
   * subscription object pointing at nothing, so rebuild unless the server still reports it.
   */
  private onReconnected(): void {
    if (this.closed || !this.client) return;
    this.connected = true;
    this.log('info', 'OPC UA session restored', { channel: this.channel });
    if (!this.onReadings || this.rebuilding) return;
    this.rebuilding = this.rebuildIfLost()
      .catch((e: unknown) => {
        this.log('warn', 'could not re-create the OPC UA subscription; retrying on the next reconnect', { channel: this.channel, error: String(e) });
      })
      .finally(() => {
        this.rebuilding = null;
      });
  }

  private async rebuildIfLost(): Promise<void> {
    const old = this.subscription;
    if (!this.session || !old) return;
    // Give node-opcua's own repair (transfer or re-create) a moment, then check what the server knows.
    await new Promise((r) => setTimeout(r, 500));
    if (this.closed || this.subscription !== old) return;
    const alive = await this.serverKnowsSubscription(old);
    if (alive) return;
    this.log('warn', 'OPC UA subscription lost with the old session; re-creating it and its monitored items', { channel: this.channel });
    this.subscription = null;
    await withTimeout(old.terminate(), 2_000).catch(() => undefined);
    if (this.closed) return;
    await this.buildSubscription();
  }

  /** True when the server still knows the subscription: SetPublishingMode on a lost one answers BadSubscriptionIdInvalid. */
  private async serverKnowsSubscription(subscription: ClientSubscription): Promise<boolean> {
    try {
      const status = await withTimeout(subscription.setPublishingMode(true), 3_000);
      return status?.isGood() === true;
    } catch {
      return false;
    }
  }

  private recordSuccess(device: string, latencyMs: number): void {
    const s = this.stats.get(device);
    if (!s) return;
    s.state = 'ok';
    s.lastLatencyMs = latencyMs;
    s.polls += 1;
    s.consecutiveFailures = 0;
  }

  private recordFailure(device: string, err: IipError): void {
    const s = this.stats.get(device);
    const failure: DriverFailure = { code: err.code, message: err.message, ts: Date.now(), details: err.details };
    if (s) {
      s.errors += 1;
      s.consecutiveFailures += 1;
      s.lastError = failure;
      s.state = 'failing';
    }
    this.onFailure?.(device, failure);
  }
}
