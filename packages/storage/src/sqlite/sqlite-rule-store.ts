/**
 * RuleStore on SQLite (rule-ports.ts): rule documents as JSON text with their version, and each rule's
 * evaluation state per device. A version check and its write are one statement (an UPDATE … WHERE version = ?
 * or an INSERT … ON CONFLICT), so two processes on one file cannot both save over the same version.
 */
import type Database from 'better-sqlite3';
import type { TenantId } from '@iip/core';
import { jsonText, type RuleRow, type RuleStateRow, type RuleStore, ruleVersionConflict, type StoredRule, toStoredRule } from '../rule-ports.js';

export class SqliteRuleStore implements RuleStore {
  private readonly s;
  private readonly deleteTx: (tenant: TenantId, id: string) => boolean;
  private readonly saveStatesTx: (tenant: TenantId, rows: ReadonlyArray<readonly [string, string, string]>) => void;

  constructor(db: Database.Database) {
    this.s = {
      upsert: db.prepare(
        `INSERT INTO rules (tenant, id, version, doc, enabled, updated_at, updated_by) VALUES (@tenant, @id, 1, @doc, @enabled, @updatedAt, @updatedBy)
         ON CONFLICT (tenant, id) DO UPDATE SET version = version + 1, doc = excluded.doc, enabled = excluded.enabled,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by
         RETURNING *`,
      ),
      insertNew: db.prepare(
        `INSERT INTO rules (tenant, id, version, doc, enabled, updated_at, updated_by) VALUES (@tenant, @id, 1, @doc, @enabled, @updatedAt, @updatedBy)
         ON CONFLICT (tenant, id) DO NOTHING RETURNING *`,
      ),
      replace: db.prepare(
        `UPDATE rules SET version = version + 1, doc = @doc, enabled = @enabled, updated_at = @updatedAt, updated_by = @updatedBy
          WHERE tenant = @tenant AND id = @id AND version = @expected RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM rules WHERE tenant = ? AND id = ?'),
      list: db.prepare('SELECT * FROM rules WHERE tenant = ? ORDER BY id'),
      listEnabled: db.prepare('SELECT * FROM rules WHERE enabled = 1 ORDER BY tenant, id'),
      deleteRule: db.prepare('DELETE FROM rules WHERE tenant = ? AND id = ?'),
      clearStates: db.prepare('DELETE FROM rule_states WHERE tenant = ? AND rule = ?'),
      saveState: db.prepare(
        'INSERT INTO rule_states (tenant, rule, device, state) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, rule, device) DO UPDATE SET state = excluded.state',
      ),
      loadStates: db.prepare('SELECT rule, device, state FROM rule_states WHERE tenant = ? AND rule = ? ORDER BY device'),
    };
    this.deleteTx = db
      .transaction((tenant: TenantId, id: string): boolean => {
        this.s.clearStates.run(tenant, id);
        return this.s.deleteRule.run(tenant, id).changes > 0;
      })
      .immediate;
    this.saveStatesTx = db
      .transaction((tenant: TenantId, rows: ReadonlyArray<readonly [string, string, string]>) => {
        for (const [rule, device, state] of rows) this.s.saveState.run(tenant, rule, device, state);
      })
      .immediate;
  }

  async putRule(r: Omit<StoredRule, 'version'>, expectedVersion?: number): Promise<StoredRule> {
    const params = { tenant: r.tenant, id: r.id, doc: jsonText(r.doc, 'doc'), enabled: r.enabled ? 1 : 0, updatedAt: r.updatedAt, updatedBy: r.updatedBy };
    let row: RuleRow | undefined;
    if (expectedVersion === undefined) row = this.s.upsert.get(params) as RuleRow;
    else if (expectedVersion === 0) row = this.s.insertNew.get(params) as RuleRow | undefined;
    else row = this.s.replace.get({ ...params, expected: expectedVersion }) as RuleRow | undefined;
    if (!row) {
      const current = this.s.get.get(r.tenant, r.id) as RuleRow | undefined;
      throw ruleVersionConflict(r.tenant, r.id, expectedVersion ?? 0, current?.version ?? 0);
    }
    return toStoredRule(row);
  }

  async getRule(tenant: TenantId, id: string): Promise<StoredRule | undefined> {
    const row = this.s.get.get(tenant, id) as RuleRow | undefined;
    return row ? toStoredRule(row) : undefined;
  }

  async listRules(tenant: TenantId): Promise<StoredRule[]> {
    return (this.s.list.all(tenant) as RuleRow[]).map(toStoredRule);
  }

  async listEnabledRules(): Promise<StoredRule[]> {
    return (this.s.listEnabled.all() as RuleRow[]).map(toStoredRule);
  }

  async deleteRule(tenant: TenantId, id: string): Promise<boolean> {
    return this.deleteTx(tenant, id);
  }

  async saveStates(tenant: TenantId, rows: readonly RuleStateRow[]): Promise<void> {
    // Serialised first: a state that is not JSON fails here, before anything is written.
    const encoded = rows.map((r) => [r.rule, r.device, jsonText(r.state, 'state')] as const);
    if (encoded.length > 0) this.saveStatesTx(tenant, encoded);
  }

  async loadStates(tenant: TenantId, rule: string): Promise<RuleStateRow[]> {
    return (this.s.loadStates.all(tenant, rule) as Array<{ rule: string; device: string; state: string }>).map((r) => ({
      rule: r.rule,
      device: r.device as RuleStateRow['device'],
      state: JSON.parse(r.state) as unknown,
    }));
  }

  async clearStates(tenant: TenantId, rule: string): Promise<void> {
    this.s.clearStates.run(tenant, rule);
  }
}
