/**
 * What the virtual factory knows about a kind of machine: its product id, display names (en / zh-CN), a
 * category for grouping in the console, and the thing model (物模型) its devices report against.
 */
import type { ThingModel } from '@iip/core';

export interface ProductDefinition {
  readonly id: string;
  readonly name: string;
  readonly nameZh: string;
  readonly category: string;
  readonly model: ThingModel;
}

/** The product ids the simulator can drive; each has a signal model in ../signals/. */
export type FactoryProductId = 'cnc-machine' | 'air-compressor' | 'injection-moulding-machine' | 'energy-meter';
