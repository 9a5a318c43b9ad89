import { describe, expect, it } from 'vitest';
import { describeClient } from './userAgent';

describe('describeClient', () => {
  const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
  const edge =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0';
  const safari =
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
  const android =
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36';
  const iphone =
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/130.0 Mobile/15E148 Safari/604.1';
  const headless =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36';

  it('names the common browsers and systems', () => {
    expect(describeClient(firefox)).toEqual({ browser: 'Firefox', system: 'Linux' });
    expect(describeClient(edge)).toEqual({ browser: 'Edge', system: 'Windows' });
    expect(describeClient(safari)).toEqual({ browser: 'Safari', system: 'macOS' });
    expect(describeClient(android)).toEqual({ browser: 'Chrome', system: 'Android' });
    expect(describeClient(iphone)).toEqual({ browser: 'Chrome', system: 'iOS' });
  });

  it('counts headless Chromium as Chrome', () => {
    expect(describeClient(headless)).toEqual({ browser: 'Chrome', system: 'Linux' });
  });

  it('admits what it does not know', () => {
    expect(describeClient(null)).toEqual({ browser: null, system: null });
    expect(describeClient('curl/8.5.0')).toEqual({ browser: null, system: null });
  });
});
