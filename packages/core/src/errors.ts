/**
 * Errors are a contract: every failure the platform reports carries a stable `IIP_ERR_*` code, defined once
 * here (or in a package's own `errors.ts` through `defineErrors`), listed in docs/reference/errors.md, and
 * checked by a test so that code, docs and types cannot drift apart. A retired code is never reused.
 */

export interface ErrorSpec {
  /** HTTP status the API answers with. */
  readonly status: number;
  /** One line: what went wrong. */
  readonly meaning: string;
  /** One line: how the caller fixes it. */
  readonly fix: string;
}

export type ErrorTable = Readonly<Record<`IIP_ERR_${string}`, ErrorSpec>>;

const registry = new Map<string, ErrorSpec>();

/** Registers a package's error table; a code defined twice is a programming error. */
export function defineErrors<T extends ErrorTable>(table: T): T {
  for (const [code, spec] of Object.entries(table)) {
    const prev = registry.get(code);
    if (prev && prev !== spec) throw new Error(`error code ${code} defined twice`);
    registry.set(code, spec);
  }
  return table;
}

/** Every code registered so far (the docs test imports all packages first). */
export function allErrorCodes(): ReadonlyMap<string, ErrorSpec> {
  return registry;
}

export class IipError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'IipError';
    this.code = code;
    this.status = registry.get(code)?.status ?? 500;
    this.details = details;
  }
  toJSON(): { code: string; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isIipError(e: unknown): e is IipError {
  return e instanceof IipError;
}

export const CORE_ERRORS = defineErrors({
  IIP_ERR_PAYLOAD_NOT_JSON: {
    status: 400,
    meaning: 'The message body is not valid UTF-8 JSON.',
    fix: 'Send a JSON object or array; see docs/reference/telemetry.md for the payload shapes.',
  },
  IIP_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: 'The message is larger than the configured maximum payload size.',
    fix: 'Split the batch into several messages or raise `ingest.maxPayloadBytes`.',
  },
  IIP_ERR_PAYLOAD_SHAPE: {
    status: 400,
    meaning: 'The JSON is well formed but not one of the accepted telemetry shapes.',
    fix: 'Send {"ts"?, "values": {...}}, a flat {"prop": value}, or an array of those.',
  },
  IIP_ERR_PAYLOAD_TOO_MANY_POINTS: {
    status: 413,
    meaning: 'The message carries more points than the per-message limit.',
    fix: 'Split the batch or raise `ingest.maxPointsPerMessage`.',
  },
  IIP_ERR_EVENT_UNKNOWN: {
    status: 422,
    meaning: "A device event names an event that is not in the device's thing model (details.known lists those that are).",
    fix: "Add the event to the product's thing model, or correct the event id the device sends.",
  },
  IIP_ERR_EVENT_UNKNOWN_OUTPUT: {
    status: 422,
    meaning: "A device event carries an output value the thing model's event does not define (details.output).",
    fix: 'Add the output to the event in the thing model, or leave it out of the message.',
  },
  IIP_ERR_EVENT_OUTPUT_MISSING: {
    status: 422,
    meaning: 'A device event lacks an output its thing model marks as required (details.output).',
    fix: 'Send every required output in "data", or make the output optional in the thing model.',
  },
  IIP_ERR_ALARM_NOT_ACKABLE: {
    status: 409,
    meaning: 'The alarm does not need acknowledging: it is normal, or already acknowledged (details.state gives its ISA-18.2 state).',
    fix: 'Reload the alarm; only an unacknowledged, returned-unacknowledged or latched alarm can be acknowledged. See docs/reference/alarms.md.',
  },
  IIP_ERR_ALARM_NOT_ACTIVE: {
    status: 409,
    meaning: 'One-shot shelving was asked for an alarm that is not active; one-shot shelving lasts until the alarm returns to normal, so it needs an active alarm.',
    fix: 'Use timed shelving (a duration) for an alarm that is normal now, e.g. a chattering one.',
  },
  IIP_ERR_ALARM_ALREADY_SHELVED: {
    status: 409,
    meaning: 'The alarm is already one-shot shelved.',
    fix: 'Nothing to do; to shelve it for a fixed time instead, shelve it with a duration.',
  },
  IIP_ERR_ALARM_NOT_SHELVED: {
    status: 409,
    meaning: 'Unshelve was asked for an alarm that is not shelved (its timed shelving may just have expired).',
    fix: 'Reload the alarm; nothing to do.',
  },
  IIP_ERR_ALARM_SHELVE_DURATION: {
    status: 422,
    meaning: 'The shelving duration is not a positive number of milliseconds or exceeds the maximum shelving time (details.maxMs).',
    fix: 'Shelve for a shorter time (at most details.maxMs); shelve again when it expires if you must.',
  },
  IIP_ERR_ALARM_OUT_OF_SERVICE: {
    status: 409,
    meaning: 'The alarm is out of service: it cannot be shelved or removed from service again.',
    fix: 'Return the alarm to service first.',
  },
  IIP_ERR_ALARM_IN_SERVICE: {
    status: 409,
    meaning: 'Return to service was asked for an alarm that is in service.',
    fix: 'Reload the alarm; nothing to do.',
  },
  IIP_ERR_TELEMETRY_UNKNOWN_PROPERTY: {
    status: 422,
    meaning: "A point names a property that is not in the device's thing model.",
    fix: "Add the property to the product's thing model or correct its identifier.",
  },
  IIP_ERR_TELEMETRY_TYPE: {
    status: 422,
    meaning: "A value does not have the property's data type (int, float, bool, string, enum, array of one of them).",
    fix: 'Send a value of the declared type; the error details name the property (and details.index the array element) and the expected type.',
  },
  IIP_ERR_TELEMETRY_OUT_OF_RANGE: {
    status: 422,
    meaning: "A numeric value lies outside the property's min/max.",
    fix: 'Check the sensor or widen the range in the thing model.',
  },
  IIP_ERR_TELEMETRY_ENUM: {
    status: 422,
    meaning: "A value is not one of the enum property's allowed values.",
    fix: 'Send one of the values listed in details.allowed.',
  },
  IIP_ERR_TELEMETRY_STRING_TOO_LONG: {
    status: 422,
    meaning: "A string value is longer than the property's maxLength.",
    fix: 'Shorten the value or raise maxLength in the thing model.',
  },
  IIP_ERR_TELEMETRY_ARRAY_LENGTH: {
    status: 422,
    meaning: "An array value has fewer or more elements than the property allows (minItems/maxItems, or exactly the product of its dimensions).",
    fix: 'Send as many elements as details.minItems to details.maxItems allow, or change the array type in the thing model.',
  },
  IIP_ERR_TELEMETRY_TS_INVALID: {
    status: 422,
    meaning: 'A timestamp is not an epoch-millisecond number or an ISO-8601 string, or lies before 2000-01-01.',
    fix: 'Send `ts` as epoch milliseconds (UTC) or an ISO-8601 string.',
  },
  IIP_ERR_TELEMETRY_TS_FUTURE: {
    status: 422,
    meaning: 'A timestamp lies further in the future than the allowed clock skew.',
    fix: "Synchronise the device clock (NTP) or raise `ingest.maxFutureSkewMs`.",
  },
  IIP_ERR_MODEL_INVALID: {
    status: 400,
    meaning: 'A thing model is malformed (bad identifier, duplicate property, min > max, unknown type…).',
    fix: 'Correct the thing model; details.path names the offending element.',
  },
  IIP_ERR_MODEL_FORMAT: {
    status: 400,
    meaning: 'An imported TSL or WoT Thing Description document cannot be converted.',
    fix: 'Check the document against the format; details.path names the offending element.',
  },
  IIP_ERR_CSV_INVALID: {
    status: 400,
    meaning: 'A CSV upload is malformed (unterminated quote, text after a closing quote, missing required column, wrong number of fields).',
    fix: 'Fix the row and column named in details; the first line must be the header.',
  },
  IIP_ERR_VALIDATION: {
    status: 400,
    meaning: 'A request body, query or path parameter is invalid.',
    fix: 'Correct the request; details name the field.',
  },
  IIP_ERR_NOT_FOUND: {
    status: 404,
    meaning: 'The requested resource does not exist in this tenant.',
    fix: 'Check the id and the tenant.',
  },
  IIP_ERR_CONFLICT: {
    status: 409,
    meaning: 'A resource with this id already exists.',
    fix: 'Choose another id or delete the existing resource first.',
  },
  IIP_ERR_TENANT_SUSPENDED: {
    status: 403,
    meaning: "The tenant is suspended: its devices are refused at connect and per message, and its users at sign-in (details carry the reason). Nothing of it is deleted.",
    fix: 'Ask the platform administrator to re-activate the tenant (PATCH /api/v1/tenants/{id} {"status":"active"}).',
  },
  IIP_ERR_TENANT_ACTIVE: {
    status: 409,
    meaning: 'A tenant must be suspended before it is deleted (suspension sends its devices away and stops its users).',
    fix: 'PATCH /api/v1/tenants/{id} {"status":"suspended","suspendedReason":"…"} first, then delete it.',
  },
  IIP_ERR_TENANT_DEVICES_ONLINE: {
    status: 409,
    meaning: 'Devices of the tenant are still connected, so it cannot be deleted (details.online counts them).',
    fix: 'Wait until its devices are gone (a suspended tenant’s devices are refused) and try again.',
  },
  IIP_ERR_ASSET_PARENT: {
    status: 404,
    meaning: 'The parent named for an asset (or a move) does not exist in this tenant.',
    fix: 'Create the parent asset first, or name an asset of the same tenant (null for a root).',
  },
  IIP_ERR_ASSET_CYCLE: {
    status: 409,
    meaning: 'The move would put an asset below itself or below one of its own descendants.',
    fix: 'Choose a new parent outside the subtree of the asset being moved.',
  },
  IIP_ERR_ASSET_LEVEL: {
    status: 400,
    meaning: 'An asset must be of a deeper ISA-95 level than its parent (enterprise › site › area › line › cell).',
    fix: 'Pick a deeper level for the child, or a shallower parent; details name the levels.',
  },
  IIP_ERR_ASSET_NOT_EMPTY: {
    status: 409,
    meaning: 'The asset still has child assets, devices placed on it, or grants on it.',
    fix: 'Move or delete its children, move its devices and remove its grants first; details say what is left.',
  },
  IIP_ERR_BUS_UNAVAILABLE: {
    status: 503,
    meaning: 'The message bus (NATS JetStream) cannot take the message now: it is unreachable, it did not confirm in time, or the stream refused it; nothing was acknowledged.',
    fix: 'Send it again later (a device resends unacknowledged readings by itself); check that nats-server runs with -js and is reachable at the bus URL (--bus / IIP_BUS_URL).',
  },
  IIP_ERR_BUS_OVERLOADED: {
    status: 503,
    meaning: 'A subscriber group of the in-process bus (the embedded platform) holds as many messages as it may — its handlers are slower than what is published, or keep failing — so new messages are not given to it until it catches up; each is counted in the bus statistics.',
    fix: 'Find what slows the group (the log names it; for rules, the alarm store), or raise maxPendingPerGroup; the stored telemetry is not affected, only what that group does with it.',
  },
  IIP_ERR_STORAGE_TRANSACTION_MISUSE: {
    status: 500,
    meaning: 'Code running inside a storage transaction wrote through the store instead of the transaction, or used a transaction after it had ended.',
    fix: 'A programming error: write through the `tx` handed to the transaction function, and only until that function settles.',
  },
  IIP_ERR_QUOTA_DEVICES: {
    status: 403,
    meaning: "Creating the device(s) would take the tenant past its device quota; nothing was created. details name the tenant, the limit, the current count and how many were asked for.",
    fix: 'Delete devices you no longer need, or ask an administrator to raise quotas.devices (PUT /api/v1/tenant/policy, `iip tenant policy --devices N`).',
  },
  IIP_ERR_QUOTA_POINTS_PER_DAY: {
    status: 429,
    meaning: "The message would take the tenant past its points-per-day quota (UTC day); nothing of it was stored. details name the tenant, the limit, today's count and the message's points.",
    fix: 'Send again after 00:00 UTC, send fewer points, or ask an administrator to raise quotas.pointsPerDay.',
  },
  IIP_ERR_QUOTA_STORED_BYTES: {
    status: 403,
    meaning: "The tenant's stored telemetry has reached its stored-bytes quota (the periodic usage estimate); nothing of the message was stored. details name the tenant, the limit and the usage.",
    fix: 'Shorten the retention (raw days, rollup days) so old data is deleted, delete devices, or ask an administrator to raise quotas.storedBytes.',
  },
  IIP_ERR_INTERNAL: {
    status: 500,
    meaning: 'An unexpected error inside the platform.',
    fix: 'Report it with the log line carrying the request id.',
  },
});
