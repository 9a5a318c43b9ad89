import { useEffect, useRef, useState } from 'react';

/** How long a replacement track may take to present its first frame before
 * it takes the old one's place anyway. */
export const HANDOVER_TIMEOUT_MS = 1000;

interface Layer {
  id: number;
  track: MediaStreamTrack;
}

let nextLayerId = 0;

/** Plays one video track. Muted: sound is played by CallAudio.
 *
 * When the track is replaced (a mesh ↔ SFU switch hands over a new track of
 * the same camera), the new one starts in a second element beneath the
 * first and takes its place only once it has presented a frame, so the
 * picture never goes blank while the new element starts up. */
export function VideoView({ track, mirrored = false, label }: { track: MediaStreamTrack; mirrored?: boolean; label?: string }) {
  const [layers, setLayers] = useState<Layer[]>(() => [{ id: nextLayerId++, track }]);
  const latest = layers[layers.length - 1];
  if (latest.track !== track) setLayers([...layers, { id: nextLayerId++, track }]);
  // The newest layer to present a frame replaces every older one.
  const presented = (id: number) => setLayers((current) => current.filter((layer) => layer.id >= id));
  return (
    <>
      {layers.map((layer, index) => (
        <VideoLayer
          key={layer.id}
          track={layer.track}
          mirrored={mirrored}
          label={label}
          standby={index > 0}
          onPresented={index > 0 ? () => presented(layer.id) : undefined}
        />
      ))}
    </>
  );
}

interface VideoLayerProps {
  track: MediaStreamTrack;
  mirrored: boolean;
  label?: string;
  /** Still waiting for its first frame beneath the element it replaces. */
  standby: boolean;
  onPresented?: () => void;
}

function VideoLayer({ track, mirrored, label, standby, onPresented }: VideoLayerProps) {
  const ref = useRef<HTMLVideoElement>(null);
  const presented = useRef(onPresented);
  presented.current = onPresented;
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    return () => {
      video.srcObject = null;
    };
  }, [track]);
  useEffect(() => {
    const video = ref.current;
    if (!video || !standby) return;
    let done = false;
    const promote = () => {
      if (done) return;
      done = true;
      presented.current?.();
    };
    const frame = 'requestVideoFrameCallback' in video ? video.requestVideoFrameCallback(promote) : undefined;
    const timer = setTimeout(promote, HANDOVER_TIMEOUT_MS);
    return () => {
      done = true;
      clearTimeout(timer);
      if (frame !== undefined) video.cancelVideoFrameCallback(frame);
    };
  }, [standby]);
  const classes = [mirrored && 'mirrored', standby && 'video-standby'].filter(Boolean).join(' ');
  return (
    <video
      ref={ref}
      className={classes || undefined}
      data-standby={standby ? '' : undefined}
      autoPlay
      playsInline
      muted
      aria-label={standby ? undefined : label}
      aria-hidden={label && !standby ? undefined : true}
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
