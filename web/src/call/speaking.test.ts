import { afterEach, describe, expect, it, vi } from 'vitest';
import { saveMediaPreferences } from '../settings/mediaPreferences';
import { memoryStorage } from '../settings/testStorage';
import { LOCAL } from '../store/call';
import {
  rmsLevel,
  SPEAKING_HOLD_MS,
  SPEAKING_POLL_MS,
  SPEAKING_THRESHOLD,
  SpeakingDetector,
  thresholdFor,
} from './speaking';

describe('rmsLevel', () => {
  it('is 0 for silence and the amplitude for a square wave', () => {
    expect(rmsLevel(new Float32Array(512))).toBe(0);
    expect(rmsLevel([0.5, -0.5, 0.5, -0.5])).toBeCloseTo(0.5);
    expect(rmsLevel([])).toBe(0);
  });

  it('puts a normal voice over the threshold and background hiss under it', () => {
    const sine = (amplitude: number) => Array.from({ length: 1024 }, (_, i) => amplitude * Math.sin(i / 5));
    expect(rmsLevel(sine(0.1))).toBeGreaterThan(SPEAKING_THRESHOLD);
    expect(rmsLevel(sine(0.005))).toBeLessThan(SPEAKING_THRESHOLD);
  });
});

describe('SpeakingDetector', () => {
  const loud = SPEAKING_THRESHOLD * 4;
  const quiet = SPEAKING_THRESHOLD / 4;

  it('lights up on the first loud sample, within one poll', () => {
    const detector = new SpeakingDetector();
    expect(detector.update(quiet, 0)).toBe(false);
    expect(detector.update(loud, SPEAKING_POLL_MS)).toBe(true);
  });

  it('holds through short pauses between words', () => {
    const detector = new SpeakingDetector();
    detector.update(loud, 0);
    expect(detector.update(quiet, 100)).toBe(true);
    expect(detector.update(loud, 200)).toBe(true);
    expect(detector.update(quiet, 200 + SPEAKING_HOLD_MS - 1)).toBe(true);
  });

  it('goes out once the hold has passed in silence', () => {
    const detector = new SpeakingDetector();
    detector.update(loud, 1000);
    expect(detector.update(quiet, 1000 + SPEAKING_HOLD_MS)).toBe(false);
    expect(detector.update(quiet, 5000)).toBe(false);
  });

  it('takes its threshold and hold as options', () => {
    const detector = new SpeakingDetector(0.5, 10);
    expect(detector.update(0.4, 0)).toBe(false);
    expect(detector.update(0.6, 1)).toBe(true);
    expect(detector.update(0.1, 11)).toBe(false);
  });
});

describe('thresholdFor', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('applies the threshold saved in the settings to the local microphone only', () => {
    vi.stubGlobal('localStorage', memoryStorage());
    expect(thresholdFor(LOCAL)).toBe(SPEAKING_THRESHOLD);
    saveMediaPreferences({ speakingThreshold: 0.05 });
    expect(thresholdFor(LOCAL)).toBe(0.05);
    expect(thresholdFor('participant-7')).toBe(SPEAKING_THRESHOLD);
  });
});
