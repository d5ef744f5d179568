/**
 * In-memory aggregation of one write batch into (level, series, bucket) cells, so the database sees one
 * upsert per cell instead of one per point. Most batches arrive sorted by series or time, so the cell of
 * the previous point is remembered and reused without a map lookup.
 */

export interface RollupCell {
  min: number;
  max: number;
  sum: number;
  count: number;
}

class LevelCells {
  readonly bySeries = new Map<number, Map<number, RollupCell>>();
  private lastSeries = Number.NaN;
  private lastBucket = Number.NaN;
  private lastCell: RollupCell | undefined;

  constructor(readonly width: number) {}

  add(series: number, ts: number, v: number): void {
    const bucket = Math.floor(ts / this.width) * this.width;
    let cell: RollupCell | undefined;
    if (series === this.lastSeries && bucket === this.lastBucket) {
      cell = this.lastCell!;
    } else {
      let buckets = this.bySeries.get(series);
      if (!buckets) {
        buckets = new Map();
        this.bySeries.set(series, buckets);
      }
      cell = buckets.get(bucket);
      if (!cell) {
        cell = { min: v, max: v, sum: 0, count: 0 };
        buckets.set(bucket, cell);
      }
      this.lastSeries = series;
      this.lastBucket = bucket;
      this.lastCell = cell;
    }
    if (v < cell.min) cell.min = v;
    if (v > cell.max) cell.max = v;
    cell.sum += v;
    cell.count++;
  }
}

export class RollupAccumulator {
  private readonly levels: LevelCells[];

  constructor(widths: readonly number[]) {
    this.levels = widths.map((w) => new LevelCells(w));
  }

  add(series: number, ts: number, v: number): void {
    for (const l of this.levels) l.add(series, ts, v);
  }

  /** Visits every cell touched since construction. */
  forEach(visit: (level: number, series: number, bucket: number, cell: RollupCell) => void): void {
    for (const l of this.levels) {
      for (const [series, buckets] of l.bySeries) {
        for (const [bucket, cell] of buckets) visit(l.width, series, bucket, cell);
      }
    }
  }
}
