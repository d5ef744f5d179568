/**
 * The input for one value of a thing-model data type: a checkbox for bool, a select for enum, a number field
 * with the model's range for int/float, a text field with its length limit for string. Used by property
 * writes and service calls, which check what was typed with parseWriteValue before anything is sent.
 */
import type { ReactElement } from 'react';
import type { DataType } from '../api-types';

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
    default: {
      const never: never = dt;
      return never;
    }
  }
}
