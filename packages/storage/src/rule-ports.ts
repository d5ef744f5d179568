/**
 * Persistence of rules and alarms (issue 13; @iip/rules defines their meaning): rule documents per tenant,
 * versioned; each rule's evaluation state per device (so a restart or another worker carries on); alarms with their
 * lifecycle state and an append-only history. Both adapters (SQLite, PostgreSQL) pass one conformance suite.
 */
import { type DeviceId, IipError, type TenantId } from '@iip/core';

export interface StoredRule {
  readonly tenant: TenantId;
  readonly id: string;
  /** 1 for a new rule, +1 at every change. */
  readonly version: number;
  /** The rule document as validated by @iip/rules (JSON). */
  readonly doc: unknown;
  readonly enabled: boolean;
  readonly updatedAt: number;
  /** Who saved it (a user name, or "iip" for the platform). */
  readonly updatedBy: string;
}

export interface RuleStateRow {
  readonly rule: string;
  readonly device: DeviceId;
  /** The rule's evaluation state for the device (JSON; @iip/rules ConditionState). */
  readonly state: unknown;
}

export interface Alarm {
  readonly tenant: TenantId;
  /** Unique in the tenant (the engine makes it: rule, device and raise time). */
  readonly id: string;
  readonly rule: string;
  /** What `device` names: 'device' — a device; 'asset' — an asset, for a rule over the devices of that asset. */
  readonly source: AlarmSource;
  /** The device the alarm is about, or (source 'asset') the asset of a rule over that asset's devices. */
  readonly device: DeviceId;
  readonly severity: string;
  readonly message: string;
  /** The lifecycle state (JSON; @iip/rules AlarmState). */
  readonly state: unknown;
  /** Not yet back to normal and acknowledged: at most one open alarm per (tenant, rule, device). */
  readonly open: boolean;
  readonly raisedAt: number;
  readonly updatedAt: number;
  /** 1 when created, +1 at every update (optimistic concurrency). */
  readonly version: number;
}

/** What an alarm's `device` field names: a device, or an asset (a rule over the devices of one asset). */
export type AlarmSource = 'device' | 'asset';

/** An alarm as created (AlarmStore.createAlarm): without `source` it is 'device'. */
export type NewAlarm = Omit<Alarm, 'version' | 'source'> & { readonly source?: AlarmSource };

/** An alarm as replaced (AlarmStore.updateAlarm): without `source` it keeps the stored one. */
export type AlarmUpdate = Omit<Alarm, 'version' | 'source'> & { readonly source?: AlarmSource };

export interface AlarmHistoryEntry {
  readonly tenant: TenantId;
  readonly alarm: string;
  /** Per-tenant increasing, never reused. */
  readonly seq: number;
  readonly ts: number;
  /** What happened: activate, clear, ack, shelve, unshelve, suppress, unsuppress, remove-from-service, return-to-service, expire… */
  readonly type: string;
  /** The user who did it, or null for the platform (the rule engine). */
  readonly user: string | null;
  readonly comment: string | null;
  /** The ISA-18.2 state after the change (e.g. "unacked"). */
  readonly isaState: string;
}

export type NewAlarmHistoryEntry = Omit<AlarmHistoryEntry, 'seq'>;

export interface AlarmFilter {
  readonly open?: boolean;
  readonly device?: string;
  readonly rule?: string;
  readonly severity?: string;
  /** raisedAt ≥ from, raisedAt < to. */
  readonly from?: number;
  readonly to?: number;
  /** Newest first by (raisedAt, id); page with `before` = the last (raisedAt, id) seen. */
  readonly before?: { readonly raisedAt: number; readonly id: string };
  readonly limit: number;
}

