/**
 * Small pieces the administration pages share: their strings in the chosen language, a refusal shown with the
 * platform's stable code (and a friendly text where we have one), and a runner for one action at a time.
 */
import { useCallback, useState } from 'react';
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

/** Formats a time as UTC, like the audit log stores it (control rooms across time zones compare these). */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}
