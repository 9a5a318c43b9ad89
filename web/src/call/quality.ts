// Connection quality per remote participant, from `getStats()` every 2 s:
// round-trip time of the selected candidate pair, packet loss over the last
// interval and jitter of what we receive.

export type Quality = 'excellent' | 'good' | 'poor' | 'disconnected';

export const QUALITY_INTERVAL_MS = 2000;

export interface QualitySample {
  connected: boolean;
  rttMs?: number;
  /** Lost / (lost + received) over the interval, 0–1. */
  lossRatio?: number;
  jitterMs?: number;
}

/** Upper bounds for each level; beyond the `good` ones it is poor. */
const LIMITS = {
  excellent: { rttMs: 150, lossRatio: 0.01, jitterMs: 30 },
  good: { rttMs: 400, lossRatio: 0.05, jitterMs: 80 },
} as const;

function within(sample: QualitySample, limits: (typeof LIMITS)[keyof typeof LIMITS]): boolean {
  return (
    (sample.rttMs ?? 0) <= limits.rttMs &&
    (sample.lossRatio ?? 0) <= limits.lossRatio &&
    (sample.jitterMs ?? 0) <= limits.jitterMs
  );
}

/** The level a sample falls in; an unknown measure does not count against it. */
export function classifyQuality(sample: QualitySample): Quality {
  if (!sample.connected) return 'disconnected';
  if (within(sample, LIMITS.excellent)) return 'excellent';
  if (within(sample, LIMITS.good)) return 'good';
  return 'poor';
}

/** Cumulative counters of one stats report, kept to compute the next delta. */
export interface StatsCounters {
  packetsReceived: number;
  packetsLost: number;
}

export interface StatsReading {
  counters: StatsCounters;
  rttMs?: number;
  jitterMs?: number;
}

type Stats = Record<string, unknown> & { type: string; id: string };

/** What a stats report says: RTT of the selected candidate pair, received and
 * lost packets summed over inbound RTP streams, and the worst audio jitter.
 * Video jitter is left out when there is audio: the packets of one frame
 * share a timestamp but arrive spread out, which inflates it. */
export function readStats(report: ReadonlyMap<string, unknown>): StatsReading {
  const all = [...report.values()] as Stats[];
  const counters: StatsCounters = { packetsReceived: 0, packetsLost: 0 };
  const jitter: Record<string, number> = {};
  for (const stat of all) {
    if (stat.type !== 'inbound-rtp') continue;
    counters.packetsReceived += number(stat.packetsReceived) ?? 0;
    counters.packetsLost += Math.max(0, number(stat.packetsLost) ?? 0);
    const streamJitter = number(stat.jitter);
    const kind = stat.kind === 'audio' ? 'audio' : 'video';
    if (streamJitter !== undefined) jitter[kind] = Math.max(jitter[kind] ?? 0, streamJitter);
  }
  const worstJitter = jitter.audio ?? jitter.video;
  const rtt = number(selectedPair(all)?.currentRoundTripTime);
  return {
    counters,
    rttMs: rtt === undefined ? undefined : rtt * 1000,
    jitterMs: worstJitter === undefined ? undefined : worstJitter * 1000,
  };
}

/** A sample from this reading and the previous one (loss is per interval). */
export function toSample(connected: boolean, reading: StatsReading, previous?: StatsCounters): QualitySample {
  const received = reading.counters.packetsReceived - (previous?.packetsReceived ?? 0);
  const lost = reading.counters.packetsLost - (previous?.packetsLost ?? 0);
  const total = received + lost;
  return {
    connected,
    rttMs: reading.rttMs,
    jitterMs: reading.jitterMs,
    lossRatio: total > 0 && lost >= 0 ? lost / total : undefined,
  };
}

function selectedPair(all: Stats[]): Stats | undefined {
  const byId = new Map(all.map((stat) => [stat.id, stat]));
  for (const stat of all) {
    if (stat.type === 'transport' && typeof stat.selectedCandidatePairId === 'string') {
      const pair = byId.get(stat.selectedCandidatePairId);
      if (pair) return pair;
    }
  }
  return all.find((stat) => stat.type === 'candidate-pair' && stat.nominated === true && stat.state === 'succeeded');
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
