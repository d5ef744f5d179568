/**
 * `iip rule list|show|apply|check|delete`: the tenant's rules (docs/reference/rules.md) through /api/v1/rules…
 * A rule file is JSON or YAML and holds one rule or a list of them; `apply` creates a rule, or replaces it with the
 * version just read (so a save made meanwhile is refused with IIP_ERR_CONFLICT rather than overwritten).
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { ApiClient, ApiError } from '../api-client.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, noMore, parse, required, wantsHelp } from '../args.js';
import { isoTime, table } from '../table.js';

export const ruleHelp = `iip rule — rules that raise alarms / 告警规则

  iip rule list [--json]                     the tenant's rules / 规则列表
  iip rule show <id> [--json]                one rule, with its defaults / 查看规则（含默认值）
  iip rule apply -f <file.json|file.yaml|->  create each rule in the file, or replace it (with the version read)
      / 创建或替换文件中的规则（按读取到的版本替换）
  iip rule check -f <file|->                 check without saving: the rule with its defaults, or the refusal with
      its field and position (exit 1) / 仅校验不保存：显示含默认值的规则，或拒绝原因及字段、位置（退出码 1）
  iip rule delete <id>                       delete it (its alarms and their history stay) / 删除规则（告警及历史保留）
  iip rule actions [--state pending|done|dead] [--rule <id>] [--device <id>] [--limit n] [--json]
      the deliveries of rules' actions (webhook, e-mail, write, invoke, publish), newest first, with their
      attempts and last error / 规则动作的投递记录（最新在前），含尝试次数与最近错误
  iip rule retry <delivery-id>               retry a dead-lettered delivery / 重试已进入死信的投递
  iip rule signing-secret [--rotate]         the webhook signing secret (X-IIP-Signature) / Webhook 签名密钥

  A file holds one rule or a list of rules (JSON, or YAML — also several YAML documents separated by ---);
  "-" reads standard input. Fields: see docs/reference/rules.md / 字段说明见 docs/reference/rules.md.
  Refusals carry their code: IIP_ERR_RULE_INVALID, IIP_ERR_RULE_UNKNOWN_PROPERTY, IIP_ERR_RULE_TYPE,
  IIP_ERR_RULE_EXPRESSION, IIP_ERR_RULE_READ_ONLY, IIP_ERR_RULE_LOOP, IIP_ERR_RULE_ACTION_UNAVAILABLE,
  IIP_ERR_CONFLICT (saved by someone else meanwhile).

${CONNECTION_HELP}`;

export interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  scope: { product: string; asset: string | null; devices: string[] | null };
  when: {
    threshold?: { property: string; op: string; value: number; deadband: number };
    expression?: string;
    window?: { property: string; fn: string; sizeMs: number; kind: string; op: string; value: number; deadband: number };
    rate?: { property: string; perMs: number; op: string; value: number; deadband: number };
    event?: { event: string; where?: string; clearOn?: string };
    noData?: { property: string | null; afterMs: number };
    assetExpression?: { expression: string; maxAgeMs: number };
    forMs: number;
    count: number;
  };
  alarm: { severity: string; message: string; latching: boolean };
  actions?: Array<Record<string, unknown> & { type: string; on?: string[]; delayMs?: number }>;
  version?: number;
  updatedAt?: number;
  updatedBy?: string;
  /** From validation: the properties the condition reads. */
  properties?: string[];
}

/** Reads the documents of a rule file: JSON or YAML, "-" for standard input; a list is spread into its rules. */
export async function readRuleFile(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`-f ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}) / 无法读取文件`);
  }
  let docs: unknown[];
  if (/\.json$/i.test(file)) {
    try {
      docs = [JSON.parse(text)];
    } catch (e) {
      throw new UsageError(`${file}: not valid JSON (${(e as Error).message}) / 不是有效的 JSON`);
    }
  } else {
    const parsed = parseAllDocuments(text);
    const all = Array.isArray(parsed) ? parsed : [parsed];
    for (const d of all) {
      const first = d.errors[0];
      if (first) throw new UsageError(`${file}: not valid YAML or JSON (${first.message.split('\n')[0]}) / 不是有效的 YAML 或 JSON`);
    }
    docs = all.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
  }
  const rules = docs.flatMap((d) => (Array.isArray(d) ? d : [d]));
  if (rules.length === 0) throw new UsageError(`${file}: no rule in it / 文件中没有规则`);
  return rules.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new UsageError(`${file}: item ${i + 1} is not a rule (an object with id, scope, when, alarm) / 第 ${i + 1} 项不是规则`);
    return asDocument(r as Record<string, unknown>);
  });
}

