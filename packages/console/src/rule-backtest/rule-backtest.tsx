/**
 * 回测 / Backtest in the rule editor: the rule being typed, run over the last 24 hours or 7 days of stored history
 * (POST /rules/backtest) before anyone saves it — how many alarms it would have raised on which devices, and, for a
 * chosen device, the trend of the rule's property over the period (the device page's chart) with the spans the
 * alarm would have been active shaded, its limit drawn, and the raises and clears on a strip beneath. The Rules page
 * owns the editor and shows a refusal where Check shows one (its withDoc); this file owns the rest.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { type Problem, toProblem } from '../admin/admin-ui';
import { type BacktestReply, type RuleDoc, rulesApi } from '../alarms/alarms-model';
import type { ApiClient } from '../api-client';
import type { PropertySpec, TrendBucket } from '../api-types';
import type { TrendLevel } from '../components/trend-chart';
import { useI18n } from '../i18n-context';
import { routeHref } from '../route';
import { bucketSeries, TREND_BUCKETS } from '../trend-series';
import { formatDuration, formatNumber, formatTimestamp, unitOf } from '../value-format';
import { type BacktestKey, backtestText } from './rule-backtest-i18n';
import {
  activeSpans,
  BACKTEST_PERIODS,
  type BacktestPeriod,
  backtestCaveat,
  backtestRule,
  limitLines,
  momentX,
  periodRange,
  sortedResults,
  spanLayout,
  TRANSITIONS_SENT,
  trendProperties,
} from './rule-backtest-model';
import './rule-backtest.css';

// ECharts is most of the bundle: loaded with the first trend, as on the device page.
const TrendChart = lazy(() => import('../components/trend-chart').then((m) => ({ default: m.TrendChart })));

type B = (key: BacktestKey, params?: Readonly<Record<string, string | number>>) => string;

function useBacktestText(): B {
  const { lang } = useI18n();
  return useCallback((key, params) => backtestText(lang, key, params), [lang]);
}

/** A finished backtest with what the trend needs: the document run, the properties it reads and the product's model. */
interface BacktestRun {
  readonly period: BacktestPeriod;
  readonly doc: RuleDoc;
  readonly reply: BacktestReply;
  readonly reads: readonly string[] | undefined;
  readonly specs: readonly PropertySpec[];
}

export interface RuleBacktest {
  readonly period: BacktestPeriod;
  setPeriod(p: BacktestPeriod): void;
  readonly running: boolean;
  readonly run: BacktestRun | undefined;
  /** Runs the document; a refusal is thrown for the caller to show (the Rules page shows it where Check's goes). */
  start(doc: Readonly<Record<string, unknown>>): Promise<void>;
  clear(): void;
}

export function useRuleBacktest(api: ApiClient): RuleBacktest {
  const [period, setPeriod] = useState<BacktestPeriod>('24h');
  const [running, setRunning] = useState(false);
  const [run, setRun] = useState<BacktestRun | undefined>();
  const start = useCallback(
    async (raw: Readonly<Record<string, unknown>>) => {
      const rule = backtestRule(raw);
      setRun(undefined);
      setRunning(true);
      try {
        const reply = await rulesApi.backtest(api, rule, periodRange(period, Date.now()));
        // For the trend only, so neither may fail the backtest: the properties the rule reads (an expression names
        // them only in its text) and the product's model (units, which properties have a trend).
        // The platform compiled it without a refusal, so it has the shape of a rule.
        const doc = rule as unknown as RuleDoc;
        const [reads, products] = await Promise.all([rulesApi.validate(api, rule).then((r) => r.properties, () => undefined), api.products().catch(() => [])]);
        const specs = products.find((p) => p.id === doc.scope?.product)?.model.properties ?? [];
        setRun({ period, doc, reply, reads, specs });
      } finally {
        setRunning(false);
      }
    },
    [api, period],
  );
  const clear = useCallback(() => setRun(undefined), []);
  return { period, setPeriod, running, run, start, clear };
}

/** The Backtest button and its period, beside Check. */
export function BacktestControls({ backtest, disabled, onRun }: { backtest: RuleBacktest; disabled: boolean; onRun: () => void }) {
  const b = useBacktestText();
  return (
    <span className="backtest-controls">
      <button type="button" disabled={disabled || backtest.running} data-testid="rule-backtest" title={b('button.title')} onClick={onRun}>
        {b('button')}
      </button>
      <fieldset className="segmented backtest-period" data-testid="backtest-period">
        <legend className="muted small">{b('period.label')}</legend>
        {BACKTEST_PERIODS.map((p) => (
          <button
            key={p}
            type="button"
            data-testid={`backtest-period-${p}`}
            className={p === backtest.period ? 'on' : ''}
            aria-pressed={p === backtest.period}
            onClick={() => backtest.setPeriod(p)}
          >
            {b(`period.${p}`)}
          </button>
        ))}
      </fieldset>
    </span>
  );
}