export interface RuleStore {
  /**
   * Creates (expectedVersion 0 or absent for a new one) or replaces a rule. With `expectedVersion`, refuses with
   * IIP_ERR_CONFLICT when the stored version differs (someone else saved meanwhile). Returns the stored rule.
   */
  putRule(r: Omit<StoredRule, 'version'>, expectedVersion?: number): Promise<StoredRule>;
  getRule(tenant: TenantId, id: string): Promise<StoredRule | undefined>;
  /** The tenant's rules by id. */
  listRules(tenant: TenantId): Promise<StoredRule[]>;
  /** Every tenant's enabled rules (the engine's start). */
  listEnabledRules(): Promise<StoredRule[]>;
  /** Deletes the rule and its evaluation states; false when absent. Its alarms and their history stay. */
  deleteRule(tenant: TenantId, id: string): Promise<boolean>;
  /** Upserts evaluation states, all in one transaction. */
  saveStates(tenant: TenantId, rows: readonly RuleStateRow[]): Promise<void>;
  /** A rule's states, by device. */
  loadStates(tenant: TenantId, rule: string): Promise<RuleStateRow[]>;
  /** Forgets a rule's states (the rule's condition changed). */
  clearStates(tenant: TenantId, rule: string): Promise<void>;
}

export interface AlarmStore {
  /** The open alarm of (rule, device), if any. */
  openAlarm(tenant: TenantId, rule: string, device: DeviceId): Promise<Alarm | undefined>;
  getAlarm(tenant: TenantId, id: string): Promise<Alarm | undefined>;
  /**
   * Stores a new alarm (version 1) and its first history entry in one transaction. IIP_ERR_CONFLICT when an open
   * alarm of the same (tenant, rule, device) exists (enforced by the store, also across processes) or the id is taken.
   * The (rule, device) pair is one key whatever the source: an asset alarm's `device` is the asset id.
   */
  createAlarm(a: NewAlarm, entry: NewAlarmHistoryEntry): Promise<{ alarm: Alarm; entry: AlarmHistoryEntry }>;
  /**
   * Replaces an alarm whose stored version is `expectedVersion` (IIP_ERR_CONFLICT otherwise; IIP_ERR_NOT_FOUND when
   * absent) and appends the history entry, in one transaction. Returns it with version + 1. Without `source` the
   * stored source stays.
   */
  updateAlarm(next: AlarmUpdate, expectedVersion: number, entry: NewAlarmHistoryEntry): Promise<{ alarm: Alarm; entry: AlarmHistoryEntry }>;
  listAlarms(tenant: TenantId, filter: AlarmFilter): Promise<Alarm[]>;
  /** One alarm's history, oldest first. */
  history(tenant: TenantId, alarm: string): Promise<AlarmHistoryEntry[]>;
  /** The tenant's history entries with ts in [from, to), oldest first by seq (the KPIs), at most `limit`, after `afterSeq`. */
  listHistory(tenant: TenantId, filter: { from?: number; to?: number; afterSeq?: number; limit: number }): Promise<AlarmHistoryEntry[]>;
}

// ---- Shared by both adapters (not part of the ports; index.ts exports only the types above) ----

/** A rule as both adapters store it (doc as JSON text; enabled 0/1 in SQLite, boolean in PostgreSQL). */
export interface RuleRow {
  tenant: string;
  id: string;
  version: number;
  doc: string;
  enabled: number | boolean;
  updated_at: number;
  updated_by: string;
}

export interface AlarmRow {
  tenant: string;
  id: string;
  rule: string;
  source: string;
  device: string;
  severity: string;
  message: string;
  state: string;
  open: number | boolean;
  raised_at: number;
  updated_at: number;
  version: number;
}

export interface AlarmHistoryRow {
  tenant: string;
  seq: number;
  alarm: string;
  ts: number;
  type: string;
  user_name: string | null;
  comment: string | null;
  isa_state: string;
}

export const toStoredRule = (r: RuleRow): StoredRule => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  version: Number(r.version),
  doc: JSON.parse(r.doc) as unknown,
  enabled: Boolean(r.enabled),
  updatedAt: Number(r.updated_at),
  updatedBy: r.updated_by,
});

export const toAlarm = (r: AlarmRow): Alarm => ({
  tenant: r.tenant as TenantId,
  id: r.id,
  rule: r.rule,
  source: r.source as AlarmSource,
  device: r.device as DeviceId,
  severity: r.severity,
  message: r.message,
  state: JSON.parse(r.state) as unknown,
  open: Boolean(r.open),
  raisedAt: Number(r.raised_at),
  updatedAt: Number(r.updated_at),
  version: Number(r.version),
});

