import type { ThingModel } from '@iip/core';

/** The thing model the rule tests share: a temperature and a running flag. */
export const MODEL: ThingModel = {
  properties: [
    { id: 't', dataType: { type: 'float' }, access: 'r' },
    { id: 'running', dataType: { type: 'bool' }, access: 'r' },
  ],
  events: [],
  services: [],
};
