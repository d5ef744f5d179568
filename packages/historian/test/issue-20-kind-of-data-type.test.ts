/** Issue 20: series created at registration take their kind from the thing model; it must be the kind the first value gets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataType, PointValue } from '@iip/core';
import { kindOfDataType } from '@iip/historian';
import { kindOf } from '../src/value-codec.js';

test('kindOfDataType(model type) = kindOf(a value the model admits), for every data type', () => {
  const cases: Array<[DataType, PointValue]> = [
    [{ type: 'int' }, 3],
    [{ type: 'float' }, 2.5],
    [{ type: 'bool' }, true],
    [{ type: 'string' }, 'x'],
    [{ type: 'enum', values: [{ value: 'run' }] }, 'run'],
    [{ type: 'array', items: { type: 'float' } }, [1.5, 2]],
    [{ type: 'array', items: { type: 'string' } }, ['a']],
  ];
  for (const [dt, v] of cases) assert.equal(kindOfDataType(dt), kindOf(v, 'p'), JSON.stringify(dt));
});
