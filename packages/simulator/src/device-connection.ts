/**
 * Connecting a simulated device the way a real one connects: its own mqtt.js client, username
 * "{tenant}/{device}" and the device secret as password, automatic reconnect after it was once accepted.
 * The first attempt is decisive: a refusal rejects with the broker's CONNACK reason and the device named,
 * because retrying a wrong secret forever only hides the mistake.
 */
import { IipError } from '@iip/core';
import mqtt, { type MqttClient } from 'mqtt';

export interface DeviceLogin {
  readonly id: string;
  readonly secret: string;
}

export interface ConnectOptions {
  readonly mqttUrl: string;
  readonly tenant: string;
  readonly device: DeviceLogin;
  /** How long to wait for CONNACK on the first attempt (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Delay between reconnect attempts after a lost connection (default 1 s). */
  readonly reconnectPeriodMs?: number;
  /** Errors after the first successful connect (reconnect refused, socket reset); the client retries. */
  readonly onLaterError?: (e: Error) => void;
}

function reasonCodeOf(e: Error): number | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export function connectDevice(opts: ConnectOptions): Promise<MqttClient> {
  const { mqttUrl, tenant, device } = opts;
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const client = mqtt.connect(mqttUrl, {
    username: `${tenant}/${device.id}`,
    password: device.secret,
    clientId: `${tenant}/${device.id}`,
    clean: true,
    connectTimeout: timeoutMs,
    reconnectPeriod: opts.reconnectPeriodMs ?? 1000,
    // QoS 0 telemetry queued while offline would arrive late and in a burst; the factory skips instead
    queueQoSZero: false,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs + 1000);
    const done = (): void => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', fail);
    };
    const onConnect = (): void => {
      done();
      // an EventEmitter 'error' without a listener would crash the process on a later network blip
      client.on('error', (e: Error) => opts.onLaterError?.(e));
      resolve(client);
    };
    function fail(e: Error): void {
      done();
      client.end(true);
      const rc = reasonCodeOf(e);
      const who = `device "${device.id}" (username "${tenant}/${device.id}")`;
      if (rc !== undefined && e.message.startsWith('Connection refused')) {
        const reason = e.message.replace(/^Connection refused:\s*/, '');
        reject(
          new IipError(
            'IIP_ERR_SIM_CONNECT_REFUSED',
            `${who} was refused by ${mqttUrl}: CONNACK reason ${rc} "${reason}" — check the device secret and that the device exists in tenant "${tenant}"`,
            { device: device.id, tenant, mqttUrl, reasonCode: rc, reason },
          ),
        );
        return;
      }
      reject(
        new IipError('IIP_ERR_SIM_CONNECT_FAILED', `${who} could not connect to ${mqttUrl}: ${e.message}`, {
          device: device.id,
          tenant,
          mqttUrl,
          cause: e.message,
        }),
      );
    }
    client.on('connect', onConnect);
    client.on('error', fail);
  });
}

/**
 * Runs `fn` over `items` with at most `limit` at a time. After the first failure no new item starts, the
 * ones under way finish (so the caller can close what they opened), and then the first failure is thrown.
 */
export async function mapLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
