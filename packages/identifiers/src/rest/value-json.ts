/**
 * Handle values as JSON, in the shape of the Handle.Net v9 REST API, so that existing Handle.Net clients
 * (b2handle, pyhandle, the reference's own tools, curl scripts) read and write our values unchanged. The
 * shape follows the reference's GsonUtility.HandleValueGsonTypeAdapter:
 *
 * `{index, type, data: {format, value}, permissions?, ttl, timestamp?, references?}` where
 * - `permissions` is a 4-character bit string, adminRead adminWrite publicRead publicWrite (e.g. "1110"),
 *   written only when it is not the default "1110"; read right-aligned (the last character is publicWrite),
 *   "*" meaning all four;
 * - `ttl` is a number of seconds (relative TTL) or, for an absolute TTL, the expiry as an ISO-8601 string;
 * - `timestamp` is ISO-8601 (seconds, `Z`) and left out when 0; on input it is checked and then ignored —
 *   the node stamps every value it stores with its own clock;
 * - data formats: `string`, `base64`, `hex`, `admin` (HS_ADMIN: `{handle, index, permissions}` with a
 *   12-character bit string, bit 11 first), `vlist` (HS_VLIST: list of `{handle, index}`), `site`
 *   (HS_SITE: the reference's site object) and `key` (HS_PUBKEY: JWK-like, see public-key-json.ts).
 *   Text that is valid UTF-8 is `string`, anything else `base64`.
 * Our older keys (`ttlType`, the `adminRead`… booleans) are still read, never written.
 */
import { decodeAdminData, decodeVList, encodeAdminData, encodeVList } from '../model/admin-data.js';
import { HandleError } from '../model/handle-error.js';
import type { HandleSiteInfo } from '../model/handle-service.js';
import { DEFAULT_TTL_SECONDS, DEFAULT_VALUE_PERMISSIONS, HS_ADMIN, HS_PUBKEY, HS_SITE, HS_SITE_PREFIX, HS_VLIST } from '../model/handle-value.js';
import type { HandleReference, HandleValue, HandleValuePermissions } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import {
  HashOption,
  type SiteInfoRecord,
  type SiteInterface,
  TransportProtocol,
  decodeSiteInfo,
  encodeSiteInfo,
  fromHandleSiteInfo,
  toHandleSiteInfo,
} from '../protocol/site-info-codec.js';
import { type PublicKeyJson, publicKeyFromJson, publicKeyToJson } from './public-key-json.js';

export type DataFormat = 'string' | 'base64' | 'hex' | 'admin' | 'vlist' | 'site' | 'key';

export interface AdminJson {
  handle: string;
  index: number;
  permissions: string;
}

export interface SiteInterfaceJson {
  query: boolean;
  admin: boolean;
  protocol: 'UDP' | 'TCP' | 'HTTP' | 'HTTPS' | number;
  port: number;
}

/** A site as GsonUtility.SiteInfoGsonTypeAdapter writes it. */
export interface SiteJson {
  version: number;
  protocolVersion: string;
  serialNumber: number;
  primarySite: boolean;
  multiPrimary: boolean;
  /** Left out when the site hashes by the whole handle (2), as the reference does. */
  hashOption?: number;
  hashFilter?: string;
  attributes: Array<{ name: string; value: string }>;
  servers: Array<{
    serverId: number;
    address: string;
    publicKey: { format: 'key'; value: PublicKeyJson } | { format: 'base64'; value: string };
    interfaces: SiteInterfaceJson[];
  }>;
}

export type DataJson =
  | { format: 'string' | 'base64' | 'hex'; value: string }
  | { format: 'admin'; value: AdminJson }
  | { format: 'vlist'; value: HandleReference[] }
  | { format: 'site'; value: SiteJson }
  | { format: 'key'; value: PublicKeyJson };

export interface HandleValueJson {
  index: number;
  type: string;
  data: DataJson;
  /** adminRead adminWrite publicRead publicWrite as "0"/"1"; only when not the default "1110". */
  permissions?: string;
  /** Seconds (relative) or the ISO-8601 expiry (absolute). */
  ttl: number | string;
  timestamp?: string;
  references?: HandleReference[];
}

/** The HS_SITE data codec lives with the binary protocol; the REST layer is handed it to stay decoupled. */
export interface SiteCodec {
  encode(site: HandleSiteInfo): Uint8Array;
  decode(data: Uint8Array): HandleSiteInfo;
}

