/**
 * The platform's own load (issue 20): how late the event loop runs, how long devices wait for their PUBACK,
 * what waits in the queues (historian, MQTT in and out, live stream) and how much memory the process holds.
 * One `PlatformLoad` per platform feeds `load` of GET /api/v1/status (`snapshot()`) and GET /metrics
 * (`metrics()`, the Prometheus text format through prom-client, with prom-client's default process metrics).
 *
 * Recent figures (percentiles, maxima, event-loop utilisation) cover a sliding window of the last 60 s kept in
 * six 10-second steps, so a figure covers between 50 and 60 s whoever reads it and however often — a scrape
 * does not reset anything, and Prometheus and the console can read side by side. Counters and the PUBACK
 * histogram are cumulative since start, as Prometheus expects.
 *
 * Costs: the MQTT front door reads the clock when a QoS 1 PUBLISH is read and when its PUBACK is written, and
 * `onPuback` records into a native HDR histogram and a fixed array of bucket counters (no allocation). The
 * event-loop delay comes from node's monitorEventLoopDelay (10 ms resolution): six monitors started together
 * share one timer phase and are reset in turn, one per step, so the one reset longest ago always holds the
 * window exactly. Everything else is counted when read.
 */
import { type IntervalHistogram, type RecordableHistogram, createHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { AdmissionStats, FrontDoorBacklog, FrontDoorQueueDepths, MqttAccessStats } from '@iip/device-access/platform';
import { type Metric, Registry, collectDefaultMetrics } from 'prom-client';
import type { LiveStreamStats } from './live-stream.js';

/** Steps of the sliding window, and their length. */
export const WINDOW_STEPS = 6;
export const STEP_MS = 10_000;
/** The window the recent figures cover, at most (at least one step less). */
export const WINDOW_SECONDS = (WINDOW_STEPS * STEP_MS) / 1000;
/** Resolution of the event-loop delay monitor: how often it asks the loop to run a timer. */
export const EVENT_LOOP_RESOLUTION_MS = 10;
/** Upper bounds of the PUBACK latency histogram's buckets (`le`), in seconds; +Inf follows. */
export const PUBACK_BUCKETS_SECONDS: readonly number[] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
/** The Content-Type of GET /metrics (Prometheus text exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** Percentiles of the window in milliseconds; null when the window holds no sample. */
export interface WindowPercentiles {
  readonly samples: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** `load` of GET /api/v1/status. */
export interface LoadSnapshot {
  /** When it was taken (Unix ms). */
  readonly measuredAt: number;
  /** The window the recent figures cover, at most (they cover at least 10 s less). */
  readonly windowSeconds: number;
  readonly eventLoop: {
    /** How late the loop ran a timer due every 10 ms (ms), over the window. */
    readonly delayMs: WindowPercentiles & { readonly mean: number | null };
    /** Share of the window the loop was busy (0–1). */
    readonly utilization: number;
  };
  readonly memory: {
    readonly rssBytes: number;
    /** The largest resident set since the process started. */
    readonly rssPeakBytes: number;
    readonly heapUsedBytes: number;
    readonly heapTotalBytes: number;
    readonly externalBytes: number;
    readonly arrayBuffersBytes: number;
  };
  readonly mqtt: {
    readonly server: 'iip' | 'aedes';
    readonly connections: number;
    /** PUBLISHes of authenticated clients since start (any QoS). */
    readonly publishesReceived: number;
    /** QoS 1 PUBACKs written since start. */
    readonly pubacksSent: number;
    /** From a QoS 1 PUBLISH being read to its PUBACK being written, over the window. */
    readonly pubackLatencyMs: WindowPercentiles;
  };
  /** What waits now. The MQTT figures are null under aedes, whose queues are its own. */
  readonly queues: {
    readonly historianPoints: number;
    readonly mqttInboundPending: number | null;
    readonly mqttPausedConnections: number | null;
    readonly mqttOutboundQueued: number | null;
    readonly mqttOutboundInflight: number | null;
    /** Payload and topic bytes held in MQTT session queues and in flight. */
    readonly mqttSessionBytes: number | null;
    /** Bytes waiting in the MQTT connections' socket write buffers. */
    readonly mqttWriteBufferedBytes: number | null;
    /** MQTT clients whose write buffer is past its cap now (slow consumers in their grace period). */
    readonly mqttSlowConnections: number | null;
    readonly liveSubscribers: number;
    /** Live-stream sockets past their buffer cap now, and the bytes the live sockets have not sent yet. */
    readonly liveLagging: number;
    readonly liveBufferedBytes: number;
  };
  /** Telemetry points since start (as `ingest` of the status counts them). */
  readonly points: { readonly stored: number; readonly duplicates: number; readonly rejectedMessages: number };
}

/** Where the figures come from (platform.ts), read at each snapshot. */
export interface LoadSources {
  readonly mqttServer: 'iip' | 'aedes';
  mqtt(): MqttAccessStats;
  mqttQueues(): FrontDoorQueueDepths | undefined;
  mqttBacklog(): FrontDoorBacklog | undefined;
  historian(): { readonly queued: number; readonly written: number };
  ingest(): AdmissionStats;
  live(): LiveStreamStats;
}

/** The PUBACK latencies: a ring of HDR histograms (µs) for the window, and cumulative bucket counters. */
class LatencyRecorder {
  private readonly steps: RecordableHistogram[] = Array.from({ length: WINDOW_STEPS }, () => createHistogram());
  private current = 0;
  private readonly boundsMs = PUBACK_BUCKETS_SECONDS.map((s) => s * 1000);
  /** Per bucket, not cumulative; the last one is +Inf. */
  readonly buckets = new Float64Array(PUBACK_BUCKETS_SECONDS.length + 1);
  count = 0;
  sumMs = 0;

  record(ms: number): void {
    const v = Math.max(ms, 0);
    (this.steps[this.current] as RecordableHistogram).record(Math.max(1, Math.round(v * 1000)));
    let i = 0;
    const bounds = this.boundsMs;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.count++;
    this.sumMs += v;
  }

  step(): void {
    this.current = (this.current + 1) % WINDOW_STEPS;
    (this.steps[this.current] as RecordableHistogram).reset();
  }

  window(): WindowPercentiles {
    const all = createHistogram();
    for (const h of this.steps) all.add(h);
    const n = all.count;
    if (n === 0) return { samples: 0, p50: null, p90: null, p99: null, max: null };
    const ms = (micros: number) => us(micros / 1000);
    return { samples: n, p50: ms(all.percentile(50)), p90: ms(all.percentile(90)), p99: ms(all.percentile(99)), max: ms(all.max) };
  }
}

/** The event-loop delay: WINDOW_STEPS monitors reset in turn (see the module comment), and a cumulative count and sum. */
class LoopDelay {
  private readonly monitors: IntervalHistogram[];
  private steps = 0;
  private doneCount = 0;
  private doneSumNs = 0;

  constructor() {
    this.monitors = Array.from({ length: WINDOW_STEPS }, () => monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS }));
    for (const m of this.monitors) m.enable();
  }

  step(): void {
    const i = this.steps % WINDOW_STEPS;
    const m = this.monitors[i] as IntervalHistogram;
    // Monitor 0 holds every sample once, step after step: the cumulative count and sum come from it.
    if (i === 0) {
      const [n, sum] = delayTotals(m);
      this.doneCount += n;
      this.doneSumNs += sum;
    }
    m.reset();
    this.steps++;
  }

  /** The monitor reset longest ago: it covers the window. */
  window(): WindowPercentiles & { mean: number | null } {
    const m = this.monitors[(this.steps + 1) % WINDOW_STEPS] as IntervalHistogram;
    if (m.count === 0) return { samples: 0, p50: null, p90: null, p99: null, max: null, mean: null };
    const ms = (ns: number) => us(Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS));
    return { samples: m.count, p50: ms(m.percentile(50)), p90: ms(m.percentile(90)), p99: ms(m.percentile(99)), max: ms(m.max), mean: ms(m.mean) };
  }

  /** Samples and their summed delay (seconds) since start. */
  totals(): { count: number; sumSeconds: number } {
    const [n, sum] = delayTotals(this.monitors[0] as IntervalHistogram);
    return { count: this.doneCount + n, sumSeconds: (this.doneSumNs + sum) / 1e9 };
  }

  close(): void {
    for (const m of this.monitors) m.disable();
  }
}

