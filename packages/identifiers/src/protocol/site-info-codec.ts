/**
 * HS_SITE data (RFC 3651 §3.2.1): the servers of a handle service site and how to reach them. Layout:
 * data format version (2), protocol major/minor (1+1), serial number (2), primary mask (1: 0x80 primary,
 * 0x40 multi-primary), hash option (1), hash filter (UTF8-String), attributes (count + name/value
 * UTF8-String pairs), servers (count + server id (4), 16-byte address, public key (4-byte length + bytes),
 * interfaces (count + service type (1), transport protocol (1), port (4))).
 *
 * Addresses: IPv4 is written as twelve zero bytes followed by the four address bytes, which is what
 * Handle.Net writes and reads; `::ffff:a.b.c.d` is also read as IPv4.
 */
import { isIP } from 'node:net';
import { HandleError } from '../model/handle-error.js';
import type { HandleSiteInfo } from '../model/handle-service.js';
import { ResponseCode } from '../model/response-codes.js';
import { LIMITS } from './limits.js';
import { WireReader, protocolError } from './wire-reader.js';
import { WireWriter, assertU32, utf8Length } from './wire-writer.js';

export const SITE_DATA_FORMAT_VERSION = 1;
const PRIMARY_MASK = 0x80;
const MULTI_PRIMARY_MASK = 0x40;

/** Interface service types (RFC 3651: admin, resolution, or both). */
export const ServiceType = { NONE: 0, ADMIN: 1, RESOLUTION: 2, BOTH: 3 } as const;
/** Interface transport protocols (RFC 3651: 0 UDP, 1 TCP, 2 HTTP; Handle.Net adds 3 HTTPS). */
export const TransportProtocol = { UDP: 0, TCP: 1, HTTP: 2, HTTPS: 3 } as const;
export const HashOption = { BY_PREFIX: 0, BY_SUFFIX: 1, BY_HANDLE: 2 } as const;

export interface SiteInterface {
  readonly serviceType: number;
  readonly protocol: number;
  readonly port: number;
}

export interface SiteServer {
  readonly serverId: number;
  /** Dotted IPv4 or IPv6 text. */
  readonly address: string;
  readonly publicKey: Uint8Array;
  readonly interfaces: readonly SiteInterface[];
}

export interface SiteAttribute {
  readonly name: string;
  readonly value: string;
}

/** The full HS_SITE record as it travels; `toHandleSiteInfo` maps it to the shared model. */
export interface SiteInfoRecord {
  readonly dataFormatVersion: number;
  readonly protocolMajor: number;
  readonly protocolMinor: number;
  readonly serialNumber: number;
  readonly primary: boolean;
  readonly multiPrimary: boolean;
  readonly hashOption: number;
  readonly hashFilter: string;
  readonly attributes: readonly SiteAttribute[];
  readonly servers: readonly SiteServer[];
}

function addressBytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  const kind = isIP(address);
  if (kind === 4) {
    const parts = address.split('.').map(Number);
    out.set(parts, 12);
    return out;
  }
  if (kind !== 6) throw new HandleError(ResponseCode.INVALID_VALUE, `Server address "${address}" is not an IP address.`, { address });
  let text = address;
  const pct = text.indexOf('%');
  if (pct >= 0) text = text.slice(0, pct);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two 16-bit groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const p = v4[1].split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1].length)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  for (let i = 0; i < 8; i++) {
    const g = Number.parseInt(groups[i] ?? '0', 16);
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

function addressText(b: Uint8Array): string {
  let zeros10 = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) zeros10 = false;
  const mapped = zeros10 && ((b[10] === 0 && b[11] === 0) || (b[10] === 0xff && b[11] === 0xff));
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push((((b[i * 2] as number) << 8) | (b[i * 2 + 1] as number)).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks, so the text is canonical.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

export function siteInfoSize(s: SiteInfoRecord): number {
  let n = 2 + 2 + 2 + 1 + 1 + 4 + utf8Length(s.hashFilter) + 4;
  for (const a of s.attributes) n += 8 + utf8Length(a.name) + utf8Length(a.value);
  n += 4;
  for (const srv of s.servers) n += 4 + 16 + 4 + srv.publicKey.length + 4 + 6 * srv.interfaces.length;
  return n;
}

export function writeSiteInfo(w: WireWriter, s: SiteInfoRecord): void {
  w.u16(s.dataFormatVersion);
  w.u8(s.protocolMajor);
  w.u8(s.protocolMinor);
  w.u16(s.serialNumber);
  w.u8((s.primary ? PRIMARY_MASK : 0) | (s.multiPrimary ? MULTI_PRIMARY_MASK : 0));
  w.u8(s.hashOption);
  w.utf8(s.hashFilter, utf8Length(s.hashFilter));
  w.u32(s.attributes.length);
  for (const a of s.attributes) {
    w.utf8(a.name, utf8Length(a.name));
    w.utf8(a.value, utf8Length(a.value));
  }
  w.u32(s.servers.length);
  for (const srv of s.servers) {
    w.u32(assertU32(srv.serverId, 'server id'));
    w.raw(addressBytes(srv.address));
    w.bytes(srv.publicKey);
    w.u32(srv.interfaces.length);
    for (const i of srv.interfaces) {
      w.u8(i.serviceType);
      w.u8(i.protocol);
      w.u32(assertU32(i.port, 'interface port'));
    }
  }
}

export function readSiteInfo(r: WireReader): SiteInfoRecord {
  const dataFormatVersion = r.u16('site data format version');
  const protocolMajor = r.u8('site protocol major version');
  const protocolMinor = r.u8('site protocol minor version');
  const serialNumber = r.u16('site serial number');
  const mask = r.u8('site primary mask');
  const hashOption = r.u8('site hash option');
  const hashFilter = r.utf8('site hash filter', 1024);
  const nAttr = r.count('site attribute count', 8, LIMITS.siteAttributes);
  const attributes: SiteAttribute[] = [];
  for (let i = 0; i < nAttr; i++) attributes.push({ name: r.utf8('site attribute name', 4096), value: r.utf8('site attribute value', 64 * 1024) });
  const nServers = r.count('site server count', 28, LIMITS.siteServers);
  const servers: SiteServer[] = [];
  for (let i = 0; i < nServers; i++) {
    const serverId = r.u32('server id');
    const address = addressText(r.fixed(16, 'server address'));
    const publicKey = r.bytesCopy('server public key', 64 * 1024);
    const nIf = r.count('server interface count', 6, LIMITS.interfacesPerServer);
    const interfaces: SiteInterface[] = [];
    for (let j = 0; j < nIf; j++) interfaces.push({ serviceType: r.u8('interface type'), protocol: r.u8('interface protocol'), port: r.u32('interface port') });
    servers.push({ serverId, address, publicKey, interfaces });
  }
  return { dataFormatVersion, protocolMajor, protocolMinor, serialNumber, primary: (mask & PRIMARY_MASK) !== 0, multiPrimary: (mask & MULTI_PRIMARY_MASK) !== 0, hashOption, hashFilter, attributes, servers };
}

/** HS_SITE value data → record; refuses trailing bytes, as the data is exactly one record. */
export function decodeSiteInfo(data: Uint8Array): SiteInfoRecord {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const r = new WireReader(buf);
  const s = readSiteInfo(r);
  r.expectEnd('HS_SITE data');
  return s;
}

export function encodeSiteInfo(s: SiteInfoRecord): Uint8Array {
  const buf = Buffer.alloc(siteInfoSize(s));
  writeSiteInfo(new WireWriter(buf), s);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

const DESCRIPTION_ATTRIBUTE = 'desc';

/** The shared model's view of a site: ports per transport for resolution-capable interfaces. */
export function toHandleSiteInfo(s: SiteInfoRecord): HandleSiteInfo {
  const description = s.attributes.find((a) => a.name === DESCRIPTION_ATTRIBUTE)?.value;
  return {
    primary: s.primary,
    multiPrimary: s.multiPrimary,
    serialNumber: s.serialNumber,
    servers: s.servers.map((srv) => {
      const port = (p: number): number | undefined => srv.interfaces.find((i) => i.protocol === p && i.serviceType !== ServiceType.NONE)?.port;
      const udpPort = port(TransportProtocol.UDP);
      const tcpPort = port(TransportProtocol.TCP);
      const httpPort = port(TransportProtocol.HTTP);
      return {
        serverId: srv.serverId,
        address: srv.address,
        ...(udpPort !== undefined && { udpPort }),
        ...(tcpPort !== undefined && { tcpPort }),
        ...(httpPort !== undefined && { httpPort }),
        ...(srv.publicKey.length > 0 && { publicKey: srv.publicKey }),
      };
    }),
    ...(description !== undefined && { description }),
  };
}

/** A record for the shared model's site: protocol 2.10, hash by prefix, every interface admin + resolution. */
export function fromHandleSiteInfo(s: HandleSiteInfo): SiteInfoRecord {
  if (!Number.isInteger(s.serialNumber) || s.serialNumber < 0 || s.serialNumber > 0xffff) throw protocolError(`Site serial number ${s.serialNumber} does not fit 16 bits.`);
  return {
    dataFormatVersion: SITE_DATA_FORMAT_VERSION,
    protocolMajor: 2,
    protocolMinor: 10,
    serialNumber: s.serialNumber,
    primary: s.primary,
    multiPrimary: s.multiPrimary,
    hashOption: HashOption.BY_PREFIX,
    hashFilter: '',
    attributes: s.description !== undefined ? [{ name: DESCRIPTION_ATTRIBUTE, value: s.description }] : [],
    servers: s.servers.map((srv) => {
      const interfaces: SiteInterface[] = [];
      if (srv.tcpPort !== undefined) interfaces.push({ serviceType: ServiceType.BOTH, protocol: TransportProtocol.TCP, port: srv.tcpPort });
      if (srv.udpPort !== undefined) interfaces.push({ serviceType: ServiceType.BOTH, protocol: TransportProtocol.UDP, port: srv.udpPort });
      if (srv.httpPort !== undefined) interfaces.push({ serviceType: ServiceType.BOTH, protocol: TransportProtocol.HTTP, port: srv.httpPort });
      return { serverId: srv.serverId, address: srv.address, publicKey: srv.publicKey ?? new Uint8Array(0), interfaces };
    }),
  };
}
