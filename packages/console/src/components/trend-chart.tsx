/**
 * ECharts line chart of one property: the bucket average as a line over a shaded min–max band, plus the
 * live points that arrived after the trend was fetched. Only the ECharts modules used here are imported,
 * which keeps the bundle a fraction of the full build.
 */
import { type LineSeriesOption, LineChart } from 'echarts/charts';
import {
  DataZoomComponent,
  type DataZoomComponentOption,
  GridComponent,
  type GridComponentOption,
  LegendComponent,
  type LegendComponentOption,
  TooltipComponent,
  type TooltipComponentOption,
} from 'echarts/components';
import { type ComposeOption, type EChartsType, init, use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';
import { useI18n } from '../i18n-context';
import type { TrendSeries } from '../trend-series';
import { formatNumber, formatTimestamp, withUnit } from '../value-format';

use([LineChart, GridComponent, TooltipComponent, DataZoomComponent, LegendComponent, CanvasRenderer]);

type Option = ComposeOption<
  LineSeriesOption | GridComponentOption | TooltipComponentOption | DataZoomComponentOption | LegendComponentOption
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

export interface TrendChartProps {
  readonly series: TrendSeries;
  readonly live: readonly [number, number][];
  readonly from: number;
  readonly to: number;
  readonly unit: string | undefined;
  readonly integer: boolean;
}

export function TrendChart({ series, live, from, to, unit, integer }: TrendChartProps) {
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
    const end = Math.max(to, live[live.length - 1]?.[0] ?? to);
    const option: Option = {
      animation: false,
      grid: { left: 64, right: 24, top: 36, bottom: 48 },
      legend: { top: 4, data: [t('trend.avg'), t('trend.band'), t('trend.live')] },
      tooltip: { trigger: 'axis', formatter: tooltipText },
      dataZoom: [{ type: 'inside', filterMode: 'none' }],
      // The window slides with the live points, so "15 min" keeps meaning the last 15 minutes.
      xAxis: { type: 'time', min: end - (to - from), max: end },
      yAxis: {
        type: 'value',
        scale: true,
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
  }, [series, live, from, to, unit, integer, t, lang]);

  return <div ref={el} className="trend-chart" data-testid="trend-chart" />;
}
