/**
 * One identifier node as a running process: its SQLite store, the `LocalHandleService` in its role, the
 * binary protocol on UDP+TCP and the Handle.Net-shaped REST API on HTTP. A `top-level` node holds prefix
 * records (`0.NA/88.118` → HS_SITE of the node that homes 88.118); a `secondary` node homes an industry
 * prefix and may delegate enterprise sub-prefixes the same way; an `enterprise` node homes its own prefix; a
 * `mirror` pulls a primary's transaction log over HTTP and answers read-only when the primary is down.
 */
import type { KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteHandleStore } from '@iip/storage';
import type { FastifyInstance } from 'fastify';
import { HandleError } from '../model/handle-error.js';
import { parseHandle } from '../model/handle-name.js';
import type { HandleSiteInfo, NodeRole } from '../model/handle-service.js';
import { ResponseCode } from '../model/response-codes.js';
import { type Mirror, startMirror } from '../replication/mirror.js';
import { httpTransactionLogSource, transactionLogSource } from '../replication/transaction-log-source.js';
import { basicAuthorization, secretKeyAuth } from '../rest/basic-auth.js';
import { buildHandleRestApp } from '../rest/rest-app.js';
import { LocalHandleService } from '../service/local-handle-service.js';
import { type HandleProtocolServer, startHandleProtocolServer } from '../transport/protocol-server.js';
import { loadOrCreateServerKey, serverKeyFrom } from './server-key.js';
import type { ProtocolLog } from '../transport/request-handler.js';

export interface HandleNodeAdmin {
  /** e.g. `0.NA/88.118`. */
  readonly handle: string;
  /** Index of the admin's HS_SECKEY value, e.g. 300. */
  readonly index: number;
  readonly secretKey: string;
}

export interface HandleNodeOptions {
  readonly role: NodeRole;
  /** The homed prefix (e.g. `88.118`); default: the admin handle's (`0.NA/88.118` → `88.118`). */
  readonly prefix?: string;
  readonly dataDir: string;
  /** Address to listen on and to publish in the node's HS_SITE (default 127.0.0.1). */
  readonly host?: string;
  /** Fixed ports: they are published in the site record other nodes and resolvers use. */
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly admin: HandleNodeAdmin;
  /** Mirror only: the primary's REST base URL, e.g. `http://10.0.0.5:8080`. */
  readonly primaryUrl?: string;
  /** Mirror only: pause between change-feed polls once caught up (default 1000 ms). */
  readonly mirrorIntervalMs?: number;
  /** Mirror only: site serial and server id shown in its HS_SITE (default 1 / 2). */
  readonly serverId?: number;
  readonly log?: (line: string) => void;
  readonly httpLogger?: boolean;
  /**
   * Pre-rendered anonymous answers per front end (UDP/TCP and REST), in entries; default 1,000,000 each
   * (≈ 550 bytes of memory per handle for both together), 0 = off. See ADR 0004.
   */
  readonly answerEntries?: number;
  /** Fill those answers from the store in the background once listening (default true). */
  readonly warmAnswers?: boolean;
  /**
   * The server's private key (RSA or DSA) for certified replies; its public half goes into the node's HS_SITE.
   * Default: the key in `dataDir` (privkey.bin, Handle.Net's key file format), made as RSA-2048 on first start.
   */
  readonly serverKey?: KeyObject;
}

export interface HandleNode {
  readonly role: NodeRole;
  readonly prefix: string;
  readonly site: HandleSiteInfo;
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly service: LocalHandleService;
  readonly http: FastifyInstance;
  readonly protocol: HandleProtocolServer;
  /** The public key published in the node's HS_SITE; certified replies verify with it. */
  readonly serverPublicKey: KeyObject;
  /** The mirror's replication state; undefined on a primary. */
  readonly mirror?: Mirror;
  /** Settles when the background warm-up of pre-rendered answers has read the store (or was not asked for). */
  readonly warmed: Promise<{ read: number; added: number; seconds: number }>;
  close(): Promise<void>;
}

function homedPrefixOf(opts: HandleNodeOptions): string {
  if (opts.prefix) return opts.prefix;
  const p = parseHandle(opts.admin.handle);
  if (!p) throw new HandleError(ResponseCode.INVALID_HANDLE, `Admin handle "${opts.admin.handle}" is not prefix/suffix.`);
  return p.prefix.toUpperCase() === '0.NA' ? p.suffix : p.prefix;
}

interface Warming {
  readonly done: Promise<{ read: number; added: number; seconds: number }>;
  abort(): Promise<void>;
}

function notWarming(): Warming {
  return { done: Promise.resolve({ read: 0, added: 0, seconds: 0 }), abort: async () => {} };
}

