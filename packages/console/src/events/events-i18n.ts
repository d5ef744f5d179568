/**
 * The device page's events panel strings in English and 简体中文, kept beside the panel like the administration
 * pages' (the console's main dictionary holds the shared shell strings). Both languages have the same keys
 * (enforced by the type) and the same {placeholders} (by a test). Pure.
 */
import type { Lang } from '../i18n-dictionary';

const en = {
  title: 'Events',
  'filter.event': 'Event',
  'filter.allEvents': 'All events',
  'filter.level': 'Level',
  'filter.allLevels': 'All levels',
  'level.info': 'Info',
  'level.warn': 'Warning',
  'level.alert': 'Alert',
  'col.time': 'Time',
  'col.event': 'Event',
  'col.level': 'Level',
  'col.values': 'Values',
  loading: 'Loading events…',
  empty: 'No events since {time}.',
  emptyFiltered: 'No matching events since {time}.',
  since: 'Showing {count} events since {time}, newest first.',
  partial: 'Many events in this window: only the newest are shown. Narrow it with the filters.',
  older: 'Load older (24 h back)',
  olderLoading: 'Loading…',
  received: 'Received {time}',
  noValues: 'no values',
};

export type EventsKey = keyof typeof en;

const zh: Record<EventsKey, string> = {
  title: '事件',
  'filter.event': '事件',
  'filter.allEvents': '全部事件',
  'filter.level': '级别',
  'filter.allLevels': '全部级别',
  'level.info': '信息',
  'level.warn': '警告',
  'level.alert': '告警',
  'col.time': '时间',
  'col.event': '事件',
  'col.level': '级别',
  'col.values': '输出值',
  loading: '正在加载事件…',
  empty: '自 {time} 以来没有事件。',
  emptyFiltered: '自 {time} 以来没有符合条件的事件。',
  since: '自 {time} 以来共 {count} 条事件，最新的在前。',
  partial: '此时间段内事件过多，只显示最新的部分。请用筛选条件缩小范围。',
  older: '加载更早的事件（向前 24 小时）',
  olderLoading: '加载中…',
  received: '接收时间 {time}',
  noValues: '无输出值',
};

export const EVENTS_DICTIONARY: Record<Lang, Record<EventsKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function eventsText(lang: Lang, key: EventsKey, params?: Readonly<Record<string, string | number>>): string {
  const template = EVENTS_DICTIONARY[lang][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}
