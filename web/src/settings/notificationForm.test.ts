import { describe, expect, it } from 'vitest';
import type { NotificationSettings } from '../proto';
import {
  browserUtcOffset,
  formatTime,
  formFromSettings,
  formProblem,
  parseTime,
  quietHoursAt,
  spansMidnight,
  updateFromForm,
  type NotificationForm,
} from './notificationForm';

const allEvents = { messages: true, calls: true, files: true, invitations: true };

const form = (patch: Partial<NotificationForm>): NotificationForm => ({
  backend: 'webhook',
  url: 'https://hooks.example.test/mesh',
  topic: '',
  token: { kind: 'keep' },
  events: allEvents,
  quietHours: null,
  ...patch,
});

describe('times of day', () => {
  it('reads HH:MM and nothing else', () => {
    expect(parseTime('00:00')).toBe(0);
    expect(parseTime('07:30')).toBe(450);
    expect(parseTime('23:59')).toBe(1439);
    for (const bad of ['24:00', '12:60', '7:30', '07:30:00', '', 'noon']) expect(parseTime(bad)).toBeNull();
  });

  it('writes HH:MM, wrapping around midnight', () => {
    expect(formatTime(450)).toBe('07:30');
    expect(formatTime(24 * 60 + 5)).toBe('00:05');
    expect(formatTime(-30)).toBe('23:30');
  });

  it('knows the browser offset east of UTC as positive', () => {
    const date = new Date();
    expect(browserUtcOffset(date)).toBe(-date.getTimezoneOffset());
  });
});

describe('quiet hours', () => {
  it('show as saved at the same offset', () => {
    expect(quietHoursAt({ start: '22:00', end: '07:00', utc_offset_minutes: 60 }, 60)).toEqual({
      start: '22:00',
      end: '07:00',
    });
  });

  it('move with the offset, across midnight when they must', () => {
    // Saved in winter at UTC+1, shown in summer at UTC+2: the same instants.
    expect(quietHoursAt({ start: '22:00', end: '07:00', utc_offset_minutes: 60 }, 120)).toEqual({
      start: '23:00',
      end: '08:00',
    });
    // Saved in Paris, shown in New York (UTC-5): 6 hours earlier.
    expect(quietHoursAt({ start: '03:00', end: '05:30', utc_offset_minutes: 60 }, -300)).toEqual({
      start: '21:00',
      end: '23:30',
    });
  });

  it('say whether they span midnight', () => {
    expect(spansMidnight('22:00', '07:00')).toBe(true);
    expect(spansMidnight('12:00', '14:00')).toBe(false);
    expect(spansMidnight('', '07:00')).toBe(false);
  });
});

describe('formProblem', () => {
  it('accepts a complete form and "none" without a URL', () => {
    expect(formProblem(form({}))).toBeNull();
    expect(formProblem(form({ backend: 'none', url: '' }))).toBeNull();
    expect(formProblem(form({ backend: 'ntfy', url: 'http://127.0.0.1:8090', topic: 'mesh_alerts-1' }))).toBeNull();
  });

  it('wants an http or https URL for every backend', () => {
    expect(formProblem(form({ url: '  ' }))).toBe('urlMissing');
    expect(formProblem(form({ backend: 'gotify', url: 'gotify.example.test' }))).toBe('urlInvalid');
    expect(formProblem(form({ url: 'ftp://example.test/x' }))).toBe('urlInvalid');
    expect(formProblem(form({ url: 'javascript:alert(1)' }))).toBe('urlInvalid');
  });

  it('wants a valid topic for ntfy only', () => {
    expect(formProblem(form({ backend: 'ntfy', url: 'https://ntfy.sh', topic: '' }))).toBe('topicMissing');
    expect(formProblem(form({ backend: 'ntfy', url: 'https://ntfy.sh', topic: 'a/b' }))).toBe('topicInvalid');
    expect(formProblem(form({ backend: 'ntfy', url: 'https://ntfy.sh', topic: 'x'.repeat(65) }))).toBe('topicInvalid');
    expect(formProblem(form({ backend: 'webhook', topic: 'ignored/here' }))).toBeNull();
  });

  it('refuses an empty replacement token and empty or broken quiet hours', () => {
    expect(formProblem(form({ token: { kind: 'replace', token: ' ' } }))).toBe('tokenMissing');
    expect(formProblem(form({ quietHours: { start: '22:00', end: '' } }))).toBe('quietInvalid');
    expect(formProblem(form({ quietHours: { start: '08:00', end: '08:00' } }))).toBe('quietEmpty');
    expect(formProblem(form({ quietHours: { start: '22:00', end: '07:00' } }))).toBeNull();
  });
});

describe('the request body', () => {
  it('keeps the stored token unless told otherwise', () => {
    expect(updateFromForm(form({}), 60)).not.toHaveProperty('token');
    expect(updateFromForm(form({ token: { kind: 'replace', token: ' s3cret ' } }), 60).token).toBe('s3cret');
    expect(updateFromForm(form({ token: { kind: 'clear' } }), 60).token).toBe('');
  });

  it('sends the unused fields empty and quiet hours with the offset', () => {
    expect(
      updateFromForm(
        form({ url: ' https://hooks.example.test/x ', topic: 'stale', quietHours: { start: '22:00', end: '07:00' } }),
        120,
      ),
    ).toEqual({
      backend: 'webhook',
      url: 'https://hooks.example.test/x',
      topic: '',
      events: allEvents,
      quiet_hours: { start: '22:00', end: '07:00', utc_offset_minutes: 120 },
    });
    expect(updateFromForm(form({ backend: 'none' }), 0)).toMatchObject({ backend: 'none', url: '', topic: '' });
  });

  it('round-trips what the server returns', () => {
    const saved: NotificationSettings = {
      backend: 'gotify',
      url: 'https://gotify.example.test',
      topic: '',
      token_set: true,
      events: { ...allEvents, files: false },
      quiet_hours: { start: '21:30', end: '06:45', utc_offset_minutes: 60 },
      server_default: 'none',
    };
    const edited = formFromSettings(saved, 60);
    expect(edited.token).toEqual({ kind: 'keep' });
    expect(updateFromForm(edited, 60)).toEqual({
      backend: 'gotify',
      url: 'https://gotify.example.test',
      topic: '',
      events: saved.events,
      quiet_hours: saved.quiet_hours,
    });
  });
});
