/**
 * CSV with a header for bulk device import, on top of core's RFC 4180 reader. Uploads come from people's
 * spreadsheets, so every error names the line (the spreadsheet row, counting the header) and what was wrong.
 */
import { IipError, readCsvRecords } from '@iip/core';

export function parseCsv(text: string): string[][] {
  return readCsvRecords(text).map((r) => r.cells);
}

/** Reads a CSV with a header into records keyed by the (trimmed, lower-cased) header names. */
export function parseCsvRecords(text: string, required: readonly string[]): Array<{ line: number; record: Record<string, string> }> {
  const [head, ...rows] = readCsvRecords(text);
  const header = head?.cells.map((h) => h.trim().toLowerCase());
  if (!header) throw new IipError('IIP_ERR_CSV_INVALID', 'the CSV is empty: a header line is required', { line: 1 });
  for (const r of required) {
    if (!header.includes(r)) {
      throw new IipError('IIP_ERR_CSV_INVALID', `line ${head?.row}: required column "${r}" is missing (header: ${header.join(',')})`, { line: head?.row, column: r });
    }
  }
  return rows.map(({ row, cells }) => {
    if (cells.length !== header.length) {
      throw new IipError('IIP_ERR_CSV_INVALID', `line ${row}: ${cells.length} fields, the header has ${header.length}`, { line: row });
    }
    const record: Record<string, string> = {};
    header.forEach((h, j) => {
      record[h] = (cells[j] as string).trim();
    });
    return { line: row, record };
  });
}
