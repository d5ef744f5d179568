/** Whether a gateway runs the configuration the platform wants: in sync, pending, or not configured. */
import { syncState } from '../gateway-state';
import { useI18n } from '../i18n-context';

export function SyncBadge({ desired, applied }: { desired: number | null | undefined; applied: number | null | undefined }) {
  const { t } = useI18n();
  const s = syncState(desired, applied);
  const none = t('gateways.noVersion');
  const text =
    s === 'inSync'
      ? t('gateways.inSync', { version: desired ?? none })
      : s === 'pending'
        ? t('gateways.pending', { desired: desired ?? none, applied: applied === null || applied === undefined ? none : `v${applied}` })
        : t('gateways.noConfig');
  const tone = s === 'inSync' ? 'ok' : s === 'pending' ? 'warn' : 'unknown';
  return (
    <span className={`badge badge-${tone}`} data-testid="gateway-sync" data-sync={s} data-desired={desired ?? ''} data-applied={applied ?? ''}>
      {text}
    </span>
  );
}

export function OnlineBadge({ online }: { online: boolean }) {
  const { t } = useI18n();
  return (
    <span className={`badge badge-${online ? 'ok' : 'idle'}`} data-testid="gateway-online" data-online={String(online)}>
      {online ? t('gateways.online') : t('gateways.offline')}
    </span>
  );
}
