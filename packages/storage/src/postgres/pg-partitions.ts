/**
 * The partitions of `raw`: one per UTC day, named raw_YYYYMMDD (raw_d<day> / raw_dm<day> for days outside years
 * 1970–9999, where <day> counts days since the epoch). They are created ahead (at open and by `ensureAhead`) and
 * on demand for whatever day a write touches — a write never fails because its partition is missing, however
 * far in the past or future its timestamps lie. Creation is serialised across processes by a transaction
 * advisory lock, so two writers needing the same new day do not race.
 *
 * Retention drops whole partitions: DETACH … CONCURRENTLY (no lock that blocks writers or readers of the other
 * partitions for longer than a moment) and then DROP of the detached table.
 */
import { LOCK_PARTITIONS, LOCK_RETENTION } from './pg-migrations.js';
import type { PgDb } from './pg-db.js';

export const DAY_MS = 86_400_000;
const DAY_MS_BIG = 86_400_000n;

/** The UTC day (days since 1970-01-01) holding `ts`. */
export function dayOf(ts: number): number {
  return Math.floor(ts / DAY_MS);
}

export function partitionName(day: number): string {
  const d = new Date(day * DAY_MS);
  const y = d.getUTCFullYear();
  if (Number.isFinite(y) && y >= 1970 && y <= 9999) {
    const p = (n: number) => String(n).padStart(2, '0');
    return `raw_${y}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
  }
  return day < 0 ? `raw_dm${-day}` : `raw_d${day}`;
}

export interface RawPartition {
  readonly name: string;
  /** Inclusive lower bound, epoch ms. */
  readonly from: number;
  /** Exclusive upper bound, epoch ms. */
  readonly to: number;
  /** A DETACH CONCURRENTLY that was interrupted; finished by the next retention run. */
  readonly detachPending: boolean;
}

export class RawPartitions {
  /** Days known to have a partition. Another process may drop one: a write then refreshes and retries. */
  private readonly known = new Set<number>();

  constructor(private readonly db: PgDb) {}

  /** The partitions in the catalog, oldest first. */
  async list(): Promise<RawPartition[]> {
    const rows = await this.db.rows<{ name: string; bound: string; pending: boolean }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS pending
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'raw'::regclass`,
    );
    const out: RawPartition[] = [];
    for (const r of rows) {
      const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(r.bound);
      if (!m) continue; // not a range partition of ours (e.g. a DEFAULT partition an operator added)
      out.push({ name: r.name, from: Number(m[1]), to: Number(m[2]), detachPending: r.pending });
    }
    return out.sort((a, b) => a.from - b.from);
  }

  /** Re-reads which days have a partition. */
  async refresh(): Promise<void> {
    const parts = await this.list();
    this.known.clear();
    for (const p of parts) {
      if (p.detachPending) continue;
      for (let d = Math.ceil(p.from / DAY_MS); (d + 1) * DAY_MS <= p.to; d++) this.known.add(d);
    }
  }

  /** Creates the partitions of `days` that do not exist yet. */
  async ensure(days: Iterable<number>): Promise<void> {
    const missing = [...new Set(days)].filter((d) => !this.known.has(d)).sort((a, b) => a - b);
    if (missing.length === 0) return;
    await this.db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_PARTITIONS]);
      for (const d of missing) {
        const from = BigInt(d) * DAY_MS_BIG;
        const to = from + DAY_MS_BIG;
        await c.query(`CREATE TABLE IF NOT EXISTS ${partitionName(d)} PARTITION OF raw FOR VALUES FROM (${from}) TO (${to})`);
      }
    });
    for (const d of missing) this.known.add(d);
  }

  /** Partitions for the day of `now` minus one up to `daysAhead` days after it. */
  async ensureAhead(now: number, daysAhead: number): Promise<void> {
    const today = dayOf(now);
    const days: number[] = [];
    for (let d = today - 1; d <= today + daysAhead; d++) days.push(d);
    await this.ensure(days);
  }

  /**
   * Drops every partition whose whole range lies before `cutoff` (epoch ms) and returns their names. Points in
   * the partition of `cutoff` itself are kept. Rollups and latest values are not touched: they outlive raw data.
   */
  async dropBefore(cutoff: number): Promise<string[]> {
    return this.db.withClient(async (c) => {
      await c.query('SELECT pg_advisory_lock($1)', [LOCK_RETENTION]);
      try {
        const dropped: string[] = [];
        for (const p of await this.list()) {
          if (p.to > cutoff) continue;
          // Outside any transaction block: DETACH CONCURRENTLY takes only a short-lived lock on raw.
          const how = p.detachPending ? 'FINALIZE' : 'CONCURRENTLY';
          await c.query(`ALTER TABLE raw DETACH PARTITION ${p.name} ${how}`);
          await c.query(`DROP TABLE ${p.name}`);
          for (let d = Math.ceil(p.from / DAY_MS); (d + 1) * DAY_MS <= p.to; d++) this.known.delete(d);
          dropped.push(p.name);
        }
        return dropped;
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [LOCK_RETENTION]).catch(() => undefined);
      }
    });
  }
}
