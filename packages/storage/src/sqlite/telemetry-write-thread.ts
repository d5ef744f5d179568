/**
 * Telemetry writes of the embedded engine off the event loop that serves devices (issue 20): a worker thread with
 * its own connection to the same SQLite file runs each write transaction (raw points, rollups, latest values) while
 * the main thread goes on parsing, validating and acknowledging. WAL lets the main connection read (latest, history,
 * trends) beside it; the two connections' writes take turns on SQLite's write lock (busy_timeout).
 *
 * A write resolves when its transaction is committed, so a PUBACK that waits for it still means "stored". Batches
 * are handed over packed — three numbers per row in one transferred buffer, the strings beside — not as objects.
 * If the thread dies, the writes in flight are rejected (their senders are not acknowledged and send again) and the
 * next write starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import { IipError } from '@iip/core';
import type { RawRow, SeriesKey, SeriesKind } from '../ports.js';
import type { WriteResult } from './telemetry-writer.js';
import type { FoldRequest, SeriesRequest, WriteReply, WriteRequest } from './telemetry-write-worker.js';

interface Waiting {
  /** The write's counts, the series found or created, or nothing (a fold). */
  resolve(r: WriteResult | ReadonlyArray<{ id: number; kind: SeriesKind }> | undefined): void;
  reject(e: unknown): void;
}

interface SeriesWanted {
  readonly key: SeriesKey;
  readonly kind: SeriesKind;
  resolve(e: { id: number; kind: SeriesKind }): void;
  reject(e: unknown): void;
}

/**
 * Where the worker starts. The platform runs from its TypeScript source through tsx, whose loader a worker thread
 * does not inherit (nor take from execArgv on Node 20), so the worker starts from a two-line module that registers
 * tsx's loader (resolved from this package: any working directory will do) and then imports the worker's source.
 * Compiled to JavaScript, the worker's own file is the entry.
 */
