/**
 * Tables as CSV (RFC 4180): quoted only where needed, CRLF line ends, and a UTF-8 byte-order mark so that
 * Excel — which analysts open these files with — reads 中文 region and indicator names correctly.
 */

export type Cell = string | number | null;
export type Row = Readonly<Record<string, Cell>>;

const BOM = '\uFEFF';

function cell(v: Cell | undefined): string {
  if (v === null || v === undefined) return '';
  // Full precision: the CSV is the reproducible record, rounding is for the HTML only.
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Columns in first-seen order across all rows, so a column present only in later rows is not lost. */
export function columnsOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

export function toCsv(rows: readonly Row[], columns: readonly string[] = columnsOf(rows)): string {
  const lines = [columns.map((c) => cell(c)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return BOM + lines.join('\r\n') + '\r\n';
}

/** A table name made safe as a file name on every OS (names come from the engine, but may hold 中文). */
export function csvFileName(name: string): string {
  const safe = [...name.normalize('NFC')]
    .map((c) => (c.charCodeAt(0) < 0x20 || '\\/:*?"<>|'.includes(c) ? '-' : c))
    .join('')
    .replace(/-+/g, '-')
    .replace(/^[.\s-]+|[.\s]+$/g, '');
  return `${safe || 'table'}.csv`;
}
