/**
 * 规则 / Rules: the tenant's rules (those the user may read) and a JSON editor to create or change one. "Check"
 * asks the platform (POST /rules/validate) and shows a refusal's code, message, field and position where the
 * rule is typed; "Save" creates (POST) or replaces with the version read (PUT), so a rule saved by someone else
 * meanwhile is refused with IIP_ERR_CONFLICT and said so; delete asks first. Write buttons need rules:edit.
 * "Backtest" runs the rule in the editor over the stored history, refused in the same place as Check
 * (rule-backtest/). Below, what the rules' actions delivered (rule-actions/rule-actions-panel.tsx).
 */
import { useCallback, useEffect, useState } from 'react';
import { hasAnywhere } from '../admin/admin-access';
import { type Problem, toProblem } from '../admin/admin-ui';
import { ApiError, type ApiClient } from '../api-client';
import type { AccessSummary } from '../api-types';
import { localName } from '../events/events-model';
import { useI18n } from '../i18n-context';
import { RuleActionsPanel } from '../rule-actions/rule-actions-panel';
import { BacktestControls, BacktestResult, useRuleBacktest } from '../rule-backtest/rule-backtest';
import { conditionSummary, editableJson, parseRuleJson, ruleTemplate, rulesApi, type StoredRuleDoc, withoutStoredFields } from './alarms-model';
import { SeverityBadge, useAlarmsText } from './alarms-ui';

/** A refusal with what the platform said about where (details.field, details.position). */
interface RuleProblem extends Problem {
  readonly field?: string;
  readonly position?: string;
}

function toRuleProblem(e: unknown): RuleProblem {
  const p = toProblem(e);
  const raw = e instanceof ApiError ? e.details : undefined;
  const d = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
  return { ...p, ...(d?.field !== undefined && { field: String(d.field) }), ...(d?.position !== undefined && { position: String(d.position) }) };
}

interface Editor {
  /** undefined: a new rule (POST). */
  readonly id: string | undefined;
  readonly version: number | undefined;
  readonly text: string;
}

