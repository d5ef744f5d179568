import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IipError, modelToWot, type ThingModel, WOT_TD_CONTEXT, wotToModel } from '@iip/core';
import { richModel } from './rich-model.js';

test('exported TD carries what TD 1.1 requires: @context, title, securityDefinitions, security, forms', () => {
  const td = modelToWot(richModel, { id: 'urn:iip:default:pump-01', title: 'Pump', base: 'https://iip.local/api/v1/devices/pump-01/' });
  assert.equal(td['@context'][0], WOT_TD_CONTEXT);
  assert.equal(td.title, 'Pump');
  assert.equal(td.id, 'urn:iip:default:pump-01');
  assert.equal(td.base, 'https://iip.local/api/v1/devices/pump-01/');
  assert.deepEqual(td.securityDefinitions, { nosec_sc: { scheme: 'nosec' } });
  assert.equal(td.security, 'nosec_sc');
  const affordances = [...Object.values(td.properties), ...Object.values(td.actions), ...Object.values(td.events)];
  assert.equal(affordances.length, richModel.properties.length + richModel.services.length + richModel.events.length);
  for (const a of affordances) {
    assert.ok(a.forms && a.forms.length >= 1, 'every affordance needs at least one form');
    for (const f of a.forms) assert.equal(typeof f.href, 'string');
  }
});

test('maps types, ranges, units, access, enums and required parameters onto TD vocabulary', () => {
  const td = modelToWot(richModel, { title: 'Pump' });
  const { temperature, speed, running, serial, mode } = td.properties;
  assert.equal(temperature?.type, 'number');
  assert.equal(temperature?.minimum, -40);
  assert.equal(temperature?.maximum, 125.5);
  assert.equal(temperature?.unit, '°C');
  assert.equal(temperature?.readOnly, true);
  assert.equal(temperature?.title, '温度');
  assert.equal(speed?.type, 'integer');
  assert.equal(speed?.readOnly, false);
  assert.deepEqual(speed?.forms?.[0]?.op, ['readproperty', 'writeproperty', 'observeproperty']);
  assert.equal(running?.type, 'boolean');
  assert.equal(serial?.maxLength, 32);
  assert.deepEqual(mode?.enum, ['auto', 'manual', 'off']);
  // every enum value must also be in oneOf, or a schema validator would refuse the unlabelled ones
  assert.deepEqual(mode?.oneOf, [{ const: 'auto', title: '自动' }, { const: 'manual', title: 'Manual' }, { const: 'off' }]);
  const setSpeed = td.actions.setSpeed;
  assert.equal(setSpeed?.input?.type, 'object');
  assert.deepEqual(setSpeed?.input?.required, ['rpm']);
  assert.deepEqual(Object.keys(setSpeed?.input?.properties ?? {}), ['rpm', 'ramp']);
  assert.equal(td.actions.reset?.input, undefined);
  assert.equal(td.events.overheat?.data?.type, 'object');
  assert.equal(td.events.overheat?.['iip:level'], 'alert');
});

/** A TD as another tool would write it: no iip terms, scalar action payloads, extra annotations. */
const foreignTd = {
  '@context': 'https://www.w3.org/2019/wot/td/v1',
  id: 'urn:dev:ops:32473-WoTLamp-1234',
  title: 'MyLampThing',
  securityDefinitions: { basic_sc: { scheme: 'basic', in: 'header' } },
  security: ['basic_sc'],
  properties: {
    status: { type: 'string', enum: ['on', 'off'], forms: [{ href: 'https://lamp.example.com/status' }] },
    brightness: { type: 'integer', minimum: 0, maximum: 100, unit: 'percent', observable: true, forms: [] },
    power: { type: 'number', readOnly: true, title: 'Power', description: 'Active power', unit: 'W', forms: [] },
    on: { type: 'boolean', forms: [] },
    label: { type: 'string', maxLength: 20, format: 'hostname', forms: [] },
  },
  actions: {
    toggle: { forms: [{ href: 'https://lamp.example.com/toggle' }] },
    fade: { input: { type: 'integer', minimum: 0, title: 'Duration' }, output: { type: 'boolean' }, forms: [] },
    configure: {
      input: { type: 'object', properties: { level: { type: 'number' }, tag: { type: 'string' } }, required: ['level'] },
      forms: [],
    },
  },
  events: {
    overheating: { data: { type: 'string' }, forms: [{ href: 'https://lamp.example.com/oh', subprotocol: 'longpoll' }] },
    tick: { forms: [] },
  },
};

