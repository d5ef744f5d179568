/**
 * Loads something now and again every `intervalMs` while the component is mounted, for data the platform
 * does not stream (gateway reports, the audit log). A slow request is never overlapped by the next one, a
 * failed refresh keeps the last good data beside the error, and `reload()` refreshes at once (after a write).
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Poll<T> {
  readonly data: T | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
  /** Time of the last successful load. */
  readonly loadedAt: number | undefined;
  reload(): void;
}

function toError(e: unknown): { code: string; message: string } {
  const code = e !== null && typeof e === 'object' && 'code' in e ? String(e.code) : 'IIP_ERR_CONSOLE_LOAD';
  return { code, message: e instanceof Error ? e.message : String(e) };
}

/** `load` should be stable (useCallback); a new one starts over with no data. */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number): Poll<T> {
  const [state, setState] = useState<Omit<Poll<T>, 'reload'>>({ data: undefined, error: undefined, loadedAt: undefined });
  const kick = useRef<() => void>(() => undefined);

  useEffect(() => {
    let stopped = false;
    let running = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({ data: undefined, error: undefined, loadedAt: undefined });
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      clearTimeout(timer);
      try {
        const data = await load();
        if (!stopped) setState({ data, error: undefined, loadedAt: Date.now() });
      } catch (e) {
        if (!stopped) setState((s) => ({ ...s, error: toError(e) }));
      } finally {
        running = false;
        if (!stopped) {
          if (again) {
            again = false;
            void run();
          } else {
            timer = setTimeout(run, intervalMs);
          }
        }
      }
    };
    kick.current = () => void run();
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [load, intervalMs]);

  const reload = useCallback(() => kick.current(), []);
  return { ...state, reload };
}
