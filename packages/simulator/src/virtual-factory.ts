/**
 * The virtual factory: one real MQTT connection per simulated device, each publishing its machine's
 * signals to `iip/{tenant}/{device}/telemetry` every interval and listening on its own `.../errors` topic,
 * where the platform reports rejected messages. It is what `iip demo` runs and what end-to-end tests
 * point at the platform; faults can be injected to see alarms fire.
 */
import { IipError } from '@iip/core';
import type { MqttClient } from 'mqtt';
import { connectDevice, mapLimited } from './device-connection.js';
import { DeviceSimulation } from './device-simulation.js';
import { findProduct } from './products/factory-products.js';
import { seedFor } from './signals/random.js';

export interface VirtualFactoryDevice {
  readonly id: string;
  readonly product: string;
  readonly secret: string;
}

export interface VirtualFactoryOptions {
  readonly mqttUrl: string;
  readonly tenant: string;
  readonly devices: readonly VirtualFactoryDevice[];
  /** Publish period per device (default 1000 ms). */
  readonly intervalMs?: number;
  /** Same seed, same factory (default 1). */
  readonly seed?: number;
  readonly log?: (line: string) => void;
  /** Telemetry QoS (default 0, as most field devices send telemetry). */
  readonly qos?: 0 | 1;
  /** Also publish events (faults) to `.../events` as {"ts", "event", "values"} (default false). */
  readonly publishEvents?: boolean;
  /** Connections opened at once during start() (default 32), so a large factory does not stampede the broker. */
  readonly connectConcurrency?: number;
}

export interface FactoryStats {
  readonly connected: number;
  readonly published: number;
  /** Messages received on the devices' `.../errors` topics. */
  readonly errors: number;
  readonly lastError?: string;
}

interface RunningDevice {
  readonly device: VirtualFactoryDevice;
  readonly sim: DeviceSimulation;
  readonly topic: string;
  client?: MqttClient;
  lastTs: number;
}

export class VirtualFactory {
  private readonly opts: VirtualFactoryOptions;
  private readonly intervalMs: number;
  private readonly devices = new Map<string, RunningDevice>();
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private published = 0;
  private errors = 0;
  private lastError: string | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(opts: VirtualFactoryOptions) {
    const intervalMs = opts.intervalMs ?? 1000;
    if (!(Number.isFinite(intervalMs) && intervalMs >= 1)) {
      throw new IipError('IIP_ERR_SIM_BAD_OPTION', `intervalMs must be at least 1, got ${intervalMs}`, { intervalMs });
    }
    if (!opts.tenant) throw new IipError('IIP_ERR_SIM_BAD_OPTION', 'tenant must not be empty', {});
    this.opts = opts;
    this.intervalMs = intervalMs;
    this.log = opts.log ?? (() => {});
    const startMs = Date.now();
    const stepMs = Math.max(1, Math.round(Math.min(1000, intervalMs)));
    for (const device of opts.devices) {
      if (this.devices.has(device.id)) {
        throw new IipError('IIP_ERR_SIM_BAD_OPTION', `device "${device.id}" is listed twice`, { device: device.id });
      }
      if (!findProduct(device.product)) {
        throw new IipError(
          'IIP_ERR_SIM_UNKNOWN_PRODUCT',
          `device "${device.id}" names unknown product "${device.product}"; use an id from factoryProducts()`,
          { device: device.id, product: device.product },
        );
      }
      const sim = new DeviceSimulation({ product: device.product, seed: seedFor(opts.seed ?? 1, device.id), startMs, stepMs });
      const topic = `iip/${opts.tenant}/${device.id}`;
      this.devices.set(device.id, { device, sim, topic, lastTs: 0 });
    }
  }

