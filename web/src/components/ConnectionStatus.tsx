import { useT } from '../i18n';
import { useConnection } from '../store/connection';

export function ConnectionStatus() {
  const { t } = useT();
  const status = useConnection((state) => state.status);
  const text = t(`connection.${status}`);
  return (
    <div className={`connection connection-${status}`} role="status" aria-label={t('connection.label', { status: text })}>
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-text">{text}</span>
    </div>
  );
}
