/**
 * Handle protocol response codes (RFC 3652 §2.2.2.1) and the HTTP status the Handle.Net REST API uses for
 * each, so the binary protocol and REST report the same outcome the same way.
 */
export const ResponseCode = {
  RESERVED: 0,
  SUCCESS: 1,
  ERROR: 2,
  SERVER_TOO_BUSY: 3,
  PROTOCOL_ERROR: 4,
  OPERATION_NOT_SUPPORTED: 5,
  RECURSION_COUNT_TOO_HIGH: 6,
  HANDLE_NOT_FOUND: 100,
  HANDLE_ALREADY_EXISTS: 101,
  INVALID_HANDLE: 102,
  VALUES_NOT_FOUND: 200,
  VALUE_ALREADY_EXISTS: 201,
  INVALID_VALUE: 202,
  EXPIRED_SITE_INFO: 300,
  SERVER_NOT_RESP: 301,
  SERVICE_REFERRAL: 302,
  PREFIX_REFERRAL: 303,
  INVALID_ADMIN: 400,
  INSUFFICIENT_PERMISSIONS: 401,
  AUTHENTICATION_NEEDED: 402,
  AUTHENTICATION_FAILED: 403,
  INVALID_CREDENTIAL: 404,
  AUTHEN_TIMEOUT: 405,
  UNABLE_TO_AUTHENTICATE: 406,
  SESSION_TIMEOUT: 500,
  SESSION_FAILED: 501,
  NO_SESSION_KEY: 502,
  SESSION_NO_SUPPORT: 503,
  SESSION_KEY_INVALID: 504,
  /** Handle.Net: a session message whose counter was seen before (replay). */
  SESSION_MESSAGE_REJECTED: 505,
  TRYING: 900,
  FORWARDED: 901,
  QUEUED: 902,
} as const;
export type ResponseCodeValue = (typeof ResponseCode)[keyof typeof ResponseCode];

export const OpCode = {
  RESOLUTION: 1,
  GET_SITE_INFO: 2,
  CREATE_HANDLE: 100,
  DELETE_HANDLE: 101,
  ADD_VALUE: 102,
  REMOVE_VALUE: 103,
  MODIFY_VALUE: 104,
  LIST_HANDLES: 105,
  CHALLENGE_RESPONSE: 200,
  VERIFY_RESPONSE: 201,
  HOME_NA: 300,
  UNHOME_NA: 301,
  LIST_HOMED_NAS: 302,
  /** Handle.Net sessions (protocol ≥ 2.1). */
  SESSION_SETUP: 400,
  SESSION_TERMINATE: 401,
  SESSION_EXCHANGEKEY: 402,
} as const;
export type OpCodeValue = (typeof OpCode)[keyof typeof OpCode];

/**
 * responseCode → HTTP status, as the Handle.Net REST API (v9, "Responses") maps them: 1 → 200 (the route
 * answers 201 when it created something), 2 → 500, 100 → 404, 101/201 → 409, 102/202 → 400, 200 → 200 in a
 * resolution and 400 otherwise, 301 → 400, 402 → 401, the other 40x authentication errors → 403.
 */
export function httpStatusFor(code: number, context: 'resolution' | 'other' = 'other'): number {
  switch (code) {
    case ResponseCode.SUCCESS:
      return 200;
    case ResponseCode.HANDLE_NOT_FOUND:
      return 404;
    case ResponseCode.VALUES_NOT_FOUND:
      return context === 'resolution' ? 200 : 400;
    case ResponseCode.HANDLE_ALREADY_EXISTS:
    case ResponseCode.VALUE_ALREADY_EXISTS:
      return 409;
    case ResponseCode.INVALID_HANDLE:
    case ResponseCode.INVALID_VALUE:
    case ResponseCode.PROTOCOL_ERROR:
    case ResponseCode.SERVER_NOT_RESP:
      return 400;
    case ResponseCode.AUTHENTICATION_NEEDED:
      return 401;
    case ResponseCode.INVALID_ADMIN:
    case ResponseCode.INSUFFICIENT_PERMISSIONS:
    case ResponseCode.AUTHENTICATION_FAILED:
    case ResponseCode.INVALID_CREDENTIAL:
    case ResponseCode.AUTHEN_TIMEOUT:
    case ResponseCode.UNABLE_TO_AUTHENTICATE:
      return 403;
    case ResponseCode.OPERATION_NOT_SUPPORTED:
      return 501;
    default:
      return 500;
  }
}
