/**
 * The device page's events panel, the part without React: the API's shapes, reading a time window completely,
 * keeping what was read newest first, and turning an event's outputs into "name: value unit" with the thing
 * model's data types. Pure apart from the page fetcher it is given, so it is unit-tested in Node.
 *
 * How the panel reads (GET /api/v1/devices/{id}/events answers oldest first, by ts then seq, `limit` at most
 * 1,000, `next` when a page is full):
 * - A window is read by walking forward in time: the next page starts `from` the last page's last ts (inclusive,
 *   duplicates dropped by seq). Continuing with `afterSeq` instead could skip an event whose ts is later but
 *   whose seq is lower than the page's last one (a device that sends its own, older timestamps late).
 * - First load: the last 24 h; when that holds more than a few pages, the last hour, then the last 5 minutes, so
 *   the newest events are what is shown (the API cannot answer newest first).
 * - Refresh: everything committed since, `afterSeq` = the highest seq seen (seqs follow commit order, so nothing
 *   stored after the last read is missed, whatever its ts).
 * - "Load older": the window before the oldest one read, moved back 24 h a click (narrower when it is busy).
 */
import type { DataType, EventSpec } from '@iip/core';
import { formatValue, isPointValue } from '../value-format';
import type { Lang } from '../i18n-dictionary';

export type EventLevel = 'info' | 'warn' | 'alert';
export const EVENT_LEVELS: readonly EventLevel[] = ['info', 'warn', 'alert'];

export interface DeviceEventItem {
  readonly seq: number;
  readonly event: string;
  readonly ts: number;
  readonly receivedAt: number;
  readonly level: EventLevel;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface EventPage {
  readonly device: string;
  readonly items: readonly DeviceEventItem[];
  /** Set when the page is full: the `<ts>:<seq>` cursor of its last event. */
  readonly next?: string;
}

export interface EventQuery {
  readonly from?: number;
  readonly to?: number;
  readonly event?: string;
  readonly level?: EventLevel;
  readonly afterSeq?: number;
  readonly limit: number;
}

export type FetchEvents = (q: EventQuery) => Promise<EventPage>;

/** Events per request, and requests per window before a narrower window is tried. */
export const PAGE_SIZE = 500;
export const MAX_PAGES = 4;
export const HOUR_MS = 3_600_000;
/** Window widths tried, widest first: the first that can be read whole in MAX_PAGES pages is kept. */
export const WINDOWS_MS: readonly number[] = [24 * HOUR_MS, HOUR_MS, 5 * 60_000];

/**
 * Reads every event of `q` (all pages), walking forward by ts. `complete` is false when MAX_PAGES pages did not
 * reach the end, or when a full page's events all share one millisecond (walking cannot advance).
 */
export async function readWindow(fetch: FetchEvents, q: Omit<EventQuery, 'limit'>, maxPages = MAX_PAGES, pageSize = PAGE_SIZE): Promise<{ items: DeviceEventItem[]; complete: boolean }> {
  const bySeq = new Map<number, DeviceEventItem>();
  let from = q.from;
  for (let i = 0; i < maxPages; i++) {
    const page = await fetch({ ...q, ...(from !== undefined && { from }), limit: pageSize });
    for (const e of page.items) bySeq.set(e.seq, e);
    const last = page.items.at(-1);
    if (page.next === undefined || !last) return { items: [...bySeq.values()], complete: true };
    if (from !== undefined && last.ts <= from) break;
    from = last.ts;
  }
  return { items: [...bySeq.values()], complete: false };
}

/** Newest first: later ts first, and within one millisecond the later-committed (higher seq) first. */
export function newestFirst(a: DeviceEventItem, b: DeviceEventItem): number {
  return b.ts - a.ts || b.seq - a.seq;
}

/** `current` (newest first) with `more` added; an event already there (same seq) is not shown twice. */
export function mergeEvents(current: readonly DeviceEventItem[], more: readonly DeviceEventItem[]): DeviceEventItem[] {
  if (more.length === 0) return [...current];
  const bySeq = new Map(current.map((e) => [e.seq, e]));
  for (const e of more) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort(newestFirst);
}

export interface EventsSnapshot {
  /** Newest first. */
  readonly items: readonly DeviceEventItem[];
  /** Events from this time on are shown (older ones: "load older"). */
  readonly since: number;
  /** A window could not be read whole (a burst of events); the newest part is shown. */
  readonly partial: boolean;
}

/**
 * What one panel (one device, one filter) has read so far. `refresh()` loads the first window, then only what
 * was committed since; `loadOlder()` extends the window back. Both leave the snapshot consistent between awaits.
 */
export class EventAccumulator {
  private items: DeviceEventItem[] = [];
  private since: number | undefined;
  private maxSeq = 0;
  private partial = false;
  private snap: EventsSnapshot | undefined;

