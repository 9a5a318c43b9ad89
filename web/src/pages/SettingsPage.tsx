import { Link } from 'react-router';
import { useT } from '../i18n';
import { AgentDevices } from '../settings/AgentDevices';
import { LanguageSettings } from '../settings/LanguageSettings';
import { MediaSettings } from '../settings/MediaSettings';
import { NotificationSettings } from '../settings/NotificationSettings';
import { Sessions } from '../settings/Sessions';

/** The user's own settings: notifications, call devices, language, and
 * where they are signed in. */
export function SettingsPage() {
  const { t } = useT();
  return (
    <section className="settings" aria-labelledby="prefs-title">
      <header className="settings-header">
        <h1 id="prefs-title">{t('prefs.title')}</h1>
        <Link to="/">{t('prefs.back')}</Link>
      </header>
      <NotificationSettings />
      <MediaSettings />
      <LanguageSettings />
      <AgentDevices />
      <Sessions />
    </section>
  );
}
