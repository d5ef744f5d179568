import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertThingModel, IipError, modelToTsl, tslToModel } from '@iip/core';

/** The shape JetLinks itself writes: absent fields as null, ranges in valueType, numbers sometimes as strings. */
const jetlinksDoc = {
  id: 'pump',
  name: 'Pump',
  properties: [
    {
      id: 'cpu_usage',
      name: 'CPU使用率',
      description: null,
      valueType: { type: 'double', max: 100, min: 0, scale: 2, unit: 'percent', round: 'HALF_UP' },
      expands: { readOnly: 'true' },
    },
    { id: 'total', name: 'Total', valueType: { type: 'long', max: null, min: '0', scale: null }, expands: { type: ['read', 'write', 'report'] } },
    { id: 'level', valueType: { type: 'float', minValue: -1.5, maxValue: 1.5 }, expands: { readOnly: false } },
    {
      id: 'on',
      valueType: { type: 'boolean', trueValue: '1', falseValue: '0', trueText: '开', falseText: '关' },
      expands: { type: ['read', 'report'] },
    },
    { id: 'sn', valueType: { type: 'string', expands: { maxLength: '16' } }, expands: null },
    {
      id: 'state',
      valueType: { type: 'enum', elements: [{ value: 'run', text: '运行', description: null }, { value: 'stop', text: null }] },
    },
  ],
  events: [
    {
      id: 'fire_alarm',
      name: '火警',
      valueType: {
        type: 'object',
        properties: [
          { id: 'location', name: '地点', valueType: { type: 'string' } },
          { id: 'lng', valueType: { type: 'double' }, expands: { gis: 'lng' } },
        ],
      },
      expands: { level: 'urgent' },
    },
  ],
  functions: [
    {
      id: 'playVoice',
      name: '播放声音',
      async: true,
      inputs: [{ id: 'text', name: '文字内容', valueType: { type: 'string' }, expands: { required: 'true' } }],
      output: { type: 'boolean' },
    },
    { id: 'reboot', async: false, inputs: [], output: null },
    { id: 'noop', inputs: null, output: { type: 'unknown' } },
  ],
  tags: [{ id: 'site', valueType: { type: 'string' } }],
};

test('imports a JetLinks document: long→int, double/float→float, null as absent, access from both encodings', () => {
  const m = tslToModel(jetlinksDoc);
  assertThingModel(m);
  assert.deepEqual(m.properties, [
    { id: 'cpu_usage', name: 'CPU使用率', access: 'r', dataType: { type: 'float', min: 0, max: 100, unit: 'percent' } },
    { id: 'total', name: 'Total', access: 'rw', dataType: { type: 'int', min: 0 } },
    { id: 'level', access: 'rw', dataType: { type: 'float', min: -1.5, max: 1.5 } },
    { id: 'on', access: 'r', dataType: { type: 'bool', trueText: '开', falseText: '关' } },
    { id: 'sn', access: 'r', dataType: { type: 'string', maxLength: 16 } },
    { id: 'state', access: 'r', dataType: { type: 'enum', values: [{ value: 'run', text: '运行' }, { value: 'stop' }] } },
  ]);
  assert.deepEqual(m.events, [
    {
      id: 'fire_alarm',
      name: '火警',
      level: 'alert',
      outputs: [
        { id: 'location', name: '地点', dataType: { type: 'string' } },
        { id: 'lng', dataType: { type: 'float' } },
      ],
    },
  ]);
  assert.deepEqual(m.services, [
    {
      id: 'playVoice',
      name: '播放声音',
      inputs: [{ id: 'text', name: '文字内容', required: true, dataType: { type: 'string' } }],
      outputs: [{ id: 'result', dataType: { type: 'bool' } }],
    },
    { id: 'reboot', inputs: [], outputs: [] },
    { id: 'noop', inputs: [], outputs: [] },
  ]);
});

