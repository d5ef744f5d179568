/**
 * A TOTP code as RFC 6238 computes it (HMAC-SHA-1, 30 s steps, 6 digits), written here with node:crypto so the
 * tests (browser, HTTP, CLI) act as an authenticator app without sharing the platform's library (otpauth). Checked
 * against the RFC's test vectors in packages/console/test/security-model.test.ts.
 */
import { createHmac } from 'node:crypto';

export const TOTP_STEP_S = 30;

/** RFC 4648 base32 (the alphabet authenticator apps use), spaces and padding ignored. */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** HOTP (RFC 4226) of counter `step`, the TOTP of that time step. */
export function totpAt(key: Buffer, step: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(bin).padStart(digits, '0');
}

export const stepOf = (ms: number) => Math.floor(ms / 1000 / TOTP_STEP_S);

/**
 * An authenticator for one base32 secret that never hands out a step twice: the platform refuses a code whose step
 * is not later than the last one it accepted. It accepts one step either side of its clock, so the next step is
 * used when the current one is spent; beyond that, it waits for the clock (at most one step).
 */
export function authenticator(secret: string): { next(): Promise<string>; wrong(): string } {
  const key = base32Decode(secret);
  let last = Number.NEGATIVE_INFINITY;
  return {
    async next() {
      for (;;) {
        const now = stepOf(Date.now());
        const step = Math.max(now, last + 1);
        if (step <= now + 1) {
          last = step;
          return totpAt(key, step);
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    /** A code matching none of the steps the platform accepts now. */
    wrong() {
      const now = stepOf(Date.now());
      const near = new Set([-2, -1, 0, 1, 2].map((d) => totpAt(key, now + d)));
      for (let n = 0; ; n++) {
        const c = String(n).padStart(6, '0');
        if (!near.has(c)) return c;
      }
    },
  };
}
