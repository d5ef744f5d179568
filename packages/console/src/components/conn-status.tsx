/** The live-data connection indicator in the header (green dot = WebSocket open). */
import { useI18n } from '../i18n-context';
import type { StreamState } from '../live-stream';
import { useNow } from '../use-now';

export function ConnStatus({ state }: { state: StreamState }) {
  const { t } = useI18n();
  const now = useNow(1000);
  let text: string;
  switch (state.kind) {
    case 'online':
      text = t('conn.online');
      break;
    case 'connecting':
      text = t('conn.connecting');
      break;
    case 'retrying':
      text = t('conn.reconnecting', { s: Math.max(0, Math.ceil((state.at - now) / 1000)) });
      break;
    case 'closed':
      text = t('conn.offline');
      break;
    default: {
      const never: never = state;
      text = String(never);
    }
  }
  return (
    <span className={`conn conn-${state.kind}`} data-testid="conn-status" data-state={state.kind} title={t('conn.title')}>
      <span className="conn-dot" aria-hidden="true" />
      {text}
    </span>
  );
}
