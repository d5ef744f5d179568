/**
 * The alarm KPI page's strings in English and 简体中文, kept beside the page like the alarm pages'. Both languages
 * have the same keys (enforced by the type) and the same {placeholders} (by a test). Severity names come from the
 * alarm pages' dictionary, so a severity reads the same on every page. Pure.
 */
import { fillTemplate, type Lang } from '../i18n-dictionary';

const en = {
  'nav.kpis': 'Alarm KPIs',
  title: 'Alarm KPIs',
  hint: 'How the alarm system performs, judged as EEMUA 191 and ISA-18.2 do. Rates are per operator: iip counts the tenant as one operator position — divide by the positions of a larger plant.',
  'period.label': 'Period',
  'period.24h': 'Last 24 hours',
  'period.7d': 'Last 7 days',
  'period.30d': 'Last 30 days',
  refresh: 'Refresh',
  loading: 'Loading…',
  range: '{from} – {to}',
  total: '{n} alarms in the period',
  'level.ok': 'within target',
  'level.warn': 'above target',
  'level.bad': 'far above target',
  'rate10.title': 'Alarms per operator per 10 min',
  'rate10.peak': 'Busiest 10 minutes: {max}',
  'rate10.target': 'Target ≤ {target} per 10 min — manageable (EEMUA 191); 2 at most (ISA-18.2)',
  'rateDay.title': 'Alarms per operator per day',
  'rateDay.perHour': 'About {perHour} per hour',
  'rateDay.target': 'Target ≈ {target} per day (about {perHour} per hour) — acceptable (ISA-18.2, EEMUA 191)',
  'flood.title': 'Time in alarm flood',
  'flood.hint': 'Share of 10-minute periods with more than 10 alarms.',
  'flood.target': 'Target under {target} of the time',
  'top.title': 'Top 10 bad actors',
  'top.hint': 'The sources (a rule on a device) with the most alarms. Together they make {share} of all alarms; the target is under {target}.',
  'top.none': 'No alarms in the period.',
  'chatter.title': 'Chattering alarms',
  'chatter.hint': 'Sources that raised 3 or more alarms within a minute: candidates for a deadband, a delay (for) or a repeat count.',
  'chatter.none': 'No chattering alarm in the period.',
  'stale.title': 'Stale alarms',
  'stale.hint': 'Alarms active for more than 24 hours now: they no longer ask for action, and hide the ones that do.',
  'stale.none': 'No stale alarm.',
  'prio.title': 'Priority distribution',
  'prio.hint': 'Alarms of the period by severity. A healthy system has mostly low and few critical alarms.',
  'col.rank': '#',
  'col.rule': 'Rule',
  'col.device': 'Device',
  'col.count': 'Alarms',
  'col.share': 'Share',
  'col.maxPerMinute': 'Most in a minute',
  'col.activeSince': 'Active since',
  'col.activeFor': 'Active for',
  'err.IIP_ERR_AUTH_FORBIDDEN': 'The alarm KPIs cover the whole tenant: they need permission to read alarms on the whole tenant, not only on some assets.',
  'err.IIP_ERR_VALIDATION': 'The platform refused the period.',
};

export type KpisKey = keyof typeof en;

const zh: Record<KpisKey, string> = {
  'nav.kpis': '报警指标',
  title: '报警管理指标',
  hint: '按 EEMUA 191 和 ISA-18.2 评估报警系统的表现。报警率按每名操作员计算：iip 把一个租户视为一个操作员岗位——规模较大的工厂请除以岗位数。',
  'period.label': '时间段',
  'period.24h': '最近 24 小时',
  'period.7d': '最近 7 天',
  'period.30d': '最近 30 天',
  refresh: '刷新',
  loading: '加载中…',
  range: '{from} 至 {to}',
  total: '此时间段内共 {n} 次报警',
  'level.ok': '达标',
  'level.warn': '超出目标',
  'level.bad': '远超目标',
  'rate10.title': '每名操作员每 10 分钟报警数',
  'rate10.peak': '最繁忙的 10 分钟：{max} 次',
  'rate10.target': '目标 ≤ {target} 次/10 分钟——可管理（EEMUA 191）；最多 2 次（ISA-18.2）',
  'rateDay.title': '每名操作员每天报警数',
  'rateDay.perHour': '约每小时 {perHour} 次',
  'rateDay.target': '目标约 {target} 次/天（约每小时 {perHour} 次）——可接受（ISA-18.2、EEMUA 191）',
  'flood.title': '报警泛滥时间占比',
  'flood.hint': '报警数超过 10 次的 10 分钟时段所占比例。',
  'flood.target': '目标低于 {target}',
  'top.title': '前 10 个最频繁报警源',
  'top.hint': '报警次数最多的报警源（某设备上的某条规则）。它们合计占全部报警的 {share}；目标低于 {target}。',
  'top.none': '此时间段内没有报警。',
  'chatter.title': '振荡报警',
  'chatter.hint': '一分钟内产生 3 次及以上报警的报警源：可考虑增加死区、延时（for）或重复次数。',
  'chatter.none': '此时间段内没有振荡报警。',
  'stale.title': '陈旧报警',
  'stale.hint': '当前已持续激活超过 24 小时的报警：它们不再促使人采取行动，反而会掩盖需要处理的报警。',
  'stale.none': '没有陈旧报警。',
  'prio.title': '优先级分布',
  'prio.hint': '此时间段内按严重度统计的报警。健康的报警系统以低级报警为主，紧急报警很少。',
  'col.rank': '序号',
  'col.rule': '规则',
  'col.device': '设备',
  'col.count': '报警数',
  'col.share': '占比',
  'col.maxPerMinute': '一分钟内最多',
  'col.activeSince': '激活时间',
  'col.activeFor': '已持续',
  'err.IIP_ERR_AUTH_FORBIDDEN': '报警指标覆盖整个租户：需要在整个租户范围内读取报警的权限，而不仅是部分资产。',
  'err.IIP_ERR_VALIDATION': '平台拒绝了该时间段。',
};

export const KPIS_DICTIONARY: Record<Lang, Record<KpisKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function kpisText(lang: Lang, key: KpisKey, params?: Readonly<Record<string, string | number>>): string {
  return fillTemplate(KPIS_DICTIONARY[lang][key], params);
}

/** A friendly text for a refusal's code, where there is one. */
export function kpisErrorText(lang: Lang, code: string): string | undefined {
  const k = `err.${code}`;
  return Object.hasOwn(en, k) ? KPIS_DICTIONARY[lang][k as KpisKey] : undefined;
}