export function RulesPage({ api, access }: { api: ApiClient; access: AccessSummary | undefined }) {
  const t = useAlarmsText();
  const { lang } = useI18n();
  const canEdit = hasAnywhere(access, 'rules:edit');
  const [rules, setRules] = useState<StoredRuleDoc[] | undefined>();
  const [loadProblem, setLoadProblem] = useState<Problem | undefined>();
  const [editor, setEditor] = useState<Editor | undefined>();
  const [problem, setProblem] = useState<RuleProblem | undefined>();
  const [conflictVersion, setConflictVersion] = useState<number | undefined>();
  const [status, setStatus] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState<string | undefined>();
  const backtest = useRuleBacktest(api);

  const reload = useCallback(async () => {
    try {
      setRules(await rulesApi.list(api));
      setLoadProblem(undefined);
    } catch (e) {
      setLoadProblem(toProblem(e));
    }
  }, [api]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const startNew = async () => {
    setProblem(undefined);
    setStatus(undefined);
    setConflictVersion(undefined);
    let product = 'my-product';
    let property = 'temperature';
    try {
      const products = await api.products();
      const p = products[0];
      if (p) {
        product = p.id;
        property = p.model.properties.find((x) => x.dataType.type === 'float' || x.dataType.type === 'int')?.id ?? property;
      }
    } catch {
      // the template keeps its placeholders
    }
    backtest.clear();
    setEditor({ id: undefined, version: undefined, text: ruleTemplate(product, property) });
  };

  const startEdit = (r: StoredRuleDoc) => {
    setProblem(undefined);
    setStatus(undefined);
    setConflictVersion(undefined);
    backtest.clear();
    setEditor({ id: r.id, version: r.version, text: editableJson(r) });
  };

  /** Runs `fn` on the parsed document; a JSON syntax error or a refusal is shown under the editor. */
  async function withDoc(fn: (doc: Record<string, unknown>) => Promise<void>) {
    if (!editor) return;
    setProblem(undefined);
    setStatus(undefined);
    setConflictVersion(undefined);
    const parsed = parseRuleJson(editor.text);
    if (!parsed.ok) {
      setProblem({ code: 'IIP_ERR_CONSOLE_JSON', message: t('rules.badJson', { message: parsed.message }) });
      return;
    }
    setBusy(true);
    try {
      await fn(parsed.doc);
    } catch (e) {
      const p = toRuleProblem(e);
      setProblem(p);
      if (p.code === 'IIP_ERR_CONFLICT' && editor.id !== undefined) {
        // Say which version is stored now, so the user knows someone saved meanwhile.
        const now = (await rulesApi.list(api).catch(() => [])).find((r) => r.id === editor.id);
        setConflictVersion(now?.version);
      }
    } finally {
      setBusy(false);
    }
  }

  const check = () =>
    withDoc(async (doc) => {
      const r = await rulesApi.validate(api, doc);
      setStatus(t('rules.valid', { properties: r.properties.join(', ') || '—' }));
    });

  const save = () =>
    withDoc(async (doc) => {
      const body = withoutStoredFields(doc);
      const saved = editor?.id !== undefined && editor.version !== undefined ? await rulesApi.replace(api, editor.id, body, editor.version) : await rulesApi.create(api, body);
      setEditor({ id: saved.id, version: saved.version, text: editableJson(saved) });
      setStatus(t('rules.saved', { id: saved.id, version: saved.version }));
      await reload();
    });

  async function remove(id: string) {
    setBusy(true);
    setProblem(undefined);
    setStatus(undefined);
    try {
      await rulesApi.remove(api, id);
      setConfirmDelete(undefined);
      if (editor?.id === id) setEditor(undefined);
      setStatus(t('rules.deleted', { id }));
      await reload();
    } catch (e) {
      setProblem(toRuleProblem(e));
    } finally {
      setBusy(false);
    }
  }

  const scopeText = (r: StoredRuleDoc) => {
    const s = r.scope;
    if (s?.devices && s.devices.length > 0) return t('rules.scope.devices', { n: s.devices.length });
    if (s?.asset) return t('rules.scope.asset', { asset: s.asset });
    return t('rules.scope.all');
  };

  return (
    <main className="page admin-page rules-page" data-testid="rules-page">
      <div className="page-head">
        <h2>{t('rules.title')}</h2>
        <span className="muted small">{t('rules.hint')}</span>
        <span className="spacer" />
        {canEdit && (
          <button type="button" className="primary" data-testid="rule-new" onClick={() => void startNew()}>
            {t('rules.new')}
          </button>
        )}
      </div>
      {loadProblem && <RuleProblemLine problem={loadProblem} testId="rules-error" />}
      {rules && rules.length === 0 && (
        <p className="empty" data-testid="rules-empty">
          {t('rules.none')}
        </p>
      )}
      {rules && rules.length > 0 && (
        <table className="grid compact" data-testid="rules-table">
          <thead>
            <tr>
              <th>{t('rules.col.id')}</th>
              <th>{t('rules.col.name')}</th>
              <th>{t('rules.col.product')}</th>
              <th>{t('rules.col.scope')}</th>
              <th>{t('rules.col.condition')}</th>
              <th>{t('col.severity')}</th>
              <th>{t('rules.col.enabled')}</th>
              <th className="num">{t('rules.col.version')}</th>
              {canEdit && <th />}
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.id} data-testid="rule-row" data-id={r.id} data-version={r.version} className={editor?.id === r.id ? 'selected' : ''}>
                <td className="mono">{r.id}</td>
                <td>{localName(r.name, r.id, lang)}</td>
                <td className="mono small">{r.scope?.product}</td>
                <td className="small">{scopeText(r)}</td>
                <td className="mono small" data-testid="rule-condition">
                  {conditionSummary(r)}
                </td>
                <td>
                  <SeverityBadge severity={r.alarm?.severity ?? 'medium'} />
                </td>
                <td>{r.enabled === false ? t('rules.no') : t('rules.yes')}</td>
                <td className="num mono">{r.version}</td>
                {canEdit && (
                  <td className="admin-row-actions nowrap">
                    {confirmDelete === r.id ? (
                      <span data-testid="rule-delete-confirm">
                        {t('rules.deleteConfirm', { id: r.id })}{' '}
                        <button type="button" className="danger" disabled={busy} data-testid="rule-delete-yes" onClick={() => void remove(r.id)}>
                          {t('rules.deleteYes')}
                        </button>{' '}
                        <button type="button" data-testid="rule-delete-no" onClick={() => setConfirmDelete(undefined)}>
                          {t('rules.cancel')}
                        </button>
                      </span>
                    ) : (
                      <>
                        <button type="button" data-testid="rule-edit" onClick={() => startEdit(r)}>
                          {t('rules.edit')}
                        </button>{' '}
                        <button type="button" className="danger" data-testid="rule-delete" onClick={() => setConfirmDelete(r.id)}>
                          {t('rules.delete')}
                        </button>
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!editor && (status || problem) && (
        <>
          {status && (
            <p className="ok" role="status" data-testid="rule-status">
              {status}
            </p>
          )}
          {problem && <RuleProblemLine problem={problem} testId="rule-problem" />}
        </>
      )}
      {editor && (
        <section className="panel rule-editor" data-testid="rule-editor">
          <h3>{editor.id === undefined ? t('rules.editorNew') : t('rules.editorEdit', { id: editor.id, version: editor.version ?? '?' })}</h3>
          <textarea
            data-testid="rule-json"
            spellCheck={false}
            className={problem ? 'bad' : ''}
            value={editor.text}
            onChange={(e) => setEditor({ ...editor, text: e.target.value })}
          />
          {problem && <RuleProblemLine problem={problem} testId="rule-problem" />}
          {problem?.code === 'IIP_ERR_CONFLICT' && editor.id !== undefined && (
            <p className="notice" data-testid="rule-conflict">
              {t('rules.conflict', { version: conflictVersion ?? '?' })}{' '}
              <button
                type="button"
                data-testid="rule-reload"
                onClick={() => {
                  const r = rules?.find((x) => x.id === editor.id);
                  if (r) startEdit(r);
                }}
              >
                {t('rules.reload')}
              </button>
            </p>
          )}
          {status && (
            <p className="ok" role="status" data-testid="rule-status">
              {status}
            </p>
          )}
          <div className="admin-actions">
            <button type="button" disabled={busy} data-testid="rule-check" onClick={() => void check()}>
              {t('rules.check')}
            </button>
            <BacktestControls backtest={backtest} disabled={busy} onRun={() => void withDoc(backtest.start)} />
            {canEdit && (
              <button type="button" className="primary" disabled={busy} data-testid="rule-save" onClick={() => void save()}>
                {t('rules.save')}
              </button>
            )}
            <button
              type="button"
              data-testid="rule-cancel"
              onClick={() => {
                setEditor(undefined);
                setProblem(undefined);
                setStatus(undefined);
                backtest.clear();
              }}
            >
              {t('rules.cancel')}
            </button>
          </div>
          <BacktestResult api={api} backtest={backtest} />
        </section>
      )}
      <RuleActionsPanel api={api} access={access} />
    </main>
  );
}

function RuleProblemLine({ problem, testId }: { problem: RuleProblem; testId: string }) {
  const t = useAlarmsText();
  return (
    <div className="error small" role="alert" data-testid={testId} data-code={problem.code} data-field={problem.field ?? ''}>
      <p>
        <code>{problem.code}</code> <span data-testid="rule-problem-message">{problem.message}</span>
      </p>
      {problem.field !== undefined && <p data-testid="rule-problem-field">{t('rules.field', { field: problem.field })}</p>}
      {problem.position !== undefined && <p data-testid="rule-problem-position">{t('rules.position', { position: problem.position })}</p>}
    </div>
  );
}
