/**
 * Every string the console shows, in English and 简体中文, in one place so a translator sees both side by
 * side and a test can prove the two languages have the same keys and the same {placeholders}. Pure.
 */

export type Lang = 'en' | 'zh';
export const LANGS: readonly Lang[] = ['en', 'zh'];

const en = {
  'app.title': 'iip Console',
  'app.subtitle': 'Industrial Internet platform',
  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.submitting': 'Signing in…',
  'login.sessionExpired': 'Your session has expired. Please sign in again.',
  'error.network': 'Cannot reach the platform: {message}',
  'error.IIP_ERR_AUTH_LOGIN_FAILED': 'Wrong username or password.',
  'nav.signOut': 'Sign out',
  'lang.other': '中文',
  'lang.switchTitle': 'Switch language',
  'conn.title': 'Live data connection',
  'conn.online': 'Online',
  'conn.connecting': 'Connecting…',
  'conn.reconnecting': 'Offline, retrying in {s} s',
  'conn.offline': 'Offline',
  'devices.title': 'Devices',
  'devices.summary': '{updating} of {total} devices updating',
  'devices.product': 'Product',
  'devices.allProducts': 'All products',
  'devices.search': 'Search name or ID',
  'devices.col.name': 'Name',
  'devices.col.id': 'ID',
  'devices.col.product': 'Product',
  'devices.col.state': 'State',
  'devices.col.values': 'Key values',
  'devices.col.updated': 'Last update',
  'devices.empty': 'No devices yet. Connect a device or start the simulator.',
  'devices.noMatch': 'No device matches the filter.',
  'devices.loading': 'Loading…',
  'devices.truncated': 'Showing {shown} of {total} devices',
  'devices.never': 'never',
  'device.back': '← All devices',
  'device.notFound': 'Device {id} was not found.',
  'device.createdAt': 'Created',
  'device.properties': 'Properties',
  'device.col.property': 'Property',
  'device.col.value': 'Value',
  'device.col.unit': 'Unit',
  'device.col.time': 'Time',
  'device.pickHint': 'Click a numeric property to show its trend.',
  'trend.title': 'Trend: {property}',
  'trend.window': 'Window',
  'trend.15m': '15 min',
  'trend.1h': '1 h',
  'trend.24h': '24 h',
  'trend.7d': '7 d',
  'trend.avg': 'Average',
  'trend.min': 'Min',
  'trend.max': 'Max',
  'trend.live': 'Live',
  'trend.band': 'Min–max',
  'trend.samples': 'Samples',
  'trend.loading': 'Loading trend…',
  'trend.error': 'Could not load the trend: {message}',
  'trend.none': 'This device has no numeric property to trend.',
} as const;

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  'app.title': 'iip 控制台',
  'app.subtitle': '工业互联网平台',
  'login.title': '登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.submitting': '正在登录…',
  'login.sessionExpired': '会话已过期，请重新登录。',
  'error.network': '无法连接平台：{message}',
  'error.IIP_ERR_AUTH_LOGIN_FAILED': '用户名或密码错误。',
  'nav.signOut': '退出登录',
  'lang.other': 'English',
  'lang.switchTitle': '切换语言',
  'conn.title': '实时数据连接',
  'conn.online': '在线',
  'conn.connecting': '正在连接…',
  'conn.reconnecting': '已断开，{s} 秒后重连',
  'conn.offline': '离线',
  'devices.title': '设备列表',
  'devices.summary': '{total} 台设备中 {updating} 台正在上报',
  'devices.product': '产品',
  'devices.allProducts': '全部产品',
  'devices.search': '搜索名称或 ID',
  'devices.col.name': '名称',
  'devices.col.id': 'ID',
  'devices.col.product': '产品',
  'devices.col.state': '状态',
  'devices.col.values': '关键数据',
  'devices.col.updated': '最后上报',
  'devices.empty': '暂无设备。请接入设备或启动仿真器。',
  'devices.noMatch': '没有符合筛选条件的设备。',
  'devices.loading': '加载中…',
  'devices.truncated': '显示 {shown} / {total} 台设备',
  'devices.never': '从未',
  'device.back': '← 返回设备列表',
  'device.notFound': '未找到设备 {id}。',
  'device.createdAt': '创建时间',
  'device.properties': '属性',
  'device.col.property': '属性',
  'device.col.value': '数值',
  'device.col.unit': '单位',
  'device.col.time': '时间',
  'device.pickHint': '点击数值属性查看其趋势。',
  'trend.title': '趋势：{property}',
  'trend.window': '时间窗',
  'trend.15m': '15 分钟',
  'trend.1h': '1 小时',
  'trend.24h': '24 小时',
  'trend.7d': '7 天',
  'trend.avg': '平均值',
  'trend.min': '最小值',
  'trend.max': '最大值',
  'trend.live': '实时',
  'trend.band': '最小–最大',
  'trend.samples': '样本数',
  'trend.loading': '正在加载趋势…',
  'trend.error': '趋势加载失败：{message}',
  'trend.none': '该设备没有可绘制趋势的数值属性。',
};

export const DICTIONARY: Record<Lang, Record<MessageKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown placeholder is left visible so a missing value is noticed. */
export function translate(lang: Lang, key: MessageKey, params?: Readonly<Record<string, string | number>>): string {
  const template = DICTIONARY[lang][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}

/** Dictionary keys for error codes we have a friendly text for; other codes show the server's message. */
export function errorKey(code: string): MessageKey | undefined {
  const key = `error.${code}`;
  return key in en ? (key as MessageKey) : undefined;
}

/** A language the user chose before wins; otherwise the browser's (any zh-* variant means Chinese). */
export function pickLang(stored: string | null | undefined, navigatorLanguage: string | undefined): Lang {
  if (stored === 'en' || stored === 'zh') return stored;
  return navigatorLanguage?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}
