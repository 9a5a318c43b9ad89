//! TCP and TLS clients: accepting connections and framing their streams.
//!
//! Each connection gets one task that reads frames into the engine and writes
//! the engine's messages back. When it ends, for whatever reason, the engine
//! hears `StreamClosed` and the core deletes the allocation (RFC 8656 §3.1).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::engine::Incoming;
use super::tls;
use crate::five_tuple::{FiveTuple, Transport};
use crate::framing::Framer;

/// A connection silent for longer than the longest allocation lifetime plus
/// this cannot be keeping an allocation alive, and is closed.
pub(super) const IDLE_MARGIN: Duration = Duration::from_secs(60);

/// Messages queued for one connection before further ones are dropped.
const WRITE_QUEUE: usize = 1024;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// One TCP or TLS listener and what its connections need.
pub(super) struct Listener {
    pub(super) listener: TcpListener,
    /// Present for TLS listeners.
    pub(super) tls: Option<TlsAcceptor>,
    pub(super) incoming: mpsc::Sender<Incoming>,
    /// Shared by every stream listener: the connection quota.
    pub(super) limit: Arc<Semaphore>,
    pub(super) idle: Duration,
}

/// Accepts connections until aborted; connections end with it.
pub(super) async fn accept(listener: Listener) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, client) = match listener.listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, usually: back off instead of spinning.
                tracing::warn!("TURN cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&listener.limit).try_acquire_owned() else {
            tracing::debug!(%client, "TURN connection refused: stream_connections quota reached");
            continue;
        };
        let Ok(server) = stream.local_addr() else {
            continue;
        };
        // TURN messages are small and latency-sensitive.
        let _ = stream.set_nodelay(true);
        let five_tuple = FiveTuple {
            transport: match listener.tls {
                Some(_) => Transport::Tls,
                None => Transport::Tcp,
            },
            client,
            server,
        };
        let (tls, incoming, idle) = (
            listener.tls.clone(),
            listener.incoming.clone(),
            listener.idle,
        );
        connections.spawn(async move {
            match tls {
                None => serve(stream, five_tuple, incoming, idle, permit).await,
                Some(acceptor) => {
                    if let Some(stream) = tls::handshake(&acceptor, stream, client).await {
                        serve(stream, five_tuple, incoming, idle, permit).await;
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Relays one client connection until it closes, goes idle or breaks framing.
async fn serve<S: AsyncRead + AsyncWrite>(
    stream: S,
    five_tuple: FiveTuple,
    incoming: mpsc::Sender<Incoming>,
    idle: Duration,
    _permit: OwnedSemaphorePermit,
) {
    let (reader, writer) = tokio::io::split(stream);
    let (writer_tx, writer_rx) = mpsc::channel(WRITE_QUEUE);
    let opened = Incoming::StreamOpened {
        five_tuple,
        writer: writer_tx,
    };
    if incoming.send(opened).await.is_err() {
        return;
    }
    tokio::select! {
        _ = read_frames(reader, five_tuple, &incoming, idle) => {}
        _ = write_messages(writer, writer_rx) => {}
    }
    let _ = incoming.send(Incoming::StreamClosed(five_tuple)).await;
}

async fn read_frames(
    mut reader: impl AsyncRead + Unpin,
    five_tuple: FiveTuple,
    incoming: &mpsc::Sender<Incoming>,
    idle: Duration,
) {
    let mut framer = Framer::new();
    // Not zeroed, so an idle connection costs only the pages it has used.
    let mut chunk = Vec::with_capacity(READ_CHUNK);
    loop {
        chunk.clear();
        let read = tokio::time::timeout(idle, reader.read_buf(&mut chunk)).await;
        let Ok(Ok(len @ 1..)) = read else {
            // Closed, failed or idle.
            return;
        };
        framer.push(&chunk[..len]);
        loop {
            match framer.next_frame() {
                Ok(Some(frame)) => {
                    let frame = Incoming::Client {
                        from: five_tuple,
                        data: frame.to_vec(),
                    };
                    if incoming.send(frame).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(client = %five_tuple.client, "TURN stream closed: {e}");
                    return;
                }
            }
        }
    }
}

async fn write_messages(
    mut writer: impl AsyncWrite + Unpin,
    mut messages: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(message) = messages.recv().await {
        if writer.write_all(&message).await.is_err() {
            return;
        }
    }
}
