/**
 * Handle values as JSON, in the shape of the Handle.Net v9 REST API, so that existing Handle.Net clients
 * (b2handle, pyhandle, curl scripts) read and write our values unchanged: `{index, type, data: {format,
 * value}, ttl, timestamp}`; `ttlType`, `references` and the permission flags appear only when they differ
 * from the defaults, as Handle.Net writes them. HS_ADMIN is rendered as `{handle, index, permissions}` with
 * the permissions as a 12-character bit string (bit 11 first), HS_VLIST as a list of `{handle, index}`,
 * HS_SITE as Handle.Net's site object (through the protocol's site codec unless another is given); text that is valid UTF-8 is `string`, anything else `base64`.
 */
import { decodeAdminData, decodeVList, encodeAdminData, encodeVList } from '../model/admin-data.js';
import { HandleError } from '../model/handle-error.js';
import type { HandleSiteInfo } from '../model/handle-service.js';
import { DEFAULT_TTL_SECONDS, DEFAULT_VALUE_PERMISSIONS, HS_ADMIN, HS_SITE, HS_SITE_PREFIX, HS_VLIST } from '../model/handle-value.js';
import type { HandleReference, HandleValue } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import { decodeSiteInfo, encodeSiteInfo, fromHandleSiteInfo, toHandleSiteInfo } from '../protocol/site-info-codec.js';

export type DataFormat = 'string' | 'base64' | 'hex' | 'admin' | 'vlist' | 'site';

export interface AdminJson {
  handle: string;
  index: number;
  permissions: string;
}

export interface SiteJson {
  version: number;
  protocolVersion: string;
  serialNumber: number;
  primarySite: boolean;
  multiPrimary: boolean;
  attributes: Array<{ name: string; value: string }>;
  servers: Array<{
    serverId: number;
    address: string;
    interfaces: Array<{ query: boolean; admin: boolean; protocol: 'UDP' | 'TCP' | 'HTTP'; port: number }>;
  }>;
}

export type DataJson =
  | { format: 'string' | 'base64' | 'hex'; value: string }
  | { format: 'admin'; value: AdminJson }
  | { format: 'vlist'; value: HandleReference[] }
  | { format: 'site'; value: SiteJson };

