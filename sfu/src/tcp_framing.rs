//! RFC 4571 framing for ICE-TCP: every datagram on a TCP connection is
//! preceded by its length as a 16-bit big-endian number.

/// The largest frame accepted: one datagram. Anything larger is a broken or
/// hostile peer; buffering up to the 64 KiB the length field allows would let
/// it hold memory for nothing.
pub const MAX_FRAME_LEN: usize = crate::io::MAX_DATAGRAM_LEN;

/// A peer broke the framing; its connection should be closed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A frame announced more than [`MAX_FRAME_LEN`] bytes.
    #[error("TCP frame of {0} bytes exceeds the {MAX_FRAME_LEN} byte limit")]
    Oversized(usize),
}

/// Splits the bytes of one TCP connection into frames.
#[derive(Default, Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    /// Appends bytes read from the connection.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let Some(prefix) = self.buffer.get(..2) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if len > MAX_FRAME_LEN {
            return Err(FramingError::Oversized(len));
        }
        if self.buffer.len() < 2 + len {
            return Ok(None);
        }
        let frame = self.buffer[2..2 + len].to_vec();
        self.buffer.drain(..2 + len);
        Ok(Some(frame))
    }
}

/// Prefixes `payload` with its length, ready to write to the connection.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FramingError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FramingError::Oversized(payload.len()));
    }
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_split_across_reads() {
        let mut stream = encode_frame(b"hello").unwrap();
        stream.extend(encode_frame(b"").unwrap());
        stream.extend(encode_frame(&[9; 1500]).unwrap());

        let mut decoder = FrameDecoder::default();
        let mut frames = Vec::new();
        for chunk in stream.chunks(3) {
            decoder.extend(chunk);
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }

        assert_eq!(frames, vec![b"hello".to_vec(), vec![], vec![9; 1500]]);
    }

    #[test]
    fn rejects_an_oversized_frame_before_buffering_it() {
        let mut decoder = FrameDecoder::default();
        decoder.extend(&[0xff, 0xff, 1, 2, 3]);
        assert_eq!(decoder.next_frame(), Err(FramingError::Oversized(0xffff)));

        assert_eq!(
            encode_frame(&[0; MAX_FRAME_LEN + 1]),
            Err(FramingError::Oversized(MAX_FRAME_LEN + 1))
        );
    }
}