/** The protocol's HS_SITE codec, seen through the shared model. */
export const PROTOCOL_SITE_CODEC: SiteCodec = {
  encode: (site) => encodeSiteInfo(fromHandleSiteInfo(site)),
  decode: (data) => toHandleSiteInfo(decodeSiteInfo(data)),
};

// ignoreBOM keeps a leading U+FEFF in the text: dropping it would lose three bytes of the value.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const U32_MAX = 0xffff_ffff;

function invalid(index: unknown, field: string, why: string): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, `value ${String(index)}: ${field} ${why}`, { index, field });
}

export function permissionsToBits(permissions: number): string {
  return (permissions & 0xfff).toString(2).padStart(12, '0');
}

export function permissionsFromBits(bits: string): number {
  if (!/^[01]{1,16}$/.test(bits)) throw new Error('permissions must be a string of 0 and 1');
  return Number.parseInt(bits, 2);
}

const PERMISSION_ORDER = ['adminRead', 'adminWrite', 'publicRead', 'publicWrite'] as const;

/** The value permission string, or undefined for the default (adminRead, adminWrite, publicRead; not publicWrite). */
export function valuePermissionsToString(p: HandleValuePermissions): string | undefined {
  if (p.adminRead && p.adminWrite && p.publicRead && !p.publicWrite) return undefined;
  return PERMISSION_ORDER.map((k) => (p[k] ? '1' : '0')).join('');
}

/**
 * Reads a value permission string as the reference does: right-aligned, so "10" sets only publicRead=1 and
 * publicWrite=0 and leaves the admin flags at their defaults; "*" grants all four. Anything but 1–4 characters
 * of 0/1 (or "*") is refused rather than read as zeros.
 */
export function valuePermissionsFromString(text: string): HandleValuePermissions {
  if (text === '*') return { adminRead: true, adminWrite: true, publicRead: true, publicWrite: true };
  if (!/^[01]{1,4}$/.test(text)) throw new Error('must be 1 to 4 characters of 0/1 (adminRead adminWrite publicRead publicWrite) or "*"');
  const out: { -readonly [K in keyof HandleValuePermissions]: boolean } = { ...DEFAULT_VALUE_PERMISSIONS };
  const offset = PERMISSION_ORDER.length - text.length;
  for (let i = 0; i < text.length; i++) out[PERMISSION_ORDER[offset + i] as keyof HandleValuePermissions] = text[i] === '1';
  return out;
}

function toIso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// Values written together share their timestamp, so the last formatting is usually the next one too.
let lastSeconds = Number.NaN;
let lastIso = '';