test('exports JetLinks field names and maps levels, access and wide integers', () => {
  const doc = modelToTsl({
    properties: [
      { id: 'a', access: 'r', dataType: { type: 'int', min: 0, max: 10, unit: 'pcs' } },
      { id: 'b', access: 'rw', dataType: { type: 'int', max: 2 ** 40 } },
      { id: 'c', access: 'r', dataType: { type: 'float' } },
    ],
    events: [{ id: 'e', level: 'warn', outputs: [] }],
    services: [{ id: 's', inputs: [], outputs: [] }],
  });
  assert.deepEqual(doc.properties[0], {
    id: 'a',
    valueType: { type: 'int', min: 0, max: 10, unit: 'pcs' },
    expands: { readOnly: 'true', type: ['read', 'report'] },
  });
  assert.equal(doc.properties[1]?.valueType.type, 'long');
  assert.equal(doc.properties[1]?.expands?.readOnly, 'false');
  assert.equal(doc.properties[2]?.valueType.type, 'double');
  assert.deepEqual(doc.events[0], { id: 'e', valueType: { type: 'object', properties: [] }, expands: { level: 'warn' } });
  assert.deepEqual(doc.functions[0], { id: 's', async: false, inputs: [] });
  assert.deepEqual(doc.tags, []);
});

test('a property without any access information is read-only', () => {
  const m = tslToModel({ properties: [{ id: 'x', valueType: { type: 'int' } }] });
  assert.equal(m.properties[0]?.access, 'r');
});

test('member ids that are also Object.prototype names survive', () => {
  const m = {
    properties: [
      { id: '__proto__', access: 'r' as const, dataType: { type: 'int' as const } },
      { id: 'constructor', access: 'rw' as const, dataType: { type: 'bool' as const } },
    ],
    events: [],
    services: [],
  };
  assert.deepEqual(tslToModel(JSON.parse(JSON.stringify(modelToTsl(m)))), m);
});

function formatError(doc: unknown, path: string): void {
  assert.throws(
    () => tslToModel(doc),
    (e: unknown) => {
      assert.ok(e instanceof IipError, `expected IipError, got ${String(e)}`);
      assert.equal(e.code, 'IIP_ERR_MODEL_FORMAT');
      assert.equal(e.details.path, path);
      assert.match(e.message, new RegExp(path.replace(/[[\].]/g, '\\$&')));
      return true;
    },
  );
}

const prop = (valueType: unknown, extra: Record<string, unknown> = {}) => ({ properties: [{ id: 'p', valueType, ...extra }] });

test('what cannot be mapped is refused with IIP_ERR_MODEL_FORMAT naming the path', () => {
  formatError(null, '$');
  formatError([], '$');
  formatError({ properties: {} }, 'properties');
  formatError({ properties: [42] }, 'properties[0]');
  formatError({ properties: [{ id: 'p' }] }, 'properties[0].valueType');
  formatError(prop({ type: 'object', properties: [] }), 'properties[0].valueType.type');
  formatError(prop({ type: 'array' }), 'properties[0].valueType.elementType');
  formatError(prop({ type: 'array', elementType: { type: 'object', properties: [] } }), 'properties[0].valueType.elementType.type');
  formatError(prop({ type: 'array', elementType: { type: 'array', elementType: 'int' } }), 'properties[0].valueType.elementType.type');
  formatError(prop({ type: 'array', elementType: 'date' }), 'properties[0].valueType.elementType.type');
  formatError(prop({ type: 'array', elementType: 'int', expands: { maxItems: 'many' } }), 'properties[0].valueType.expands.maxItems');
  formatError(prop({ type: 'array', elementType: 'int', expands: { dimensions: 3 } }), 'properties[0].valueType.expands.dimensions');
  formatError(prop({ type: 'date' }), 'properties[0].valueType.type');
  formatError(prop({ type: 'geoPoint' }), 'properties[0].valueType.type');
  formatError(prop({ type: 'int', max: 'lots' }), 'properties[0].valueType.max');
  formatError(prop({ type: 'double', unit: 5 }), 'properties[0].valueType.unit');
  formatError(prop({ type: 'boolean', trueValue: 'on', falseValue: 'off' }), 'properties[0].valueType.trueValue');
  formatError(prop({ type: 'boolean', falseValue: 'off' }), 'properties[0].valueType.falseValue');
  formatError(prop({ type: 'enum', multi: true, elements: [{ value: 'a' }] }), 'properties[0].valueType.multi');
  formatError(prop({ type: 'enum', elements: [{ value: 1, text: 'one' }] }), 'properties[0].valueType.elements[0].value');
  formatError(prop({ type: 'string', expands: { maxLength: 'long' } }), 'properties[0].valueType.expands.maxLength');
  formatError(prop({ type: 'int' }, { expands: { readOnly: 'maybe' } }), 'properties[0].expands.readOnly');
  formatError(prop({ type: 'int' }, { name: 7 }), 'properties[0].name');
  formatError({ events: [{ id: 'e', valueType: { type: 'string' } }] }, 'events[0].valueType.type');
  formatError({ events: [{ id: 'e', valueType: { type: 'object' }, expands: { level: 'fatal' } }] }, 'events[0].expands.level');
  formatError(
    { events: [{ id: 'e', valueType: { type: 'object', properties: [{ id: 'f', valueType: { type: 'file' } }] } }] },
    'events[0].valueType.properties[0].valueType.type',
  );
  formatError({ functions: [{ id: 'f', inputs: [{ id: 'i', valueType: { type: 'password' } }] }] }, 'functions[0].inputs[0].valueType.type');
  formatError({ functions: [{ id: 'f', inputs: [], output: { type: 'array' } }] }, 'functions[0].output.elementType');
});

