// A small typed i18n layer: two dictionaries, `{name}` interpolation, plurals
// through Intl.PluralRules, and error texts chosen by server `code`.

import { create } from 'zustand';
import { en, enErrors, type Dictionary, type MessageKey } from './en';
import { fr, frErrors } from './fr';

export type Language = 'en' | 'fr';
export const LANGUAGES: readonly Language[] = ['en', 'fr'];
export type { MessageKey };

type Vars = Record<string, string | number>;
/** Keys that come as a `.one`/`.other` pair, named without the suffix. */
export type PluralKey = {
  [K in MessageKey]: K extends `${infer Base}.other` ? Base : never;
}[MessageKey];

const dictionaries: Record<Language, { ui: Dictionary; errors: Partial<Record<string, string>> }> = {
  en: { ui: en, errors: enErrors },
  fr: { ui: fr, errors: frErrors },
};

const STORAGE_KEY = 'mesh.language';

/** The saved choice when there is one, otherwise the browser's language
 * (any French variant gives French), otherwise English. */
export function detectLanguage(saved: string | null, browserLanguage: string | undefined): Language {
  if (saved && (LANGUAGES as readonly string[]).includes(saved)) return saved as Language;
  return browserLanguage?.toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

export function translate(language: Language, key: MessageKey, vars?: Vars): string {
  const text = dictionaries[language].ui[key];
  return vars ? text.replace(/\{(\w+)\}/g, (match, name: string) => String(vars[name] ?? match)) : text;
}

export function translatePlural(language: Language, key: PluralKey, count: number, vars?: Vars): string {
  const form = new Intl.PluralRules(language).select(count) === 'one' ? 'one' : 'other';
  return translate(language, `${key}.${form}` as MessageKey, { count, ...vars });
}

/** What to tell a person about a failure: the translation of its `code` when
 * this language has one, otherwise the server's own message. */
export function errorText(language: Language, error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const translated = typeof code === 'string' ? dictionaries[language].errors[code] : undefined;
  if (translated) return translated;
  if (typeof message === 'string' && message) return message;
  return dictionaries[language].errors.network ?? String(error);
}

function readSavedLanguage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function applyToDocument(language: Language): void {
  if (typeof document !== 'undefined') document.documentElement.lang = language;
}

interface LanguageState {
  language: Language;
  setLanguage(language: Language): void;
}

export const useLanguage = create<LanguageState>((set) => ({
  language: detectLanguage(
    typeof localStorage === 'undefined' ? null : readSavedLanguage(),
    typeof navigator === 'undefined' ? undefined : navigator.language,
  ),
  setLanguage(language) {
    try {
      localStorage.setItem(STORAGE_KEY, language);
    } catch {
      // Storage refused (private mode): the choice lasts for this page only.
    }
    applyToDocument(language);
    set({ language });
  },
}));

applyToDocument(useLanguage.getState().language);

/** Translation outside React (stores, toasts), in the current language. */
export function t(key: MessageKey, vars?: Vars): string {
  return translate(useLanguage.getState().language, key, vars);
}

export function describeError(error: unknown): string {
  return errorText(useLanguage.getState().language, error);
}

/** Translation inside components; re-renders when the language changes. */
export function useT() {
  const language = useLanguage((state) => state.language);
  return {
    language,
    t: (key: MessageKey, vars?: Vars) => translate(language, key, vars),
    tn: (key: PluralKey, count: number, vars?: Vars) => translatePlural(language, key, count, vars),
  };
}