  /** Connects every device; rejects (after closing what it opened) with the first device that failed. */
  async start(): Promise<void> {
    if (this.state !== 'new') {
      throw new IipError('IIP_ERR_SIM_BAD_OPTION', `start() called on a factory that is ${this.state}; create a new one`, {});
    }
    this.state = 'starting';
    const entries = [...this.devices.values()];
    try {
      await mapLimited(entries, this.opts.connectConcurrency ?? 32, async (entry) => {
        const client = await connectDevice({
          mqttUrl: this.opts.mqttUrl,
          tenant: this.opts.tenant,
          device: entry.device,
          onLaterError: (e) => this.log(`${entry.device.id}: connection error: ${e.message} (retrying)`),
        });
        if (this.stopped()) {
          // stop() ran while we were connecting: do not resurrect the factory
          await client.endAsync(true);
          return;
        }
        entry.client = client;
        client.on('message', (_topic, payload) => this.onErrorReport(entry.device.id, payload));
        client.on('reconnect', () => this.log(`${entry.device.id}: reconnecting`));
        await client.subscribeAsync(`${entry.topic}/errors`, { qos: 1 });
      });
    } catch (e) {
      await this.closeClients();
      this.state = 'stopped';
      throw e;
    }
    if (this.stopped()) {
      await this.closeClients();
      return;
    }
    this.state = 'running';
    this.log(`virtual factory: ${entries.length} devices connected to ${this.opts.mqttUrl} as tenant "${this.opts.tenant}"`);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.state = 'stopped';
    await this.closeClients();
  }

  stats(): FactoryStats {
    let connected = 0;
    for (const d of this.devices.values()) if (d.client?.connected) connected++;
    const base = { connected, published: this.published, errors: this.errors };
    return this.lastError === undefined ? base : { ...base, lastError: this.lastError };
  }

  /** Makes the device fault now (a power-quality sag for an energy meter); visible in its next message. */
  injectFault(deviceId: string): void {
    const entry = this.devices.get(deviceId);
    if (!entry) {
      throw new IipError('IIP_ERR_SIM_UNKNOWN_DEVICE', `no device "${deviceId}" in this virtual factory`, { device: deviceId });
    }
    entry.sim.injectFault();
    this.log(`${deviceId}: fault injected`);
  }

  /** A method, not a field read, so the compiler does not assume stop() cannot run across an await. */
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private tick(): void {
    const now = Date.now();
    const qos = this.opts.qos ?? 0;
    for (const entry of this.devices.values()) {
      // time flows for a disconnected machine too; only publishing is skipped
      const sample = entry.sim.advance(now);
      for (const e of sample.events) this.log(`${entry.device.id}: ${e.event} ${e.values.code} ${e.values.message}`);
      const client = entry.client;
      if (!client?.connected || sample.ts <= entry.lastTs) continue;
      entry.lastTs = sample.ts;
      const body = JSON.stringify({ ts: sample.ts, values: sample.values });
      client.publish(`${entry.topic}/telemetry`, body, { qos }, (err) => {
        if (err) this.log(`${entry.device.id}: publish failed: ${err.message}`);
        else this.published++;
      });
      if (this.opts.publishEvents) {
        for (const e of sample.events) {
          client.publish(`${entry.topic}/events`, JSON.stringify({ ts: e.ts, event: e.event, values: e.values }), { qos: 1 });
        }
      }
    }
  }

  private onErrorReport(deviceId: string, payload: Buffer): void {
    this.errors++;
    let text = payload.toString('utf8');
    try {
      const doc = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof doc.code === 'string') text = `${doc.code}: ${typeof doc.message === 'string' ? doc.message : ''}`;
    } catch {
      // not JSON: keep the raw text, it is still the best clue we have
    }
    this.lastError = `${deviceId}: ${text}`;
    this.log(`${deviceId}: platform rejected a message: ${text}`);
  }

  private async closeClients(): Promise<void> {
    const clients: MqttClient[] = [];
    for (const entry of this.devices.values()) {
      if (entry.client) clients.push(entry.client);
      entry.client = undefined;
    }
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}
