// Opening the microphone, the camera and a screen to share. The constraints
// suit a mesh call, where every participant encodes its camera once per peer.

import { mediaProblem } from './errors';

const MICROPHONE: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const CAMERA: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 30 },
};
const SCREEN: DisplayMediaStreamOptions = { video: { frameRate: { ideal: 15, max: 15 } }, audio: false };

function withDevice(constraints: MediaTrackConstraints, deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { ...constraints, deviceId: { exact: deviceId } } : constraints;
}

export async function openMicrophone(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: withDevice(MICROPHONE, deviceId) });
  return stream.getAudioTracks()[0];
}

export async function openCamera(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: withDevice(CAMERA, deviceId) });
  return stream.getVideoTracks()[0];
}

export interface OpenedDevices {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  /** Why one or both could not be opened. */
  error?: unknown;
}

/** Opens the microphone and the camera with a single permission prompt. If
 * that fails for another reason than a refusal, each is tried on its own, so
 * that a missing or busy camera still leaves the microphone (and the reverse). */
export async function openDevices(
  want: { audio: boolean; video: boolean },
  chosen: { microphone?: string; camera?: string },
): Promise<OpenedDevices> {
  if (!want.audio && !want.video) return { audio: null, video: null };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: want.audio && withDevice(MICROPHONE, chosen.microphone),
      video: want.video && withDevice(CAMERA, chosen.camera),
    });
    return { audio: stream.getAudioTracks()[0] ?? null, video: stream.getVideoTracks()[0] ?? null };
  } catch (error) {
    if (!want.audio || !want.video || mediaProblem(error) === 'denied') return { audio: null, video: null, error };
    const [audio, video] = await Promise.allSettled([openMicrophone(chosen.microphone), openCamera(chosen.camera)]);
    return {
      audio: audio.status === 'fulfilled' ? audio.value : null,
      video: video.status === 'fulfilled' ? video.value : null,
      error,
    };
  }
}

/** Asks the person for a screen, window or tab to share. */
export async function openScreen(): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getDisplayMedia(SCREEN);
  const track = stream.getVideoTracks()[0];
  // Text and lines stay sharp rather than the motion smooth.
  track.contentHint = 'detail';
  return track;
}
