/**
 * An OPC UA server (node-opcua) that stands in for a shop-floor PLC or SCADA server: one folder per
 * simulated device, one variable per thing-model property, values driven by the same seeded signals as
 * the MQTT virtual factory. Tests steer it deterministically (`set()` pins a value, `paused` stops the
 * signals), restart it on the same port to exercise reconnects, and run it with security mode None or
 * SignAndEncrypt (Basic256Sha256) using certificates kept in a PKI folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpcUaChannelConfig, OpcUaPointConfig, PointValue, PropertySpec } from '@iip/core';
import { IipError } from '@iip/core';
import {
  DataType,
  type DataValue,
  MessageSecurityMode,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  type UAVariable,
  Variant,
  type VariantOptions,
} from 'node-opcua';
import { addTypeSamples, TYPE_SAMPLES_FOLDER } from './opcua-type-samples.js';
import { DeviceSimulation } from '../device-simulation.js';
import { findProduct } from '../products/factory-products.js';
import { seedFor } from '../signals/random.js';
import { OPCUA_SIM_NAMESPACE_URI, type OpcUaSimDataType, opcUaDataTypeOf, opcUaDeviceNodeId, opcUaPropertyNodeId } from './opcua-node-ids.js';

export type OpcUaSimSecurityMode = 'None' | 'Sign' | 'SignAndEncrypt';

export interface OpcUaServerOptions {
  /** TCP port; 0 picks a free one (node-opcua needs a concrete port, so we ask the kernel first). */
  readonly port: number;
  readonly devices: ReadonlyArray<{ readonly id: string; readonly product: string }>;
  /** Same seed, same signals (default 1). */
  readonly seed?: number;
  /** Endpoints offered (default ['None']); SignAndEncrypt uses policy Basic256Sha256. */
  readonly securityModes?: readonly OpcUaSimSecurityMode[];
  /** The server's PKI folder (own certificate, trusted/rejected client certificates); a temp dir when absent. */
  readonly pkiDir?: string;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Starts with the signals frozen: values change only through set() and client writes. */
  readonly paused?: boolean;
  /** Users a session may activate as (UserName tokens); none: only anonymous (and certificate) sessions. */
  readonly users?: ReadonlyArray<{ readonly username: string; readonly password: string }>;
  /** Whether anonymous sessions are allowed (default true). */
  readonly allowAnonymous?: boolean;
  /**
   * Adds a folder "types" with one variable of every kind a driver must handle — 64-bit integers, arrays, a
   * matrix, a structure, the string-like built-in types — at `ns=1;s=types.<Name>` (see opcua-type-samples.ts).
   */
  readonly typeSamples?: boolean;
}