function isoSeconds(unixSeconds: number): string {
  if (unixSeconds !== lastSeconds) {
    lastIso = toIso(unixSeconds);
    lastSeconds = unixSeconds;
  }
  return lastIso;
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Unix seconds of an ISO-8601 date or date-time (UTC unless it names an offset, as the reference's
 * FastDateFormat.parseUtc reads it), or undefined when the text is not one.
 */
export function isoToSeconds(text: string): number | undefined {
  const m = ISO_8601.exec(text.trim());
  if (!m) return undefined;
  const zone = m[3] === undefined ? 'Z' : m[3].length === 5 ? `${m[3].slice(0, 3)}:${m[3].slice(3)}` : m[3];
  const ms = Date.parse(m[2] === undefined ? `${m[1]}T00:00:00Z` : `${m[1]}T${m[2]}${zone}`);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

// ---- HS_SITE (GsonUtility.SiteInfoGsonTypeAdapter / ServerInfo / Interface adapters)

const PROTOCOL_NAMES: Record<number, SiteInterfaceJson['protocol']> = {
  [TransportProtocol.UDP]: 'UDP',
  [TransportProtocol.TCP]: 'TCP',
  [TransportProtocol.HTTP]: 'HTTP',
  [TransportProtocol.HTTPS]: 'HTTPS',
};
// Interface service type bits (RFC 3651 / Handle.Net Interface): 1 admin, 2 query, 3 both.
const ST_ADMIN = 1;
const ST_QUERY = 2;

/** A full HS_SITE record as the reference's JSON. */
export function siteRecordToJson(s: SiteInfoRecord): SiteJson {
  return {
    version: s.dataFormatVersion,
    protocolVersion: `${s.protocolMajor}.${s.protocolMinor}`,
    serialNumber: s.serialNumber,
    primarySite: s.primary,
    multiPrimary: s.multiPrimary,
    // Written only when they say something: hashing by the whole handle (2) and no filter are the defaults.
    ...(s.hashOption !== HashOption.BY_HANDLE && { hashOption: s.hashOption }),
    ...(s.hashFilter.length > 0 && { hashFilter: s.hashFilter }),
    attributes: s.attributes.map((a) => ({ name: a.name, value: a.value })),
    servers: s.servers.map((srv) => {
      // An empty or unreadable key is shown as base64, as the reference's ServerInfo adapter falls back.
      const key = srv.publicKey.length > 0 ? publicKeyToJson(srv.publicKey) : undefined;
      return {
        serverId: srv.serverId,
        address: srv.address,
        publicKey: key ? { format: 'key' as const, value: key } : { format: 'base64' as const, value: Buffer.from(srv.publicKey).toString('base64') },
        interfaces: srv.interfaces.map((i) => ({
          query: (i.serviceType & ST_QUERY) !== 0,
          admin: (i.serviceType & ST_ADMIN) !== 0,
          protocol: PROTOCOL_NAMES[i.protocol] ?? i.protocol,
          port: i.port,
        })),
      };
    }),
  };
}

/** The reference's site JSON (also its older capitalised `ServerList`/`Address`/`Port` keys) as a record. */
export function siteRecordFromJson(j: unknown, where = 'site'): SiteInfoRecord {
  const bad = (field: string, why: string) => new Error(`${where}.${field} ${why}`);
  if (!isRecord(j)) throw bad('', 'must be an object');
  const o = lowerCaseKeys(j);
  const int = (x: unknown, field: string, max: number, dflt?: number): number => {
    if (x === undefined && dflt !== undefined) return dflt;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) throw bad(field, `must be an integer from 0 to ${max}`);
    return x;
  };
  let protocolMajor = 2;
  let protocolMinor = 10;
  if (o.protocolVersion !== undefined) {
    const m = /^(\d{1,3})\.(\d{1,3})$/.exec(String(o.protocolVersion));
    if (!m) throw bad('protocolVersion', 'must look like "2.10"');
    protocolMajor = Number(m[1]);
    protocolMinor = Number(m[2]);
  }
  const attributes: Array<{ name: string; value: string }> = [];
  if (Array.isArray(o.attributes)) {
    for (const a of o.attributes) {
      if (!isRecord(a) || typeof a.name !== 'string' || typeof a.value !== 'string') throw bad('attributes', 'must be a list of {name, value} strings');
      attributes.push({ name: a.name, value: a.value });
    }
  } else if (isRecord(o.attributes)) {
    for (const [name, value] of Object.entries(o.attributes)) {
      for (const v of Array.isArray(value) ? value : [value]) attributes.push({ name, value: String(v) });
    }
  } else if (o.attributes !== undefined) throw bad('attributes', 'must be a list of {name, value}');
  const rawServers = o.servers ?? o.serverList;
  if (!Array.isArray(rawServers)) throw bad('servers', 'must be a list');
  const servers = rawServers.map((raw, k) => {
    if (!isRecord(raw)) throw bad(`servers[${k}]`, 'must be an object');
    const srv = lowerCaseKeys(raw);
    if (typeof srv.address !== 'string' || srv.address.length === 0) throw bad(`servers[${k}].address`, 'must be an IP address');
    let publicKey: Uint8Array = new Uint8Array(0);
    if (srv.publicKey !== undefined) {
      try {
        publicKey = typeof srv.publicKey === 'string' ? new Uint8Array(Buffer.from(srv.publicKey, 'hex')) : dataFromJson('?', srv.publicKey, undefined);
      } catch (e) {
        throw bad(`servers[${k}].publicKey`, e instanceof HandleError ? e.message.replace(/^value \?: /, '') : 'is not key data');
      }
    }
    const rawIfs = srv.interfaces ?? srv.interfaceList ?? [];
    if (!Array.isArray(rawIfs)) throw bad(`servers[${k}].interfaces`, 'must be a list');
    const interfaces: SiteInterface[] = rawIfs.map((ri, n) => {
      if (!isRecord(ri)) throw bad(`servers[${k}].interfaces[${n}]`, 'must be an object');
      const i = lowerCaseKeys(ri);
      const name = typeof i.protocol === 'string' ? i.protocol.toUpperCase() : undefined;
      const protocol = name !== undefined ? Object.entries(PROTOCOL_NAMES).find(([, v]) => v === name)?.[0] : i.protocol;
      const proto = int(protocol === undefined ? undefined : Number(protocol), `servers[${k}].interfaces[${n}].protocol`, 255);
      const serviceType = (i.query === true ? ST_QUERY : 0) | (i.admin === true ? ST_ADMIN : 0);
      return { serviceType, protocol: proto, port: int(i.port, `servers[${k}].interfaces[${n}].port`, 0xffff) };
    });
    return { serverId: int(srv.serverId, `servers[${k}].serverId`, U32_MAX, 1), address: srv.address, publicKey, interfaces };
  });
  return {
    dataFormatVersion: int(o.version, 'version', 0xffff, 1),
    protocolMajor,
    protocolMinor,
    serialNumber: int(o.serialNumber, 'serialNumber', 0xffff, 1),
    primary: o.primarySite === true,
    multiPrimary: o.multiPrimary === true,
    hashOption: int(o.hashOption, 'hashOption', 255, HashOption.BY_HANDLE),
    hashFilter: typeof o.hashFilter === 'string' ? o.hashFilter : '',
    attributes,
    servers,
  };
}

/** The reference also reads the capitalised keys of its older site JSON. */
function lowerCaseKeys(o: Record<string, unknown>): Record<string, unknown> {
  if (!('ServerList' in o || 'Address' in o || 'Port' in o)) return o;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), v]));
}

