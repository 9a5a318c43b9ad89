import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { saveMediaPreferences } from '../settings/mediaPreferences';
import { memoryStorage } from '../settings/testStorage';
import { openDevices, openMicrophone } from './localMedia';

/** A fake getUserMedia with the given devices: an `exact` id that is not
 * there fails like a browser (OverconstrainedError); otherwise the device
 * asked for, or the default, is opened. */
function fakeMedia(present: string[]) {
  const getUserMedia = vi.fn(async (constraints: MediaStreamConstraints) => {
    const tracks = (['audio', 'video'] as const)
      .filter((kind) => constraints[kind])
      .map((kind) => {
        const asked = constraints[kind] as MediaTrackConstraints;
        const exact = (asked.deviceId as ConstrainDOMStringParameters | undefined)?.exact as string | undefined;
        if (exact && !present.includes(exact)) throw new DOMException('gone', 'OverconstrainedError');
        return { kind, deviceId: exact ?? 'default' };
      });
    return {
      getTracks: () => tracks,
      getAudioTracks: () => tracks.filter((track) => track.kind === 'audio'),
      getVideoTracks: () => tracks.filter((track) => track.kind === 'video'),
    };
  });
  vi.stubGlobal('navigator', { mediaDevices: { getUserMedia } });
  return getUserMedia;
}

const deviceOf = (track: unknown) => (track as { deviceId: string } | null)?.deviceId;

describe('opening the saved devices', () => {
  beforeEach(() => {
    vi.stubGlobal('localStorage', memoryStorage());
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('opens the microphone saved in the settings when none is chosen', async () => {
    fakeMedia(['usb-mic']);
    saveMediaPreferences({ microphone: 'usb-mic' });
    expect(deviceOf(await openMicrophone())).toBe('usb-mic');
  });

  it('falls back to the default when the saved device is gone', async () => {
    const getUserMedia = fakeMedia([]);
    saveMediaPreferences({ microphone: 'unplugged' });
    expect(deviceOf(await openMicrophone())).toBe('default');
    expect(getUserMedia).toHaveBeenCalledTimes(2);
  });

  it('fails when a device chosen now is gone', async () => {
    fakeMedia([]);
    saveMediaPreferences({ microphone: 'usb-mic' });
    await expect(openMicrophone('unplugged')).rejects.toMatchObject({ name: 'OverconstrainedError' });
  });

  it('opens both with the saved camera gone: the default camera, the saved microphone, no error', async () => {
    fakeMedia(['usb-mic']);
    saveMediaPreferences({ microphone: 'usb-mic', camera: 'unplugged' });
    const opened = await openDevices({ audio: true, video: true }, {});
    expect(deviceOf(opened.audio)).toBe('usb-mic');
    expect(deviceOf(opened.video)).toBe('default');
    expect(opened.error).toBeUndefined();
  });

  it('reports what could not be opened', async () => {
    fakeMedia([]);
    const opened = await openDevices({ audio: true, video: false }, { microphone: 'unplugged' });
    expect(opened.audio).toBeNull();
    expect(opened.error).toMatchObject({ name: 'OverconstrainedError' });
  });
});