export interface HandleValueJson {
  index: number;
  type: string;
  data: DataJson;
  ttlType?: 1;
  ttl: number;
  timestamp: string;
  references?: HandleReference[];
  adminRead?: false;
  adminWrite?: false;
  publicRead?: false;
  publicWrite?: true;
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

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

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

// Values written together share their timestamp, so the last formatting is usually the next one too.
let lastSeconds = Number.NaN;
let lastIso = '';

function isoSeconds(unixSeconds: number): string {
  if (unixSeconds !== lastSeconds) {
    lastIso = new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSeconds = unixSeconds;
  }
  return lastIso;
}

export function siteToJson(site: HandleSiteInfo): SiteJson {
  return {
    version: 1,
    protocolVersion: '2.10',
    serialNumber: site.serialNumber,
    primarySite: site.primary,
    multiPrimary: site.multiPrimary,
    attributes: site.description === undefined ? [] : [{ name: 'desc', value: site.description }],
    servers: site.servers.map((s) => ({
      serverId: s.serverId,
      address: s.address,
      interfaces: [
        ...(s.tcpPort === undefined ? [] : [{ query: true, admin: true, protocol: 'TCP' as const, port: s.tcpPort }]),
        ...(s.udpPort === undefined ? [] : [{ query: true, admin: false, protocol: 'UDP' as const, port: s.udpPort }]),
        ...(s.httpPort === undefined ? [] : [{ query: true, admin: true, protocol: 'HTTP' as const, port: s.httpPort }]),
      ],
    })),
  };
}

export function siteFromJson(j: SiteJson): HandleSiteInfo {
  const desc = j.attributes?.find((a) => a.name === 'desc')?.value;
  return {
    primary: Boolean(j.primarySite),
    multiPrimary: Boolean(j.multiPrimary),
    serialNumber: Number(j.serialNumber ?? 1),
    ...(desc === undefined ? {} : { description: desc }),
    servers: (j.servers ?? []).map((s) => {
      const port = (p: string) => s.interfaces?.find((i) => i.protocol === p)?.port;
      const udpPort = port('UDP');
      const tcpPort = port('TCP');
      const httpPort = port('HTTP');
      return {
        serverId: Number(s.serverId),
        address: String(s.address),
        ...(udpPort === undefined ? {} : { udpPort }),
        ...(tcpPort === undefined ? {} : { tcpPort }),
        ...(httpPort === undefined ? {} : { httpPort }),
      };
    }),
  };
}

function dataToJson(v: HandleValue, site: SiteCodec | undefined): DataJson {
  try {
    if (v.type === HS_ADMIN) {
      const rec = decodeAdminData(v.data);
      return { format: 'admin', value: { handle: rec.admin.handle, index: rec.admin.index, permissions: permissionsToBits(rec.permissions) } };
    }
    if (v.type === HS_VLIST) return { format: 'vlist', value: decodeVList(v.data) };
    if ((v.type === HS_SITE || v.type === HS_SITE_PREFIX) && site) return { format: 'site', value: siteToJson(site.decode(v.data)) };
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
  const out: HandleValueJson = { index: v.index, type: v.type, data: dataToJson(v, site), ttl: v.ttl, timestamp: isoSeconds(v.timestamp) };
  if (v.ttlType === 'absolute') out.ttlType = 1;
  if (v.references.length > 0) out.references = v.references.map((r) => ({ handle: r.handle, index: r.index }));
  if (!v.permissions.adminRead) out.adminRead = false;
  if (!v.permissions.adminWrite) out.adminWrite = false;
  if (!v.permissions.publicRead) out.publicRead = false;
  if (v.permissions.publicWrite) out.publicWrite = true;
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function dataFromJson(index: number, data: unknown, site: SiteCodec | undefined): Uint8Array {
  // Handle.Net accepts a bare string as shorthand for {format: "string"}.
  if (typeof data === 'string') return utf8Encoder.encode(data);
  if (!isRecord(data)) throw invalid(index, 'data', 'must be a string or {format, value}');
  const format = data.format ?? 'string';
  const value = data.value;
  switch (format) {
    case 'string':
      if (typeof value !== 'string') throw invalid(index, 'data.value', 'must be a string');
      return utf8Encoder.encode(value);
    case 'base64':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid(index, 'data.value', 'is not base64');
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
    case 'site':
      if (!site) throw invalid(index, 'data.format', '"site" is not supported by this node');
      if (!isRecord(value) || !Array.isArray(value.servers)) throw invalid(index, 'data.value', 'must be a site object with servers');
      return site.encode(siteFromJson(value as unknown as SiteJson));
    default:
      throw invalid(index, 'data.format', `"${String(format)}" is not one of string, base64, hex, admin, vlist, site`);
  }
}

/** Parses one value of a request body; `now` (Unix seconds) stamps values that carry no timestamp. */
export function valueFromJson(j: unknown, now: number, site: SiteCodec = PROTOCOL_SITE_CODEC): HandleValue {
  if (!isRecord(j)) throw invalid('?', 'value', 'must be an object');
  const index = j.index;
  if (!Number.isInteger(index) || (index as number) <= 0 || (index as number) > 0xffffffff) throw invalid(index, 'index', 'must be an integer > 0');
  const idx = index as number;
  if (typeof j.type !== 'string' || j.type.length === 0) throw invalid(idx, 'type', 'must be a non-empty string');
  const ttl = j.ttl === undefined ? DEFAULT_TTL_SECONDS : j.ttl;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff) throw invalid(idx, 'ttl', 'must be an integer ≥ 0');
  const ttlType = j.ttlType === 1 || j.ttlType === 'absolute' ? 'absolute' : 'relative';
  let timestamp = now;
  if (j.timestamp !== undefined) {
    const ms = typeof j.timestamp === 'number' ? j.timestamp * 1000 : Date.parse(String(j.timestamp));
    if (!Number.isFinite(ms)) throw invalid(idx, 'timestamp', 'is not an ISO 8601 time');
    timestamp = Math.floor(ms / 1000);
  }
  const refs = j.references ?? [];
  if (!Array.isArray(refs) || !refs.every((r) => isRecord(r) && typeof r.handle === 'string' && Number.isInteger(r.index))) {
    throw invalid(idx, 'references', 'must be a list of {handle, index}');
  }
  const flag = (name: 'adminRead' | 'adminWrite' | 'publicRead' | 'publicWrite') => {
    const x = j[name];
    if (x === undefined) return DEFAULT_VALUE_PERMISSIONS[name];
    if (typeof x !== 'boolean') throw invalid(idx, name, 'must be true or false');
    return x;
  };
  return {
    index: idx,
    type: j.type,
    data: dataFromJson(idx, j.data, site),
    ttlType,
    ttl,
    timestamp,
    references: (refs as HandleReference[]).map((r) => ({ handle: r.handle, index: r.index })),
    permissions: { adminRead: flag('adminRead'), adminWrite: flag('adminWrite'), publicRead: flag('publicRead'), publicWrite: flag('publicWrite') },
  };
}
