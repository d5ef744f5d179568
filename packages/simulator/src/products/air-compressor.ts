/** Screw air compressor (螺杆空压机), 75 kW, load/unload control around a pressure set point. */
import { energyKwh, FAULT_OUTPUTS, float, machineState } from './model-helpers.js';
import type { ProductDefinition } from './product-definition.js';

export const AIR_COMPRESSOR: ProductDefinition = {
  id: 'air-compressor',
  name: 'Screw air compressor',
  nameZh: '螺杆空压机',
  category: 'utility',
  model: {
    properties: [
      float('discharge_pressure', 'Discharge pressure', '排气压力', 'bar', 0, 16),
      float('temperature', 'Discharge temperature', '排气温度', '°C', -20, 130),
      float('motor_current', 'Motor current', '电机电流', 'A', 0, 400),
      float('power', 'Active power', '有功功率', 'kW', 0, 110),
      energyKwh(),
      { id: 'running', name: 'Running', description: '运行中', access: 'r', dataType: { type: 'bool', trueText: '运行', falseText: '停机' } },
      machineState(),
      float('pressure_setpoint', 'Pressure set point', '压力设定值', 'bar', 5, 13, 'rw'),
    ],
    events: [{ id: 'fault', name: 'Compressor fault', level: 'alert', outputs: FAULT_OUTPUTS }],
    services: [
      { id: 'start', name: 'Start compressor', inputs: [], outputs: [{ id: 'accepted', dataType: { type: 'bool' } }] },
      { id: 'stop', name: 'Stop compressor', inputs: [], outputs: [{ id: 'accepted', dataType: { type: 'bool' } }] },
    ],
  },
};
