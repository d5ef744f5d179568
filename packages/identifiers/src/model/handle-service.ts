/**
 * What a Handle node does, independent of the transport: the binary protocol servers (UDP/TCP) and the
 * REST API both call this, so every operation is authorised the same way (HS_ADMIN permission bits) and
 * reports the same response codes. Calls return promises (the store behind a service may be a server
 * engine); the resolution hot path does not come through here but through pre-rendered answers
 * (service/public-answers.ts), which answer a hit without a promise.
 */
import type { HandleValue, Identity } from './handle-value.js';

export interface ResolveQuery {
  /** Only values of these types (exact, case-sensitive as in RFC 3652); empty/absent = all. */
  readonly types?: readonly string[];
  /** Only values with these indexes; empty/absent = all. */
  readonly indexes?: readonly number[];
  /**
   * For an anonymous caller: fail with AUTHENTICATION_NEEDED (402) instead of leaving out values that an
   * administrator could read. The binary protocol sets it when a request does not carry the PUBLIC_ONLY flag,
   * and answers the 402 with a challenge (RFC 3652 authenticated resolution).
   */
  readonly strict?: boolean;
}

export interface HandleSiteInfo {
  readonly primary: boolean;
  readonly multiPrimary: boolean;
  readonly serialNumber: number;
  readonly servers: ReadonlyArray<{
    readonly serverId: number;
    readonly address: string;
    readonly udpPort?: number;
    readonly tcpPort?: number;
    readonly httpPort?: number;
    /** The server's public key in the Handle key encoding (public-key-codec), which certified replies verify with. */
    readonly publicKey?: Uint8Array;
  }>;
  readonly description?: string;
}

export type NodeRole = 'top-level' | 'secondary' | 'enterprise' | 'mirror';

export interface HandleService {
  readonly role: NodeRole;
  /** Values of a handle the identity may read (anonymous: publicRead only). Throws HandleError. */
  resolve(handle: string, query: ResolveQuery, who: Identity): Promise<HandleValue[]>;
  /** Creates (or with overwrite replaces) a handle. Returns the handle actually created (minted suffix). */
  create(handle: string, values: readonly HandleValue[], who: Identity, opts?: { overwrite?: boolean; mintNewSuffix?: boolean }): Promise<string>;
  delete(handle: string, who: Identity): Promise<void>;
  addValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void>;
  removeValues(handle: string, indexes: readonly number[], who: Identity): Promise<void>;
  /** Replaces values with the same indexes (they must exist). */
  modifyValues(handle: string, values: readonly HandleValue[], who: Identity): Promise<void>;
  /** Handles under a prefix this node homes, in name order, paged. */
  listHandles(prefix: string, who: Identity, page: { offset: number; limit: number }): Promise<{ handles: string[]; total: number }>;
  homePrefix(prefix: string, who: Identity): Promise<void>;
  unhomePrefix(prefix: string, who: Identity): Promise<void>;
  listHomedPrefixes(): string[];
  siteInfo(): HandleSiteInfo;
  /** The secret key bytes of an HS_SECKEY identity, for challenge–response; undefined when absent. */
  secretKeyOf(identity: { handle: string; index: number }): Promise<Uint8Array | undefined>;
  /**
   * The HS_PUBKEY values (index and data, the Handle key encoding) an identity may prove with its private
   * key: the one at its index, or with index 0 every HS_PUBKEY value of the handle (as Handle.Net's server
   * reads index 0). Public keys are public data, so no permission is needed. Optional: a service without it
   * has no public-key identities.
   */
  publicKeysOf?(identity: { handle: string; index: number }): Promise<Array<{ readonly index: number; readonly data: Uint8Array }>>;
}
