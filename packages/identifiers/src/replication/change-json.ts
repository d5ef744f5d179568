/**
 * The JSON form of transaction-log entries, as `GET /api/replication/changes` sends them: value data in
 * base64, everything else as is. One function each way, so the primary's route and the mirror's HTTP
 * source cannot drift apart.
 */
import type { HandleChange, StoredHandleValue } from '@iip/storage';
import { HandleError } from '../model/handle-error.js';
import { ResponseCode } from '../model/response-codes.js';

/** One page of the log: the changes and the source's newest seq (so a mirror knows how far behind it is). */
export interface ReplicationBatch {
  readonly changes: readonly HandleChange[];
  readonly lastSeq: number;
}

export interface ReplicationBatchJson {
  readonly changes: readonly unknown[];
  readonly lastSeq: number;
}

function valueToJson(v: StoredHandleValue): Record<string, unknown> {
  return { ...v, data: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64') };
}

export function batchToJson(batch: ReplicationBatch): ReplicationBatchJson {
  return {
    lastSeq: batch.lastSeq,
    changes: batch.changes.map((c) => (c.op === 'put' ? { ...c, record: { handle: c.record.handle, values: c.record.values.map(valueToJson) } } : c)),
  };
}

function malformed(why: string): HandleError {
  return new HandleError(ResponseCode.PROTOCOL_ERROR, `Replication feed: ${why}`, { why });
}

/** Parses a feed page; a malformed one throws rather than half-applying. Values are trusted as the primary validated them. */
export function batchFromJson(input: unknown): ReplicationBatch {
  const b = input as { changes?: unknown; lastSeq?: unknown } | null;
  if (!b || !Array.isArray(b.changes) || typeof b.lastSeq !== 'number') throw malformed('expected { changes: [], lastSeq }.');
  let prev = 0;
  const changes = b.changes.map((raw): HandleChange => {
    const c = raw as Record<string, unknown>;
    if (typeof c.seq !== 'number' || !Number.isInteger(c.seq) || c.seq <= prev) throw malformed('seq numbers must be integers in increasing order.');
    prev = c.seq;
    if (typeof c.at !== 'number') throw malformed(`change ${c.seq} has no time.`);
    const base = { seq: c.seq, at: c.at };
    switch (c.op) {
      case 'put': {
        const rec = c.record as { handle?: unknown; values?: unknown } | undefined;
        if (typeof c.key !== 'string' || !rec || typeof rec.handle !== 'string' || !Array.isArray(rec.values)) throw malformed(`put ${c.seq} is malformed.`);
        const values = rec.values.map((v: Record<string, unknown>) => {
          if (typeof v.data !== 'string') throw malformed(`put ${c.seq} has a value without base64 data.`);
          return { ...(v as unknown as StoredHandleValue), data: new Uint8Array(Buffer.from(v.data, 'base64')) };
        });
        return { ...base, op: 'put', key: c.key, record: { handle: rec.handle, values } };
      }
      case 'delete':
        if (typeof c.key !== 'string') throw malformed(`delete ${c.seq} has no key.`);
        return { ...base, op: 'delete', key: c.key };
      case 'home':
      case 'unhome':
        if (typeof c.prefix !== 'string') throw malformed(`${c.op} ${c.seq} has no prefix.`);
        return { ...base, op: c.op, prefix: c.prefix };
      case 'template-put': {
        const t = c.template as { id?: unknown; document?: unknown } | undefined;
        if (!t || typeof t.id !== 'string' || typeof t.document !== 'object' || t.document === null) throw malformed(`template-put ${c.seq} is malformed.`);
        return { ...base, op: 'template-put', template: { id: t.id, document: t.document as Record<string, unknown> } };
      }
      case 'template-delete':
        if (typeof c.id !== 'string') throw malformed(`template-delete ${c.seq} has no id.`);
        return { ...base, op: 'template-delete', id: c.id };
      default:
        throw malformed(`change ${c.seq} has unknown op ${String(c.op)}.`);
    }
  });
  return { changes, lastSeq: b.lastSeq };
}
