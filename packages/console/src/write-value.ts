/**
 * Turns what an operator typed into the value a property write sends, checked against the thing model the
 * way the platform will check it (type, integer, range, enum, length). Catching a typo here gives the
 * operator an answer before anything reaches a machine; the platform still validates. Pure.
 */
import type { DataType, PointValue } from '@iip/core';

export type WriteProblem =
  | { readonly kind: 'empty' }
  | { readonly kind: 'notNumber' }
  | { readonly kind: 'notInteger' }
  | { readonly kind: 'belowMin'; readonly min: number }
  | { readonly kind: 'aboveMax'; readonly max: number }
  | { readonly kind: 'notInEnum' }
  | { readonly kind: 'tooLong'; readonly maxLength: number }
  /** An array (a waveform, a matrix): the console has no input for one; the API takes it. */
  | { readonly kind: 'array' };

export type ParsedWrite = { readonly ok: true; readonly value: PointValue } | { readonly ok: false; readonly problem: WriteProblem };

/** `raw` is the input's text, or its checked state for a bool (a checkbox). */
export function parseWriteValue(dt: DataType, raw: string | boolean): ParsedWrite {
  switch (dt.type) {
    case 'bool':
      return { ok: true, value: raw === true || raw === 'true' };
    case 'int':
    case 'float': {
      const text = String(raw).trim();
      if (text === '') return { ok: false, problem: { kind: 'empty' } };
      const n = Number(text);
      if (!Number.isFinite(n)) return { ok: false, problem: { kind: 'notNumber' } };
      if (dt.type === 'int' && !Number.isInteger(n)) return { ok: false, problem: { kind: 'notInteger' } };
      if (dt.min !== undefined && n < dt.min) return { ok: false, problem: { kind: 'belowMin', min: dt.min } };
      if (dt.max !== undefined && n > dt.max) return { ok: false, problem: { kind: 'aboveMax', max: dt.max } };
      return { ok: true, value: n };
    }
    case 'enum': {
      const v = String(raw);
      return dt.values.some((e) => e.value === v) ? { ok: true, value: v } : { ok: false, problem: { kind: 'notInEnum' } };
    }
    case 'string': {
      const v = String(raw);
      // Code points, as the platform counts them: one Chinese character is one, not two UTF-16 units.
      if (dt.maxLength !== undefined && [...v].length > dt.maxLength) {
        return { ok: false, problem: { kind: 'tooLong', maxLength: dt.maxLength } };
      }
      return { ok: true, value: v };
    }
    case 'array':
      return { ok: false, problem: { kind: 'array' } };
    default: {
      const never: never = dt;
      return never;
    }
  }
}

/** What the input starts with: the device's current value where it has one, so a write is an edit. */
export function initialInput(dt: DataType, current: PointValue | undefined): string | boolean {
  switch (dt.type) {
    case 'bool':
      return current === true || current === 1 || current === 'true';
    case 'enum':
      return current !== undefined && dt.values.some((e) => e.value === String(current)) ? String(current) : (dt.values[0]?.value ?? '');
    case 'int':
    case 'float':
    case 'string':
      return current === undefined ? '' : String(current);
    case 'array':
      return '';
    default: {
      const never: never = dt;
      return never;
    }
  }
}
