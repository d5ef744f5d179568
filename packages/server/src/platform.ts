/**
 * The composition root of the platform process: opens storage, wires device access → historian → bus →
 * live stream, starts the MQTT and HTTP listeners, and (for the demo) the virtual factory. `close()`
 * stops intake first and flushes the historian last, so nothing accepted is lost on Ctrl-C.
 *
 * Embedded (default): one process, SQLite, the in-process bus; admission stores through the historian.
 * Scaled out (`bus: nats://…`, `storage: postgres://…`, roles): a front door's admission acknowledges once
 * JetStream holds the message, a worker's historian consumes the `historian` group (scale-out/topology.ts).
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_INGEST_LIMITS, DEFAULT_TENANT, IipError, type DeviceId, type IngestLimits, type ProductId, type PropertySpec, type TenantId } from '@iip/core';
import { connectNatsLease, connectNatsSessionStore } from '@iip/bus';
import { BusDeviceRouter, GatewayManager, EventAdmission, HttpIngest, MqttAccess, type MqttLimits, mqttLimitsFromEnv, type SessionSnapshot, TelemetryAdmission } from '@iip/device-access/platform';
import { type ActionDispatcherOptions, AlarmService } from '@iip/rules';
import { Historian, kindOfDataType } from '@iip/historian';
import { UserService } from '@iip/security';
import type { TelemetryStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import { AccessAdmin } from './access-admin.js';
import { AccessControl } from './access-control.js';
import { AuditTrail } from './audit-trail.js';
import { buildApp } from './app.js';
import { startDemoFactory } from './demo-factory.js';
import { RegistryDeviceDirectory } from './device-directory.js';
import { LiveStream, type LiveStreamOptions } from './live-stream.js';
import { PlatformLoad } from './load-metrics.js';
import { modelFormats } from './model-formats.js';
import { type OidcOptions, OidcSignIn } from './oidc-sign-in.js';
import { type PlatformIdentifierOptions, PlatformIdentifiers } from './platform-identifiers.js';
import { GATEWAY_PRODUCT_ID, RegistryService } from './registry-service.js';
import { type WorkerStats, startHistorianWorker } from './scale-out/bus-telemetry.js';

import { type PlatformRole, openPlatformBus, openPlatformStorage, resolveTopology } from './scale-out/topology.js';
import { EdgeRules } from './edge-rules.js';
import { ruleActionDeliverers } from './rule-actions.js';
import { RULES_CHANGED, startRulesRuntime } from './rules-runtime.js';
import { type TenantGovernance, startTenantGovernance } from './tenant-governance.js';

/**
 * Concurrent write transactions of a worker (bus-telemetry.ts). Measured with bench/postgres-write.ts on the
 * 2-core reference machine: 4 writers of 10,000-point COPY batches take in about 1.5× what one does.
 */
const WORKER_WRITE_SHARDS = 4;

