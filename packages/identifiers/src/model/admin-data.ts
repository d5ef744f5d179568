/**
 * The binary data of the two value types that decide authorisation (RFC 3651 §3.1.1, §3.2.2): HS_ADMIN
 * holds `AdminPermission (2 bytes) + AdminRef` and HS_VLIST holds `count (4 bytes) + count × ValueReference`,
 * where a reference is `UTF8-String handle (4-byte length + bytes) + 4-byte index`. All integers are
 * big-endian, as everywhere in the Handle protocol. The codec (engineer A) and the service share these.
 */
import { HandleError } from './handle-error.js';
import type { AdminRecord, HandleReference } from './handle-value.js';
import { ResponseCode } from './response-codes.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function invalid(what: string): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, `Malformed ${what} data.`, { what });
}

function referenceBytes(ref: HandleReference): Uint8Array {
  return utf8.encode(ref.handle);
}

export function encodeAdminData(rec: AdminRecord): Uint8Array {
  const handle = referenceBytes(rec.admin);
  const out = new Uint8Array(2 + 4 + handle.length + 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, rec.permissions & 0xffff);
  view.setUint32(2, handle.length);
  out.set(handle, 6);
  view.setUint32(6 + handle.length, rec.admin.index >>> 0);
  return out;
}

/**
 * Decodes HS_ADMIN data. Bytes after the reference are accepted and ignored: Handle.Net writes two legacy
 * zero bytes there, and refusing them would make its admin values unreadable to us.
 */
export function decodeAdminData(data: Uint8Array): AdminRecord {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 2) throw invalid('HS_ADMIN');
  const permissions = view.getUint16(0);
  const { ref } = readReference(data, view, 2, 'HS_ADMIN');
  return { admin: ref, permissions };
}

export function encodeVList(refs: readonly HandleReference[]): Uint8Array {
  const parts = refs.map(referenceBytes);
  const size = 4 + parts.reduce((n, p) => n + 8 + p.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, refs.length);
  let at = 4;
  refs.forEach((ref, i) => {
    const bytes = parts[i] as Uint8Array;
    view.setUint32(at, bytes.length);
    out.set(bytes, at + 4);
    view.setUint32(at + 4 + bytes.length, ref.index >>> 0);
    at += 8 + bytes.length;
  });
  return out;
}

export function decodeVList(data: Uint8Array): HandleReference[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 4) throw invalid('HS_VLIST');
  const count = view.getUint32(0);
  // Each reference takes at least 8 bytes; a count larger than that fits is a lie, not a reason to allocate.
  if (count > (data.byteLength - 4) / 8) throw invalid('HS_VLIST');
  const refs: HandleReference[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const r = readReference(data, view, at, 'HS_VLIST');
    refs.push(r.ref);
    at = r.next;
  }
  return refs;
}

function readReference(data: Uint8Array, view: DataView, at: number, what: string): { ref: HandleReference; next: number } {
  if (at + 4 > data.byteLength) throw invalid(what);
  const len = view.getUint32(at);
  const end = at + 4 + len;
  if (end + 4 > data.byteLength) throw invalid(what);
  let handle: string;
  try {
    handle = utf8Decoder.decode(data.subarray(at + 4, end));
  } catch {
    throw invalid(what);
  }
  return { ref: { handle, index: view.getUint32(end) }, next: end + 4 };
}