/** A monitor's samples and the sum of their delays (the interval less the resolution), in ns. */
function delayTotals(m: IntervalHistogram): [number, number] {
  const n = m.count;
  if (n === 0) return [0, 0];
  return [n, Math.max(0, (m.mean - EVENT_LOOP_RESOLUTION_MS * 1e6) * n)];
}

/** prom-client's default metrics (process_*, nodejs_*) describe the process: one registry per process. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    // Gauges named *_total break Prometheus's naming rule (promtool check metrics refuses them); the same
    // figures are in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources, by type.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

interface Sample {
  readonly value: number;
  readonly labels?: Record<string, string | number>;
  readonly metricName?: string;
}

/**
 * A family whose samples are worked out at scrape time from the snapshot (the PUBACK histogram from our own
 * counters, the event-loop summary from the window), in the shape prom-client's registry writes out.
 * prom-client's own Histogram would cost an allocation per observation on the hot path, and its Gauge cannot
 * leave out a figure that does not apply (the MQTT queues under aedes).
 */
function computedFamily(name: string, help: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', values: () => Sample[]): Metric {
  const family = { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset: () => {} };
  return family as unknown as Metric;
}

export class PlatformLoad {
  private readonly latency = new LatencyRecorder();
  private readonly delay = new LoopDelay();
  /** Event-loop utilisation marks, one per step (see LoopDelay for the indexing). */
  private readonly marks: ReturnType<typeof performance.eventLoopUtilization>[];
  private steps = 0;
  private readonly timer: NodeJS.Timeout;
  private sources: LoadSources | undefined;
  private readonly registry = new Registry();
  private readonly windowSeconds: number;
  /** The snapshot a scrape reads (taken once per scrape, for all families). */
  private scraped: LoadSnapshot | undefined;

