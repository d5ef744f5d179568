/**
 * A caching recursive resolver for the identifier hierarchy: it starts from the top-level nodes only, finds
 * the service responsible for a handle's prefix by resolving prefix handles (`0.NA/88.118.8`, then
 * `0.NA/88.118`, … most specific first) and following their HS_SITE (or HS_SERV) values down from node to
 * node, follows referrals, and caches every answer for its values' TTL. When a site's servers do not answer
 * it tries the site's other servers and then the other sites of the same service (mirrors), primary first.
 * A derived prefix (88.118.8) without a prefix handle of its own is served by the HS_SITE.PREFIX sites of
 * its nearest ancestor that has them. A handle whose answer carries HS_ALIAS is resolved as the handle it
 * names (at most 8 aliases in a row, loops refused), unless the caller asks for HS_ALIAS values themselves.
 */
import { HandleError } from '../model/handle-error.js';
import { parseHandle, prefixChain, prefixHandle } from '../model/handle-name.js';
import { normalizeHandle } from '../model/handle-name.js';
import type { HandleSiteInfo, ResolveQuery } from '../model/handle-service.js';
import { HS_ALIAS, HS_SERV, HS_SITE, HS_SITE_PREFIX, type HandleValue } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import { decodeSiteInfo, toHandleSiteInfo } from '../protocol/site-info-codec.js';
import { HandleClient } from '../transport/handle-client.js';
import { handleClientUpstream } from './client-upstream.js';
import { type CachedAnswer, ResolutionCache, expiryOf } from './resolution-cache.js';

export interface ServerAddress {
  readonly address: string;
  readonly udpPort?: number;
  readonly tcpPort?: number;
}

export interface UpstreamReply {
  readonly responseCode: number;
  readonly values: readonly HandleValue[];
  readonly message?: string;
}

/** One question to one server. It rejects only when the server did not answer (timeout, refused). */
export interface ResolutionUpstream {
  ask(server: ServerAddress, handle: string): Promise<UpstreamReply>;
}

export interface RecursiveResolverOptions {
  /** The top-level nodes: the only servers a cold resolver knows. */
  readonly roots: readonly ServerAddress[];
  /** The binary protocol client to ask servers with; default: one of the resolver's own (closed by close()). */
  readonly client?: HandleClient;
  /** How questions reach servers, instead of `client` (tests, or another transport). */
  readonly upstream?: ResolutionUpstream;
  /** Per-attempt timeout of the resolver's own client (default 1,000 ms). */
  readonly timeoutMs?: number;
  readonly cache?: {
    readonly maxEntries?: number;
    /** How long "handle not found" is remembered (default 30 s). */
    readonly negativeTtlSeconds?: number;
    /** Upper bound on any value's TTL in the cache (default 1 day). */
    readonly maxTtlSeconds?: number;
  };
  /** Most referrals (prefix delegations + service referrals) followed for one handle (default 16). */
  readonly maxReferrals?: number;
  /** Decodes HS_SITE data; default: the protocol's site codec. */
  readonly decodeSite?: (data: Uint8Array) => HandleSiteInfo;
  readonly now?: () => number;
  /** Resolve HS_ALIAS handles as the handle they name (default true). */
  readonly followAliases?: boolean;
}

/** Most HS_ALIAS values followed in a row for one resolution. */
export const MAX_ALIAS_HOPS = 8;

export interface ResolverStats {
  /** resolve() calls answered from the cache. */
  readonly hits: number;
  /** resolve() calls that needed at least one lookup beyond the answer cache. */
  readonly misses: number;
  /** Questions sent to servers (each attempt, including those that timed out). */
  readonly upstreamQueries: number;
  /** Times a server did not answer and the next server or site was tried. */
  readonly failovers: number;
  readonly cacheEntries: number;
}

interface Site {
  readonly primary: boolean;
  readonly servers: readonly ServerAddress[];
}

const NOT_FOUND_CODES: ReadonlySet<number> = new Set([ResponseCode.HANDLE_NOT_FOUND]);

