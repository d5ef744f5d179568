/**
 * A small RFC 4180 CSV reader for bulk device import: quoted fields, doubled quotes, CRLF or LF line ends,
 * a header row. Uploads come from people's spreadsheets, so every error names the line (1-based, counting
 * the header) and what was wrong.
 */
import { IipError } from '@iip/core';

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let line = 1;
  let quoted = false;
  let fieldStarted = false;
  let rowQuoted = false;
  const endRow = () => {
    // A truly blank line is skipped; a line holding one quoted empty field is a row.
    if (!(row.length === 1 && row[0] === '' && !rowQuoted)) rows.push(row);
    row = [];
    rowQuoted = false;
  };
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // Excel writes a BOM
  while (i < src.length) {
    const c = src[i] as string;
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = src[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new IipError('IIP_ERR_CSV_INVALID', `line ${line}: unexpected character after a closing quote`, { line });
        }
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      rowQuoted = true;
      fieldStarted = true;
      i++;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      fieldStarted = false;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      row.push(field);
      endRow();
      field = '';
      fieldStarted = false;
      i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      continue;
    }
    field += c;
    fieldStarted = true;
    i++;
  }
  if (quoted) throw new IipError('IIP_ERR_CSV_INVALID', `line ${line}: unterminated quoted field`, { line });
  if (fieldStarted || row.length > 0) {
    row.push(field);
    endRow();
  }
  return rows;
}

/** Reads a CSV with a header into records keyed by the (trimmed, lower-cased) header names. */
export function parseCsvRecords(text: string, required: readonly string[]): Array<{ line: number; record: Record<string, string> }> {
  const rows = parseCsv(text);
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  if (!header) throw new IipError('IIP_ERR_CSV_INVALID', 'the CSV is empty: a header line is required', { line: 1 });
  for (const r of required) {
    if (!header.includes(r)) {
      throw new IipError('IIP_ERR_CSV_INVALID', `line 1: required column "${r}" is missing (header: ${header.join(',')})`, { line: 1, column: r });
    }
  }
  const out: Array<{ line: number; record: Record<string, string> }> = [];
  for (let i = 1; i < rows.length; i++) {
    const cells = rows[i] as string[];
    if (cells.length !== header.length) {
      throw new IipError('IIP_ERR_CSV_INVALID', `line ${i + 1}: ${cells.length} fields, the header has ${header.length}`, { line: i + 1 });
    }
    const record: Record<string, string> = {};
    header.forEach((h, j) => {
      record[h] = (cells[j] as string).trim();
    });
    out.push({ line: i + 1, record });
  }
  return out;
}
