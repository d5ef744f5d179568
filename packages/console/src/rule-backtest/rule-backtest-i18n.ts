/**
 * The rule editor's backtest strings in English and 简体中文, kept beside the backtest like the alarm pages'. Both
 * languages have the same keys (enforced by the type) and the same {placeholders} (by a test). Pure.
 */
import { fillTemplate, type Lang } from '../i18n-dictionary';

const en = {
  button: 'Backtest',
  'button.title': 'Run the rule in the editor over the stored history, without saving it',
  'period.label': 'over',
  'period.24h': 'the last 24 hours',
  'period.7d': 'the last 7 days',
  running: 'Running the rule over the history…',
  title: 'Backtest: {period}',
  summary: 'Over {devices} devices the rule would have raised {alarms} alarms.',
  range: '{from} – {to}',
  truncated: 'Not all the history was run: at most 200 devices and 100,000 points per property and device. The figures are a lower bound.',
  noDevices: 'No device of product {product} that you may read: nothing to run the rule over.',
  'caveat.event': 'The backtest replays stored telemetry, not device events: an event rule shows no alarms here.',
  'caveat.noData': 'The backtest replays stored telemetry, not the platform’s clock: a no-data rule shows no alarms here.',
  'col.device': 'Device',
  'col.alarms': 'Alarms',
  'col.active': 'Active for',
  'col.atEnd': 'Active at the end',
  'col.samples': 'Samples',
  yes: 'yes',
  no: 'no',
  pickHint: 'Pick a device to see its trend with the spans the alarm would have been active.',
  'trend.title': '{property} on {device}',
  'trend.property': 'Property',
  'trend.loading': 'Loading the trend…',
  'trend.error': 'The trend could not be loaded: {message}',
  'trend.none': 'The rule reads no property that has a trend (an event rule).',
  'trend.legend': 'Shaded: where the rule would have been active; on the strip, red ticks are raises and green ticks clears.',
  'trend.limit': 'limit {value}',
  'trend.clear': 'clears at {value}',
  'trend.cut': 'Only the first {n} raises and clears are shown.',
  'timeline.label': 'Would-be alarm of {device}: {spans} active spans',
  'moment.raise': 'Raise at {time}',
  'moment.clear': 'Clear at {time}',
  'span.title': 'Active {from} – {to} ({duration})',
  'span.open': 'Active from {from} to the end of the period',
};

export type BacktestKey = keyof typeof en;

const zh: Record<BacktestKey, string> = {
  button: '回测',
  'button.title': '用存储的历史数据运行编辑器中的规则，不保存规则',
  'period.label': '时间段',
  'period.24h': '最近 24 小时',
  'period.7d': '最近 7 天',
  running: '正在用历史数据运行规则…',
  title: '回测：{period}',
  summary: '在 {devices} 台设备上，该规则将产生 {alarms} 次报警。',
  range: '{from} 至 {to}',
  truncated: '未运行全部历史数据：最多 200 台设备，每台设备每个属性最多 100,000 个数据点。结果为下限。',
  noDevices: '没有您可查看的产品 {product} 的设备：无法运行规则。',
  'caveat.event': '回测重放的是存储的遥测数据，而非设备事件：事件规则在此不会显示报警。',
  'caveat.noData': '回测重放的是存储的遥测数据，而非平台时钟：无数据规则在此不会显示报警。',
  'col.device': '设备',
  'col.alarms': '报警数',
  'col.active': '激活时长',
  'col.atEnd': '结束时仍激活',
  'col.samples': '样本数',
  yes: '是',
  no: '否',
  pickHint: '选择一台设备，查看其趋势以及报警本应激活的时段。',
  'trend.title': '{device} 的 {property}',
  'trend.property': '属性',
  'trend.loading': '正在加载趋势…',
  'trend.error': '无法加载趋势：{message}',
  'trend.none': '该规则不读取有趋势的属性（事件规则）。',
  'trend.legend': '阴影：规则本应激活的时段；下方条带中红色刻度为产生，绿色刻度为恢复。',
  'trend.limit': '限值 {value}',
  'trend.clear': '恢复值 {value}',
  'trend.cut': '仅显示前 {n} 次产生与恢复。',
  'timeline.label': '设备 {device} 的模拟报警：{spans} 个激活时段',
  'moment.raise': '产生于 {time}',
  'moment.clear': '恢复于 {time}',
  'span.title': '激活 {from} 至 {to}（{duration}）',
  'span.open': '自 {from} 起激活，直到时间段结束',
};

export const BACKTEST_DICTIONARY: Record<Lang, Record<BacktestKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function backtestText(lang: Lang, key: BacktestKey, params?: Readonly<Record<string, string | number>>): string {
  return fillTemplate(BACKTEST_DICTIONARY[lang][key], params);
}
