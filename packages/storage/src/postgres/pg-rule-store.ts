/**
 * RuleStore on PostgreSQL (rule-ports.ts): rule documents as JSON text with their version, and each rule's
 * evaluation state per device. A version check and its write are one statement (an UPDATE … WHERE version = $n
 * or an INSERT … ON CONFLICT), so of two processes saving over the same version exactly one succeeds.
 */
import type { TenantId } from '@iip/core';
import { jsonText, type RuleRow, type RuleStateRow, type RuleStore, ruleVersionConflict, type StoredRule, toStoredRule } from '../rule-ports.js';
import type { PgDb } from './pg-db.js';

const COLUMNS = 'tenant, id, version, doc, enabled, updated_at, updated_by';

export class PgRuleStore implements RuleStore {
  constructor(private readonly db: PgDb) {}

  async putRule(r: Omit<StoredRule, 'version'>, expectedVersion?: number): Promise<StoredRule> {
    const params = [r.tenant, r.id, jsonText(r.doc, 'doc'), r.enabled, r.updatedAt, r.updatedBy];
    let rows: RuleRow[];
    if (expectedVersion === undefined) {
      rows = await this.db.rows<RuleRow>(
        `INSERT INTO rules (${COLUMNS}) VALUES ($1, $2, 1, $3, $4, $5, $6)
         ON CONFLICT (tenant, id) DO UPDATE SET version = rules.version + 1, doc = excluded.doc, enabled = excluded.enabled,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by
         RETURNING *`,
        params,
      );
    } else if (expectedVersion === 0) {
      rows = await this.db.rows<RuleRow>(`INSERT INTO rules (${COLUMNS}) VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT (tenant, id) DO NOTHING RETURNING *`, params);
    } else {
      rows = await this.db.rows<RuleRow>(
        `UPDATE rules SET version = version + 1, doc = $3, enabled = $4, updated_at = $5, updated_by = $6
          WHERE tenant = $1 AND id = $2 AND version = $7 RETURNING *`,
        [...params, expectedVersion],
      );
    }
    const row = rows[0];
    if (!row) throw ruleVersionConflict(r.tenant, r.id, expectedVersion ?? 0, (await this.getRule(r.tenant, r.id))?.version ?? 0);
    return toStoredRule(row);
  }

  async getRule(tenant: TenantId, id: string): Promise<StoredRule | undefined> {
    const [row] = await this.db.rows<RuleRow>('SELECT * FROM rules WHERE tenant = $1 AND id = $2', [tenant, id]);
    return row ? toStoredRule(row) : undefined;
  }

  async listRules(tenant: TenantId): Promise<StoredRule[]> {
    return (await this.db.rows<RuleRow>('SELECT * FROM rules WHERE tenant = $1 ORDER BY id', [tenant])).map(toStoredRule);
  }

  async listEnabledRules(): Promise<StoredRule[]> {
    return (await this.db.rows<RuleRow>('SELECT * FROM rules WHERE enabled ORDER BY tenant, id')).map(toStoredRule);
  }

  async deleteRule(tenant: TenantId, id: string): Promise<boolean> {
    return this.db.tx(async (c) => {
      // The rule and its states together, or neither.
      const { rowCount } = await c.query('DELETE FROM rules WHERE tenant = $1 AND id = $2', [tenant, id]);
      await c.query('DELETE FROM rule_states WHERE tenant = $1 AND rule = $2', [tenant, id]);
      return (rowCount ?? 0) > 0;
    });
  }

  async saveStates(tenant: TenantId, rows: readonly RuleStateRow[]): Promise<void> {
    if (rows.length === 0) return;
    // Serialised first: a state that is not JSON fails here, before anything is written. One statement, so all
    // or nothing; a (rule, device) given twice keeps the last (ON CONFLICT cannot touch a row twice).
    const last = new Map<string, readonly [string, string, string]>();
    for (const r of rows) last.set(`${r.rule}\u0000${r.device}`, [r.rule, r.device, jsonText(r.state, 'state')]);
    const unique = [...last.values()];
    await this.db.query(
      `INSERT INTO rule_states (tenant, rule, device, state)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
       ON CONFLICT (tenant, rule, device) DO UPDATE SET state = excluded.state`,
      [tenant, unique.map((u) => u[0]), unique.map((u) => u[1]), unique.map((u) => u[2])],
    );
  }

  async loadStates(tenant: TenantId, rule: string): Promise<RuleStateRow[]> {
    const rows = await this.db.rows<{ rule: string; device: string; state: string }>(
      'SELECT rule, device, state FROM rule_states WHERE tenant = $1 AND rule = $2 ORDER BY device',
      [tenant, rule],
    );
    return rows.map((r) => ({ rule: r.rule, device: r.device as RuleStateRow['device'], state: JSON.parse(r.state) as unknown }));
  }

  async clearStates(tenant: TenantId, rule: string): Promise<void> {
    await this.db.query('DELETE FROM rule_states WHERE tenant = $1 AND rule = $2', [tenant, rule]);
  }
}
