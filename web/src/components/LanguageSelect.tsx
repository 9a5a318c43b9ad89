import { useId } from 'react';
import { LANGUAGES, useLanguage, useT, type Language } from '../i18n';

export function LanguageSelect() {
  const { t, language } = useT();
  const setLanguage = useLanguage((state) => state.setLanguage);
  const id = useId();
  return (
    <div className="field field-inline">
      <label htmlFor={id}>{t('language.label')}</label>
      <select id={id} value={language} onChange={(event) => setLanguage(event.target.value as Language)}>
        {LANGUAGES.map((option) => (
          <option key={option} value={option} lang={option}>
            {t(`language.${option}`)}
          </option>
        ))}
      </select>
    </div>
  );
}