test('a convertible document that breaks a thing-model rule fails with IIP_ERR_MODEL_INVALID', () => {
  assert.throws(
    () => tslToModel({ properties: [{ id: 'p', valueType: { type: 'int' } }, { id: 'p', valueType: { type: 'int' } }] }),
    { code: 'IIP_ERR_MODEL_INVALID', details: { path: 'properties[1].id' } },
  );
  assert.throws(() => tslToModel(prop({ type: 'int', min: 10, max: 1 })), { code: 'IIP_ERR_MODEL_INVALID' });
  assert.throws(() => tslToModel(prop({ type: 'int', min: 0.5 })), { code: 'IIP_ERR_MODEL_INVALID', details: { path: 'properties[0].dataType.min' } });
  assert.throws(() => tslToModel({ properties: [{ id: 'bad-id', valueType: { type: 'int' } }] }), { code: 'IIP_ERR_MODEL_INVALID' });
});

test('arrays (issue 19): JetLinks array with elementType (an object or a type name); bounds and matrix shape in expands', () => {
  const doc = {
    properties: [
      { id: 'waveform', valueType: { type: 'array', elementType: { type: 'double', unit: 'mm/s', min: -50, max: 50 }, expands: { maxItems: 8192, minItems: '1' } } },
      { id: 'codes', valueType: { type: 'array', elementType: 'int' } },
      { id: 'gains', valueType: { type: 'array', elementType: { type: 'float' }, expands: { dimensions: [2, '3'] } } },
      { id: 'states', valueType: { type: 'array', elementType: { type: 'enum', elements: [{ value: 'run' }] }, expands: null } },
    ],
  };
  const m = tslToModel(doc);
  assert.deepEqual(
    m.properties.map((p) => p.dataType),
    [
      { type: 'array', items: { type: 'float', unit: 'mm/s', min: -50, max: 50 }, minItems: 1, maxItems: 8192 },
      { type: 'array', items: { type: 'int' } },
      { type: 'array', items: { type: 'float' }, dimensions: [2, 3] },
      { type: 'array', items: { type: 'enum', values: [{ value: 'run' }] } },
    ],
  );
  const out = modelToTsl(m);
  assert.deepEqual(out.properties[0]?.valueType, {
    type: 'array',
    elementType: { type: 'double', min: -50, max: 50, unit: 'mm/s' },
    expands: { minItems: 1, maxItems: 8192 },
  });
  assert.deepEqual(out.properties[1]?.valueType, { type: 'array', elementType: { type: 'int' } });
  assert.deepEqual(out.properties[2]?.valueType, { type: 'array', elementType: { type: 'double' }, expands: { dimensions: [2, 3] } });
  assert.deepEqual(tslToModel(JSON.parse(JSON.stringify(out))), m);
  // What the thing model refuses is refused on import too, naming the model's path.
  assert.throws(() => tslToModel(prop({ type: 'array', elementType: 'int', expands: { maxItems: 1e6 } })), {
    code: 'IIP_ERR_MODEL_INVALID',
    details: { path: 'properties[0].dataType.maxItems' },
  });
});
