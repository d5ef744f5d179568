/**
 * The catalogue of machine kinds in the virtual factory. Each entry is a full product (thing model with
 * properties, a writable set point, services and a fault event) that the platform can register as is.
 */
import { AIR_COMPRESSOR } from './air-compressor.js';
import { CNC_MACHINE } from './cnc-machine.js';
import { ENERGY_METER } from './energy-meter.js';
import { INJECTION_MOULDING_MACHINE } from './injection-moulding-machine.js';
import type { ProductDefinition } from './product-definition.js';

const PRODUCTS: readonly ProductDefinition[] = [CNC_MACHINE, AIR_COMPRESSOR, INJECTION_MOULDING_MACHINE, ENERGY_METER];

/** The simulator's products, freshly copied so callers may mutate what they get. */
export function factoryProducts(): ProductDefinition[] {
  return PRODUCTS.map((p) => structuredClone(p));
}

export function findProduct(id: string): ProductDefinition | undefined {
  return PRODUCTS.find((p) => p.id === id);
}