function siteKey(sites: readonly Site[]): string {
  return sites.map((s) => s.servers.map((v) => `${v.address}:${v.udpPort ?? ''}:${v.tcpPort ?? ''}`).join(',')).join(';');
}

function filter(values: readonly HandleValue[], query: ResolveQuery): HandleValue[] {
  const types = query.types ?? [];
  const indexes = query.indexes ?? [];
  if (types.length === 0 && indexes.length === 0) return [...values];
  return values.filter((v) => types.includes(v.type) || indexes.includes(v.index));
}

export class RecursiveResolver {
  private readonly roots: readonly Site[];
  private readonly cache: ResolutionCache;
  /** prefix → responsible sites, valid as long as the delegation records it was derived from. */
  private readonly prefixSites: ResolutionCache<readonly Site[]>;
  private readonly negativeTtlMs: number;
  private readonly maxTtlSeconds: number;
  private readonly maxReferrals: number;
  private readonly now: () => number;
  private readonly decodeSite: (data: Uint8Array) => HandleSiteInfo;
  private readonly upstream: ResolutionUpstream;
  private readonly ownClient: HandleClient | undefined;
  private readonly followAliases: boolean;
  private counters = { hits: 0, misses: 0, upstreamQueries: 0, failovers: 0 };

  constructor(opts: RecursiveResolverOptions) {
    if (opts.roots.length === 0) throw new HandleError(ResponseCode.ERROR, 'A resolver needs at least one top-level server.', {}, 'IIP_ERR_HANDLE_UNREACHABLE');
    this.roots = [{ primary: true, servers: opts.roots }];
    this.now = opts.now ?? Date.now;
    this.decodeSite = opts.decodeSite ?? ((d) => toHandleSiteInfo(decodeSiteInfo(d)));
    this.cache = new ResolutionCache(opts.cache?.maxEntries ?? 100_000, this.now);
    this.prefixSites = new ResolutionCache<readonly Site[]>(opts.cache?.maxEntries ?? 100_000, this.now);
    this.negativeTtlMs = (opts.cache?.negativeTtlSeconds ?? 30) * 1000;
    this.maxTtlSeconds = opts.cache?.maxTtlSeconds ?? 86_400;
    this.maxReferrals = opts.maxReferrals ?? 16;
    this.followAliases = opts.followAliases ?? true;
    this.ownClient = opts.upstream || opts.client ? undefined : new HandleClient({ timeoutMs: opts.timeoutMs ?? 1000, retries: 1 });
    this.upstream = opts.upstream ?? handleClientUpstream((opts.client ?? this.ownClient) as HandleClient);
  }

  /** Closes the resolver's own client (a client passed in stays open: its owner closes it). */
  close(): void {
    this.ownClient?.close();
  }

  /** The values of a handle (filtered by type/index). Throws HandleError: 100 not found, 200 none match. */
  async resolve(handle: string, query: ResolveQuery = {}): Promise<HandleValue[]> {
    const wantsAlias = query.types?.includes(HS_ALIAS) ?? false;
    const chain = [handle];
    let current = handle;
    let answer: CachedAnswer;
    for (;;) {
      answer = await this.answerFor(current);
      if (answer.kind === 'error') throw new HandleError(answer.responseCode, answer.message, { handle, ...(current === handle ? {} : { resolvedAs: current }) });
      const alias = this.followAliases && !wantsAlias ? answer.values.find((v) => v.type === HS_ALIAS) : undefined;
      if (!alias) break;
      current = new TextDecoder().decode(alias.data);
      const loop = chain.some((h) => normalizeHandle(h) === normalizeHandle(current));
      chain.push(current);
      if (loop || chain.length > MAX_ALIAS_HOPS + 1) {
        throw new HandleError(ResponseCode.RECURSION_COUNT_TOO_HIGH, `${loop ? 'HS_ALIAS loop' : `More than ${MAX_ALIAS_HOPS} aliases`}: ${chain.join(' → ')}.`, { handle, aliases: chain });
      }
    }
    const out = filter(answer.values, query);
    if (out.length === 0 && ((query.types?.length ?? 0) > 0 || (query.indexes?.length ?? 0) > 0)) {
      throw new HandleError(ResponseCode.VALUES_NOT_FOUND, `${handle} has no values of the requested types/indexes.`, { handle });
    }
    return out;
  }

