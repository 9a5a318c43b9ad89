// The camera, microphone, speaker and speaking threshold a person picked on
// the settings page. They belong to this browser (device ids mean nothing on
// another machine), so they live in localStorage, not on the server; calls
// read them when they open a device or watch the microphone.

export type PreferredDevice = 'camera' | 'microphone' | 'speaker';

export interface MediaPreferences {
  camera?: string;
  microphone?: string;
  speaker?: string;
  /** RMS level (samples in [-1, 1]) from which the microphone counts as speaking. */
  speakingThreshold: number;
}

/** Over background hiss, under a normal voice (see call/speaking.test.ts). */
export const DEFAULT_SPEAKING_THRESHOLD = 0.015;
/** The range the threshold slider offers; a stored value outside is clamped. */
export const MIN_SPEAKING_THRESHOLD = 0.002;
export const MAX_SPEAKING_THRESHOLD = 0.1;

const STORAGE_KEY = 'mesh.media';
const DEVICES: readonly PreferredDevice[] = ['camera', 'microphone', 'speaker'];

export function clampThreshold(value: number): number {
  if (!Number.isFinite(value)) return DEFAULT_SPEAKING_THRESHOLD;
  return Math.min(MAX_SPEAKING_THRESHOLD, Math.max(MIN_SPEAKING_THRESHOLD, value));
}

/** Reads what was stored, keeping only well-formed values: the storage is
 * shared with whatever else ran on this origin, so nothing is trusted. */
export function parseMediaPreferences(raw: string | null): MediaPreferences {
  const preferences: MediaPreferences = { speakingThreshold: DEFAULT_SPEAKING_THRESHOLD };
  let stored: unknown;
  try {
    stored = raw === null ? null : JSON.parse(raw);
  } catch {
    return preferences;
  }
  if (typeof stored !== 'object' || stored === null) return preferences;
  const record = stored as Record<string, unknown>;
  for (const kind of DEVICES) {
    const id = record[kind];
    if (typeof id === 'string' && id) preferences[kind] = id;
  }
  if (typeof record.speakingThreshold === 'number') {
    preferences.speakingThreshold = clampThreshold(record.speakingThreshold);
  }
  return preferences;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    // Access denied (sandboxed frame, storage disabled).
    return null;
  }
}

export function loadMediaPreferences(): MediaPreferences {
  try {
    return parseMediaPreferences(storage()?.getItem(STORAGE_KEY) ?? null);
  } catch {
    return parseMediaPreferences(null);
  }
}

/** Stores `change` over what is stored; returns the result. */
export function saveMediaPreferences(change: Partial<MediaPreferences>): MediaPreferences {
  const preferences = { ...loadMediaPreferences(), ...change };
  preferences.speakingThreshold = clampThreshold(preferences.speakingThreshold);
  try {
    storage()?.setItem(STORAGE_KEY, JSON.stringify(preferences));
  } catch {
    // Storage full or refused (private mode): the choice is not kept.
  }
  return preferences;
}
