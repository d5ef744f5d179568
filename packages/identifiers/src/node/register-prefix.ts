/**
 * Delegating a prefix to the node that homes it: creates (or replaces) `0.NA/<prefix>` on the parent node —
 * the top level for an industry prefix, a secondary node for an enterprise sub-prefix — with one HS_SITE
 * value per site (primary first, then mirrors), sent over the binary protocol as an authenticated admin.
 */
import type { HandleSiteInfo } from '../model/handle-service.js';
import { DEFAULT_TTL_SECONDS, HS_SITE, type HandleValue } from '../model/handle-value.js';
import { prefixHandle } from '../model/handle-name.js';
import { encodeSiteInfo, fromHandleSiteInfo } from '../protocol/site-info-codec.js';
import { HandleClient, type HandleServerAddress } from '../transport/handle-client.js';

export interface ParentNode {
  readonly server: HandleServerAddress;
  /** An admin of the parent's prefix record with ADD_NA (e.g. the parent node's operator). */
  readonly admin: { readonly handle: string; readonly index: number; readonly secretKey: string };
}

export interface RegisterPrefixOptions {
  /** TTL of the HS_SITE values: how long resolvers may keep using the delegation (default 1 day). */
  readonly ttl?: number;
  readonly client?: HandleClient;
}

/** The HS_SITE values of a delegation: indexes 1, 2, … in the order given (primary first). */
export function siteValues(sites: readonly HandleSiteInfo[], ttl = DEFAULT_TTL_SECONDS, now = Math.floor(Date.now() / 1000)): HandleValue[] {
  return sites.map((s, i) => ({
    index: i + 1,
    type: HS_SITE,
    data: encodeSiteInfo(fromHandleSiteInfo(s)),
    ttlType: 'relative',
    ttl,
    timestamp: now,
    references: [],
    permissions: { adminRead: true, adminWrite: true, publicRead: true, publicWrite: false },
  }));
}

export async function registerPrefix(parent: ParentNode, prefix: string, sites: HandleSiteInfo | readonly HandleSiteInfo[], opts: RegisterPrefixOptions = {}): Promise<string> {
  const list = (Array.isArray(sites) ? sites : [sites]) as readonly HandleSiteInfo[];
  const ordered = [...list].sort((a, b) => Number(b.primary) - Number(a.primary));
  const client = opts.client ?? new HandleClient();
  try {
    return await client.create(parent.server, prefixHandle(prefix), siteValues(ordered, opts.ttl), {
      identity: { handle: parent.admin.handle, index: parent.admin.index },
      secretKey: new TextEncoder().encode(parent.admin.secretKey),
    }, { overwrite: true });
  } finally {
    if (!opts.client) client.close();
  }
}
