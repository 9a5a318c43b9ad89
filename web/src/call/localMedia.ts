// Opening the microphone, the camera and a screen to share. The constraints
// suit a mesh call, where every participant encodes its camera once per peer.

import { loadMediaPreferences } from '../settings/mediaPreferences';
import { mediaProblem } from './errors';

const MICROPHONE: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const CAMERA: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 30 },
};
const SCREEN: DisplayMediaStreamOptions = { video: { frameRate: { ideal: 15, max: 15 } }, audio: false };

/** A device chosen now must be used (`exact`); the one saved on the settings
 * page is only preferred (`ideal`), so that when it is unplugged the browser
 * opens another instead of failing. */
export function withDevice(
  constraints: MediaTrackConstraints,
  chosen: string | undefined,
  saved: string | undefined,
): MediaTrackConstraints {
  if (chosen) return { ...constraints, deviceId: { exact: chosen } };
  return saved ? { ...constraints, deviceId: { ideal: saved } } : constraints;
}

const microphone = (deviceId: string | undefined) => withDevice(MICROPHONE, deviceId, loadMediaPreferences().microphone);
const camera = (deviceId: string | undefined) => withDevice(CAMERA, deviceId, loadMediaPreferences().camera);

export async function openMicrophone(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: microphone(deviceId) });
  return stream.getAudioTracks()[0];
}

export async function openCamera(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: camera(deviceId) });
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
      audio: want.audio && microphone(chosen.microphone),
      video: want.video && camera(chosen.camera),
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
