/**
 * Writes one rw property: an input that fits the data type (number, checkbox, select, text), a button, and
 * the outcome (an array property gets a note instead: the console does not write arrays) — the old → new value, a local validation problem, or the platform's error code. The write
 * goes to the device through its edge gateway, so it can take seconds; the button stays busy meanwhile.
 */
import { type FormEvent, useState } from 'react';
import { ApiError, type ApiClient, NETWORK_ERROR } from '../api-client';
import type { LatestValue, PropertySpec } from '../api-types';
import { useI18n } from '../i18n-context';
import { errorKey } from '../i18n-dictionary';
import { formatValue } from '../value-format';
import { initialInput, parseWriteValue, type WriteProblem } from '../write-value';
import { ArrayNote, ValueInput } from './value-input';

/** What the platform (or the network) answered to a write or a service call that failed. */
export interface ErrorOutcome {
  readonly kind: 'error';
  readonly code: string;
  readonly friendly: string | undefined;
  readonly message: string;
}

/** The platform's stable code, a friendly text in the console's language where we have one, and the raw message. */
export function errorOutcome(err: unknown, t: ReturnType<typeof useI18n>['t']): ErrorOutcome {
  const code = err instanceof ApiError ? err.code : NETWORK_ERROR;
  const key = errorKey(code);
  return { kind: 'error', code, friendly: key ? t(key) : undefined, message: err instanceof Error ? err.message : String(err) };
}

type Outcome = { readonly kind: 'ok'; readonly text: string } | { readonly kind: 'invalid'; readonly problem: WriteProblem } | ErrorOutcome;

interface Props {
  readonly api: ApiClient;
  readonly device: string;
  readonly spec: PropertySpec;
  readonly current: LatestValue | undefined;
  /** Called after every attempt that reached the platform (it is audited either way). */
  readonly onWritten: () => void;
}

export function WriteControl({ api, device, spec, current, onWritten }: Props) {
  const { t, lang } = useI18n();
  const dt = spec.dataType;
  // The input starts from the value at first render and is the operator's from then on: live updates
  // arriving while someone types must not overwrite what they typed.
  const [input, setInput] = useState<string | boolean>(() => initialInput(dt, current?.value));
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const parsed = parseWriteValue(dt, input);
    if (!parsed.ok) {
      setOutcome({ kind: 'invalid', problem: parsed.problem });
      return;
    }
    setBusy(true);
    setOutcome(undefined);
    try {
      const r = await api.writeProperty(device, spec.id, parsed.value);
      setOutcome({ kind: 'ok', text: t('write.ok', { old: formatValue(r.oldValue, dt, lang), new: formatValue(r.newValue, dt, lang) }) });
      onWritten();
    } catch (err) {
      const failed = errorOutcome(err, t);
      setOutcome(failed);
      if (failed.code !== NETWORK_ERROR) onWritten();
    } finally {
      setBusy(false);
    }
  }

  const common = { 'data-testid': 'write-input', 'data-property': spec.id, disabled: busy, 'aria-label': spec.name ?? spec.id };
  // No form for an array property: an input that cannot hold a waveform would only invite a broken write.
  if (dt.type === 'array') return <ArrayNote attrs={common} />;
  const field = <ValueInput dt={dt} value={input} onChange={setInput} attrs={common} />;

  return (
    // noValidate: parseWriteValue checks range and type and says so in the console's language, where the
    // browser's own bubble would use the browser's.
    <form className="write" noValidate onSubmit={submit}>
      {field}
      <button type="submit" className="write-submit" data-testid="write-submit" data-property={spec.id} disabled={busy}>
        {busy ? t('write.submitting') : t('write.submit')}
      </button>
      {outcome && <WriteOutcome outcome={outcome} property={spec.id} />}
    </form>
  );
}

/** The text for a value an operator typed that the thing model does not allow. */
export function problemText(t: ReturnType<typeof useI18n>['t'], p: WriteProblem): string {
  return p.kind === 'belowMin'
    ? t('write.problem.belowMin', { min: p.min })
    : p.kind === 'aboveMax'
      ? t('write.problem.aboveMax', { max: p.max })
      : p.kind === 'tooLong'
        ? t('write.problem.tooLong', { maxLength: p.maxLength })
        : t(`write.problem.${p.kind}`);
}

function WriteOutcome({ outcome, property }: { outcome: Outcome; property: string }) {
  const { t } = useI18n();
  const base = { 'data-testid': 'write-result', 'data-property': property, 'data-result': outcome.kind };
  switch (outcome.kind) {
    case 'ok':
      return (
        <span {...base} className="write-result ok">
          ✓ {outcome.text}
        </span>
      );
    case 'invalid': {
      const text = problemText(t, outcome.problem);
      return (
        <span {...base} className="write-result error" role="alert">
          {text}
        </span>
      );
    }
    case 'error':
      return (
        <span {...base} className="write-result error" role="alert" data-code={outcome.code}>
          <code>{outcome.code}</code> {outcome.friendly ?? outcome.message}
          {/* The platform's text names what the gateway said (e.g. the Modbus exception); keep it in view. */}
          {outcome.friendly && <span className="muted small write-detail">{outcome.message}</span>}
        </span>
      );
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
