/**
 * The health page's strings in English and 简体中文, kept beside the page like the other features' (the console's
 * main dictionary holds the shared shell strings). Both languages have the same keys (enforced by the type) and
 * the same {placeholders} (by a test). Pure.
 */
import type { Lang } from '../i18n-dictionary';

const en = {
  'nav.health': 'Health',
  title: 'Platform health',
  intro: 'How loaded the platform is: recent figures cover the last {seconds} s; counters run since the platform started. Refreshed every {refresh} s.',
  loading: 'Loading…',
  updated: 'Updated {age}',
  unreachable: 'Server unreachable',
  unreachableHint: 'The platform did not answer ({code}). The figures below are from {time}; the page keeps trying.',
  noData: 'No figures yet.',
  failed: 'The platform refused the request:',
  notReported: 'This platform does not report its load (it is older than this console).',
  'eventLoop.title': 'Event loop',
  'eventLoop.hint': 'How late the platform ran a timer due every 10 ms: what every device and request waits on top.',
  'eventLoop.p50': 'Delay, median',
  'eventLoop.p99': 'Delay, 99th percentile',
  'eventLoop.max': 'Delay, longest',
  'eventLoop.utilization': 'Busy',
  'puback.title': 'MQTT acknowledgements (PUBACK)',
  'puback.hint': 'From a QoS 1 message arriving to its acknowledgement: it includes storing the data.',
  'puback.p50': 'Latency, median',
  'puback.p90': 'Latency, 90th percentile',
  'puback.p99': 'Latency, 99th percentile',
  'puback.max': 'Latency, longest',
  'puback.samples': 'Acknowledgements in the window',
  'puback.none': 'No QoS 1 message in the window.',
  'mqtt.connections': 'MQTT connections',
  'mqtt.received': 'Messages received (since start)',
  'mqtt.acked': 'Acknowledgements sent (since start)',
  'mqtt.server': 'MQTT server',
  'queues.title': 'Queues',
  'queues.hint': 'What waits now. Figures that stay high mean the platform cannot keep up.',
  'queues.historian': 'Points waiting to be stored',
  'queues.inbound': 'MQTT messages awaiting an answer',
  'queues.paused': 'MQTT connections slowed down',
  'queues.outbound': 'Messages queued for devices',
  'queues.inflight': 'Messages to devices in flight',
  'queues.sessionBytes': 'Held in MQTT sessions',
  'queues.writeBuffered': 'Waiting to be sent to MQTT clients',
  'queues.slow': 'Slow MQTT clients',
  'queues.live': 'Live-view subscribers',
  'queues.liveLagging': 'Live-view subscribers lagging',
  'queues.notApplicable': '— : not reported by the aedes MQTT server',
  'memory.title': 'Memory',
  'memory.rss': 'Resident (RSS)',
  'memory.rssPeak': 'Resident, peak',
  'memory.heapUsed': 'JavaScript heap in use',
  'memory.heapTotal': 'JavaScript heap reserved',
  'memory.external': 'External (buffers)',
  'memory.arrayBuffers': 'Array buffers',
  'points.title': 'Telemetry (since start)',
  'points.stored': 'Points stored',
  'points.duplicates': 'Duplicate points',
  'points.rejected': 'Messages refused',
};

export type HealthKey = keyof typeof en;

const zh: Record<HealthKey, string> = {
  'nav.health': '运行状况',
  title: '平台运行状况',
  intro: '平台的负载情况：近期数据覆盖最近 {seconds} 秒；计数从平台启动时开始累计。每 {refresh} 秒刷新一次。',
  loading: '加载中…',
  updated: '更新于{age}',
  unreachable: '无法连接服务器',
  unreachableHint: '平台没有响应（{code}）。下方数据来自 {time}；页面会继续重试。',
  noData: '暂无数据。',
  failed: '平台拒绝了请求：',
  notReported: '该平台不提供负载数据（其版本早于本控制台）。',
  'eventLoop.title': '事件循环',
  'eventLoop.hint': '平台执行每 10 毫秒一次的定时器时的延迟：每台设备和每个请求都要额外等待这段时间。',
  'eventLoop.p50': '延迟中位数',
  'eventLoop.p99': '延迟 99 分位',
  'eventLoop.max': '最长延迟',
  'eventLoop.utilization': '繁忙程度',
  'puback.title': 'MQTT 确认（PUBACK）',
  'puback.hint': '从收到 QoS 1 消息到发出确认的时间，其中包括数据的存储。',
  'puback.p50': '延迟中位数',
  'puback.p90': '延迟 90 分位',
  'puback.p99': '延迟 99 分位',
  'puback.max': '最长延迟',
  'puback.samples': '统计窗口内的确认数',
  'puback.none': '统计窗口内没有 QoS 1 消息。',
  'mqtt.connections': 'MQTT 连接数',
  'mqtt.received': '收到的消息（启动以来）',
  'mqtt.acked': '发出的确认（启动以来）',
  'mqtt.server': 'MQTT 服务器',
  'queues.title': '队列',
  'queues.hint': '当前等待处理的数量。数值持续偏高说明平台处理不过来。',
  'queues.historian': '等待存储的数据点',
  'queues.inbound': '等待答复的 MQTT 消息',
  'queues.paused': '被限速的 MQTT 连接',
  'queues.outbound': '排队发往设备的消息',
  'queues.inflight': '发往设备且未确认的消息',
  'queues.sessionBytes': 'MQTT 会话占用',
  'queues.writeBuffered': '等待发送给 MQTT 客户端',
  'queues.slow': '接收缓慢的 MQTT 客户端',
  'queues.live': '实时视图订阅者',
  'queues.liveLagging': '滞后的实时视图订阅者',
  'queues.notApplicable': '—：aedes MQTT 服务器不提供此数据',
  'memory.title': '内存',
  'memory.rss': '常驻内存（RSS）',
  'memory.rssPeak': '常驻内存峰值',
  'memory.heapUsed': 'JavaScript 堆已用',
  'memory.heapTotal': 'JavaScript 堆已分配',
  'memory.external': '外部内存（缓冲区）',
  'memory.arrayBuffers': 'ArrayBuffer 内存',
  'points.title': '遥测数据（启动以来）',
  'points.stored': '已存储的数据点',
  'points.duplicates': '重复的数据点',
  'points.rejected': '被拒绝的消息',
};

export const HEALTH_DICTIONARY: Record<Lang, Record<HealthKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function healthText(lang: Lang, key: HealthKey, params?: Readonly<Record<string, string | number>>): string {
  const template = HEALTH_DICTIONARY[lang][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}
