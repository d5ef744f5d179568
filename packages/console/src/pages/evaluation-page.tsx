/**
 * The evaluation page (#/evaluation): choose a framework and data (a CSV upload or the synthetic example),
 * edit the judgment matrix of a sibling group with live consistency feedback from the platform's AHP
 * endpoint (green when CR < 0.1, red otherwise), set the options, run, and read the HTML report inline.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiError } from '../api-client';
import { type AhpAnswer, EvaluationApi, type FrameworkDoc, type FrameworkSummary, type RunAnswer, type RunRequest, type WeightingGroupDoc } from '../evaluation-api';
import { type EvalKey, evalText } from '../evaluation-i18n';
import { SAATY_CHOICES, formatJudgment, identityMatrix, nearestChoice, setJudgment } from '../evaluation-matrix';
import '../evaluation-page.css';
import { useI18n } from '../i18n-context';

const NORMALISATIONS = ['minmax', 'zscore', 'rank'] as const;
const AGGREGATIONS = ['arithmetic', 'geometric'] as const;
const MISSING = ['omit', 'mean', 'median', 'groupMean'] as const;
const TIERS = ['ckmeans', 'quantiles'] as const;

export function EvaluationPage({ token, onUnauthorized, tenant }: { token: string; onUnauthorized: () => void; tenant?: string }) {
  const { lang } = useI18n();
  const t = useCallback((k: EvalKey, p?: Record<string, string | number>) => evalText(lang, k, p), [lang]);
  const api = useMemo(() => new EvaluationApi(token, onUnauthorized, tenant), [token, onUnauthorized, tenant]);

  const [frameworks, setFrameworks] = useState<FrameworkSummary[] | undefined>();
  const [frameworkId, setFrameworkId] = useState('');
  const [doc, setDoc] = useState<FrameworkDoc | undefined>();
  const [matrices, setMatrices] = useState<Record<string, number[][]>>({});
  // Only groups the analyst changed are sent back; the others keep the framework's own weighting
  // (group AHP from several experts, expert-score blends) untouched.
  const [edited, setEdited] = useState<ReadonlySet<string>>(new Set());
  const [groupId, setGroupId] = useState('');
  const [useExample, setUseExample] = useState(true);
  const [csv, setCsv] = useState<{ name: string; text: string } | undefined>();
  const [opts, setOpts] = useState({ normalisation: 'minmax', aggregation: 'arithmetic', missing: 'omit', tiers: 'ckmeans', runs: 1000, allowInconsistent: false });
  const [error, setError] = useState<ApiError | undefined>();
  const [running, setRunning] = useState(false);
  const [run, setRun] = useState<RunAnswer | undefined>();
  const [reportHtml, setReportHtml] = useState<string | undefined>();

  // The report opens in the console's language, and follows it when the language is switched.
  useEffect(() => {
    if (!run) return;
    let live = true;
    api.reportHtml(run.id, lang).then(
      (html) => {
        if (live) setReportHtml(html);
      },
      (e: ApiError) => {
        if (live) setError(e);
      },
    );
    return () => {
      live = false;
    };
  }, [api, run, lang]);

  useEffect(() => {
    api.frameworks().then(
      (items) => {
        setFrameworks(items);
        setFrameworkId((cur) => cur || items[0]?.id || '');
      },
      (e: ApiError) => setError(e),
    );
  }, [api]);

  useEffect(() => {
    if (!frameworkId) return;
    let live = true;
    api.framework(frameworkId).then(
      (d) => {
        if (!live) return;
        setDoc(d);
        const start: Record<string, number[][]> = {};
        for (const g of d.groups) start[g.id] = startMatrix(g);
        setMatrices(start);
        setEdited(new Set());
        setGroupId(d.groups[0]?.id ?? '');
      },
      (e: ApiError) => setError(e),
    );
    return () => {
      live = false;
    };
  }, [api, frameworkId]);

  const names = useMemo(() => new Map((doc?.indicators ?? []).map((i) => [i.id, lang === 'zh' ? i.nameZh : i.nameEn])), [doc, lang]);
  const group = doc?.groups.find((g) => g.id === groupId);
  const matrix = group ? matrices[group.id] : undefined;

  async function onRun() {
    if (!doc) return;
    if (!useExample && !csv) {
      setError({ code: 'IIP_ERR_VALIDATION', message: t('noCsv') } as ApiError);
      return;
    }
    setRunning(true);
    setError(undefined);
    try {
      // The edited matrices go in as the framework document, so the run uses exactly what the analyst sees.
      const framework: FrameworkDoc = {
        ...doc,
        groups: doc.groups.map((g) => {
          const m = matrices[g.id];
          if (!m || !edited.has(g.id)) return g;
          const { experts: _experts, ...rest } = g;
          return { ...rest, matrix: m };
        }),
      };
      const req: RunRequest = {
        framework,
        ...(useExample ? { example: true } : { data: { csv: csv!.text, name: csv!.name } }),
        options: { normalisation: opts.normalisation, aggregation: opts.aggregation, missing: opts.missing, tiers: { method: opts.tiers }, runs: opts.runs, allowInconsistent: opts.allowInconsistent },
      };
      const r = await api.run(req);
      setReportHtml(undefined);
      setRun(r);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setRunning(false);
    }
  }

  const latest = run?.result.regional.at(-1);
  const top = latest ? [...latest.scores].sort((a, b) => a.rank - b.rank).slice(0, 5) : [];

  return (
    <main className="page eval-page">
      <div className="page-head">
        <h2>{t('title')}</h2>
        <span className="spacer" />
        <span className="muted small">{t('intro')}</span>
      </div>
      {error && (
        <p className="error" role="alert" data-testid="eval-error">
          <code>{error.code}</code> {error.message}
        </p>
      )}
      <div className="eval-grid">
        <section className="panel eval-inputs">
          <label className="eval-field">
            <span>{t('framework')}</span>
            <select data-testid="eval-framework" value={frameworkId} onChange={(e) => setFrameworkId(e.target.value)}>
              {(frameworks ?? []).map((f) => (
                <option key={f.id} value={f.id}>
                  {lang === 'zh' ? f.nameZh : f.nameEn} ({f.id})
                </option>
              ))}
            </select>
          </label>
          <fieldset className="eval-field">
            <legend>{t('data')}</legend>
            <label>
              <input type="radio" checked={useExample} onChange={() => setUseExample(true)} data-testid="eval-use-example" /> {t('useExample')}
            </label>
            <label>
              <input type="radio" checked={!useExample} onChange={() => setUseExample(false)} /> {t('uploadCsv')}
            </label>
            {!useExample && (
              <input
                type="file"
                accept=".csv,text/csv"
                data-testid="eval-csv"
                onChange={async (e) => {
                  const f = e.target.files?.[0];
                  if (f) setCsv({ name: f.name, text: await f.text() });
                }}
              />
            )}
            {!useExample && csv && <span className="muted small">{t('fileChosen', { name: csv.name, size: Math.ceil(csv.text.length / 1024) })}</span>}
          </fieldset>
          <fieldset className="eval-field eval-options">
            <legend>{t('options')}</legend>
            <Choice label={t('normalisation')} value={opts.normalisation} values={NORMALISATIONS} onChange={(v) => setOpts({ ...opts, normalisation: v })} />
            <Choice label={t('aggregation')} value={opts.aggregation} values={AGGREGATIONS} onChange={(v) => setOpts({ ...opts, aggregation: v })} />
            <Choice label={t('missing')} value={opts.missing} values={MISSING} onChange={(v) => setOpts({ ...opts, missing: v })} />
            <Choice label={t('tiers')} value={opts.tiers} values={TIERS} onChange={(v) => setOpts({ ...opts, tiers: v })} />
            <label>
              <span>{t('runs')}</span>
              <input type="number" min={0} max={5000} step={100} value={opts.runs} onChange={(e) => setOpts({ ...opts, runs: Math.max(0, Math.min(5000, Number(e.target.value) || 0)) })} />
            </label>
            <label>
              <input type="checkbox" checked={opts.allowInconsistent} onChange={(e) => setOpts({ ...opts, allowInconsistent: e.target.checked })} /> {t('allowInconsistent')}
            </label>
          </fieldset>
          <button type="button" className="eval-run" data-testid="eval-run" disabled={!doc || running} onClick={onRun}>
            {running ? t('running') : t('run')}
          </button>
        </section>

        <section className="panel eval-weights">
          <h3 className="section-title">{t('weights')}</h3>
          {doc && doc.groups.length === 0 && <p className="empty">{t('noGroups')}</p>}
          {doc && doc.groups.length > 0 && (
            <label className="eval-field">
              <span>{t('group')}</span>
              <select data-testid="eval-group" value={groupId} onChange={(e) => setGroupId(e.target.value)}>
                {doc.groups.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.parent === 'overall' ? t('groupOverall') : (names.get(g.parent) ?? g.parent)} · {g.ids.length}
                  </option>
                ))}
              </select>
            </label>
          )}
          {group && matrix && (
            <MatrixEditor
              key={group.id}
              api={api}
              groupId={group.id}
              ids={group.ids}
              labels={group.ids.map((id) => names.get(id) ?? id)}
              matrix={matrix}
              onChange={(m) => {
                setMatrices({ ...matrices, [group.id]: m });
                setEdited(new Set(edited).add(group.id));
              }}
              onReset={() => {
                setMatrices({ ...matrices, [group.id]: startMatrix(group) });
                const next = new Set(edited);
                next.delete(group.id);
                setEdited(next);
              }}
              t={t}
            />
          )}
          {run && latest && (
            <div className="eval-summary" data-testid="eval-summary">
              <h3 className="section-title">{t('top', { year: latest.year })}</h3>
              <ol>
                {top.map((s) => (
                  <li key={s.region}>
                    {s.region} <span className="muted">{s.overall.toFixed(2)}</span>
                  </li>
                ))}
              </ol>
            </div>
          )}
        </section>
      </div>

      {reportHtml && run && (
        <section className="panel eval-report-panel">
          <div className="trend-head">
            <h3 className="section-title">{t('report')}</h3>
            <span className="spacer" />
            <button
              type="button"
              className="link"
              onClick={() => {
                const url = URL.createObjectURL(new Blob([reportHtml], { type: 'text/html' }));
                window.open(url, '_blank', 'noopener');
                setTimeout(() => URL.revokeObjectURL(url), 60_000);
              }}
            >
              {t('openReport')}
            </button>
          </div>
          {/* srcdoc keeps the bearer token out of URLs; the sandbox lets the report's own script draw its charts and nothing more. */}
          <iframe className="eval-report" data-testid="eval-report" title={t('report')} sandbox="allow-scripts" srcDoc={reportHtml} />
        </section>
      )}
    </main>
  );
}