  /** Give to the MQTT server: called per PUBACK with its latency in ms. */
  readonly onPuback = (latencyMs: number): void => this.latency.record(latencyMs);

  /** `stepMs`: the length of a window step (default 10 s; tests shorten it). */
  constructor(opts: { readonly stepMs?: number } = {}) {
    const start = performance.eventLoopUtilization();
    this.marks = Array.from({ length: WINDOW_STEPS }, () => start);
    this.windowSeconds = (WINDOW_STEPS * (opts.stepMs ?? STEP_MS)) / 1000;
    this.timer = setInterval(() => this.step(), opts.stepMs ?? STEP_MS);
    this.timer.unref();
    this.define();
  }

  /** The figures' sources, once the platform has made them. */
  bind(sources: LoadSources): void {
    this.sources = sources;
  }

  private step(): void {
    this.latency.step();
    this.delay.step();
    this.marks[this.steps % WINDOW_STEPS] = performance.eventLoopUtilization();
    this.steps++;
  }

  snapshot(): LoadSnapshot {
    const s = this.sources;
    const mem = process.memoryUsage();
    const mqtt = s?.mqtt();
    const queues = s?.mqttQueues();
    const backlog = s?.mqttBacklog();
    const live = s?.live();
    const ingest = s?.ingest();
    const since = this.marks[(this.steps + 1) % WINDOW_STEPS] as ReturnType<typeof performance.eventLoopUtilization>;
    return {
      measuredAt: Date.now(),
      windowSeconds: this.windowSeconds,
      eventLoop: { delayMs: this.delay.window(), utilization: Math.round(performance.eventLoopUtilization(since).utilization * 10_000) / 10_000 },
      memory: {
        rssBytes: mem.rss,
        rssPeakBytes: Math.max(mem.rss, process.resourceUsage().maxRSS * 1024),
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        externalBytes: mem.external,
        arrayBuffersBytes: mem.arrayBuffers,
      },
      mqtt: {
        server: s?.mqttServer ?? 'iip',
        connections: mqtt?.connectedDevices ?? 0,
        publishesReceived: mqtt?.publishesReceived ?? 0,
        pubacksSent: this.latency.count,
        pubackLatencyMs: this.latency.window(),
      },
      queues: {
        historianPoints: s?.historian().queued ?? 0,
        mqttInboundPending: queues?.inboundPending ?? null,
        mqttPausedConnections: queues?.pausedConnections ?? null,
        mqttOutboundQueued: queues?.outboundQueued ?? null,
        mqttOutboundInflight: queues?.outboundInflight ?? null,
        mqttSessionBytes: backlog?.sessionBytes ?? null,
        mqttWriteBufferedBytes: backlog?.writeBufferedBytes ?? null,
        mqttSlowConnections: backlog?.slowConnections ?? null,
        liveSubscribers: live?.sockets ?? 0,
        liveLagging: live?.lagging ?? 0,
        liveBufferedBytes: live?.bufferedBytes ?? 0,
      },
      points: { stored: ingest?.acceptedPoints ?? 0, duplicates: ingest?.duplicatePoints ?? 0, rejectedMessages: ingest?.rejectedMessages ?? 0 },
    };
  }

