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

function withDevice(constraints: MediaTrackConstraints, deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { ...constraints, deviceId: { exact: deviceId } } : constraints;
}

type Kind = 'microphone' | 'camera';

const BASE: Record<Kind, MediaTrackConstraints> = { microphone: MICROPHONE, camera: CAMERA };

/** The device chosen now, otherwise the one saved on the settings page. */
function deviceToOpen(kind: Kind, chosen: string | undefined): string | undefined {
  return chosen ?? loadMediaPreferences()[kind];
}

async function openTrack(kind: Kind, constraints: MediaTrackConstraints): Promise<MediaStreamTrack> {
  const request = kind === 'camera' ? { video: constraints } : { audio: constraints };
  const stream = await navigator.mediaDevices.getUserMedia(request);
  return stream.getTracks()[0];
}

/** Opens `chosen`, or else the saved device. The saved one is asked for as
 * `exact` (Chromium ignores an `ideal` microphone), so when it is gone the
 * browser's default is opened instead of failing. */
async function openPreferred(kind: Kind, chosen: string | undefined): Promise<MediaStreamTrack> {
  const deviceId = deviceToOpen(kind, chosen);
  try {
    return await openTrack(kind, withDevice(BASE[kind], deviceId));
  } catch (error) {
    if (chosen || !deviceId || mediaProblem(error) !== 'noDevice') throw error;
    return openTrack(kind, BASE[kind]);
  }
}

export function openMicrophone(deviceId?: string): Promise<MediaStreamTrack> {
  return openPreferred('microphone', deviceId);
}

export function openCamera(deviceId?: string): Promise<MediaStreamTrack> {
  return openPreferred('camera', deviceId);
}

export interface OpenedDevices {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  /** Why one or both could not be opened. */
  error?: unknown;
}

/** Opens the microphone and the camera with a single permission prompt. If
 * that fails for another reason than a refusal, each is tried on its own, so
 * that a missing or busy camera still leaves the microphone (and the reverse)
 * and a saved device that is gone gives way to the default. */
export async function openDevices(
  want: { audio: boolean; video: boolean },
  chosen: { microphone?: string; camera?: string },
): Promise<OpenedDevices> {
  if (!want.audio && !want.video) return { audio: null, video: null };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: want.audio && withDevice(MICROPHONE, deviceToOpen('microphone', chosen.microphone)),
      video: want.video && withDevice(CAMERA, deviceToOpen('camera', chosen.camera)),
    });
    return { audio: stream.getAudioTracks()[0] ?? null, video: stream.getVideoTracks()[0] ?? null };
  } catch (error) {
    if (mediaProblem(error) === 'denied') return { audio: null, video: null, error };
    const [audio, video] = await Promise.allSettled([
      want.audio ? openMicrophone(chosen.microphone) : null,
      want.video ? openCamera(chosen.camera) : null,
    ]);
    const opened = {
      audio: audio.status === 'fulfilled' ? audio.value : null,
      video: video.status === 'fulfilled' ? video.value : null,
    };
    const failure = [audio, video].find((result) => result.status === 'rejected');
    return failure ? { ...opened, error: failure.reason } : opened;
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
