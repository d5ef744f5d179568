/**
 * The events panel's reading and formatting (src/events/events-model.ts) against an in-memory copy of what
 * GET /api/v1/devices/{id}/events documents (oldest first by ts then seq, from ≤ ts < to, seq > afterSeq,
 * `next` when a page is full), and its dictionary. The browser test runs the same code against the platform.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventSpec } from '@iip/core';
import { EVENTS_DICTIONARY, eventsText } from '../src/events/events-i18n.ts';
import {
  type DeviceEventItem,
  EventAccumulator,
  type EventQuery,
  HOUR_MS,
  localName,
  mergeEvents,
  outputTexts,
  readWindow,
} from '../src/events/events-model.ts';

function store(events: DeviceEventItem[]) {
  const calls: EventQuery[] = [];
  const fetch = async (q: EventQuery) => {
    calls.push(q);
    const hits = events
      .filter((e) => (q.from === undefined || e.ts >= q.from) && (q.to === undefined || e.ts < q.to))
      .filter((e) => (q.afterSeq === undefined || e.seq > q.afterSeq) && (!q.event || e.event === q.event) && (!q.level || e.level === q.level))
      .sort((a, b) => a.ts - b.ts || a.seq - b.seq)
      .slice(0, q.limit);
    const last = hits.at(-1);
    return { device: 'd1', items: hits, ...(hits.length === q.limit && last && { next: `${last.ts}:${last.seq}` }) };
  };
  return { fetch, calls, events };
}

const ev = (seq: number, ts: number, level: DeviceEventItem['level'] = 'info', event = 'e'): DeviceEventItem => ({ seq, ts, receivedAt: ts, level, event, data: {} });

test('readWindow walks forward by time and misses no event whose seq is out of time order', async () => {
  // Seqs commit order, ts device time: seq 5 arrived last but happened between the others.
  const s = store([ev(1, 100), ev(2, 200), ev(3, 300), ev(4, 400), ev(5, 250), ev(6, 500)]);
  const r = await readWindow(s.fetch, { from: 0 }, 10, 2);
  assert.equal(r.complete, true);
  assert.deepEqual(r.items.map((e) => e.seq).sort(), [1, 2, 3, 4, 5, 6]);
  // Paging by afterSeq = the last seq would have lost seq 5: the first page ends at seq 2, the second at seq 5 …
  const cut = await readWindow(s.fetch, { from: 0 }, 1, 2);
  assert.equal(cut.complete, false);
});

test('readWindow stops (incomplete) when a full page cannot advance in time', async () => {
  const s = store([ev(1, 100), ev(2, 100), ev(3, 100), ev(4, 200)]);
  const r = await readWindow(s.fetch, { from: 100 }, 10, 2);
  assert.equal(r.complete, false);
  assert.ok(s.calls.length <= 2);
});

test('the accumulator shows the last 24 h newest first, then only what was committed since, then older on request', async () => {
  const now = 10 * 24 * HOUR_MS;
  const s = store([ev(1, now - 30 * HOUR_MS, 'warn'), ev(2, now - 2 * HOUR_MS, 'alert'), ev(3, now - 60_000)]);
  const acc = new EventAccumulator(s.fetch, {}, () => now);
  const first = await acc.refresh();
  assert.deepEqual(first.items.map((e) => e.seq), [3, 2]);
  assert.equal(first.since, now - 24 * HOUR_MS);
  assert.equal(first.partial, false);

  // Nothing new: the same snapshot object (no re-render of new rows).
  assert.equal(await acc.refresh(), first);
  s.events.push(ev(4, now + 1000), ev(5, now - 3 * HOUR_MS));
  const second = await acc.refresh();
  assert.deepEqual(second.items.map((e) => e.seq), [4, 3, 2, 5]);
  assert.equal(s.calls.at(-1)?.afterSeq, 3, 'refresh asks for what was committed after the highest seq seen');
  assert.equal(await acc.refresh(), second);
  assert.equal(s.calls.at(-1)?.afterSeq, 5);

  const older = await acc.loadOlder();
  assert.deepEqual(older.items.map((e) => e.seq), [4, 3, 2, 5, 1]);
  assert.equal(older.since, now - 48 * HOUR_MS);
});

test('a busy day shows the newest hour rather than the oldest events of the day', async () => {
  const now = 100 * HOUR_MS;
  const events: DeviceEventItem[] = [];
  for (let i = 0; i < 2500; i++) events.push(ev(i + 1, now - 20 * HOUR_MS + i * 1000));
  events.push(ev(9000, now - 10_000, 'alert'));
  const s = store(events);
  const snap = await new EventAccumulator(s.fetch, { level: 'alert' }, () => now).refresh();
  assert.deepEqual(snap.items.map((e) => e.seq), [9000], 'the level filter is the server’s');
  const all = await new EventAccumulator(s.fetch, {}, () => now).refresh();
  assert.equal(all.since, now - HOUR_MS);
  assert.deepEqual(all.items.map((e) => e.seq), [9000]);
  assert.equal(all.partial, false, 'the hour was read whole; "since" says it is an hour');
});

test('mergeEvents keeps one row per seq, newest first', () => {
  const merged = mergeEvents([ev(2, 20), ev(1, 10)], [ev(2, 20), ev(3, 10)]);
  assert.deepEqual(merged.map((e) => e.seq), [2, 3, 1]);
});

test('localName picks the reader’s half of "English / 中文" names', () => {
  assert.equal(localName('Overheat / 过热', 'overheat', 'en'), 'Overheat');
  assert.equal(localName('Overheat / 过热', 'overheat', 'zh'), '过热');
  assert.equal(localName('过热 / Overheat', 'overheat', 'en'), 'Overheat');
  assert.equal(localName('Door opened', 'door', 'zh'), 'Door opened');
  assert.equal(localName('A / B', 'x', 'zh'), 'A / B');
  assert.equal(localName(undefined, 'door', 'en'), 'door');
  assert.equal(localName('  ', 'door', 'en'), 'door');
});

test('outputTexts formats values with the model’s data types and keeps unknown outputs', () => {
  const spec: EventSpec = {
    id: 'overheat',
    level: 'alert',
    outputs: [
      { id: 'temperature', name: 'Temperature / 温度', dataType: { type: 'float', unit: '°C' } },
      { id: 'zone', dataType: { type: 'enum', values: [{ value: 'spindle', text: 'Spindle' }] } },
      { id: 'ok', dataType: { type: 'bool' } },
    ],
  };
  const en = outputTexts(spec, { zone: 'spindle', temperature: 91.5, extra: 7, ok: false }, 'en');
  assert.deepEqual(en.map((o) => `${o.label}: ${o.text}`), ['Temperature: 91.5 °C', 'zone: Spindle', 'ok: false', 'extra: 7']);
  const zh = outputTexts(spec, { temperature: 91.5, ok: true }, 'zh');
  assert.deepEqual(zh.map((o) => `${o.label}: ${o.text}`), ['温度: 91.5 °C', 'ok: 是']);
  assert.deepEqual(outputTexts(undefined, {}, 'en'), []);
});

test('the events dictionary has the same keys and placeholders in both languages', () => {
  const ph = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  const keys = Object.keys(EVENTS_DICTIONARY.en).sort();
  assert.deepEqual(Object.keys(EVENTS_DICTIONARY.zh).sort(), keys);
  for (const k of keys as Array<keyof typeof EVENTS_DICTIONARY.en>) {
    assert.ok(EVENTS_DICTIONARY.en[k].trim() && EVENTS_DICTIONARY.zh[k].trim(), `${k} is empty`);
    assert.deepEqual(ph(EVENTS_DICTIONARY.zh[k]), ph(EVENTS_DICTIONARY.en[k]), `${k} placeholders`);
    assert.match(EVENTS_DICTIONARY.zh[k], /[\u4e00-\u9fff]/, `${k} is not Chinese`);
  }
  assert.equal(eventsText('en', 'empty', { time: 'T' }), 'No events since T.');
});
