// Who is speaking: an AnalyserNode on each audio track, read every 50 ms. A
// level over the threshold lights the indicator at once; it goes out after a
// short hold below it, so it does not flicker between words. Lag: at most one
// poll (50 ms) plus the analysis window (~21 ms at 48 kHz). The threshold of
// the local microphone is the one set on the settings page; remote tracks use
// the default, since someone else's microphone is not calibrated there.

import { DEFAULT_SPEAKING_THRESHOLD, loadMediaPreferences } from '../settings/mediaPreferences';
import { LOCAL } from '../store/call';

export const SPEAKING_THRESHOLD = DEFAULT_SPEAKING_THRESHOLD;
export const SPEAKING_HOLD_MS = 300;
export const SPEAKING_POLL_MS = 50;
const ANALYSIS_WINDOW = 1024;

/** The threshold for a watched track: the person's own for their microphone. */
export function thresholdFor(key: string): number {
  return key === LOCAL ? loadMediaPreferences().speakingThreshold : SPEAKING_THRESHOLD;
}

/** Root mean square of samples in [-1, 1]. */
export function rmsLevel(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / samples.length);
}

export class SpeakingDetector {
  private speaking = false;
  private lastLoudAt = 0;

  constructor(
    private readonly threshold = SPEAKING_THRESHOLD,
    private readonly holdMs = SPEAKING_HOLD_MS,
  ) {}

  /** Feeds the current level; returns whether the person counts as speaking. */
  update(level: number, nowMs: number): boolean {
    if (level >= this.threshold) {
      this.speaking = true;
      this.lastLoudAt = nowMs;
    } else if (this.speaking && nowMs - this.lastLoudAt >= this.holdMs) {
      this.speaking = false;
    }
    return this.speaking;
  }
}

interface Watched {
  track: MediaStreamTrack;
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  samples: Float32Array<ArrayBuffer>;
  detector: SpeakingDetector;
  speaking: boolean;
}

/** Watches audio tracks by key (a participant id) and reports changes. */
export class SpeakingMonitor {
  private context: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly onChange: (key: string, speaking: boolean) => void) {}

  /** Call from a click the first time: browsers start audio only after a gesture. */
  start(): void {
    this.context ??= new AudioContext();
    void this.context.resume();
    this.timer ??= setInterval(() => this.poll(), SPEAKING_POLL_MS);
  }

  /** Watches `track` under `key` (replacing what was watched there); null stops. */
  watch(key: string, track: MediaStreamTrack | null): void {
    const current = this.watched.get(key);
    if (current?.track === track) return;
    if (current) this.unwatch(key);
    if (!track || !this.context) return;
    const source = this.context.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = ANALYSIS_WINDOW;
    source.connect(analyser);
    this.watched.set(key, {
      track,
      source,
      analyser,
      samples: new Float32Array(analyser.fftSize),
      detector: new SpeakingDetector(thresholdFor(key)),
      speaking: false,
    });
  }

  unwatch(key: string): void {
    const current = this.watched.get(key);
    if (!current) return;
    current.source.disconnect();
    this.watched.delete(key);
    if (current.speaking) this.onChange(key, false);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const key of [...this.watched.keys()]) this.unwatch(key);
    void this.context?.close();
    this.context = null;
  }

  private poll(): void {
    const now = performance.now();
    for (const [key, watched] of this.watched) {
      watched.analyser.getFloatTimeDomainData(watched.samples);
      // A muted microphone (enabled = false) produces silence by itself.
      const speaking = watched.detector.update(rmsLevel(watched.samples), now);
      if (speaking !== watched.speaking) {
        watched.speaking = speaking;
        this.onChange(key, speaking);
      }
    }
  }
}