test('imports a TD written elsewhere (TD 1.0 context, scalar payloads, no iip terms)', () => {
  const m = wotToModel(foreignTd);
  assert.deepEqual(m.properties, [
    { id: 'status', access: 'rw', dataType: { type: 'enum', values: [{ value: 'on' }, { value: 'off' }] } },
    { id: 'brightness', access: 'rw', dataType: { type: 'int', min: 0, max: 100, unit: 'percent' } },
    { id: 'power', name: 'Power', description: 'Active power', access: 'r', dataType: { type: 'float', unit: 'W' } },
    { id: 'on', access: 'rw', dataType: { type: 'bool' } },
    { id: 'label', access: 'rw', dataType: { type: 'string', maxLength: 20 } },
  ]);
  assert.deepEqual(m.services, [
    { id: 'toggle', inputs: [], outputs: [] },
    {
      id: 'fade',
      inputs: [{ id: 'value', name: 'Duration', dataType: { type: 'int', min: 0 } }],
      outputs: [{ id: 'result', dataType: { type: 'bool' } }],
    },
    {
      id: 'configure',
      inputs: [
        { id: 'level', required: true, dataType: { type: 'float' } },
        { id: 'tag', dataType: { type: 'string' } },
      ],
      outputs: [],
    },
  ]);
  assert.deepEqual(m.events, [
    { id: 'overheating', outputs: [{ id: 'value', dataType: { type: 'string' } }] },
    { id: 'tick', outputs: [] },
  ]);
});

test('enum texts are read from oneOf const/title even without an enum array', () => {
  const m = wotToModel({
    properties: { mode: { type: 'string', oneOf: [{ const: 'a', title: 'Auto' }, { const: 'm' }], forms: [] } },
  });
  assert.deepEqual(m.properties[0]?.dataType, { type: 'enum', values: [{ value: 'a', text: 'Auto' }, { value: 'm' }] });
});

test('member ids that are also Object.prototype names survive as TD keys', () => {
  const m = {
    properties: [{ id: '__proto__', access: 'r' as const, dataType: { type: 'int' as const } }],
    events: [{ id: 'constructor', outputs: [{ id: '__proto__', dataType: { type: 'bool' as const } }] }],
    services: [],
  };
  const td = JSON.parse(JSON.stringify(modelToWot(m, { title: 't' })));
  assert.deepEqual(wotToModel(td), m);
});

function formatError(td: unknown, path: string): void {
  assert.throws(
    () => wotToModel(td),
    (e: unknown) => {
      assert.ok(e instanceof IipError, `expected IipError, got ${String(e)}`);
      assert.equal(e.code, 'IIP_ERR_MODEL_FORMAT');
      assert.equal(e.details.path, path);
      return true;
    },
  );
}

const prop = (schema: Record<string, unknown>) => ({ properties: { p: { ...schema, forms: [] } } });

test('what cannot be mapped is refused with IIP_ERR_MODEL_FORMAT naming the path', () => {
  formatError('td', '$');
  formatError({ properties: [] }, 'properties');
  formatError({ properties: { p: null } }, 'properties.p');
  formatError(prop({ type: 'object', properties: {} }), 'properties.p.type');
  formatError(prop({ type: 'array' }), 'properties.p.items');
  formatError(prop({ type: 'array', items: [{ type: 'integer' }] }), 'properties.p.items');
  formatError(prop({ type: 'array', items: { type: 'object', properties: {} } }), 'properties.p.items.type');
  formatError(prop({ type: 'array', items: { type: 'array', items: { type: 'number' } } }), 'properties.p.items.type');
  formatError(prop({ type: 'array', items: { type: 'number' }, uniqueItems: true }), 'properties.p.uniqueItems');
  formatError(prop({ type: 'array', items: { type: 'number' }, maxItems: 'many' }), 'properties.p.maxItems');
  formatError(prop({ type: 'array', items: { type: 'number' }, 'iip:dimensions': [2, 2], maxItems: 5 }), 'properties.p.maxItems');
  formatError(prop({ type: 'array', items: { type: 'number' }, 'iip:dimensions': 4 }), 'properties.p.iip:dimensions');
  formatError(prop({ type: 'null' }), 'properties.p.type');
  formatError(prop({}), 'properties.p.type');
  formatError(prop({ type: 'integer', enum: [1, 2] }), 'properties.p.type');
  formatError(prop({ enum: ['a', 1] }), 'properties.p.enum[1]');
  formatError(prop({ type: 'string', oneOf: [{ const: 3 }] }), 'properties.p.oneOf[0].const');
  formatError(prop({ type: 'number', exclusiveMinimum: 0 }), 'properties.p.exclusiveMinimum');
  formatError(prop({ type: 'number', multipleOf: 0.5 }), 'properties.p.multipleOf');
  formatError(prop({ type: 'string', pattern: '^[a-z]+$' }), 'properties.p.pattern');
  formatError(prop({ type: 'string', minLength: 1 }), 'properties.p.minLength');
  formatError(prop({ type: 'integer', const: 3 }), 'properties.p.const');
  formatError(prop({ type: 'integer', minimum: 'zero' }), 'properties.p.minimum');
  formatError(prop({ type: 'number', unit: 3 }), 'properties.p.unit');
  formatError(prop({ type: 'boolean', writeOnly: true }), 'properties.p.writeOnly');
  formatError(prop({ type: 'boolean', title: 1 }), 'properties.p.title');
  formatError({ events: { e: { data: { type: 'object', properties: { f: { type: 'object' } } }, forms: [] } } }, 'events.e.data.properties.f.type');
  formatError({ events: { e: { 'iip:level': 'fatal', forms: [] } } }, 'events.e.iip:level');
  formatError({ actions: { a: { input: { type: 'object', required: 'x' }, forms: [] } } }, 'actions.a.input.required');
  formatError({ actions: { a: { output: { type: 'array' }, forms: [] } } }, 'actions.a.output.items');
});

