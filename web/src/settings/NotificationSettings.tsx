import { useId, useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import type { NotificationBackend, NotificationTestResult } from '../proto';
import { notify } from '../store/toasts';
import {
  BACKENDS,
  browserUtcOffset,
  EVENTS,
  formFromSettings,
  formProblem,
  spansMidnight,
  updateFromForm,
  type NotificationForm,
} from './notificationForm';
import { useLoad } from './useLoad';

/** Where the user's push notifications go, which events, and when not. */
export function NotificationSettings() {
  const { t } = useT();
  const headingId = useId();
  const { value: saved, failed, setValue: setSaved } = useLoad(api.notificationSettings);
  // Unsaved changes; without any, the form shows what is saved.
  const [edited, setEdited] = useState<NotificationForm | null>(null);
  const form = edited ?? (saved && formFromSettings(saved, browserUtcOffset()));
  const dirty = edited !== null;
  const [saving, setSaving] = useState(false);
  const [testing, setTesting] = useState(false);
  const [testResult, setTestResult] = useState<NotificationTestResult | null>(null);

  const change = (patch: Partial<NotificationForm>) => {
    if (form) setEdited({ ...form, ...patch });
  };

  const problem = form && formProblem(form);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form || problem) return;
    setSaving(true);
    try {
      setSaved(await api.updateNotificationSettings(updateFromForm(form, browserUtcOffset())));
      setEdited(null);
      setTestResult(null);
      notify.success(t('prefs.notify.saved'));
    } catch (error) {
      notify.failure(error);
    } finally {
      setSaving(false);
    }
  };

  const sendTest = async () => {
    setTesting(true);
    setTestResult(null);
    try {
      setTestResult(await api.testNotification());
    } catch (error) {
      notify.failure(error);
    } finally {
      setTesting(false);
    }
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('prefs.notify.title')}</h2>
      {!form || !saved ? (
        <p className="muted">{failed ? t('prefs.unavailable') : t('app.loading')}</p>
      ) : (
        <form className="form" onSubmit={save} noValidate>
          <BackendSelect
            value={form.backend}
            serverDefault={saved.server_default}
            onChange={(backend) => change({ backend })}
          />
          {form.backend !== 'none' && (
            <>
              <TextField
                label={t(`prefs.notify.url.${form.backend}`)}
                hint={t(`prefs.notify.urlHint.${form.backend}`)}
                type="url"
                value={form.url}
                placeholder={form.backend === 'ntfy' ? 'https://ntfy.sh' : 'https://'}
                invalid={problem === 'urlMissing' || problem === 'urlInvalid'}
                onChange={(url) => change({ url })}
              />
              {form.backend === 'ntfy' && (
                <TextField
                  label={t('prefs.notify.topic')}
                  hint={t('prefs.notify.topicHint')}
                  value={form.topic}
                  invalid={problem === 'topicMissing' || problem === 'topicInvalid'}
                  onChange={(topic) => change({ topic })}
                />
              )}
              <TokenField backend={form.backend} tokenSet={saved.token_set} form={form} onChange={change} />
            </>
          )}
          <fieldset className="prefs-fieldset">
            <legend>{t('prefs.notify.events')}</legend>
            {EVENTS.map((name) => (
              <label key={name} className="check">
                <input
                  type="checkbox"
                  checked={form.events[name]}
                  onChange={(event) => change({ events: { ...form.events, [name]: event.target.checked } })}
                />
                {t(`prefs.notify.event.${name}`)}
              </label>
            ))}
          </fieldset>
          <QuietHoursFields value={form.quietHours} onChange={(quietHours) => change({ quietHours })} />
          {problem && (
            <p className="error-text" role="alert">
              {t(`prefs.notify.invalid.${problem}`)}
            </p>
          )}
          <div className="prefs-actions">
            <button type="submit" className="primary" disabled={!dirty || saving || problem !== null}>
              {t('common.save')}
            </button>
            <button type="button" disabled={dirty || testing} onClick={() => void sendTest()}>
              {testing ? t('prefs.notify.testing') : t('prefs.notify.test')}
            </button>
          </div>
          {dirty && <p className="hint">{t('prefs.notify.testUsesSaved')}</p>}
          <TestOutcome result={testResult} />
        </form>
      )}
    </section>
  );
}

function BackendSelect({
  value,
  serverDefault,
  onChange,
}: {
  value: NotificationBackend;
  serverDefault: NotificationBackend;
  onChange(backend: NotificationBackend): void;
}) {
  const { t } = useT();
  const id = useId();
  const noneLabel =
    serverDefault === 'none'
      ? t('prefs.notify.backend.none')
      : t('prefs.notify.backend.serverDefault', { backend: t(`prefs.notify.backend.${serverDefault}`) });
  return (
    <div className="field">
      <label htmlFor={id}>{t('prefs.notify.backend')}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value as NotificationBackend)}>
        {BACKENDS.map((backend) => (
          <option key={backend} value={backend}>
            {backend === 'none' ? noneLabel : t(`prefs.notify.backend.${backend}`)}
          </option>
        ))}
      </select>
    </div>
  );
}

