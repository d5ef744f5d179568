/**
 * MQTT 3.1.1 rules the embedded front door checks on the raw bytes of a packet, before the broker library
 * parses it: a library that decodes strings with replacement characters cannot tell ill-formed UTF-8 from
 * U+FFFD any more, and one that accepts a will with QoS 3 or an unknown protocol level has already gone too
 * far. Each check is a small pure function of bytes, so it does not depend on the broker behind it.
 * Section numbers are those of the OASIS MQTT 3.1.1 standard.
 */
import { isUtf8 } from 'node:buffer';

/** A verdict on one packet: pass it on, or close the connection (after a CONNACK with `connack`, if set). */
export type PacketVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly connack?: ConnackRefusal };

/** CONNACK return codes a CONNECT can be refused with before it reaches the broker (§3.2.2.3). */
export type ConnackRefusal = 0x01 | 0x02;

const OK: PacketVerdict = { ok: true };

function refuse(reason: string, connack?: ConnackRefusal): PacketVerdict {
  return connack === undefined ? { ok: false, reason } : { ok: false, reason, connack };
}

/** A UTF-8 encoded string field (§1.5.3): well-formed UTF-8 (no surrogates, no overlong forms) and no U+0000. */
export function validUtf8String(bytes: Uint8Array): boolean {
  return bytes.indexOf(0) < 0 && isUtf8(bytes);
}

/** A topic name in PUBLISH or a will (§4.7): at least one character, a valid string, no wildcard. */
export function validTopicName(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.indexOf(0x2b /* + */) < 0 && bytes.indexOf(0x23 /* # */) < 0 && validUtf8String(bytes);
}

/** A topic filter in SUBSCRIBE/UNSUBSCRIBE: at least one character and a valid string (wildcard placement is the broker's check). */
export function validTopicFilter(bytes: Uint8Array): boolean {
  return bytes.length > 0 && validUtf8String(bytes);
}

/** The protocol levels a front door speaks; `MQTT` level 4 is 3.1.1, `MQIsdp` level 3 is 3.1. */
export interface ProtocolLevels {
  readonly [protocolName: string]: readonly number[];
}

export const MQTT_311_LEVELS: ProtocolLevels = { MQTT: [4], MQIsdp: [3] };

/** Reads a two-byte-length field at `pos`; undefined when it runs past the end. */
function field(body: Uint8Array, pos: number): { bytes: Uint8Array; next: number } | undefined {
  if (pos + 2 > body.length) return undefined;
  const len = ((body[pos] as number) << 8) | (body[pos + 1] as number);
  const next = pos + 2 + len;
  if (next > body.length) return undefined;
  return { bytes: body.subarray(pos + 2, next), next };
}

const CONNECT_USERNAME = 0x80;
const CONNECT_PASSWORD = 0x40;
const CONNECT_WILL_RETAIN = 0x20;
const CONNECT_WILL_QOS = 0x18;
const CONNECT_WILL = 0x04;
const CONNECT_CLEAN = 0x02;
const CONNECT_RESERVED = 0x01;

/**
 * Checks the variable header and payload of a CONNECT (§3.1). An unsupported protocol level is answered
 * with CONNACK 0x01 (§3.1.2.2), an empty client id without clean session with 0x02 (§3.1.3-8); every other
 * violation closes the connection without a CONNACK. Only levels of MQTT 3.1/3.1.1 are parsed field by
 * field; a level listed in `levels` beyond those passes after the header checks (its own parser decides).
 */
