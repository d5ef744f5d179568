import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIipError } from '@iip/core';
import { parseCsv, parseCsvRecords } from '@iip/server';
import fc from 'fast-check';

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) || cell === '' ? `"${cell.replace(/"/g, '""')}"` : cell;
}

test('any table written with RFC 4180 quoting reads back unchanged', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }).chain((width) => fc.array(fc.array(fc.string({ unit: 'grapheme' }), { minLength: width, maxLength: width }), { minLength: 1, maxLength: 8 })),
      fc.constantFrom('\n', '\r\n'),
      (rows, eol) => {
        const text = rows.map((r) => r.map(quote).join(',')).join(eol) + eol;
        assert.deepEqual(parseCsv(text), rows);
      },
    ),
  );
});

test('arbitrary text either parses or fails with IIP_ERR_CSV_INVALID, never anything else', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (text) => {
      try {
        parseCsvRecords(text, ['id', 'product']);
      } catch (e) {
        assert.ok(isIipError(e), String(e));
        assert.ok(['IIP_ERR_CSV_INVALID'].includes(e.code));
      }
    }),
  );
});

test('errors name the line', () => {
  assert.throws(() => parseCsvRecords('id,name\nx,y\n', ['id', 'product']), /required column "product"/);
  assert.throws(() => parseCsvRecords('id,product\na,b\nc\n', ['id', 'product']), /line 3: 1 fields, the header has 2/);
  assert.throws(() => parseCsv('a,"b\nc'), (e) => isIipError(e) && e.code === 'IIP_ERR_CSV_INVALID');
  assert.deepEqual(parseCsvRecords('\ufeffID,Product\n p1 , x \n', ['id', 'product']), [{ line: 2, record: { id: 'p1', product: 'x' } }]);
});
