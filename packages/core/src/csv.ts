/**
 * One RFC 4180 CSV reader for every upload (device import, evaluation data): comma-separated fields,
 * double-quoted fields that may hold delimiters, quotes ("" inside quotes) and line breaks, CRLF or LF line
 * ends, and the UTF-8 byte-order mark Excel writes. Each record keeps its 1-based row number (the header is
 * row 1, blank lines count as rows, as a spreadsheet shows them) so that callers' errors can name it.
 */
import { IipError } from './errors.js';

export interface CsvRecord {
  /** 1-based row number, as a spreadsheet shows it. */
  readonly row: number;
  readonly cells: string[];
}

/** Throws IIP_ERR_CSV_INVALID with details.row (and details.column) on a syntax error. */
export function readCsvRecords(text: string, delimiter = ','): CsvRecord[] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: CsvRecord[] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  let row = 1;
  let line = 1;
  let i = 0;
  const endRecord = (): void => {
    cells.push(field);
    // A truly blank line is no record; a line holding one quoted empty field is.
    if (!(cells.length === 1 && cells[0] === '' && !wasQuoted)) out.push({ row, cells });
    cells = [];
    field = '';
    wasQuoted = false;
    row++;
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = s[i];
        if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') {
          const column = cells.length + 1;
          throw new IipError('IIP_ERR_CSV_INVALID', `row ${row}, column ${column}: text after a closing quote`, { row, column });
        }
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      wasQuoted = true;
      i++;
    } else if (c === delimiter) {
      cells.push(field);
      field = '';
      i++;
    } else if (c === '\r' || c === '\n') {
      endRecord();
      line++;
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) {
    throw new IipError('IIP_ERR_CSV_INVALID', `row ${row}: a quoted field is never closed (opened before line ${line})`, { row });
  }
  if (field !== '' || cells.length > 0 || wasQuoted) endRecord();
  return out;
}