export function inspectConnect(body: Uint8Array, levels: ProtocolLevels = MQTT_311_LEVELS): PacketVerdict {
  const name = field(body, 0);
  if (!name) return refuse('CONNECT too short for a protocol name');
  const protocol = Buffer.from(name.bytes).toString('latin1');
  if (protocol !== 'MQTT' && protocol !== 'MQIsdp') return refuse(`unknown protocol name "${protocol.slice(0, 16)}"`); // §3.1.2.1: may close
  if (name.next + 4 > body.length) return refuse('CONNECT too short');
  // The high bit marks a bridge connection (used by Mosquitto bridges); the level is in the low bits.
  const level = (body[name.next] as number) & 0x7f;
  if (!Object.hasOwn(levels, protocol) || !(levels[protocol] as readonly number[]).includes(level)) {
    return refuse(`unsupported protocol level ${level} for "${protocol}"`, 0x01);
  }
  const flags = body[name.next + 1] as number;
  if (flags & CONNECT_RESERVED) return refuse('CONNECT reserved flag is set'); // §3.1.2.3
  const will = (flags & CONNECT_WILL) !== 0;
  const willQos = (flags & CONNECT_WILL_QOS) >> 3;
  if (will && willQos === 3) return refuse('will QoS 3'); // §3.1.2.6
  if (!will && (willQos !== 0 || flags & CONNECT_WILL_RETAIN)) return refuse('will QoS or retain set without a will'); // §3.1.2.6, §3.1.2.7
  if (level !== 3 && level !== 4) return OK;
  if (flags & CONNECT_PASSWORD && !(flags & CONNECT_USERNAME)) return refuse('password without a user name'); // §3.1.2.9
  let pos = name.next + 4;
  const clientId = field(body, pos);
  if (!clientId) return refuse('CONNECT client id runs past the packet');
  if (!validUtf8String(clientId.bytes)) return refuse('client id is not valid UTF-8');
  if (clientId.bytes.length === 0 && !(flags & CONNECT_CLEAN)) return refuse('empty client id without clean session', 0x02);
  pos = clientId.next;
  if (will) {
    const topic = field(body, pos);
    if (!topic) return refuse('will topic runs past the packet');
    if (!validTopicName(topic.bytes)) return refuse('will topic is not a valid topic name');
    const message = field(body, topic.next);
    if (!message) return refuse('will message runs past the packet');
    pos = message.next;
  }
  if (flags & CONNECT_USERNAME) {
    const username = field(body, pos);
    if (!username) return refuse('user name runs past the packet');
    if (!validUtf8String(username.bytes)) return refuse('user name is not valid UTF-8');
    pos = username.next;
  }
  if (flags & CONNECT_PASSWORD) {
    const password = field(body, pos);
    if (!password) return refuse('password runs past the packet');
    pos = password.next;
  }
  if (pos !== body.length) return refuse('bytes after the end of CONNECT');
  return OK;
}

/** Checks a PUBLISH (§3.3): QoS is 0–2 and the topic name is valid. `head` is the topic field (two length bytes and the name). */
export function inspectPublish(flags: number, head: Uint8Array, bodyLength: number, level = 4): PacketVerdict {
  const qos = (flags >> 1) & 3;
  if (qos === 3) return refuse('PUBLISH with QoS 3'); // §3.3.1.2
  if (head.length + (qos > 0 ? 2 : 0) > bodyLength) return refuse('PUBLISH topic runs past the packet');
  const topic = head.subarray(2);
  // MQTT 5 §3.3.2.3.4: an empty topic name with a topic alias names the alias's topic (the server checks the alias).
  if (level === 5 && topic.length === 0) return OK;
  if (!validTopicName(topic)) return refuse('PUBLISH topic name is not valid UTF-8 or holds a wildcard'); // §4.7.3, §3.3.2.1
  return OK;
}

/** Reads an MQTT variable byte integer at `pos` (§2.2.3); undefined when malformed or past the end. */
function varint(body: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (pos + i >= body.length) return undefined;
    const b = body[pos + i] as number;
    value += (b & 0x7f) * 128 ** i;
    if (!(b & 0x80)) return { value, next: pos + i + 1 };
  }
  return undefined;
}

/**
 * Checks the topic filters of a SUBSCRIBE (type 8) or UNSUBSCRIBE (type 10) body: each is a valid string
 * (§3.8.3, §3.10.3). The layout follows the protocol level of the connection.
 */
export function inspectSubscription(type: 8 | 10, body: Uint8Array, level: number): PacketVerdict {
  let pos = 2; // packet identifier
  if (level === 5) {
    const props = varint(body, pos);
    if (!props) return refuse('malformed properties');
    pos = props.next + props.value;
  }
  if (pos >= body.length) return refuse(`${type === 8 ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} without a topic filter`); // §3.8.3-3, §3.10.3-2
  while (pos < body.length) {
    const filter = field(body, pos);
    if (!filter) return refuse('topic filter runs past the packet');
    if (!validTopicFilter(filter.bytes)) return refuse('topic filter is not valid UTF-8');
    pos = filter.next + (type === 8 ? 1 : 0);
    if (pos > body.length) return refuse('SUBSCRIBE filter without its options byte');
  }
  return OK;
}
