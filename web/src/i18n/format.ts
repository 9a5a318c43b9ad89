import type { Language } from '.';

/** A message time: the hour for today, the date and hour before that. */
export function formatMessageTime(timestampMs: number, language: Language, now = new Date()): string {
  const date = new Date(timestampMs);
  const sameDay = date.toDateString() === now.toDateString();
  const options: Intl.DateTimeFormatOptions = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(language, options).format(date);
}

export function formatDateTime(timestampMs: number, language: Language): string {
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(timestampMs),
  );
}
