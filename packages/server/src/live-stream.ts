/**
 * Live updates for the console over WebSocket. Under load a factory produces tens of thousands of points a
 * second, far more than a browser can draw, so each socket receives, per device, only the newest value of
 * each property, coalesced every `intervalMs`. A socket sees only its own tenant's devices.
 *
 * The stream takes telemetry from the bus only while a socket is open: scaled out, a live subscription
 * receives every message of the platform, and a front door or worker that nobody watches through would
 * decode all of them for nothing (measured: a fifth of a worker's time in the scale-out benchmark).
 *
 * Memory per socket is bounded (issue 20): what waits for a socket is its newest value per device and property,
 * never a backlog of frames. A socket with more than `maxBufferedBytes` unsent skips rounds; the values that
 * newer ones replace meanwhile are counted, and once it catches up it is told first — `{type:"lagged",
 * dropped, ms}` — then sent the newest values. One that stays behind for `maxLagMs` is closed (4408,
 * IIP_ERR_STREAM_LAGGED); every skip, catch-up and closure is counted in `stats()`.
 */
import type { Bus, Subscription } from '@iip/bus';
import type { PointValue, TelemetryBatch } from '@iip/core';

export interface LiveSocket {
  send(text: string): void;
  readonly bufferedAmount: number;
  /** A WebSocket close (code, reason); a socket that cannot be closed is only dropped from the stream. */
  close?(code: number, reason: string): void;
  /** Ends the connection at once (a close handshake the client never reads would otherwise wait). */
  terminate?(): void;
}

export interface LiveStreamOptions {
  /** How often each socket gets the newest values (ms); default 250. */
  readonly intervalMs?: number;
  /** Bytes unsent to a socket past which it skips rounds; default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** How long a socket may stay past `maxBufferedBytes` before it is closed; default 30 s. */
  readonly maxLagMs?: number;
}

export interface LiveStreamStats {
  readonly sockets: number;
  /** Bytes sent to the sockets and not yet taken by the network, over all of them. */
  readonly bufferedBytes: number;
  /** Sockets past their buffer cap now. */
  readonly lagging: number;
  /** Rounds a lagging socket skipped. */
  readonly roundsSkipped: number;
  /** Values replaced by newer ones before a lagging socket could be sent them (each socket counted). */
  readonly valuesDropped: number;
  /** Sockets closed for staying behind longer than `maxLagMs`. */
  readonly closedLagging: number;
}

interface Subscriber {
  readonly socket: LiveSocket;
  readonly tenant: string;
  /** Which devices the socket's user may see (absent: all of the tenant). */
  readonly visible: ((device: string) => boolean) | undefined;
  devices: Set<string> | null;
  /** device → property → newest point */
  pending: Map<string, Map<string, { ts: number; value: PointValue }>>;
  /** When it went past the buffer cap (Date.now()), 0 while it keeps up. */
  lagSince: number;
  /** Values replaced in `pending` while it lagged (told in the `lagged` frame). */
  dropped: number;
  closed: boolean;
}

export class LiveStream {
  private readonly subs = new Set<Subscriber>();
  private readonly timer: NodeJS.Timeout;
  /** The bus subscription, while at least one socket is open. */
  private subscription: Subscription | undefined;
  private readonly maxBufferedBytes: number;
  private readonly maxLagMs: number;
  private readonly counters = { roundsSkipped: 0, valuesDropped: 0, closedLagging: 0 };

  /** A live (not group) subscription: each process's console sockets see every batch stored anywhere. */
  constructor(
    private readonly bus: Bus,
    opts: LiveStreamOptions | number = {},
  ) {
    const o = typeof opts === 'number' ? { intervalMs: opts } : opts;
    this.maxBufferedBytes = o.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.maxLagMs = o.maxLagMs ?? 30_000;
    this.timer = setInterval(() => this.flush(), o.intervalMs ?? 250);
    this.timer.unref();
  }

  /**
   * `ready` resolves once the socket receives batches from the bus (rejects if the bus cannot subscribe). `visible`
   * narrows the socket to the devices its user may read (the permission model's decision, made by the caller).
   */
  add(socket: LiveSocket, tenant: string, visible?: (device: string) => boolean): { readonly ready: Promise<void>; setDevices(devices: string[] | null): void; remove(): void } {
    const sub: Subscriber = { socket, tenant, visible, devices: null, pending: new Map(), lagSince: 0, dropped: 0, closed: false };
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

  stats(): LiveStreamStats {
    let lagging = 0;
    let bufferedBytes = 0;
    for (const sub of this.subs) {
      if (sub.lagSince !== 0) lagging++;
      bufferedBytes += sub.socket.bufferedAmount;
    }
    return { sockets: this.subs.size, bufferedBytes, lagging, ...this.counters };
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
        // While it lags, a value it was not sent is a value it will never see.
        if (prev && sub.lagSince !== 0) {
          sub.dropped++;
          this.counters.valuesDropped++;
        }
      }
    }
  }

  private flush(): void {
    const now = Date.now();
    for (const sub of this.subs) {
      if (sub.closed) continue;
      // A slow client skips rounds instead of growing server memory; one that stays behind is let go.
      if (sub.socket.bufferedAmount > this.maxBufferedBytes) {
        if (sub.lagSince === 0) sub.lagSince = now;
        else if (now - sub.lagSince > this.maxLagMs) {
          this.closeLagging(sub);
          continue;
        }
        if (sub.pending.size > 0) this.counters.roundsSkipped++;
        continue;
      }
      if (sub.lagSince !== 0) {
        sub.socket.send(JSON.stringify({ type: 'lagged', dropped: sub.dropped, ms: now - sub.lagSince }));
        sub.lagSince = 0;
        sub.dropped = 0;
      }
      if (sub.pending.size === 0) continue;
      for (const [device, props] of sub.pending) {
        const points = [...props].map(([property, v]) => ({ property, ts: v.ts, value: v.value }));
        sub.socket.send(JSON.stringify({ type: 'telemetry', device, points }));
      }
      sub.pending = new Map();
    }
  }

  /** Closed with 4408 IIP_ERR_STREAM_LAGGED; ended outright if the client has not closed within 5 s (it is not reading). */
  private closeLagging(sub: Subscriber): void {
    sub.closed = true;
    sub.pending = new Map();
    this.subs.delete(sub);
    this.counters.closedLagging++;
    const socket = sub.socket;
    socket.close?.(4408, 'IIP_ERR_STREAM_LAGGED');
    if (socket.terminate) {
      const terminate = socket.terminate.bind(socket);
      setTimeout(terminate, 5000).unref();
    }
    if (this.subs.size === 0) {
      const s = this.subscription;
      this.subscription = undefined;
      s?.unsubscribe().catch(() => undefined);
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
