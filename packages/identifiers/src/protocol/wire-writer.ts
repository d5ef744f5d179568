/**
 * A big-endian writer into an exactly sized buffer: callers compute the size first (the `*Size` functions
 * beside each encoder), so encoding a reply is one allocation and no copying.
 */
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';

const utf8 = new TextEncoder();

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8.encode(s);
}

export function assertU32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new HandleError(ResponseCode.INVALID_VALUE, `${what} must be an integer 0..4294967295, got ${n}.`, { what, value: n });
  return n;
}

export class WireWriter {
  readonly buf: Buffer;
  pos: number;

  constructor(buf: Buffer, start = 0) {
    this.buf = buf;
    this.pos = start;
  }

  u8(v: number): void {
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  /** UTF8-String; `byteLen` is the length the caller already computed for sizing. */
  utf8(s: string, byteLen: number): void {
    this.u32(byteLen);
    if (byteLen > 0) this.pos += this.buf.write(s, this.pos, byteLen, 'utf8');
  }
}
