/**
 * The input for one value of a thing-model data type: a checkbox for bool, a select for enum, a number field
 * with the model's range for int/float, a text field with its length limit for string; for an array a note that
 * the console cannot enter one (the API can). Used by property writes and service calls, which check what was
 * typed with parseWriteValue before anything is sent.
 */
import type { ReactElement } from 'react';
import type { DataType } from '../api-types';
import { useI18n } from '../i18n-context';

interface Props {
  readonly dt: DataType;
  readonly value: string | boolean;
  readonly onChange: (v: string | boolean) => void;
  /** data-testid, data-* attributes, disabled, aria-label… passed to the element. */
  readonly attrs: Readonly<Record<string, unknown>>;
}

export function ValueInput({ dt, value, onChange, attrs }: Props): ReactElement {
  switch (dt.type) {
    case 'bool':
      return <input {...attrs} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
    case 'enum':
      return (
        <select {...attrs} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          {dt.values.map((v) => (
            <option key={v.value} value={v.value}>
              {v.text ?? v.value}
            </option>
          ))}
        </select>
      );
    case 'int':
    case 'float':
      return (
        <input
          {...attrs}
          className="write-number"
          type="number"
          step={dt.type === 'int' ? 1 : 'any'}
          min={dt.min}
          max={dt.max}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case 'string':
      return <input {...attrs} type="text" maxLength={dt.maxLength} value={String(value)} onChange={(e) => onChange(e.target.value)} />;
    case 'array':
      return <ArrayNote attrs={attrs} />;
    default: {
      const never: never = dt;
      return never;
    }
  }
}

/** No input for an array value: a note in its place, carrying the data-* attributes so tests find it. */
export function ArrayNote({ attrs }: { attrs: Readonly<Record<string, unknown>> }): ReactElement {
  const { t } = useI18n();
  const data = Object.fromEntries(Object.entries(attrs).filter(([k]) => k.startsWith('data-')));
  return (
    <span {...data} className="muted small" data-array-note="true">
      {t('write.arrayNote')}
    </span>
  );
}
