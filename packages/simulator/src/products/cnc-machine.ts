/** CNC machining centre (数控加工中心): a 15 kW spindle up to 24 000 rpm, cutting parts in cycles. */
import { counter, energyKwh, FAULT_OUTPUTS, float, machineState } from './model-helpers.js';
import type { ProductDefinition } from './product-definition.js';

export const CNC_MACHINE: ProductDefinition = {
  id: 'cnc-machine',
  name: 'CNC machining centre',
  nameZh: '数控加工中心',
  category: 'machine-tool',
  model: {
    properties: [
      float('spindle_speed', 'Spindle speed', '主轴转速', 'rpm', 0, 24000),
      float('spindle_load', 'Spindle load', '主轴负载', '%', 0, 150),
      float('temperature', 'Spindle temperature', '主轴温度', '°C', -20, 150),
      float('vibration', 'Vibration velocity RMS', '振动速度有效值', 'mm/s', 0, 50),
      counter('part_count', 'Part count', '加工件数', 'pcs'),
      machineState(),
      float('power', 'Active power', '有功功率', 'kW', 0, 80),
      energyKwh(),
      float('feed_override', 'Feed override', '进给倍率', '%', 0, 150, 'rw'),
    ],
    events: [{ id: 'fault', name: 'Machine fault', level: 'alert', outputs: FAULT_OUTPUTS }],
    services: [
      {
        id: 'start_program',
        name: 'Start NC program',
        inputs: [{ id: 'program', name: 'Program number', dataType: { type: 'string', maxLength: 32 }, required: true }],
        outputs: [{ id: 'accepted', dataType: { type: 'bool' } }],
      },
      { id: 'reset_fault', name: 'Reset fault', inputs: [], outputs: [{ id: 'accepted', dataType: { type: 'bool' } }] },
    ],
  },
};