  /** GET /metrics: this platform's families and the process's, in the Prometheus text format. */
  async metrics(): Promise<string> {
    this.scraped = this.snapshot();
    try {
      return await Registry.merge([processMetrics(), this.registry]).metrics();
    } finally {
      this.scraped = undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.delay.close();
  }

  /** Every iip_* family; docs/reference/monitoring.md lists them. */
  private define(): void {
    const win = this.windowSeconds;
    const now = (): LoadSnapshot => this.scraped ?? this.snapshot();
    const family = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', samples: (l: LoadSnapshot) => Sample[]): void => {
      this.registry.registerMetric(computedFamily(name, help, type, () => samples(now())));
    };
    /** A figure that does not apply (null, undefined) leaves the family without a sample. */
    const gauge = (name: string, help: string, read: (l: LoadSnapshot) => number | null | undefined): void => {
      family(name, help, 'gauge', (l) => {
        const v = read(l);
        return v === null || v === undefined ? [] : [{ value: v }];
      });
    };
    const counter = (name: string, help: string, read: (l: LoadSnapshot) => number): void => family(name, help, 'counter', (l) => [{ value: read(l) }]);
    const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms * 1000) / 1e6);

    family('iip_event_loop_delay_seconds', `How late the event loop ran a timer due every ${EVENT_LOOP_RESOLUTION_MS} ms: quantiles over the last ${win} s, sum and count since start.`, 'summary', (l) => {
      const w = l.eventLoop.delayMs;
      const t = this.delay.totals();
      const q: Sample[] = [];
      if (w.samples > 0) for (const [quantile, v] of [[0.5, w.p50], [0.9, w.p90], [0.99, w.p99]] as const) q.push({ labels: { quantile }, value: seconds(v) ?? 0 });
      return [...q, { metricName: 'iip_event_loop_delay_seconds_sum', value: t.sumSeconds }, { metricName: 'iip_event_loop_delay_seconds_count', value: t.count }];
    });
    gauge('iip_event_loop_delay_max_seconds', `Longest event-loop delay over the last ${win} s.`, (l) => seconds(l.eventLoop.delayMs.max));
    gauge('iip_event_loop_utilization_ratio', `Share of the last ${win} s the event loop was busy (0 to 1).`, (l) => l.eventLoop.utilization);

    gauge('iip_memory_rss_bytes', 'Resident set size of the process.', (l) => l.memory.rssBytes);
    gauge('iip_memory_rss_peak_bytes', 'Largest resident set size since the process started.', (l) => l.memory.rssPeakBytes);
    gauge('iip_memory_heap_used_bytes', 'V8 heap in use.', (l) => l.memory.heapUsedBytes);
    gauge('iip_memory_heap_total_bytes', 'V8 heap reserved.', (l) => l.memory.heapTotalBytes);
    gauge('iip_memory_external_bytes', 'Memory of C++ objects bound to JavaScript objects (Buffers included).', (l) => l.memory.externalBytes);
    gauge('iip_memory_array_buffers_bytes', 'Memory of ArrayBuffers and Buffers.', (l) => l.memory.arrayBuffersBytes);

    gauge('iip_mqtt_connections', 'MQTT clients connected now.', (l) => l.mqtt.connections);
    gauge('iip_mqtt_sessions', 'MQTT sessions held (connected or kept for a client that comes back); iip MQTT server only.', () => this.sources?.mqtt().frontDoor?.sessions);
    counter('iip_mqtt_publishes_received_total', 'PUBLISHes of authenticated MQTT clients (any QoS, accepted or refused).', (l) => l.mqtt.publishesReceived);
    counter('iip_mqtt_pubacks_sent_total', 'QoS 1 PUBACKs written.', (l) => l.mqtt.pubacksSent);
    family('iip_mqtt_puback_latency_seconds', 'From a QoS 1 PUBLISH being read to its PUBACK being written, since start.', 'histogram', () => {
      const r = this.latency;
      const out: Sample[] = [];
      let cumulative = 0;
      PUBACK_BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += r.buckets[i] as number;
        out.push({ metricName: 'iip_mqtt_puback_latency_seconds_bucket', labels: { le }, value: cumulative });
      });
      cumulative += r.buckets[PUBACK_BUCKETS_SECONDS.length] as number;
      out.push({ metricName: 'iip_mqtt_puback_latency_seconds_bucket', labels: { le: '+Inf' }, value: cumulative });
      out.push({ metricName: 'iip_mqtt_puback_latency_seconds_sum', value: r.sumMs / 1000 });
      out.push({ metricName: 'iip_mqtt_puback_latency_seconds_count', value: cumulative });
      return out;
    });
    // The window's percentiles as gauges of their own (a `quantile` label belongs to summaries only), absent while
    // no PUBACK was written in the window.
    for (const p of ['p50', 'p90', 'p99'] as const) {
      gauge(`iip_mqtt_puback_latency_window_${p}_seconds`, `PUBACK latency, ${p.slice(1)}th percentile over the last ${win} s.`, (l) => seconds(l.mqtt.pubackLatencyMs[p]));
    }
    gauge('iip_mqtt_puback_latency_window_max_seconds', `Longest PUBACK latency over the last ${win} s.`, (l) => seconds(l.mqtt.pubackLatencyMs.max));
    gauge('iip_mqtt_inbound_pending_publishes', 'PUBLISHes read and not yet answered, over all MQTT connections.', (l) => l.queues.mqttInboundPending);
    gauge('iip_mqtt_paused_connections', 'MQTT connections whose reading is paused because too many of their PUBLISHes, or of the whole fleet, wait for an answer.', (l) => l.queues.mqttPausedConnections);
    counter('iip_mqtt_fleet_budget_pauses_total', 'Times reading from an MQTT connection paused because the PUBLISHes awaiting an answer over all connections reached the fleet-wide budget.', () => this.sources?.mqtt().frontDoor?.fleetBudgetPauses ?? 0);
    gauge('iip_mqtt_outbound_queued_messages', 'Messages to devices waiting in MQTT session queues.', (l) => l.queues.mqttOutboundQueued);
    gauge('iip_mqtt_outbound_inflight_messages', 'QoS 1 messages sent to devices and not yet acknowledged by them.', (l) => l.queues.mqttOutboundInflight);
    counter('iip_mqtt_outbound_dropped_messages_total', 'Messages to devices dropped because their session queue was full.', () => this.sources?.mqtt().frontDoor?.queuedDropped ?? 0);
    gauge('iip_mqtt_session_bytes', 'Payload and topic bytes held in MQTT session queues and in flight.', (l) => l.queues.mqttSessionBytes);
    gauge('iip_mqtt_write_buffered_bytes', 'Bytes waiting in the MQTT connections’ socket write buffers.', (l) => l.queues.mqttWriteBufferedBytes);
    gauge('iip_mqtt_slow_connections', 'MQTT clients whose write buffer is past its cap now (slow consumers in their grace period).', (l) => l.queues.mqttSlowConnections);
    counter('iip_mqtt_slow_consumer_disconnects_total', 'MQTT connections ended because their write buffer stayed past its cap beyond the grace period.', () => this.sources?.mqtt().frontDoor?.slowConsumerDisconnects ?? 0);
    counter('iip_mqtt_qos0_dropped_messages_total', 'QoS 0 messages not sent to a client whose write buffer was past its cap.', () => this.sources?.mqtt().frontDoor?.qos0Dropped ?? 0);

    gauge('iip_historian_queued_points', 'Telemetry points waiting to be committed by the historian.', (l) => l.queues.historianPoints);
    counter('iip_historian_written_points_total', 'Telemetry points the historian committed.', () => this.sources?.historian().written ?? 0);
    counter('iip_ingest_stored_points_total', 'Telemetry points stored (duplicates excluded).', (l) => l.points.stored);
    counter('iip_ingest_duplicate_points_total', 'Telemetry points already stored (re-deliveries), reported to their senders.', (l) => l.points.duplicates);
    family('iip_ingest_rejected_messages_total', 'Telemetry messages refused, by IIP_ERR_* code.', 'counter', () =>
      Object.entries(this.sources?.ingest().rejectedByCode ?? {}).map(([code, n]) => ({ labels: { code }, value: n })),
    );
    gauge('iip_live_subscribers', 'Live-stream (WebSocket) subscribers now.', (l) => l.queues.liveSubscribers);
    gauge('iip_live_lagging_subscribers', 'Live-stream sockets past their buffer cap now.', (l) => l.queues.liveLagging);
    gauge('iip_live_buffered_bytes', 'Bytes sent to live-stream sockets and not yet taken by the network.', (l) => l.queues.liveBufferedBytes);
    counter('iip_live_closed_lagging_total', 'Live-stream sockets closed for staying behind too long.', () => this.sources?.live().closedLagging ?? 0);
  }
}

/** Milliseconds to the microsecond. */
function us(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1000) / 1000;
}
