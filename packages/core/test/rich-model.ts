/**
 * A thing model that uses every feature both exchange formats can carry, shared by the round-trip tests.
 */
import type { ThingModel } from '@iip/core';

export const richModel: ThingModel = {
  properties: [
    { id: 'temperature', name: '温度', description: 'Bearing temperature', access: 'r', dataType: { type: 'float', min: -40, max: 125.5, unit: '°C' } },
    { id: 'speed', name: 'Speed', access: 'rw', dataType: { type: 'int', min: 0, max: 3000, unit: 'rpm' } },
    { id: 'counter', access: 'r', dataType: { type: 'int', min: 0, max: 2 ** 40 } },
    { id: 'running', access: 'rw', dataType: { type: 'bool', trueText: '运行', falseText: '停止' } },
    { id: 'serial', access: 'r', dataType: { type: 'string', maxLength: 32 } },
    { id: 'note', access: 'rw', dataType: { type: 'string' } },
    {
      id: 'mode',
      access: 'rw',
      dataType: { type: 'enum', values: [{ value: 'auto', text: '自动' }, { value: 'manual', text: 'Manual' }, { value: 'off' }] },
    },
    {
      id: 'waveform',
      name: '振动波形',
      access: 'r',
      dataType: { type: 'array', items: { type: 'float', min: -50, max: 50, unit: 'mm/s' }, minItems: 1, maxItems: 8192 },
    },
    { id: 'flags', access: 'rw', dataType: { type: 'array', items: { type: 'bool' } } },
    { id: 'gains', access: 'r', dataType: { type: 'array', items: { type: 'int', min: 0 }, dimensions: [2, 3] } },
  ],
  events: [
    {
      id: 'overheat',
      name: 'Overheat',
      description: 'Temperature above the trip point',
      level: 'alert',
      outputs: [
        { id: 'temperature', name: 'Temperature', dataType: { type: 'float', unit: '°C' } },
        { id: 'phase', dataType: { type: 'enum', values: [{ value: 'L1' }, { value: 'L2' }] } },
      ],
    },
    { id: 'heartbeat', level: 'info', outputs: [] },
    { id: 'door', outputs: [{ id: 'open', dataType: { type: 'bool' } }] },
  ],
  services: [
    {
      id: 'setSpeed',
      name: 'Set speed',
      description: 'Ramps the motor to a new speed',
      inputs: [
        { id: 'rpm', name: 'RPM', required: true, dataType: { type: 'int', min: 0, max: 3000, unit: 'rpm' } },
        { id: 'ramp', dataType: { type: 'float', min: 0 } },
      ],
      outputs: [{ id: 'accepted', dataType: { type: 'bool' } }, { id: 'reason', dataType: { type: 'string', maxLength: 200 } }],
    },
    { id: 'reset', inputs: [], outputs: [] },
  ],
};
