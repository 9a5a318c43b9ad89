import { useId } from 'react';
import { LanguageSelect } from '../components/LanguageSelect';
import { useT } from '../i18n';

/** The interface language, kept in this browser like the sidebar's choice. */
export function LanguageSettings() {
  const { t } = useT();
  const headingId = useId();
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('prefs.language.title')}</h2>
      <LanguageSelect />
    </section>
  );
}
