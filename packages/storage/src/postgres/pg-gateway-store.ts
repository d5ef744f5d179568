/** Gateway desired configs (append-only versions), reported states, and the audit log, on PostgreSQL. */
import { type DeviceId, IipError, type TenantId } from '@iip/core';
import type { AuditEntry, AuditStore, GatewayConfigRecord, GatewayStateRecord, GatewayStore } from '../ports.js';
import { type AuditRow, type ConfigRow, encodeAuditValue, toAuditEntry, toGatewayConfig } from '../rows.js';
import { PG_UNIQUE_VIOLATION, type PgDb, pgErrorCode } from './pg-db.js';


export class PgGatewayStore implements GatewayStore {
  constructor(private readonly db: PgDb) {}

  async saveConfig(r: GatewayConfigRecord): Promise<void> {
    const conflict = (latest: number) =>
      new IipError('IIP_ERR_CONFLICT', `gateway "${r.gateway}" config version ${r.version} is not the next version (latest ${latest})`, {
        gateway: r.gateway,
        latest,
      });
    try {
      await this.db.tx(async (c) => {
        const { rows } = await c.query<{ v: number }>(
          'SELECT coalesce(max(version), 0)::int AS v FROM gateway_configs WHERE tenant = $1 AND gateway = $2',
          [r.tenant, r.gateway],
        );
        const latest = rows[0]?.v ?? 0;
        if (r.version !== latest + 1) throw conflict(latest);
        await c.query('INSERT INTO gateway_configs (tenant, gateway, version, config, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
          r.tenant,
          r.gateway,
          r.version,
          JSON.stringify(r.config),
          r.createdAt,
          r.createdBy,
        ]);
      });
    } catch (e) {
      // Two saves of the same next version: the primary key lets exactly one in.
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw conflict((await this.latestConfig(r.tenant, r.gateway))?.version ?? 0);
      throw e;
    }
  }

  async latestConfig(tenant: TenantId, gateway: DeviceId): Promise<GatewayConfigRecord | undefined> {
    const [row] = await this.db.rows<ConfigRow>(
      'SELECT * FROM gateway_configs WHERE tenant = $1 AND gateway = $2 ORDER BY version DESC LIMIT 1',
      [tenant, gateway],
    );
    if (!row) return undefined;
    return toGatewayConfig(row);
  }

  async saveState(r: GatewayStateRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO gateway_states (tenant, gateway, applied_version, state, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, gateway) DO UPDATE SET applied_version = excluded.applied_version, state = excluded.state, updated_at = excluded.updated_at`,
      [r.tenant, r.gateway, r.appliedVersion, JSON.stringify(r.state), r.updatedAt],
    );
  }

  async getState(tenant: TenantId, gateway: DeviceId): Promise<GatewayStateRecord | undefined> {
    const [row] = await this.db.rows<{ applied_version: number | null; state: string; updated_at: number }>(
      'SELECT applied_version, state, updated_at FROM gateway_states WHERE tenant = $1 AND gateway = $2',
      [tenant, gateway],
    );
    if (!row) return undefined;
    return { tenant, gateway, appliedVersion: row.applied_version, state: JSON.parse(row.state) as Record<string, unknown>, updatedAt: row.updated_at };
  }

  async listGateways(
    tenant: TenantId,
  ): Promise<Array<{ gateway: DeviceId; desiredVersion: number | null; appliedVersion: number | null; updatedAt: number | null }>> {
    const rows = await this.db.rows<{ gateway: string; desired: number | null; applied: number | null; updated: number | null }>(
      `SELECT g.gateway AS gateway,
              (SELECT max(version) FROM gateway_configs c WHERE c.tenant = g.tenant AND c.gateway = g.gateway) AS desired,
              s.applied_version AS applied, s.updated_at AS updated
         FROM (SELECT tenant, gateway FROM gateway_configs WHERE tenant = $1
               UNION SELECT tenant, gateway FROM gateway_states WHERE tenant = $1) g
         LEFT JOIN gateway_states s ON s.tenant = g.tenant AND s.gateway = g.gateway
        ORDER BY g.gateway`,
      [tenant],
    );
    return rows.map((r) => ({ gateway: r.gateway as DeviceId, desiredVersion: r.desired, appliedVersion: r.applied, updatedAt: r.updated }));
  }
}

export class PgAuditStore implements AuditStore {
  constructor(private readonly db: PgDb) {}

  async append(e: AuditEntry): Promise<number> {
    const [r] = await this.db.rows<{ id: number }>(
      `INSERT INTO audit_log (tenant, ts, actor, action, device, property, old_value, new_value, result, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [e.tenant, e.ts, e.actor, e.action, e.device, e.property, encodeAuditValue(e.oldValue), encodeAuditValue(e.newValue), e.result, e.error],
    );
    return r!.id;
  }

  async list(tenant: TenantId, filter: { device?: string; limit: number }): Promise<AuditEntry[]> {
    const rows = filter.device
      ? await this.db.rows<AuditRow>('SELECT * FROM audit_log WHERE tenant = $1 AND device = $2 ORDER BY id DESC LIMIT $3', [
          tenant,
          filter.device,
          filter.limit,
        ])
      : await this.db.rows<AuditRow>('SELECT * FROM audit_log WHERE tenant = $1 ORDER BY id DESC LIMIT $2', [tenant, filter.limit]);
    return rows.map((r) => toAuditEntry(tenant, r));
  }
}
