/**
 * A bounds-checked big-endian reader for Handle protocol bytes. Every length field is checked against the
 * bytes that remain before anything is allocated, so a forged length can neither read past the end nor
 * make us allocate a huge buffer; every failure is a HandleError (PROTOCOL_ERROR unless said otherwise).
 */
import { isUtf8 } from 'node:buffer';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';

export function protocolError(message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(ResponseCode.PROTOCOL_ERROR, message, details);
}

export class WireReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) throw protocolError(`Truncated message: ${what} needs ${n} bytes, ${this.end - this.pos} left.`, { what });
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A 4-byte length followed by that many bytes; the result is a view, not a copy. */
  bytes(what: string, max: number): Buffer {
    const len = this.u32(what);
    if (len > max) throw protocolError(`${what} is ${len} bytes, more than the ${max} allowed.`, { what, length: len });
    this.need(len, what);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** A 4-byte length followed by that many bytes, copied so the result outlives the packet buffer. */
  bytesCopy(what: string, max: number): Uint8Array {
    const view = this.bytes(what, max);
    return new Uint8Array(view);
  }

  /** UTF8-String: 4-byte length + bytes; invalid UTF-8 is refused rather than silently replaced. */
  utf8(what: string, max: number): string {
    const view = this.bytes(what, max);
    if (view.length === 0) return '';
    if (!isUtf8(view)) throw protocolError(`${what} is not valid UTF-8.`, { what });
    return view.toString('utf8');
  }

  /** A 4-byte element count, refused when even the smallest elements could not fit in what remains. */
  count(what: string, minElementBytes: number, max: number): number {
    const n = this.u32(what);
    if (n > max) throw protocolError(`${what} is ${n}, more than the ${max} allowed.`, { what, count: n });
    if (n * minElementBytes > this.end - this.pos) throw protocolError(`Truncated message: ${what} says ${n} but the bytes left cannot hold them.`, { what, count: n });
    return n;
  }

  fixed(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  expectEnd(what: string): void {
    if (this.pos !== this.end) throw protocolError(`${this.end - this.pos} unexpected bytes after ${what}.`, { what });
  }
}
