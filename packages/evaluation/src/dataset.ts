/**
 * Observations as the engine takes them — (region, indicator, year, value) — built from a table in long
 * form (region, indicator, year, value) or wide form (region, year, then one column per indicator), which
 * is detected from the header. Every check names the file, the row and the column: unknown indicator or
 * region, non-numeric value or year, duplicate (region, indicator, year). Empty cells and NA are missing
 * values, kept as null so that coverage can count them.
 */
import { IipError } from '@iip/core';
import type { Framework } from './framework.js';

export interface Observation {
  region: string;
  /** Leaf indicator id. */
  indicator: string;
  year: number;
  value: number | null;
}

export interface Dataset {
  /** File name (or '<data>') for error messages. */
  source: string;
  observations: Observation[];
  /** Region → group (e.g. 东部/中部/西部/东北), from a group column; used by the group-mean imputation. */
  regionGroups: Record<string, string>;
}

export type Cell = string | number | null;

export interface TableRecord {
  row: number;
  cells: Cell[];
}

export interface Table {
  file: string;
  /** First record is the header. */
  records: TableRecord[];
  /** How errors name a column: "column 3" for CSV, "column C" for XLSX. */
  columnName(index: number): string;
}

export interface DataOptions {
  /** The regions the data may name (e.g. the 31 provinces); others are refused. */
  regions?: readonly string[];
}

/** Region names treated as the national total rather than a region. */
export const NATIONAL_NAMES: readonly string[] = ['全国', '中国', 'national', 'nation', 'china', 'total'];

export function isNationalName(region: string): boolean {
  return NATIONAL_NAMES.includes(region.trim().toLowerCase());
}

const HEADERS = {
  region: ['region', 'province', 'region_name', '地区', '省份', '省区市', '省'],
  indicator: ['indicator', 'indicator_id', 'indicatorid', '指标', '指标代码', '指标名称'],
  year: ['year', '年份', '年度', '年'],
  value: ['value', 'val', '值', '数值', '指标值'],
  group: ['group', 'region_group', '分组', '片区', '区域', '地区分组'],
};

const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', '-', '—', '..', '…']);

function cellText(c: Cell): string {
  return c === null ? '' : String(c).trim();
}

function where(t: Table, row: number, col: number, header: string): { file: string; row: number; column: string; header: string } {
  return { file: t.file, row, column: t.columnName(col), header };
}

function place(t: Table, row: number, col: number, header: string): string {
  return `${t.file}: row ${row}, ${t.columnName(col)} (${header})`;
}

/** Resolves an indicator by leaf id, Chinese name or English name. */
export function leafResolver(fw: Framework): (name: string) => { id: string } | { error: string } {
  const parents = new Set(fw.indicators.map((i) => i.parent).filter((p) => p !== null));
  const map = new Map<string, string>();
  const nonLeaf = new Map<string, string>();
  for (const ind of fw.indicators) {
    const target = parents.has(ind.id) ? nonLeaf : map;
    for (const k of [ind.id, ind.nameZh, ind.nameEn.toLowerCase()]) if (!target.has(k)) target.set(k, ind.id);
  }
  return (name) => {
    const k = name.trim();
    const hit = map.get(k) ?? map.get(k.toLowerCase());
    if (hit) return { id: hit };
    const up = nonLeaf.get(k) ?? nonLeaf.get(k.toLowerCase());
    if (up) return { error: `"${k}" is a parent indicator (${up}); data goes to the lowest-level indicators` };
    return { error: `"${k}" is not an indicator of framework ${fw.id}` };
  };
}

function findColumn(header: string[], names: readonly string[]): number {
  return header.findIndex((h) => names.includes(h.toLowerCase()));
}

