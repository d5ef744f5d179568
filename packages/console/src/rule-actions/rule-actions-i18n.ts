/**
 * The rule-action deliveries panel's strings (the Rules page's "Deliveries" section and the webhook signing secret)
 * in English and 简体中文, kept beside the panel like the alarm pages'. Both languages have the same keys (enforced
 * by the type) and the same {placeholders} (by a test). Pure.
 */
import { fillTemplate, type Lang } from '../i18n-dictionary';

const en = {
  title: 'Deliveries',
  hint: 'What the rules’ actions did (webhooks, e-mails, writes, service calls, publishes), newest first. A failed delivery is retried for about 10 minutes, then kept as dead until someone retries it.',
  'filter.label': 'Show',
  'filter.all': 'All',
  'filter.pending': 'Pending',
  'filter.done': 'Done',
  'filter.dead': 'Dead',
  'state.pending': 'Pending',
  'state.done': 'Done',
  'state.dead': 'Dead',
  'kind.webhook': 'Webhook',
  'kind.email': 'E-mail',
  'kind.write': 'Write',
  'kind.invoke': 'Service call',
  'kind.publish': 'Publish',
  recipients: '{n} recipients',
  'transition.raise': 'Raise',
  'transition.clear': 'Clear',
  'col.time': 'Time',
  'col.rule': 'Rule',
  'col.device': 'Device',
  'col.action': 'Action',
  'col.transition': 'On',
  'col.state': 'State',
  'col.attempts': 'Attempts',
  'col.error': 'Last error',
  refresh: 'Refresh',
  more: 'Load more',
  moreLoading: 'Loading…',
  loading: 'Loading deliveries…',
  empty: 'No deliveries yet: a rule with actions delivers when it raises or clears (docs/reference/rules.md, “Actions”).',
  emptyFiltered: 'No deliveries in this state.',
  count: '{shown} of {total} shown, newest first.',
  due: 'Next attempt at {time}',
  updated: 'Last change {time}',
  retry: 'Retry',
  retried: 'Delivery {id} is pending again and will be tried within a few seconds.',
  'secret.title': 'Webhook signing secret',
  'secret.hint': 'Every webhook call carries X-IIP-Signature: sha256=HMAC-SHA256 of “<X-IIP-Timestamp>.<body>” keyed with this secret. Receivers check it to know the call came from this platform.',
  'secret.show': 'Show signing secret',
  'secret.hide': 'Hide',
  'secret.rotate': 'Rotate',
  'secret.rotateConfirm': 'Replace the signing secret? Calls from now on are signed with the new one, and receivers that still check with the old one will refuse them.',
  'secret.rotateYes': 'Rotate now',
  'secret.cancel': 'Cancel',
  'secret.rotated': 'A new signing secret is in use; give it to the receivers.',
  'err.IIP_ERR_CONFLICT': 'Only a dead delivery can be retried; this one is no longer dead (someone may have retried it already).',
  'err.IIP_ERR_AUTH_FORBIDDEN': 'You are not permitted to do this.',
  'err.IIP_ERR_NOT_FOUND': 'The delivery is gone (old deliveries are purged), or not visible to you.',
};

export type RuleActionsKey = keyof typeof en;

const zh: Record<RuleActionsKey, string> = {
  title: '动作投递',
  hint: '规则动作的执行情况（Webhook、邮件、写属性、调用服务、发布消息），最新的在前。投递失败会重试约 10 分钟，之后成为死信，直到有人重试。',
  'filter.label': '显示',
  'filter.all': '全部',
  'filter.pending': '待投递',
  'filter.done': '已完成',
  'filter.dead': '死信',
  'state.pending': '待投递',
  'state.done': '已完成',
  'state.dead': '死信',
  'kind.webhook': 'Webhook 回调',
  'kind.email': '邮件',
  'kind.write': '写属性',
  'kind.invoke': '调用服务',
  'kind.publish': '发布消息',
  recipients: '{n} 个收件人',
  'transition.raise': '报警',
  'transition.clear': '恢复',
  'col.time': '时间',
  'col.rule': '规则',
  'col.device': '设备',
  'col.action': '动作',
  'col.transition': '触发于',
  'col.state': '状态',
  'col.attempts': '尝试次数',
  'col.error': '最近错误',
  refresh: '刷新',
  more: '加载更多',
  moreLoading: '加载中…',
  loading: '正在加载投递…',
  empty: '还没有投递：带动作的规则在报警或恢复时投递（见 docs/reference/rules.md “Actions”）。',
  emptyFiltered: '此状态下没有投递。',
  count: '共 {total} 条，显示 {shown} 条，最新的在前。',
  due: '下次尝试时间 {time}',
  updated: '最近变化 {time}',
  retry: '重试',
  retried: '投递 {id} 已重新排队，几秒内会再次尝试。',
  'secret.title': 'Webhook 签名密钥',
  'secret.hint': '每次 Webhook 调用都带有 X-IIP-Signature：以此密钥对“<X-IIP-Timestamp>.<body>”计算的 sha256=HMAC-SHA256。接收方据此确认调用来自本平台。',
  'secret.show': '显示签名密钥',
  'secret.hide': '隐藏',
  'secret.rotate': '轮换',
  'secret.rotateConfirm': '更换签名密钥？此后的调用将用新密钥签名，仍用旧密钥校验的接收方会拒绝这些调用。',
  'secret.rotateYes': '立即轮换',
  'secret.cancel': '取消',
  'secret.rotated': '新的签名密钥已启用；请把它交给接收方。',
  'err.IIP_ERR_CONFLICT': '只有死信可以重试；此投递已不是死信（可能已被他人重试）。',
  'err.IIP_ERR_AUTH_FORBIDDEN': '您没有执行此操作的权限。',
  'err.IIP_ERR_NOT_FOUND': '此投递已不存在（旧的投递会被清理），或您无权查看。',
};

export const RULE_ACTIONS_DICTIONARY: Record<Lang, Record<RuleActionsKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function ruleActionsText(lang: Lang, key: RuleActionsKey, params?: Readonly<Record<string, string | number>>): string {
  return fillTemplate(RULE_ACTIONS_DICTIONARY[lang][key], params);
}

/** A key of this dictionary, or undefined (a kind or state a newer platform stores that the console does not know). */
export function ruleActionsKey(key: string): RuleActionsKey | undefined {
  return Object.hasOwn(en, key) ? (key as RuleActionsKey) : undefined;
}

/** A friendly text for a refusal's code, where there is one. */
export function ruleActionsErrorText(lang: Lang, code: string): string | undefined {
  const k = ruleActionsKey(`err.${code}`);
  return k && RULE_ACTIONS_DICTIONARY[lang][k];
}
