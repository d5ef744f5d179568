/** Injection-moulding machine (注塑机), hydraulic, one shot per cycle of 20–50 s. */
import { counter, energyKwh, FAULT_OUTPUTS, float, machineState } from './model-helpers.js';
import type { ProductDefinition } from './product-definition.js';

export const INJECTION_MOULDING_MACHINE: ProductDefinition = {
  id: 'injection-moulding-machine',
  name: 'Injection-moulding machine',
  nameZh: '注塑机',
  category: 'moulding',
  model: {
    properties: [
      float('barrel_temperature', 'Barrel temperature', '料筒温度', '°C', 0, 400),
      float('mould_temperature', 'Mould temperature', '模具温度', '°C', 0, 150),
      float('injection_pressure', 'Injection pressure', '注射压力', 'bar', 0, 2500),
      float('cycle_time', 'Last cycle time', '成型周期', 's', 0, 600),
      counter('shot_count', 'Shot count', '模次', 'shots'),
      machineState(),
      float('power', 'Active power', '有功功率', 'kW', 0, 200),
      energyKwh(),
      float('barrel_temperature_setpoint', 'Barrel temperature set point', '料筒温度设定值', '°C', 150, 350, 'rw'),
    ],
    events: [{ id: 'fault', name: 'Moulding fault', level: 'alert', outputs: FAULT_OUTPUTS }],
    services: [
      {
        id: 'set_cycle',
        name: 'Set nominal cycle time',
        inputs: [{ id: 'cycle_time', dataType: { type: 'float', unit: 's', min: 5, max: 600 }, required: true }],
        outputs: [{ id: 'accepted', dataType: { type: 'bool' } }],
      },
      { id: 'reset_fault', name: 'Reset fault', inputs: [], outputs: [{ id: 'accepted', dataType: { type: 'bool' } }] },
    ],
  },
};
