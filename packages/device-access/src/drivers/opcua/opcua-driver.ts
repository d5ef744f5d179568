/**
 * The OPC UA driver: one node-opcua client session per channel, one subscription with a monitored item
 * per bound point (sampling interval and absolute/percent deadband per point), reads and typed writes,
 * browsing for discovery, and security modes None and SignAndEncrypt with the client's certificate in a
 * PKI folder. When the link drops, node-opcua reconnects forever with backoff; after a server restart
 * the old session and subscription are gone, so the driver rebuilds the subscription and every monitored
 * item on the new session itself rather than trusting the server to still know them.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CertificateInfo,
  ChannelOutage,
  DeviceHealth,
  DeviceLinkState,
  Driver,
  DriverFailure,
  DriverHealth,
  DriverReading,
  FailureSink,
  OpcUaChannelConfig,
  PointFailure,
  PointValue,
  ReadingSink,
  ReadPlanEntry,
  TrustProblem,
} from '@iip/core';
import { IipError } from '@iip/core';
import {
  AttributeIds,
  BrowseDirection,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
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
  type UserIdentityInfo,
  UserTokenType,
  Variant,
} from 'node-opcua';
import { DEVICE_ACCESS_ERRORS } from '../../errors.js';
import {
  certificateInfo,
  ensureOpcUaClientCertificate,
  fetchServerCertificate,
  opcUaClientApplicationUri,
  opcUaClientCertificateFile,
  openOpcUaPki,
  trustOpcUaServerCertificate,
} from './opcua-client-pki.js';
import { connectError, statusError } from './opcua-errors.js';
import { type BoundOpcUaPoint, bindOpcUaPoints, type OpcUaPointMap } from './opcua-point-map.js';
import { type NodeShape, readValue, shapeOf, variantFor } from './opcua-values.js';

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
  readonly pointFailures: Map<string, PointFailure>;
}

/** Outages kept per channel (the oldest are forgotten beyond this). */
const MAX_OUTAGES = 50;

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

