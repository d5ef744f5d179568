/**
 * Storage ports: what the services need from persistence, independent of the engine. Every method returns a
 * promise, so a server engine can stand behind them: the embedded adapter (SQLite, default) and the
 * PostgreSQL adapter implement the same interfaces and pass the same conformance suite (@iip/testkit).
 * Every query takes the tenant: nothing is ever read across tenants.
 */
import type { DeviceId, GatewayConfig, ProductId, TenantId, ThingModel, UserId } from '@iip/core';
import type { AccessStore } from './access-ports.js';
import type { EventLogStore } from './event-log.js';
import type { DeviceEventStore } from './device-events.js';
import type { AlarmStore, RuleStore } from './rule-ports.js';
import type { ActionOutbox } from './action-ports.js';

export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  readonly id: TenantId;
  readonly name: string;
  readonly createdAt: number;
  /** Absent on creation = active. A suspended tenant's devices are refused at connect; nothing is deleted. */
  readonly status?: TenantStatus;
  /** Why it was suspended (shown to its devices' and users' refusals), or null. */
  readonly suspendedReason?: string | null;
}

export interface Product {
  readonly tenant: TenantId;
  readonly id: ProductId;
  readonly name: string;
  /** Free-form kind for grouping in the console, e.g. "cnc", "compressor". */
  readonly category: string;
  readonly model: ThingModel;
  /** Incremented on every model change; validators are cached per (product, version). */
  readonly version: number;
  readonly createdAt: number;
}

export interface Device {
  readonly tenant: TenantId;
  readonly id: DeviceId;
  readonly product: ProductId;
  readonly name: string;
  /** Hash of the device secret (never the secret itself); format owned by @iip/security. */
  readonly secretHash: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly createdAt: number;
  /** The asset it is placed on (AccessStore.placeDevice), or null/absent when it is not on the tree. */
  readonly asset?: string | null;
}

export interface Page {
  readonly limit: number;
  readonly offset: number;
}

export interface RegistryStore {
  createTenant(t: Tenant): Promise<void>;
  getTenant(id: TenantId): Promise<Tenant | undefined>;
  listTenants(): Promise<Tenant[]>;
  /** Renames, suspends (with a reason) or re-activates a tenant; IIP_ERR_NOT_FOUND when absent. */
  updateTenant(id: TenantId, patch: { readonly name?: string; readonly status?: TenantStatus; readonly suspendedReason?: string | null }): Promise<Tenant>;
  /**
   * Deletes the tenant and every row of it this store and the other stores keep (products, devices, policy,
   * assets, roles, grants, users and their tokens, gateway configs and states, device events, rules and their
   * states, alarms and their history, rule-action jobs and the webhook signing secret), in one transaction.
   * Telemetry and the audit log are not touched (the caller deletes telemetry device by device first; the audit
   * log outlives the tenant). False when absent.
   */
  deleteTenant(id: TenantId): Promise<boolean>;

  /** Throws IIP_ERR_CONFLICT when the id exists in the tenant. */
  createProduct(p: Product): Promise<void>;
  /** Replaces name/category/model and bumps version; throws IIP_ERR_NOT_FOUND. */
  updateProduct(p: Omit<Product, 'version' | 'createdAt'>): Promise<Product>;
  getProduct(tenant: TenantId, id: ProductId): Promise<Product | undefined>;
  listProducts(tenant: TenantId): Promise<Product[]>;
  /** Refuses (IIP_ERR_CONFLICT) while devices of the product exist. Returns false if absent. */
  deleteProduct(tenant: TenantId, id: ProductId): Promise<boolean>;

  /**
   * Throws IIP_ERR_CONFLICT when the id exists, IIP_ERR_NOT_FOUND when the product does not or when `asset` is set
   * and is not an asset of the tenant (details field 'asset').
   */
  createDevice(d: Device): Promise<void>;
  /** All or nothing: one bad row (conflict, unknown product) creates none and names the row. */
  createDevices(ds: readonly Device[]): Promise<void>;
  getDevice(tenant: TenantId, id: DeviceId): Promise<Device | undefined>;
  /** `assets`: only devices placed on one of these assets (an empty list matches none). */
  listDevices(tenant: TenantId, filter?: { product?: ProductId; assets?: readonly string[] }, page?: Page): Promise<{ items: Device[]; total: number }>;
  deleteDevice(tenant: TenantId, id: DeviceId): Promise<boolean>;