  /** The whole answer for one handle: from the cache, or looked up from the roots down and cached. */
  private async answerFor(handle: string): Promise<CachedAnswer> {
    const key = `answer|${normalizeHandle(handle)}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.counters.hits++;
      return cached;
    }
    this.counters.misses++;
    const answer = await this.lookUp(handle, { referrals: 0 });
    this.remember(key, answer);
    return answer;
  }

  stats(): ResolverStats {
    return { ...this.counters, cacheEntries: this.cache.size + this.prefixSites.size };
  }

  clearCache(): void {
    this.cache.clear();
    this.prefixSites.clear();
  }

  /** Caches an answer; returns until when it holds (now, for answers that are not cached). */
  private remember(key: string, answer: CachedAnswer): number {
    const at = this.now();
    let until = at;
    if (answer.kind === 'values') until = expiryOf(answer.values, at, this.maxTtlSeconds);
    else if (NOT_FOUND_CODES.has(answer.responseCode)) until = at + this.negativeTtlMs;
    this.cache.set(key, answer, until);
    return until;
  }

  private async lookUp(handle: string, budget: { referrals: number }): Promise<CachedAnswer> {
    const parsed = parseHandle(handle);
    if (!parsed) return { kind: 'error', responseCode: ResponseCode.INVALID_HANDLE, message: `${handle} is not a valid handle (prefix/suffix).` };
    let sites: readonly Site[];
    if (normalizeHandle(parsed.prefix) === '0.na') {
      // A prefix handle lives with the service of its parent prefix; top-level prefixes live at the roots.
      const parent = prefixChain(parsed.suffix)[1];
      sites = parent === undefined ? this.roots : await this.sitesFor(parent, budget);
    } else {
      sites = await this.sitesFor(parsed.prefix, budget);
    }
    return this.askFollowingReferrals(sites, handle, budget);
  }

  /** The sites responsible for a prefix: walk delegations down from the roots, most specific first. */
  private async sitesFor(prefix: string, budget: { referrals: number }): Promise<readonly Site[]> {
    const key = normalizeHandle(prefix);
    const known = this.prefixSites.get(key);
    if (known) return known;
    let sites = this.roots;
    let remaining = prefixChain(prefix);
    let expiresAtMs = this.now() + this.maxTtlSeconds * 1000;
    for (;;) {
      let delegatedAt = -1;
      for (let i = 0; i < remaining.length; i++) {
        const p = remaining[i] as string;
        const rec = await this.cachedAsk(sites, prefixHandle(p), budget);
        if (rec.answer.kind !== 'values') continue;
        // For a more specific prefix still to be found (i > 0), the ancestor's HS_SITE.PREFIX sites serve it.
        const next = await this.sitesFromValues(rec.answer.values, budget, i > 0 ? HS_SITE_PREFIX : HS_SITE);
        if (next.length === 0) continue;
        sites = next;
        delegatedAt = i;
        expiresAtMs = Math.min(expiresAtMs, rec.expiresAtMs);
        break;
      }
      if (delegatedAt <= 0) break;
      if (++budget.referrals > this.maxReferrals) throw new HandleError(ResponseCode.RECURSION_COUNT_TOO_HIGH, `More than ${this.maxReferrals} referrals for prefix ${prefix}.`);
      remaining = remaining.slice(0, delegatedAt);
    }
    this.prefixSites.set(key, sites, expiresAtMs);
    return sites;
  }

  /** A site-scoped cached question: the same prefix handle may exist at one level and not at another. */
  private async cachedAsk(sites: readonly Site[], handle: string, budget: { referrals: number }): Promise<{ answer: CachedAnswer; expiresAtMs: number }> {
    const key = `${siteKey(sites)}|${normalizeHandle(handle)}`;
    const hit = this.cache.entry(key);
    if (hit) return hit;
    const answer = await this.askFollowingReferrals(sites, handle, budget);
    return { answer, expiresAtMs: this.remember(key, answer) };
  }

  private async askFollowingReferrals(sites: readonly Site[], handle: string, budget: { referrals: number }): Promise<CachedAnswer> {
    let current = sites;
    for (;;) {
      const reply = await this.askSites(current, handle);
      if (reply.responseCode === ResponseCode.SERVICE_REFERRAL || reply.responseCode === ResponseCode.PREFIX_REFERRAL) {
        if (++budget.referrals > this.maxReferrals) throw new HandleError(ResponseCode.RECURSION_COUNT_TOO_HIGH, `More than ${this.maxReferrals} referrals for ${handle}.`);
        const next = await this.sitesFromValues(reply.values, budget);
        if (next.length === 0) return { kind: 'error', responseCode: ResponseCode.SERVER_NOT_RESP, message: `A referral for ${handle} named no site.` };
        current = next;
        continue;
      }
      if (reply.responseCode === ResponseCode.SUCCESS) return { kind: 'values', values: reply.values };
      return { kind: 'error', responseCode: reply.responseCode, message: reply.message ?? `${handle}: response code ${reply.responseCode}.` };
    }
  }

  /**
   * HS_SITE values become sites (primary first); without them, HS_SERV names a handle that holds them. With
   * `siteType` HS_SITE.PREFIX, those values are used when present, and HS_SITE/HS_SERV otherwise.
   */
  private async sitesFromValues(values: readonly HandleValue[], budget: { referrals: number }, siteType: typeof HS_SITE | typeof HS_SITE_PREFIX = HS_SITE): Promise<Site[]> {
    if (siteType === HS_SITE_PREFIX && !values.some((v) => v.type === HS_SITE_PREFIX)) siteType = HS_SITE;
    const sites: Site[] = [];
    for (const v of values) {
      if (v.type !== siteType) continue;
      try {
        const s = this.decodeSite(v.data);
        sites.push({ primary: s.primary, servers: s.servers.map((x) => ({ address: x.address, ...(x.udpPort === undefined ? {} : { udpPort: x.udpPort }), ...(x.tcpPort === undefined ? {} : { tcpPort: x.tcpPort }) })) });
      } catch {
        // A malformed site value is skipped; the others may still serve.
      }
    }
    if (sites.length === 0 && siteType === HS_SITE) {
      for (const v of values) {
        if (v.type !== HS_SERV) continue;
        if (++budget.referrals > this.maxReferrals) throw new HandleError(ResponseCode.RECURSION_COUNT_TOO_HIGH, 'Too many HS_SERV indirections.');
        const serviceHandle = new TextDecoder().decode(v.data);
        const rec = await this.lookUp(serviceHandle, budget);
        if (rec.kind === 'values') return this.sitesFromValues(rec.values.filter((x) => x.type === HS_SITE), budget);
      }
    }
    return sites.filter((s) => s.servers.length > 0).sort((a, b) => Number(b.primary) - Number(a.primary));
  }

  private async askSites(sites: readonly Site[], handle: string): Promise<UpstreamReply> {
    let lastError: unknown;
    let lastBusy: UpstreamReply | undefined;
    for (const site of sites) {
      for (const server of site.servers) {
        this.counters.upstreamQueries++;
        try {
          const reply = await this.upstream.ask(server, handle);
          // A busy server, or one that says it is not responsible, is no answer: try the next one.
          if (reply.responseCode === ResponseCode.SERVER_TOO_BUSY || reply.responseCode === ResponseCode.SERVER_NOT_RESP) {
            lastBusy = reply;
            continue;
          }
          return reply;
        } catch (e) {
          lastError = e;
          this.counters.failovers++;
        }
      }
    }
    if (lastBusy) return lastBusy;
    const where = sites.flatMap((s) => s.servers.map((v) => `${v.address}:${v.udpPort ?? v.tcpPort ?? '?'}`)).join(', ');
    throw new HandleError(ResponseCode.ERROR, `No server answered for ${handle} (tried ${where}): ${lastError instanceof Error ? lastError.message : String(lastError)}`, { handle }, 'IIP_ERR_HANDLE_UNREACHABLE');
  }
}
