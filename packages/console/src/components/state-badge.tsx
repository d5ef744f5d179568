/** Operating-state badge (运行/待机/故障…) coloured by how urgent the state is. */
import type { LatestValue, PropertySpec } from '../api-types';
import { useI18n } from '../i18n-context';
import { stateTone } from '../key-properties';
import { formatValue } from '../value-format';

export function StateBadge({ spec, value, device }: { spec: PropertySpec; value: LatestValue | undefined; device: string }) {
  const { lang } = useI18n();
  const raw = value === undefined ? undefined : String(value.value);
  return (
    <span
      className={`badge badge-${stateTone(raw)}`}
      data-testid="state-badge"
      data-device-id={device}
      data-property={spec.id}
      data-raw={raw}
    >
      {formatValue(value?.value, spec.dataType, lang)}
    </span>
  );
}
