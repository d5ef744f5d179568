/**
 * A small RFC 4180 CSV reader: comma-separated fields, double-quoted fields that may hold commas, quotes
 * ("" inside quotes) and line breaks, CRLF or LF line ends, and a UTF-8 byte-order mark (as Excel writes
 * it) dropped. Each record keeps its 1-based row number so that validation errors can name it.
 */
import { IipError } from '@iip/core';

export interface CsvRecord {
  /** 1-based record number (the header is row 1), as a spreadsheet shows it. */
  row: number;
  cells: string[];
}

export function readCsv(text: string, file = '<csv>', delimiter = ','): CsvRecord[] {
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
    // A blank line is not a record (but still counts as a row, as in a spreadsheet).
    if (!(cells.length === 1 && cells[0] === '' && !wasQuoted)) out.push({ row, cells });
    cells = [];
    field = '';
    wasQuoted = false;
    row++;
  };
  while (i < s.length) {
    const c = s[i]!;
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
          throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${file}: row ${row}, column ${cells.length + 1}: text after a closing quote`, {
            file,
            row,
            column: cells.length + 1,
          });
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
    throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${file}: row ${row}: a quoted field is never closed (opened before line ${line})`, {
      file,
      row,
    });
  }
  if (field !== '' || cells.length > 0 || wasQuoted) endRecord();
  return out;
}
