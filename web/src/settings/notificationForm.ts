// The notification settings as the form edits them, checked the way the
// server checks them (so most mistakes are shown before a round trip), and
// quiet hours moved between the offset they were saved at and this browser's.

import type {
  NotificationBackend,
  NotificationEvents,
  NotificationSettings,
  NotificationSettingsUpdate,
  QuietHours,
} from '../proto';

export const BACKENDS: readonly NotificationBackend[] = ['none', 'gotify', 'ntfy', 'webhook'];
export const EVENTS: readonly (keyof NotificationEvents)[] = ['messages', 'calls', 'files', 'invitations'];

/** What to do with the stored token: the field never shows it. */
export type TokenChange = { kind: 'keep' } | { kind: 'replace'; token: string } | { kind: 'clear' };

export interface NotificationForm {
  backend: NotificationBackend;
  url: string;
  topic: string;
  token: TokenChange;
  events: NotificationEvents;
  quietHours: { start: string; end: string } | null;
}

/** Problems the form can have, named like their i18n keys (`prefs.notify.invalid.*`). */
export type FormProblem =
  | 'urlMissing'
  | 'urlInvalid'
  | 'topicMissing'
  | 'topicInvalid'
  | 'tokenMissing'
  | 'quietInvalid'
  | 'quietEmpty';

const MINUTES_PER_DAY = 24 * 60;
/** ntfy's own rule for topic names. */
const NTFY_TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

/** Minutes after midnight of `HH:MM`, or null when it is not a valid time. */
export function parseTime(text: string): number | null {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const [hours, minutes] = [Number(match[1]), Number(match[2])];
  return hours < 24 && minutes < 60 ? hours * 60 + minutes : null;
}

export function formatTime(minutes: number): string {
  const wrapped = ((minutes % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(Math.floor(wrapped / 60))}:${pad(wrapped % 60)}`;
}

/** This browser's offset from UTC in minutes, east positive (60 for UTC+1). */
export function browserUtcOffset(now = new Date()): number {
  return -now.getTimezoneOffset();
}

/** Quiet hours saved at one UTC offset, as clock times at `offset`: after a
 * change of summer time or a trip, 22:00 at UTC+1 shows as 23:00 at UTC+2,
 * the moment the server really goes quiet. */
export function quietHoursAt(quiet: QuietHours, offset: number): { start: string; end: string } {
  const shift = offset - quiet.utc_offset_minutes;
  const move = (time: string) => {
    const minutes = parseTime(time);
    return minutes === null ? time : formatTime(minutes + shift);
  };
  return { start: move(quiet.start), end: move(quiet.end) };
}

/** Whether the window ends the day after it starts (22:00 → 07:00). */
export function spansMidnight(start: string, end: string): boolean {
  const [from, to] = [parseTime(start), parseTime(end)];
  return from !== null && to !== null && to < from;
}

export function formFromSettings(settings: NotificationSettings, offset: number): NotificationForm {
  return {
    backend: settings.backend,
    url: settings.url,
    topic: settings.topic,
    token: { kind: 'keep' },
    events: { ...settings.events },
    quietHours: settings.quiet_hours ? quietHoursAt(settings.quiet_hours, offset) : null,
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** The first problem of the form, or null when the server should accept it. */
export function formProblem(form: NotificationForm): FormProblem | null {
  if (form.backend !== 'none') {
    const url = form.url.trim();
    if (!url) return 'urlMissing';
    if (!isHttpUrl(url)) return 'urlInvalid';
  }
  if (form.backend === 'ntfy') {
    const topic = form.topic.trim();
    if (!topic) return 'topicMissing';
    if (!NTFY_TOPIC.test(topic)) return 'topicInvalid';
  }
  if (form.token.kind === 'replace' && !form.token.token.trim()) return 'tokenMissing';
  if (form.quietHours) {
    const [start, end] = [parseTime(form.quietHours.start), parseTime(form.quietHours.end)];
    if (start === null || end === null) return 'quietInvalid';
    if (start === end) return 'quietEmpty';
  }
  return null;
}

/** The request body; the backend's unused fields are sent empty. */
export function updateFromForm(form: NotificationForm, offset: number): NotificationSettingsUpdate {
  const update: NotificationSettingsUpdate = {
    backend: form.backend,
    url: form.backend === 'none' ? '' : form.url.trim(),
    topic: form.backend === 'ntfy' ? form.topic.trim() : '',
    events: { ...form.events },
    quiet_hours: form.quietHours ? { ...form.quietHours, utc_offset_minutes: offset } : null,
  };
  if (form.token.kind === 'replace') update.token = form.token.token.trim();
  if (form.token.kind === 'clear') update.token = '';
  return update;
}