/**
 * What to send for a rule read from a file. A rule printed by `iip rule show --json` can be applied again: what the
 * platform adds (version, updatedAt, updatedBy, properties) is left out and its `when.forMs` is written `for`.
 */
export function asDocument(r: Record<string, unknown>): Record<string, unknown> {
  const { version: _v, updatedAt: _a, updatedBy: _b, properties: _p, ...doc } = r;
  const when = doc.when;
  if (when && typeof when === 'object' && !Array.isArray(when) && 'forMs' in when) {
    const { forMs, ...rest } = when as Record<string, unknown>;
    doc.when = rest.for === undefined ? { ...rest, for: forMs } : rest;
  }
  return doc;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const duration = (ms: number): string => {
  if (ms === 0) return '0';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
};

/** The condition in a line: `t > 80 (deadband 2) for 1m, 3 in a row`. */
export function condition(r: Rule): string {
  const { threshold: t, window: w, rate } = r.when;
  const limit = (x: { op: string; value: number; deadband: number }) => `${x.op} ${x.value}${x.deadband ? ` (deadband ${x.deadband})` : ''}`;
  let c = t
    ? `${t.property} ${limit(t)}`
    : w
      ? `${w.fn}(${w.property}) over ${duration(w.sizeMs)}${w.kind === 'tumbling' ? ' tumbling' : ''} ${limit(w)}`
      : rate
        ? `rate(${rate.property}) per ${duration(rate.perMs)} ${limit(rate)}`
        : r.when.event
          ? `event ${r.when.event.event}${r.when.event.where ? ` where ${r.when.event.where}` : ''}${r.when.event.clearOn ? `, cleared by ${r.when.event.clearOn}` : ''}`
          : r.when.noData
            ? `no data${r.when.noData.property ? ` of ${r.when.noData.property}` : ''} for ${duration(r.when.noData.afterMs)}`
            : r.when.assetExpression
              ? `over the asset's devices (values of the last ${duration(r.when.assetExpression.maxAgeMs)}): ${r.when.assetExpression.expression}`
              : (r.when.expression ?? '?');
  if (r.when.forMs) c += ` for ${duration(r.when.forMs)}`;
  if (r.when.count > 1) c += `, ${r.when.count} in a row`;
  return c;
}

function describeRule(r: Rule): string[] {
  const lines = [
    `rule / 规则 ${r.id}${r.name && r.name !== r.id ? `  "${r.name}"` : ''}${r.enabled ? '' : '  (disabled / 已停用)'}`,
    `  product / 产品:    ${r.scope.product}`,
    `  asset / 资产:      ${r.scope.asset ?? 'any / 全部'}`,
    `  devices / 设备:    ${r.scope.devices ? r.scope.devices.join(', ') : 'all of the product / 该产品全部设备'}`,
    `  when / 条件:       ${condition(r)}`,
    `  alarm / 告警:      ${r.alarm.severity}${r.alarm.latching ? ', latching / 闭锁' : ''}${r.alarm.message ? `: ${r.alarm.message}` : ''}`,
  ];
  for (const [i, a] of (r.actions ?? []).entries()) lines.push(`  ${i === 0 ? 'actions / 动作:    ' : '                   '}${actionSummary(a)}`);
  if (r.properties) lines.push(`  reads / 读取属性:  ${r.properties.join(', ')}`);
  if (r.version !== undefined) lines.push(`  version / 版本:    ${r.version}${r.updatedAt ? `, ${isoTime(r.updatedAt)}` : ''}${r.updatedBy ? ` by ${r.updatedBy}` : ''}`);
  return lines;
}

/** An action in a line: `on raise: webhook https://…`, `after 30s on raise, clear: write coolant = true`. */
export function actionSummary(a: Record<string, unknown> & { type: string; on?: string[]; delayMs?: number }): string {
  const what =
    a.type === 'webhook'
      ? `webhook ${String(a.url)}`
      : a.type === 'email'
        ? `email ${(a.to as string[] | undefined)?.join(', ') ?? ''}`
        : a.type === 'write'
          ? `write ${String(a.property)} = ${JSON.stringify(a.value)}`
          : a.type === 'invoke'
            ? `invoke ${String(a.service)}`
            : a.type === 'publish'
              ? `publish rules/${String(a.topic)}`
              : a.type;
  return `${a.delayMs ? `after ${duration(a.delayMs)} ` : ''}on ${(a.on ?? ['raise']).join(', ')}: ${what}`;
}

interface Delivery {
  id: string;
  rule: string;
  device: string;
  kind: string;
  state: string;
  attempts: number;
  dueAt: number;
  createdAt: number;
  lastError: string | null;
  notice: { transition?: string } | null;
}

/**
 * A refusal of a rule, re-thrown with where it is: the field, and for an expression the text with a caret under the
 * position the parser stopped at.
 */
function located(e: unknown, doc: Record<string, unknown>): unknown {
  if (!(e instanceof ApiError) || !e.code.startsWith('IIP_ERR_RULE_')) return e;
  const msg = e.message.replace(/^[A-Z_]+: /, '');
  const where: string[] = [];
  if (typeof e.details.field === 'string') where.push(`field / 字段: ${e.details.field}`);
  const pos = e.details.position;
  if (typeof pos === 'number') {
    where.push(`position / 位置: ${pos}`);
    const expr = (doc.when as { expression?: unknown } | undefined)?.expression;
    if (typeof expr === 'string' && !expr.includes('\n')) where.push(`    ${expr}`, `    ${' '.repeat(Math.min(pos, expr.length))}^`);
  }
  return new ApiError(e.status, e.code, [msg, ...where.map((w) => `  ${w}`)].join('\n'), e.details);
}

export async function rule(argv: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    ...CONNECTION_OPTIONS,
    file: { type: 'string', short: 'f' },
    state: { type: 'string' },
    rule: { type: 'string' },
    device: { type: 'string' },
    limit: { type: 'string' },
    rotate: { type: 'boolean' },
  });
  if (values.help || wantsHelp(sub)) return out(ruleHelp);
  const api = ApiClient.fromEnv(values.url, values.tenant);
  const print = (v: unknown, text: string): void => out(values.json ? JSON.stringify(v, null, 2) : text);
  const path = (id: string): string => `/api/v1/rules/${encodeURIComponent(id)}`;
  const file = (usage: string): string => {
    noMore(positionals, 0, usage);
    if (values.file === undefined || values.file === '') throw new UsageError(`-f <file> is required: ${usage}`);
    return values.file;
  };
  switch (sub) {
    case 'list': {
      noMore(positionals, 0, 'iip rule list [--json]');
      const r = await api.call<{ items: Rule[] }>('GET', '/api/v1/rules');
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(
        table([
          ['ID', 'PRODUCT', 'ASSET', 'CONDITION', 'SEVERITY', 'ENABLED', 'VERSION', 'UPDATED'],
          ...r.items.map((x) => [x.id, x.scope.product, x.scope.asset ?? '-', condition(x), x.alarm.severity, x.enabled ? 'yes' : 'no', String(x.version ?? '-'), x.updatedAt ? isoTime(x.updatedAt) : '-']),
        ]),
      );
      out(`${r.items.length} rules / 条规则`);
      return;
    }
    case 'show': {
      const usage = 'iip rule show <id> [--json]';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      const r = await api.call<Rule>('GET', path(id));
      return print(r, describeRule(r).join('\n'));
    }
    case 'check': {
      const docs = await readRuleFile(file('iip rule check -f <file|->'));
      const checked: Rule[] = [];
      for (const doc of docs) {
        try {
          checked.push(await api.call<Rule>('POST', '/api/v1/rules/validate', doc));
        } catch (e) {
          throw located(e, doc);
        }
      }
      return print(checked.length === 1 ? checked[0] : checked, [...checked.flatMap((r) => describeRule(r)), `OK / 校验通过: ${checked.length} rule${checked.length === 1 ? '' : 's'} / 条规则`].join('\n'));
    }
    case 'apply': {
      const docs = await readRuleFile(file('iip rule apply -f <file.json|file.yaml|->'));
      const saved: Array<Rule & { created: boolean }> = [];
      for (const doc of docs) {
        if (typeof doc.id !== 'string' || doc.id === '') throw new UsageError(`a rule in the file has no "id" / 文件中的规则缺少 id`);
        let current: Rule | undefined;
        try {
          current = await api.call<Rule>('GET', path(doc.id));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'IIP_ERR_NOT_FOUND')) throw e;
        }
        try {
          const r = current ? await api.call<Rule>('PUT', path(doc.id), { ...doc, version: current.version }) : await api.call<Rule>('POST', '/api/v1/rules', doc);
          saved.push({ ...r, created: current === undefined });
          // Said at once: when a later rule of the file is refused, the ones before it are saved.
          if (!values.json) out(current ? `Replaced rule / 已替换规则 ${r.id} (version / 版本 ${r.version})` : `Created rule / 已创建规则 ${r.id} (version / 版本 ${r.version})`);
        } catch (e) {
          throw located(e, doc);
        }
      }
      if (values.json) out(JSON.stringify(saved, null, 2));
      return;
    }
    case 'delete': {
      const usage = 'iip rule delete <id>';
      const id = required(positionals, 0, 'id', usage);
      noMore(positionals, 1, usage);
      await api.call('DELETE', path(id));
      return print({ id, deleted: true }, `Deleted rule / 已删除规则 ${id} (its alarms stay / 其告警保留)`);
    }
    case 'actions': {
      noMore(positionals, 0, 'iip rule actions [--state pending|done|dead] [--rule <id>] [--device <id>] [--limit n] [--json]');
      if (values.state !== undefined && !['pending', 'done', 'dead'].includes(values.state)) throw new UsageError(`--state ${values.state}: pending, done or dead`);
      const q = new URLSearchParams();
      for (const k of ['state', 'rule', 'device', 'limit'] as const) if (values[k] !== undefined) q.set(k, String(values[k]));
      const r = await api.call<{ items: Delivery[]; counts: Record<string, number> }>('GET', `/api/v1/rule-actions${q.size > 0 ? `?${q}` : ''}`);
      if (values.json) return out(JSON.stringify(r, null, 2));
      out(
        table([
          ['CREATED', 'RULE', 'DEVICE', 'ACTION', 'ON', 'STATE', 'ATTEMPTS', 'LAST ERROR', 'ID'],
          ...r.items.map((d) => [isoTime(d.createdAt), d.rule, d.device, d.kind, d.notice?.transition ?? '-', d.state, String(d.attempts), d.lastError ? d.lastError.slice(0, 80) : '-', d.id]),
        ]),
      );
      out(`pending / 待投递 ${r.counts.pending ?? 0}, done / 已完成 ${r.counts.done ?? 0}, dead / 死信 ${r.counts.dead ?? 0}`);
      return;
    }
    case 'retry': {
      const usage = 'iip rule retry <delivery-id>';
      const id = required(positionals, 0, 'delivery-id', usage);
      noMore(positionals, 1, usage);
      const d = await api.call<Delivery>('POST', `/api/v1/rule-actions/${encodeURIComponent(id)}/retry`);
      return print(d, `Retrying / 正在重试 ${d.id} (${d.kind}, due now / 立即投递)`);
    }
    case 'signing-secret': {
      noMore(positionals, 0, 'iip rule signing-secret [--rotate]');
      const r = await api.call<{ secret: string }>(values.rotate ? 'POST' : 'GET', `/api/v1/rules/signing-secret${values.rotate ? '/rotate' : ''}`);
      return print(r, values.rotate ? `New signing secret / 新签名密钥: ${r.secret}` : r.secret);
    }
    default:
      throw new UsageError(`unknown subcommand "iip rule ${sub}"; use list, show, apply, check, delete, actions, retry or signing-secret`);
  }
}
