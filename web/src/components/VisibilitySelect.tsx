import { useId } from 'react';
import { useT } from '../i18n';
import type { Visibility } from '../proto';

interface VisibilitySelectProps {
  value: Visibility;
  onChange(visibility: Visibility): void;
}

export function VisibilitySelect({ value, onChange }: VisibilitySelectProps) {
  const { t } = useT();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t('visibility.label')}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value as Visibility)}>
        <option value="public">{t('visibility.public')}</option>
        <option value="private">{t('visibility.private')}</option>
      </select>
      <p className="hint">{t(value === 'public' ? 'visibility.publicHint' : 'visibility.privateHint')}</p>
    </div>
  );
}