  /** The tenant's retention and quota policy, or undefined when none was ever set (then every default applies). */
  getTenantPolicy(tenant: TenantId): Promise<TenantPolicy | undefined>;
  /** Replaces the tenant's policy as a whole; throws IIP_ERR_NOT_FOUND when the tenant does not exist. */
  setTenantPolicy(tenant: TenantId, policy: TenantPolicy): Promise<void>;
}

/**
 * How long a tenant's telemetry is kept, in days; null (or absent) = for ever. `rollups` is keyed by the level's
 * bucket width in ms as a decimal string (e.g. "60000": 1-minute rollups); a level not named is kept for ever.
 */
export interface RetentionPolicy {
  readonly rawDays?: number | null;
  readonly rollups?: Readonly<Record<string, number | null>>;
  /** Audit events older than this many days are deleted (at least 30; null/absent = kept for ever). */
  readonly auditDays?: number | null;
  /** Device events with a timestamp older than this many days are deleted (null/absent = kept for ever). */
  readonly eventDays?: number | null;
}

/** Sign-in rules of a tenant. */
export interface SecurityPolicy {
  /** Administrators (users who may manage users or tenants) must sign in with a second factor (TOTP). */
  readonly totpRequiredForAdmins?: boolean;
}

/** A tenant's limits; null (or absent) = unlimited. */
export interface QuotaPolicy {
  readonly devices?: number | null;
  readonly pointsPerDay?: number | null;
  readonly storedBytes?: number | null;
}

export interface TenantPolicy {
  readonly retention: RetentionPolicy;
  readonly quotas: QuotaPolicy;
  readonly security?: SecurityPolicy;
}

/** What a tenant's telemetry occupies (TelemetryStore.usage). */
export interface TelemetryUsage {
  readonly series: number;
  /** Raw points stored. */
  readonly rawPoints: number;
  /** Raw points whose timestamp lies in the UTC day of `now`. */
  readonly pointsToday: number;
  /** Rollup cells stored, all levels. */
  readonly rollupRows: number;
  /** Estimate: see estimateStoredBytes (fixed bytes per row plus the bytes of string values). */
  readonly storedBytes: number;
}

/** Retention deletes run in batches of this many rows, each its own short transaction. */
export interface RetentionBatchOptions {
  /** Rows per batch (default 5,000). */
  readonly batchSize?: number;
}

/** A user of one tenant. What it may do is in its grants (AccessStore), not here. */
export interface User {
  readonly id: UserId;
  readonly tenant: TenantId;
  readonly username: string;
  readonly passwordHash: string;
  readonly createdAt: number;
  /** A disabled user cannot sign in, and its sessions end (absent on creation = false). */
  readonly disabled?: boolean;
  /** Failed sign-ins in a row since the last successful one (absent on creation = 0). */
  readonly failedLogins?: number;
  /** Until when sign-in is refused after too many failures (Unix ms), or null. */
  readonly lockedUntil?: number | null;
  /** A person signs in; a service account only uses API tokens (absent = person). */
  readonly kind?: UserKind;
  /** The TOTP secret (base32) once the second factor is on, else null/absent. */
  readonly totpSecret?: string | null;
  /** A secret being set up (shown to the user, not yet confirmed with a code), else null/absent. */
  readonly totpPending?: string | null;
  /** The last TOTP time step accepted (a code is good once), else null/absent. */
  readonly totpLastStep?: number | null;
}

export type UserKind = 'person' | 'service';

/** An API token of a user (typically a service account): scoped, expiring, stored as a hash, shown once. */
export interface ApiToken {
  /** Public id, part of the token text; used to find it (the secret part is only hashed). */
  readonly id: string;
  readonly tenant: TenantId;
  readonly userId: UserId;
  readonly name: string;
  /** SHA-256 of the whole token text. */
  readonly tokenHash: string;
  /** The permissions it carries (at most its user's); `['*']` = all of its user's. */
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly lastUsedAt?: number | null;
}

export interface AccessToken {
  /** SHA-256 of the bearer token; the token itself is only ever shown to its owner. */
  readonly tokenHash: string;
  readonly userId: UserId;
  readonly tenant: TenantId;
  readonly expiresAt: number;
  readonly createdAt: number;
  /** Last use (Unix ms; recorded at most about once a minute), for idle expiry; null before the first. */
  readonly lastUsedAt?: number | null;
}