test('a convertible TD that breaks a thing-model rule fails with IIP_ERR_MODEL_INVALID', () => {
  assert.throws(() => wotToModel(prop({ type: 'integer', minimum: 5, maximum: 1 })), { code: 'IIP_ERR_MODEL_INVALID' });
  assert.throws(() => wotToModel({ properties: { 'bad-name': { type: 'integer', forms: [] } } }), {
    code: 'IIP_ERR_MODEL_INVALID',
    details: { path: 'properties[0].id' },
  });
  assert.throws(() => wotToModel(prop({ enum: [] })), { code: 'IIP_ERR_MODEL_INVALID' });
});

test('arrays (issue 19): TD array with items, minItems, maxItems; a matrix adds iip:dimensions and a fixed length', () => {
  const m: ThingModel = {
    properties: [
      { id: 'waveform', access: 'r', dataType: { type: 'array', items: { type: 'float', unit: 'mm/s', min: -50, max: 50 }, minItems: 1, maxItems: 8192 } },
      { id: 'flags', access: 'rw', dataType: { type: 'array', items: { type: 'bool', trueText: 'on' } } },
      { id: 'gains', access: 'r', dataType: { type: 'array', items: { type: 'int' }, dimensions: [2, 3] } },
      { id: 'modes', access: 'r', dataType: { type: 'array', items: { type: 'enum', values: [{ value: 'a', text: 'A' }, { value: 'b' }] } } },
    ],
    events: [],
    services: [{ id: 'load', inputs: [{ id: 'table', dataType: { type: 'array', items: { type: 'float' }, maxItems: 16 } }], outputs: [] }],
  };
  const td = modelToWot(m, { title: 't' });
  const { waveform, flags, gains } = td.properties;
  assert.equal(waveform?.type, 'array');
  assert.deepEqual(waveform?.items, { type: 'number', minimum: -50, maximum: 50, unit: 'mm/s' });
  assert.deepEqual([waveform?.minItems, waveform?.maxItems], [1, 8192]);
  assert.deepEqual(flags?.items, { type: 'boolean', 'iip:trueText': 'on' });
  assert.equal(flags?.minItems, undefined);
  assert.deepEqual([gains?.minItems, gains?.maxItems, gains?.['iip:dimensions']], [6, 6, [2, 3]]);
  assert.deepEqual(td.actions.load?.input?.properties?.table, { type: 'array', items: { type: 'number' }, maxItems: 16 });
  assert.deepEqual(wotToModel(JSON.parse(JSON.stringify(td))), m);
  // A TD written elsewhere: a plain JSON Schema array.
  const imported = wotToModel({ properties: { samples: { type: 'array', items: { type: 'integer', minimum: 0 }, maxItems: 1024, readOnly: true, forms: [] } } });
  assert.deepEqual(imported.properties[0]?.dataType, { type: 'array', items: { type: 'int', min: 0 }, maxItems: 1024 });
  assert.throws(() => wotToModel({ properties: { s: { type: 'array', items: { type: 'number' }, maxItems: 1e6, forms: [] } } }), {
    code: 'IIP_ERR_MODEL_INVALID',
  });
});
