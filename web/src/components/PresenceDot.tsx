import { useT } from '../i18n';
import type { Presence } from '../proto';

export function PresenceDot({ presence }: { presence: Presence }) {
  const { t } = useT();
  return <span className={`presence-dot presence-${presence}`} role="img" aria-label={t(`presence.${presence}`)} />;
}
