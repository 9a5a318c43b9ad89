// What a person changes during a call (or in the pre-join preview): the
// microphone, the camera, a screen share and the devices used. Changes reach
// the others without renegotiating: `replaceTrack` on the media path, and a
// `call.media` announcement for the mute states.

import { t } from '../i18n';
import { saveMediaPreferences } from '../settings/mediaPreferences';
import { useCall } from '../store/call';
import { notify } from '../store/toasts';
import { announceMedia, setLocalTrack } from './controller';
import { mediaProblem, screenProblem } from './errors';
import { openCamera, openMicrophone, openScreen } from './localMedia';

const store = () => useCall.getState();

async function open(kind: 'microphone' | 'camera'): Promise<MediaStreamTrack | null> {
  const deviceId = store().devices[kind];
  try {
    return await (kind === 'camera' ? openCamera(deviceId) : openMicrophone(deviceId));
  } catch (error) {
    notify.error(t(`call.error.${mediaProblem(error)}`));
    return null;
  }
}

/** Muting keeps the microphone open (track.enabled = false): unmuting is instant. */
export async function setMicrophoneOn(on: boolean): Promise<void> {
  const track = store().local.audio;
  if (track) {
    track.enabled = on;
  } else if (on) {
    const opened = await open('microphone');
    if (!opened || !store().session) return opened?.stop();
    await setLocalTrack('audio', opened);
  }
  announceMedia({ audio: on });
}

/** Turning the camera off closes it (its light goes out); on opens it again. */
export async function setCameraOn(on: boolean): Promise<void> {
  if (on) {
    const opened = await open('camera');
    if (!opened || !store().session) return opened?.stop();
    await setLocalTrack('video', opened);
  } else {
    await setLocalTrack('video', null);
  }
  announceMedia({ video: on });
}

export async function startScreenShare(): Promise<void> {
  let track: MediaStreamTrack;
  try {
    track = await openScreen();
  } catch (error) {
    const problem = screenProblem(error);
    if (problem) notify.error(t(`call.error.${problem}`));
    return;
  }
  if (!store().session) return track.stop();
  // The browser's own "Stop sharing" button ends the track.
  track.addEventListener('ended', () => {
    if (store().local.screen === track) void stopScreenShare();
  });
  await setLocalTrack('screen', track);
  announceMedia({ screen: true });
}

export async function stopScreenShare(): Promise<void> {
  await setLocalTrack('screen', null);
  announceMedia({ screen: false });
}

/** Switches device; an open microphone or camera moves to it mid-call. */
export async function chooseDevice(kind: 'camera' | 'microphone' | 'speaker', deviceId: string): Promise<void> {
  // A choice made in a call is the browser's choice from now on, as on the settings page.
  saveMediaPreferences({ [kind]: deviceId });
  useCall.setState({ devices: { ...store().devices, [kind]: deviceId } });
  if (kind === 'camera' && store().local.video) {
    const opened = await open('camera');
    if (opened) await setLocalTrack('video', opened);
  } else if (kind === 'microphone' && store().local.audio) {
    const enabled = store().local.audio?.enabled ?? true;
    const opened = await open('microphone');
    if (!opened) return;
    opened.enabled = enabled;
    await setLocalTrack('audio', opened);
  }
}
