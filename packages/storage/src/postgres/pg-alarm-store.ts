/**
 * AlarmStore on PostgreSQL (rule-ports.ts).
 *
 * A create or update writes the alarm row, then advances the tenant's counter row in alarm_history_seqs and
 * appends the history entry, in one transaction. The counter's row lock is held until commit, so history seqs
 * follow commit order and are never handed out twice (as device_event_seqs, pg-device-events.ts); it is always
 * the last lock a transaction takes, after its alarm row, so two writers cannot deadlock.
 *
 * "One open alarm per (tenant, rule, device)" is the unique partial index alarms_one_open: of two processes
 * opening one, the second waits for the first to commit and then gets a unique violation (IIP_ERR_CONFLICT).
 * An update's version check is its WHERE clause; a concurrent update of the same alarm re-checks it after the
 * first commits (READ COMMITTED), so of two updates from one version exactly one succeeds.
 */
import type { DeviceId, TenantId } from '@iip/core';
import type pg from 'pg';
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
import { PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';

type Written = { alarm: Alarm; entry: AlarmHistoryEntry };

const values = (a: NewAlarm, source: AlarmSource | null, state: string) => [
  a.tenant,
  a.id,
  a.rule,
  a.device,
  a.severity,
  a.message,
  state,
  a.open,
  a.raisedAt,
  a.updatedAt,
  source,
];

export class PgAlarmStore implements AlarmStore {
  constructor(private readonly db: PgDb) {}

  async openAlarm(tenant: TenantId, rule: string, device: DeviceId): Promise<Alarm | undefined> {
    const [row] = await this.db.rows<AlarmRow>('SELECT * FROM alarms WHERE tenant = $1 AND rule = $2 AND device = $3 AND open', [tenant, rule, device]);
    return row ? toAlarm(row) : undefined;
  }

  async getAlarm(tenant: TenantId, id: string): Promise<Alarm | undefined> {
    const [row] = await this.db.rows<AlarmRow>('SELECT * FROM alarms WHERE tenant = $1 AND id = $2', [tenant, id]);
    return row ? toAlarm(row) : undefined;
  }

  async createAlarm(a: NewAlarm, entry: NewAlarmHistoryEntry): Promise<Written> {
    checkEntry(a, entry);
    const source = alarmSourceParam(a, 'device');
    const state = jsonText(a.state, 'state');
    return this.refusing(a, () =>
      this.db.tx(async (c) => {
        const { rows } = await c.query<AlarmRow>(
          `INSERT INTO alarms (tenant, id, rule, device, severity, message, state, open, raised_at, updated_at, source, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING *`,
          values(a, source, state),
        );
        return { alarm: toAlarm(rows[0] as AlarmRow), entry: await append(c, entry) };
      }),
    );
  }

  async updateAlarm(next: AlarmUpdate, expectedVersion: number, entry: NewAlarmHistoryEntry): Promise<Written> {
    checkEntry(next, entry);
    const source = alarmSourceParam(next, null);
    const state = jsonText(next.state, 'state');
    return this.refusing(next, () =>
      this.db.tx(async (c) => {
        const { rows } = await c.query<AlarmRow>(
          `UPDATE alarms SET rule = $3, device = $4, severity = $5, message = $6, state = $7, open = $8, raised_at = $9, updated_at = $10,
             source = coalesce($11::text, source), version = version + 1
           WHERE tenant = $1 AND id = $2 AND version = $12 RETURNING *`,
          [...values(next, source, state), expectedVersion],
        );
        const row = rows[0];
        if (!row) {
          const current = await c.query<{ version: number }>('SELECT version FROM alarms WHERE tenant = $1 AND id = $2', [next.tenant, next.id]);
          const version = current.rows[0]?.version;
          throw version === undefined ? alarmNotFound(next.tenant, next.id) : alarmVersionConflict(next.tenant, next.id, expectedVersion, Number(version));
        }
        return { alarm: toAlarm(row), entry: await append(c, entry) };
      }),
    );
  }

  async listAlarms(tenant: TenantId, f: AlarmFilter): Promise<Alarm[]> {
    const rows = await this.db.rows<AlarmRow>(
      `SELECT * FROM alarms WHERE tenant = $1
         AND ($2::boolean IS NULL OR open = $2) AND ($3::text IS NULL OR device = $3)
         AND ($4::text IS NULL OR rule = $4) AND ($5::text IS NULL OR severity = $5)
         AND raised_at >= $6 AND raised_at < $7
         AND ($8::bigint IS NULL OR raised_at < $8 OR (raised_at = $8 AND id < $9::text))
       ORDER BY raised_at DESC, id DESC LIMIT $10`,
      [
        tenant,
        f.open ?? null,
        f.device ?? null,
        f.rule ?? null,
        f.severity ?? null,
        f.from ?? Number.MIN_SAFE_INTEGER,
        f.to ?? Number.MAX_SAFE_INTEGER,
        f.before?.raisedAt ?? null,
        f.before?.id ?? null,
        f.limit,
      ],
    );
    return rows.map(toAlarm);
  }

  async history(tenant: TenantId, alarm: string): Promise<AlarmHistoryEntry[]> {
    const rows = await this.db.rows<AlarmHistoryRow>('SELECT * FROM alarm_history WHERE tenant = $1 AND alarm = $2 ORDER BY seq', [tenant, alarm]);
    return rows.map(toAlarmHistoryEntry);
  }

  async listHistory(tenant: TenantId, f: { from?: number; to?: number; afterSeq?: number; limit: number }): Promise<AlarmHistoryEntry[]> {
    const rows = await this.db.rows<AlarmHistoryRow>(
      'SELECT * FROM alarm_history WHERE tenant = $1 AND ts >= $2 AND ts < $3 AND seq > $4 ORDER BY seq LIMIT $5',
      [tenant, f.from ?? Number.MIN_SAFE_INTEGER, f.to ?? Number.MAX_SAFE_INTEGER, f.afterSeq ?? 0, f.limit],
    );
    return rows.map(toAlarmHistoryEntry);
  }

  /** Runs `write`; the schema's refusals become IIP_ERR_CONFLICT (looked up after the rolled-back transaction). */
  private async refusing(a: NewAlarm, write: () => Promise<Written>): Promise<Written> {
    try {
      return await write();
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
        const constraint = (e as { constraint?: unknown }).constraint;
        if (constraint === 'alarms_one_open') throw alarmAlreadyOpen(a.tenant, a.rule, a.device, (await this.openAlarm(a.tenant, a.rule, a.device))?.id);
        if (constraint === 'alarms_pkey') throw alarmIdTaken(a.tenant, a.id);
      }
      throw e;
    }
  }
}

/** Takes the tenant's next history seq (its counter row stays locked until commit) and appends the entry. */
async function append(c: pg.PoolClient, e: NewAlarmHistoryEntry): Promise<AlarmHistoryEntry> {
  const { rows } = await c.query<{ seq: number }>(
    `INSERT INTO alarm_history_seqs (tenant, seq) VALUES ($1, 1)
     ON CONFLICT (tenant) DO UPDATE SET seq = alarm_history_seqs.seq + 1 RETURNING seq`,
    [e.tenant],
  );
  const seq = Number(rows[0]?.seq);
  await c.query('INSERT INTO alarm_history (tenant, seq, alarm, ts, type, user_name, comment, isa_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
    e.tenant,
    seq,
    e.alarm,
    e.ts,
    e.type,
    e.user,
    e.comment,
    e.isaState,
  ]);
  return { ...e, seq };
}