const MODES: Readonly<Record<OpcUaChannelConfig['securityMode'], MessageSecurityMode>> = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
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
  private readonly shapes = new Map<string, NodeShape>();
  private readonly outages: ChannelOutage[] = [];
  private trust: TrustProblem | null = null;
  /** The DER of the server certificate this client rejected, kept to trust it on request. */
  private rejectedServerCertificate: Buffer | null = null;
  private client: OPCUAClient | null = null;
  /** The client connect() is bringing up (its channel or session not open yet): close() disconnects it too. */
  private connecting: OPCUAClient | null = null;
  private certificateManager: OPCUACertificateManager | null = null;
  private session: ClientSession | null = null;
  private subscription: ClientSubscription | null = null;
  private onReadings: ReadingSink | null = null;
  private onFailure: FailureSink | null = null;
  private connected = false;
  private closed = false;
  private rebuilding: Promise<void> | null = null;
  /**
   * A CreateSubscription in flight. close() lets it settle before it disconnects: node-opcua asserts, from a
   * setImmediate, that the session is still there between the server's answer and its 'started' event, and that
   * assertion ended the process when a new configuration closed the driver while it re-created its subscription
   * after a server restart.
   */
  private creatingSubscription: Promise<unknown> | null = null;
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
      this.stats.set(device, { state: 'unknown', lastLatencyMs: null, polls: 0, errors: 0, consecutiveFailures: 0, lastError: null, pointFailures: new Map() });
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
    // Honoured as configured: Sign stays Sign (signed, not encrypted), never upgraded to SignAndEncrypt.
    const securityMode = MODES[this.config.securityMode];
    const policy = this.config.securityPolicy ?? (this.config.securityMode === 'None' ? 'None' : 'Basic256Sha256');
    let identity: UserIdentityInfo;
    try {
      identity = await this.userIdentity();
    } catch (e) {
      await cm.dispose().catch(() => undefined);
      throw e;
    }
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
      if (this.closed) return;
      this.connected = true;
      this.endOutage();
    });
    let stage: 'channel' | 'session' = 'channel';
    // Closed while it connects (the gateway stopping during a first connect's retries): close() has disconnected
    // this client, and what connect() brought up meanwhile is taken down here — no session, keep-alive or retry timer
    // outlives the driver.
    const closedMeanwhile = () => new IipError('IIP_ERR_DRIVER_CONNECT', `OPC UA channel ${this.channel} was closed while it connected`, { channel: this.channel });
    this.connecting = client;
    try {
      await client.connect(this.config.endpointUrl);
      if (this.closed) throw closedMeanwhile();
      this.client = client;
      this.certificateManager = cm;
      stage = 'session';
      const session = await client.createSession(identity);
      if (this.closed) throw closedMeanwhile();
      this.session = session;
      session.on('session_restored', () => this.onReconnected());
    } catch (e) {
      this.client = null;
      this.certificateManager = null;
      await withTimeout(client.disconnect(), 3_000).catch(() => undefined);
      await cm.dispose().catch(() => undefined);
      if (this.closed) throw closedMeanwhile();
      const err = stage === 'session' ? this.sessionError(e, ctx) : connectError(e, ctx);
      if (stage === 'session') {
        // the secure channel came up, so both certificates are trusted now: an earlier trust problem is over
        this.trust = null;
        this.rejectedServerCertificate = null;
      }
      await this.noteTrustProblem(err);
      this.beginOutage(err);
      throw err;
    } finally {
      this.connecting = null;
    }
    this.connected = true;
    this.trust = null;
    this.rejectedServerCertificate = null;
    this.endOutage();
    this.log('info', 'OPC UA session open', {
      channel: this.channel,
      endpointUrl: this.config.endpointUrl,
      securityMode: this.config.securityMode,
      securityPolicy: policy,
      identity: this.config.identity?.type ?? 'anonymous',
    });
  }

  /**
   * Trusts the server certificate this client rejected on its last connect (health().trust, 'server-untrusted'),
   * if `thumbprint` names it; the next connect attempt then succeeds. Refuses any other thumbprint.
   */
  async trustServerCertificate(thumbprint: string): Promise<CertificateInfo> {
    const wanted = thumbprint.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
    const rejected = this.rejectedServerCertificate;
    const problem = this.trust;
    if (!rejected || problem?.kind !== 'server-untrusted') {
      throw new IipError('IIP_ERR_OPCUA_TRUST_MISMATCH', `channel ${this.channel} has not rejected any server certificate; nothing to trust`, { channel: this.channel, thumbprint: wanted });
    }
    if (problem.certificate.thumbprint !== wanted) {
      throw new IipError(
        'IIP_ERR_OPCUA_TRUST_MISMATCH',
        `channel ${this.channel} rejected the certificate ${problem.certificate.thumbprint} (${problem.certificate.subject}), not ${wanted}; nothing was trusted`,
        { channel: this.channel, thumbprint: wanted, rejected: problem.certificate.thumbprint },
      );
    }
    await trustOpcUaServerCertificate(this.pkiDir, rejected);
    this.trust = null;
    this.rejectedServerCertificate = null;
    this.log('info', 'OPC UA server certificate trusted', { channel: this.channel, thumbprint: wanted, subject: problem.certificate.subject });
    return problem.certificate;
  }

  /** The session's user identity; reads a certificate identity's files (their contents are never logged). */
  private async userIdentity(): Promise<UserIdentityInfo> {
    const id = this.config.identity;
    if (!id || id.type === 'anonymous') return { type: UserTokenType.Anonymous };
    if (id.type === 'username') return { type: UserTokenType.UserName, userName: id.username, password: id.password ?? '' };
    const read = async (file: string, field: string): Promise<Buffer> => {
      try {
        return await readFile(file);
      } catch (e) {
        throw new IipError('IIP_ERR_DRIVER_CONFIG', `channels[${this.channel}].identity.${field}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
          path: `channels[${this.channel}].identity.${field}`,
          file,
        });
      }
    };
    const cert = await read(id.certificateFile, 'certificateFile');
    const key = await read(id.privateKeyFile, 'privateKeyFile');
    const der = cert.includes('-----BEGIN') ? Buffer.from(new X509Certificate(cert).raw) : cert;
    let privateKey: string;
    try {
      // node-opcua signs with a PEM key; parsing it here also turns a bad file into a clear error now
      privateKey = createPrivateKey(key.includes('-----BEGIN') ? { key } : { key, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
    } catch (e) {
      throw new IipError('IIP_ERR_DRIVER_CONFIG', `channels[${this.channel}].identity.privateKeyFile: ${id.privateKeyFile} is not a private key (PEM or PKCS#8 DER)`, {
        path: `channels[${this.channel}].identity.privateKeyFile`,
        cause: String(e),
      });
    }
    return { type: UserTokenType.Certificate, certificateData: der, privateKey };
  }

  /** A session the server refused: usually the user identity (wrong password, unknown or untrusted user certificate). */
  private sessionError(e: unknown, ctx: { endpointUrl: string }): IipError {
    const message = e instanceof Error ? e.message : String(e);
    const status = /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1] ?? 'BadIdentityTokenRejected';
    const id = this.config.identity;
    const who = !id || id.type === 'anonymous' ? 'anonymous access' : id.type === 'username' ? `user "${id.username}"` : `the user certificate ${id.certificateFile}`;
    const hint = /Identity|User|Access/.test(status)
      ? !id || id.type === 'anonymous'
        ? '; the server may not allow anonymous sessions: configure "identity"'
        : id.type === 'username'
          ? '; check the username and password'
          : "; the server must trust the user certificate (add it to the server's trusted user certificates)"
      : '';
    return new IipError('IIP_ERR_OPCUA_STATUS', `${ctx.endpointUrl} refused a session for ${who} (${status})${hint}`, {
      channel: this.channel,
      endpointUrl: ctx.endpointUrl,
      statusCode: status,
      identity: id?.type ?? 'anonymous',
      ...(id?.type === 'username' ? { username: id.username } : {}),
    });
  }

  /** Remembers a certificate-trust failure with the certificate concerned, so the platform can show and fix it. */
  private async noteTrustProblem(err: IipError): Promise<void> {
    const since = this.trust?.since ?? Date.now();
    if (err.details.trust === 'server-untrusted') {
      const der = await fetchServerCertificate(this.config.endpointUrl, this.pkiDir, this.config.securityMode, this.config.securityPolicy, this.applicationName).catch(() => null);
      if (!der) return;
      const certificate = certificateInfo(der);
      this.rejectedServerCertificate = der;
      this.trust = {
        kind: 'server-untrusted',
        certificate,
        since,
        fix:
          `This gateway does not trust the certificate of ${this.config.endpointUrl} (${String(err.details.statusCode)}). ` +
          `Check that thumbprint ${certificate.thumbprint} is the server's (compare it on the server), then trust it: ` +
          `from the console's gateway page ("Trust this server certificate"), with POST /api/v1/gateways/{id}/channels/${this.channel}/trust-server-certificate, ` +
          `or by copying it into ${this.pkiDir}/trusted/certs on the gateway.`,
      };
    } else if (err.details.trust === 'client-untrusted') {
      const { certificate } = await ensureOpcUaClientCertificate(this.pkiDir, this.applicationName);
      const info = certificateInfo(certificate);
      this.trust = {
        kind: 'client-untrusted',
        certificate: info,
        since,
        fix:
          `${this.config.endpointUrl} refused this gateway's certificate (${String(err.details.statusCode)}). ` +
          `Add the client certificate (thumbprint ${info.thumbprint}, file ${opcUaClientCertificateFile(this.pkiDir)} on the gateway) to the server's trusted certificates — ` +
          'in most servers: move it from the rejected to the trusted folder of the server PKI, or accept it in the server\'s certificate settings; the gateway retries by itself.',
      };
    }
  }

  private beginOutage(err: IipError): void {
    const last = this.outages[this.outages.length - 1];
    if (last && last.end === null) return;
    this.outages.push({ start: Date.now(), end: null, code: err.code, message: err.message });
    if (this.outages.length > MAX_OUTAGES) this.outages.shift();
  }

  private endOutage(): void {
    const i = this.outages.length - 1;
    const last = this.outages[i];
    if (last && last.end === null) this.outages[i] = { ...last, end: Date.now() };
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
      const value = this.convert(p, dv, ts);
      if (value === null) {
        const pf = this.stats.get(device)?.pointFailures.get(p.property);
        firstBad ??= pf ? new IipError(pf.code, pf.message, pf.details ?? {}) : null;
        return;
      }
      readings.push({ device, property: p.property, ts, value });
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
    const where = { channel: this.channel, device, property, nodeId: p.config.nodeId };
    if (p.config.field !== undefined) {
      throw new IipError('IIP_ERR_DRIVER_NOT_WRITABLE', `${device}.${property} is the field "${p.config.field}" of a structure; writing one field of a structure is not supported`, where);
    }
    const session = this.requireSession();
    const shape = await this.shapeOf(session, p);
    const variant = new Variant(variantFor(shape, value, where));
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
    const devices: DeviceHealth[] = [...this.stats.entries()].map(([device, s]) => {
      const { pointFailures, ...rest } = s;
      return { device, ...rest, ...(pointFailures.size > 0 ? { pointFailures: [...pointFailures.values()] } : {}) };
    });
    return { channel: this.channel, protocol: this.protocol, connected: this.connected, devices, outages: [...this.outages], trust: this.trust };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onReadings = null;
    this.onFailure = null;
    this.connected = false;
    const client = this.client;
    const connecting = this.connecting;
    const cm = this.certificateManager;
    this.client = null;
    this.session = null;
    this.subscription = null;
    this.certificateManager = null;
    // A subscription being created settles first (see creatingSubscription); a dead server answers within 5 s or not.
    const creating = this.creatingSubscription;
    if (creating) await withTimeout(creating, 5_000).catch(() => undefined);
    // disconnect() closes the session and cancels a reconnection in progress; a dead server must not hang close()
    if (client) await withTimeout(client.disconnect(), 5_000).catch(() => undefined);
    // A client still connecting: its retries stop now; connect() takes down what it brought up (see there).
    if (connecting && connecting !== client) await withTimeout(connecting.disconnect(), 5_000).catch(() => undefined);
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

  private rememberShape(p: BoundOpcUaPoint, dv: DataValue): void {
    if (dv.value.dataType !== 0) this.shapes.set(`${p.device}\u0000${p.property}`, shapeOf(dv.value));
  }

  /**
   * A good data value as the value to store; null (and a point failure in health, with the reason) when it holds
   * nothing a thing model can carry. A point that reads again clears its failure.
   */
  private convert(p: BoundOpcUaPoint, dv: DataValue, ts: number): PointValue | null {
    this.rememberShape(p, dv);
    const out = readValue(dv.value, p.config, { channel: this.channel, device: p.device, property: p.property, nodeId: p.config.nodeId });
    const s = this.stats.get(p.device);
    if (out.ok) {
      s?.pointFailures.delete(p.property);
      return out.value;
    }
    if (s) {
      const prev = s.pointFailures.get(p.property);
      const count = prev && prev.code === out.error.code ? prev.count + 1 : 1;
      s.pointFailures.set(p.property, { property: p.property, code: out.error.code, message: `${p.device}.${p.property} (${p.config.nodeId}): ${out.error.message}`, ts, details: out.error.details, count });
      s.errors += 1;
      if (count === 1) {
        this.log('warn', `${p.device}.${p.property} (${p.config.nodeId}): ${out.error.message}`, { channel: this.channel, device: p.device, property: p.property, code: out.error.code });
        this.onFailure?.(p.device, { code: out.error.code, message: out.error.message, ts, details: out.error.details });
      }
    }
    return null;
  }

  /** The node's built-in type and array shape, learnt from a read of its value (servers reject writes of another). */
  private async shapeOf(session: ClientSession, p: BoundOpcUaPoint): Promise<NodeShape> {
    const key = `${p.device}\u0000${p.property}`;
    const known = this.shapes.get(key);
    if (known !== undefined) return known;
    const where = { channel: this.channel, device: p.device, property: p.property, nodeId: p.config.nodeId };
    let dv: DataValue;
    try {
      dv = await session.read({ nodeId: p.nodeId, attributeId: AttributeIds.Value }, 0);
    } catch (e) {
      throw this.asError(e, 'read', where);
    }
    if (dv.statusCode.isNotGood()) throw statusError(dv.statusCode, 'read', where);
    this.rememberShape(p, dv);
    const found = this.shapes.get(key);
    if (found === undefined) throw new IipError('IIP_ERR_OPCUA_STATUS', `node ${p.config.nodeId} holds no value, so its data type is unknown`, { ...where, statusCode: 'BadWaitingForInitialData' });
    return found;
  }

  private async buildSubscription(): Promise<void> {
    const session = this.requireSession();
    const creating = session.createSubscription2({
      requestedPublishingInterval: this.publishingInterval(),
      requestedLifetimeCount: 120,
      requestedMaxKeepAliveCount: 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.creatingSubscription = creating;
    let subscription: ClientSubscription;
    try {
      subscription = await creating;
    } finally {
      if (this.creatingSubscription === creating) this.creatingSubscription = null;
    }
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
    const now = Date.now();
    const value = this.convert(p, dv, now);
    if (value === null) return;
    const s = this.stats.get(p.device);
    if (s && s.state !== 'ok') {
      s.state = 'ok';
      s.consecutiveFailures = 0;
    }
    // stamped on arrival, like a Modbus poll: server clocks drift and an unchanged value keeps an old source time
    this.pending.push({ device: p.device, property: p.property, ts: now, value });
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
    this.beginOutage(failure);
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
    this.endOutage();
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
