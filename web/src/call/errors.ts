// Media failures, named after what a person can do about them. Each problem is
// the suffix of an i18n key: `call.error.<problem>`.

export type CallProblem = 'denied' | 'noDevice' | 'busy' | 'insecure' | 'unsupported' | 'device' | 'screen';

export interface CallEnvironment {
  isSecureContext: boolean;
  hasPeerConnection: boolean;
  hasGetUserMedia: boolean;
}

export function browserEnvironment(): CallEnvironment {
  return {
    isSecureContext: window.isSecureContext,
    hasPeerConnection: typeof RTCPeerConnection === 'function',
    hasGetUserMedia: typeof navigator.mediaDevices?.getUserMedia === 'function',
  };
}

/** Why calls cannot work on this page at all, or null when they can. An
 * insecure page also lacks getUserMedia, so that is checked first. */
export function environmentProblem(env: CallEnvironment): CallProblem | null {
  if (!env.isSecureContext) return 'insecure';
  if (!env.hasPeerConnection || !env.hasGetUserMedia) return 'unsupported';
  return null;
}

/** What went wrong opening a camera or microphone (getUserMedia errors;
 * the old Chrome names are kept for older browsers). */
export function mediaProblem(error: unknown): CallProblem {
  switch ((error as { name?: unknown } | null)?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'noDevice';
    case 'NotReadableError':
    case 'TrackStartError':
      return 'busy';
    default:
      return 'device';
  }
}

/** What went wrong starting a screen share, or null when the person simply
 * cancelled the picker (which browsers report as NotAllowedError). */
export function screenProblem(error: unknown): CallProblem | null {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'NotAllowedError' || name === 'AbortError') return null;
  return name === 'NotReadableError' ? 'busy' : 'screen';
}
