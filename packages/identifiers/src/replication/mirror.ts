/**
 * A disaster-recovery mirror: pulls the primary's transaction log and applies it to its own store, in
 * order. The applied seq is the newest seq in the mirror's own log, written in the same SQLite transaction
 * as the change, so a restarted mirror resumes exactly where it stopped and a page applied twice is a no-op.
 */
import type { HandleStore } from '@iip/storage';
import type { TransactionLogSource } from './transaction-log-source.js';

export interface MirrorOptions {
  /** The mirror's own store (serve it with a LocalHandleService in role `mirror`). */
  readonly store: HandleStore;
  readonly source: TransactionLogSource;
  /** Pause between polls once caught up (default 1000 ms). */
  readonly intervalMs?: number;
  /** Changes per request (default 1000). */
  readonly batchSize?: number;
  /** Called with each failed poll; the mirror keeps polling. */
  readonly onError?: (e: unknown) => void;
  /**
   * Called after each batch is applied, before the poll goes on: a service serving the store refreshes its
   * caches here (LocalHandleService.refresh) when the store cannot tell it about changes by itself.
   */
  readonly onApplied?: (seq: number) => void | Promise<void>;
}

export interface MirrorStatus {
  readonly appliedSeq: number;
  /** The primary's newest seq at the last successful poll; undefined before the first. */
  readonly sourceSeq: number | undefined;
  readonly lastError: string | undefined;
  readonly lastSyncAt: number | undefined;
}

export interface Mirror {
  /** Pulls until caught up once, now; resolves with the applied seq. */
  syncOnce(): Promise<number>;
  status(): MirrorStatus;
  /** Stops polling and waits for an in-flight poll to finish. Does not close the store. */
  stop(): Promise<void>;
}

export function startMirror(opts: MirrorOptions): Mirror {
  const interval = opts.intervalMs ?? 1000;
  const batch = opts.batchSize ?? 1000;
  let sourceSeq: number | undefined;
  let lastError: string | undefined;
  let lastSyncAt: number | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  /** The store's lastSeq() as last read or applied (status() answers without a promise). */
  let appliedSeq = 0;

  async function pull(): Promise<number> {
    appliedSeq = await opts.store.lastSeq();
    for (;;) {
      const page = await opts.source.changesSince(appliedSeq, batch);
      if (stopped) return appliedSeq;
      sourceSeq = page.lastSeq;
      if (page.changes.length > 0) {
        appliedSeq = await opts.store.applyChanges(page.changes);
        await opts.onApplied?.(appliedSeq);
      }
      const applied = appliedSeq;
      lastError = undefined;
      lastSyncAt = Date.now();
      if (page.changes.length < batch || applied >= page.lastSeq) return applied;
    }
  }

  function syncOnce(): Promise<number> {
    // One poll at a time: two would fetch the same page and race to apply it.
    running ??= pull().finally(() => {
      running = undefined;
    });
    return running;
  }

  /** One poll (failures are recorded and reported, never thrown), then the next after `interval`. */
  function tick(): void {
    syncOnce()
      .catch((e: unknown) => {
        lastError = e instanceof Error ? e.message : String(e);
        opts.onError?.(e);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, interval);
      });
  }

  timer = setTimeout(tick, 0);

  return {
    syncOnce,
    status: () => ({ appliedSeq, sourceSeq, lastError, lastSyncAt }),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
