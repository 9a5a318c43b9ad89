//! The viewer side of a shared terminal.

use quinn::SendStream;
use tokio::sync::{mpsc, watch};

use crate::session::{Failure, Session};
use crate::transport::close;
use crate::wire::{self, Frame, Packet};

/// What the host last said about this viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewStatus {
    pub control: bool,
    pub cols: u16,
    pub rows: u16,
    /// The host's latest notice (e.g. that input was ignored).
    pub notice: Option<String>,
    /// Set when the session is over, with the reason.
    pub ended: Option<String>,
}

/// A joined terminal: output arrives on [`Viewer::output`], keystrokes go
/// out with [`Viewer::input`].
pub struct Viewer {
    pub id: u64,
    connection: quinn::Connection,
    send: SendStream,
    output: mpsc::UnboundedReceiver<Vec<u8>>,
    status: watch::Receiver<ViewStatus>,
}

impl Viewer {
    /// Starts watching over a terminal session.
    pub async fn join(session: Session) -> Result<Viewer, Failure> {
        let Session {
            connection,
            send,
            mut recv,
            ..
        } = session;
        let (id, control, cols, rows) = match wire::read_frame(&mut recv).await? {
            Frame::Terminal {
                viewer,
                control,
                cols,
                rows,
            } => (viewer, control, cols, rows),
            other => {
                let failure = Failure::new(
                    close::INVALID,
                    format!("expected a terminal, got {other:?}"),
                );
                failure.close(&connection);
                return Err(failure);
            }
        };
        let (status_tx, status) = watch::channel(ViewStatus {
            control,
            cols,
            rows,
            notice: None,
            ended: None,
        });
        let (output_tx, output) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let ended = loop {
                match wire::read_packet(&mut recv).await {
                    Ok(Some(Packet::Data(bytes))) => {
                        let _ = output_tx.send(bytes);
                    }
                    Ok(Some(Packet::Frame(Frame::Terminal {
                        control,
                        cols,
                        rows,
                        ..
                    }))) => {
                        status_tx.send_modify(|status| {
                            status.control = control;
                            status.cols = cols;
                            status.rows = rows;
                        });
                    }
                    Ok(Some(Packet::Frame(Frame::Notice { message }))) => {
                        status_tx.send_modify(|status| status.notice = Some(message));
                    }
                    Ok(Some(Packet::Frame(other))) => {
                        break format!("unexpected {other:?} from the host")
                    }
                    Ok(None) => break "the host ended the session".to_owned(),
                    Err(err) => break err.to_string(),
                }
            };
            status_tx.send_modify(|status| status.ended = Some(ended));
        });
        Ok(Viewer {
            id,
            connection,
            send,
            output,
            status,
        })
    }

    /// Terminal output, starting with the catch-up screen.
    pub fn output(&mut self) -> &mut mpsc::UnboundedReceiver<Vec<u8>> {
        &mut self.output
    }

    pub fn status(&self) -> watch::Receiver<ViewStatus> {
        self.status.clone()
    }

    /// Sends keystrokes; the host drops them unless this viewer has control.
    pub async fn input(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        Ok(wire::write_data(&mut self.send, bytes).await?)
    }

    /// Tells the host this viewer's window size (it wins while in control).
    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<(), Failure> {
        Ok(wire::write_frame(&mut self.send, &Frame::Resize { cols, rows }).await?)
    }

    pub fn leave(self) {
        self.connection.close(close::DONE.into(), b"left");
    }
}
