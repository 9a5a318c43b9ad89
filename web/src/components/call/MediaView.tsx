import { useEffect, useRef } from 'react';

/** Plays one video track. Muted: sound is played by CallAudio. */
export function VideoView({ track, mirrored = false, label }: { track: MediaStreamTrack; mirrored?: boolean; label?: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    return () => {
      video.srcObject = null;
    };
  }, [track]);
  return (
    <video
      ref={ref}
      className={mirrored ? 'mirrored' : undefined}
      autoPlay
      playsInline
      muted
      aria-label={label}
      aria-hidden={label ? undefined : true}
    />
  );
}

/** Plays one remote audio track on the chosen speaker. */
export function AudioView({ track, sinkId }: { track: MediaStreamTrack; sinkId?: string }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const audio = ref.current;
    if (!audio) return;
    audio.srcObject = new MediaStream([track]);
    audio.play().catch(() => {});
    return () => {
      audio.srcObject = null;
    };
  }, [track]);
  useEffect(() => {
    const audio = ref.current;
    if (audio && sinkId && 'setSinkId' in audio) audio.setSinkId(sinkId).catch(() => {});
  }, [sinkId]);
  return <audio ref={ref} autoPlay />;
}
