/**
 * Data input: the CSV reader (quotes, BOM, CRLF), long and wide form detected from the header, XLSX through
 * exceljs, and every validation error naming file, row and column — unknown indicator or region,
 * non-numeric value or year, duplicate rows, missing base year.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { IipError } from '@iip/core';
import { rejectsIipError, throwsIipError } from '@iip/testkit';
import { parseDataCsv, parseDataXlsx, parseFramework, readCsv, readDataFile, runEvaluation } from '@iip/evaluation';
import ExcelJS from 'exceljs';

const FW = parseFramework(`
id: t
indicators:
  - { id: f, nameZh: 基础, parent: null }
  - { id: bs, nameZh: 5G基站数, nameEn: 5G base stations, parent: f }
  - { id: reg, nameZh: 标识注册量, nameEn: Identifier registrations, parent: f }
`);

test('the CSV reader handles RFC 4180 quoting, CRLF, a BOM and blank lines', () => {
  const recs = readCsv('\ufeffa,b,c\r\n"x, y","he said ""hi""","two\nlines"\r\n\r\n1,,3\n');
  assert.deepEqual(
    recs.map((r) => r.cells),
    [
      ['a', 'b', 'c'],
      ['x, y', 'he said "hi"', 'two\nlines'],
      ['1', '', '3'],
    ],
  );
  assert.deepEqual(
    recs.map((r) => r.row),
    [1, 2, 4],
  );
  assert.throws(() => readCsv('a,"b\n', 'f.csv'), (e: IipError) => e.code === 'IIP_ERR_EVAL_DATA_FORMAT' && /f\.csv/.test(e.message));
  assert.throws(() => readCsv('a,"b"c\n', 'f.csv'), (e: IipError) => e.code === 'IIP_ERR_EVAL_DATA_FORMAT' && /row 1, column 2/.test(e.message));
});

test('long form by id, Chinese or English name; NA and empty cells are missing values', () => {
  const ds = parseDataCsv('地区,指标,年份,数值\n广东,bs,2020,10\n广东,标识注册量,2020,NA\n江苏,5G base stations,2020,\n', FW, { name: 'd.csv' });
  assert.deepEqual(ds.observations, [
    { region: '广东', indicator: 'bs', year: 2020, value: 10 },
    { region: '广东', indicator: 'reg', year: 2020, value: null },
    { region: '江苏', indicator: 'bs', year: 2020, value: null },
  ]);
});

test('wide form is detected from the header (region, year, then indicators) with a group column', () => {
  const ds = parseDataCsv('region,group,year,bs,标识注册量\n广东,东部,2020,10,1.5\n甘肃,西部,2020,2,0.1\n', FW, { name: 'w.csv' });
  assert.equal(ds.observations.length, 4);
  assert.deepEqual(ds.observations[1], { region: '广东', indicator: 'reg', year: 2020, value: 1.5 });
  assert.deepEqual(ds.regionGroups, { 广东: '东部', 甘肃: '西部' });
});

test('an unknown indicator is named by file, row and column (long and wide form)', () => {
  const e = throwsIipError(() => parseDataCsv('region,indicator,year,value\n广东,bs,2020,1\n广东,nope,2020,2\n', FW, { name: 'd.csv' }), 'IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR');
  assert.match(e.message, /d\.csv: row 3, column 2 \(indicator\)/);
  assert.deepEqual([e.details.file, e.details.row, e.details.column], ['d.csv', 3, 'column 2']);
  const w = throwsIipError(() => parseDataCsv('region,year,bs,nope\n广东,2020,1,2\n', FW, { name: 'w.csv' }), 'IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR');
  assert.match(w.message, /w\.csv: row 1, column 4 \(nope\)/);
  // A parent indicator is not a place for data.
  const p = throwsIipError(() => parseDataCsv('region,indicator,year,value\n广东,基础,2020,1\n', FW, { name: 'd.csv' }), 'IIP_ERR_EVAL_DATA_UNKNOWN_INDICATOR');
  assert.match(p.message, /parent indicator/);
});

test('an unknown region (when a region list is given) is named by file, row and column', () => {
  const e = throwsIipError(
    () => parseDataCsv('region,indicator,year,value\n广东,bs,2020,1\n火星,bs,2020,2\n', FW, { name: 'd.csv', regions: ['广东', '江苏'] }),
    'IIP_ERR_EVAL_DATA_UNKNOWN_REGION',
  );
  assert.match(e.message, /d\.csv: row 3, column 1 \(region\): "火星" is not in the region list/);
  // 全国 rows are always allowed: they are the national values.
  parseDataCsv('region,indicator,year,value\n全国,bs,2020,1\n', FW, { regions: ['广东'] });
});

test('a non-numeric value or year is named by file, row and column', () => {
  const e = throwsIipError(() => parseDataCsv('region,indicator,year,value\n广东,bs,2020,"1,234"\n', FW, { name: 'd.csv' }), 'IIP_ERR_EVAL_DATA_NOT_NUMERIC');
  assert.match(e.message, /d\.csv: row 2, column 4 \(value\): "1,234" is not a number/);
  const y = throwsIipError(() => parseDataCsv('region,indicator,year,value\n广东,bs,2020年,1\n', FW, { name: 'd.csv' }), 'IIP_ERR_EVAL_DATA_NOT_NUMERIC');
  assert.match(y.message, /row 2, column 3 \(year\)/);
  const w = throwsIipError(() => parseDataCsv('region,year,bs\n广东,2020,12%\n', FW, { name: 'w.csv' }), 'IIP_ERR_EVAL_DATA_NOT_NUMERIC');
  assert.match(w.message, /w\.csv: row 2, column 3 \(bs\)/);
});

test('a duplicate row names both rows', () => {
  const e = throwsIipError(
    () => parseDataCsv('region,indicator,year,value\n广东,bs,2020,1\n江苏,bs,2020,1\n广东,5G基站数,2020,2\n', FW, { name: 'd.csv' }),
    'IIP_ERR_EVAL_DATA_DUPLICATE',
  );
  assert.match(e.message, /d\.csv: row 4, column 4 \(value\): a second value for 广东, bs, 2020 \(the first is on row 2\)/);
  assert.equal(e.details.firstRow, 2);
});

test('a header that is neither long nor wide form is IIP_ERR_EVAL_DATA_FORMAT', () => {
  throwsIipError(() => parseDataCsv('a,b,c\n1,2,3\n', FW, { name: 'x.csv' }), 'IIP_ERR_EVAL_DATA_FORMAT');
  throwsIipError(() => parseDataCsv('', FW, { name: 'x.csv' }), 'IIP_ERR_EVAL_DATA_FORMAT');
});

test('a missing base year is refused, naming the file and the years covered', () => {
  const ds = parseDataCsv('region,year,bs,reg\n广东,2021,1,2\n江苏,2021,2,3\n广东,2022,2,3\n江苏,2022,2,4\n', FW, { name: 'd.csv' });
  const e = throwsIipError(() => runEvaluation(FW, ds, { baseYear: 2020, monteCarlo: false }), 'IIP_ERR_EVAL_DATA_MISSING_BASE_YEAR');
  assert.match(e.message, /d\.csv: no row has the base year 2020 \(the data covers 2021, 2022\)/);
  // An indicator without a base-year value anywhere is named too.
  const gap = parseDataCsv('region,year,bs,reg\n广东,2021,1,\n江苏,2021,2,\n广东,2022,2,3\n江苏,2022,2,4\n', FW, { name: 'g.csv' });
  const g = throwsIipError(() => runEvaluation(FW, gap, { monteCarlo: false }), 'IIP_ERR_EVAL_DATA_MISSING_BASE_YEAR');
  assert.match(g.message, /g\.csv: indicator reg has no value in the base year 2021/);
});

test('XLSX: long form read from the first sheet; errors name the column letter', async () => {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('data');
  ws.addRow(['region', 'indicator', 'year', 'value']);
  ws.addRow(['广东', 'bs', 2020, 10]);
  ws.addRow(['江苏', 'reg', 2020, { formula: '1+1', result: 2 }]);
  const buf = Buffer.from(await wb.xlsx.writeBuffer());
  const ds = await parseDataXlsx(buf, FW, { name: 'd.xlsx' });
  assert.deepEqual(ds.observations, [
    { region: '广东', indicator: 'bs', year: 2020, value: 10 },
    { region: '江苏', indicator: 'reg', year: 2020, value: 2 },
  ]);
  ws.addRow(['江苏', 'bs', 2020, 'ten']);
  const bad = Buffer.from(await wb.xlsx.writeBuffer());
  const e = await rejectsIipError(() => parseDataXlsx(bad, FW, { name: 'd.xlsx' }), 'IIP_ERR_EVAL_DATA_NOT_NUMERIC');
  assert.match(e.message, /d\.xlsx: row 4, column D \(value\)/);
  await rejectsIipError(() => parseDataXlsx(Buffer.from('not a zip'), FW, { name: 'x.xlsx' }), 'IIP_ERR_EVAL_DATA_FORMAT');
});

test('readDataFile picks the reader by extension and names the file in errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iip-eval-data-'));
  try {
    const csv = join(dir, 'data.csv');
    writeFileSync(csv, '\ufeffregion,year,bs,reg\r\n广东,2020,1,2\r\n');
    const ds = await readDataFile(csv, FW);
    assert.equal(ds.source, 'data.csv');
    assert.equal(ds.observations.length, 2);
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('s').addRows([
      ['region', 'year', 'bs'],
      ['广东', 2020, 3],
    ]);
    const xlsx = join(dir, 'data.xlsx');
    await wb.xlsx.writeFile(xlsx);
    assert.equal((await readDataFile(xlsx, FW)).observations[0]!.value, 3);
    writeFileSync(join(dir, 'data.ods'), 'x');
    const ods = await rejectsIipError(() => readDataFile(join(dir, 'data.ods'), FW), 'IIP_ERR_EVAL_DATA_FORMAT');
    assert.match(ods.message, /data\.ods: unknown data file type/);
    await rejectsIipError(() => readDataFile(join(dir, 'missing.csv'), FW), 'IIP_ERR_EVAL_DATA_FORMAT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
