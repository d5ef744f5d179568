/**
 * Gateway desired configs (append-only versions), reported states, and the audit log, in the embedded file.
 * `async` methods over better-sqlite3's synchronous statements; a refusal is a rejected promise.
 */
import type Database from 'better-sqlite3';
import { type DeviceId, IipError, type TenantId } from '@iip/core';
import type { AuditEntry, AuditStore, GatewayConfigRecord, GatewayStateRecord, GatewayStore } from '../ports.js';
import { type AuditRow, type ConfigRow, encodeAuditValue, toAuditEntry, toGatewayConfig } from '../rows.js';


export class SqliteGatewayStore implements GatewayStore {
  private readonly latestStmt;
  private readonly insertStmt;
  private readonly stateUpsert;
  private readonly stateGet;
  private readonly listStmt;

  constructor(private readonly db: Database.Database) {
    this.latestStmt = db.prepare('SELECT * FROM gateway_configs WHERE tenant = ? AND gateway = ? ORDER BY version DESC LIMIT 1');
    this.insertStmt = db.prepare(
      'INSERT INTO gateway_configs (tenant, gateway, version, config, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.stateUpsert = db.prepare(
      `INSERT INTO gateway_states (tenant, gateway, applied_version, state, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant, gateway) DO UPDATE SET applied_version = excluded.applied_version, state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.stateGet = db.prepare('SELECT * FROM gateway_states WHERE tenant = ? AND gateway = ?');
    this.listStmt = db.prepare(
      `SELECT g.gateway AS gateway, (SELECT max(version) FROM gateway_configs c WHERE c.tenant = g.tenant AND c.gateway = g.gateway) AS desired,
              s.applied_version AS applied, s.updated_at AS updated
         FROM (SELECT DISTINCT tenant, gateway FROM gateway_configs WHERE tenant = @t
               UNION SELECT tenant, gateway FROM gateway_states WHERE tenant = @t) g
         LEFT JOIN gateway_states s ON s.tenant = g.tenant AND s.gateway = g.gateway
        ORDER BY g.gateway`,
    );
  }

  async saveConfig(r: GatewayConfigRecord): Promise<void> {
    this.db.transaction(() => {
      const latest = (this.latestStmt.get(r.tenant, r.gateway) as ConfigRow | undefined)?.version ?? 0;
      if (r.version !== latest + 1) {
        throw new IipError('IIP_ERR_CONFLICT', `gateway "${r.gateway}" config version ${r.version} is not the next version (latest ${latest})`, {
          gateway: r.gateway,
          latest,
        });
      }
      this.insertStmt.run(r.tenant, r.gateway, r.version, JSON.stringify(r.config), r.createdAt, r.createdBy);
    }).immediate();
  }

  async latestConfig(tenant: TenantId, gateway: DeviceId): Promise<GatewayConfigRecord | undefined> {
    const row = this.latestStmt.get(tenant, gateway) as ConfigRow | undefined;
    if (!row) return undefined;
    return toGatewayConfig(row);
  }

  async saveState(r: GatewayStateRecord): Promise<void> {
    this.stateUpsert.run(r.tenant, r.gateway, r.appliedVersion, JSON.stringify(r.state), r.updatedAt);
  }

  async getState(tenant: TenantId, gateway: DeviceId): Promise<GatewayStateRecord | undefined> {
    const row = this.stateGet.get(tenant, gateway) as { applied_version: number | null; state: string; updated_at: number } | undefined;
    if (!row) return undefined;
    return { tenant, gateway, appliedVersion: row.applied_version, state: JSON.parse(row.state) as Record<string, unknown>, updatedAt: row.updated_at };
  }

  async listGateways(
    tenant: TenantId,
  ): Promise<Array<{ gateway: DeviceId; desiredVersion: number | null; appliedVersion: number | null; updatedAt: number | null }>> {
    return (this.listStmt.all({ t: tenant }) as Array<{ gateway: string; desired: number | null; applied: number | null; updated: number | null }>).map((r) => ({
      gateway: r.gateway as DeviceId,
      desiredVersion: r.desired,
      appliedVersion: r.applied,
      updatedAt: r.updated,
    }));
  }
}

export class SqliteAuditStore implements AuditStore {
  private readonly insert;
  private readonly byTenant;
  private readonly byDevice;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO audit_log (tenant, ts, actor, action, device, property, old_value, new_value, result, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.byTenant = db.prepare('SELECT * FROM audit_log WHERE tenant = ? ORDER BY id DESC LIMIT ?');
    this.byDevice = db.prepare('SELECT * FROM audit_log WHERE tenant = ? AND device = ? ORDER BY id DESC LIMIT ?');
  }

  async append(e: AuditEntry): Promise<number> {
    const r = this.insert.run(e.tenant, e.ts, e.actor, e.action, e.device, e.property, encodeAuditValue(e.oldValue), encodeAuditValue(e.newValue), e.result, e.error);
    return Number(r.lastInsertRowid);
  }

  async list(tenant: TenantId, filter: { device?: string; limit: number }): Promise<AuditEntry[]> {
    const rows = (filter.device ? this.byDevice.all(tenant, filter.device, filter.limit) : this.byTenant.all(tenant, filter.limit)) as AuditRow[];
    return rows.map((r) => toAuditEntry(tenant, r));
  }
}
