/**
 * The header fields of a response that a strict Handle client checks (RFC 3652 §2.2.2 and the reference
 * implementation's behaviour): an expiration in the future — the reference client refuses a response whose
 * expiration has passed, and the reference server stamps each one with the time it answered plus twelve
 * hours — and the request's option flags repeated, so the client sees which options the answer honoured.
 */
import { OpFlag } from './message-types.js';

/** Validity of a response, counted from when it is made (the reference server's default: 12 h). */
export const RESPONSE_VALIDITY_SECONDS = 43_200;

/**
 * Request flags a response repeats. The reference copies certify, cache-certify, public-only and
 * do-not-refer from a request into its response (authoritative is the responder's own statement, and the
 * request-digest flag is set exactly when a digest is attached).
 */
const ECHOED_FLAGS = OpFlag.CERTIFY | OpFlag.CACHE_CERTIFY | OpFlag.PUBLIC_ONLY | OpFlag.DO_NOT_REFER;

/** The expiration (Unix seconds) of a response made at `nowMs`. */
export function responseExpiration(nowMs: number, validitySeconds = RESPONSE_VALIDITY_SECONDS): number {
  return (Math.floor(nowMs / 1000) + validitySeconds) >>> 0;
}

/** A response's op flags: the echoed request flags, plus AUTHORITATIVE when the responder homes the data. */
export function responseFlags(requestFlags: number, authoritative: boolean): number {
  return ((requestFlags & ECHOED_FLAGS) | (authoritative ? OpFlag.AUTHORITATIVE : 0)) >>> 0;
}
