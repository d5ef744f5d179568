/**
 * The in-process adapter of the bus port, for the embedded platform (one process). Live subscribers are
 * called synchronously in the publishing call, in subscription order; a group's message goes to one member
 * (round robin) and, if its handler throws or rejects, is offered again after `retryDelayMs` until a member
 * takes it (each failure is reported through `onError`). Nothing survives the process: durability in the
 * embedded platform comes from the SQLite commit, not from the bus.
 *
 * Bounded (issue 20): a group holds at most `maxPendingPerGroup` messages — handed to a member and not yet
 * done, or waiting to be offered again. A slow or failing group (the rules engine waiting on an alarm store
 * that is down) would otherwise keep every message of a busy platform in memory. Past the bound a new message
 * is not given to that group: it is counted in `stats()` and reported through `onError` once per overload
 * (IIP_ERR_BUS_OVERLOADED), as a NATS core subscriber past its pending limits is told it is a slow consumer.
 * Publishers are not held back: in the embedded platform a message is acknowledged once SQLite has it, and
 * the groups that follow the bus (rules) must not slow the device's acknowledgement. Live subscribers are
 * called in the publishing call and hold nothing here; what they keep is theirs to bound.
 */
import { IipError } from '@iip/core';
import type { Bus, BusTopics, Handler, SubscribeOptions, Subscription, Topic } from './index.js';

type AnyHandler = (msg: unknown) => void | Promise<void>;

interface Group {
  readonly members: AnyHandler[];
  next: number;
  /** Messages handed to a member and not yet done, or waiting to be offered again. */
  pending: number;
  dropped: number;
  /** Past the bound since the last report (reported once until it falls back to half). */
  overloaded: boolean;
}

export interface InProcessBusStats {
  /** Per `topic/group`: messages it holds now, and messages it was not given because it held its bound. */
  readonly groups: Readonly<Record<string, { readonly pending: number; readonly dropped: number }>>;
}

export interface InProcessBusOptions {
  /** Receives every handler failure (live or group); the default logs it. */
  readonly onError?: (topic: Topic, err: unknown) => void;
  /** Delay before a failed group message is offered again (default 1,000 ms). */
  readonly retryDelayMs?: number;
  /** Messages one group may hold (in its handlers or waiting to be offered again); default 10,000. */
  readonly maxPendingPerGroup?: number;
}

export class InProcessBus implements Bus {
  private readonly live = new Map<Topic, Set<AnyHandler>>();
  private readonly groups = new Map<Topic, Map<string, Group>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly onError: (topic: Topic, err: unknown) => void;
  private readonly retryDelayMs: number;
  private readonly maxPending: number;
  private closed = false;

  constructor(opts: InProcessBusOptions | ((topic: Topic, err: unknown) => void) = {}) {
    const o = typeof opts === 'function' ? { onError: opts } : opts;
    this.onError = o.onError ?? ((topic, err) => console.error(`bus: a ${topic} subscriber failed:`, err));
    this.retryDelayMs = o.retryDelayMs ?? 1_000;
    this.maxPending = Math.max(1, o.maxPendingPerGroup ?? 10_000);
  }

  stats(): InProcessBusStats {
    const groups: Record<string, { pending: number; dropped: number }> = {};
    for (const [topic, byName] of this.groups) for (const [name, g] of byName) groups[`${topic}/${name}`] = { pending: g.pending, dropped: g.dropped };
    return { groups };
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
    if (groups) {
      for (const [name, g] of groups) {
        if (g.pending >= this.maxPending) {
          g.dropped++;
          if (!g.overloaded) {
            g.overloaded = true;
            this.onError(
              topic,
              new IipError('IIP_ERR_BUS_OVERLOADED', `the "${name}" group of ${topic} holds ${g.pending} messages (its limit); new ones are not given to it until it catches up`, { topic, group: name, pending: g.pending }),
            );
          }
          continue;
        }
        g.pending++;
        this.offer(topic, g, msg);
      }
    }
  }

  /** A group's message is done (its handler returned or resolved). */
  private done(g: Group): void {
    g.pending--;
    if (g.overloaded && g.pending <= this.maxPending / 2) g.overloaded = false;
  }

  private offer(topic: Topic, g: Group, msg: unknown): void {
    if (this.closed) return;
    if (g.members.length === 0) {
      this.retry(topic, g, msg, new Error(`no member of the group is subscribed to ${topic}`));
      return;
    }
    const h = g.members[g.next++ % g.members.length] as AnyHandler;
    try {
      const r = h(msg);
      // Callbacks inline: a function bound to a name would be renamed at run time on every message (tsx keeps names).
      if (r instanceof Promise)
        r.then(
          () => this.done(g),
          (err: unknown) => this.retry(topic, g, msg, err),
        );
      else this.done(g);
    } catch (err) {
      this.retry(topic, g, msg, err);
    }
  }

  /** A handler failed: reported, and the message offered to the group again after retryDelayMs. */
  private retry(topic: Topic, g: Group, msg: unknown, err: unknown): void {
    this.onError(topic, err);
    const t = setTimeout(() => {
      this.retries.delete(t);
      this.offer(topic, g, msg);
    }, this.retryDelayMs);
    t.unref();
    this.retries.add(t);
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
      g = { members: [], next: 0, pending: 0, dropped: 0, overloaded: false };
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
