/**
 * The binary HandleValue record (RFC 3652 §2.2.3 / RFC 3651 §3): index (4), timestamp (4), TTL type (1),
 * TTL (4), permissions (1: admin-read 0x8, admin-write 0x4, public-read 0x2, public-write 0x1), type
 * (UTF8-String), data (4-byte length + bytes) and references (count + UTF8-String handle + 4-byte index).
 */
import { HandleError } from '../model/handle-error.js';
import type { HandleReference, HandleValue, HandleValuePermissions } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';
import { LIMITS } from './limits.js';
import { WireReader, protocolError } from './wire-reader.js';
import { WireWriter, assertU32, utf8Length } from './wire-writer.js';

export const PERM_ADMIN_READ = 0x08;
export const PERM_ADMIN_WRITE = 0x04;
export const PERM_PUBLIC_READ = 0x02;
export const PERM_PUBLIC_WRITE = 0x01;

export const TTL_TYPE_RELATIVE = 0;
export const TTL_TYPE_ABSOLUTE = 1;

// The four permission combinations that matter are shared objects, so decoding does not allocate them.
const PERMISSIONS: HandleValuePermissions[] = [];
for (let bits = 0; bits < 16; bits++) {
  PERMISSIONS.push(
    Object.freeze({
      adminRead: (bits & PERM_ADMIN_READ) !== 0,
      adminWrite: (bits & PERM_ADMIN_WRITE) !== 0,
      publicRead: (bits & PERM_PUBLIC_READ) !== 0,
      publicWrite: (bits & PERM_PUBLIC_WRITE) !== 0,
    }),
  );
}
const NO_REFERENCES: readonly HandleReference[] = Object.freeze([]);

export function permissionBits(p: HandleValuePermissions): number {
  return (p.adminRead ? PERM_ADMIN_READ : 0) | (p.adminWrite ? PERM_ADMIN_WRITE : 0) | (p.publicRead ? PERM_PUBLIC_READ : 0) | (p.publicWrite ? PERM_PUBLIC_WRITE : 0);
}

export function handleValueSize(v: HandleValue): number {
  let n = 4 + 4 + 1 + 4 + 1 + 4 + utf8Length(v.type) + 4 + v.data.length + 4;
  for (const r of v.references) n += 4 + utf8Length(r.handle) + 4;
  return n;
}

function invalidValue(message: string, details: Record<string, unknown>): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, message, details);
}

export function writeHandleValue(w: WireWriter, v: HandleValue): void {
  w.u32(assertU32(v.index, 'value index'));
  w.u32(assertU32(v.timestamp, 'value timestamp'));
  w.u8(v.ttlType === 'absolute' ? TTL_TYPE_ABSOLUTE : TTL_TYPE_RELATIVE);
  w.u32(assertU32(v.ttl, 'value ttl'));
  w.u8(permissionBits(v.permissions));
  const typeLen = utf8Length(v.type);
  if (typeLen > LIMITS.typeBytes) throw invalidValue(`Value type is ${typeLen} bytes (max ${LIMITS.typeBytes}).`, { index: v.index, field: 'type' });
  w.utf8(v.type, typeLen);
  if (v.data.length > LIMITS.valueDataBytes) throw invalidValue(`Value data is ${v.data.length} bytes (max ${LIMITS.valueDataBytes}).`, { index: v.index, field: 'data' });
  w.bytes(v.data);
  w.u32(v.references.length);
  for (const r of v.references) {
    w.utf8(r.handle, utf8Length(r.handle));
    w.u32(assertU32(r.index, 'reference index'));
  }
}

export function readHandleValue(r: WireReader): HandleValue {
  const index = r.u32('value index');
  const timestamp = r.u32('value timestamp');
  const ttlTypeByte = r.u8('value TTL type');
  if (ttlTypeByte !== TTL_TYPE_RELATIVE && ttlTypeByte !== TTL_TYPE_ABSOLUTE) throw protocolError(`Unknown TTL type ${ttlTypeByte} in value ${index}.`, { index });
  const ttl = r.u32('value TTL');
  const perm = r.u8('value permissions');
  if (perm > 0x0f) throw protocolError(`Unknown permission bits 0x${perm.toString(16)} in value ${index}.`, { index });
  const type = r.utf8('value type', LIMITS.typeBytes);
  const data = r.bytesCopy('value data', LIMITS.valueDataBytes);
  const refCount = r.count('value references', 8, LIMITS.referencesPerValue);
  let references = NO_REFERENCES;
  if (refCount > 0) {
    const refs: HandleReference[] = [];
    for (let i = 0; i < refCount; i++) {
      const handle = r.utf8('reference handle', LIMITS.handleBytes);
      refs.push({ handle, index: r.u32('reference index') });
    }
    references = refs;
  }
  return {
    index,
    type,
    data,
    ttlType: ttlTypeByte === TTL_TYPE_ABSOLUTE ? 'absolute' : 'relative',
    ttl,
    timestamp,
    references,
    permissions: PERMISSIONS[perm] as HandleValuePermissions,
  };
}

/** A value list as it appears in message bodies: 4-byte count + values. */
export function handleValueListSize(values: readonly HandleValue[]): number {
  let n = 4;
  for (const v of values) n += handleValueSize(v);
  return n;
}

export function writeHandleValueList(w: WireWriter, values: readonly HandleValue[]): void {
  if (values.length > LIMITS.valuesPerMessage) throw invalidValue(`${values.length} values in one message (max ${LIMITS.valuesPerMessage}).`, { count: values.length });
  w.u32(values.length);
  for (const v of values) writeHandleValue(w, v);
}

export function readHandleValueList(r: WireReader): HandleValue[] {
  // 26 bytes is the smallest possible value (empty type, data and references).
  const n = r.count('value count', 26, LIMITS.valuesPerMessage);
  const out: HandleValue[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readHandleValue(r);
  return out;
}

/** One value as standalone bytes (what HS_VLIST-free storage or a test vector needs). */
export function encodeHandleValue(v: HandleValue): Uint8Array {
  const buf = Buffer.alloc(handleValueSize(v));
  writeHandleValue(new WireWriter(buf), v);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

export function decodeHandleValue(bytes: Uint8Array): HandleValue {
  const r = new WireReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const v = readHandleValue(r);
  r.expectEnd('the handle value');
  return v;
}