/** A site of the shared model in the reference's JSON: the record the binary protocol sends for it. */
export function siteToJson(site: HandleSiteInfo): SiteJson {
  return siteRecordToJson(fromHandleSiteInfo(site));
}

export function siteFromJson(j: unknown): HandleSiteInfo {
  return toHandleSiteInfo(siteRecordFromJson(j));
}

// ---- values

function dataToJson(v: HandleValue, site: SiteCodec | undefined): DataJson {
  try {
    if (v.type === HS_ADMIN) {
      const rec = decodeAdminData(v.data);
      return { format: 'admin', value: { handle: rec.admin.handle, index: rec.admin.index, permissions: permissionsToBits(rec.permissions) } };
    }
    if (v.type === HS_VLIST) return { format: 'vlist', value: decodeVList(v.data) };
    if ((v.type === HS_SITE || v.type === HS_SITE_PREFIX) && site) return { format: 'site', value: siteToJson(site.decode(v.data)) };
    if (v.type === HS_PUBKEY) {
      const key = publicKeyToJson(v.data);
      if (key) return { format: 'key', value: key };
    }
  } catch {
    // Malformed reserved-type data is still shown, as bytes, rather than hiding the value.
  }
  try {
    return { format: 'string', value: utf8.decode(v.data) };
  } catch {
    return { format: 'base64', value: Buffer.from(v.data).toString('base64') };
  }
}

export function valueToJson(v: HandleValue, site: SiteCodec = PROTOCOL_SITE_CODEC): HandleValueJson {
  const data = dataToJson(v, site);
  const ttl = v.ttlType === 'absolute' ? toIso(v.ttl) : v.ttl;
  const permissions = valuePermissionsToString(v.permissions);
  // Keys in the reference's order: index, type, data, permissions, ttl, timestamp, references.
  const out: HandleValueJson = permissions === undefined ? { index: v.index, type: v.type, data, ttl } : { index: v.index, type: v.type, data, permissions, ttl };
  if (v.timestamp !== 0) out.timestamp = isoSeconds(v.timestamp);
  if (v.references.length > 0) out.references = v.references.map((r) => ({ handle: r.handle, index: r.index }));
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function dataFromJson(index: number | string, data: unknown, site: SiteCodec | undefined): Uint8Array {
  // Handle.Net accepts a bare string as shorthand for {format: "string"}.
  if (typeof data === 'string') return utf8Encoder.encode(data);
  if (!isRecord(data)) throw invalid(index, 'data', 'must be a string or {format, value}');
  const format = typeof data.format === 'string' ? data.format.toLowerCase() : (data.format ?? 'string');
  const value = data.value;
  switch (format) {
    case 'string':
      if (typeof value !== 'string') throw invalid(index, 'data.value', 'must be a string');
      return utf8Encoder.encode(value);
    case 'base64':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw invalid(index, 'data.value', 'is not base64');
      return new Uint8Array(Buffer.from(value, 'base64'));
    case 'hex':
      if (typeof value !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(value)) throw invalid(index, 'data.value', 'is not hex');
      return new Uint8Array(Buffer.from(value, 'hex'));
    case 'admin': {
      if (!isRecord(value) || typeof value.handle !== 'string' || !Number.isInteger(value.index)) {
        throw invalid(index, 'data.value', 'must be {handle, index, permissions}');
      }
      let permissions: number;
      try {
        permissions = typeof value.permissions === 'number' ? value.permissions : permissionsFromBits(String(value.permissions ?? '111111111111'));
      } catch (e) {
        throw invalid(index, 'data.value.permissions', (e as Error).message);
      }
      return encodeAdminData({ admin: { handle: value.handle, index: value.index as number }, permissions });
    }
    case 'vlist': {
      if (!Array.isArray(value) || !value.every((r) => isRecord(r) && typeof r.handle === 'string' && Number.isInteger(r.index))) {
        throw invalid(index, 'data.value', 'must be a list of {handle, index}');
      }
      return encodeVList(value as HandleReference[]);
    }
    case 'site': {
      if (!site) throw invalid(index, 'data.format', '"site" is not supported by this node');
      let parsed: HandleSiteInfo;
      try {
        parsed = siteFromJson(value);
      } catch (e) {
        throw invalid(index, 'data.value', (e as Error).message.replace(/^site\./, 'site '));
      }
      return site.encode(parsed);
    }
    case 'key':
      try {
        return publicKeyFromJson(value);
      } catch (e) {
        throw invalid(index, 'data.value', (e as Error).message);
      }
    default:
      throw invalid(index, 'data.format', `"${String(data.format)}" is not one of string, base64, hex, admin, vlist, site, key`);
  }
}

function ttlFromJson(idx: number, j: Record<string, unknown>): { ttlType: 'relative' | 'absolute'; ttl: number } {
  const ttl = j.ttl === undefined ? DEFAULT_TTL_SECONDS : j.ttl;
  if (typeof ttl === 'string') {
    // The reference's absolute TTL: the expiry time as an ISO-8601 string.
    const at = isoToSeconds(ttl);
    if (at === undefined || at < 0 || at > U32_MAX) throw invalid(idx, 'ttl', 'must be seconds, or an ISO 8601 expiry time from 1970 to 2106');
    return { ttlType: 'absolute', ttl: at };
  }
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > U32_MAX) throw invalid(idx, 'ttl', 'must be an integer ≥ 0 or an ISO 8601 expiry time');
  // Our older shape: a number with ttlType 1 (or "absolute") is the expiry in Unix seconds.
  return { ttlType: j.ttlType === 1 || j.ttlType === 'absolute' ? 'absolute' : 'relative', ttl };
}

