import { describe, expect, it } from 'vitest';
import { classifyQuality, readStats, toSample } from './quality';

describe('classifyQuality', () => {
  it('is disconnected whenever the connection is not up, whatever the numbers', () => {
    expect(classifyQuality({ connected: false, rttMs: 10, lossRatio: 0, jitterMs: 1 })).toBe('disconnected');
  });

  it('is excellent with low RTT, loss and jitter', () => {
    expect(classifyQuality({ connected: true, rttMs: 40, lossRatio: 0, jitterMs: 5 })).toBe('excellent');
    expect(classifyQuality({ connected: true, rttMs: 150, lossRatio: 0.01, jitterMs: 30 })).toBe('excellent');
  });

  it('is good when one measure leaves the excellent range', () => {
    expect(classifyQuality({ connected: true, rttMs: 220, lossRatio: 0, jitterMs: 5 })).toBe('good');
    expect(classifyQuality({ connected: true, rttMs: 40, lossRatio: 0.03, jitterMs: 5 })).toBe('good');
    expect(classifyQuality({ connected: true, rttMs: 40, lossRatio: 0, jitterMs: 60 })).toBe('good');
  });

  it('is poor when any measure is bad', () => {
    expect(classifyQuality({ connected: true, rttMs: 600, lossRatio: 0, jitterMs: 5 })).toBe('poor');
    expect(classifyQuality({ connected: true, rttMs: 40, lossRatio: 0.12, jitterMs: 5 })).toBe('poor');
    expect(classifyQuality({ connected: true, rttMs: 40, lossRatio: 0, jitterMs: 120 })).toBe('poor');
  });

  it('does not hold unknown measures against a connection', () => {
    expect(classifyQuality({ connected: true })).toBe('excellent');
  });
});

const report = (...stats: Record<string, unknown>[]) => new Map(stats.map((stat) => [stat.id as string, stat]));

describe('readStats', () => {
  it('takes the RTT of the selected pair and sums inbound streams', () => {
    const reading = readStats(
      report(
        { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
        { id: 'P1', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.9 },
        { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.025 },
        { id: 'A', type: 'inbound-rtp', kind: 'audio', packetsReceived: 100, packetsLost: 2, jitter: 0.004 },
        { id: 'V', type: 'inbound-rtp', kind: 'video', packetsReceived: 400, packetsLost: -1, jitter: 0.012 },
        { id: 'O', type: 'outbound-rtp', kind: 'video', packetsSent: 999 },
      ),
    );
    expect(reading.rttMs).toBeCloseTo(25);
    expect(reading.jitterMs).toBeCloseTo(4);
    expect(reading.counters).toEqual({ packetsReceived: 500, packetsLost: 2 });
  });

  it('takes video jitter only when nothing audio is received', () => {
    const reading = readStats(report({ id: 'V', type: 'inbound-rtp', kind: 'video', packetsReceived: 9, jitter: 0.05 }));
    expect(reading.jitterMs).toBeCloseTo(50);
  });

  it('falls back to the nominated, succeeded pair and leaves unknowns undefined', () => {
    const reading = readStats(
      report(
        { id: 'P1', type: 'candidate-pair', nominated: false, state: 'succeeded', currentRoundTripTime: 0.5 },
        { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.1 },
      ),
    );
    expect(reading.rttMs).toBeCloseTo(100);
    expect(reading.jitterMs).toBeUndefined();
    expect(readStats(report()).rttMs).toBeUndefined();
  });
});

describe('toSample', () => {
  const reading = (packetsReceived: number, packetsLost: number) => ({
    counters: { packetsReceived, packetsLost },
    rttMs: 20,
    jitterMs: 3,
  });

  it('measures loss over the interval, not since the start', () => {
    const sample = toSample(true, reading(1180, 30), { packetsReceived: 1000, packetsLost: 10 });
    expect(sample.lossRatio).toBeCloseTo(20 / 200);
    expect(toSample(true, reading(100, 0)).lossRatio).toBe(0);
  });

  it('has no loss figure when nothing arrived in the interval', () => {
    expect(toSample(true, reading(100, 5), { packetsReceived: 100, packetsLost: 5 }).lossRatio).toBeUndefined();
  });

  it('ends up poor with heavy recent loss, excellent once it stops', () => {
    const lossy = toSample(true, reading(1100, 200), { packetsReceived: 1000, packetsLost: 0 });
    expect(classifyQuality(lossy)).toBe('poor');
    const clean = toSample(true, reading(1300, 200), { packetsReceived: 1100, packetsLost: 200 });
    expect(classifyQuality(clean)).toBe('excellent');
  });
});
