/**
 * Checks handle values before anything is stored, so a bad value is refused with INVALID_VALUE naming the
 * index and the field instead of being written and failing later in a codec. The limits are the protocol's
 * field widths (RFC 3652 §3.1: 4-byte index, TTL and timestamp; UTF-8 strings with a 4-byte length).
 */
import { decodeAdminData, decodeVList } from '../model/admin-data.js';
import { HandleError } from '../model/handle-error.js';
import { HS_ADMIN, HS_VLIST, type HandleValue } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';

const U32_MAX = 0xffff_ffff;
/** Longer type names are refused: no registered type comes near it and the store keeps it in 2 bytes. */
export const MAX_TYPE_BYTES = 512;
/** One value's data; keeps a record within what a TCP reply carries comfortably. */
export const MAX_VALUE_DATA_BYTES = 1 << 20;

function bad(index: unknown, field: string, message: string): HandleError {
  return new HandleError(ResponseCode.INVALID_VALUE, `Value ${String(index)}: ${message}`, { index, field });
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

/** Throws HandleError(INVALID_VALUE) for the first bad value; `existing` are indexes the values must not reuse. */
export function validateValues(values: readonly HandleValue[], existing: ReadonlySet<number> = new Set()): void {
  const seen = new Set<number>();
  for (const v of values) {
    if (!isU32(v.index) || v.index === 0) throw bad(v.index, 'index', 'the index must be an integer from 1 to 4294967295.');
    if (seen.has(v.index)) throw bad(v.index, 'index', 'the index appears twice.');
    if (existing.has(v.index)) {
      throw new HandleError(ResponseCode.VALUE_ALREADY_EXISTS, `Value ${v.index} already exists.`, { index: v.index, field: 'index' });
    }
    seen.add(v.index);
    if (typeof v.type !== 'string' || v.type.length === 0) throw bad(v.index, 'type', 'the type must be a non-empty string.');
    if (Buffer.byteLength(v.type, 'utf8') > MAX_TYPE_BYTES) throw bad(v.index, 'type', `the type is longer than ${MAX_TYPE_BYTES} bytes.`);
    if (!(v.data instanceof Uint8Array)) throw bad(v.index, 'data', 'the data must be bytes.');
    if (v.data.byteLength > MAX_VALUE_DATA_BYTES) throw bad(v.index, 'data', `the data is longer than ${MAX_VALUE_DATA_BYTES} bytes.`);
    if (v.ttlType !== 'relative' && v.ttlType !== 'absolute') throw bad(v.index, 'ttlType', "the TTL type must be 'relative' or 'absolute'.");
    if (!isU32(v.ttl)) throw bad(v.index, 'ttl', 'the TTL must be an integer from 0 to 4294967295 seconds.');
    if (!isU32(v.timestamp)) throw bad(v.index, 'timestamp', 'the timestamp must be Unix seconds from 0 to 4294967295.');
    const p = v.permissions;
    if (!p || typeof p.adminRead !== 'boolean' || typeof p.adminWrite !== 'boolean' || typeof p.publicRead !== 'boolean' || typeof p.publicWrite !== 'boolean') {
      throw bad(v.index, 'permissions', 'the four permission flags must be booleans.');
    }
    if (!Array.isArray(v.references) || v.references.length > 0xffff) throw bad(v.index, 'references', 'references must be a list of at most 65535.');
    for (const r of v.references) {
      if (typeof r?.handle !== 'string' || r.handle.length === 0 || !isU32(r.index)) throw bad(v.index, 'references', 'each reference needs a handle and an index from 0 to 4294967295.');
    }
    // Authorisation reads these; one that cannot be decoded would lock its admins out silently.
    if (v.type === HS_ADMIN) decodeOrBad(v, () => decodeAdminData(v.data));
    if (v.type === HS_VLIST) decodeOrBad(v, () => decodeVList(v.data));
  }
}

function decodeOrBad(v: HandleValue, decode: () => unknown): void {
  try {
    decode();
  } catch {
    throw bad(v.index, 'data', `the ${v.type} data does not follow RFC 3651.`);
  }
}
