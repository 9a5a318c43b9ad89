//! What a synthetic publisher sends: pre-made VP8 frames in three simulcast
//! layers and Opus packets, with no encoder involved. The sizes and rates
//! are a 15 fps camera's and a voice's, so packet counts and packetization
//! are realistic while the content is filler.
//!
//! Every frame carries a [`Stamp`] (publisher, layer, frame number, send
//! time) after its codec header. SFUs forward payloads untouched, so a
//! subscriber reads the stamp back and can tell exactly which frames it
//! missed and how late each one came, whichever SFU forwarded it.

use std::time::Duration;

/// One simulcast encoding of the camera.
pub struct VideoLayer {
    pub rid: &'static str,
    pub bitrate_bps: u64,
    pub width: u16,
    pub height: u16,
}

/// Low to high, named the way Chromium applications usually do. Rates are
/// typical of a 720p camera at 15 fps.
pub const VIDEO_LAYERS: [VideoLayer; 3] = [
    VideoLayer {
        rid: "q",
        bitrate_bps: 150_000,
        width: 320,
        height: 180,
    },
    VideoLayer {
        rid: "h",
        bitrate_bps: 500_000,
        width: 640,
        height: 360,
    },
    VideoLayer {
        rid: "f",
        bitrate_bps: 1_500_000,
        width: 1280,
        height: 720,
    },
];

pub const VIDEO_FPS: u64 = 15;
pub const VIDEO_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / VIDEO_FPS);
/// Opus at 20 ms per packet: 50 packets per second.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// A keyframe every 3 s unless one is asked for sooner.
const KEYFRAME_EVERY: u64 = 3 * VIDEO_FPS;
/// How much larger a keyframe is than an average frame of its layer.
const KEYFRAME_FACTOR: u64 = 4;

/// Where the stamp sits: after a VP8 keyframe header (3-byte frame tag,
/// start code, dimensions) and, for the same offset everywhere, after the
/// Opus TOC byte and some filler.
const STAMP_AT: usize = 10;
const STAMP_LEN: usize = 20;
const MAGIC: [u8; 2] = *b"MB";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

/// Who sent a frame and when, written into the frame itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The publisher's index in the whole run.
    pub publisher: u32,
    pub kind: Kind,
    /// Index into [`VIDEO_LAYERS`]; 0 for audio.
    pub layer: u8,
    /// Frame number of this publisher and kind; the same in every layer.
    pub seq: u32,
    /// Nanoseconds since the generator's epoch.
    pub sent_ns: u64,
}

impl Stamp {
    fn write(&self, frame: &mut [u8]) {
        let out = &mut frame[STAMP_AT..STAMP_AT + STAMP_LEN];
        out[..2].copy_from_slice(&MAGIC);
        out[2..6].copy_from_slice(&self.publisher.to_le_bytes());
        out[6] = match self.kind {
            Kind::Audio => 0,
            Kind::Video => 1,
        };
        out[7] = self.layer;
        out[8..12].copy_from_slice(&self.seq.to_le_bytes());
        out[12..20].copy_from_slice(&self.sent_ns.to_le_bytes());
    }

    /// The stamp of a received frame; `None` for anything not made here.
    pub fn read(frame: &[u8]) -> Option<Stamp> {
        let stamp = frame.get(STAMP_AT..STAMP_AT + STAMP_LEN)?;
        if stamp[..2] != MAGIC {
            return None;
        }
        let kind = match stamp[6] {
            0 => Kind::Audio,
            1 => Kind::Video,
            _ => return None,
        };
        Some(Stamp {
            publisher: u32::from_le_bytes(stamp[2..6].try_into().ok()?),
            kind,
            layer: stamp[7],
            seq: u32::from_le_bytes(stamp[8..12].try_into().ok()?),
            sent_ns: u64::from_le_bytes(stamp[12..20].try_into().ok()?),
        })
    }
}

/// Filler that does not compress or repeat, like real encoder output.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Pre-made frames for one layer: a keyframe and a delta frame, copied and
/// stamped for every frame sent.
struct LayerFrames {
    keyframe: Vec<u8>,
    delta: Vec<u8>,
}