export const toAlarmHistoryEntry = (r: AlarmHistoryRow): AlarmHistoryEntry => ({
  tenant: r.tenant as TenantId,
  alarm: r.alarm,
  seq: Number(r.seq),
  ts: Number(r.ts),
  type: r.type,
  user: r.user_name,
  comment: r.comment,
  isaState: r.isa_state,
});

/** JSON text of a stored value; refuses (IIP_ERR_VALIDATION) what JSON cannot hold, before anything is written. */
export function jsonText(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new IipError('IIP_ERR_VALIDATION', `${field} is not JSON: ${e instanceof Error ? e.message : String(e)}`, { field });
  }
  if (text === undefined) throw new IipError('IIP_ERR_VALIDATION', `${field} is not JSON (undefined)`, { field });
  return text;
}

/**
 * The source to write: a create without one writes 'device', an update without one null (keep the stored one).
 * Refuses (IIP_ERR_VALIDATION) any other value, before anything is written.
 */
export function alarmSourceParam(a: { tenant: TenantId; id: string; source?: AlarmSource }, absent: 'device'): AlarmSource;
export function alarmSourceParam(a: { tenant: TenantId; id: string; source?: AlarmSource }, absent: null): AlarmSource | null;
export function alarmSourceParam(a: { tenant: TenantId; id: string; source?: AlarmSource }, absent: 'device' | null): AlarmSource | null {
  const source: unknown = a.source;
  if (source === undefined) return absent;
  if (source === 'device' || source === 'asset') return source;
  throw new IipError('IIP_ERR_VALIDATION', `alarm "${a.id}": source must be "device" or "asset", not ${JSON.stringify(source)}`, {
    tenant: a.tenant,
    alarm: a.id,
    field: 'source',
  });
}

/** The history entry must belong to the alarm it is written with. */
export function checkEntry(a: { tenant: TenantId; id: string }, entry: NewAlarmHistoryEntry): void {
  if (entry.tenant !== a.tenant || entry.alarm !== a.id) {
    throw new IipError('IIP_ERR_VALIDATION', `the history entry (tenant "${entry.tenant}", alarm "${entry.alarm}") is not of alarm "${a.id}" of tenant "${a.tenant}"`, {
      tenant: a.tenant,
      alarm: a.id,
      entryTenant: entry.tenant,
      entryAlarm: entry.alarm,
    });
  }
}

export const ruleVersionConflict = (tenant: TenantId, id: string, expectedVersion: number, version: number) =>
  new IipError(
    'IIP_ERR_CONFLICT',
    version === 0
      ? `rule "${id}" does not exist (expected version ${expectedVersion})`
      : expectedVersion === 0
        ? `rule "${id}" already exists (version ${version})`
        : `rule "${id}" was changed meanwhile: version ${version}, expected ${expectedVersion}`,
    { tenant, rule: id, expectedVersion, version },
  );

export const alarmVersionConflict = (tenant: TenantId, id: string, expectedVersion: number, version: number) =>
  new IipError('IIP_ERR_CONFLICT', `alarm "${id}" was changed meanwhile: version ${version}, expected ${expectedVersion}`, {
    tenant,
    alarm: id,
    expectedVersion,
    version,
  });

export const alarmNotFound = (tenant: TenantId, id: string) =>
  new IipError('IIP_ERR_NOT_FOUND', `alarm "${id}" not found in tenant "${tenant}"`, { tenant, alarm: id });

export const alarmIdTaken = (tenant: TenantId, id: string) =>
  new IipError('IIP_ERR_CONFLICT', `alarm "${id}" already exists in tenant "${tenant}"`, { tenant, alarm: id });

export const alarmAlreadyOpen = (tenant: TenantId, rule: string, device: string, open: string | undefined) =>
  new IipError('IIP_ERR_CONFLICT', `rule "${rule}" already has an open alarm${open ? ` ("${open}")` : ''} for device "${device}"`, {
    tenant,
    rule,
    device,
    ...(open !== undefined ? { openAlarm: open } : {}),
  });
