/**
 * Batch payloads for the load driver: exactly N points per message laid out as records of up to one
 * value per property, each record one millisecond after the previous one of the same device, so no two
 * points of a device ever share (property, ts) and a historian must store every one of them.
 */
import { IipError, type ThingModel } from '@iip/core';

export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

/** Value ranges for the chosen properties, from the thing model when given, else a neutral 0…100. */
export function rangesFor(propertyIds: readonly string[], model?: ThingModel): ValueRange[] {
  return propertyIds.map((id) => {
    if (!model) return { min: 0, max: 100 };
    const p = model.properties.find((q) => q.id === id);
    const dt = p?.dataType;
    if (dt?.type !== 'float') {
      throw new IipError('IIP_ERR_SIM_BAD_OPTION', `property "${id}" is not a float property of the given thing model`, {
        property: id,
      });
    }
    const min = dt.min ?? 0;
    const max = dt.max ?? min + 100;
    return { min, max };
  });
}

export class BatchBuilder {
  private readonly recordsPerMessage: number;

  constructor(
    private readonly propertyIds: readonly string[],
    private readonly ranges: readonly ValueRange[],
    private readonly pointsPerMessage: number,
  ) {
    this.recordsPerMessage = Math.ceil(pointsPerMessage / propertyIds.length);
  }

  /** Records (timestamps) each message uses. */
  get records(): number {
    return this.recordsPerMessage;
  }

  /**
   * Builds one message whose records carry timestamps firstTs, firstTs+1, …; a single record is sent as
   * the object shape, several as the batch array.
   */
  build(firstTs: number, seq: number): string {
    const n = this.propertyIds.length;
    const records: string[] = [];
    let left = this.pointsPerMessage;
    for (let r = 0; r < this.recordsPerMessage; r++) {
      const parts: string[] = [];
      for (let k = 0; k < n && left > 0; k++, left--) {
        const range = this.ranges[k]!;
        // a slow sine inside the middle 80 % of the range: plausible, compressible, never out of range
        const phase = Math.sin((seq * this.recordsPerMessage + r) * 0.01 + k);
        const v = range.min + (range.max - range.min) * (0.5 + 0.4 * phase);
        parts.push(`${JSON.stringify(this.propertyIds[k])}:${Math.round(v * 1000) / 1000}`);
      }
      records.push(`{"ts":${firstTs + r},"values":{${parts.join(',')}}}`);
    }
    return records.length === 1 ? records[0]! : `[${records.join(',')}]`;
  }
}
