import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { saveMediaPreferences } from '../settings/mediaPreferences';
import { memoryStorage } from '../settings/testStorage';
import { currentDevice, deviceOptions } from './devices';

describe('deviceOptions', () => {
  const devices = [
    { deviceId: 'cam1', kind: 'videoinput', label: 'Front camera' },
    { deviceId: 'mic1', kind: 'audioinput', label: '' },
    { deviceId: 'cam2', kind: 'videoinput', label: '' },
    // Before permission some browsers list devices without ids.
    { deviceId: '', kind: 'videoinput', label: '' },
  ] as const;

  it('keeps one kind, with labels, numbering the unnamed', () => {
    expect(deviceOptions(devices, 'videoinput', (n) => `Device ${n}`)).toEqual([
      { deviceId: 'cam1', label: 'Front camera' },
      { deviceId: 'cam2', label: 'Device 2' },
    ]);
    expect(deviceOptions(devices, 'audioinput', (n) => `Device ${n}`)).toEqual([{ deviceId: 'mic1', label: 'Device 1' }]);
  });
});

describe('currentDevice', () => {
  const options = [
    { deviceId: 'default', label: 'Default' },
    { deviceId: 'usb', label: 'USB headset' },
  ];

  it('keeps the choice while the device is there', () => {
    expect(currentDevice(options, 'usb', 'default')).toBe('usb');
  });

  it('falls back to the device in use, then to the first', () => {
    expect(currentDevice(options, 'unplugged', 'usb')).toBe('usb');
    expect(currentDevice(options, 'unplugged')).toBe('default');
    expect(currentDevice([], 'usb')).toBeUndefined();
  });
});

describe('currentDevice with a saved preference', () => {
  const devices = [
    { deviceId: 'default', kind: 'audiooutput', label: 'Default' },
    { deviceId: 'hdmi', kind: 'audiooutput', label: 'HDMI' },
    { deviceId: 'default', kind: 'audioinput', label: 'Default' },
    { deviceId: 'usb-mic', kind: 'audioinput', label: 'USB microphone' },
  ] as const;
  const unnamed = (n: number) => `Device ${n}`;

  beforeEach(() => {
    vi.stubGlobal('localStorage', memoryStorage());
    saveMediaPreferences({ speaker: 'hdmi', microphone: 'usb-mic' });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('starts a call on the speaker saved in the settings', () => {
    expect(currentDevice(deviceOptions(devices, 'audiooutput', unnamed))).toBe('hdmi');
  });

  it('uses the preference of the list kind only', () => {
    saveMediaPreferences({ speaker: 'usb-mic', microphone: 'hdmi' });
    expect(currentDevice(deviceOptions(devices, 'audiooutput', unnamed))).toBe('default');
    expect(currentDevice(deviceOptions(devices, 'audioinput', unnamed))).toBe('default');
  });

  it('lets the choice in the call and the device in use come first', () => {
    const speakers = deviceOptions(devices, 'audiooutput', unnamed);
    expect(currentDevice(speakers, 'default')).toBe('default');
    const microphones = deviceOptions(devices, 'audioinput', unnamed);
    expect(currentDevice(microphones, undefined, 'default')).toBe('default');
    expect(currentDevice(microphones, undefined, 'unplugged')).toBe('usb-mic');
  });
});
