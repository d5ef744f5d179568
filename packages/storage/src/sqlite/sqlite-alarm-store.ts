/**
 * AlarmStore on SQLite (rule-ports.ts). A create or update writes the alarm, advances the tenant's counter in
 * alarm_history_seqs and appends the history entry in one BEGIN IMMEDIATE transaction, so a second process on
 * the same file waits and continues after it, and a refused write leaves neither an alarm change nor a history
 * entry nor a used seq behind. "One open alarm per (tenant, rule, device)" is the unique partial index
 * alarms_one_open; the version check is part of the UPDATE.
 */
import type Database from 'better-sqlite3';
import type { DeviceId, TenantId } from '@iip/core';
import {
  type Alarm,
  type AlarmFilter,
  type AlarmHistoryEntry,
  type AlarmHistoryRow,
  type AlarmRow,
  type AlarmSource,
  type AlarmStore,
  type AlarmUpdate,
  alarmAlreadyOpen,
  alarmIdTaken,
  alarmNotFound,
  alarmSourceParam,
  alarmVersionConflict,
  checkEntry,
  jsonText,
  type NewAlarm,
  type NewAlarmHistoryEntry,
  toAlarm,
  toAlarmHistoryEntry,
} from '../rule-ports.js';

type Written = { alarm: Alarm; entry: AlarmHistoryEntry };

const code = (e: unknown) => (e as { code?: unknown } | null)?.code;

export class SqliteAlarmStore implements AlarmStore {
  private readonly s;
  private readonly createTx: (a: NewAlarm, source: AlarmSource, state: string, entry: NewAlarmHistoryEntry) => Written;
  private readonly updateTx: (a: AlarmUpdate, source: AlarmSource | null, state: string, expectedVersion: number, entry: NewAlarmHistoryEntry) => Written;

  constructor(db: Database.Database) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO alarms (tenant, id, rule, source, device, severity, message, state, open, raised_at, updated_at, version)
         VALUES (@tenant, @id, @rule, @source, @device, @severity, @message, @state, @open, @raisedAt, @updatedAt, 1) RETURNING *`,
      ),
      update: db.prepare(
        `UPDATE alarms SET rule = @rule, source = coalesce(@source, source), device = @device, severity = @severity, message = @message, state = @state, open = @open,
           raised_at = @raisedAt, updated_at = @updatedAt, version = version + 1
         WHERE tenant = @tenant AND id = @id AND version = @expected RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM alarms WHERE tenant = ? AND id = ?'),
      open: db.prepare('SELECT * FROM alarms WHERE tenant = ? AND rule = ? AND device = ? AND open = 1'),
      list: db.prepare(
        `SELECT * FROM alarms WHERE tenant = @tenant
           AND (@open IS NULL OR open = @open) AND (@device IS NULL OR device = @device)
           AND (@rule IS NULL OR rule = @rule) AND (@severity IS NULL OR severity = @severity)
           AND raised_at >= @from AND raised_at < @to
           AND (@beforeTs IS NULL OR raised_at < @beforeTs OR (raised_at = @beforeTs AND id < @beforeId))
         ORDER BY raised_at DESC, id DESC LIMIT @limit`,
      ),
      advance: db.prepare(
        'INSERT INTO alarm_history_seqs (tenant, seq) VALUES (?, 1) ON CONFLICT (tenant) DO UPDATE SET seq = seq + 1 RETURNING seq',
      ),
      insertEntry: db.prepare(
        'INSERT INTO alarm_history (tenant, seq, alarm, ts, type, user_name, comment, isa_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      history: db.prepare('SELECT * FROM alarm_history WHERE tenant = ? AND alarm = ? ORDER BY seq'),
      listHistory: db.prepare('SELECT * FROM alarm_history WHERE tenant = @tenant AND ts >= @from AND ts < @to AND seq > @after ORDER BY seq LIMIT @limit'),
    };
    const params = (a: NewAlarm, source: AlarmSource | null, state: string) => ({
      tenant: a.tenant,
      id: a.id,
      rule: a.rule,
      source,
      device: a.device,
      severity: a.severity,
      message: a.message,
      state,
      open: a.open ? 1 : 0,
      raisedAt: a.raisedAt,
      updatedAt: a.updatedAt,
    });
    /** Runs `write` and turns the schema's refusals into IIP_ERR_CONFLICT. */
    const guarded = (a: NewAlarm, write: () => AlarmRow | undefined): AlarmRow | undefined => {
      try {
        return write();
      } catch (e) {
        if (code(e) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw alarmIdTaken(a.tenant, a.id);
        if (code(e) === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw alarmAlreadyOpen(a.tenant, a.rule, a.device, (this.s.open.get(a.tenant, a.rule, a.device) as AlarmRow | undefined)?.id);
        }
        throw e;
      }
    };
    const append = (e: NewAlarmHistoryEntry): AlarmHistoryEntry => {
      const seq = (this.s.advance.get(e.tenant) as { seq: number }).seq;
      this.s.insertEntry.run(e.tenant, seq, e.alarm, e.ts, e.type, e.user, e.comment, e.isaState);
      return { ...e, seq };
    };
    this.createTx = db.transaction((a: NewAlarm, source: AlarmSource, state: string, entry: NewAlarmHistoryEntry): Written => {
      const row = guarded(a, () => this.s.insert.get(params(a, source, state)) as AlarmRow) as AlarmRow;
      return { alarm: toAlarm(row), entry: append(entry) };
    }).immediate;
    this.updateTx = db.transaction((a: AlarmUpdate, source: AlarmSource | null, state: string, expectedVersion: number, entry: NewAlarmHistoryEntry): Written => {
      const row = guarded(a, () => this.s.update.get({ ...params(a, source, state), expected: expectedVersion }) as AlarmRow | undefined);
      if (!row) {
        const current = this.s.get.get(a.tenant, a.id) as AlarmRow | undefined;
        throw current ? alarmVersionConflict(a.tenant, a.id, expectedVersion, current.version) : alarmNotFound(a.tenant, a.id);
      }
      return { alarm: toAlarm(row), entry: append(entry) };
    }).immediate;
  }