function permissionsFromJson(idx: number, j: Record<string, unknown>): HandleValuePermissions {
  let perms: HandleValuePermissions = DEFAULT_VALUE_PERMISSIONS;
  if (j.permissions !== undefined) {
    if (typeof j.permissions !== 'string') throw invalid(idx, 'permissions', 'must be a string such as "1110"');
    try {
      perms = valuePermissionsFromString(j.permissions);
    } catch (e) {
      throw invalid(idx, 'permissions', (e as Error).message);
    }
  }
  // Our older shape: one boolean per flag; read after `permissions`, so an explicit flag wins.
  const out = { ...perms };
  for (const name of PERMISSION_ORDER) {
    const x = j[name];
    if (x === undefined) continue;
    if (typeof x !== 'boolean') throw invalid(idx, name, 'must be true or false');
    out[name] = x;
  }
  return out;
}

/**
 * Parses one value of a request body. The timestamp a client sends is checked for form and otherwise
 * ignored: the value carries `now` (Unix seconds) until the service stamps it with the node's clock.
 */
export function valueFromJson(j: unknown, now: number, site: SiteCodec = PROTOCOL_SITE_CODEC): HandleValue {
  if (!isRecord(j)) throw invalid('?', 'value', 'must be an object');
  const index = j.index;
  if (!Number.isInteger(index) || (index as number) <= 0 || (index as number) > U32_MAX) throw invalid(index, 'index', 'must be an integer > 0');
  const idx = index as number;
  if (typeof j.type !== 'string' || j.type.length === 0) throw invalid(idx, 'type', 'must be a non-empty string');
  const { ttlType, ttl } = ttlFromJson(idx, j);
  if (j.timestamp !== undefined) {
    const ok = typeof j.timestamp === 'number' ? Number.isFinite(j.timestamp) : typeof j.timestamp === 'string' && isoToSeconds(j.timestamp) !== undefined;
    if (!ok) throw invalid(idx, 'timestamp', 'is not an ISO 8601 time');
  }
  const refs = j.references ?? [];
  if (!Array.isArray(refs) || !refs.every((r) => isRecord(r) && typeof r.handle === 'string' && Number.isInteger(r.index))) {
    throw invalid(idx, 'references', 'must be a list of {handle, index}');
  }
  return {
    index: idx,
    type: j.type,
    data: dataFromJson(idx, j.data, site),
    ttlType,
    ttl,
    timestamp: now,
    references: (refs as HandleReference[]).map((r) => ({ handle: r.handle, index: r.index })),
    permissions: permissionsFromJson(idx, j),
  };
}
