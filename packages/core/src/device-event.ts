/**
 * Device events (事件): what a device announces — "overheat", "door opened" — with the output values its thing
 * model defines for that event. Parsed and validated like telemetry, all or nothing: the first broken rule
 * throws an IipError naming the event and the output, and no event of that message may be stored.
 *
 * Accepted shapes (docs/reference/events.md):
 *   {"event": "overheat", "data": {"temperature": 91.5}}          server time
 *   {"event": "overheat", "ts": 1700000000000, "data": {…}}       device time (epoch ms or ISO-8601)
 *   [ {"event": …}, … ]                                            several events in one message
 * `data` may be left out when the event has no required output.
 */
import { IipError } from './errors.js';
import { type Check, compileCheck, DEFAULT_INGEST_LIMITS, type IngestLimits, parseTs, shapeError, utf8 } from './telemetry.js';
import type { ThingModel } from './thing-model.js';

export type EventLevel = 'info' | 'warn' | 'alert';

/** One validated event of a message. */
export interface ParsedEvent {
  /** The thing model's event id. */
  readonly event: string;
  readonly ts: number;
  /** The event's level in the thing model (default info). */
  readonly level: EventLevel;
  /** Output values by output id, as checked (numbers, strings, booleans). */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Events in one message, at most. */
export const MAX_EVENTS_PER_MESSAGE = 1_000;

interface CompiledEvent {
  readonly level: EventLevel;
  readonly outputs: ReadonlyMap<string, Check>;
  readonly required: readonly string[];
}

/** A thing model's events compiled for validation. Build once per product version. */
export class EventValidator {
  private readonly events = new Map<string, CompiledEvent>();

  constructor(readonly model: ThingModel) {
    for (const e of model.events) {
      this.events.set(e.id, {
        level: e.level ?? 'info',
        outputs: new Map(e.outputs.map((o) => [o.id, compileCheck(o.dataType)])),
        required: e.outputs.filter((o) => o.required).map((o) => o.id),
      });
    }
  }

  /** Parses and validates one raw message; throws IipError on the first problem. */
  parse(raw: Uint8Array | string, now: number, limits: IngestLimits = DEFAULT_INGEST_LIMITS): ParsedEvent[] {
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
    if (size > limits.maxPayloadBytes) {
      throw new IipError('IIP_ERR_PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds the limit of ${limits.maxPayloadBytes}`, { size, limit: limits.maxPayloadBytes });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(typeof raw === 'string' ? raw : utf8.decode(raw));
    } catch (e) {
      throw new IipError('IIP_ERR_PAYLOAD_NOT_JSON', `payload is not valid JSON: ${(e as Error).message}`, {});
    }
    return this.validate(doc, now, limits);
  }

  /** Validates an already-parsed JSON document. */
  validate(doc: unknown, now: number, limits: IngestLimits = DEFAULT_INGEST_LIMITS): ParsedEvent[] {
    if (!Array.isArray(doc)) return [this.record(doc, '', now, limits)];
    if (doc.length === 0) shapeError('an empty batch carries no events', '');
    if (doc.length > MAX_EVENTS_PER_MESSAGE) {
      throw new IipError('IIP_ERR_PAYLOAD_TOO_MANY_POINTS', `message carries more than ${MAX_EVENTS_PER_MESSAGE} events`, { limit: MAX_EVENTS_PER_MESSAGE });
    }
    return doc.map((rec, i) => this.record(rec, `[${i}]`, now, limits));
  }

  private record(rec: unknown, path: string, now: number, limits: IngestLimits): ParsedEvent {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      shapeError(`expected an object {"event", "ts"?, "data"?}, got ${rec === null ? 'null' : Array.isArray(rec) ? 'an array' : typeof rec}`, path);
    }
    const r = rec as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'event' && k !== 'ts' && k !== 'data') shapeError(`unexpected key "${k}" (an event has "event", "ts" and "data")`, path);
    if (typeof r.event !== 'string') shapeError('"event" must be the id of an event of the thing model', path);
    const id = r.event;
    const spec = this.events.get(id);
    if (!spec) {
      throw new IipError('IIP_ERR_EVENT_UNKNOWN', `event "${id}" is not in the thing model`, { event: id, path, known: [...this.events.keys()] });
    }
    const ts = r.ts === undefined ? now : parseTs(r.ts, path, now, limits);
    if (r.data !== undefined && (r.data === null || typeof r.data !== 'object' || Array.isArray(r.data))) shapeError('"data" must be an object of output values', path);
    const given = (r.data ?? {}) as Record<string, unknown>;
    const data: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(given)) {
      const check = spec.outputs.get(key);
      if (!check) {
        throw new IipError('IIP_ERR_EVENT_UNKNOWN_OUTPUT', `event "${id}" has no output "${key}"`, { event: id, output: key, path, known: [...spec.outputs.keys()] });
      }
      data[key] = check(value, `${id}.${key}`);
    }
    for (const req of spec.required) {
      if (!Object.hasOwn(given, req)) throw new IipError('IIP_ERR_EVENT_OUTPUT_MISSING', `event "${id}" needs output "${req}"`, { event: id, output: req, path });
    }
    return { event: id, ts, level: spec.level, data };
  }
}