export function parseNumber(c: Cell): number | null | undefined {
  if (typeof c === 'number') return Number.isFinite(c) ? c : undefined;
  const s = cellText(c);
  if (MISSING.has(s.toLowerCase())) return null;
  // Number('') and Number('0x10') are accepted by JS but are not data; require a decimal literal.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Builds a dataset from a table, detecting long or wide form from the header. */
export function datasetFromTable(t: Table, fw: Framework, opts: DataOptions = {}): Dataset {
  const head = t.records[0];
  if (!head) throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${t.file}: the file is empty`, { file: t.file });
  const header = head.cells.map(cellText);
  const col = {
    region: findColumn(header, HEADERS.region),
    indicator: findColumn(header, HEADERS.indicator),
    year: findColumn(header, HEADERS.year),
    value: findColumn(header, HEADERS.value),
    group: findColumn(header, HEADERS.group),
  };
  if (col.region < 0 || col.year < 0) {
    throw new IipError(
      'IIP_ERR_EVAL_DATA_FORMAT',
      `${t.file}: row ${head.row}: the header needs a region column and a year column (long form: region, indicator, year, value; wide form: region, year, <indicator>…); found ${header.join(', ')}`,
      { file: t.file, row: head.row, header },
    );
  }
  const long = col.indicator >= 0 && col.value >= 0;
  const resolve = leafResolver(fw);
  const regionSet = opts.regions ? new Set(opts.regions) : null;
  const obs: Observation[] = [];
  const seen = new Map<string, number>();
  const regionGroups: Record<string, string> = {};

  // Wide form: every column but region, year and group must be an indicator.
  const wideCols: Array<{ col: number; id: string }> = [];
  if (!long) {
    header.forEach((h, c) => {
      if (c === col.region || c === col.year || c === col.group || (h === '' && c >= header.length - 1)) return;
      const r = resolve(h);
      if ('error' in r) {
        throw new IipError('IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR', `${place(t, head.row, c, h)}: ${r.error}`, {
          ...where(t, head.row, c, h),
          indicator: h,
        });
      }
      wideCols.push({ col: c, id: r.id });
    });
    if (wideCols.length === 0) {
      throw new IipError('IIP_ERR_EVAL_DATA_FORMAT', `${t.file}: row ${head.row}: wide form needs at least one indicator column`, {
        file: t.file,
        row: head.row,
        header,
      });
    }
  }

  const add = (rec: TableRecord, region: string, id: string, year: number, vcol: number, vheader: string): void => {
    const raw = rec.cells[vcol] ?? null;
    const value = parseNumber(raw);
    if (value === undefined) {
      throw new IipError(
        'IIP_ERR_EVAL_DATA_NOT_NUMERIC',
        `${place(t, rec.row, vcol, vheader)}: ${JSON.stringify(raw)} is not a number (write plain digits; leave the cell empty if missing)`,
        { ...where(t, rec.row, vcol, vheader), value: raw },
      );
    }
    const key = `${region}\u0000${id}\u0000${year}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new IipError(
        'IIP_ERR_EVAL_DATA_DUPLICATE',
        `${place(t, rec.row, vcol, vheader)}: a second value for ${region}, ${id}, ${year} (the first is on row ${prev})`,
        { ...where(t, rec.row, vcol, vheader), firstRow: prev, region, indicator: id, year },
      );
    }
    seen.set(key, rec.row);
    obs.push({ region, indicator: id, year, value });
  };

  for (const rec of t.records.slice(1)) {
    if (rec.cells.every((c) => cellText(c) === '')) continue;
    const region = cellText(rec.cells[col.region] ?? null);
    if (region === '' || (regionSet && !regionSet.has(region) && !isNationalName(region))) {
      throw new IipError(
        'IIP_ERR_EVAL_DATA_UNKNOWN_REGION',
        `${place(t, rec.row, col.region, header[col.region]!)}: ${region === '' ? 'the region is empty' : `"${region}" is not in the region list`}`,
        { ...where(t, rec.row, col.region, header[col.region]!), region },
      );
    }
    const yraw = rec.cells[col.year] ?? null;
    const year = parseNumber(yraw);
    if (year === undefined || year === null || !Number.isInteger(year)) {
      throw new IipError('IIP_ERR_EVAL_DATA_NOT_NUMERIC', `${place(t, rec.row, col.year, header[col.year]!)}: ${JSON.stringify(yraw)} is not a year`, {
        ...where(t, rec.row, col.year, header[col.year]!),
        value: yraw,
      });
    }
    if (col.group >= 0) {
      const g = cellText(rec.cells[col.group] ?? null);
      if (g !== '') regionGroups[region] = g;
    }
    if (long) {
      const name = cellText(rec.cells[col.indicator] ?? null);
      const r = resolve(name);
      if ('error' in r) {
        throw new IipError('IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR', `${place(t, rec.row, col.indicator, header[col.indicator]!)}: ${r.error}`, {
          ...where(t, rec.row, col.indicator, header[col.indicator]!),
          indicator: name,
        });
      }
      add(rec, region, r.id, year, col.value, header[col.value]!);
    } else {
      for (const w of wideCols) add(rec, region, w.id, year, w.col, header[w.col]!);
    }
  }
  return { source: t.file, observations: obs, regionGroups };
}

/** Checks observations given as data (the API, tests) like a file; rows are numbered from 1 in list order. */
export function datasetFromObservations(
  fw: Framework,
  observations: ReadonlyArray<{ region: string; indicator: string; year: number; value: number | null }>,
  opts: DataOptions & { source?: string; regionGroups?: Record<string, string> } = {},
): Dataset {
  const header = ['region', 'indicator', 'year', 'value'];
  const t: Table = {
    file: opts.source ?? '<data>',
    records: [
      { row: 0, cells: header },
      ...observations.map((o, i) => ({ row: i + 1, cells: [o.region, o.indicator, o.year, o.value] })),
    ],
    columnName: (i) => `column ${i + 1}`,
  };
  const ds = datasetFromTable(t, fw, opts);
  if (opts.regionGroups) ds.regionGroups = { ...opts.regionGroups };
  return ds;
}
