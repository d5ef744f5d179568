/**
 * Invokes one thing-model service of a device: a field per input (checked against the input's data type
 * before anything is sent; an optional input left empty is not sent), an Invoke button, and the outcome —
 * the point writes the gateway carried out, a local problem with an input, or the platform's error code
 * (an unbound service, a failed step with the gateway's reason). Audited by the platform either way.
 */
import { type FormEvent, useState } from 'react';
import { type ApiClient, NETWORK_ERROR } from '../api-client';
import type { PointValue, ServiceSpec, ServiceState } from '../api-types';
import { useI18n } from '../i18n-context';
import { initialInput, parseWriteValue } from '../write-value';
import { ValueInput } from './value-input';
import { type ErrorOutcome, errorOutcome, problemText } from './write-control';

type Outcome = { readonly kind: 'ok' | 'invalid'; readonly text: string } | ErrorOutcome;

interface Props {
  readonly api: ApiClient;
  readonly device: string;
  readonly spec: ServiceSpec;
  /** From GET /devices/{id}/services; undefined while loading (the button stays usable then). */
  readonly state: ServiceState | undefined;
  readonly onInvoked: () => void;
}

export function ServiceControl({ api, device, spec, state, onInvoked }: Props) {
  const { t } = useI18n();
  const [inputs, setInputs] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(spec.inputs.map((i) => [i.id, i.dataType.type === 'bool' || i.dataType.type === 'enum' ? initialInput(i.dataType, undefined) : ''])),
  );
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const values: Record<string, PointValue> = {};
    for (const i of spec.inputs) {
      const raw = inputs[i.id] ?? '';
      if (!i.required && raw === '') continue;
      const parsed = parseWriteValue(i.dataType, raw);
      if (!parsed.ok) {
        setOutcome({ kind: 'invalid', text: `${i.name ?? i.id}: ${problemText(t, parsed.problem)}` });
        return;
      }
      values[i.id] = parsed.value;
    }
    setBusy(true);
    setOutcome(undefined);
    try {
      const r = await api.invokeService(device, spec.id, values);
      setOutcome({ kind: 'ok', text: t('service.ok', { writes: r.writes.map((w) => `${w.property} ← ${String(w.value)}`).join(', ') }) });
      onInvoked();
    } catch (err) {
      const failed = errorOutcome(err, t);
      setOutcome(failed);
      if (failed.code !== NETWORK_ERROR) onInvoked();
    } finally {
      setBusy(false);
    }
  }

  const result = { 'data-testid': 'service-result', 'data-service': spec.id, 'data-result': outcome?.kind };
  return (
    <form className="write service" noValidate onSubmit={submit} data-testid="service-form" data-service={spec.id}>
      <span className="service-name">
        {spec.name ?? spec.id}
        {spec.name && <span className="muted small mono"> {spec.id}</span>}
      </span>
      {spec.inputs.length === 0 && <span className="muted small">{t('service.noInputs')}</span>}
      {spec.inputs.map((i) => (
        <span key={i.id} className="service-input">
          <span className="small">
            {i.name ?? i.id}
            {i.required ? ' *' : ''}
          </span>
          <ValueInput
            dt={i.dataType}
            value={inputs[i.id] ?? ''}
            onChange={(v) => setInputs((cur) => ({ ...cur, [i.id]: v }))}
            attrs={{ 'data-testid': 'service-input', 'data-service': spec.id, 'data-input': i.id, disabled: busy, 'aria-label': i.name ?? i.id }}
          />
        </span>
      ))}
      <button type="submit" className="write-submit" data-testid="service-submit" data-service={spec.id} disabled={busy || (state !== undefined && state !== 'bound')}>
        {busy ? t('service.submitting') : t('service.submit')}
      </button>
      {state !== undefined && state !== 'bound' && (
        <span className="muted small" data-testid="service-unavailable" data-service={spec.id} data-state={state}>
          {t(`service.state.${state}`)}
        </span>
      )}
      {outcome?.kind === 'ok' && (
        <span {...result} className="write-result ok">
          ✓ {outcome.text}
        </span>
      )}
      {outcome?.kind === 'invalid' && (
        <span {...result} className="write-result error" role="alert">
          {outcome.text}
        </span>
      )}
      {outcome?.kind === 'error' && (
        <span {...result} className="write-result error" role="alert" data-code={outcome.code}>
          <code>{outcome.code}</code> {outcome.friendly ?? outcome.message}
          {outcome.friendly && <span className="muted small write-detail">{outcome.message}</span>}
        </span>
      )}
    </form>
  );
}
