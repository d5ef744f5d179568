/**
 * Which properties the device list shows for a product: the state enum as a badge, and a few numeric
 * values. Pure, so the choice is unit-tested and stays the same in every view.
 */
import type { PropertySpec, ThingModel } from '@iip/core';

/** Property ids that conventionally carry a machine's operating state (运行状态). */
const STATE_IDS = ['state', 'status', 'runState', 'run_state'];

export function stateProperty(model: ThingModel | undefined): PropertySpec | undefined {
  if (!model) return undefined;
  for (const id of STATE_IDS) {
    const p = model.properties.find((q) => q.id === id && q.dataType.type === 'enum');
    if (p) return p;
  }
  return undefined;
}

export function isTrendable(p: PropertySpec): boolean {
  const t = p.dataType.type;
  return t === 'int' || t === 'float' || t === 'bool';
}

/**
 * Up to `n` numeric properties; ones with a unit first, because a physical quantity (temperature,
 * current, speed) tells an engineer more at a glance than a counter. Model order is kept otherwise,
 * since product authors list the important ones first.
 */
export function keyProperties(model: ThingModel | undefined, n = 4): PropertySpec[] {
  if (!model) return [];
  const numeric = model.properties.filter((p) => p.dataType.type === 'int' || p.dataType.type === 'float');
  const hasUnit = (p: PropertySpec) => (p.dataType.type === 'int' || p.dataType.type === 'float') && !!p.dataType.unit;
  return [...numeric.filter(hasUnit), ...numeric.filter((p) => !hasUnit(p))].slice(0, n);
}

export type StateTone = 'ok' | 'warn' | 'bad' | 'idle' | 'unknown';

/** Colour class for a state value, by the words PLC programmers commonly use. */
export function stateTone(value: string | undefined): StateTone {
  if (!value) return 'unknown';
  const v = value.toLowerCase();
  if (/(fault|alarm|error|err|fail|emergency|estop|trip)/.test(v)) return 'bad';
  if (/(warn|maint|setup|changeover|blocked|starved)/.test(v)) return 'warn';
  if (/^(run|running|ok|normal|produc\w*|auto|on|active|working)$/.test(v)) return 'ok';
  if (/(idle|stop|off|standby|paused|pause|manual)/.test(v)) return 'idle';
  return 'unknown';
}
