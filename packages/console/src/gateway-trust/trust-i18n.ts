/**
 * The gateway page's channel-state, certificate-trust and outage-history strings in English and 简体中文, kept beside
 * the panels like the other features' (the console's main dictionary holds the shared shell strings). Both languages
 * have the same keys (enforced by the type) and the same {placeholders} (by a test). Pure.
 */
import type { Lang } from '../i18n-dictionary';

const en = {
  'state.starting': 'Starting (retrying)',
  'state.running': 'Running',
  'state.failed': 'Failed to start',
  'server.title': 'The gateway does not trust this server’s certificate',
  'server.intro': 'The gateway refused the secure connection because it does not trust the OPC UA server’s certificate. Compare the thumbprint with the one the server shows before you trust it.',
  'client.title': 'The server does not trust this gateway’s certificate',
  'client.intro': 'The OPC UA server refused the secure connection. Add the gateway’s client certificate below to the server’s trusted certificates; the gateway keeps retrying and connects once it is trusted.',
  'cert.subject': 'Subject',
  'cert.issuer': 'Issuer',
  'cert.thumbprint': 'Thumbprint (SHA-1)',
  'cert.validity': 'Valid',
  'cert.validityRange': '{from} to {to}',
  'cert.expired': 'expired',
  'cert.notYetValid': 'not yet valid',
  'cert.applicationUri': 'Application URI',
  'cert.since': 'Refused since',
  fix: 'What to do',
  'trust.button': 'Trust this server certificate',
  'trust.confirm': 'Trust the certificate with thumbprint {thumbprint} for channel {channel}? The gateway will then accept this server.',
  'trust.confirmYes': 'Yes, trust it',
  'trust.cancel': 'Cancel',
  'trust.busy': 'Trusting…',
  'trust.done': 'Trusted: {subject}. The channel is connecting again.',
  'trust.failed': 'Not trusted:',
  'trust.noPermission': 'You need the permission “Push gateway configuration” (gateways:write) to trust a certificate.',
  'pem.title': 'Gateway client certificate (PEM)',
  'pem.copy': 'Copy PEM',
  'pem.copied': 'Copied',
  'pem.copyFailed': 'Copy failed: select the text and copy it by hand.',
  'pem.download': 'Download .pem',
  'pem.missing': 'The gateway did not send the certificate itself; it is in pkiDir/own/certs on the gateway.',
  'outages.title': 'Outage history',
  'outages.empty': 'No outage recorded.',
  'outages.col.start': 'Start',
  'outages.col.end': 'End',
  'outages.col.duration': 'Duration',
  'outages.col.reason': 'Reason',
  'outages.ongoing': 'ongoing',
};

export type TrustKey = keyof typeof en;

const zh: Record<TrustKey, string> = {
  'state.starting': '启动中（重试）',
  'state.running': '运行中',
  'state.failed': '启动失败',
  'server.title': '网关不信任该服务器的证书',
  'server.intro': '网关拒绝了安全连接，因为它不信任该 OPC UA 服务器的证书。信任之前，请将指纹与服务器上显示的指纹进行核对。',
  'client.title': '服务器不信任本网关的证书',
  'client.intro': 'OPC UA 服务器拒绝了安全连接。请将下面的网关客户端证书加入服务器的受信任证书；网关会持续重试，证书被信任后即可连接。',
  'cert.subject': '主题',
  'cert.issuer': '颁发者',
  'cert.thumbprint': '指纹 (SHA-1)',
  'cert.validity': '有效期',
  'cert.validityRange': '{from} 至 {to}',
  'cert.expired': '已过期',
  'cert.notYetValid': '尚未生效',
  'cert.applicationUri': '应用 URI',
  'cert.since': '拒绝开始于',
  fix: '处理方法',
  'trust.button': '信任此服务器证书',
  'trust.confirm': '确定为通道 {channel} 信任指纹为 {thumbprint} 的证书吗？之后网关将接受该服务器。',
  'trust.confirmYes': '确定信任',
  'trust.cancel': '取消',
  'trust.busy': '正在信任…',
  'trust.done': '已信任：{subject}。通道正在重新连接。',
  'trust.failed': '未能信任：',
  'trust.noPermission': '需要“下发网关配置”（gateways:write）权限才能信任证书。',
  'pem.title': '网关客户端证书 (PEM)',
  'pem.copy': '复制 PEM',
  'pem.copied': '已复制',
  'pem.copyFailed': '复制失败：请选中文本手动复制。',
  'pem.download': '下载 .pem',
  'pem.missing': '网关未发送证书内容；证书位于网关的 pkiDir/own/certs 目录。',
  'outages.title': '中断记录',
  'outages.empty': '没有中断记录。',
  'outages.col.start': '开始',
  'outages.col.end': '结束',
  'outages.col.duration': '持续时间',
  'outages.col.reason': '原因',
  'outages.ongoing': '仍在中断',
};

export const TRUST_DICTIONARY: Record<Lang, Record<TrustKey, string>> = { en, zh };

/** Replaces {name} placeholders; an unknown one stays visible so a missing value is noticed. */
export function trustText(lang: Lang, key: TrustKey, params?: Readonly<Record<string, string | number>>): string {
  const template = TRUST_DICTIONARY[lang][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}
