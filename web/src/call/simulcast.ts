// What this tab publishes to the SFU: three transceivers in the fixed order
// the SFU relies on (microphone, camera, screen; mids 0, 1, 2), send-only —
// what it receives comes on transceivers the SFU adds in its own offers. The
// camera goes out as three simulcast encodings, low to high, so the SFU can
// forward each subscriber the one that fits its tile and bandwidth; a shared
// screen goes out once, at full quality.
//
// The screen's transceiver is inactive while nothing is shared: the SFU then
// forwards nobody an empty screen m-line (a third of every subscriber's
// m-lines, which each browser applies at every renegotiation). Sharing
// renegotiates once; microphone and camera stay send-only, so turning them
// off and on only swaps tracks.

import { TRACK_ROLES, type LocalTracks, type TrackRole } from './mediaPath';

export const CAMERA_ENCODINGS: readonly RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

const KIND: Record<TrackRole, 'audio' | 'video'> = { audio: 'audio', video: 'video', screen: 'video' };

/** The direction of the transceiver publishing `role` while it sends `track`. */
export function publishingDirection(role: TrackRole, track: MediaStreamTrack | null): RTCRtpTransceiverDirection {
  return role === 'screen' && !track ? 'inactive' : 'sendonly';
}

export function addPublishingTransceivers(connection: RTCPeerConnection, local: LocalTracks): RTCRtpTransceiver[] {
  return TRACK_ROLES.map((role) =>
    connection.addTransceiver(local[role] ?? KIND[role], {
      direction: publishingDirection(role, local[role]),
      sendEncodings: role === 'video' ? CAMERA_ENCODINGS.map((encoding) => ({ ...encoding })) : undefined,
    }),
  );
}
