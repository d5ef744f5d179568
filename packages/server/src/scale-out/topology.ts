/**
 * Which engines and roles a platform process runs (issue 11, point 4; docs/scale-out.md).
 *
 * - Embedded (the default, `npm start`): one process, every role, the SQLite file under --data and the
 *   in-process bus. Admission stores through the historian directly.
 * - Scaled out: every process gets the same `--storage postgres://…` and `--bus nats://…`, and runs one or
 *   both roles. A **front door** takes devices in (MQTT, HTTP ingest) and serves the API, the console and the
 *   live stream; its admission acknowledges a message once JetStream has it. A **worker** runs the historian:
 *   it consumes the `historian` group and acknowledges each message only after its commit, and runs retention.
 *   N of each, on one machine or many.
 */
import { InProcessBus, connectNatsBus, type Bus } from '@iip/bus';
import { IipError } from '@iip/core';
import { isPostgresUrl, openStorage, type Storage } from '@iip/storage';
import { join } from 'node:path';
import { RULES_GROUP } from '../rules-runtime.js';
import { HISTORIAN_GROUP } from './bus-telemetry.js';

export type PlatformRole = 'front-door' | 'worker';
export const PLATFORM_ROLES: readonly PlatformRole[] = ['front-door', 'worker'];

export interface TopologyOptions {
  readonly dataDir: string;
  /** A PostgreSQL URL, or the path of the SQLite file (default `<dataDir>/iip.db`). */
  readonly storage?: string;
  /** `nats://host:port[,nats://…]`; absent: the in-process bus. */
  readonly bus?: string;
  /** Default: every role. */
  readonly roles?: readonly PlatformRole[];
}

export interface Topology {
  readonly storage: string;
  readonly postgres: boolean;
  readonly bus?: string;
  readonly roles: ReadonlySet<PlatformRole>;
  /** True when telemetry travels over NATS (front door → JetStream → worker). */
  readonly scaledOut: boolean;
}

function refuse(message: string, details: Record<string, unknown>): never {
  throw new IipError('IIP_ERR_TOPOLOGY', message, details);
}

export function resolveTopology(opts: TopologyOptions): Topology {
  const roles = new Set<PlatformRole>(opts.roles && opts.roles.length > 0 ? opts.roles : PLATFORM_ROLES);
  for (const r of roles) {
    if (!PLATFORM_ROLES.includes(r)) refuse(`unknown role "${r}"; roles are ${PLATFORM_ROLES.join(', ')}`, { role: r });
  }
  const storage = opts.storage && opts.storage.length > 0 ? opts.storage : join(opts.dataDir, 'iip.db');
  const postgres = isPostgresUrl(storage);
  const bus = opts.bus && opts.bus.length > 0 ? opts.bus : undefined;
  if (bus !== undefined && !bus.split(',').every((u) => /^(nats|tls):\/\/[^\s]+$/.test(u.trim()))) {
    refuse(`the bus URL must be nats://host:port (several separated by commas), not "${bus}"`, { bus, flag: '--bus', env: 'IIP_BUS_URL' });
  }
  if (roles.size < PLATFORM_ROLES.length && (bus === undefined || !postgres)) {
    refuse(
      `the role ${[...roles].join(',')} alone needs the other roles in other processes: give every process the same --storage postgres://… and --bus nats://… (or run without --role)`,
      { roles: [...roles], storage: postgres ? 'postgres' : 'sqlite', bus: bus ?? 'in-process' },
    );
  }
  if (bus !== undefined && !postgres) {
    refuse('a NATS bus is for several processes, which need one PostgreSQL: add --storage postgres://… (the SQLite file belongs to one process)', {
      bus,
      storage: 'sqlite',
    });
  }
  return { storage, postgres, ...(bus !== undefined ? { bus } : {}), roles, scaledOut: bus !== undefined };
}

export function openPlatformStorage(t: Topology): Promise<Storage> {
  return openStorage(t.storage);
}

export async function openPlatformBus(t: Topology, log: (line: string) => void): Promise<Bus> {
  const onError = (topic: string, err: unknown) => log(`bus: ${topic}: ${err instanceof Error ? err.message : String(err)}`);
  if (!t.bus) return new InProcessBus({ onError });
  return connectNatsBus({
    url: t.bus,
    name: `iip ${[...t.roles].join('+')} ${process.pid}`,
    // Declared by every process, so a message published before any worker has subscribed waits for one.
    groups: { telemetry: [HISTORIAN_GROUP, RULES_GROUP], 'device.events': [RULES_GROUP] },
    // Messages a worker may hold unacknowledged: enough for its write shards to fill COPY-sized transactions.
    // Before bundling (bench scale-out on the 2-core reference machine: 1,000 messages → ratio 0.19, 4,000 →
    // 0.26, 10,000 → 0.30–0.33, 20,000 → 0.25). A message is now a bundle of up to 32 batches of one device
    // (ADR 0007), so 1,000 of them hold about as much as 10,000 batches did (the bench's bundles average ~10),
    // and at most 32,000 batches — what a redelivery storm while PostgreSQL is down re-sends each second.
    maxAckPending: 1_000,
    onError,
  });
}