/** Background warm-up of the pre-rendered answers, with a progress line at most every 5 s. */
/** The protocol server logs (level, message, details); the node's log takes whole lines. */
export function protocolLogTo(line: (text: string) => void): ProtocolLog {
  return (level, message, details) => line(`${level}: ${message}${details && Object.keys(details).length > 0 ? ` ${JSON.stringify(details)}` : ''}`);
}

function warm(service: LocalHandleService, log: (line: string) => void): Warming {
  const ac = new AbortController();
  let lastLog = Date.now();
  const done = service
    .warmPublicAnswers({
      signal: ac.signal,
      onProgress: (read, total) => {
        if (Date.now() - lastLog < 5000) return;
        lastLog = Date.now();
        log(`answers: warming ${read.toLocaleString('en-US')}/${total.toLocaleString('en-US')} records / 预渲染应答加载中 (${total ? Math.round((read / total) * 100) : 100} %)`);
      },
    })
    .then((r) => {
      if (!ac.signal.aborted && r.read > 0) log(`answers: ${r.added.toLocaleString('en-US')} pre-rendered from ${r.read.toLocaleString('en-US')} records in ${r.seconds.toFixed(1)} s / 预渲染应答就绪`);
      return r;
    });
  return {
    done,
    abort: async () => {
      ac.abort();
      await done.catch(() => undefined);
    },
  };
}

export async function startHandleNode(opts: HandleNodeOptions): Promise<HandleNode> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const prefix = homedPrefixOf(opts);
  if (opts.role === 'mirror' && !opts.primaryUrl) {
    throw new HandleError(ResponseCode.ERROR, 'A mirror node needs primaryUrl, the REST base URL of the primary it copies.', {}, 'IIP_ERR_HANDLE_UNREACHABLE');
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const serverKey = opts.serverKey ? serverKeyFrom(opts.serverKey) : loadOrCreateServerKey(opts.dataDir, log);
  const store = openSqliteHandleStore({ file: join(opts.dataDir, 'handles.db') });
  const secret = new TextEncoder().encode(opts.admin.secretKey);
  const site: HandleSiteInfo = {
    primary: opts.role !== 'mirror',
    multiPrimary: false,
    serialNumber: 1,
    servers: [{ serverId: opts.serverId ?? (opts.role === 'mirror' ? 2 : 1), address: host, udpPort: opts.udpPort, tcpPort: opts.tcpPort, httpPort: opts.httpPort, publicKey: serverKey.publicKeyBytes }],
    description: `iip ${opts.role} node for ${prefix}`,
  };
  const started: Array<() => Promise<void> | void> = [() => store.close()];
  const closeAll = async () => {
    for (const stop of started.reverse()) await stop();
  };
  try {
    // A mirror gets its records (admins and secret keys included) from the primary's log, not from here.
    if (opts.role !== 'mirror') {
      await LocalHandleService.bootstrap({ store, prefix, adminHandle: opts.admin.handle, adminIndex: opts.admin.index, secretKey: secret });
    }
    const service = new LocalHandleService({
      store,
      role: opts.role,
      site,
      rootAdmins: [{ handle: opts.admin.handle, index: opts.admin.index }],
      ...(opts.answerEntries !== undefined ? { answerEntries: opts.answerEntries } : {}),
    });
    let mirror: Mirror | undefined;
    if (opts.role === 'mirror') {
      const url = `${(opts.primaryUrl as string).replace(/\/+$/, '')}/api/replication/changes`;
      mirror = startMirror({
        store,
        source: httpTransactionLogSource({ url, auth: basicAuthorization(opts.admin, opts.admin.secretKey) }),
        intervalMs: opts.mirrorIntervalMs ?? 1000,
        onError: (e) => log(`mirror: ${e instanceof Error ? e.message : String(e)}`),
        onApplied: () => service.refresh(),
      });
      const m = mirror;
      started.push(() => m.stop());
    }
    const protocol = await startHandleProtocolServer({ service, host, udpPort: opts.udpPort, tcpPort: opts.tcpPort, log: protocolLogTo(log), serverKey: serverKey.privateKey });
    started.push(() => protocol.close());
    const http = await buildHandleRestApp(service, {
      auth: secretKeyAuth(service),
      templates: service,
      replicationSource: transactionLogSource(store),
      logger: opts.httpLogger ?? false,
    });
    started.push(() => http.close());
    await http.listen({ host, port: opts.httpPort });
    log(`${opts.role} node for ${prefix}: udp ${protocol.udpPort}, tcp ${protocol.tcpPort}, http ${opts.httpPort} on ${host}`);
    const warmed = opts.warmAnswers === false || opts.answerEntries === 0 ? notWarming() : warm(service, log);
    started.push(() => warmed.abort());
    return {
      role: opts.role,
      prefix,
      site,
      udpPort: protocol.udpPort,
      tcpPort: protocol.tcpPort,
      httpPort: opts.httpPort,
      service,
      http,
      protocol,
      serverPublicKey: serverKey.publicKey,
      ...(mirror ? { mirror } : {}),
      warmed: warmed.done,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
