/**
 * A failed identifier operation: carries the Handle response code (what the binary protocol and REST report)
 * and a stable IIP_ERR_* code (what the rest of the platform reports). The HTTP statuses below follow
 * Handle.Net's REST table outside resolution (see httpStatusFor).
 */
import { IipError, defineErrors } from '@iip/core';
import { ResponseCode } from './response-codes.js';

export const IDENTIFIER_ERRORS = defineErrors({
  IIP_ERR_HANDLE_NOT_FOUND: { status: 404, meaning: 'The handle does not exist.', fix: 'Check the handle (prefix/suffix); handles are case-insensitive for ASCII letters only.' },
  IIP_ERR_HANDLE_EXISTS: { status: 409, meaning: 'A handle with this name already exists.', fix: 'Use overwrite=true to replace it, or choose another suffix (mintNewSuffix=true).' },
  IIP_ERR_HANDLE_INVALID: { status: 400, meaning: 'The handle is malformed (no prefix/suffix, empty part, or over 1024 bytes).', fix: 'Use the form prefix/suffix, e.g. 88.118.8/PUMP-0001.' },
  IIP_ERR_HANDLE_VALUES_NOT_FOUND: { status: 400, meaning: 'None of the requested values (by index or type) exist.', fix: 'Check the index/type filters.' },
  IIP_ERR_HANDLE_VALUE_EXISTS: { status: 409, meaning: 'A value with this index already exists in the handle.', fix: 'Modify the value instead, or pick a free index.' },
  IIP_ERR_HANDLE_VALUE_INVALID: { status: 400, meaning: 'A handle value is malformed (bad index, type, data encoding or TTL).', fix: 'Correct the value; details name the index and the field.' },
  IIP_ERR_HANDLE_NOT_RESPONSIBLE: { status: 400, meaning: 'This node does not home the prefix of the handle.', fix: 'Ask the node that homes the prefix (resolve 0.NA/<prefix> at the top level), or home the prefix here.' },
  IIP_ERR_HANDLE_AUTH_NEEDED: { status: 401, meaning: 'The operation needs an authenticated administrator.', fix: 'Authenticate with a HS_SECKEY identity (index:handle and secret).' },
  IIP_ERR_HANDLE_AUTH_FAILED: {
    status: 403,
    meaning: 'Authentication failed: unknown identity, wrong secret, an unsupported authentication type, or a challenge answered too late.',
    fix: 'Check the admin handle, index and secret key; answer a challenge with HS_SECKEY within its lifetime.',
  },
  IIP_ERR_HANDLE_FORBIDDEN: { status: 403, meaning: 'The authenticated administrator lacks the HS_ADMIN permission for this operation.', fix: 'Grant the permission in the HS_ADMIN value of the handle (or of the prefix handle for creation).' },
  IIP_ERR_HANDLE_PROTOCOL: { status: 400, meaning: 'A Handle protocol message is malformed, truncated, or uses an unknown op code.', fix: 'Check the client against RFC 3652 (protocol 2.10).' },
  IIP_ERR_HANDLE_TEMPLATE_VIOLATION: { status: 400, meaning: 'An identifier does not satisfy its data template; details name the item and the rule.', fix: 'Supply the required items within their length/range limits.' },
  IIP_ERR_HANDLE_UNSUPPORTED: { status: 501, meaning: 'The operation is not supported by this node.', fix: 'See docs/reference/identifiers.md for the supported operations.' },
  IIP_ERR_HANDLE_TOO_MANY_REFERRALS: {
    status: 508,
    meaning: 'Resolution followed more referrals, HS_SERV indirections or HS_ALIAS values than allowed, or went round in a loop; the message names the chain.',
    fix: 'Fix the prefix records (HS_SITE/HS_SERV) or the aliases that point back at each other.',
  },
  IIP_ERR_HANDLE_UNREACHABLE: { status: 502, meaning: 'No server of the site responsible for the handle answered.', fix: 'Check the HS_SITE of the prefix and the network; a mirror site is tried automatically.' },
  IIP_ERR_HANDLE_REPLY_REJECTED: {
    status: 502,
    meaning: "A Handle server's reply failed the client's checks: its expiration has passed, or it lacks the request digest asked for, or the digest is not that of the request sent, or its signature does not verify.",
    fix: "Check the server's clock and software (RFC 3652 §2.2); a reply altered on the way is refused on purpose. details.check names what failed.",
  },
});

const BY_RESPONSE: Record<number, keyof typeof IDENTIFIER_ERRORS> = {
  [ResponseCode.HANDLE_NOT_FOUND]: 'IIP_ERR_HANDLE_NOT_FOUND',
  [ResponseCode.HANDLE_ALREADY_EXISTS]: 'IIP_ERR_HANDLE_EXISTS',
  [ResponseCode.INVALID_HANDLE]: 'IIP_ERR_HANDLE_INVALID',
  [ResponseCode.VALUES_NOT_FOUND]: 'IIP_ERR_HANDLE_VALUES_NOT_FOUND',
  [ResponseCode.VALUE_ALREADY_EXISTS]: 'IIP_ERR_HANDLE_VALUE_EXISTS',
  [ResponseCode.INVALID_VALUE]: 'IIP_ERR_HANDLE_VALUE_INVALID',
  [ResponseCode.SERVER_NOT_RESP]: 'IIP_ERR_HANDLE_NOT_RESPONSIBLE',
  [ResponseCode.AUTHENTICATION_NEEDED]: 'IIP_ERR_HANDLE_AUTH_NEEDED',
  [ResponseCode.AUTHENTICATION_FAILED]: 'IIP_ERR_HANDLE_AUTH_FAILED',
  [ResponseCode.AUTHEN_TIMEOUT]: 'IIP_ERR_HANDLE_AUTH_FAILED',
  [ResponseCode.UNABLE_TO_AUTHENTICATE]: 'IIP_ERR_HANDLE_AUTH_FAILED',
  [ResponseCode.RECURSION_COUNT_TOO_HIGH]: 'IIP_ERR_HANDLE_TOO_MANY_REFERRALS',
  [ResponseCode.INVALID_ADMIN]: 'IIP_ERR_HANDLE_FORBIDDEN',
  [ResponseCode.INSUFFICIENT_PERMISSIONS]: 'IIP_ERR_HANDLE_FORBIDDEN',
  [ResponseCode.PROTOCOL_ERROR]: 'IIP_ERR_HANDLE_PROTOCOL',
  [ResponseCode.OPERATION_NOT_SUPPORTED]: 'IIP_ERR_HANDLE_UNSUPPORTED',
};

export class HandleError extends IipError {
  readonly responseCode: number;
  constructor(responseCode: number, message: string, details: Record<string, unknown> = {}, code?: string) {
    super(code ?? BY_RESPONSE[responseCode] ?? 'IIP_ERR_INTERNAL', message, { ...details, responseCode });
    this.name = 'HandleError';
    this.responseCode = responseCode;
  }
}

/** A reply the client's checks refused (IIP_ERR_HANDLE_REPLY_REJECTED); `check` names the check that failed. */
export function replyRejected(check: string, message: string, details: Record<string, unknown> = {}): HandleError {
  return new HandleError(ResponseCode.ERROR, message, { ...details, check }, 'IIP_ERR_HANDLE_REPLY_REJECTED');
}