function workerEntry(name: 'telemetry-write-worker' | 'telemetry-checkpoint-worker'): URL {
  const ts = import.meta.url.endsWith('.ts');
  const target = new URL(`./${name}.${ts ? 'ts' : 'js'}`, import.meta.url);
  if (!ts) return target;
  const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\nregister();\nawait import(${JSON.stringify(target.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

export class ThreadedTelemetryWriter {
  private worker: Worker | null = null;
  /** Writes the current thread has committed (or failed), counted by the thread itself: [0]. */
  private done = new Int32Array(new SharedArrayBuffer(4));
  /** Writes handed to the current thread. */
  private posted = 0;
  /** The checkpointer thread (telemetry-checkpoint-worker.ts), started with the writer; null once it has stopped. */
  private checkpointer: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private drained: (() => void) | null = null;
  /** Series asked for in this turn of the event loop: found or created together, in one transaction. */
  private seriesBatch: SeriesWanted[] | null = null;

  constructor(
    private readonly file: string,
    private readonly rollupLevels: readonly number[],
    private readonly cacheMiB = 64,
  ) {}

  write(rows: readonly RawRow[]): Promise<WriteResult> {
    if (rows.length === 0) return Promise.resolve({ inserted: 0, duplicates: 0 });
    if (this.closed) return Promise.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', 'the telemetry store is closed; nothing was written', {}));
    const worker = this.ensureWorker();
    const n = rows.length;
    const nums = new Float64Array(n * 3);
    let strs: Array<string | null> | null = null;
    for (let i = 0; i < n; i++) {
      const r = rows[i] as RawRow;
      nums[i * 3] = r.series;
      nums[i * 3 + 1] = r.ts;
      nums[i * 3 + 2] = r.num ?? Number.NaN;
      if (r.str !== null) {
        strs ??= new Array<string | null>(n).fill(null);
        strs[i] = r.str;
      }
    }
    const id = this.nextId++;
    return new Promise<WriteResult>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as Waiting['resolve'], reject });
      const req: WriteRequest = { type: 'write', id, n, nums, strs };
      worker.postMessage(req, [nums.buffer]);
      this.posted++;
    });
  }

  /** Finds or creates a series in the writer thread (the ones asked for in one turn of the event loop go together). */
  series(key: SeriesKey, kind: SeriesKind): Promise<{ id: number; kind: SeriesKind }> {
    if (this.closed) return Promise.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', 'the telemetry store is closed; nothing was written', {}));
    return new Promise((resolve, reject) => {
      if (!this.seriesBatch) {
        this.seriesBatch = [];
        setImmediate(() => this.sendSeries());
      }
      this.seriesBatch.push({ key, kind, resolve, reject });
    });
  }

  private sendSeries(): void {
    const batch = this.seriesBatch ?? [];
    this.seriesBatch = null;
    if (batch.length === 0) return;
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    const id = this.nextId++;
    this.waiting.set(id, {
      resolve: (r) => {
        const list = r as ReadonlyArray<{ id: number; kind: SeriesKind }>;
        batch.forEach((b, i) => {
          const e = list[i];
          if (e) b.resolve(e);
          else b.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', 'the writer thread answered fewer series than asked', {}));
        });
      },
      reject: (e) => {
        for (const b of batch) b.reject(e);
      },
    });
    const req: SeriesRequest = { type: 'series', id, keys: batch.map((b) => ({ tenant: b.key.tenant, device: b.key.device, property: b.key.property, kind: b.kind })) };
    worker.postMessage(req);
  }

  /** Folds points into the rollups in the writer thread (retention: those before `before`; usage: all). */
  fold(opts: { readonly tenant: string; readonly before?: number }): Promise<void> {
    if (this.closed) return Promise.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', 'the telemetry store is closed', {}));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve: () => resolve(), reject });
      const req: FoldRequest = { type: 'fold', id, tenant: opts.tenant, ...(opts.before !== undefined ? { before: opts.before } : {}) };
      worker.postMessage(req);
    });
  }

  /** Lets the writes in flight finish, then stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const w = this.worker;
    const c = this.checkpointer;
    this.checkpointer = null;
    if (w && this.waiting.size > 0) await new Promise<void>((r) => (this.drained = r));
    await Promise.all([w ? stopThread(w) : undefined, c ? stopThread(c) : undefined]);
    this.worker = null;
  }

  /** Writes the thread has not finished yet (its answers may still be on their way). */
  busy(): number {
    return this.worker ? this.posted - Atomics.load(this.done, 0) : 0;
  }

  /**
   * The checkpointer beside the writer (IIP_SQLITE_CHECKPOINTER=0 leaves it out). Only a help (the writer checkpoints
   * by itself without it): if it cannot start or stops, writes go on and the next writer started tries again.
   */
  private startCheckpointer(): Worker | null {
    try {
      const t = new Worker(workerEntry('telemetry-checkpoint-worker'), { workerData: { file: this.file }, resourceLimits: { maxYoungGenerationSizeMb: 4 }, execArgv: [] });
      const gone = () => {
        if (this.checkpointer === t) this.checkpointer = null;
      };
      t.on('error', gone);
      t.on('exit', gone);
      return t;
    } catch {
      return null;
    }
  }

  private settled(): void {
    if (this.waiting.size === 0 && this.drained) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    if (process.env.IIP_SQLITE_CHECKPOINTER !== '0') this.checkpointer ??= this.startCheckpointer();
    // A new thread counts from zero.
    this.done = new Int32Array(new SharedArrayBuffer(4));
    this.posted = 0;
    const w = new Worker(workerEntry('telemetry-write-worker'), {
      workerData: { file: this.file, rollupLevels: [...this.rollupLevels], cacheMiB: this.cacheMiB, done: this.done },
      // Its own young generation, not the platform's (PLATFORM_NODE_FLAGS raise the process-wide one to 64 MiB per
      // semi-space): what it allocates per write is short-lived and small, and every MiB here is resident.
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
      // Not the parent's flags: its `--import tsx` would be resolved from the working directory, which need not be
      // the project's (the entry registers tsx itself, from this package).
      execArgv: [],
    });
    w.on('message', (m: WriteReply) => {
      const x = this.waiting.get(m.id);
      if (!x) return;
      this.waiting.delete(m.id);
      if ('error' in m) {
        x.reject(new IipError('IIP_ERR_STORAGE_UNAVAILABLE', `telemetry write failed in the writer thread: ${m.error.message}`, { ...(m.error.code ? { sqlite: m.error.code } : {}) }));
      } else if ('series' in m) {
        x.resolve(m.series);
      } else if ('folded' in m) {
        x.resolve(undefined);
      } else {
        x.resolve({ inserted: m.inserted, duplicates: m.duplicates });
      }
      this.settled();
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = null;
      const err = new IipError('IIP_ERR_STORAGE_UNAVAILABLE', `the telemetry writer thread stopped (${why}); the writes in flight were not confirmed`, {});
      for (const [id, x] of this.waiting) {
        this.waiting.delete(id);
        x.reject(err);
      }
      this.settled();
    };
    w.on('error', (e) => fail(e.message));
    w.on('exit', (code) => fail(`exit code ${code}`));
    this.worker = w;
    return w;
  }
}

/** Asks a thread to close its connection and end; terminates it if it has not within 5 s. */
function stopThread(t: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    t.once('exit', () => resolve());
    t.postMessage({ close: true });
    setTimeout(() => void t.terminate(), 5_000).unref();
  });
}
