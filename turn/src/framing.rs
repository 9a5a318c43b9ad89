//! Cutting a TCP or TLS byte stream into STUN messages and ChannelData.
//!
//! Over streams each message carries its own length (RFC 8656 §12.5): a STUN
//! header says how many attribute bytes follow, a ChannelData header how many
//! payload bytes, padded to a multiple of four. Anything that is neither
//! cannot be resynchronised, so the connection is closed.
//!
//! turn-types ships a stream buffer too, but it does not skip ChannelData
//! padding, which every RFC-conforming TCP client sends.

use crate::allocation::CHANNEL_NUMBERS;

const STUN_HEADER: usize = 20;
const CHANNEL_HEADER: usize = 4;
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// The stream carried something that is not STUN or ChannelData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream is not STUN/TURN framed")]
pub struct NotTurn;

/// Buffers stream bytes and yields whole frames.
///
/// It holds at most one incomplete frame (at most 64 KiB and a header) plus
/// the bytes of the last [`Framer::push`].
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    consumed: usize,
}

impl Framer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, NotTurn> {
        let start = self.consumed;
        let pending = &self.buf[start..];
        match frame_length(pending)? {
            Some(len) if len <= pending.len() => {
                self.consumed = start + len;
                Ok(Some(&self.buf[start..start + len]))
            }
            _ => Ok(None),
        }
    }
}

/// The length of the frame starting `data`, once enough of it is there to tell.
fn frame_length(data: &[u8]) -> Result<Option<usize>, NotTurn> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let Some(header) = data.get(..4) else {
        // Refuse early what cannot start a frame; wait for the rest otherwise.
        return match first >> 6 {
            0b00 | 0b01 => Ok(None),
            _ => Err(NotTurn),
        };
    };
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    match first >> 6 {
        0b00 => {
            if length % 4 != 0 {
                return Err(NotTurn);
            }
            let cookie = &data[4..data.len().min(8)];
            if cookie != &MAGIC_COOKIE[..cookie.len()] {
                return Err(NotTurn);
            }
            Ok(Some(STUN_HEADER + length))
        }
        0b01 => {
            let number = u16::from_be_bytes([header[0], header[1]]);
            if !CHANNEL_NUMBERS.contains(&number) {
                return Err(NotTurn);
            }
            Ok(Some(CHANNEL_HEADER + length.next_multiple_of(4)))
        }
        _ => Err(NotTurn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request() -> Vec<u8> {
        let mut msg = vec![0x00, 0x01, 0x00, 0x00];
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut stream = binding_request();
        stream.extend_from_slice(&[0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0]);
        stream.extend_from_slice(&binding_request());
        let mut framer = Framer::new();
        let mut frames = Vec::new();
        for byte in &stream {
            framer.push(std::slice::from_ref(byte));
            while let Some(frame) = framer.next_frame().unwrap() {
                frames.push(frame.to_vec());
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], binding_request());
        // ChannelData keeps its padding; the core reads the length field.
        assert_eq!(frames[1], [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0]);
        assert_eq!(frames[2], binding_request());
    }

    #[test]
    fn garbage_is_refused_as_soon_as_it_shows() {
        let mut framer = Framer::new();
        // A TLS ClientHello sent to the plain TCP port.
        framer.push(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ]);
        assert_eq!(framer.next_frame(), Err(NotTurn));

        let mut framer = Framer::new();
        framer.push(&[0x00, 0x01, 0x00, 0x00, 0xde, 0xad]);
        assert_eq!(framer.next_frame(), Err(NotTurn), "wrong magic cookie");

        let mut framer = Framer::new();
        framer.push(&[0x00, 0x01, 0x00, 0x03]);
        assert_eq!(framer.next_frame(), Err(NotTurn), "unpadded STUN length");

        let mut framer = Framer::new();
        framer.push(&[0x80]);
        assert_eq!(framer.next_frame(), Err(NotTurn));

        let mut framer = Framer::new();
        framer.push(&[0x7f, 0xff, 0, 0]);
        assert!(framer.next_frame().is_ok(), "0x7FFF is a channel");
    }
}