  async openAlarm(tenant: TenantId, rule: string, device: DeviceId): Promise<Alarm | undefined> {
    const row = this.s.open.get(tenant, rule, device) as AlarmRow | undefined;
    return row ? toAlarm(row) : undefined;
  }

  async getAlarm(tenant: TenantId, id: string): Promise<Alarm | undefined> {
    const row = this.s.get.get(tenant, id) as AlarmRow | undefined;
    return row ? toAlarm(row) : undefined;
  }

  async createAlarm(a: NewAlarm, entry: NewAlarmHistoryEntry): Promise<Written> {
    checkEntry(a, entry);
    return this.createTx(a, alarmSourceParam(a, 'device'), jsonText(a.state, 'state'), entry);
  }

  async updateAlarm(next: AlarmUpdate, expectedVersion: number, entry: NewAlarmHistoryEntry): Promise<Written> {
    checkEntry(next, entry);
    return this.updateTx(next, alarmSourceParam(next, null), jsonText(next.state, 'state'), expectedVersion, entry);
  }

  async listAlarms(tenant: TenantId, f: AlarmFilter): Promise<Alarm[]> {
    const rows = this.s.list.all({
      tenant,
      open: f.open === undefined ? null : f.open ? 1 : 0,
      device: f.device ?? null,
      rule: f.rule ?? null,
      severity: f.severity ?? null,
      from: f.from ?? Number.MIN_SAFE_INTEGER,
      to: f.to ?? Number.MAX_SAFE_INTEGER,
      beforeTs: f.before?.raisedAt ?? null,
      beforeId: f.before?.id ?? null,
      limit: f.limit,
    }) as AlarmRow[];
    return rows.map(toAlarm);
  }

  async history(tenant: TenantId, alarm: string): Promise<AlarmHistoryEntry[]> {
    return (this.s.history.all(tenant, alarm) as AlarmHistoryRow[]).map(toAlarmHistoryEntry);
  }

  async listHistory(tenant: TenantId, f: { from?: number; to?: number; afterSeq?: number; limit: number }): Promise<AlarmHistoryEntry[]> {
    const rows = this.s.listHistory.all({
      tenant,
      from: f.from ?? Number.MIN_SAFE_INTEGER,
      to: f.to ?? Number.MAX_SAFE_INTEGER,
      after: f.afterSeq ?? 0,
      limit: f.limit,
    }) as AlarmHistoryRow[];
    return rows.map(toAlarmHistoryEntry);
  }
}
