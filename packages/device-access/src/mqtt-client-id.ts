/**
 * Binds MQTT client ids to the device that authenticates. The broker keys sessions (subscriptions, queued
 * QoS 1 messages, the will) and takeover by client id, so an id that another device could also present
 * would let it take over that device's session. Every session therefore lives under the device's own name:
 * `{tenant}/{device}` or `{tenant}/{device}/{anything}` is used as sent; an id without a slash (what
 * mosquitto_pub or mqtt.js pick by default) is kept but scoped to `{tenant}/{device}/{id}`; an empty id with
 * clean session gets a fresh scoped one; any other id with a slash names something that is not this device
 * and is refused (CONNACK 0x02, identifier rejected).
 */
import { randomUUID } from 'node:crypto';

export interface ClientIdentity {
  readonly tenant: string;
  readonly device: string;
}

export type ClientIdDecision = { readonly ok: true; readonly sessionId: string } | { readonly ok: false; readonly reason: string };

/** Decides whether `clientId` may be used by `identity`, and under which session id the broker keeps it. */
export function clientIdAllowed(identity: ClientIdentity, clientId: string): ClientIdDecision {
  const own = `${identity.tenant}/${identity.device}`;
  if (clientId === own || clientId.startsWith(`${own}/`)) return { ok: true, sessionId: clientId };
  if (clientId === '') return { ok: true, sessionId: `${own}/${randomUUID()}` };
  if (!clientId.includes('/')) return { ok: true, sessionId: `${own}/${clientId}` };
  return { ok: false, reason: `client id "${clientId}" does not belong to device "${own}"; use "${own}" or "${own}/<name>"` };
}