export interface UserStore {
  countUsers(): Promise<number>;
  /** Throws IIP_ERR_CONFLICT when the username exists. Usernames are global (they pick the tenant). */
  createUser(u: User): Promise<void>;
  getUserByName(username: string): Promise<User | undefined>;
  getUser(id: UserId): Promise<User | undefined>;
  /** The tenant's users, by username. */
  listUsers(tenant: TenantId): Promise<User[]>;
  setPasswordHash(id: UserId, hash: string): Promise<void>;
  /** Disables or enables a user; IIP_ERR_NOT_FOUND when absent. */
  setDisabled(id: UserId, disabled: boolean): Promise<void>;
  /**
   * Counts one failed sign-in, atomically (several processes): when the count reaches `lockAfter`, the user is
   * locked until `now + lockMs`. Returns the new count and lock.
   */
  loginFailed(id: UserId, now: number, lockAfter: number, lockMs: number): Promise<{ failedLogins: number; lockedUntil: number | null }>;
  /** A successful sign-in: the failure count and any lock are cleared. */
  loginSucceeded(id: UserId): Promise<void>;
  saveToken(t: AccessToken): Promise<void>;
  getToken(tokenHash: string): Promise<AccessToken | undefined>;
  deleteToken(tokenHash: string): Promise<void>;
  /** Records a token's use (idle expiry). */
  touchToken(tokenHash: string, now: number): Promise<void>;
  /** Ends every session of a user (sign out everywhere, a disabled user, a password reset); returns how many. */
  deleteTokensOfUser(id: UserId): Promise<number>;
  deleteExpiredTokens(now: number): Promise<number>;
  /**
   * Sets the TOTP state: `secret` (on, or null for off) and `pending` (a secret being set up, or null). Clears the
   * last accepted step. IIP_ERR_NOT_FOUND when the user is absent.
   */
  setTotp(id: UserId, state: { secret: string | null; pending: string | null }): Promise<void>;
  /**
   * Accepts TOTP time step `step` for the user only if it is later than the last accepted one, atomically
   * (several processes): a code cannot be replayed. Returns whether it was accepted.
   */
  claimTotpStep(id: UserId, step: number): Promise<boolean>;
  /** IIP_ERR_NOT_FOUND when the user is absent; IIP_ERR_CONFLICT when the id exists. */
  saveApiToken(t: ApiToken): Promise<void>;
  getApiToken(id: string): Promise<ApiToken | undefined>;
  /** The user's API tokens, newest first. */
  listApiTokens(userId: UserId): Promise<ApiToken[]>;
  /** Deletes one token of the user; false when there was none. */
  deleteApiToken(userId: UserId, id: string): Promise<boolean>;
  touchApiToken(id: string, now: number): Promise<void>;
}

/**
 * How a series' values are stored: number, boolean (stored as 0/1), string/enum, or array (JSON text in the
 * string column). Only kinds n and b have a number, so only they are rolled up.
 */
export type SeriesKind = 'n' | 'b' | 's' | 'a';

export interface SeriesKey {
  readonly tenant: TenantId;
  readonly device: DeviceId;
  readonly property: string;
}

/** One stored point. `num` is set for kinds n and b, `str` for kinds s and a. */
export interface RawRow {
  readonly series: number;
  readonly ts: number;
  readonly num: number | null;
  readonly str: string | null;
}

export interface RollupRow {
  readonly series: number;
  /** Bucket start, epoch ms, aligned to the level's width. */
  readonly bucket: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
}

