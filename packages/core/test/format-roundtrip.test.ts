import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertThingModel, modelToTsl, modelToWot, tslToModel, wotToModel } from '@iip/core';
import fc from 'fast-check';
import { thingModel } from './model-arbitrary.js';
import { richModel } from './rich-model.js';

/** Documents travel as JSON text, so every round trip goes through it. */
function viaJson<T>(doc: T): unknown {
  return JSON.parse(JSON.stringify(doc));
}

test('rich model survives model → TSL → model', () => {
  assert.deepEqual(tslToModel(viaJson(modelToTsl(richModel))), richModel);
});

test('rich model survives model → WoT TD → model', () => {
  assert.deepEqual(wotToModel(viaJson(modelToWot(richModel, { id: 'urn:iip:default:pump-01', title: 'Pump' }))), richModel);
});

test('rich model survives TSL → TD → TSL (the formats agree with each other)', () => {
  const viaTd = wotToModel(viaJson(modelToWot(tslToModel(viaJson(modelToTsl(richModel))), { title: 'Pump' })));
  assert.deepEqual(viaJson(modelToTsl(viaTd)), viaJson(modelToTsl(richModel)));
});

test('generated models are valid (the generator respects assertThingModel)', () => {
  fc.assert(
    fc.property(thingModel, (m) => {
      assertThingModel(m);
    }),
  );
});

test('any valid model survives model → TSL → model', () => {
  fc.assert(
    fc.property(thingModel, (m) => {
      assert.deepEqual(tslToModel(viaJson(modelToTsl(m))), m);
    }),
    { numRuns: 300 },
  );
});

test('any valid model survives model → WoT TD → model', () => {
  fc.assert(
    fc.property(thingModel, (m) => {
      assert.deepEqual(wotToModel(viaJson(modelToWot(m, { title: 'generated' }))), m);
    }),
    { numRuns: 300 },
  );
});
