import { useId, useState } from 'react';
import { api } from '../api/endpoints';
import { ConfirmDialog } from '../components/Dialog';
import { useT } from '../i18n';
import { formatDateTime } from '../i18n/format';
import type { Device } from '../proto';
import { notify } from '../store/toasts';
import { useLoad } from './useLoad';

/** The user's desktop agents (`mesh-agent login`), each revocable. */
export function AgentDevices() {
  const { t, language } = useT();
  const headingId = useId();
  const { value: devices, failed, setValue: setDevices } = useLoad(api.myDevices);
  const [revoking, setRevoking] = useState<Device | null>(null);

  const revoke = async (device: Device) => {
    setRevoking(null);
    try {
      await api.revokeDevice(device.id);
      setDevices((current) => current?.filter((known) => known.id !== device.id) ?? null);
      notify.success(t('prefs.devices.revoked', { name: device.name }));
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('prefs.devices.title')}</h2>
      <p className="hint">{t('prefs.devices.intro')}</p>
      {devices === null ? (
        <p className="muted">{failed ? t('prefs.unavailable') : t('app.loading')}</p>
      ) : devices.length === 0 ? (
        <p className="muted">{t('prefs.devices.none')}</p>
      ) : (
        <ul className="prefs-list">
          {devices.map((device) => (
            <li key={device.id} className="prefs-item">
              <div className="prefs-item-text">
                <span className="prefs-item-name">{device.name}</span>
                <span className="muted">
                  {device.seen_at === undefined
                    ? t('prefs.devices.neverSeen')
                    : t('prefs.devices.seen', { date: formatDateTime(device.seen_at, language) })}
                  {' · '}
                  {t('prefs.devices.added', { date: formatDateTime(device.created_at, language) })}
                </span>
                <code className="prefs-fingerprint" title={device.fingerprint}>
                  {device.fingerprint.slice(0, 16)}…
                </code>
              </div>
              <button
                type="button"
                className="danger"
                aria-label={t('prefs.devices.revoke', { name: device.name })}
                onClick={() => setRevoking(device)}
              >
                {t('prefs.devices.revokeButton')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {revoking && (
        <ConfirmDialog
          title={t('prefs.devices.revokeTitle')}
          message={t('prefs.devices.revokeConfirm', { name: revoking.name })}
          confirmLabel={t('prefs.devices.revokeTitle')}
          onConfirm={() => void revoke(revoking)}
          onCancel={() => setRevoking(null)}
        />
      )}
    </section>
  );
}