export interface TelemetryStore {
  /** Bucket widths (ms) of the rollup levels maintained at write time, finest first. */
  readonly rollupLevels: readonly number[];
  /**
   * How many write() calls the adapter takes at once and commits in the order given (absent: one at a time). The
   * embedded SQLite adapter's writer thread queues them, so the historian hands it the next batch while the previous
   * one commits (issue 20).
   */
  readonly writesInFlight?: number;
  /**
   * How many of the writes handed over the adapter is still working on, read without waiting for their answers (an
   * answer is an event the event loop may not reach for a while). The writer thread's adapter counts its commits in
   * shared memory, so the historian can hand it the next batch as soon as it is free even while the event loop is
   * busy reading devices (issue 20). Absent: the historian goes by the answers it has.
   */
  writesBusy?(): number;
  /** Returns the series id, creating the series on first use. Stable for the life of the store. */
  seriesId(key: SeriesKey, kind: SeriesKind): Promise<number>;
  /** Series of one device (for latest values and deletes). */
  listSeries(tenant: TenantId, device: DeviceId): Promise<Array<{ id: number; property: string; kind: SeriesKind }>>;
  /**
   * One transaction: raw rows are inserted (a row with the same (series, ts) as a stored one is a
   * duplicate and ignored, so re-delivery is harmless), every rollup level is updated for the numeric
   * rows actually inserted, and latest values move forward (never back in time).
   */
  write(rows: readonly RawRow[]): Promise<{ inserted: number; duplicates: number }>;
  latest(series: readonly number[]): Promise<RawRow[]>;
  /** Ascending by ts, at most `limit` rows; `from` inclusive, `to` exclusive. */
  raw(series: number, from: number, to: number, limit: number): Promise<RawRow[]>;
  /** Rollup rows of one level, ascending by bucket, buckets starting in [from, to). */
  rollups(level: number, series: number, from: number, to: number): Promise<RollupRow[]>;
  /** Removes all data of a device (raw, rollups, latest, series). */
  deleteDevice(tenant: TenantId, device: DeviceId): Promise<void>;
  /**
   * Retention: deletes the tenant's raw points with ts < `cutoff`, in batches (each its own short transaction, so
   * ingest is never held up for long). Rollups and latest values are not touched. Returns the rows deleted.
   */
  deleteRawBefore(tenant: TenantId, cutoff: number, opts?: RetentionBatchOptions): Promise<number>;
  /**
   * Retention: deletes the tenant's rollup cells of `level` whose bucket ends at or before `cutoff` (bucket + level
   * <= cutoff), in batches. Throws IIP_ERR_VALIDATION for a level that is not maintained. Returns the rows deleted.
   */
  deleteRollupsBefore(tenant: TenantId, level: number, cutoff: number, opts?: RetentionBatchOptions): Promise<number>;
  /** What the tenant's telemetry occupies; `now` picks the UTC day of pointsToday. Reads indexes: call it periodically, not per message. */
  usage(tenant: TenantId, now: number): Promise<TelemetryUsage>;
  close(): Promise<void>;
}

/** One version of a gateway's desired configuration (cloud–edge collaboration). */
export interface GatewayConfigRecord {
  readonly tenant: TenantId;
  readonly gateway: DeviceId;
  readonly version: number;
  readonly config: GatewayConfig;
  readonly createdAt: number;
  readonly createdBy: string;
}

/** What the gateway last reported: the version it applied and its health document. */
export interface GatewayStateRecord {
  readonly tenant: TenantId;
  readonly gateway: DeviceId;
  readonly appliedVersion: number | null;
  readonly state: Readonly<Record<string, unknown>>;
  readonly updatedAt: number;
}

export interface GatewayStore {
  /** Appends a version; throws IIP_ERR_CONFLICT unless it is exactly the latest version + 1. */
  saveConfig(r: GatewayConfigRecord): Promise<void>;
  latestConfig(tenant: TenantId, gateway: DeviceId): Promise<GatewayConfigRecord | undefined>;
  saveState(r: GatewayStateRecord): Promise<void>;
  getState(tenant: TenantId, gateway: DeviceId): Promise<GatewayStateRecord | undefined>;
  /** Gateways with a desired config or a reported state. */
  listGateways(tenant: TenantId): Promise<Array<{ gateway: DeviceId; desiredVersion: number | null; appliedVersion: number | null; updatedAt: number | null }>>;
}

/** One audited action (a write to a device, a config push…): who, what, old and new value, result. */
export interface AuditEntry {
  readonly id?: number;
  readonly tenant: TenantId;
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly device: string;
  readonly property: string | null;
  readonly oldValue: unknown;
  readonly newValue: unknown;
  readonly result: 'ok' | 'error';
  readonly error: string | null;
}

export interface AuditStore {
  /** Returns the entry's id. Entries are never updated or deleted through this port. */
  append(e: AuditEntry): Promise<number>;
  /** Newest first. */
  list(tenant: TenantId, filter: { device?: string; limit: number }): Promise<AuditEntry[]>;
}

/** The embedded engine bundles all stores behind one file. */
export interface Storage {
  readonly registry: RegistryStore;
  readonly users: UserStore;
  readonly telemetry: TelemetryStore;
  readonly gateways: GatewayStore;
  readonly audit: AuditStore;
  readonly access: AccessStore;
  /** The hash-chained audit event log (event-log.ts). */
  readonly events: EventLogStore;
  /** What devices announced (device-events.ts). */
  readonly deviceEvents: DeviceEventStore;
  /** Rules and their evaluation states (rule-ports.ts). */
  readonly rules: RuleStore;
  /** Alarms and their history (rule-ports.ts). */
  readonly alarms: AlarmStore;
  /** Rule actions to carry out (action-ports.ts). */
  readonly actions: ActionOutbox;
  /**
   * Upkeep the adapter needs while it runs, if any; the platform calls it every few hours where the historian
   * writes (PostgreSQL: creates the raw partitions of the days ahead). Idempotent.
   */
  maintain?(): Promise<void>;
  close(): Promise<void>;
}
