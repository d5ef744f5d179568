/**
 * HTTP Basic authentication the way Handle.Net's REST API does it: the username is `<index>:<handle>` of an
 * HS_SECKEY value, URL-encoded (so `300%3A0.NA%2F88.118`), and the password is that secret key. The secret
 * is compared in constant time against the service's own HS_SECKEY data; no header means anonymous.
 */
import { timingSafeEqual } from 'node:crypto';
import { HandleError } from '../model/handle-error.js';
import type { HandleService } from '../model/handle-service.js';
import type { Identity } from '../model/handle-value.js';
import { ResponseCode } from '../model/response-codes.js';

export interface BasicCredentials {
  readonly handle: string;
  readonly index: number;
  readonly secret: string;
}

function failed(message: string): HandleError {
  return new HandleError(ResponseCode.AUTHENTICATION_FAILED, message);
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw failed('Basic credentials are not valid URL encoding.');
  }
}

export function parseBasicAuthorization(header: string): BasicCredentials {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) throw failed('Authorization must be "Basic base64(<index>:<handle>:<secret>)" with index and handle URL-encoded.');
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  // The username is itself URL-encoded, so the first raw ':' separates user from password; clients that
  // do not encode it send `300:0.NA/x:secret`, which the fallback below still reads.
  const firstColon = decoded.indexOf(':');
  if (firstColon < 0) throw failed('Basic credentials have no password.');
  let user = decodeComponent(decoded.slice(0, firstColon));
  let password = decoded.slice(firstColon + 1);
  if (!user.includes(':')) {
    const second = password.indexOf(':');
    if (second < 0) throw failed('The Basic username must be <index>:<handle>.');
    user = `${user}:${decodeComponent(password.slice(0, second))}`;
    password = password.slice(second + 1);
  }
  const sep = user.indexOf(':');
  const index = Number(user.slice(0, sep));
  const handle = user.slice(sep + 1);
  if (!Number.isInteger(index) || index <= 0 || handle.length === 0) throw failed('The Basic username must be <index>:<handle>, e.g. 300:0.NA/88.118.');
  // Handle.Net clients percent-encode the password too; one that is not valid encoding is taken as sent.
  let secret = password;
  try {
    secret = decodeURIComponent(password);
  } catch {}
  return { handle, index, secret };
}

/**
 * The `auth` a node's REST app uses: verifies Basic credentials against the service's HS_SECKEY values.
 * Anonymous requests (no header) get `null` at once, without a promise: they are the resolution hot path.
 */
export function secretKeyAuth(service: Pick<HandleService, 'secretKeyOf'>): (authorization: string | undefined) => Identity | Promise<Identity> {
  const verify = async (c: BasicCredentials): Promise<Identity> => {
    const key = await service.secretKeyOf({ handle: c.handle, index: c.index });
    const given = Buffer.from(c.secret, 'utf8');
    if (!key || key.length !== given.length || !timingSafeEqual(Buffer.from(key), given)) {
      throw failed(`Unknown identity ${c.index}:${c.handle} or wrong secret key.`);
    }
    return { handle: c.handle, index: c.index };
  };
  return (authorization) => {
    if (authorization === undefined || authorization === '') return null;
    try {
      return verify(parseBasicAuthorization(authorization));
    } catch (e) {
      return Promise.reject(e);
    }
  };
}

/** The header value a client sends for an identity (used by the mirror, the CLI and the tests). */
export function basicAuthorization(identity: { handle: string; index: number }, secret: string): string {
  const user = encodeURIComponent(`${identity.index}:${identity.handle}`);
  return `Basic ${Buffer.from(`${user}:${encodeURIComponent(secret)}`, 'utf8').toString('base64')}`;
}
