/**
 * The live-data WebSocket (/api/v1/stream): connects with the session token, reconnects with jittered
 * backoff when it drops, re-sends the subscription after each reconnect, and reports its state for the
 * connection indicator.
 */
import type { TelemetryFrame } from './api-types';
import { parseFrame } from './live-values';
import { backoffDelay } from './reconnect-backoff';

export type StreamState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'online' }
  | { readonly kind: 'retrying'; readonly at: number }
  | { readonly kind: 'closed' };

export interface LiveStreamOptions {
  readonly token: string;
  /** The tenant a platform administrator switched to; absent: the user's own. */
  readonly tenant?: string;
  readonly onFrame: (f: TelemetryFrame) => void;
  readonly onState: (s: StreamState) => void;
  /** Called after repeated failures; a socket refused for an expired token looks like any other drop. */
  readonly onRepeatedFailure?: () => void;
}

/** The stream's address. The token is not in it: it goes in the first frame (proxies and logs keep URLs). */
export function streamUrl(loc: Pick<Location, 'protocol' | 'host'> = location): string {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}/api/v1/stream`;
}

export class LiveStream {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private devices: readonly string[] | undefined;
  private stopped = false;

  constructor(private readonly opts: LiveStreamOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, 'console closed');
    this.ws = undefined;
    this.opts.onState({ kind: 'closed' });
  }

  /** Narrows the stream to these devices; `undefined` means all devices of the tenant. */
  subscribe(devices: readonly string[] | undefined): void {
    this.devices = devices;
    this.sendSubscription();
  }

  private sendSubscription(): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(this.devices ? { type: 'subscribe', devices: this.devices } : { type: 'subscribe' }));
  }

  private connect(): void {
    this.opts.onState({ kind: 'connecting' });
    const ws = new WebSocket(streamUrl());
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.opts.onState({ kind: 'online' });
      ws.send(JSON.stringify({ type: 'auth', token: this.opts.token, ...(this.opts.tenant && { tenant: this.opts.tenant }) }));
      this.sendSubscription();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      const f = parseFrame(ev.data);
      if (f) this.opts.onFrame(f);
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = undefined;
      const delay = backoffDelay(this.attempt);
      this.attempt++;
      if (this.attempt >= 3) this.opts.onRepeatedFailure?.();
      this.opts.onState({ kind: 'retrying', at: Date.now() + delay });
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}
