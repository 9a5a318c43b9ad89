import { describe, expect, it } from 'vitest';
import { MAX_SPEAKING_THRESHOLD } from './mediaPreferences';
import { meterFraction, thresholdPercent } from './MicrophoneMeter';

describe('the microphone meter', () => {
  it('spans the slider range, so the bar passes the thumb at the threshold', () => {
    expect(meterFraction(0)).toBe(0);
    expect(meterFraction(MAX_SPEAKING_THRESHOLD / 4)).toBeCloseTo(0.25);
    expect(meterFraction(MAX_SPEAKING_THRESHOLD * 3)).toBe(1);
  });

  it('shows the threshold as a percentage of full scale', () => {
    expect(thresholdPercent(0.015)).toBe('1.5 %');
    expect(thresholdPercent(0.1)).toBe('10.0 %');
  });
});
