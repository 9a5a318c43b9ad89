import { describe, expect, it } from 'vitest';
import { translate } from '../i18n';
import { environmentProblem, mediaProblem, screenProblem } from './errors';

const fine = { isSecureContext: true, hasPeerConnection: true, hasGetUserMedia: true };
const named = (name: string) => new DOMException('x', name);

describe('environmentProblem', () => {
  it('accepts a secure page of a capable browser', () => {
    expect(environmentProblem(fine)).toBeNull();
  });

  it('reports an insecure page first: it lacks getUserMedia too', () => {
    expect(environmentProblem({ isSecureContext: false, hasPeerConnection: true, hasGetUserMedia: false })).toBe(
      'insecure',
    );
  });

  it('reports a browser without WebRTC or getUserMedia as unsupported', () => {
    expect(environmentProblem({ ...fine, hasPeerConnection: false })).toBe('unsupported');
    expect(environmentProblem({ ...fine, hasGetUserMedia: false })).toBe('unsupported');
  });
});

describe('mediaProblem', () => {
  it('maps getUserMedia errors to what a person can do', () => {
    expect(mediaProblem(named('NotAllowedError'))).toBe('denied');
    expect(mediaProblem(named('SecurityError'))).toBe('denied');
    expect(mediaProblem(named('NotFoundError'))).toBe('noDevice');
    expect(mediaProblem(named('OverconstrainedError'))).toBe('noDevice');
    expect(mediaProblem(named('NotReadableError'))).toBe('busy');
    expect(mediaProblem(named('TrackStartError'))).toBe('busy');
  });

  it('falls back to a generic device problem', () => {
    expect(mediaProblem(named('AbortError'))).toBe('device');
    expect(mediaProblem(new Error('boom'))).toBe('device');
    expect(mediaProblem(null)).toBe('device');
  });
});

describe('screenProblem', () => {
  it('stays silent when the person cancels the picker', () => {
    expect(screenProblem(named('NotAllowedError'))).toBeNull();
  });

  it('reports other failures', () => {
    expect(screenProblem(named('NotReadableError'))).toBe('busy');
    expect(screenProblem(named('NotSupportedError'))).toBe('screen');
  });
});

describe('messages', () => {
  it('has an English and a French text for every problem', () => {
    for (const problem of ['denied', 'noDevice', 'busy', 'insecure', 'unsupported', 'device', 'screen'] as const) {
      expect(translate('en', `call.error.${problem}`)).not.toBe(translate('fr', `call.error.${problem}`));
    }
    expect(translate('fr', 'call.error.denied')).toMatch(/refusé/);
    expect(translate('en', 'call.error.denied')).toMatch(/blocked/);
  });
});
