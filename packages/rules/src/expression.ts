/**
 * Rule expressions in CEL (the Common Expression Language: non-Turing-complete, side-effect free, type-checked;
 * ADR 0011), with @marcbachmann/cel-js — an interpreter over a parsed tree, never `eval`. A thing model becomes
 * a typed environment: each property is a variable (float and int → double, bool → bool, string and enum →
 * string, an array → a list of those), so an expression naming an unknown property or mixing types is refused when the rule is saved, with
 * the position, not when it first runs.
 */
import { type DataType, IipError, type PointValue, type ThingModel } from '@iip/core';
import { Environment } from '@marcbachmann/cel-js';

/** Bounds on one expression, checked when it is parsed: a rule stays small and quick whatever is typed. */
const LIMITS = { maxAstNodes: 500, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 };
/** Longest expression text accepted. */
export const MAX_EXPRESSION_LENGTH = 2_000;

export interface CompiledExpression {
  readonly source: string;
  /** The properties it reads (each must have a value before it can be evaluated). */
  readonly properties: readonly string[];
  /** Evaluates with the device's current values; every property in `properties` must be present. */
  evaluate(values: Readonly<Record<string, PointValue>>): unknown;
}

/** Where an expression sits, for the error details: the rule and the field. */
export interface ExpressionSite {
  readonly rule: string;
  readonly field: string;
}

type Ast = { op: string; args: unknown; pos?: number };

function scalarCelType(type: DataType['type'] | undefined): string {
  switch (type) {
    case 'bool':
      return 'bool';
    case 'string':
    case 'enum':
      return 'string';
    default:
      return 'double';
  }
}

/**
 * An array property is a CEL list of its elements' type (a matrix is the flat, row-major list), so that
 * `size(waveform) > 0`, `waveform[0] > 3.0` and `waveform.exists(x, x > 3.0)` type-check; the values arrive as
 * JS arrays, which CEL reads as lists (numbers as doubles, as for scalars).
 */
function celType(model: ThingModel, id: string): string {
  const dt = model.properties.find((x) => x.id === id)?.dataType;
  return dt?.type === 'array' ? `list<${scalarCelType(dt.items.type)}>` : scalarCelType(dt?.type);
}

/** One environment per thing model (a product version): every property a typed variable. */
export function modelEnvironment(model: ThingModel): Environment {
  const env = new Environment({ limits: LIMITS });
  for (const p of model.properties) env.registerVariable(p.id, celType(model, p.id));
  return env;
}

/** avg, min, max and sum of a list of numbers (CEL has size(); these complete it for rules over an asset's devices). */
const AGGREGATES: ReadonlyArray<[string, (xs: readonly number[]) => number]> = [
  ['avg', (xs) => xs.reduce((a, b) => a + b, 0) / xs.length],
  ['min', (xs) => xs.reduce((a, b) => Math.min(a, b))],
  ['max', (xs) => xs.reduce((a, b) => Math.max(a, b))],
  ['sum', (xs) => xs.reduce((a, b) => a + b, 0)],
];

/**
 * The environment of an expression over the devices of one asset: each property is the list of its latest values,
 * one per device that reported it recently (`list<double>` for a number, `list<bool>`…), with avg(), min(), max() and
 * sum() of a list of numbers beside CEL's size(), exists(), all() and filter(). An empty list has no avg, min or max:
 * the expression is then not evaluated (the engine gives it only properties some device reported).
 */
export function assetEnvironment(model: ThingModel): Environment {
  const env = new Environment({ limits: LIMITS });
  for (const p of model.properties) env.registerVariable(p.id, `list<${celType(model, p.id)}>`);
  for (const [name, fn] of AGGREGATES) {
    env.registerFunction(`${name}(list<double>): double`, (list: Iterable<number>) => {
      const xs = [...list];
      if (xs.length === 0) throw new Error(`${name}() of an empty list`);
      return fn(xs);
    });
  }
  return env;
}

function identifiers(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) identifiers(n, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as Ast;
  if (n.op === 'id' && typeof n.args === 'string') out.add(n.args);
  else identifiers(n.args, out);
}

function positionOf(e: unknown): number | undefined {
  const x = e as { node?: { pos?: number; start?: number }; position?: { pos?: number } };
  return x.node?.start ?? x.node?.pos ?? x.position?.pos;
}

/**
 * Compiles a condition: it must parse, name only properties of the model, and be true/false. Refusals:
 * IIP_ERR_RULE_EXPRESSION (does not parse, too long or too large), IIP_ERR_RULE_UNKNOWN_PROPERTY,
 * IIP_ERR_RULE_TYPE (types that do not go together, or not a true/false result) — each naming rule, field and
 * position.
 */
export function compileCondition(env: Environment, source: string, site: ExpressionSite): CompiledExpression {
  const where = { rule: site.rule, field: site.field };
  if (typeof source !== 'string' || source.trim() === '') throw new IipError('IIP_ERR_RULE_EXPRESSION', `rule "${site.rule}": ${site.field}: an expression is required`, where);
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new IipError('IIP_ERR_RULE_EXPRESSION', `rule "${site.rule}": ${site.field}: longer than ${MAX_EXPRESSION_LENGTH} characters`, { ...where, length: source.length });
  }
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(source);
  } catch (e) {
    throw new IipError('IIP_ERR_RULE_EXPRESSION', `rule "${site.rule}": ${site.field}: ${firstLine(e)}`, { ...where, position: positionOf(e) ?? null });
  }
  const checked = env.check(source);
  if (!checked.valid) {
    const err = checked.error as { name?: string; message?: string; node?: Ast };
    const msg = firstLine(err);
    const unknown = /^Unknown variable: (.+)$/.exec(msg);
    if (unknown) {
      throw new IipError('IIP_ERR_RULE_UNKNOWN_PROPERTY', `rule "${site.rule}": ${site.field}: property "${unknown[1]}" is not in the thing model`, {
        ...where,
        property: unknown[1] as string,
        position: positionOf(err) ?? null,
      });
    }
    const code = err.name === 'ParseError' ? 'IIP_ERR_RULE_EXPRESSION' : 'IIP_ERR_RULE_TYPE';
    const hint = /double [+\-*/%] int|int [+\-*/%] double/.test(msg) ? ' (write numbers with a decimal point next to measured values, e.g. 1.0)' : '';
    throw new IipError(code, `rule "${site.rule}": ${site.field}: ${msg}${hint}`, { ...where, position: positionOf(err) ?? null });
  }
  if (checked.type !== 'bool') {
    throw new IipError('IIP_ERR_RULE_TYPE', `rule "${site.rule}": ${site.field}: a condition must be true or false, this one is a ${checked.type}`, { ...where, type: checked.type });
  }
  const ids = new Set<string>();
  identifiers(parsed.ast, ids);
  // Macro variables (`x` in `list.exists(x, …)`) are identifiers too; only the model's properties count.
  const properties = [...ids].filter((id) => env.hasVariable(id)).sort();
  return { source, properties, evaluate: (values) => parsed(values as Record<string, unknown>) };
}

function firstLine(e: unknown): string {
  const m = e instanceof Error || (e !== null && typeof e === 'object' && 'message' in e) ? String((e as { message: unknown }).message) : String(e);
  return m.split('\n')[0] ?? m;
}
