import { describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const middle = () => 0.5; // no jitter

  it('starts at half a second and doubles', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, middle))).toEqual([
      500, 1000, 2000, 4000, 8000,
    ]);
  });

  it('never waits longer than 15 seconds', () => {
    for (const attempt of [5, 6, 10, 50]) {
      expect(backoffDelay(attempt, () => 1)).toBeLessThanOrEqual(BACKOFF_MAX_MS);
    }
    expect(backoffDelay(10, middle)).toBe(BACKOFF_MAX_MS);
  });

  it('spreads clients by ±20 % jitter', () => {
    expect(backoffDelay(2, () => 0)).toBe(1600);
    expect(backoffDelay(2, () => 0.999999)).toBe(2400);
  });
});
