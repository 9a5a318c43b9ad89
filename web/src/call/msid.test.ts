import { describe, expect, it } from 'vitest';
import { parseMsids, trackOrigin } from './msid';

// An SFU offer, cut down: this tab's own m-line (msid of its own choosing),
// then tracks forwarded from two publishers, one of whose ids has a dash.
const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 0.0.0.0',
  's=-',
  'a=msid-semantic: WMS',
  'a=group:BUNDLE 0 1 a7 b2 c9',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=recvonly',
  'a=msid:5bDPr2911ucg npvQQdvZ8mZb',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:1',
  'a=recvonly',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:a7',
  'a=sendonly',
  'a=msid:kCG2XdvMtoLx kCG2XdvMtoLx-0',
  'a=ssrc:2691109865 msid:kCG2XdvMtoLx kCG2XdvMtoLx-0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:b2',
  'a=sendonly',
  'a=msid:lTb-FsRga5vd lTb-FsRga5vd-1',
  'm=video 0 UDP/TLS/RTP/SAVPF 96',
  'a=mid:c9',
  'a=inactive',
  'a=msid:lTb-FsRga5vd lTb-FsRga5vd-2',
  '',
].join('\r\n');

describe('msid', () => {
  it('reads the msid of each m-section by mid', () => {
    const msids = parseMsids(OFFER);
    expect(msids.get('0')).toEqual({ stream: '5bDPr2911ucg', track: 'npvQQdvZ8mZb' });
    expect(msids.has('1')).toBe(false);
    expect(msids.get('a7')).toEqual({ stream: 'kCG2XdvMtoLx', track: 'kCG2XdvMtoLx-0' });
    expect(msids.get('b2')).toEqual({ stream: 'lTb-FsRga5vd', track: 'lTb-FsRga5vd-1' });
    expect(msids.get('c9')).toEqual({ stream: 'lTb-FsRga5vd', track: 'lTb-FsRga5vd-2' });
  });

  it('accepts LF line ends and ignores an msid without a stream', () => {
    const msids = parseMsids('m=audio 9 X 1\na=mid:3\na=msid:- abc\nm=video 9 X 1\na=msid:s s-1\na=mid:4\n');
    expect(msids.has('3')).toBe(false);
    expect(msids.get('4')).toEqual({ stream: 's', track: 's-1' });
  });

  it('names the publisher and the role from the mid of its transceiver', () => {
    expect(trackOrigin({ stream: 'kCG2XdvMtoLx', track: 'kCG2XdvMtoLx-0' })).toEqual({
      publisher: 'kCG2XdvMtoLx',
      role: 'audio',
    });
    expect(trackOrigin({ stream: 'lTb-FsRga5vd', track: 'lTb-FsRga5vd-1' })).toEqual({
      publisher: 'lTb-FsRga5vd',
      role: 'video',
    });
    expect(trackOrigin({ stream: 'p', track: 'p-2' })).toEqual({ publisher: 'p', role: 'screen' });
  });

  it('refuses names that do not follow the convention', () => {
    expect(trackOrigin({ stream: '5bDPr2911ucg', track: 'npvQQdvZ8mZb' })).toBeNull();
    expect(trackOrigin({ stream: 'p', track: 'q-1' })).toBeNull();
    expect(trackOrigin({ stream: 'p', track: 'p-3' })).toBeNull();
    expect(trackOrigin({ stream: 'p', track: 'p-x' })).toBeNull();
    expect(trackOrigin({ stream: 'p', track: 'p-' })).toBeNull();
  });
});
