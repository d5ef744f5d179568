/**
 * Just enough DER (ITU-T X.690) to move DSA and Diffie-Hellman keys between the Handle key encoding and
 * node:crypto: node imports and exports those keys only as SubjectPublicKeyInfo / PKCS#8 DER (there is no
 * JWK form for them), so the key codec builds and takes apart those few structures itself. Definite
 * lengths only, every length checked against the bytes that remain; anything else is a RangeError that
 * the caller turns into its own error.
 */

export const DerTag = { INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, SEQUENCE: 0x30 } as const;

/** OIDs in their encoded content bytes. */
export const Oid = {
  /** id-dsa, 1.2.840.10040.4.1 (RFC 3279 §2.3.2). */
  DSA: Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01),
  /** dhKeyAgreement, 1.2.840.113549.1.3.1 (PKCS #3), the form OpenSSL uses for p/g-only DH keys. */
  DH_PKCS3: Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01),
} as const;

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = lengthBytes(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(DerTag.SEQUENCE, concat(items));
}

/** Leading zero bytes removed (at least one byte kept): the magnitude of an unsigned big-endian number. */
export function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** A non-negative INTEGER from unsigned big-endian bytes (a 0x00 is prepended when the top bit is set). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  const m = stripLeadingZeros(magnitude.length === 0 ? Uint8Array.of(0) : magnitude);
  const body = ((m[0] as number) & 0x80) !== 0 ? concat([Uint8Array.of(0), m]) : m;
  return tlv(DerTag.INTEGER, body);
}

export interface DerElement {
  readonly tag: number;
  /** The content bytes (a view into the input). */
  readonly content: Uint8Array;
  /** Offset just past this element in the input. */
  readonly end: number;
}

/** The element at `offset`; RangeError when it is truncated or uses a form DER does not allow. */
export function readElement(buf: Uint8Array, offset = 0, limit = buf.length): DerElement {
  if (offset + 2 > limit) throw new RangeError('DER element truncated before its length.');
  const tag = buf[offset] as number;
  let len = buf[offset + 1] as number;
  let at = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError(`DER length of ${n} bytes is not supported.`);
    if (at + n > limit) throw new RangeError('DER length truncated.');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[at + i] as number);
    at += n;
  }
  if (at + len > limit) throw new RangeError(`DER element of ${len} bytes runs past the end.`);
  return { tag, content: buf.subarray(at, at + len), end: at + len };
}

/** The elements inside a constructed element's content, which they must fill exactly. */
export function children(content: Uint8Array): DerElement[] {
  const out: DerElement[] = [];
  for (let at = 0; at < content.length; ) {
    const e = readElement(content, at);
    out.push(e);
    at = e.end;
  }
  return out;
}

export function expectTag(e: DerElement | undefined, tag: number, what: string): DerElement {
  if (!e || e.tag !== tag) throw new RangeError(`${what}: expected DER tag 0x${tag.toString(16)}, found ${e ? `0x${e.tag.toString(16)}` : 'nothing'}.`);
  return e;
}

/** An INTEGER that must be non-negative, as unsigned big-endian bytes without leading zeros. */
export function readUnsignedInteger(e: DerElement | undefined, what: string): Uint8Array {
  const c = expectTag(e, DerTag.INTEGER, what).content;
  if (c.length === 0 || ((c[0] as number) & 0x80) !== 0) throw new RangeError(`${what} is not a non-negative INTEGER.`);
  return stripLeadingZeros(c);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