export interface PlatformOptions {
  /** Where the embedded database and demo credentials live. */
  readonly dataDir: string;
  /** PostgreSQL URL or SQLite file (default `<dataDir>/iip.db`); see scale-out/topology.ts. */
  readonly storage?: string;
  /** `nats://…` for a platform of several processes; default: the in-process bus. */
  readonly bus?: string;
  /** The roles this process runs (default: all). A subset needs `storage: postgres://…` and `bus: nats://…`. */
  readonly roles?: readonly PlatformRole[];
  /** 0 picks a free port. */
  readonly httpPort: number;
  /** 0 picks a free port; never assumes 1883 is free. */
  readonly mqttPort: number;
  /**
   * The MQTT server: `iip`, our own front door speaking MQTT 3.1.1 and 5 (ADR 0005; the default), or `aedes`
   * (3.1.1 only, kept for one release as a fallback). Default: IIP_MQTT_SERVER, else iip.
   */
  readonly mqttServer?: 'aedes' | 'iip';
  /**
   * The MQTT front door's limits (docs/reference/mqtt.md "Limits"); each one not given here is read from its
   * IIP_MQTT_* environment variable, else the default.
   */
  readonly mqttLimits?: MqttLimits;
  /** The WebSocket live stream's bounds per socket (unsent bytes, how long it may lag; live-stream.ts). */
  readonly liveStream?: LiveStreamOptions;
  /** Interface to listen on; 127.0.0.1 by default (safe), 0.0.0.0 to accept devices on the network. */
  readonly host?: string;
  /** Password of the first admin; generated and reported once when absent. */
  readonly adminPassword?: string;
  /** Built console (packages/console/dist by default); served at `/`. */
  readonly consoleDir?: string;
  readonly simulate?: { readonly devices: number; readonly intervalMs?: number };
  readonly limits?: Partial<IngestLimits>;
  /** Run an enterprise identifier node for this prefix, so products and devices can be given handles. */
  readonly identifiers?: PlatformIdentifierOptions;
  /** HTTP request logging (warnings and errors). */
  readonly httpLog?: boolean;
  /** Sign-in through an OpenID Connect provider (docs/reference/oidc-sign-in.md); off when absent. */
  readonly oidc?: OidcOptions;
  /**
   * The SMTP server of rules' e-mail actions (docs/reference/rules.md "Actions"): an smtp:// or smtps:// URL with
   * the credentials in it, and the From address. Default: IIP_SMTP_URL and IIP_SMTP_FROM; without one, rules with an
   * e-mail action are refused when saved (IIP_ERR_RULE_ACTION_UNAVAILABLE).
   */
  readonly smtp?: { readonly url: string; readonly from?: string };
  /** How rule actions are retried (defaults: looked for every second, 8 attempts, 5 s doubling up to 10 min). */
  readonly ruleActions?: Pick<ActionDispatcherOptions, 'pollMs' | 'maxAttempts' | 'backoffMs'>;
  readonly log?: (line: string) => void;
}

export interface Platform {
  readonly httpUrl: string;
  /** Empty, and `mqttPort` 0, when this process is not a front door. */
  readonly mqttUrl: string;
  readonly httpPort: number;
  readonly mqttPort: number;
  readonly roles: ReadonlySet<PlatformRole>;
  /** The historian worker's counters, when this process consumes telemetry from NATS. */
  readonly worker?: { stats(): WorkerStats };
  /** Set on the very first start when the admin password was generated: show it once. */
  readonly initialAdmin?: { username: string; password: string };
  readonly registry: RegistryService;
  readonly historian: Historian;
  readonly users: UserService;
  readonly admission: TelemetryAdmission;
  readonly mqtt: MqttAccess;
  readonly gateways: GatewayManager;
  readonly identifiers?: PlatformIdentifiers;
  /** Retention and quotas per tenant (docs/reference/retention-and-quotas.md). */
  readonly tenants: TenantGovernance;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export const GATEWAY_PRODUCT = GATEWAY_PRODUCT_ID as ProductId;

export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));

