/**
 * ECharts line chart of one property: the bucket average as a line over a shaded min–max band, plus the
 * live points that arrived after the trend was fetched; optionally shaded time spans and horizontal levels (the
 * rule backtest's would-be alarms and the rule's limit). Only the ECharts modules used here are imported, which
 * keeps the bundle a fraction of the full build.
 */
import { type LineSeriesOption, LineChart } from 'echarts/charts';
import {
  DataZoomComponent,
  type DataZoomComponentOption,
  GridComponent,
  type GridComponentOption,
  LegendComponent,
  type LegendComponentOption,
  MarkAreaComponent,
  type MarkAreaComponentOption,
  MarkLineComponent,
  type MarkLineComponentOption,
  TooltipComponent,
  type TooltipComponentOption,
} from 'echarts/components';
import { type ComposeOption, type EChartsType, init, use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';
import { useI18n } from '../i18n-context';
import type { TrendSeries } from '../trend-series';
import { formatNumber, formatTimestamp, withUnit } from '../value-format';

use([LineChart, GridComponent, TooltipComponent, DataZoomComponent, LegendComponent, MarkAreaComponent, MarkLineComponent, CanvasRenderer]);

type Option = ComposeOption<
  LineSeriesOption | GridComponentOption | TooltipComponentOption | DataZoomComponentOption | LegendComponentOption | MarkAreaComponentOption | MarkLineComponentOption
>;

/** The part of ECharts' tooltip callback parameters this chart reads. */
interface AxisParam {
  readonly seriesId?: string;
  readonly value?: unknown;
  readonly axisValue?: unknown;
  readonly marker?: unknown;
}

const AVG_COLOR = '#1f6feb';
const LIVE_COLOR = '#d9480f';
const SPAN_COLOR = '#cf222e';

/** A horizontal level across the chart, e.g. a rule's limit; `dashed` for a secondary one (where it clears). */
export interface TrendLevel {
  readonly value: number;
  readonly label: string;
  readonly dashed?: boolean;
}

/** Nothing extra: one shared empty list, so a chart without marks keeps the same props from render to render. */
const NONE: readonly never[] = [];

export interface TrendChartProps {
  readonly series: TrendSeries;
  readonly live: readonly [number, number][];
  readonly from: number;
  readonly to: number;
  readonly unit: string | undefined;
  readonly integer: boolean;
  /** Time spans to shade (where a backtested rule would have been active). */
  readonly spans?: ReadonlyArray<{ readonly from: number; readonly to: number }>;
  /** Horizontal levels; the value axis is widened to show them. */
  readonly levels?: readonly TrendLevel[];
  /** Stored history only (the backtest): no live series, and no legend entry promising one. */
  readonly historyOnly?: boolean;
}

export function TrendChart({ series, live, from, to, unit, integer, spans = NONE, levels = NONE, historyOnly = false }: TrendChartProps) {
  const { t, lang } = useI18n();
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | undefined>(undefined);

  useEffect(() => {
    if (!el.current) return;
    const c = init(el.current, undefined, { renderer: 'canvas' });
    chart.current = c;
    // The chart sits in a fluid layout; ECharts does not watch its container by itself.
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = undefined;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const fmt = (v: number) => withUnit(formatNumber(v, lang, integer ? 0 : undefined), unit);
    const num = (v: unknown): number | undefined => {
      const y = Array.isArray(v) ? v[1] : v;
      return typeof y === 'number' ? y : undefined;
    };
    const tooltipText = (raw: unknown): string => {
      const ps = (Array.isArray(raw) ? raw : [raw]) as AxisParam[];
      const first = ps[0];
      const x = first && Array.isArray(first.value) ? first.value[0] : first?.axisValue;
      const lines = typeof x === 'number' ? [formatTimestamp(x)] : [];
      let min: number | undefined;
      for (const p of ps) {
        const y = num(p.value);
        if (y === undefined) continue;
        if (p.seriesId === 'min') min = y;
        if (p.seriesId === 'avg') lines.push(`${t('trend.avg')}: ${fmt(y)}`);
        if (p.seriesId === 'live') lines.push(`${t('trend.live')}: ${fmt(y)}`);
      }
      for (const p of ps) {
        const y = num(p.value);
        if (p.seriesId === 'band' && y !== undefined && min !== undefined) {
          lines.push(`${t('trend.min')}: ${fmt(min)}`, `${t('trend.max')}: ${fmt(min + y)}`);
        }
      }
      return lines.join('<br/>');
    };
    const filled = series.avg.filter((p) => p[1] !== null).length;
    // A limit the values never reached is still the point of the picture: the value axis is widened to it.
    const lowest = Math.min(...levels.map((l) => l.value));
    const highest = Math.max(...levels.map((l) => l.value));
    const extent = (e: { min: number; max: number }) => {
      const lo = Number.isFinite(e.min) ? Math.min(e.min, lowest) : lowest;
      const hi = Number.isFinite(e.max) ? Math.max(e.max, highest) : highest;
      // Bounds on a round step (1, 2 or 5 × 10ⁿ, about five of them), as ECharts would choose, a little outside the values.
      const pad = (hi - lo) * 0.02 || Math.abs(hi) * 0.02 || 1;
      const raw = (hi - lo + 2 * pad) / 5;
      const mag = 10 ** Math.floor(Math.log10(raw));
      const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) ?? 10 * mag;
      return { min: Math.floor((lo - pad) / step) * step, max: Math.ceil((hi + pad) / step) * step };
    };
    const end = Math.max(to, live[live.length - 1]?.[0] ?? to);
    const option: Option = {
      animation: false,
      grid: { left: 64, right: 24, top: 36, bottom: 48 },
      legend: { top: 4, data: historyOnly ? [t('trend.avg'), t('trend.band')] : [t('trend.avg'), t('trend.band'), t('trend.live')] },
      tooltip: { trigger: 'axis', formatter: tooltipText },
      dataZoom: [{ type: 'inside', filterMode: 'none' }],
      // The window slides with the live points, so "15 min" keeps meaning the last 15 minutes.
      xAxis: { type: 'time', min: end - (to - from), max: end },
      yAxis: {
        type: 'value',
        scale: true,
        ...(levels.length > 0 && { min: (e: { min: number; max: number }) => extent(e).min, max: (e: { min: number; max: number }) => extent(e).max }),
        name: unit ?? '',
        axisLabel: { formatter: (v: number) => formatNumber(v, lang) },
      },
      series: [
        {
          id: 'min',
          name: t('trend.band'),
          type: 'line',
          data: series.min,
          stack: 'band',
          symbol: 'none',
          lineStyle: { opacity: 0 },
          // The lower edge only anchors the stacked band; it carries no legend entry or hover of its own.
          silent: true,
        },
        {
          id: 'band',
          name: t('trend.band'),
          type: 'line',
          data: series.band,
          stack: 'band',
          symbol: 'none',
          lineStyle: { opacity: 0 },
          areaStyle: { color: AVG_COLOR, opacity: 0.18 },
        },
        {
          id: 'avg',
          name: t('trend.avg'),
          type: 'line',
          data: series.avg,
          // With few buckets filled (a new device, a long window) a line has no length; dots keep it visible.
          symbol: 'circle',
          symbolSize: 4,
          showSymbol: filled < 20,
          lineStyle: { width: 2, color: AVG_COLOR },
          itemStyle: { color: AVG_COLOR },
          ...(spans.length > 0 && {
            markArea: { silent: true, itemStyle: { color: SPAN_COLOR, opacity: 0.12 }, data: spans.map((s) => [{ xAxis: s.from }, { xAxis: s.to }]) },
          }),
          ...(levels.length > 0 && {
            markLine: {
              silent: true,
              symbol: 'none',
              label: { formatter: '{b}', position: 'insideEndTop' },
              // The secondary level's label goes under its line, so two close levels (90 and 88) do not print over each other.
              data: levels.map((l) => ({
                name: l.label,
                yAxis: l.value,
                lineStyle: { color: SPAN_COLOR, type: l.dashed ? 'dashed' : 'solid', width: 1 },
                label: { position: l.dashed ? 'insideEndBottom' : 'insideEndTop' },
              })),
            },
          }),
        },
        {
          id: 'live',
          name: t('trend.live'),
          type: 'line',
          data: live.map((p) => [p[0], p[1]]),
          symbol: 'circle',
          symbolSize: 4,
          showSymbol: live.length < 200,
          lineStyle: { width: 1.5, color: LIVE_COLOR },
          itemStyle: { color: LIVE_COLOR },
        },
      ],
    };
    // notMerge: a new property or window replaces the whole picture rather than blending with the old one.
    c.setOption(option, { notMerge: true, lazyUpdate: true });
  }, [series, live, from, to, unit, integer, spans, levels, historyOnly, t, lang]);

  return <div ref={el} className="trend-chart" data-testid="trend-chart" />;
}