/** What the backtest found, under the editor. */
export function BacktestResult({ api, backtest }: { api: ApiClient; backtest: RuleBacktest }) {
  const b = useBacktestText();
  const { lang } = useI18n();
  const run = backtest.run;
  const results = useMemo(() => sortedResults(run?.reply.results ?? []), [run]);
  const [picked, setPicked] = useState<string | undefined>();
  if (backtest.running) {
    return (
      <p className="muted small" data-testid="backtest-running">
        {b('running')}
      </p>
    );
  }
  if (!run) return null;
  const { reply, doc } = run;
  const device = results.find((r) => r.device === picked) ?? results[0];
  const caveat = backtestCaveat(doc);
  return (
    <section className="rule-backtest" data-testid="backtest-result" data-alarms={reply.alarms} data-devices={reply.devices} data-truncated={reply.truncated}>
      <div className="backtest-head">
        <h4>{b('title', { period: b(`period.${run.period}`) })}</h4>
        <span className="muted small mono">{b('range', { from: formatTimestamp(reply.from), to: formatTimestamp(reply.to) })}</span>
      </div>
      <p data-testid="backtest-summary" data-alarms={reply.alarms} data-devices={reply.devices}>
        {b('summary', { devices: formatNumber(reply.devices, lang, 0), alarms: formatNumber(reply.alarms, lang, 0) })}
      </p>
      {reply.truncated && (
        <p className="notice small" data-testid="backtest-truncated">
          {b('truncated')}
        </p>
      )}
      {caveat && (
        <p className="notice small" data-testid="backtest-caveat" data-caveat={caveat}>
          {b(`caveat.${caveat}`)}
        </p>
      )}
      {results.length === 0 ? (
        <p className="muted" data-testid="backtest-no-devices">
          {b('noDevices', { product: doc.scope?.product ?? '?' })}
        </p>
      ) : (
        <>
          <table className="grid compact backtest-devices" data-testid="backtest-devices">
            <thead>
              <tr>
                <th>{b('col.device')}</th>
                <th className="num">{b('col.alarms')}</th>
                <th className="num">{b('col.active')}</th>
                <th>{b('col.atEnd')}</th>
                <th className="num">{b('col.samples')}</th>
              </tr>
            </thead>
            <tbody>
              {results.map((r) => (
                <tr
                  key={r.device}
                  className={`clickable${r === device ? ' selected' : ''}`}
                  data-testid="backtest-device-row"
                  data-device={r.device}
                  data-alarms={r.alarms}
                  onClick={() => setPicked(r.device)}
                >
                  <td className="mono">{r.device}</td>
                  <td className="num mono">{formatNumber(r.alarms, lang, 0)}</td>
                  <td className="num nowrap">{r.activeMs > 0 ? formatDuration(r.activeMs, lang) : '—'}</td>
                  <td>{r.activeAtEnd ? b('yes') : b('no')}</td>
                  <td className="num mono">{formatNumber(r.samples, lang, 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {results.length > 1 && <p className="muted small">{b('pickHint')}</p>}
          {device && <BacktestTrend key={device.device} api={api} run={run} device={device.device} />}
        </>
      )}
    </section>
  );
}

function BacktestTrend({ api, run, device }: { api: ApiClient; run: BacktestRun; device: string }) {
  const b = useBacktestText();
  const { lang } = useI18n();
  const { reply, doc } = run;
  const result = reply.results.find((r) => r.device === device);
  const candidates = useMemo(() => trendProperties(doc, run.reads, run.specs), [doc, run.reads, run.specs]);
  const [picked, setPicked] = useState<string | undefined>();
  const property = candidates.find((p) => p === picked) ?? candidates[0];
  const spec = run.specs.find((p) => p.id === property);
  const [trend, setTrend] = useState<{ property: string; buckets: TrendBucket[] } | undefined>();
  const [error, setError] = useState<Problem | undefined>();

  useEffect(() => {
    if (!property) return;
    let cancelled = false;
    setTrend(undefined);
    setError(undefined);
    api.trend(device, property, reply.from, reply.to, TREND_BUCKETS).then(
      (buckets) => {
        if (!cancelled) setTrend({ property, buckets });
      },
      (e: unknown) => {
        if (!cancelled) {
          setTrend({ property, buckets: [] });
          setError(toProblem(e));
        }
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, device, property, reply.from, reply.to]);

  const spans = useMemo(() => activeSpans(result?.transitions ?? [], reply.from, reply.to), [result, reply.from, reply.to]);
  const series = useMemo(() => bucketSeries(trend?.buckets ?? []), [trend]);
  const unit = spec ? unitOf(spec.dataType) : undefined;
  const levels = useMemo<TrendLevel[]>(
    () =>
      limitLines(doc).map((l) => {
        const value = formatNumber(l.value, lang);
        return { value: l.value, label: b(l.kind === 'limit' ? 'trend.limit' : 'trend.clear', { value }), dashed: l.kind === 'clear' };
      }),
    [doc, lang, b],
  );

  if (!result) return null;
  if (!property) {
    return (
      <p className="muted small" data-testid="backtest-trend-none">
        {b('trend.none')}
      </p>
    );
  }
  return (
    <div className="backtest-trend" data-testid="backtest-trend" data-device={device} data-property={property}>
      <div className="trend-head">
        <h4>
          {b('trend.title', { property: spec?.name ?? property, device })}{' '}
          <a className="small" href={routeHref({ kind: 'device', id: device })}>
            ↗
          </a>
        </h4>
        <span className="spacer" />
        {candidates.length > 1 && (
          <label className="small">
            {b('trend.property')}{' '}
            <select data-testid="backtest-property" value={property} onChange={(e) => setPicked(e.target.value)}>
              {candidates.map((p) => (
                <option key={p} value={p}>
                  {run.specs.find((s) => s.id === p)?.name ?? p}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {error && (
        <p className="error small" role="alert" data-testid="backtest-trend-error" data-code={error.code}>
          <code>{error.code}</code> {b('trend.error', { message: error.message })}
        </p>
      )}
      {!trend && <p className="muted small">{b('trend.loading')}</p>}
      <Suspense fallback={<div className="trend-chart" />}>
        <TrendChart
          series={series}
          live={NO_LIVE}
          from={reply.from}
          to={reply.to}
          unit={unit}
          integer={spec ? spec.dataType.type !== 'float' : false}
          spans={spans}
          levels={levels}
          historyOnly
        />
      </Suspense>
      <Timeline device={device} from={reply.from} to={reply.to} spans={spans} transitions={result.transitions} />
      <p className="muted small">
        {b('trend.legend')}
        {result.transitions.length >= TRANSITIONS_SENT && <> {b('trend.cut', { n: formatNumber(TRANSITIONS_SENT, lang, 0) })}</>}
      </p>
    </div>
  );
}

/** A backtest has no live points; one shared empty list keeps the chart from redrawing for a new [] each render. */
const NO_LIVE: readonly [number, number][] = [];

/** Width of the strip's viewBox: the strip is stretched to the chart's plot width, so this is only the resolution. */
const STRIP_W = 1000;
const STRIP_H = 24;

/**
 * The would-be alarm as a strip under the chart, on the same time axis (the wrapper's padding matches the chart's
 * grid): active spans shaded, raises and clears as ticks. Plain SVG, so each span is an element a test (or a
 * screen reader, by its title) can find, which the chart's canvas is not.
 */
function Timeline({
  device,
  from,
  to,
  spans,
  transitions,
}: {
  device: string;
  from: number;
  to: number;
  spans: ReturnType<typeof activeSpans>;
  transitions: BacktestReply['results'][number]['transitions'];
}) {
  const b = useBacktestText();
  const { lang } = useI18n();
  const layout = spanLayout(spans, from, to, STRIP_W);
  return (
    <div className="backtest-strip">
      <svg
        className="backtest-timeline"
        data-testid="backtest-timeline"
        data-spans={spans.length}
        viewBox={`0 0 ${STRIP_W} ${STRIP_H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={b('timeline.label', { device, spans: spans.length })}
      >
        <rect className="track" x={0} y={0} width={STRIP_W} height={STRIP_H} />
        {layout.map(({ x, w, span }) => (
          <rect key={`${span.from}-${span.to}`} className={`span${span.open ? ' open' : ''}`} data-testid="backtest-span" data-from={span.from} data-to={span.to} x={x} y={3} width={w} height={STRIP_H - 6}>
            <title>
              {span.open
                ? b('span.open', { from: formatTimestamp(span.from) })
                : b('span.title', { from: formatTimestamp(span.from), to: formatTimestamp(span.to), duration: formatDuration(span.to - span.from, lang) })}
            </title>
          </rect>
        ))}
        {transitions.map((tr, i) => {
          const x = momentX(tr.ts, from, to, STRIP_W);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: a raise and a clear can share a timestamp; the order is the identity
            <line key={i} className={tr.kind} data-testid={`backtest-${tr.kind}`} data-ts={tr.ts} x1={x} x2={x} y1={0} y2={STRIP_H} vectorEffect="non-scaling-stroke">
              <title>{b(tr.kind === 'raise' ? 'moment.raise' : 'moment.clear', { time: formatTimestamp(tr.ts) })}</title>
            </line>
          );
        })}
      </svg>
      <div className="backtest-strip-axis muted small mono">
        <span>{formatTimestamp(from)}</span>
        <span>{formatTimestamp(to)}</span>
      </div>
    </div>
  );
}