export interface OpcUaSimulatorServer {
  readonly endpointUrl: string;
  readonly port: number;
  /** The server's PKI folder. */
  readonly pkiDir: string;
  /** A channel config binding every property of every device, ready for OpcUaDriver. */
  channelConfig(securityMode: OpcUaSimSecurityMode, extra?: { id?: string; pkiDir?: string; samplingIntervalMs?: number; publishingIntervalMs?: number }): OpcUaChannelConfig;
  /** Pins a value: the signals no longer move it until the next set() or release(). */
  set(device: string, property: string, value: PointValue): void;
  get(device: string, property: string): PointValue;
  /** Hands a pinned property back to the simulated signals. */
  release(device: string, property: string): void;
  /** Freezes (true) or resumes (false) the simulated signals for all devices. */
  pause(paused: boolean): void;
  /** The server's application certificate (DER), for a client to trust. */
  serverCertificate(): Buffer;
  /** Adds a client application certificate (DER) to the server's trusted list. */
  trustClientCertificate(certificate: Buffer): Promise<void>;
  /** Adds an X.509 user certificate (DER) to the certificates sessions may be activated with. */
  trustUserCertificate(certificate: Buffer): Promise<void>;
  /** The value a node holds now, as node-opcua's variant (for checking what a write put on the server). */
  readNode(nodeId: string): Variant;
  /** Sets a node's value from the source side (a type sample or a device variable). */
  writeNode(nodeId: string, value: VariantOptions): void;
  /** Usernames of the sessions open now ('anonymous' for anonymous, the certificate subject for X.509). */
  sessionUsers(): string[];
  /** Stops the server (clients lose their sessions and subscriptions) and starts it again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface SimPoint {
  readonly device: string;
  readonly spec: PropertySpec;
  readonly dataType: OpcUaSimDataType;
  value: PointValue;
  pinned: boolean;
  variable: UAVariable | null;
}

interface SimDevice {
  readonly id: string;
  readonly sim: DeviceSimulation;
  readonly points: Map<string, SimPoint>;
}

const TICK_MS = 1000;

async function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function variantOf(dataType: OpcUaSimDataType, value: PointValue): Variant {
  switch (dataType) {
    case 'Double':
      return new Variant({ dataType: DataType.Double, value: Number(value) });
    case 'Int32':
      return new Variant({ dataType: DataType.Int32, value: Math.round(Number(value)) | 0 });
    case 'Boolean':
      return new Variant({ dataType: DataType.Boolean, value: Boolean(value) });
    case 'String':
      return new Variant({ dataType: DataType.String, value: String(value) });
    default: {
      const never: never = dataType;
      throw new Error(`unknown data type ${String(never)}`);
    }
  }
}

function coerce(dataType: OpcUaSimDataType, value: PointValue): PointValue {
  const v = variantOf(dataType, value).value as PointValue;
  return v;
}

function initialValue(spec: PropertySpec): PointValue {
  switch (spec.dataType.type) {
    case 'float':
    case 'int':
      return spec.dataType.min ?? 0;
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'enum':
      return spec.dataType.values[0]?.value ?? '';
    case 'array':
      return [];
    default: {
      const never: never = spec.dataType;
      throw new Error(`unknown data type ${String(never)}`);
    }
  }
}

export async function startOpcUaServer(opts: OpcUaServerOptions): Promise<OpcUaSimulatorServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port === 0 ? await pickFreePort(host) : opts.port;
  const modes = opts.securityModes ?? ['None'];
  const ownPki = opts.pkiDir === undefined;
  const pkiDir = opts.pkiDir ?? (await mkdtemp(join(tmpdir(), 'iip-opcua-server-pki-')));
  const users = new Map((opts.users ?? []).map((u) => [u.username, u.password]));
  const advertisedHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const endpointUrl = `opc.tcp://${advertisedHost}:${port}`;
  let paused = opts.paused ?? false;

  const devices = new Map<string, SimDevice>();
  const startMs = Date.now();
  for (const d of opts.devices) {
    const product = findProduct(d.product);
    const sim = new DeviceSimulation({ product: d.product, seed: seedFor(opts.seed ?? 1, d.id), startMs });
    if (!product) throw new IipError('IIP_ERR_SIM_UNKNOWN_PRODUCT', `unknown product "${d.product}"`, { product: d.product });
    const first = sim.advance(startMs).values;
    const points = new Map<string, SimPoint>();
    for (const spec of product.model.properties) {
      const dataType = opcUaDataTypeOf(spec.dataType);
      const v = first[spec.id];
      points.set(spec.id, { device: d.id, spec, dataType, value: coerce(dataType, v ?? initialValue(spec)), pinned: false, variable: null });
    }
    devices.set(d.id, { id: d.id, sim, points });
  }

  function point(device: string, property: string): SimPoint {
    const p = devices.get(device)?.points.get(property);
    if (!p) {
      throw new IipError('IIP_ERR_SIM_UNKNOWN_DEVICE', `the OPC UA simulator has no ${device}.${property}`, { device, property });
    }
    return p;
  }

  function publish(p: SimPoint): void {
    p.variable?.setValueFromSource(variantOf(p.dataType, p.value));
  }

  let server: OPCUAServer | null = null;
  /** Type-sample values by node id, kept across restarts (client writes included). */
  const samples = new Map<string, VariantOptions>();

