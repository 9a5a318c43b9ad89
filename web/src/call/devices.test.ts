import { describe, expect, it } from 'vitest';
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