impl LayerFrames {
    fn new(layer: &VideoLayer, seed: u64) -> LayerFrames {
        let mean = (layer.bitrate_bps / 8 / VIDEO_FPS) as usize;
        let keyframe_len = mean * KEYFRAME_FACTOR as usize;
        // Deltas are smaller so that the layer averages its bitrate.
        let delta_len =
            (mean * KEYFRAME_EVERY as usize - keyframe_len) / (KEYFRAME_EVERY as usize - 1);
        let mut keyframe = filler(keyframe_len, seed);
        keyframe[..3].copy_from_slice(&vp8_frame_tag(true, keyframe_len));
        // Start code and dimensions: SFUs that parse VP8 (Janus) check them.
        keyframe[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        keyframe[6..8].copy_from_slice(&layer.width.to_le_bytes());
        keyframe[8..10].copy_from_slice(&layer.height.to_le_bytes());
        let mut delta = filler(delta_len, seed ^ 0x5555);
        delta[..3].copy_from_slice(&vp8_frame_tag(false, delta_len));
        LayerFrames { keyframe, delta }
    }
}

/// RFC 6386 9.1: bit 0 clear for a keyframe, version 0, shown, then the
/// size of the first partition (here a plausible tenth of the frame).
fn vp8_frame_tag(keyframe: bool, len: usize) -> [u8; 3] {
    let first_partition = (len / 10).min((1 << 19) - 1) as u32;
    let tag = u32::from(!keyframe) | (1 << 4) | (first_partition << 5);
    let bytes = tag.to_le_bytes();
    [bytes[0], bytes[1], bytes[2]]
}

/// The frames one publisher sends, in the order it sends them.
pub struct MediaSource {
    publisher: u32,
    layers: Vec<LayerFrames>,
    audio: Vec<u8>,
    audio_seq: u32,
    video_seq: u32,
    /// Layers a keyframe was asked for, sent with the next frame.
    keyframe_wanted: [bool; 3],
}

impl MediaSource {
    pub fn new(publisher: u32) -> MediaSource {
        let seed = u64::from(publisher) << 8;
        MediaSource {
            publisher,
            layers: VIDEO_LAYERS
                .iter()
                .enumerate()
                .map(|(index, layer)| LayerFrames::new(layer, seed + index as u64 + 1))
                .collect(),
            audio: filler(120, seed),
            audio_seq: 0,
            video_seq: 0,
            keyframe_wanted: [false; 3],
        }
    }

    /// The next Opus packet, 80 to 120 bytes, and its stamp.
    pub fn next_audio(&mut self, sent_ns: u64) -> (Vec<u8>, Stamp) {
        let seq = self.audio_seq;
        self.audio_seq += 1;
        let len = 80 + (seq as usize * 7) % 41;
        let mut packet = self.audio[..len].to_vec();
        // TOC: hybrid full band, 20 ms, mono, one frame (a typical voice packet).
        packet[0] = 0x78;
        let stamp = Stamp {
            publisher: self.publisher,
            kind: Kind::Audio,
            layer: 0,
            seq,
            sent_ns,
        };
        stamp.write(&mut packet);
        (packet, stamp)
    }

    /// The next video frame in every layer (low to high), all with the same
    /// frame number; the stamp is that of the lowest layer.
    pub fn next_video(&mut self, sent_ns: u64) -> (Vec<Vec<u8>>, Stamp) {
        let seq = self.video_seq;
        self.video_seq += 1;
        let scheduled = u64::from(seq) % KEYFRAME_EVERY == 0;
        let frames = (0..self.layers.len())
            .map(|layer| {
                let keyframe = scheduled || self.keyframe_wanted[layer];
                self.keyframe_wanted[layer] = false;
                let template = &self.layers[layer];
                let mut frame = if keyframe {
                    template.keyframe.clone()
                } else {
                    template.delta.clone()
                };
                Stamp {
                    publisher: self.publisher,
                    kind: Kind::Video,
                    layer: layer as u8,
                    seq,
                    sent_ns,
                }
                .write(&mut frame);
                frame
            })
            .collect();
        let stamp = Stamp {
            publisher: self.publisher,
            kind: Kind::Video,
            layer: 0,
            seq,
            sent_ns,
        };
        (frames, stamp)
    }

    /// A receiver asked for a keyframe of `rid` (`None`: of every layer).
    pub fn want_keyframe(&mut self, rid: Option<&str>) {
        for (index, layer) in VIDEO_LAYERS.iter().enumerate() {
            if rid.is_none_or(|rid| rid == layer.rid) {
                self.keyframe_wanted[index] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_the_round_trip() {
        let mut source = MediaSource::new(7);
        let (packet, stamp) = source.next_audio(123_456);
        assert!((80..=120).contains(&packet.len()));
        assert_eq!(Stamp::read(&packet), Some(stamp));
        let (frames, _) = source.next_video(99);
        for (layer, frame) in frames.iter().enumerate() {
            let read = Stamp::read(frame).unwrap();
            assert_eq!((read.publisher, read.layer, read.seq), (7, layer as u8, 0));
        }
        assert_eq!(Stamp::read(&[0u8; 40]), None);
    }

    #[test]
    fn layers_average_their_bitrate_with_periodic_keyframes() {
        let mut source = MediaSource::new(1);
        let mut bytes = [0usize; 3];
        for _ in 0..KEYFRAME_EVERY * 4 {
            let (frames, _) = source.next_video(0);
            for (layer, frame) in frames.iter().enumerate() {
                bytes[layer] += frame.len();
            }
        }
        for (layer, sent) in VIDEO_LAYERS.iter().zip(bytes) {
            let bps = sent as f64 * 8.0 / 12.0;
            let expected = layer.bitrate_bps as f64;
            assert!(
                (bps - expected).abs() / expected < 0.01,
                "{} at {bps}",
                layer.rid
            );
        }
    }

    #[test]
    fn keyframes_are_marked_in_the_vp8_header() {
        let mut source = MediaSource::new(1);
        let (first, _) = source.next_video(0);
        assert!(first
            .iter()
            .all(|f| f[0] & 1 == 0 && f[3..6] == [0x9d, 0x01, 0x2a]));
        let (second, _) = source.next_video(0);
        assert!(second.iter().all(|f| f[0] & 1 == 1));
        source.want_keyframe(Some("h"));
        let (third, _) = source.next_video(0);
        assert_eq!(
            third.iter().map(|f| f[0] & 1).collect::<Vec<_>>(),
            [1, 0, 1]
        );
    }
}
