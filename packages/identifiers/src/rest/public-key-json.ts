/**
 * HS_PUBKEY data as the Handle.Net v9 JSON API shows it: `{format: "key", value: <JWK-like object>}`.
 *
 * The stored bytes (what Handle.Net's Util.getBytesFromPublicKey writes and getPublicKeyFromBytes reads) are:
 * the key type as a 4-byte-length-prefixed string (`RSA_PUB_KEY` or `DSA_PUB_KEY`), 2 reserved flag bytes
 * (zero), then the key's integers, each 4-byte-length-prefixed and big-endian two's complement (Java's
 * BigInteger.toByteArray, so a leading 0x00 when the top bit is set): RSA exponent then modulus; DSA q, p, g,
 * then y. The JSON (GsonUtility.PublicKeyTypeHierarchyAdapter) names them like a JWK — RSA `{kty, n, e}`,
 * DSA `{kty, y, p, q, g}` — each the unsigned magnitude in unpadded base64url.
 *
 * This is a byte-level translation only; turning keys into node:crypto KeyObjects is the protocol's business.
 */

export type PublicKeyJson = { kty: 'RSA'; n: string; e: string } | { kty: 'DSA'; y: string; p: string; q: string; g: string };

const RSA_PUB_KEY = 'RSA_PUB_KEY';
const DSA_PUB_KEY = 'DSA_PUB_KEY';
const latin1 = new TextDecoder('latin1');
const ascii = new TextEncoder();

/** Reads length-prefixed fields; undefined when the bytes run out. */
class Fields {
  private at = 0;
  constructor(private readonly b: Uint8Array) {}
  field(): Uint8Array | undefined {
    if (this.at + 4 > this.b.length) return undefined;
    const n = new DataView(this.b.buffer, this.b.byteOffset + this.at, 4).getUint32(0);
    if (this.at + 4 + n > this.b.length) return undefined;
    const out = this.b.subarray(this.at + 4, this.at + 4 + n);
    this.at += 4 + n;
    return out;
  }
  skip(n: number): boolean {
    this.at += n;
    return this.at <= this.b.length;
  }
  get done(): boolean {
    return this.at === this.b.length;
  }
}

function unsignedB64url(twos: Uint8Array): string {
  let i = 0;
  while (i < twos.length - 1 && twos[i] === 0) i++;
  return Buffer.from(twos.subarray(i)).toString('base64url');
}

/**
 * The JSON of an HS_PUBKEY's bytes, or undefined when they are not a complete RSA or DSA public key (Handle.Net
 * then shows the value as string or base64, as for any other data). Trailing bytes also give undefined: the
 * JSON could not carry them back.
 */
export function publicKeyToJson(data: Uint8Array): PublicKeyJson | undefined {
  const json = keyFields(data);
  // Only bytes that come back exactly are shown as a key (a value must survive GET then PUT): leading zero
  // bytes beyond Java's minimal form, or non-zero flag bytes, would be lost, so such a value stays base64.
  return json && Buffer.from(publicKeyFromJson(json)).equals(Buffer.from(data)) ? json : undefined;
}

function keyFields(data: Uint8Array): PublicKeyJson | undefined {
  const r = new Fields(data);
  const type = r.field();
  if (!type || !r.skip(2)) return undefined;
  const name = latin1.decode(type);
  const ints = (count: number): Uint8Array[] | undefined => {
    const out: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const f = r.field();
      if (!f || f.length === 0) return undefined;
      out.push(f);
    }
    return r.done ? out : undefined;
  };
  if (name === RSA_PUB_KEY) {
    const f = ints(2);
    if (!f) return undefined;
    const [e, n] = f as [Uint8Array, Uint8Array];
    return { kty: 'RSA', n: unsignedB64url(n), e: unsignedB64url(e) };
  }
  if (name === DSA_PUB_KEY) {
    const f = ints(4);
    if (!f) return undefined;
    const [q, p, g, y] = f as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    return { kty: 'DSA', y: unsignedB64url(y), p: unsignedB64url(p), q: unsignedB64url(q), g: unsignedB64url(g) };
  }
  return undefined;
}

/** A positive big integer as Java writes it: minimal big-endian two's complement. */
function twosComplement(member: string, text: unknown): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error(`"${member}" must be a base64url string`);
  const raw = Buffer.from(text, 'base64');
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const mag = raw.subarray(i);
  if (mag.length === 0 || (mag.length === 1 && mag[0] === 0)) throw new Error(`"${member}" must not be zero`);
  return (mag[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), mag]) : mag;
}

function encode(type: string, ints: readonly Uint8Array[]): Uint8Array {
  const typeBytes = ascii.encode(type);
  const parts: Buffer[] = [];
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  parts.push(len(typeBytes.length), Buffer.from(typeBytes), Buffer.alloc(2));
  for (const x of ints) parts.push(len(x.length), Buffer.from(x));
  return new Uint8Array(Buffer.concat(parts));
}

/** HS_PUBKEY bytes from the JSON; throws an Error naming the member that is missing or malformed. */
export function publicKeyFromJson(j: unknown): Uint8Array {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('must be an object {kty, ...}');
  const o = j as Record<string, unknown>;
  const kty = typeof o.kty === 'string' ? o.kty.toUpperCase() : undefined;
  if (kty === 'RSA') return encode(RSA_PUB_KEY, [twosComplement('e', o.e), twosComplement('n', o.n)]);
  if (kty === 'DSA') return encode(DSA_PUB_KEY, [twosComplement('q', o.q), twosComplement('p', o.p), twosComplement('g', o.g), twosComplement('y', o.y)]);
  throw new Error(`"kty" must be "RSA" or "DSA" (got ${JSON.stringify(o.kty)})`);
}
