/**
 * Small pieces the alarm and rule pages share: their strings in the chosen language, the severity badge, the
 * ISA-18.2 state in words, an operator action or history entry in words, and a refusal with its stable code.
 */
import { useCallback } from 'react';
import type { Problem } from '../admin/admin-ui';
import { useI18n } from '../i18n-context';
import { formatTimestamp } from '../value-format';
import { type AlarmsKey, alarmsErrorText, alarmsKey, alarmsText } from './alarms-i18n';
import type { AlarmItem, LastAction } from './alarms-model';
import './alarms.css';

export type AlarmsT = (key: AlarmsKey, params?: Readonly<Record<string, string | number>>) => string;

export function useAlarmsText(): AlarmsT {
  const { lang } = useI18n();
  return useCallback((key, params) => alarmsText(lang, key, params), [lang]);
}

/** A word from the dictionary for `prefix.value` (a state, severity, action), or the value itself when unknown. */
export function useWord(): (prefix: 'state' | 'severity' | 'action' | 'act', value: string) => string {
  const { lang } = useI18n();
  return useCallback(
    (prefix, value) => {
      const k = alarmsKey(`${prefix}.${value}`);
      return k ? alarmsText(lang, k) : value;
    },
    [lang],
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  const word = useWord();
  return (
    <span className={`badge sev sev-${severity}`} data-testid="alarm-severity" data-severity={severity}>
      {word('severity', severity)}
    </span>
  );
}

export function StateText({ alarm }: { alarm: Pick<AlarmItem, 'isaState' | 'shelving'> }) {
  const word = useWord();
  const t = useAlarmsText();
  const s = alarm.shelving;
  return (
    <span className={`isa isa-${alarm.isaState}`} data-testid="alarm-state" data-state={alarm.isaState}>
      {word('state', alarm.isaState)}
      {alarm.isaState === 'shelved' && s.kind !== 'unshelved' && (
        <span className="muted small"> {s.kind === 'timed' ? t('shelved.until', { time: formatTimestamp(s.until) }) : t('shelved.oneShot')}</span>
      )}
    </span>
  );
}

export function LastActionText({ action }: { action: LastAction | null }) {
  const word = useWord();
  if (!action) return <span className="muted">—</span>;
  return (
    <span data-testid="alarm-last-action" data-type={action.type} data-user={action.user}>
      {word('action', action.type)} · {action.user} · <span className="nowrap">{formatTimestamp(action.at)}</span>
      {action.comment && <span className="alarm-comment"> “{action.comment}”</span>}
    </span>
  );
}

export function AlarmProblem({ problem, testId }: { problem: Problem | undefined; testId?: string }) {
  const { lang } = useI18n();
  if (!problem) return null;
  return (
    <p className="error small" role="alert" data-testid={testId} data-code={problem.code}>
      <code>{problem.code}</code> {alarmsErrorText(lang, problem.code) ?? problem.message}
    </p>
  );
}
