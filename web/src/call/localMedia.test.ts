import { describe, expect, it } from 'vitest';
import { withDevice } from './localMedia';

describe('withDevice', () => {
  const base = { echoCancellation: true };

  it('requires a device chosen now, even over the saved one', () => {
    expect(withDevice(base, 'usb', 'saved')).toEqual({ echoCancellation: true, deviceId: { exact: 'usb' } });
  });

  it('only prefers the saved device, so an unplugged one does not fail', () => {
    expect(withDevice(base, undefined, 'saved')).toEqual({ echoCancellation: true, deviceId: { ideal: 'saved' } });
  });

  it('leaves the choice to the browser when there is neither', () => {
    expect(withDevice(base, undefined, undefined)).toEqual(base);
  });
});