  constructor(
    private readonly fetch: FetchEvents,
    private readonly filter: { readonly event?: string; readonly level?: EventLevel },
    private readonly now: () => number = Date.now,
  ) {}

  private add(more: readonly DeviceEventItem[]): void {
    for (const e of more) this.maxSeq = Math.max(this.maxSeq, e.seq);
    if (more.length > 0) this.items = mergeEvents(this.items, more);
  }

  /** The same object as long as nothing changed, so a refresh that found nothing re-renders nothing new. */
  snapshot(): EventsSnapshot {
    const since = this.since ?? this.now();
    if (!this.snap || this.snap.items !== this.items || this.snap.since !== since || this.snap.partial !== this.partial) {
      this.snap = { items: this.items, since, partial: this.partial };
    }
    return this.snap;
  }

  async refresh(): Promise<EventsSnapshot> {
    if (this.since === undefined) {
      const end = this.now();
      const { items, since, complete } = await this.readBack(end, undefined);
      this.add(items);
      this.since = since;
      this.partial = !complete;
    } else {
      // Everything committed since the last read; afterSeq 0 when nothing was seen yet.
      const { items } = await readWindow(this.fetch, { ...this.filter, afterSeq: this.maxSeq });
      this.add(items);
    }
    return this.snapshot();
  }

  /** Extends what is shown 24 h further back (less when that window is busy). */
  async loadOlder(): Promise<EventsSnapshot> {
    if (this.since === undefined) return this.refresh();
    const to = this.since;
    const { items, since, complete } = await this.readBack(to, to);
    this.add(items);
    this.since = since;
    if (!complete) this.partial = true;
    return this.snapshot();
  }

  /** The widest of WINDOWS_MS before `end` that reads whole; failing all, the narrowest as far as it got. */
  private async readBack(end: number, to: number | undefined): Promise<{ items: DeviceEventItem[]; since: number; complete: boolean }> {
    let last: { items: DeviceEventItem[]; since: number; complete: boolean } | undefined;
    for (const width of WINDOWS_MS) {
      const from = end - width;
      const r = await readWindow(this.fetch, { ...this.filter, from, ...(to !== undefined && { to }) });
      last = { items: r.items, since: from, complete: r.complete };
      if (r.complete) return last;
    }
    return last ?? { items: [], since: end, complete: true };
  }
}

/**
 * A thing-model name in the reader's language: "Overheat / 过热" shows "Overheat" in English and "过热" in
 * Chinese; a name in one language only is shown as it is; no name, the id.
 */
export function localName(name: string | undefined, id: string, lang: Lang): string {
  const n = name?.trim();
  if (!n) return id;
  const parts = n.split(/\s+\/\s+/);
  if (parts.length !== 2) return n;
  const han = (s: string) => /[\u3400-\u9fff]/.test(s);
  const [a, b] = parts as [string, string];
  if (han(a) === han(b)) return n;
  const zh = han(a) ? a : b;
  const other = han(a) ? b : a;
  return lang === 'zh' ? zh : other;
}

export interface OutputText {
  readonly id: string;
  readonly label: string;
  readonly text: string;
}

/**
 * The event's output values as the model describes them, in the model's order; a value under an id the model
 * no longer has is still shown (as it came), after them.
 */
export function outputTexts(spec: EventSpec | undefined, data: Readonly<Record<string, unknown>>, lang: Lang): OutputText[] {
  const out: OutputText[] = [];
  const show = (v: unknown, dt: DataType | undefined) => (v === null || v === undefined || isPointValue(v) ? formatValue(v, dt, lang) : JSON.stringify(v));
  const known = new Set<string>();
  for (const o of spec?.outputs ?? []) {
    known.add(o.id);
    if (Object.hasOwn(data, o.id)) out.push({ id: o.id, label: localName(o.name, o.id, lang), text: show(data[o.id], o.dataType) });
  }
  for (const [id, v] of Object.entries(data)) {
    if (!known.has(id)) out.push({ id, label: id, text: show(v, undefined) });
  }
  return out;
}
