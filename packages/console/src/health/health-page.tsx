/**
 * 运行状况 / Health: the platform's own load from `load` of GET /api/v1/status — event-loop delay, PUBACK latency
 * percentiles, queue depths, memory, connections — polled every 3 s. When a poll fails because the platform
 * cannot be reached, the page says so at the top and keeps the last figures, marked with their time, beside it.
 */
import { type ReactNode, useCallback } from 'react';
import type { ApiClient } from '../api-client';
import { useI18n } from '../i18n-context';
import { usePoll } from '../use-poll';
import { useNow } from '../use-now';
import { formatAge, formatTimestamp } from '../value-format';
import { type HealthKey, healthText } from './health-i18n';
import {
  HEALTH_REFRESH_MS,
  LOOP_BAD_MS,
  LOOP_OK_MS,
  type Level,
  PUBACK_BAD_MS,
  PUBACK_OK_MS,
  type PlatformLoadReply,
  formatBytes,
  formatCount,
  formatMs,
  formatRatio,
  formatSize,
  isUnreachable,
  latencyLevel,
  readLoad,
} from './health-model';
import './health-page.css';

class LoadNotReported extends Error {
  readonly code = 'IIP_ERR_CONSOLE_LOAD';
}

export function HealthPage({ api }: { api: ApiClient }) {
  const { lang } = useI18n();
  const h = (key: HealthKey, params?: Readonly<Record<string, string | number>>) => healthText(lang, key, params);
  const load = useCallback(async () => {
    const l = readLoad(await api.call<unknown>('GET', '/status'));
    if (!l) throw new LoadNotReported(healthText('en', 'notReported'));
    return l;
  }, [api]);
  const poll = usePoll(load, HEALTH_REFRESH_MS);
  const now = useNow(1000);
  const l = poll.data;
  const unreachable = poll.error !== undefined && isUnreachable(poll.error.code);

  return (
    <main className={`page health-page${unreachable ? ' stale' : ''}`} data-testid="health-page">
      <div className="page-head">
        <h2>{h('title')}</h2>
        {l && poll.loadedAt !== undefined && !unreachable && (
          <span className="muted small" data-testid="health-updated">
            {h('updated', { age: formatAge(now - poll.loadedAt, lang) })}
          </span>
        )}
      </div>
      {unreachable && (
        <div className="health-unreachable" role="alert" data-testid="health-unreachable">
          <strong>{h('unreachable')}</strong>{' '}
          <span>{h('unreachableHint', { code: poll.error?.code ?? '', time: poll.loadedAt === undefined ? '—' : formatTimestamp(poll.loadedAt) })}</span>
        </div>
      )}
      {poll.error && !unreachable && (
        <p className="error" role="alert" data-testid="health-error">
          {poll.error.code === 'IIP_ERR_CONSOLE_LOAD' ? h('notReported') : h('failed')} <code>{poll.error.code}</code> {poll.error.code === 'IIP_ERR_CONSOLE_LOAD' ? '' : poll.error.message}
        </p>
      )}
      {!l && !poll.error && <p className="empty">{h('loading')}</p>}
      {l && (
        <>
          <p className="muted small">{h('intro', { seconds: l.windowSeconds, refresh: HEALTH_REFRESH_MS / 1000 })}</p>
          <div className="health-grid">
            <EventLoopPanel l={l} />
            <PubackPanel l={l} />
            <QueuesPanel l={l} />
            <MemoryPanel l={l} />
            <PointsPanel l={l} />
          </div>
        </>
      )}
    </main>
  );
}

function Figure({ id, label, value, level = 'none' }: { id: string; label: string; value: string; level?: Level }) {
  return (
    <div className="health-figure">
      <dt>{label}</dt>
      <dd data-testid={`health-${id}`} className={`level-${level}`} data-level={level}>
        {value}
      </dd>
    </div>
  );
}

function Panel({ id, title, hint, children }: { id: string; title: string; hint?: string; children: ReactNode }) {
  return (
    <section className="panel health-panel" data-testid={`health-panel-${id}`}>
      <h3>{title}</h3>
      {hint && <p className="muted small">{hint}</p>}
      <dl className="facts">{children}</dl>
    </section>
  );
}

function EventLoopPanel({ l }: { l: PlatformLoadReply }) {
  const { lang } = useI18n();
  const h = (key: HealthKey) => healthText(lang, key);
  const d = l.eventLoop.delayMs;
  return (
    <Panel id="event-loop" title={h('eventLoop.title')} hint={h('eventLoop.hint')}>
      <Figure id="loop-p50" label={h('eventLoop.p50')} value={formatMs(d.p50, lang)} level={latencyLevel(d.p50, LOOP_OK_MS, LOOP_BAD_MS)} />
      <Figure id="loop-p99" label={h('eventLoop.p99')} value={formatMs(d.p99, lang)} level={latencyLevel(d.p99, LOOP_OK_MS, LOOP_BAD_MS)} />
      <Figure id="loop-max" label={h('eventLoop.max')} value={formatMs(d.max, lang)} level={latencyLevel(d.max, LOOP_OK_MS, LOOP_BAD_MS)} />
      <Figure id="loop-utilization" label={h('eventLoop.utilization')} value={formatRatio(l.eventLoop.utilization, lang)} />
    </Panel>
  );
}

