/**
 * The MQTT front door's limits as an operator sets them: platform options, or `IIP_MQTT_*` environment variables
 * read once at start (docs/reference/mqtt.md "Limits"). Absent ones keep the front door's defaults, chosen for
 * 10,000+ connections in a few hundred megabytes.
 */
import { IipError } from '@iip/core';
import type { FrontDoorOptions } from './mqtt/front-door.js';

export type MqttLimits = Pick<
  FrontDoorOptions,
  | 'maxSessions'
  | 'maxQueuedPerSession'
  | 'maxQueuedBytesPerSession'
  | 'maxInflightPerSession'
  | 'receiveMaximum'
  | 'maximumPacketSize'
  | 'maxPendingPerConnection'
  | 'maxPendingBytesPerConnection'
  | 'maxPendingTotal'
  | 'maxPendingBytesTotal'
  | 'maxWriteBufferBytes'
  | 'slowConsumerGraceMs'
  | 'connectTimeoutMs'
  | 'packetTimeoutMs'
  | 'maxRetainedPerDevice'
  | 'maxRetainedBytesPerDevice'
>;

/** Each limit's environment variable and the range it accepts (MQTT's own ranges where it has one). */
export const MQTT_LIMIT_ENV: { readonly [K in keyof Required<MqttLimits>]: { readonly env: string; readonly min: number; readonly max: number } } = {
  maxSessions: { env: 'IIP_MQTT_MAX_SESSIONS', min: 1, max: 10_000_000 },
  maxQueuedPerSession: { env: 'IIP_MQTT_MAX_QUEUED_MESSAGES', min: 0, max: 1_000_000 },
  maxQueuedBytesPerSession: { env: 'IIP_MQTT_MAX_QUEUED_BYTES', min: 0, max: 2 ** 31 },
  maxInflightPerSession: { env: 'IIP_MQTT_MAX_INFLIGHT', min: 1, max: 65_535 },
  receiveMaximum: { env: 'IIP_MQTT_RECEIVE_MAXIMUM', min: 1, max: 65_535 },
  maximumPacketSize: { env: 'IIP_MQTT_MAX_PACKET_BYTES', min: 64, max: 268_435_460 },
  maxPendingPerConnection: { env: 'IIP_MQTT_MAX_PENDING_MESSAGES', min: 1, max: 65_535 },
  maxPendingBytesPerConnection: { env: 'IIP_MQTT_MAX_PENDING_BYTES', min: 1, max: 2 ** 31 },
  maxPendingTotal: { env: 'IIP_MQTT_MAX_PENDING_TOTAL_MESSAGES', min: 1, max: 10_000_000 },
  maxPendingBytesTotal: { env: 'IIP_MQTT_MAX_PENDING_TOTAL_BYTES', min: 1, max: 2 ** 40 },
  maxWriteBufferBytes: { env: 'IIP_MQTT_MAX_WRITE_BUFFER_BYTES', min: 0, max: 2 ** 31 },
  slowConsumerGraceMs: { env: 'IIP_MQTT_SLOW_CONSUMER_GRACE_MS', min: 0, max: 24 * 3600 * 1000 },
  connectTimeoutMs: { env: 'IIP_MQTT_CONNECT_TIMEOUT_MS', min: 100, max: 3600 * 1000 },
  packetTimeoutMs: { env: 'IIP_MQTT_PACKET_TIMEOUT_MS', min: 100, max: 24 * 3600 * 1000 },
  maxRetainedPerDevice: { env: 'IIP_MQTT_MAX_RETAINED_PER_DEVICE', min: 0, max: 1_000_000 },
  maxRetainedBytesPerDevice: { env: 'IIP_MQTT_MAX_RETAINED_BYTES_PER_DEVICE', min: 0, max: 2 ** 31 },
};

/** The limits set in `env`; a value that is not an integer in its range is refused (IIP_ERR_VALIDATION) rather than ignored. */
export function mqttLimitsFromEnv(env: NodeJS.ProcessEnv): MqttLimits {
  const out: { -readonly [K in keyof MqttLimits]: number } = {};
  for (const [key, { env: name, min, max }] of Object.entries(MQTT_LIMIT_ENV) as Array<[keyof MqttLimits, { env: string; min: number; max: number }]>) {
    const text = env[name];
    if (text === undefined || text.trim() === '') continue;
    const n = Number(text.replaceAll('_', ''));
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new IipError('IIP_ERR_VALIDATION', `${name} must be an integer from ${min} to ${max}, not "${text}"`, { env: name, value: text, min, max });
    }
    out[key] = n;
  }
  return out;
}
