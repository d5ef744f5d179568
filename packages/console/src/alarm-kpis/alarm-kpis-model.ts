/**
 * The alarm KPI page, the part without React: GET /api/v1/alarms/kpis (packages/rules/src/kpis.ts,
 * docs/reference/alarms.md "Alarm-management KPIs"), the periods the page offers, how a figure compares with the
 * guideline's target, and how figures and shares are written. Pure, so it is unit-tested in Node.
 */
import { SEVERITIES, severityRank } from '../alarms/alarms-model';
import type { ApiClient } from '../api-client';
import type { Lang } from '../i18n-dictionary';
import { formatNumber } from '../value-format';

export const KPI_PERIODS = ['24h', '7d', '30d'] as const;
export type KpiPeriod = (typeof KPI_PERIODS)[number];
export const KPI_PERIOD_MS: Record<KpiPeriod, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

/** A source of alarms: one rule on one device (what ISA-18.2 calls a tag's alarm). */
export interface KpiSource {
  readonly rule: string;
  readonly device: string;
}

/** The reply of GET /alarms/kpis, as packages/rules/src/kpis.ts AlarmKpis. */
export interface AlarmKpis {
  readonly from: number;
  readonly to: number;
  readonly activations: number;
  readonly per10Min: { readonly mean: number; readonly max: number };
  readonly perDay: number;
  readonly floodShare: number;
  readonly topBadActors: ReadonlyArray<KpiSource & { readonly count: number; readonly share: number }>;
  readonly chattering: ReadonlyArray<KpiSource & { readonly maxPerMinute: number }>;
  readonly stale: ReadonlyArray<KpiSource & { readonly id: string; readonly activeSince: number }>;
  readonly priorities: Readonly<Record<string, { readonly count: number; readonly share: number }>>;
  readonly targets: { readonly per10Min: number; readonly perDay: number; readonly floodShare: number; readonly topTenShare: number };
}

export const kpisApi = {
  get(api: ApiClient, range: { from: number; to: number }): Promise<AlarmKpis> {
    const q = new URLSearchParams({ from: String(range.from), to: String(range.to) });
    return api.call('GET', `/alarms/kpis?${q}`);
  },
};

/** The period ending now: whole milliseconds, so the page and the platform mean the same range. */
export function periodRange(period: KpiPeriod, now: number): { from: number; to: number } {
  const to = Math.floor(now);
  return { from: to - KPI_PERIOD_MS[period], to };
}

export type KpiLevel = 'ok' | 'warn' | 'bad';

/**
 * An alarm rate against its target: at or under it is what ISA-18.2 calls "very likely acceptable"; up to twice
 * the target is its "maximum manageable" (2 per 10 min, 300 per day); more is an overloaded operator.
 */
export function rateLevel(value: number, target: number): KpiLevel {
  if (value <= target) return 'ok';
  return value <= 2 * target ? 'warn' : 'bad';
}

/**
 * A share with a ceiling (time in flood, the top ten's part of the load): under it is fine. The guidelines give no
 * "manageable" band for these, so anything over is flagged, and five times over is bad.
 */
export function shareLevel(value: number, target: number): KpiLevel {
  if (value <= target) return 'ok';
  return value <= 5 * target ? 'warn' : 'bad';
}

/** How much of all alarms the top ten bad actors made together (0–1). */
export function topTenShare(k: Pick<AlarmKpis, 'topBadActors'>): number {
  return Math.min(1, k.topBadActors.reduce((s, a) => s + a.share, 0));
}

/** A rate: two decimals below 10 (0.42 per 10 min means something), whole numbers above. */
export function formatRate(n: number, lang: Lang): string {
  if (n === 0) return '0';
  return formatNumber(n, lang, Math.abs(n) >= 10 ? 0 : 2);
}

/** A share (0–1) as a percentage: one decimal below 10 % (the flood target is 1 %), none above; "<0.1 %" rather than a misleading 0. */
export function formatShare(share: number, lang: Lang): string {
  const pct = share * 100;
  if (pct === 0) return '0%';
  if (pct < 0.1) return `<${formatNumber(0.1, lang, 1)}%`;
  return `${formatNumber(pct, lang, pct >= 10 ? 0 : 1)}%`;
}

export interface PriorityBar {
  readonly severity: string;
  readonly count: number;
  readonly share: number;
  /** Bar width, 0–100 (% of the widest bar's track: the share itself, so bars of two periods compare). */
  readonly width: number;
}

/**
 * One bar per severity, most severe first: the four the platform knows always (an empty one says "none" as
 * plainly as a long one says "many"), then any other the platform reports, by name.
 */
export function priorityBars(priorities: AlarmKpis['priorities']): PriorityBar[] {
  const names = new Set<string>([...SEVERITIES, ...Object.keys(priorities)]);
  return [...names]
    .sort((a, b) => severityRank(a) - severityRank(b) || a.localeCompare(b))
    .map((severity) => {
      const p = priorities[severity];
      const share = p?.share ?? 0;
      return { severity, count: p?.count ?? 0, share, width: Math.max(0, Math.min(100, share * 100)) };
    });
}

/** A per-day rate as a per-hour one (the guideline's "about 6 an hour" beside 150 a day). */
export function perHour(perDay: number): number {
  return perDay / 24;
}
