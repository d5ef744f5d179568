/**
 * Alarm-management KPIs (issue 13, point 6), as ISA-18.2 and EEMUA 191 define them for judging an alarm system:
 * the alarm rate per 10 minutes and per day, the share of 10-minute periods in flood (more than 10 alarms), the
 * top-10 bad actors (the sources with the most alarms), chattering sources (3 or more alarms within a minute),
 * stale alarms (active for more than 24 hours) and the priority distribution. Computed from the activations in a
 * time range and the alarms open now. iip has no operator consoles: the rates are per tenant, which is one operator
 * position for a small plant — divide by the positions of a larger one.
 */

const TEN_MIN = 600_000;
const DAY = 86_400_000;

export interface Activation {
  readonly ts: number;
  readonly rule: string;
  readonly device: string;
  readonly severity: string;
}

export interface OpenAlarm {
  readonly id: string;
  readonly rule: string;
  readonly device: string;
  readonly severity: string;
  readonly activeSince: number | null;
}

export interface AlarmKpis {
  readonly from: number;
  readonly to: number;
  readonly activations: number;
  /** Mean and highest alarms per 10-minute period of the range. */
  readonly per10Min: { readonly mean: number; readonly max: number };
  /** Mean alarms per day of the range. */
  readonly perDay: number;
  /** Share (0–1) of the range's 10-minute periods with more than 10 alarms. */
  readonly floodShare: number;
  /** The sources with most alarms, most first: their count and their share of all alarms. */
  readonly topBadActors: ReadonlyArray<{ readonly rule: string; readonly device: string; readonly count: number; readonly share: number }>;
  /** Sources with 3 or more alarms within 60 s somewhere in the range, with their most in any minute. */
  readonly chattering: ReadonlyArray<{ readonly rule: string; readonly device: string; readonly maxPerMinute: number }>;
  /** Alarms active for more than 24 h now. */
  readonly stale: ReadonlyArray<{ readonly id: string; readonly rule: string; readonly device: string; readonly activeSince: number }>;
  /** Alarms of the range by severity, and the share of each. */
  readonly priorities: Readonly<Record<string, { readonly count: number; readonly share: number }>>;
  /** What the guidelines call acceptable, for comparison (ISA-18.2 / EEMUA 191). */
  readonly targets: { readonly per10Min: number; readonly perDay: number; readonly floodShare: number; readonly topTenShare: number };
}

const key = (a: { rule: string; device: string }) => `${a.rule}\u0000${a.device}`;

export function alarmKpis(activations: readonly Activation[], open: readonly OpenAlarm[], from: number, to: number, now: number): AlarmKpis {
  const inRange = activations.filter((a) => a.ts >= from && a.ts < to).sort((a, b) => a.ts - b.ts);
  const periods = Math.max(1, Math.ceil((to - from) / TEN_MIN));
  const perPeriod = new Map<number, number>();
  for (const a of inRange) {
    const p = Math.floor((a.ts - from) / TEN_MIN);
    perPeriod.set(p, (perPeriod.get(p) ?? 0) + 1);
  }
  const counts = [...perPeriod.values()];
  const n = inRange.length;

  const bySource = new Map<string, { rule: string; device: string; ts: number[] }>();
  for (const a of inRange) {
    const k = key(a);
    let s = bySource.get(k);
    if (!s) {
      s = { rule: a.rule, device: a.device, ts: [] };
      bySource.set(k, s);
    }
    s.ts.push(a.ts);
  }
  const sources = [...bySource.values()];
  const topBadActors = sources
    .map((s) => ({ rule: s.rule, device: s.device, count: s.ts.length, share: n === 0 ? 0 : s.ts.length / n }))
    .sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule) || a.device.localeCompare(b.device))
    .slice(0, 10);
  const chattering = [];
  for (const s of sources) {
    // Most alarms within any 60 s window (two pointers over the sorted times).
    let best = 0;
    for (let i = 0, j = 0; j < s.ts.length; j++) {
      while ((s.ts[j] as number) - (s.ts[i] as number) >= 60_000) i++;
      best = Math.max(best, j - i + 1);
    }
    if (best >= 3) chattering.push({ rule: s.rule, device: s.device, maxPerMinute: best });
  }
  chattering.sort((a, b) => b.maxPerMinute - a.maxPerMinute || a.rule.localeCompare(b.rule));

  const priorities: Record<string, { count: number; share: number }> = {};
  for (const a of inRange) priorities[a.severity] = { count: (priorities[a.severity]?.count ?? 0) + 1, share: 0 };
  for (const p of Object.values(priorities)) p.share = p.count / n;

  return {
    from,
    to,
    activations: n,
    per10Min: { mean: n / periods, max: counts.length ? Math.max(...counts) : 0 },
    perDay: n / Math.max((to - from) / DAY, 1 / 144),
    floodShare: counts.filter((c) => c > 10).length / periods,
    topBadActors,
    chattering,
    stale: open
      .filter((o) => o.activeSince !== null && now - o.activeSince > DAY)
      .map((o) => ({ id: o.id, rule: o.rule, device: o.device, activeSince: o.activeSince as number }))
      .sort((a, b) => a.activeSince - b.activeSince),
    priorities,
    // ISA-18.2 (Table 5) "very likely acceptable": about 1 per 10 min, 150 per day; flood under 1 % of the time;
    // EEMUA 191: the top 10 bad actors under 5 % … typically a few percent of the load.
    targets: { per10Min: 1, perDay: 150, floodShare: 0.01, topTenShare: 0.05 },
  };
}