/**
 * What the grid shows first: the group's matrix, or for group AHP the cell-wise geometric mean of the
 * experts' judgments (the combined matrix the engine weighs), each on the nearest Saaty step.
 */
function startMatrix(g: WeightingGroupDoc): number[][] {
  if (g.matrix) return g.matrix.map((row) => row.map(nearestChoice));
  const experts = g.experts ?? [];
  if (experts.length === 0) return identityMatrix(g.ids.length);
  return g.ids.map((_, i) => g.ids.map((__, j) => nearestChoice(Math.exp(experts.reduce((s, m) => s + Math.log(m[i]?.[j] ?? 1), 0) / experts.length))));
}

function Choice<T extends string>({ label, value, values, onChange }: { label: string; value: string; values: readonly T[]; onChange: (v: T) => void }) {
  return (
    <label>
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value as T)}>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );
}

interface MatrixEditorProps {
  api: EvaluationApi;
  groupId: string;
  ids: string[];
  labels: string[];
  matrix: number[][];
  onChange: (m: number[][]) => void;
  onReset: () => void;
  t: (k: EvalKey, p?: Record<string, string | number>) => string;
}

/** The n × n grid: upper triangle editable on the Saaty scale, lower triangle the reciprocals, CR live. */
function MatrixEditor({ api, groupId, ids, labels, matrix, onChange, onReset, t }: MatrixEditorProps) {
  const [ahp, setAhp] = useState<AhpAnswer | undefined>();
  const [pending, setPending] = useState(false);
  const [ahpError, setAhpError] = useState<ApiError | undefined>();
  const seq = useRef(0);

  useEffect(() => {
    // Debounced so a burst of edits asks once; a late answer to an older matrix is dropped.
    const mine = ++seq.current;
    setPending(true);
    const timer = setTimeout(() => {
      api.ahp(matrix, ids, groupId).then(
        (a) => {
          if (mine !== seq.current) return;
          setAhp(a);
          setAhpError(undefined);
          setPending(false);
        },
        (e: ApiError) => {
          if (mine !== seq.current) return;
          setAhpError(e);
          setPending(false);
        },
      );
    }, 150);
    return () => clearTimeout(timer);
  }, [api, matrix, ids, groupId]);

  const state = pending ? 'pending' : ahp ? (ahp.accepted ? 'ok' : 'bad') : 'pending';
  return (
    <div className="eval-matrix">
      <p className="muted small">{t('matrixHint')}</p>
      <div className="eval-matrix-scroll">
        <table className="grid eval-matrix-grid">
          <thead>
            <tr>
              <th />
              {labels.map((l, j) => (
                <th key={ids[j]} title={ids[j]}>
                  {l}
                </th>
              ))}
              <th className="num">{t('weight')}</th>
            </tr>
          </thead>
          <tbody>
            {matrix.map((row, i) => (
              <tr key={ids[i]}>
                <th title={ids[i]}>{labels[i]}</th>
                {row.map((v, j) => (
                  <td key={ids[j]} className={i === j ? 'diag' : i < j ? 'upper' : 'lower'}>
                    {i < j ? (
                      <select
                        data-testid="eval-matrix-cell"
                        data-row={i + 1}
                        data-col={j + 1}
                        aria-label={`${labels[i]} / ${labels[j]}`}
                        value={formatJudgment(nearestChoice(v))}
                        onChange={(e) => {
                          const c = SAATY_CHOICES.find((x) => formatJudgment(x) === e.target.value) ?? 1;
                          onChange(setJudgment(matrix, i, j, c));
                        }}
                      >
                        {SAATY_CHOICES.map((c) => (
                          <option key={c} value={formatJudgment(c)}>
                            {formatJudgment(c)}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <span className={i === j ? 'muted' : ''}>{formatJudgment(v)}</span>
                    )}
                  </td>
                ))}
                <td className="num">{ahp && !pending ? `${(100 * (ahp.weights[i] ?? 0)).toFixed(1)} %` : '…'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="eval-cr-line">
        <span className={`badge eval-cr eval-cr-${state} ${state === 'ok' ? 'badge-ok' : state === 'bad' ? 'badge-bad' : 'badge-unknown'}`} data-testid="eval-cr" data-state={state} data-cr={ahp?.cr ?? ''}>
          {ahp ? t('cr', { cr: ahp.cr.toFixed(4) }) : t('crPending')}
        </span>
        <span className="muted small">{pending ? t('crPending') : ahp ? `${ahp.accepted ? t('crOk') : t('crBad')} · ${t('lambdaMax', { v: ahp.lambdaMax.toFixed(4) })}` : ''}</span>
        <span className="spacer" />
        <button type="button" className="link" onClick={onReset}>
          {t('resetMatrix')}
        </button>
      </div>
      {ahpError && (
        <p className="error" role="alert">
          <code>{ahpError.code}</code> {ahpError.message}
        </p>
      )}
    </div>
  );
}
