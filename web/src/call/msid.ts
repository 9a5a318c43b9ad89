// Whose track is which on the SFU connection. The SFU names every track it
// forwards with an msid `<publisher> <publisher>-<mid>` (docs/protocol.md,
// "Topology: mesh and SFU"): the stream id is the publisher's participant id
// and the track id ends with the mid of the publisher's own transceiver,
// whose fixed order (microphone, camera, screen) gives the role.
//
// The msid is read from the remote description rather than from
// `MediaStreamTrack.id`, which browsers are free to choose themselves.

import { TRACK_ROLES, type TrackRole } from './mediaPath';

export interface Msid {
  stream: string;
  track: string;
}

/** The `a=msid` of each m-section of an SDP, by its `a=mid`. */
export function parseMsids(sdp: string): Map<string, Msid> {
  const found = new Map<string, Msid>();
  let mid: string | null = null;
  let msid: Msid | null = null;
  const flush = () => {
    if (mid !== null && msid) found.set(mid, msid);
    mid = null;
    msid = null;
  };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) flush();
    else if (line.startsWith('a=mid:')) mid = line.slice('a=mid:'.length).trim();
    else if (line.startsWith('a=msid:') && !msid) {
      const [stream, track] = line.slice('a=msid:'.length).trim().split(/\s+/);
      if (stream && track && stream !== '-') msid = { stream, track };
    }
  }
  flush();
  return found;
}

export interface TrackOrigin {
  publisher: string;
  role: TrackRole;
}

/** Who published a forwarded track and from which of their transceivers;
 * null for a name that does not follow the SFU's convention. */
export function trackOrigin({ stream, track }: Msid): TrackOrigin | null {
  if (!track.startsWith(`${stream}-`)) return null;
  const mid = track.slice(stream.length + 1);
  if (!/^\d+$/.test(mid)) return null;
  const role = TRACK_ROLES[Number(mid)];
  return role ? { publisher: stream, role } : null;
}