  function variableAt(nodeId: string): UAVariable {
    const node = server?.engine.addressSpace?.findNode(nodeId);
    if (node?.nodeClass !== 2) throw new IipError('IIP_ERR_SIM_UNKNOWN_DEVICE', `the OPC UA simulator has no variable ${nodeId}`, { nodeId });
    return node as UAVariable;
  }

  async function startServer(): Promise<void> {
    const certificateManager = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false });
    const userCertificateManager = new OPCUACertificateManager({ rootFolder: join(pkiDir, 'user'), automaticallyAcceptUnknownCertificate: false });
    const s = new OPCUAServer({
      port,
      host,
      hostname: advertisedHost,
      nodeset_filename: [nodesets.standard],
      serverCertificateManager: certificateManager,
      userCertificateManager,
      securityModes: [...new Set(modes.map((m) => MessageSecurityMode[m]))],
      securityPolicies: [...new Set(modes.map((m) => (m === 'None' ? SecurityPolicy.None : SecurityPolicy.Basic256Sha256)))],
      allowAnonymous: opts.allowAnonymous ?? true,
      userManager: { isValidUser: (username: string, password: string) => users.has(username) && users.get(username) === password },
      serverInfo: { applicationUri: OPCUA_SIM_NAMESPACE_URI, applicationName: { text: 'iip OPC UA simulator' } },
      // clients read these limits right after connecting; publishing them keeps their logs quiet
      serverCapabilities: { maxBrowseContinuationPoints: 10, operationLimits: { maxNodesPerRead: 1000, maxNodesPerWrite: 1000, maxNodesPerBrowse: 1000, maxMonitoredItemsPerCall: 1000 } },
      buildInfo: { productName: 'iip-opcua-simulator', manufacturerName: 'iip' },
    });
    await s.initialize();
    const addressSpace = s.engine.addressSpace;
    if (!addressSpace) throw new Error('node-opcua server has no address space after initialize()');
    // the server's own namespace is index 1, which is what opcUaPropertyNodeId() names
    const ns = addressSpace.getOwnNamespace();
    const objects = addressSpace.rootFolder.objects;
    for (const d of devices.values()) {
      const folder = ns.addFolder(objects, { browseName: d.id, nodeId: opcUaDeviceNodeId(d.id).replace(/^ns=1;/, '') });
      for (const p of d.points.values()) {
        const access = p.spec.access === 'rw' ? 'CurrentRead | CurrentWrite' : 'CurrentRead';
        const common = {
          componentOf: folder,
          browseName: p.spec.id,
          nodeId: opcUaPropertyNodeId(d.id, p.spec.id).replace(/^ns=1;/, ''),
          dataType: p.dataType,
          accessLevel: access,
          userAccessLevel: access,
          minimumSamplingInterval: 50,
          ...(p.spec.description ? { description: p.spec.description } : {}),
        } as const;
        const dt = p.spec.dataType;
        // Analog items carry an EURange, which servers need to honour percent deadbands.
        const variable =
          dt.type === 'float' && dt.min !== undefined && dt.max !== undefined
            ? ns.addAnalogDataItem({ ...common, engineeringUnitsRange: { low: dt.min, high: dt.max }, acceptValueOutOfRange: true })
            : ns.addVariable(common);
        variable.setValueFromSource(variantOf(p.dataType, p.value));
        // Client writes land in the variable; mirror them so get() and restarts see them.
        variable.on('value_changed', (dv: DataValue) => {
          const v: unknown = dv.value.value;
          if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') p.value = v;
        });
        p.variable = variable;
      }
    }
    if (opts.typeSamples) addTypeSamples(addressSpace, objects, samples);
    await s.start();
    server = s;
  }

  async function stopServer(): Promise<void> {
    const s = server;
    server = null;
    for (const d of devices.values()) for (const p of d.points.values()) p.variable = null;
    if (s) await s.shutdown(0);
  }

  function tick(): void {
    if (paused) return;
    const now = Date.now();
    for (const d of devices.values()) {
      const values = d.sim.advance(now).values;
      for (const p of d.points.values()) {
        // set points are operator inputs: only writes (or set()) move them
        if (p.pinned || p.spec.access === 'rw') continue;
        const v = values[p.spec.id];
        if (v === undefined) continue;
        const next = coerce(p.dataType, v);
        if (next === p.value) continue;
        p.value = next;
        publish(p);
      }
    }
  }

  await startServer();
  const timer = setInterval(tick, TICK_MS);
  timer.unref();
  let closed = false;

  return {
    endpointUrl,
    port,
    pkiDir,
    channelConfig(securityMode, extra = {}) {
      const samplingIntervalMs = extra.samplingIntervalMs ?? 250;
      return {
        id: extra.id ?? `opcua-sim-${port}`,
        protocol: 'opcua',
        endpointUrl,
        securityMode,
        securityPolicy: securityMode === 'None' ? 'None' : 'Basic256Sha256',
        ...(extra.pkiDir ? { pkiDir: extra.pkiDir } : {}),
        publishingIntervalMs: extra.publishingIntervalMs ?? 250,
        devices: [...devices.values()].map((d) => ({
          id: d.id,
          points: [...d.points.values()].map((p): OpcUaPointConfig => ({ property: p.spec.id, nodeId: opcUaPropertyNodeId(d.id, p.spec.id), samplingIntervalMs })),
        })),
      };
    },
    set(device, property, value) {
      const p = point(device, property);
      p.pinned = true;
      p.value = coerce(p.dataType, value);
      publish(p);
    },
    get(device, property) {
      return point(device, property).value;
    },
    release(device, property) {
      point(device, property).pinned = false;
    },
    pause(v) {
      paused = v;
    },
    serverCertificate() {
      if (!server) throw new Error('the OPC UA simulator is not running');
      return Buffer.from(server.getCertificate());
    },
    async trustClientCertificate(certificate) {
      const cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false });
      await cm.initialize();
      await cm.trustCertificate(certificate);
      await cm.dispose();
      // a running server caches its trust list; reload it so the next handshake sees the new entry
      const live = server?.serverCertificateManager;
      if (live && 'reloadCertificates' in live && typeof live.reloadCertificates === 'function') await (live as OPCUACertificateManager).reloadCertificates();
    },
    async trustUserCertificate(certificate) {
      const cm = new OPCUACertificateManager({ rootFolder: join(pkiDir, 'user'), automaticallyAcceptUnknownCertificate: false });
      await cm.initialize();
      await cm.trustCertificate(certificate);
      await cm.dispose();
      const live = server?.userCertificateManager;
      if (live && 'reloadCertificates' in live && typeof live.reloadCertificates === 'function') await (live as OPCUACertificateManager).reloadCertificates();
    },
    readNode(nodeId) {
      return variableAt(nodeId).readValue().value;
    },
    writeNode(nodeId, value) {
      variableAt(nodeId).setValueFromSource(new Variant(value));
      if (nodeId.startsWith(`ns=1;s=${TYPE_SAMPLES_FOLDER}.`)) samples.set(nodeId, value);
    },
    sessionUsers() {
      const sessions = server?.engine ? Object.values((server.engine as unknown as { _sessions?: Record<string, { userIdentityToken?: unknown }> })._sessions ?? {}) : [];
      return sessions.map((x) => {
        const t = x.userIdentityToken as { userName?: string; certificateData?: Buffer } | undefined;
        if (t?.userName) return t.userName;
        if (t?.certificateData && t.certificateData.length > 0) return 'x509';
        return 'anonymous';
      });
    },
    async restart() {
      if (closed) throw new Error('the OPC UA simulator is closed');
      await stopServer();
      await startServer();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await stopServer();
      if (ownPki) await rm(pkiDir, { recursive: true, force: true });
    },
  };
}
