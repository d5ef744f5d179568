/**
 * @iip/bus — the message-bus port and its in-process adapter. Device access publishes validated telemetry
 * batches; the historian, the live-update stream and (later) rules subscribe. The NATS JetStream adapter for
 * scale-out implements the same `Bus` interface.
 */
import type { TelemetryBatch } from '@iip/core';

/** Topics and the message type each carries. */
export interface BusTopics {
  telemetry: TelemetryBatch;
  'device.status': { tenant: string; device: string; online: boolean; ts: number };
}

export type Topic = keyof BusTopics;
export type Handler<T extends Topic> = (msg: BusTopics[T]) => void;

export interface Bus {
  publish<T extends Topic>(topic: T, msg: BusTopics[T]): void;
  /** Returns an unsubscribe function. */
  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void;
  close(): Promise<void>;
}

/**
 * Delivers synchronously to every subscriber in the publishing call. A subscriber that throws is reported
 * through `onError` and does not stop delivery to the others.
 */
export class InProcessBus implements Bus {
  private readonly handlers = new Map<Topic, Set<(msg: unknown) => void>>();
  constructor(private readonly onError: (topic: Topic, err: unknown) => void = () => {}) {}

  publish<T extends Topic>(topic: T, msg: BusTopics[T]): void {
    const set = this.handlers.get(topic);
    if (!set) return;
    for (const h of set) {
      try {
        h(msg);
      } catch (err) {
        this.onError(topic, err);
      }
    }
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    const h = handler as (msg: unknown) => void;
    set.add(h);
    return () => set.delete(h);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
