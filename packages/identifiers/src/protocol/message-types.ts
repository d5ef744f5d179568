/**
 * The Handle protocol message (RFC 3652 §2.2) as data: envelope (20 bytes), header (24 bytes), one body
 * per operation/outcome, an optional request digest (responses with the RD flag) and an opaque
 * credential. The codec in message-codec.ts turns these into bytes and back.
 */
import type { HandleValue } from '../model/handle-value.js';
import type { SiteInfoRecord } from './site-info-codec.js';

export const PROTOCOL_MAJOR = 2;
export const PROTOCOL_MINOR = 10;
export const ENVELOPE_SIZE = 20;
export const HEADER_SIZE = 24;

/** Envelope MessageFlag bits (first octet). */
export const EnvelopeFlag = { COMPRESSED: 0x80, ENCRYPTED: 0x40, TRUNCATED: 0x20 } as const;

/**
 * Header OpFlag bits (RFC 3652 §2.2.2.3). OVERWRITE, MINT_NEW_SUFFIX and DO_NOT_REFER are Handle.Net
 * extensions in bits the RFC reserves; we honour them because Handle.Net clients send them.
 */
export const OpFlag = {
  AUTHORITATIVE: 0x80000000,
  CERTIFY: 0x40000000,
  ENCRYPT: 0x20000000,
  RECURSIVE: 0x10000000,
  CACHE_CERTIFY: 0x08000000,
  CONTINUOUS: 0x04000000,
  KEEP_ALIVE: 0x02000000,
  PUBLIC_ONLY: 0x01000000,
  REQUEST_DIGEST: 0x00800000,
  OVERWRITE: 0x00400000,
  MINT_NEW_SUFFIX: 0x00200000,
  DO_NOT_REFER: 0x00100000,
} as const;

/** Digest algorithm identifiers: RFC 3652 defines 1 (MD5) and 2 (SHA-1); Handle.Net added 3 (SHA-256) and the MAC forms. */
export const DigestAlg = { MD5_OLD_FORMAT: 0, MD5: 1, SHA1: 2, SHA256: 3, HMAC_SHA1: 0x12, HMAC_SHA256: 0x13, PBKDF2_HMAC_SHA1: 0x22 } as const;

export interface MessageEnvelope {
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly compressed: boolean;
  readonly encrypted: boolean;
  readonly truncated: boolean;
  /** Handle.Net puts the version it would prefer in the low bits the RFC reserves; 0 = none. */
  readonly suggestedMajor: number;
  readonly suggestedMinor: number;
  readonly sessionId: number;
  readonly requestId: number;
  readonly sequenceNumber: number;
}

export interface MessageHeader {
  readonly opCode: number;
  /** 0 in requests. */
  readonly responseCode: number;
  /** Raw OpFlag bits. */
  readonly opFlags: number;
  readonly siteInfoSerial: number;
  readonly recursionCount: number;
  /** Unix seconds after which the message is void; 0 = none. */
  readonly expiration: number;
}

export interface RequestDigest {
  readonly alg: number;
  readonly digest: Uint8Array;
}

export type MessageBody =
  | { readonly kind: 'resolution-request'; readonly handle: string; readonly indexes: readonly number[]; readonly types: readonly string[] }
  /** Requests whose body is just a handle: get site info, delete, list handles, home/unhome/list homed. */
  | { readonly kind: 'handle'; readonly handle: string }
  /** Create, add value, modify value. */
  | { readonly kind: 'values'; readonly handle: string; readonly values: readonly HandleValue[] }
  | { readonly kind: 'remove-values'; readonly handle: string; readonly indexes: readonly number[] }
  /** OC 200: the client's answer to a challenge. */
  | { readonly kind: 'challenge-answer'; readonly authType: string; readonly identityHandle: string; readonly identityIndex: number; readonly signedResponse: Uint8Array }
  /** OC 201: asks the server holding a secret key to check a challenge answer. */
  | { readonly kind: 'verify-request'; readonly handle: string; readonly index: number; readonly nonce: Uint8Array; readonly digestAlg: number; readonly requestDigest: Uint8Array; readonly signedResponse: Uint8Array }
  | { readonly kind: 'resolution-response'; readonly handle: string; readonly values: readonly HandleValue[] }
  | { readonly kind: 'site-info'; readonly site: SiteInfoRecord }
  /** List handles / list homed prefixes. */
  | { readonly kind: 'handle-list'; readonly handles: readonly string[] }
  | { readonly kind: 'verify-response'; readonly valid: boolean }
  /** Create response naming the handle created (a minted suffix shows here). */
  | { readonly kind: 'created'; readonly handle: string }
  | { readonly kind: 'empty' }
  /** RC 402: authenticate first. */
  | { readonly kind: 'challenge'; readonly nonce: Uint8Array }
  /** RC 302/303: ask elsewhere; values are the HS_SITE/HS_SERV values to follow. */
  | { readonly kind: 'referral'; readonly handle: string; readonly values?: readonly HandleValue[] }
  | { readonly kind: 'error'; readonly message: string }
  /** A reply sent with the truncated flag: the body did not fit; ask again over TCP. */
  | { readonly kind: 'truncated' }
  /** OC 400 request (Handle.Net sessions, session-codec.ts): how to agree a session key and who the client says it is. */
  | {
      readonly kind: 'session-setup';
      readonly keyExchangeMode: number;
      /** Seconds the client wants the session kept while idle. */
      readonly timeout: number;
      /** '' and -1 for an anonymous session. */
      readonly identityHandle: string;
      readonly identityIndex: number;
      /** Modes CIPHER_CLIENT and DH: the client's public key (HS_PUBKEY encoding). */
      readonly publicKey?: Uint8Array;
      /** Mode CIPHER_HDL: where the public key to encrypt the session key with lives. */
      readonly exchangeKeyHandle?: string;
      readonly exchangeKeyIndex?: number;
    }
  /** OC 400 success: the mode and its data (an encrypted session key, a public key, or alg + DH public key). */
  | { readonly kind: 'session-setup-response'; readonly keyExchangeMode: number; readonly data: Uint8Array }
  /** OC 402 request: the session key, encrypted with the server's public key (mode CIPHER_SERVER). */
  | { readonly kind: 'session-exchange-key'; readonly encryptedKey: Uint8Array };

export interface HandleMessage {
  readonly envelope: MessageEnvelope;
  readonly header: MessageHeader;
  readonly body: MessageBody;
  /** Responses only; present exactly when the header carries REQUEST_DIGEST. */
  readonly requestDigest?: RequestDigest;
  /** Opaque message credential (signature); absent when its length is 0. */
  readonly credential?: Uint8Array;
}

export const DEFAULT_ENVELOPE: MessageEnvelope = {
  majorVersion: PROTOCOL_MAJOR,
  minorVersion: PROTOCOL_MINOR,
  compressed: false,
  encrypted: false,
  truncated: false,
  suggestedMajor: 0,
  suggestedMinor: 0,
  sessionId: 0,
  requestId: 0,
  sequenceNumber: 0,
};

export const DEFAULT_HEADER: MessageHeader = { opCode: 0, responseCode: 0, opFlags: 0, siteInfoSerial: 0, recursionCount: 0, expiration: 0 };
