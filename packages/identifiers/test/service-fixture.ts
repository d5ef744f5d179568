// Shared set-up for the service tests: a node store in a temp dir, bootstrapped for one prefix, and
// helpers to build values and admin records.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  HandleClient,
  HandleError,
  type HandleProtocolServer,
  type HandleReference,
  type HandleSiteInfo,
  type HandleValue,
  HS_ADMIN,
  HS_VLIST,
  LocalHandleService,
  type NodeRole,
  ResponseCode,
  encodeAdminData,
  encodeVList,
  startHandleProtocolServer,
} from '@iip/identifiers';
import { type HandleStore, openSqliteHandleStore } from '@iip/storage';
import { tempDir } from '@iip/testkit';

export const SITE: HandleSiteInfo = { primary: true, multiPrimary: false, serialNumber: 1, servers: [{ serverId: 1, address: '127.0.0.1', udpPort: 2641 }] };
export const ROOT: HandleReference = { handle: '0.NA/88.118', index: 300 };
const enc = new TextEncoder();

export function text(index: number, type: string, data: string, perms: Partial<HandleValue['permissions']> = {}): HandleValue {
  return {
    index,
    type,
    data: enc.encode(data),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: 0,
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false, ...perms },
  };
}

export function admin(index: number, who: HandleReference, permissions: number): HandleValue {
  return { ...text(index, HS_ADMIN, ''), data: encodeAdminData({ admin: who, permissions }) };
}

export function vlist(index: number, members: HandleReference[]): HandleValue {
  return { ...text(index, HS_VLIST, ''), data: encodeVList(members) };
}

export async function openStore(t: TestContext, name = 'node.db'): Promise<{ store: HandleStore; file: string }> {
  const dir = await tempDir('iip-svc-');
  const file = join(dir.path, name);
  const store = openSqliteHandleStore({ file });
  t.after(async () => {
    await store.close();
    await dir.cleanup();
  });
  return { store, file };
}

/** A bootstrapped node whose bootstrap admin is also its root admin (Handle.Net's server_admins). */
export async function node(t: TestContext, role: NodeRole = 'secondary', prefix = '88.118'): Promise<{ service: LocalHandleService; store: HandleStore }> {
  const { store } = await openStore(t);
  await LocalHandleService.bootstrap({ store, prefix, adminHandle: `0.NA/${prefix}`, adminIndex: 300, secretKey: enc.encode('s3cret') });
  return { service: new LocalHandleService({ store, role, site: SITE, now: () => 1_700_000_000_000, rootAdmins: [ROOT] }), store };
}

/** A bootstrapped node served over UDP/TCP on free ports, with a client; both closed after the test. */
export async function servedNode(t: TestContext): Promise<{
  service: LocalHandleService;
  server: HandleProtocolServer;
  client: HandleClient;
  addr: { address: string; udpPort: number; tcpPort: number };
}> {
  const { service } = await node(t);
  const server = await startHandleProtocolServer({ service, udpPort: 0, tcpPort: 0 });
  const client = new HandleClient({ timeoutMs: 2000, retries: 1 });
  t.after(async () => {
    client.close();
    await server.close();
  });
  return { service, server, client, addr: { address: '127.0.0.1', udpPort: server.udpPort, tcpPort: server.tcpPort } };
}

/** The response code `fn` ends with: a HandleError's, or SUCCESS when it resolves. Other errors are rethrown. */
export async function responseCodeOf(fn: () => unknown): Promise<number> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof HandleError) return e.responseCode;
    throw e;
  }
  return ResponseCode.SUCCESS;
}
