// The cameras, microphones and speakers a person can choose from. Browsers
// give device labels only once a page may use the camera or microphone.

import { loadMediaPreferences, type PreferredDevice } from '../settings/mediaPreferences';
import type { DeviceOption } from '../store/call';

const PREFERENCE_FOR: Partial<Record<MediaDeviceKind, PreferredDevice>> = {
  videoinput: 'camera',
  audioinput: 'microphone',
  audiooutput: 'speaker',
};

/** Which saved preference applies to a list made by `deviceOptions`, so that
 * `currentDevice` can fall back to it without being told the kind. */
const preferenceOfList = new WeakMap<readonly DeviceOption[], PreferredDevice>();

/** Whether audio output can be routed to a chosen speaker. */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/** Devices of one kind as options; devices without a label are numbered. */
export function deviceOptions(
  devices: readonly Pick<MediaDeviceInfo, 'deviceId' | 'kind' | 'label'>[],
  kind: MediaDeviceKind,
  unnamed: (number: number) => string,
): DeviceOption[] {
  const options = devices
    .filter((device) => device.kind === kind && device.deviceId)
    .map((device, index) => ({ deviceId: device.deviceId, label: device.label || unnamed(index + 1) }));
  const preference = PREFERENCE_FOR[kind];
  if (preference) preferenceOfList.set(options, preference);
  return options;
}

/** The device to show as chosen: the person's choice in this call while it
 * is still there, otherwise the one in use, otherwise the one saved on the
 * settings page, otherwise the first (the default). */
export function currentDevice(options: readonly DeviceOption[], chosen?: string, inUse?: string): string | undefined {
  const present = (id: string | undefined) => id !== undefined && options.some((option) => option.deviceId === id);
  if (present(chosen)) return chosen;
  if (present(inUse)) return inUse;
  const preference = preferenceOfList.get(options);
  const saved = preference && loadMediaPreferences()[preference];
  if (present(saved)) return saved;
  return options[0]?.deviceId;
}

export async function listDevices(unnamed: (number: number) => string) {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: deviceOptions(devices, 'videoinput', unnamed),
    microphones: deviceOptions(devices, 'audioinput', unnamed),
    speakers: canChooseSpeaker() ? deviceOptions(devices, 'audiooutput', unnamed) : [],
  };
}

/** Calls `onChange` when a device is plugged in or out; returns the stop function. */
export function watchDevices(onChange: () => void): () => void {
  navigator.mediaDevices.addEventListener('devicechange', onChange);
  return () => navigator.mediaDevices.removeEventListener('devicechange', onChange);
}
