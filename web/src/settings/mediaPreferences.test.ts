import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_SPEAKING_THRESHOLD,
  loadMediaPreferences,
  MAX_SPEAKING_THRESHOLD,
  MIN_SPEAKING_THRESHOLD,
  parseMediaPreferences,
  saveMediaPreferences,
} from './mediaPreferences';
import { memoryStorage } from './testStorage';

describe('parseMediaPreferences', () => {
  it('gives the defaults for nothing stored or something unreadable', () => {
    const defaults = { speakingThreshold: DEFAULT_SPEAKING_THRESHOLD };
    expect(parseMediaPreferences(null)).toEqual(defaults);
    expect(parseMediaPreferences('{not json')).toEqual(defaults);
    expect(parseMediaPreferences('"camera"')).toEqual(defaults);
    expect(parseMediaPreferences('null')).toEqual(defaults);
  });

  it('keeps well-formed fields and drops the others', () => {
    const stored = JSON.stringify({ camera: 'cam1', microphone: 42, speaker: '', speakingThreshold: 'loud', extra: 1 });
    expect(parseMediaPreferences(stored)).toEqual({ camera: 'cam1', speakingThreshold: DEFAULT_SPEAKING_THRESHOLD });
  });

  it('clamps the threshold into the range the slider offers', () => {
    expect(parseMediaPreferences('{"speakingThreshold": 5}').speakingThreshold).toBe(MAX_SPEAKING_THRESHOLD);
    expect(parseMediaPreferences('{"speakingThreshold": -1}').speakingThreshold).toBe(MIN_SPEAKING_THRESHOLD);
    expect(parseMediaPreferences('{"speakingThreshold": 0.04}').speakingThreshold).toBe(0.04);
  });
});

describe('stored preferences', () => {
  beforeEach(() => {
    vi.stubGlobal('localStorage', memoryStorage());
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('survive a reload: what is saved is what is loaded', () => {
    saveMediaPreferences({ camera: 'cam2' });
    saveMediaPreferences({ speakingThreshold: 0.03 });
    saveMediaPreferences({ speaker: 'usb' });
    expect(loadMediaPreferences()).toEqual({ camera: 'cam2', speaker: 'usb', speakingThreshold: 0.03 });
  });

  it('never store an out-of-range threshold', () => {
    expect(saveMediaPreferences({ speakingThreshold: 9 }).speakingThreshold).toBe(MAX_SPEAKING_THRESHOLD);
    expect(JSON.parse(localStorage.getItem('mesh.media') ?? '{}').speakingThreshold).toBe(MAX_SPEAKING_THRESHOLD);
  });

  it('fall back to the defaults when storage refuses', () => {
    const refusing = memoryStorage();
    refusing.getItem = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    refusing.setItem = () => {
      throw new DOMException('full', 'QuotaExceededError');
    };
    vi.stubGlobal('localStorage', refusing);
    expect(saveMediaPreferences({ camera: 'cam1' })).toEqual({
      camera: 'cam1',
      speakingThreshold: DEFAULT_SPEAKING_THRESHOLD,
    });
    expect(loadMediaPreferences()).toEqual({ speakingThreshold: DEFAULT_SPEAKING_THRESHOLD });
  });
});
