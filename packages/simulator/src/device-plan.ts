/**
 * A deterministic device line-up for demos and benchmarks: kinds mixed round-robin so any count gets a
 * balanced factory, and names that sort and read well (cnc-01, compressor-01, moulding-01, meter-01 …).
 */
import { IipError } from '@iip/core';
import type { FactoryProductId } from './products/product-definition.js';

export interface DevicePlanEntry {
  readonly id: string;
  readonly name: string;
  readonly nameZh: string;
  readonly product: string;
}

interface Kind {
  readonly product: FactoryProductId;
  readonly prefix: string;
  readonly name: string;
  readonly nameZh: string;
}

const KINDS: readonly Kind[] = [
  { product: 'cnc-machine', prefix: 'cnc', name: 'CNC machine', nameZh: '数控机床' },
  { product: 'air-compressor', prefix: 'compressor', name: 'Air compressor', nameZh: '空压机' },
  { product: 'injection-moulding-machine', prefix: 'moulding', name: 'Injection-moulding machine', nameZh: '注塑机' },
  { product: 'energy-meter', prefix: 'meter', name: 'Energy meter', nameZh: '电能表' },
];

/** Default size of the demo factory. */
export const DEMO_DEVICE_COUNT = 24;

export function factoryDevicePlan(count: number = DEMO_DEVICE_COUNT): DevicePlanEntry[] {
  if (!(Number.isInteger(count) && count >= 0)) {
    throw new IipError('IIP_ERR_SIM_BAD_OPTION', `device count must be a non-negative integer, got ${count}`, { count });
  }
  const perKind = Math.ceil(count / KINDS.length);
  const width = Math.max(2, String(perKind).length);
  const plan: DevicePlanEntry[] = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const n = String(Math.floor(i / KINDS.length) + 1).padStart(width, '0');
    plan.push({ id: `${kind.prefix}-${n}`, name: `${kind.name} ${n}`, nameZh: `${kind.nameZh} ${n}`, product: kind.product });
  }
  return plan;
}
