import { describe, expect, it } from 'vitest';
import { en } from './en';
import { fr } from './fr';
import { detectLanguage, errorText, translate, translatePlural } from '.';

describe('language choice', () => {
  it('follows the browser: any French variant gives French, anything else English', () => {
    expect(detectLanguage(null, 'fr-FR')).toBe('fr');
    expect(detectLanguage(null, 'fr-CA')).toBe('fr');
    expect(detectLanguage(null, 'FR')).toBe('fr');
    expect(detectLanguage(null, 'de-DE')).toBe('en');
    expect(detectLanguage(null, undefined)).toBe('en');
  });

  it('lets the saved setting override the browser, ignoring unknown values', () => {
    expect(detectLanguage('en', 'fr-FR')).toBe('en');
    expect(detectLanguage('fr', 'en-US')).toBe('fr');
    expect(detectLanguage('klingon', 'fr-FR')).toBe('fr');
  });
});

describe('translation', () => {
  it('fills placeholders', () => {
    expect(translate('en', 'typing.one', { name: 'alice' })).toBe('alice is typing…');
    expect(translate('fr', 'typing.one', { name: 'alice' })).toBe('alice est en train d’écrire…');
  });

  it('uses the plural rules of each language', () => {
    expect(translatePlural('en', 'unread', 1)).toBe('1 unread message');
    expect(translatePlural('en', 'unread', 0)).toBe('0 unread messages');
    expect(translatePlural('fr', 'unread', 0)).toBe('0 message non lu');
    expect(translatePlural('fr', 'unread', 2)).toBe('2 messages non lus');
  });

  it('has every key in French, none left empty', () => {
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    expect(Object.values(fr).filter((text) => !text.trim())).toEqual([]);
  });
});

describe('errorText', () => {
  const serverError = { code: 'invalid_credentials', message: 'Wrong login or password.' };

  it('translates known codes', () => {
    expect(errorText('fr', serverError)).toBe('Identifiant ou mot de passe incorrect.');
  });

  it('falls back to the server message for codes without a translation', () => {
    expect(errorText('en', serverError)).toBe('Wrong login or password.');
    expect(errorText('fr', { code: 'something_new', message: 'Something new.' })).toBe('Something new.');
  });

  it('explains network failures without a message', () => {
    expect(errorText('en', { code: 'network', message: '' })).toMatch(/cannot be reached/);
  });
});