function PubackPanel({ l }: { l: PlatformLoadReply }) {
  const { lang } = useI18n();
  const h = (key: HealthKey) => healthText(lang, key);
  const p = l.mqtt.pubackLatencyMs;
  const fig = (id: 'p50' | 'p90' | 'p99' | 'max') => {
    const v = p[id] ?? null;
    return <Figure key={id} id={`puback-${id}`} label={h(`puback.${id}`)} value={formatMs(v, lang)} level={latencyLevel(v, PUBACK_OK_MS, PUBACK_BAD_MS)} />;
  };
  return (
    <Panel id="puback" title={h('puback.title')} hint={h('puback.hint')}>
      {(['p50', 'p90', 'p99', 'max'] as const).map(fig)}
      <Figure id="puback-samples" label={h('puback.samples')} value={p.samples === 0 ? h('puback.none') : formatCount(p.samples, lang)} />
      <Figure id="mqtt-connections" label={h('mqtt.connections')} value={formatCount(l.mqtt.connections, lang)} />
      <Figure id="mqtt-received" label={h('mqtt.received')} value={formatCount(l.mqtt.publishesReceived, lang)} />
      <Figure id="mqtt-acked" label={h('mqtt.acked')} value={formatCount(l.mqtt.pubacksSent, lang)} />
      <Figure id="mqtt-server" label={h('mqtt.server')} value={l.mqtt.server} />
    </Panel>
  );
}

function QueuesPanel({ l }: { l: PlatformLoadReply }) {
  const { lang } = useI18n();
  const h = (key: HealthKey) => healthText(lang, key);
  const q = l.queues;
  return (
    <Panel id="queues" title={h('queues.title')} hint={h('queues.hint')}>
      <Figure id="queue-historian" label={h('queues.historian')} value={formatCount(q.historianPoints, lang)} />
      <Figure id="queue-inbound" label={h('queues.inbound')} value={formatCount(q.mqttInboundPending, lang)} />
      <Figure id="queue-paused" label={h('queues.paused')} value={formatCount(q.mqttPausedConnections, lang)} />
      <Figure id="queue-outbound" label={h('queues.outbound')} value={formatCount(q.mqttOutboundQueued, lang)} />
      <Figure id="queue-inflight" label={h('queues.inflight')} value={formatCount(q.mqttOutboundInflight, lang)} />
      <Figure id="queue-session-bytes" label={h('queues.sessionBytes')} value={formatSize(q.mqttSessionBytes, lang)} />
      <Figure id="queue-write-buffered" label={h('queues.writeBuffered')} value={formatSize(q.mqttWriteBufferedBytes, lang)} />
      <Figure id="queue-slow" label={h('queues.slow')} value={formatCount(q.mqttSlowConnections, lang)} level={q.mqttSlowConnections ? 'warn' : 'none'} />
      <Figure id="queue-live" label={h('queues.live')} value={formatCount(q.liveSubscribers, lang)} />
      <Figure id="queue-live-lagging" label={h('queues.liveLagging')} value={formatCount(q.liveLagging, lang)} level={q.liveLagging ? 'warn' : 'none'} />
      {q.mqttInboundPending === null && <p className="muted small">{h('queues.notApplicable')}</p>}
    </Panel>
  );
}

function MemoryPanel({ l }: { l: PlatformLoadReply }) {
  const { lang } = useI18n();
  const h = (key: HealthKey) => healthText(lang, key);
  const m = l.memory;
  return (
    <Panel id="memory" title={h('memory.title')}>
      <Figure id="memory-rss" label={h('memory.rss')} value={formatBytes(m.rssBytes, lang)} />
      <Figure id="memory-rss-peak" label={h('memory.rssPeak')} value={formatBytes(m.rssPeakBytes, lang)} />
      <Figure id="memory-heap-used" label={h('memory.heapUsed')} value={formatBytes(m.heapUsedBytes, lang)} />
      <Figure id="memory-heap-total" label={h('memory.heapTotal')} value={formatBytes(m.heapTotalBytes, lang)} />
      <Figure id="memory-external" label={h('memory.external')} value={formatBytes(m.externalBytes, lang)} />
      <Figure id="memory-array-buffers" label={h('memory.arrayBuffers')} value={formatBytes(m.arrayBuffersBytes, lang)} />
    </Panel>
  );
}

function PointsPanel({ l }: { l: PlatformLoadReply }) {
  const { lang } = useI18n();
  const h = (key: HealthKey) => healthText(lang, key);
  return (
    <Panel id="points" title={h('points.title')}>
      <Figure id="points-stored" label={h('points.stored')} value={formatCount(l.points.stored, lang)} />
      <Figure id="points-duplicates" label={h('points.duplicates')} value={formatCount(l.points.duplicates, lang)} />
      <Figure id="points-rejected" label={h('points.rejected')} value={formatCount(l.points.rejectedMessages, lang)} />
    </Panel>
  );
}
