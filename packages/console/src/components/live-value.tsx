/**
 * One live value with its unit; briefly highlighted when it changes, so movement catches the eye. An array
 * (a waveform) shows its length and first elements, the whole list in the tooltip.
 */
import { useEffect, useRef, useState } from 'react';
import type { LatestValue, PropertySpec } from '../api-types';
import { useI18n } from '../i18n-context';
import { formatArrayFull, formatValue } from '../value-format';

export function LiveValue({ device, spec, value }: { device: string; spec: PropertySpec; value: LatestValue | undefined }) {
  const { lang } = useI18n();
  const text = formatValue(value?.value, spec.dataType, lang);
  const label = spec.name ?? spec.id;
  const raw = value?.value;
  const title = Array.isArray(raw) ? `${label}\n${formatArrayFull(raw, spec.dataType.type === 'array' ? spec.dataType : undefined, lang)}` : label;
  const prev = useRef(text);
  const [flash, setFlash] = useState(false);
  useEffect(() => {
    if (prev.current === text) return;
    prev.current = text;
    setFlash(true);
    const id = setTimeout(() => setFlash(false), 300);
    return () => clearTimeout(id);
  }, [text]);
  return (
    <span
      className={flash ? 'live-value flash' : 'live-value'}
      data-testid="live-value"
      data-device-id={device}
      data-property={spec.id}
      data-array={Array.isArray(raw) ? raw.length : undefined}
      title={title}
    >
      {text}
    </span>
  );
}
