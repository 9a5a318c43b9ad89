//! Opening a peer-to-peer session: the requester gets a capability token
//! from the server and dials the target pinning its certificate; the target
//! has the server redeem the token and checks the requester's certificate
//! against the fingerprint the token names. Only then does either side send
//! anything else.

use std::net::SocketAddr;
use std::time::Duration;

use mesh_proto::{Capability, Scope, SessionGrant};
use quinn::{Connection, Endpoint, RecvStream, SendStream};

use crate::control::{Control, Refused};
use crate::identity::Identity;
use crate::path::Path;
use crate::transport::{self, close, Congestion};
use crate::wire::{self, Frame, PeerError};

/// How long a target waits for the requester's `Hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// An open session: the connection and its first (control) stream.
#[derive(Debug)]
pub struct Session {
    pub connection: Connection,
    pub send: SendStream,
    pub recv: RecvStream,
    pub id: i64,
    pub scope: Scope,
    /// Direct or through the relay, for the person to see.
    pub path: Path,
}

/// Why a session or a transfer stopped: a close code and a sentence for the
/// person. The side that detects it closes the connection with both.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u32,
    pub message: String,
    /// The peer ended it or the link broke, rather than this side refusing.
    pub remote: bool,
}

impl Failure {
    pub fn new(code: u32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            remote: false,
        }
    }

    /// Closes `connection` with this failure, for the peer to read.
    pub fn close(&self, connection: &Connection) {
        connection.close(self.code.into(), self.message.as_bytes());
    }
}

impl From<PeerError> for Failure {
    fn from(err: PeerError) -> Self {
        match err {
            PeerError::Closed { code, reason } => Failure {
                remote: true,
                ..Failure::new(code, reason)
            },
            PeerError::Protocol(message) => Failure::new(close::INVALID, message),
            PeerError::Lost(message) => Failure {
                remote: true,
                ..Failure::new(close::FAILED, format!("the connection was lost: {message}"))
            },
        }
    }
}

/// Dials the granted target and presents the token.
pub async fn connect(
    identity: &Identity,
    endpoint: &Endpoint,
    grant: &SessionGrant,
    congestion: Congestion,
) -> anyhow::Result<Session> {
    let addresses: Vec<SocketAddr> = grant
        .target
        .addresses
        .iter()
        .filter_map(|address| address.parse().ok())
        .collect();
    let connection = transport::dial(
        endpoint,
        identity,
        &addresses,
        &grant.target.fingerprint,
        congestion,
    )
    .await?;
    let session = hello(connection, &grant.token).await?;
    Ok(session)
}

/// Presents `token` on a fresh connection and waits for the target's welcome.
pub async fn hello(connection: Connection, token: &str) -> Result<Session, Failure> {
    let (mut send, mut recv) = connection.open_bi().await.map_err(PeerError::from)?;
    wire::write_frame(
        &mut send,
        &Frame::Hello {
            token: token.to_owned(),
        },
    )
    .await?;
    match wire::read_frame(&mut recv).await? {
        Frame::Welcome { session, scope } => Ok(Session {
            path: Path::Direct(connection.remote_address()),
            connection,
            send,
            recv,
            id: session,
            scope,
        }),
        other => Err(Failure::new(
            close::INVALID,
            format!("expected a welcome, got {other:?}"),
        )),
    }
}

/// Target side: reads the requester's token, has the server redeem it and
/// checks the requester's certificate. On refusal the connection is closed
/// with the reason.
pub async fn admit(
    control: &Control,
    device_id: i64,
    connection: Connection,
) -> Result<(Session, Capability), Failure> {
    let result = async {
        let (send, mut recv) = tokio::time::timeout(HELLO_TIMEOUT, connection.accept_bi())
            .await
            .map_err(|_| Failure::new(close::INVALID, "no token was presented in time"))?
            .map_err(PeerError::from)?;
        let token = match wire::read_frame(&mut recv).await? {
            Frame::Hello { token } => token,
            _ => {
                return Err(Failure::new(
                    close::INVALID,
                    "the first frame must be a hello",
                ))
            }
        };
        let capability = control.redeem(device_id, &token).await.map_err(|err| {
            match err.downcast::<Refused>() {
                Ok(refused) => Failure::new(
                    close::REFUSED,
                    format!("{} ({})", refused.message, refused.code),
                ),
                Err(err) => Failure::new(
                    close::FAILED,
                    format!("the token could not be checked: {err:#}"),
                ),
            }
        })?;
        let presented = transport::peer_fingerprint(&connection);
        if presented.as_deref() != Some(capability.requester.fingerprint.as_str()) {
            return Err(Failure::new(
                close::REFUSED,
                "the connecting device's certificate is not the one this session was issued to",
            ));
        }
        Ok((send, recv, capability))
    }
    .await;
    match result {
        Ok((mut send, recv, capability)) => {
            let welcome = Frame::Welcome {
                session: capability.session.id,
                scope: capability.scope,
            };
            if let Err(err) = wire::write_frame(&mut send, &welcome).await {
                return Err(err.into());
            }
            Ok((
                Session {
                    path: Path::Direct(connection.remote_address()),
                    connection,
                    send,
                    recv,
                    id: capability.session.id,
                    scope: capability.scope,
                },
                capability,
            ))
        }
        Err(failure) => {
            tracing::warn!(peer = %connection.remote_address(), reason = %failure, "session refused");
            failure.close(&connection);
            Err(failure)
        }
    }
}
