//! Framing between agents on QUIC streams: `[kind: u8][length: u32 BE][body]`,
//! where the body is a JSON [`Frame`] (kind 0) or raw bytes (kind 1: file
//! chunks travel without framing, terminal bytes in data packets).
//!
//! Refusals are not frames: the refusing side closes the connection with a
//! [`close`](crate::transport::close) code and a sentence for the person,
//! which the other side reads back as [`PeerError::Closed`].

use mesh_proto::Scope;
use quinn::{ConnectionError, ReadError, ReadExactError, RecvStream, SendStream, WriteError};
use serde::{Deserialize, Serialize};

/// Largest frame accepted: bounds what a hostile peer can make us buffer
/// (a manifest of a very large folder still fits).
pub const MAX_FRAME: usize = 32 * 1024 * 1024;

const KIND_FRAME: u8 = 0;
const KIND_DATA: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// Requester → target, first on the first stream.
    Hello { token: String },
    /// Target → requester: the token was redeemed and the certificate matches.
    Welcome { session: i64, scope: Scope },
    /// Sender → receiver: the signed manifest (JSON text, exactly as signed)
    /// and the Ed25519 signature over it, hex.
    Offer { manifest: String, signature: String },
    /// Receiver → sender: accepted; per entry, the chunks already verified
    /// from an earlier attempt (resume from there).
    Accept { have: Vec<u64> },
    /// Receiver → sender: everything verified and in place.
    Done { bytes: u64 },
    /// Sender → receiver, first on each file stream: then the entry's chunk
    /// hashes (32 bytes each), then the chunks from `first_chunk` on.
    File { entry: u32, first_chunk: u64 },
    /// Host → viewer on joining, and whenever it changes.
    Terminal {
        viewer: u64,
        /// Whether this viewer may type now.
        control: bool,
        cols: u16,
        rows: u16,
    },
    /// Viewer → host: the viewer's window size (applied while it controls).
    Resize { cols: u16, rows: u16 },
    /// Host → viewer: something the person should know (input refused, ...).
    Notice { message: String },
}

#[derive(Debug)]
pub enum Packet {
    Frame(Frame),
    Data(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer closed the connection deliberately, saying why.
    #[error("{reason}")]
    Closed { code: u32, reason: String },
    #[error("the connection was lost: {0}")]
    Lost(String),
    /// The peer broke the protocol.
    #[error("{0}")]
    Protocol(String),
}

impl From<ConnectionError> for PeerError {
    fn from(err: ConnectionError) -> Self {
        match err {
            ConnectionError::ApplicationClosed(close) => PeerError::Closed {
                code: close.error_code.into_inner() as u32,
                reason: String::from_utf8_lossy(&close.reason).into_owned(),
            },
            other => PeerError::Lost(other.to_string()),
        }
    }
}

impl From<ReadError> for PeerError {
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::ConnectionLost(err) => err.into(),
            other => PeerError::Lost(other.to_string()),
        }
    }
}

impl From<ReadExactError> for PeerError {
    fn from(err: ReadExactError) -> Self {
        match err {
            ReadExactError::ReadError(err) => err.into(),
            ReadExactError::FinishedEarly(_) => {
                PeerError::Protocol("the peer ended a stream in the middle of a frame".into())
            }
        }
    }
}

impl From<WriteError> for PeerError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::ConnectionLost(err) => err.into(),
            other => PeerError::Lost(other.to_string()),
        }
    }
}

pub async fn write_frame(stream: &mut SendStream, frame: &Frame) -> Result<(), PeerError> {
    let body = serde_json::to_vec(frame).expect("frames serialize");
    write_packet(stream, KIND_FRAME, &body).await
}

pub async fn write_data(stream: &mut SendStream, data: &[u8]) -> Result<(), PeerError> {
    write_packet(stream, KIND_DATA, data).await
}

async fn write_packet(stream: &mut SendStream, kind: u8, body: &[u8]) -> Result<(), PeerError> {
    let mut header = [0u8; 5];
    header[0] = kind;
    header[1..].copy_from_slice(&(body.len() as u32).to_be_bytes());
    stream.write_all(&header).await?;
    stream.write_all(body).await?;
    Ok(())
}

/// The next packet, or `None` when the peer finished the stream cleanly.
pub async fn read_packet(stream: &mut RecvStream) -> Result<Option<Packet>, PeerError> {
    let mut header = [0u8; 5];
    // A clean end before a header is the peer finishing; anything else is cut.
    match stream.read(&mut header[..1]).await? {
        None => return Ok(None),
        Some(0) => return Err(PeerError::Protocol("empty read".into())),
        Some(_) => {}
    }
    stream.read_exact(&mut header[1..]).await?;
    let length = u32::from_be_bytes(header[1..].try_into().expect("4 bytes")) as usize;
    if length > MAX_FRAME {
        return Err(PeerError::Protocol(format!(
            "the peer sent a {length}-byte frame; the limit is {MAX_FRAME}"
        )));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    match header[0] {
        KIND_FRAME => serde_json::from_slice(&body)
            .map(|frame| Some(Packet::Frame(frame)))
            .map_err(|err| PeerError::Protocol(format!("the peer sent a malformed frame: {err}"))),
        KIND_DATA => Ok(Some(Packet::Data(body))),
        other => Err(PeerError::Protocol(format!("unknown packet kind {other}"))),
    }
}

/// The next packet, which must be a frame.
pub async fn read_frame(stream: &mut RecvStream) -> Result<Frame, PeerError> {
    match read_packet(stream).await? {
        Some(Packet::Frame(frame)) => Ok(frame),
        Some(Packet::Data(_)) => Err(PeerError::Protocol("expected a frame, got data".into())),
        None => Err(PeerError::Protocol(
            "the peer ended the stream early".into(),
        )),
    }
}
