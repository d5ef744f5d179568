/**
 * Live updates for the console over WebSocket. Under load a factory produces tens of thousands of points a
 * second, far more than a browser can draw, so each socket receives, per device, only the newest value of
 * each property, coalesced every `intervalMs`. A socket sees only its own tenant's devices.
 *
 * The stream takes telemetry from the bus only while a socket is open: scaled out, a live subscription
 * receives every message of the platform, and a front door or worker that nobody watches through would
 * decode all of them for nothing (measured: a fifth of a worker's time in the scale-out benchmark).
 */
import type { Bus, Subscription } from '@iip/bus';
import type { PointValue, TelemetryBatch } from '@iip/core';

export interface LiveSocket {
  send(text: string): void;
  readonly bufferedAmount: number;
}

interface Subscriber {
  readonly socket: LiveSocket;
  readonly tenant: string;
  /** Which devices the socket's user may see (absent: all of the tenant). */
  readonly visible: ((device: string) => boolean) | undefined;
  devices: Set<string> | null;
  /** device → property → newest point */
  pending: Map<string, Map<string, { ts: number; value: PointValue }>>;
}

export class LiveStream {
  private readonly subs = new Set<Subscriber>();
  private readonly timer: NodeJS.Timeout;
  /** The bus subscription, while at least one socket is open. */
  private subscription: Subscription | undefined;

  /** A live (not group) subscription: each process's console sockets see every batch stored anywhere. */
  constructor(
    private readonly bus: Bus,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  /**
   * `ready` resolves once the socket receives batches from the bus (rejects if the bus cannot subscribe). `visible`
   * narrows the socket to the devices its user may read (the permission model's decision, made by the caller).
   */
  add(socket: LiveSocket, tenant: string, visible?: (device: string) => boolean): { readonly ready: Promise<void>; setDevices(devices: string[] | null): void; remove(): void } {
    const sub: Subscriber = { socket, tenant, visible, devices: null, pending: new Map() };
    this.subs.add(sub);
    this.subscription ??= this.bus.subscribe('telemetry', (b) => this.onBatch(b));
    return {
      ready: this.subscription.ready,
      setDevices: (devices) => {
        sub.devices = devices ? new Set(devices) : null;
      },
      remove: () => {
        if (!this.subs.delete(sub) || this.subs.size > 0) return;
        const s = this.subscription;
        this.subscription = undefined;
        s?.unsubscribe().catch(() => undefined);
      },
    };
  }

  get size(): number {
    return this.subs.size;
  }

  private onBatch(b: TelemetryBatch): void {
    if (this.subs.size === 0) return;
    for (const sub of this.subs) {
      if (sub.tenant !== b.tenant || (sub.devices && !sub.devices.has(b.device)) || (sub.visible && !sub.visible(b.device))) continue;
      let props = sub.pending.get(b.device);
      if (!props) {
        props = new Map();
        sub.pending.set(b.device, props);
      }
      for (const p of b.points) {
        const prev = props.get(p.property);
        if (!prev || prev.ts <= p.ts) props.set(p.property, { ts: p.ts, value: p.value });
      }
    }
  }

  private flush(): void {
    for (const sub of this.subs) {
      if (sub.pending.size === 0) continue;
      // A slow client (more than 4 MiB unsent) skips a round instead of growing server memory.
      if (sub.socket.bufferedAmount > 4 * 1024 * 1024) continue;
      for (const [device, props] of sub.pending) {
        const points = [...props].map(([property, v]) => ({ property, ts: v.ts, value: v.value }));
        sub.socket.send(JSON.stringify({ type: 'telemetry', device, points }));
      }
      sub.pending = new Map();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.subs.clear();
    const s = this.subscription;
    this.subscription = undefined;
    await s?.unsubscribe();
  }
}