interface TextFieldProps {
  label: string;
  hint?: string;
  value: string;
  type?: string;
  placeholder?: string;
  invalid?: boolean;
  onChange(value: string): void;
}

function TextField({ label, hint, value, type = 'text', placeholder, invalid = false, onChange }: TextFieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        value={value}
        placeholder={placeholder}
        aria-invalid={invalid || undefined}
        aria-describedby={hint ? `${id}-hint` : undefined}
        autoComplete="off"
        spellCheck={false}
        onChange={(event) => onChange(event.target.value)}
      />
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
    </div>
  );
}

/** The token is write-only: a stored one is announced, never shown, and can
 * be replaced or cleared. */
function TokenField({
  backend,
  tokenSet,
  form,
  onChange,
}: {
  backend: Exclude<NotificationBackend, 'none'>;
  tokenSet: boolean;
  form: NotificationForm;
  onChange(patch: Partial<NotificationForm>): void;
}) {
  const { t } = useT();
  const id = useId();
  const label = t(`prefs.notify.token.${backend}`);
  const token = form.token;

  if (tokenSet && token.kind !== 'replace') {
    return (
      <div className="field">
        <span className="field-label" id={id}>
          {label}
        </span>
        <div className="input-row" role="group" aria-labelledby={id}>
          <p className="prefs-token-state">
            {token.kind === 'clear' ? t('prefs.notify.token.willClear') : t('prefs.notify.token.stored')}
          </p>
          <button type="button" onClick={() => onChange({ token: { kind: 'replace', token: '' } })}>
            {t('prefs.notify.token.replace')}
          </button>
          {token.kind === 'clear' ? (
            <button type="button" onClick={() => onChange({ token: { kind: 'keep' } })}>
              {t('prefs.notify.token.keep')}
            </button>
          ) : (
            <button type="button" onClick={() => onChange({ token: { kind: 'clear' } })}>
              {t('prefs.notify.token.clear')}
            </button>
          )}
        </div>
      </div>
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="input-row">
        <input
          id={id}
          type="password"
          autoComplete="new-password"
          value={token.kind === 'replace' ? token.token : ''}
          placeholder={t('prefs.notify.token.optional')}
          onChange={(event) => {
            const typed = event.target.value;
            // With nothing stored, an emptied field means no token, not a missing one.
            onChange({ token: typed || tokenSet ? { kind: 'replace', token: typed } : { kind: 'keep' } });
          }}
        />
        {tokenSet && (
          <button type="button" onClick={() => onChange({ token: { kind: 'keep' } })}>
            {t('prefs.notify.token.keep')}
          </button>
        )}
      </div>
    </div>
  );
}

function QuietHoursFields({
  value,
  onChange,
}: {
  value: NotificationForm['quietHours'];
  onChange(value: NotificationForm['quietHours']): void;
}) {
  const { t } = useT();
  const startId = useId();
  const endId = useId();
  return (
    <fieldset className="prefs-fieldset">
      <legend>{t('prefs.notify.quiet')}</legend>
      <label className="check">
        <input
          type="checkbox"
          checked={value !== null}
          onChange={(event) => onChange(event.target.checked ? { start: '22:00', end: '07:00' } : null)}
        />
        {t('prefs.notify.quiet.enable')}
      </label>
      {value && (
        <>
          <div className="prefs-quiet">
            <div className="field">
              <label htmlFor={startId}>{t('prefs.notify.quiet.start')}</label>
              <input
                id={startId}
                type="time"
                value={value.start}
                onChange={(event) => onChange({ ...value, start: event.target.value })}
              />
            </div>
            <div className="field">
              <label htmlFor={endId}>{t('prefs.notify.quiet.end')}</label>
              <input
                id={endId}
                type="time"
                value={value.end}
                onChange={(event) => onChange({ ...value, end: event.target.value })}
              />
            </div>
          </div>
          <p className="hint">
            {spansMidnight(value.start, value.end)
              ? t('prefs.notify.quiet.overnight', value)
              : t('prefs.notify.quiet.sameDay', value)}
          </p>
        </>
      )}
    </fieldset>
  );
}

function TestOutcome({ result }: { result: NotificationTestResult | null }) {
  const { t } = useT();
  return (
    <p role="status" className={result ? (result.delivered ? 'prefs-test-ok' : 'error-text') : undefined}>
      {result &&
        (result.delivered
          ? t('prefs.notify.test.delivered')
          : t('prefs.notify.test.failed', { error: result.error ?? t('prefs.notify.test.unknown') }))}
    </p>
  );
}
