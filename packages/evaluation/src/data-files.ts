/**
 * Reading evaluation data from files: CSV (UTF-8, with or without BOM) and XLSX (the first worksheet, or a
 * named one, through exceljs). Both become a `Table` and go through the same checks, so an error names the
 * file, the row and the column the way the user's spreadsheet shows them (column 3 in CSV, column C in XLSX).
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { IipError } from '@iip/core';
import ExcelJS from 'exceljs';
import { readCsv } from './csv-reader.js';
import { type Cell, type DataOptions, type Dataset, type Table, datasetFromTable } from './dataset.js';
import type { Framework } from './framework.js';

export interface DataFileOptions extends DataOptions {
  /** XLSX: the worksheet to read (default the first). */
  sheet?: string;
  /** CSV: field delimiter (default comma). */
  delimiter?: string;
  /** Name used in error messages (default the file's base name). */
  name?: string;
}

export function csvTable(text: string, file: string, delimiter = ','): Table {
  const records = readCsv(text, file, delimiter);
  return {
    file,
    records,
    columnName: (i) => `column ${i + 1}`,
  };
}

/** Parses CSV text of data in long or wide form. */
export function parseDataCsv(text: string, fw: Framework, opts: DataFileOptions = {}): Dataset {
  return datasetFromTable(csvTable(text, opts.name ?? '<csv>', opts.delimiter), fw, opts);
}

export function columnLetter(index: number): string {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

function excelCell(v: ExcelJS.CellValue): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    if ('result' in v) return excelCell((v as { result?: ExcelJS.CellValue }).result ?? null);
    if ('richText' in v) return (v as ExcelJS.CellRichTextValue).richText.map((r) => r.text).join('');
    if ('text' in v) return String((v as { text: unknown }).text);
    if ('error' in v) return String((v as ExcelJS.CellErrorValue).error);
  }
  return String(v);
}

export async function xlsxTable(buffer: Buffer | ArrayBuffer, file: string, sheet?: string): Promise<Table> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(buffer as ArrayBuffer);
  } catch (e) {
    throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${file}: not a readable XLSX workbook (${(e as Error).message})`, { file });
  }
  const ws = sheet === undefined ? wb.worksheets[0] : wb.getWorksheet(sheet);
  if (!ws) {
    throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${file}: no worksheet ${sheet === undefined ? '' : `"${sheet}"`}`, {
      file,
      sheets: wb.worksheets.map((w) => w.name),
    });
  }
  const records: Table['records'] = [];
  ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: Cell[] = [];
    // row.values is 1-based (index 0 unused).
    const values = row.values as ExcelJS.CellValue[];
    for (let c = 1; c < values.length; c++) cells.push(excelCell(values[c]));
    records.push({ row: rowNumber, cells });
  });
  return { file, records, columnName: (i) => `column ${columnLetter(i)}` };
}

export async function parseDataXlsx(buffer: Buffer | ArrayBuffer, fw: Framework, opts: DataFileOptions = {}): Promise<Dataset> {
  return datasetFromTable(await xlsxTable(buffer, opts.name ?? '<xlsx>', opts.sheet), fw, opts);
}

/** Reads a .csv, .tsv or .xlsx data file. */
export async function readDataFile(path: string, fw: Framework, opts: DataFileOptions = {}): Promise<Dataset> {
  const name = opts.name ?? basename(path);
  const ext = extname(path).toLowerCase();
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${name}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      file: name,
    });
  }
  if (ext === '.xlsx') return parseDataXlsx(buf, fw, { ...opts, name });
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') {
    return parseDataCsv(buf.toString('utf8'), fw, { ...opts, name, delimiter: opts.delimiter ?? (ext === '.tsv' ? '\t' : ',') });
  }
  throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${name}: unknown data file type "${ext}"; use .csv or .xlsx`, { file: name });
}