async function listenHttp(app: FastifyInstance, port: number, host: string): Promise<number> {
  try {
    await app.listen({ port, host });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new IipError(
        'IIP_ERR_PORT_IN_USE',
        `HTTP port ${port} is already in use / HTTP 端口 ${port} 已被占用 — choose another with --port <n> or IIP_HTTP_PORT=<n>`,
        { port, flag: '--port', env: 'IIP_HTTP_PORT' },
      );
    }
    throw e;
  }
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? '127.0.0.1';
  try {
    mkdirSync(opts.dataDir, { recursive: true });
  } catch (e) {
    throw new IipError('IIP_ERR_DATA_DIR', `cannot create data directory ${opts.dataDir}: ${(e as Error).message} — use --data <dir> or IIP_DATA_DIR`, {
      dir: opts.dataDir,
    });
  }
  const topology = resolveTopology({ dataDir: opts.dataDir, storage: opts.storage, bus: opts.bus, roles: opts.roles });
  // Read before anything opens: a bad IIP_MQTT_* value stops the start with its name.
  const mqttLimits: MqttLimits = { ...mqttLimitsFromEnv(process.env), ...opts.mqttLimits };
  const frontDoor = topology.roles.has('front-door');
  const workerRole = topology.roles.has('worker');
  const storage = await openPlatformStorage(topology);
  const cleanups: Array<() => Promise<void> | void> = [() => storage.close()];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`shutdown: ${(e as Error).message}`);
      }
    }
  };
  try {
    const tenant: TenantId = DEFAULT_TENANT;
    if (!(await storage.registry.getTenant(tenant))) await createdOnce(() => storage.registry.createTenant({ id: tenant, name: 'Default tenant', createdAt: Date.now() }));

    // Edge gateways are devices too (they authenticate like one); this built-in product gives them a home.
    if (!(await storage.registry.getProduct(tenant, GATEWAY_PRODUCT))) {
      await createdOnce(() => storage.registry.createProduct({
        tenant,
        id: GATEWAY_PRODUCT,
        name: '边缘网关 Edge gateway',
        category: 'gateway',
        model: { properties: [], events: [], services: [] },
        version: 1,
        createdAt: Date.now(),
      }));
    }

    const users = new UserService(storage.users, { access: storage.access });
    // Processes of a scaled-out platform may start together: the one that loses the race finds the admin made.
    const admin = await users.ensureAdmin(opts.adminPassword).catch((e: unknown) => {
      if (e instanceof IipError && e.code === 'IIP_ERR_CONFLICT') return users.ensureAdmin(opts.adminPassword);
      throw e;
    });

    const bus = await openPlatformBus(topology, log);
    cleanups.push(() => bus.close());
    const maintain = storage.maintain?.bind(storage);
    if (workerRole && maintain) {
      // The adapter's upkeep where the historian writes (PostgreSQL: raw partitions of the days ahead; they are
      // made at open too).
      const timer = setInterval(() => maintain().catch((e: unknown) => log(`storage: upkeep: ${(e as Error).message}`)), 6 * 3600_000);
      timer.unref();
      cleanups.push(() => clearInterval(timer));
    }
    // A worker's commit acknowledges to JetStream, not to a waiting device (the front door already has): it
    // can gather more per transaction — a PostgreSQL commit costs far more than an SQLite one.
    const historian = new Historian(storage.telemetry, {
      onError: (e) => log(`historian: ${(e as Error).message}`),
      ...(topology.scaledOut ? { flushIntervalMs: 50 } : {}),
    });
    cleanups.push(() => historian.close());

    const registry = new RegistryService(storage.registry);
    const directory = new RegistryDeviceDirectory(storage.registry);
    registry.onChange((t, d) => directory.invalidate(t, d));
    // A new device's telemetry series are created now, in the background, not on its first message: ten thousand
    // devices connecting together otherwise queue 60,000 series creations in front of their first points (issue 20).
    // The thing model fixes each property's kind; a failure here is harmless (the first message creates them).
    registry.onCreated((t, devices) => {
      void prepareSeries(storage.telemetry, registry, t, devices).catch((e: unknown) => log(`historian: series not prepared ahead: ${(e as Error).message}`));
    });
    /** Set once the decision point exists: what another process changed of a tenant's access is dropped here too. */
    let forgetAccess: ((tenant: string) => void) | undefined;
    if (topology.scaledOut) {
      // Other processes cache devices too: tell them, and listen to theirs.
      registry.onChange((t, d) => {
        bus.publish('registry.changed', { tenant: t, device: d ?? '*' }).catch((e: unknown) => log(`registry: change not announced to other processes: ${(e as Error).message}`));
      });
      const sub = bus.subscribe('registry.changed', (m) => {
        directory.invalidate(m.tenant, m.device === '*' ? undefined : m.device);
        // A tenant-wide change may be a suspension, or (announced by the decision point) a change of the tenant's
        // asset tree, roles or grants.
        if (m.device === '*') forgetAccess?.(m.tenant);
      });
      await sub.ready;
      cleanups.push(() => sub.unsubscribe());
    }
    const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...opts.limits };
    // Embedded, admission stores through the historian directly (not as a bus subscriber) so that it learns
    // what was stored: the sender's accepted count is the stored count, duplicates are named, a store failure
    // is the sender's error, and the bus carries only stored points, to the live stream.
    // Scaled out, admission has no historian: it acknowledges once JetStream holds the message and counts
    // every valid point as accepted — a re-sent reading is then stored once by the worker's historian without
    // the sender being told it was a duplicate, and the live stream shows accepted, not yet stored, points;
    // a batch the worker refuses for good (4xx) is counted by code in its status (scale-out/bus-telemetry.ts).
    const admission = new TelemetryAdmission(directory, bus, limits, Date.now, topology.scaledOut ? undefined : historian);
    // Device events are few: whichever process takes them stores them at once (PostgreSQL is shared when scaled out).
    // Stored events go onto the bus for rules' event triggers (the worker's `rules` group, scaled out).
    // An edge rule's raise or clear arrives as an event of the gateway's child; the handler is bound below.
    let edgeRef: EdgeRules | undefined;
    const events = new EventAdmission(directory, storage.deviceEvents, limits, Date.now, bus, (t, d, g, body) =>
      edgeRef ? edgeRef.transition(t, d, g, body) : Promise.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', 'the platform is still starting; send it again', {})),
    );
    let worker: ReturnType<typeof startHistorianWorker> | undefined;
    if (topology.scaledOut && workerRole) {
      // Write shards: more historians over the same store, so that WORKER_WRITE_SHARDS transactions run at once.
      const shards = [historian];
      for (let i = 1; i < WORKER_WRITE_SHARDS; i++) {
        const h = new Historian(storage.telemetry, { onError: (e) => log(`historian: ${(e as Error).message}`), flushIntervalMs: 50 });
        cleanups.push(() => h.close());
        shards.push(h);
      }
      const w = startHistorianWorker(bus, shards, log);
      await w.subscription.ready;
      // Registered after the historian's close, so it runs before it: stop taking messages, then flush.
      cleanups.push(() => w.subscription.unsubscribe());
      worker = w;
    }
    // Quotas are checked by admission and device creation; retention runs every 10 minutes.
    // Retention runs where the historian writes: in a worker (every process, embedded).
    const tenants = await startTenantGovernance({ storage, registry, admission, retentionTimer: workerRole, log: (msg, fields) => log(`${msg} ${JSON.stringify(fields)}`) });
    cleanups.push(() => tenants.close());

    // The manager needs the broker to publish and the broker needs the manager's hooks: bind late.
    let mqttRef: MqttAccess | undefined;
    // Scaled out, a config or command for a device goes over the bus to whichever front door holds its
    // connection, and persistent MQTT sessions live in a JetStream key-value bucket (ADR 0008).
    const router = topology.scaledOut ? new BusDeviceRouter(bus, log) : undefined;
    const sessions =
      topology.scaledOut && frontDoor ? await connectNatsSessionStore<SessionSnapshot>({ url: topology.bus as string, name: `iip sessions ${process.pid}` }) : undefined;
    if (sessions) cleanups.push(() => sessions.close());
    const gateways = new GatewayManager(
      storage.gateways,
      storage.audit,
      router ?? { publishToDevice: (t, d, sub, payload, o) => (mqttRef ? mqttRef.publishToDevice(t, d, sub, payload, o) : Promise.reject(new Error('broker not running'))) },
      { log },
    );
    await gateways.loadTenant(tenant);
    cleanups.push(() => gateways.close());
    // The platform's own load (status `load`, GET /metrics); the MQTT server reports each PUBACK's latency to it.
    const load = new PlatformLoad();
    cleanups.push(() => load.close());
    const mqttServer = opts.mqttServer ?? (process.env.IIP_MQTT_SERVER === 'aedes' ? 'aedes' : 'iip');
    const mqtt = new MqttAccess({
      directory,
      gateways: router ? router.hooks(gateways) : gateways,
      ...(sessions ? { sharedSessions: sessions } : {}),
      admission,
      events,
      defaultTenant: DEFAULT_TENANT,
      host,
      port: opts.mqttPort,
      log: (level, msg, fields) => {
        if (level === 'warn') log(`mqtt: ${msg} ${fields ? JSON.stringify(fields) : ''}`);
      },
      server: mqttServer,
      limits: mqttLimits,
      onPuback: load.onPuback,
      // Embedded, this process's historian stores the device's telemetry: its series are loaded when it connects,
      // not in front of its first message (issue 20).
      ...(topology.scaledOut ? {} : { onDeviceConnected: (t: string, d: string) => historian.prepare(t, d) }),
    });
    mqttRef = mqtt;
    const mqttPort = frontDoor ? await mqtt.listen() : 0;
    // A suspended tenant's connected devices are sent away (they are refused when they come back); a tenant-wide
    // registry change, here or in another process, may be a suspension.
    const endIfSuspended = (tenant: string): void => {
      storage.registry.getTenant(tenant as TenantId).then(
        (t) => {
          if (t?.status === 'suspended') mqtt.disconnectTenant(tenant);
        },
        (e: unknown) => log(`registry: tenant ${tenant} not checked for suspension: ${(e as Error).message}`),
      );
    };
    if (frontDoor) {
      registry.onChange((t, d) => {
        if (d === undefined) endIfSuspended(t);
      });
      if (topology.scaledOut) {
        const sub = bus.subscribe('registry.changed', (m) => {
          if (m.device === '*') endIfSuspended(m.tenant);
        });
        await sub.ready;
        cleanups.push(() => sub.unsubscribe());
      }
    }
    cleanups.push(() => mqtt.close());
    if (router) {
      await router.attach(gateways, frontDoor ? mqtt : undefined);
      cleanups.push(() => router.close());
    }

    const live = new LiveStream(bus, opts.liveStream);
    cleanups.push(() => live.close());
    load.bind({
      mqttServer,
      mqtt: () => mqtt.stats(),
      mqttQueues: () => mqtt.queueDepths(),
      mqttBacklog: () => mqtt.backlog(),
      historian: () => historian.stats(),
      ingest: () => admission.stats(),
      live: () => live.stats(),
    });
    const accessControl = new AccessControl(storage.access, {
      platformTenant: DEFAULT_TENANT,
      // Scaled out, the other processes drop their cached view of the tenant at once (not after the 30 s max age).
      ...(topology.scaledOut && {
        onChange: (t: string) => {
          bus.publish('registry.changed', { tenant: t, device: '*' }).catch((e: unknown) => log(`access: change not announced to other processes: ${(e as Error).message}`));
        },
      }),
      tenantTotpRequired: async (t) => (await storage.registry.getTenantPolicy(t as TenantId))?.security?.totpRequiredForAdmins === true,
      tenantSuspension: async (t) => {
        const tenant = await storage.registry.getTenant(t as TenantId);
        return tenant?.status === 'suspended' ? (tenant.suspendedReason ?? 'suspended') : undefined;
      },
    });
    // A tenant-wide registry change (here or, scaled out, in another process) may be a suspension.
    registry.onChange((t, d) => {
      if (d === undefined) accessControl.forget(t);
    });
    forgetAccess = (t) => accessControl.forget(t);
    const accessAdmin = new AccessAdmin(storage.access, storage.users, accessControl);
    // Rules run where telemetry is consumed (embedded: here; scaled out: the worker); alarms are acted on anywhere.
    // Embedded, the runtime takes the stored batches from the in-process bus; scaled out, the worker hands them over.
    const smtp = opts.smtp ?? (process.env.IIP_SMTP_URL ? { url: process.env.IIP_SMTP_URL, ...(process.env.IIP_SMTP_FROM ? { from: process.env.IIP_SMTP_FROM } : {}) } : undefined);
    // Rule actions are carried out where rules run; writes and service calls take the gateway manager's audited
    // path (scaled out, its commands reach the device's front door over the bus), publishes the device's front door.
    const deliverers = ruleActionDeliverers({
      outbox: storage.actions,
      commands: gateways,
      model: async (t, d) => (await registry.getProduct(t, (await registry.getDevice(t, d)).product)).model,
      latest: async (t, d, p) => (await historian.latest(t, d as DeviceId))[p]?.value ?? null,
      publisher: router ?? mqtt,
      ...(smtp ? { smtpUrl: smtp.url, ...(smtp.from ? { smtpFrom: smtp.from } : {}) } : {}),
    });
    // Scaled out, one worker at a time evaluates the rules (a lease in NATS); the others stand by.
    const lease = topology.scaledOut && workerRole ? await connectNatsLease({ url: topology.bus as string, key: 'rules', name: `iip rules lease ${process.pid}`, log }) : undefined;
    if (lease) cleanups.push(() => lease.close());
    const rules = workerRole
      ? await startRulesRuntime({ storage, registry, accessControl, bus, log, deliverers, ...(lease ? { leader: lease } : {}), ...(opts.ruleActions ? { actionOptions: opts.ruleActions } : {}) })
      : undefined;
    if (rules) cleanups.push(() => rules.close());
    const alarmService = rules?.alarms ?? new AlarmService(storage.alarms);
    const edgeRules = new EdgeRules({ storage, registry, accessControl, alarms: alarmService, publisher: router ?? mqtt, actionsStored: () => rules?.actions.kick(), log });
    edgeRef = edgeRules;
    // Retained messages do not outlive this process's broker: the gateways get their edge rules again at start.
    if (frontDoor) for (const t of await registry.listTenants()) edgeRules.pushSoon(t.id);
    const auditTrail = new AuditTrail(storage.events, DEFAULT_TENANT, log);
    const oidc = opts.oidc
      ? new OidcSignIn(opts.oidc, { users, userStore: storage.users, access: storage.access, accessControl, accessAdmin, findTenant: (t) => registry.findTenant(t) })
      : undefined;
    const identifiers = opts.identifiers ? await PlatformIdentifiers.open(opts.dataDir, opts.identifiers, { address: host, httpPort: opts.httpPort }) : undefined;
    if (identifiers) cleanups.push(() => identifiers.close());
    const app = await buildApp(
      {
        users,
        registry,
        historian,
        gateways,
        audit: storage.audit,
        access: storage.access,
        accessControl,
        accessAdmin,
        events: storage.events,
        auditTrail,
        deleteTenant: async (id: string) => {
          if (id === DEFAULT_TENANT) throw new IipError('IIP_ERR_VALIDATION', `the platform's own tenant "${id}" cannot be deleted`, { field: 'id' });
          const t = await registry.findTenant(id);
          if (!t) throw new IipError('IIP_ERR_NOT_FOUND', `tenant "${id}" not found`, { resource: 'tenant', id });
          if (t.status !== 'suspended') throw new IipError('IIP_ERR_TENANT_ACTIVE', `tenant "${id}" is active: suspend it first`, { tenant: id, field: 'status' });
          const online = mqtt.connectedOf(id);
          if (online > 0) throw new IipError('IIP_ERR_TENANT_DEVICES_ONLINE', `${online} device(s) of tenant "${id}" are still connected`, { tenant: id, online });
          // Telemetry first, device by device (the registry rows go in one transaction afterwards).
          let devices = 0;
          for (;;) {
            const page = await registry.listDevices(id as TenantId, {}, { limit: 1_000, offset: devices });
            for (const d of page.items) await historian.deleteDevice(id as TenantId, d.id);
            devices += page.items.length;
            if (page.items.length < 1_000) break;
          }
          await registry.deleteTenantRows(id);
          accessControl.changed(id);
          return { devices };
        },
        identifiers,
        ingest: new HttpIngest(directory, admission, DEFAULT_TENANT, events),
        deviceEvents: storage.deviceEvents,
        rules: {
          store: storage.rules,
          actions: storage.actions,
          emailConfigured: smtp !== undefined,
          ...(rules ? { engine: rules.engine } : {}),
          // Scaled out, the worker's engine reads the tenant's rules again when they change through a front door.
          ...(topology.scaledOut && {
            onChange: (t: string) => {
              bus.publish('registry.changed', { tenant: t, device: RULES_CHANGED }).catch((e: unknown) => log(`rules: change not announced to other processes: ${(e as Error).message}`));
            },
          }),
          edgeChanged: (t: string) => edgeRules.pushSoon(t),
        },
        alarms: { service: alarmService, store: storage.alarms },
        live,
        formats: modelFormats,
        maxPayloadBytes: limits.maxPayloadBytes,
        consoleDir: opts.consoleDir ?? DEFAULT_CONSOLE_DIR,
        status: () => ({
          roles: [...topology.roles],
          storage: topology.postgres ? 'postgres' : 'sqlite',
          bus: topology.scaledOut ? 'nats' : 'in-process',
          ingest: admission.stats(),
          historian: historian.stats(),
          ...(worker ? { worker: worker.stats() } : {}),
          mqtt: mqtt.stats(),
          liveSockets: live.size,
          liveStream: live.stats(),
          audit: auditTrail.stats(),
          retention: tenants.retentionStatus(),
          ...(rules ? { rules: rules.stats() } : {}),
          events: events.stats(),
          load: load.snapshot(),
        }),
        load,
        tenants,
        ...(oidc ? { oidc } : {}),
      },
      { logger: opts.httpLog ?? false },
    );
    cleanups.push(() => app.close());
    const httpPort = await listenHttp(app, opts.httpPort, host);
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    const httpUrl = `http://${shownHost}:${httpPort}`;
    oidc?.listeningAt(httpUrl);
    const mqttUrl = frontDoor ? `mqtt://${shownHost}:${mqttPort}` : '';

    if (opts.simulate && opts.simulate.devices > 0 && frontDoor) {
      const factory = await startDemoFactory({
        dataDir: opts.dataDir,
        tenant,
        registry,
        mqttUrl,
        devices: opts.simulate.devices,
        intervalMs: opts.simulate.intervalMs,
        log,
      });
      // Stopped before the broker so the devices leave cleanly.
      cleanups.push(() => factory.stop());
    }

    return {
      httpUrl,
      mqttUrl,
      httpPort,
      mqttPort,
      roles: topology.roles,
      ...(worker ? { worker } : {}),
      ...(admin.generatedPassword ? { initialAdmin: { username: admin.username, password: admin.generatedPassword } } : {}),
      registry,
      historian,
      users,
      admission,
      mqtt,
      gateways,
      ...(identifiers ? { identifiers } : {}),
      tenants,
      app,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Creates something every process of a scaled-out platform makes at start; losing the race to another is fine. */
async function createdOnce(create: () => Promise<void>): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (!(e instanceof IipError && e.code === 'IIP_ERR_CONFLICT')) throw e;
  }
}

/** Creates the telemetry series of new devices (their product's properties), all asked for at once. */
async function prepareSeries(
  telemetry: TelemetryStore,
  registry: RegistryService,
  tenant: TenantId,
  devices: ReadonlyArray<{ readonly id: string; readonly product: string }>,
): Promise<void> {
  const models = new Map<string, readonly PropertySpec[] | undefined>();
  const asks: Promise<number>[] = [];
  for (const d of devices) {
    if (!models.has(d.product)) models.set(d.product, (await registry.findProduct(tenant, d.product))?.model.properties);
    for (const p of models.get(d.product) ?? []) asks.push(telemetry.seriesId({ tenant, device: d.id as DeviceId, property: p.id }, kindOfDataType(p.dataType)));
  }
  await Promise.all(asks);
}
