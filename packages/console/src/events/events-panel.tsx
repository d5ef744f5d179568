/**
 * 事件 / Events on the device page: what the device announced (thing-model events), newest first, with the event's
 * name, a level badge and its output values; filtered by event and level; refreshed every few seconds (only what
 * was committed since is fetched, so rows already shown stay put) and extended back 24 h at a time on request.
 * How the window is read: events-model.ts.
 */
import { useCallback, useMemo, useState } from 'react';
import type { ApiClient } from '../api-client';
import type { EventSpec } from '../api-types';
import { useI18n } from '../i18n-context';
import { usePoll } from '../use-poll';
import { formatTimestamp } from '../value-format';
import { type EventsKey, eventsText } from './events-i18n';
import { type DeviceEventItem, EVENT_LEVELS, EventAccumulator, type EventLevel, type EventPage, type EventQuery, localName, outputTexts } from './events-model';
import './events.css';

export const EVENTS_REFRESH_MS = 3000;

const BADGE: Readonly<Record<EventLevel, string>> = { info: 'badge-info', warn: 'badge-warn', alert: 'badge-bad' };

function fetchEvents(api: ApiClient, device: string): (q: EventQuery) => Promise<EventPage> {
  return (q) => {
    const p = new URLSearchParams({ limit: String(q.limit) });
    for (const k of ['from', 'to', 'event', 'level', 'afterSeq'] as const) {
      const v = q[k];
      if (v !== undefined) p.set(k, String(v));
    }
    return api.call<EventPage>('GET', `/devices/${encodeURIComponent(device)}/events?${p}`);
  };
}

interface Props {
  readonly api: ApiClient;
  readonly deviceId: string;
  readonly specs: readonly EventSpec[];
}

export function EventsPanel({ api, deviceId, specs }: Props) {
  const { lang } = useI18n();
  const tx = (key: EventsKey, params?: Readonly<Record<string, string | number>>) => eventsText(lang, key, params);
  const [event, setEvent] = useState('');
  const [level, setLevel] = useState<EventLevel | ''>('');
  // One accumulator per device and filter: a new filter starts over with a fresh first window.
  const acc = useMemo(
    () => new EventAccumulator(fetchEvents(api, deviceId), { ...(event && { event }), ...(level && { level }) }),
    [api, deviceId, event, level],
  );
  const load = useCallback(() => acc.refresh(), [acc]);
  const poll = usePoll(load, EVENTS_REFRESH_MS);
  const [older, setOlder] = useState<{ busy: boolean; error?: { code: string; message: string } }>({ busy: false });

  const loadOlder = () => {
    setOlder({ busy: true });
    acc.loadOlder().then(
      () => {
        setOlder({ busy: false });
        poll.reload();
      },
      (e: unknown) => {
        const code = e !== null && typeof e === 'object' && 'code' in e ? String(e.code) : 'IIP_ERR_CONSOLE_LOAD';
        setOlder({ busy: false, error: { code, message: e instanceof Error ? e.message : String(e) } });
      },
    );
  };

  const specOf = (id: string) => specs.find((s) => s.id === id);
  const snap = poll.data;
  const error = poll.error ?? older.error;

  return (
    <section className="panel events-panel" data-testid="events-panel">
      <div className="events-head">
        <h3>{tx('title')}</h3>
        <span className="spacer" />
        <label className="small">
          {tx('filter.event')}{' '}
          <select data-testid="events-filter-event" value={event} onChange={(e) => setEvent(e.target.value)}>
            <option value="">{tx('filter.allEvents')}</option>
            {specs.map((s) => (
              <option key={s.id} value={s.id}>
                {localName(s.name, s.id, lang)}
              </option>
            ))}
          </select>
        </label>
        <label className="small">
          {tx('filter.level')}{' '}
          <select data-testid="events-filter-level" value={level} onChange={(e) => setLevel(e.target.value as EventLevel | '')}>
            <option value="">{tx('filter.allLevels')}</option>
            {EVENT_LEVELS.map((l) => (
              <option key={l} value={l}>
                {tx(`level.${l}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && (
        <p className="error small" data-testid="events-error">
          <code>{error.code}</code> {error.message}
        </p>
      )}
      {!snap && !poll.error && <p className="muted small">{tx('loading')}</p>}
      {snap && snap.items.length === 0 && (
        <p className="muted small" data-testid="events-empty">
          {tx(event || level ? 'emptyFiltered' : 'empty', { time: formatTimestamp(snap.since) })}
        </p>
      )}
      {snap && snap.items.length > 0 && (
        <>
          <table className="grid compact events-table">
            <thead>
              <tr>
                <th>{tx('col.time')}</th>
                <th>{tx('col.event')}</th>
                <th>{tx('col.level')}</th>
                <th>{tx('col.values')}</th>
              </tr>
            </thead>
            <tbody>
              {snap.items.map((e) => (
                <EventRow key={e.seq} e={e} spec={specOf(e.event)} />
              ))}
            </tbody>
          </table>
          <p className="muted small" data-testid="events-since">
            {tx('since', { count: snap.items.length, time: formatTimestamp(snap.since) })}
          </p>
        </>
      )}
      {snap?.partial && <p className="muted small">{tx('partial')}</p>}
      {snap && (
        <div>
          <button type="button" data-testid="events-older" disabled={older.busy} onClick={loadOlder}>
            {older.busy ? tx('olderLoading') : tx('older')}
          </button>
        </div>
      )}
    </section>
  );
}

function EventRow({ e, spec }: { e: DeviceEventItem; spec: EventSpec | undefined }) {
  const { lang } = useI18n();
  const outputs = outputTexts(spec, e.data, lang);
  return (
    <tr data-testid="event-row" data-event={e.event} data-level={e.level} data-seq={e.seq}>
      <td className="mono small nowrap" title={eventsText(lang, 'received', { time: formatTimestamp(e.receivedAt) })}>
        {formatTimestamp(e.ts)}
      </td>
      <td data-testid="event-name">
        {localName(spec?.name, e.event, lang)}
        {spec?.name && <span className="muted small mono"> {e.event}</span>}
      </td>
      <td>
        <span className={`badge ${BADGE[e.level] ?? ''}`} data-testid="event-level">
          {EVENT_LEVELS.includes(e.level) ? eventsText(lang, `level.${e.level}`) : e.level}
        </span>
      </td>
      <td data-testid="event-values">
        {outputs.length === 0 ? (
          <span className="muted small">{eventsText(lang, 'noValues')}</span>
        ) : (
          outputs.map((o) => (
            <span key={o.id} className="event-output" data-output={o.id}>
              {o.label}: {o.text}
            </span>
          ))
        )}
      </td>
    </tr>
  );
}
