import { useEffect, useId, useRef, useState } from 'react';
import { rmsLevel, SPEAKING_POLL_MS, SpeakingDetector } from '../call/speaking';
import { useT } from '../i18n';
import { MAX_SPEAKING_THRESHOLD, MIN_SPEAKING_THRESHOLD } from './mediaPreferences';

const ANALYSIS_WINDOW = 1024;
const THRESHOLD_STEP = 0.001;

/** Share of the meter's width for an RMS level: the meter spans the slider's range. */
export function meterFraction(level: number): number {
  return Math.min(1, Math.max(0, level / MAX_SPEAKING_THRESHOLD));
}

/** The threshold as people read it: a percentage of full scale. */
export function thresholdPercent(threshold: number): string {
  return `${(threshold * 100).toFixed(1)} %`;
}

interface Reading {
  level: number;
  speaking: boolean;
}

const SILENCE: Reading = { level: 0, speaking: false };

/** The live level of `track` and whether it counts as speaking at
 * `threshold`, polled exactly like the call's speaking detection. */
function useReading(track: MediaStreamTrack | null, threshold: number): Reading {
  const [reading, setReading] = useState(SILENCE);
  // Read by the poll, so that moving the slider does not reopen the audio graph.
  const thresholdRef = useRef(threshold);
  useEffect(() => {
    thresholdRef.current = threshold;
  }, [threshold]);
  useEffect(() => {
    if (!track) {
      setReading(SILENCE);
      return;
    }
    const context = new AudioContext();
    void context.resume();
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = ANALYSIS_WINDOW;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let detector = new SpeakingDetector(thresholdRef.current);
    let detectorThreshold = thresholdRef.current;
    const timer = setInterval(() => {
      if (detectorThreshold !== thresholdRef.current) {
        detectorThreshold = thresholdRef.current;
        detector = new SpeakingDetector(detectorThreshold);
      }
      analyser.getFloatTimeDomainData(samples);
      const level = rmsLevel(samples);
      setReading({ level, speaking: detector.update(level, performance.now()) });
    }, SPEAKING_POLL_MS);
    return () => {
      clearInterval(timer);
      source.disconnect();
      void context.close();
    };
  }, [track]);
  return reading;
}

/** The microphone's level as a bar with the speaking threshold drawn on it as
 * a slider, and whether the call would count the person as speaking. */
export function MicrophoneMeter({
  track,
  threshold,
  onThreshold,
}: {
  track: MediaStreamTrack | null;
  threshold: number;
  onThreshold(threshold: number): void;
}) {
  const { t } = useT();
  const id = useId();
  const { level, speaking } = useReading(track, threshold);

  return (
    <div className="field">
      <label htmlFor={id}>
        {t('prefs.media.threshold')} <output htmlFor={id}>{thresholdPercent(threshold)}</output>
      </label>
      <div className={`prefs-meter${speaking ? ' prefs-meter-speaking' : ''}`}>
        <div className="prefs-meter-level" style={{ width: `${meterFraction(level) * 100}%` }} aria-hidden="true" />
        <input
          id={id}
          type="range"
          min={0}
          max={MAX_SPEAKING_THRESHOLD}
          step={THRESHOLD_STEP}
          value={threshold}
          aria-describedby={`${id}-hint`}
          onChange={(event) => onThreshold(Math.max(MIN_SPEAKING_THRESHOLD, Number(event.target.value)))}
        />
      </div>
      <p id={`${id}-hint`} className="hint">
        {!track ? t('prefs.media.thresholdHint') : speaking ? t('prefs.media.speaking') : t('prefs.media.silent')}
      </p>
    </div>
  );
}
