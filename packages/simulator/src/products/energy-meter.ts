/** Three-phase energy meter (三相电能表) on a workshop feeder, 380 V line-to-line, 50 Hz. */
import { energyKwh, FAULT_OUTPUTS, float } from './model-helpers.js';
import type { ProductDefinition } from './product-definition.js';

export const ENERGY_METER: ProductDefinition = {
  id: 'energy-meter',
  name: 'Three-phase energy meter',
  nameZh: '三相电能表',
  category: 'energy',
  model: {
    properties: [
      float('voltage', 'Line voltage', '线电压', 'V', 0, 480),
      float('current', 'Phase current', '相电流', 'A', 0, 2000),
      float('active_power', 'Active power', '有功功率', 'kW', 0, 1000),
      float('power_factor', 'Power factor', '功率因数', '', 0, 1),
      energyKwh('正向有功电能'),
      float('frequency', 'Frequency', '频率', 'Hz', 45, 55),
      float('demand_limit', 'Demand limit', '需量限值', 'kW', 0, 1000, 'rw'),
    ],
    events: [{ id: 'power_quality', name: 'Power-quality event', level: 'warn', outputs: FAULT_OUTPUTS }],
    services: [
      {
        id: 'reset_max_demand',
        name: 'Reset maximum demand',
        inputs: [],
        outputs: [{ id: 'accepted', dataType: { type: 'bool' } }],
      },
    ],
  },
};
