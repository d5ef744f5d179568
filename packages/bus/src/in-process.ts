/**
 * The in-process adapter of the bus port, for the embedded platform (one process). Live subscribers are
 * called synchronously in the publishing call, in subscription order; a group's message goes to one member
 * (round robin) and, if its handler throws or rejects, is offered again after `retryDelayMs` until a member
 * takes it (each failure is reported through `onError`). Nothing survives the process: durability in the
 * embedded platform comes from the SQLite commit, not from the bus.
 */
import { IipError } from '@iip/core';
import type { Bus, BusTopics, Handler, SubscribeOptions, Subscription, Topic } from './index.js';

type AnyHandler = (msg: unknown) => void | Promise<void>;

interface Group {
  readonly members: AnyHandler[];
  next: number;
}

export interface InProcessBusOptions {
  /** Receives every handler failure (live or group); the default logs it. */
  readonly onError?: (topic: Topic, err: unknown) => void;
  /** Delay before a failed group message is offered again (default 1,000 ms). */
  readonly retryDelayMs?: number;
}

export class InProcessBus implements Bus {
  private readonly live = new Map<Topic, Set<AnyHandler>>();
  private readonly groups = new Map<Topic, Map<string, Group>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly onError: (topic: Topic, err: unknown) => void;
  private readonly retryDelayMs: number;
  private closed = false;

  constructor(opts: InProcessBusOptions | ((topic: Topic, err: unknown) => void) = {}) {
    const o = typeof opts === 'function' ? { onError: opts } : opts;
    this.onError = o.onError ?? ((topic, err) => console.error(`bus: a ${topic} subscriber failed:`, err));
    this.retryDelayMs = o.retryDelayMs ?? 1_000;
  }

  async publish<T extends Topic>(topic: T, msg: BusTopics[T]): Promise<void> {
    if (this.closed) throw new IipError('IIP_ERR_BUS_UNAVAILABLE', `the in-process bus is closed: the ${topic} message was not taken`);
    const set = this.live.get(topic);
    if (set) {
      for (const h of set) {
        try {
          const r = h(msg);
          if (r instanceof Promise) r.catch((e) => this.onError(topic, e));
        } catch (err) {
          this.onError(topic, err);
        }
      }
    }
    const groups = this.groups.get(topic);
    if (groups) for (const g of groups.values()) this.offer(topic, g, msg);
  }

  private offer(topic: Topic, g: Group, msg: unknown): void {
    if (this.closed) return;
    const retry = (err: unknown): void => {
      this.onError(topic, err);
      const t = setTimeout(() => {
        this.retries.delete(t);
        this.offer(topic, g, msg);
      }, this.retryDelayMs);
      t.unref();
      this.retries.add(t);
    };
    if (g.members.length === 0) {
      retry(new Error(`no member of the group is subscribed to ${topic}`));
      return;
    }
    const h = g.members[g.next++ % g.members.length] as AnyHandler;
    try {
      const r = h(msg);
      if (r instanceof Promise) r.catch(retry);
    } catch (err) {
      retry(err);
    }
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>, opts: SubscribeOptions = {}): Subscription {
    const h = handler as AnyHandler;
    if (opts.group === undefined) {
      let set = this.live.get(topic);
      if (!set) {
        set = new Set();
        this.live.set(topic, set);
      }
      set.add(h);
      return { ready: Promise.resolve(), unsubscribe: async () => void set.delete(h) };
    }
    let groups = this.groups.get(topic);
    if (!groups) {
      groups = new Map();
      this.groups.set(topic, groups);
    }
    let g = groups.get(opts.group);
    if (!g) {
      g = { members: [], next: 0 };
      groups.set(opts.group, g);
    }
    const group = g;
    group.members.push(h);
    return {
      ready: Promise.resolve(),
      unsubscribe: async () => {
        const i = group.members.indexOf(h);
        if (i >= 0) group.members.splice(i, 1);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    this.live.clear();
    this.groups.clear();
  }
}
