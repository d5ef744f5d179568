/**
 * Small pieces the administration pages share: their strings in the chosen language, a refusal shown with the
 * platform's stable code (and a friendly text where we have one), a runner for one action at a time (and one that
 * also says what it changed), and the parts every form repeats: a labelled field, the submit row, the "done" line.
 */
import { type ReactNode, useCallback, useState } from 'react';
import { useI18n } from '../i18n-context';
import { type AdminKey, adminErrorText, adminText } from './admin-i18n';

export interface Problem {
  readonly code: string;
  readonly message: string;
}

export function toProblem(e: unknown): Problem {
  const code = e !== null && typeof e === 'object' && 'code' in e ? String(e.code) : 'IIP_ERR_CONSOLE_LOAD';
  return { code, message: e instanceof Error ? e.message : String(e) };
}

export function useAdminText(): (key: AdminKey, params?: Readonly<Record<string, string | number>>) => string {
  const { lang } = useI18n();
  return useCallback((key, params) => adminText(lang, key, params), [lang]);
}

export function ProblemLine({ problem, testId }: { problem: Problem | undefined; testId?: string }) {
  const { lang } = useI18n();
  if (!problem) return null;
  return (
    <p className="error" role="alert" data-testid={testId} data-code={problem.code}>
      <code>{problem.code}</code> {adminErrorText(lang, problem.code) ?? problem.message}
    </p>
  );
}

export interface Action {
  readonly busy: boolean;
  readonly problem: Problem | undefined;
  /** Runs `fn` unless another action runs; a refusal is kept in `problem`. Resolves true when it succeeded. */
  run(fn: () => Promise<unknown>): Promise<boolean>;
  clear(): void;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>();
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      setProblem(toProblem(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setProblem(undefined), []);
  return { busy, problem, run, clear };
}

export interface Change {
  readonly busy: boolean;
  readonly problem: Problem | undefined;
  /** What the last successful change did, for the page to show. */
  readonly message: string | undefined;
  /** Runs `fn` like `Action.run`; when it succeeds, `message` becomes `text` and the page is told to reload. */
  run(fn: () => Promise<unknown>, text: string): Promise<boolean>;
}

/** An action on something the page shows: on success it says what it did and calls `onChanged`. */
export function useChange(onChanged: () => void): Change {
  const act = useAction();
  const [message, setMessage] = useState<string | undefined>();
  const run = useCallback(
    async (fn: () => Promise<unknown>, text: string) => {
      setMessage(undefined);
      if (!(await act.run(fn))) return false;
      setMessage(text);
      onChanged();
      return true;
    },
    [act.run, onChanged],
  );
  return { busy: act.busy, problem: act.problem, message, run };
}

/** A confirmation ("Saved") under an editor; nothing while there is none. */
export function StatusLine({ message, testId }: { message: string | undefined; testId?: string }) {
  if (!message) return null;
  return (
    <p className="ok" role="status" data-testid={testId}>
      {message}
    </p>
  );
}

/** One field of an `.admin-fields` grid: its caption above the control. */
export function Field({ label, htmlFor, children }: { label: string; htmlFor?: string; children: ReactNode }) {
  return (
    <label htmlFor={htmlFor}>
      <span>{label}</span>
      {children}
    </label>
  );
}

/**
 * The foot of a panel form: the primary submit button (off while an action runs), any further buttons, and the
 * confirmation of what the last submit did.
 */
export function SubmitRow({
  busy,
  label,
  testId,
  done,
  doneTestId,
  children,
}: { busy: boolean; label: string; testId: string; done?: string | undefined; doneTestId?: string; children?: ReactNode }) {
  return (
    <div className="admin-actions">
      <button type="submit" className="primary" disabled={busy} data-testid={testId}>
        {label}
      </button>
      {children}
      {done && (
        <span className="ok" role="status" data-testid={doneTestId}>
          {done}
        </span>
      )}
    </div>
  );
}

/** Formats a time as UTC, like the audit log stores it (control rooms across time zones compare these). */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}
