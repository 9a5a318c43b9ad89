//! A minimal TURN client that proves a relay allocates: Allocate, answer
//! the 401 challenge with long-term credentials, read the relayed address,
//! and free the allocation again. `mesh doctor` uses it against the running
//! server, from outside, as a browser would.

use std::net::SocketAddr;
use std::time::Duration;

use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageWriteVec,
};
use stun_types::prelude::*;
use tokio::net::UdpSocket;
use turn_types::attribute::{Lifetime, RequestedTransport, XorRelayedAddress};
use turn_types::message::{ALLOCATE, REFRESH};

/// Why a probe failed, in words for an operator.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer from {0} over UDP: is the relay running and UDP {port} open?", port = .0.port())]
    NoAnswer(SocketAddr),
    #[error("the relay refused the allocation: {code} {reason}")]
    Refused { code: u16, reason: String },
    #[error("the relay's answer could not be read: {0}")]
    Garbled(String),
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Allocates on `server` with `username`/`password` over UDP and returns the
/// relayed address. The allocation is deleted before returning.
pub async fn allocate(
    server: SocketAddr,
    username: &str,
    password: &str,
    wait: Duration,
) -> Result<SocketAddr, ProbeError> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("literal address");
    let socket = UdpSocket::bind(bind).await?;

    // The first Allocate is unauthenticated; the 401 names the realm and nonce.
    let challenge = exchange(&socket, server, &allocate_request(None), wait).await?;
    let challenge = Message::from_bytes(&challenge).map_err(garbled)?;
    let realm = challenge
        .attribute::<Realm>()
        .map_err(garbled)?
        .realm()
        .to_owned();
    let nonce = challenge
        .attribute::<Nonce>()
        .map_err(garbled)?
        .nonce()
        .to_owned();
    let credentials = Signing {
        username,
        password,
        realm: &realm,
        nonce: &nonce,
    };

    let answer = exchange(&socket, server, &allocate_request(Some(&credentials)), wait).await?;
    let answer = Message::from_bytes(&answer).map_err(garbled)?;
    if answer.class() != MessageClass::Success {
        return Err(refusal(&answer));
    }
    let relayed = answer
        .attribute::<XorRelayedAddress>()
        .map_err(garbled)?
        .addr(answer.transaction_id());

    // Free it again: Refresh with lifetime 0.
    let release = signed(REFRESH, &[&Lifetime::new(0)], &credentials);
    exchange(&socket, server, &release, wait).await?;
    Ok(relayed)
}

struct Signing<'a> {
    username: &'a str,
    password: &'a str,
    realm: &'a str,
    nonce: &'a str,
}

fn allocate_request(credentials: Option<&Signing<'_>>) -> Vec<u8> {
    let transport = RequestedTransport::new(RequestedTransport::UDP);
    match credentials {
        Some(credentials) => signed(ALLOCATE, &[&transport], credentials),
        None => {
            let mut message = Message::builder_request(ALLOCATE, MessageWriteVec::new());
            message.add_attribute(&transport).expect("one attribute");
            message.finish()
        }
    }
}

fn signed(
    method: stun_types::message::Method,
    attributes: &[&dyn AttributeWrite],
    credentials: &Signing<'_>,
) -> Vec<u8> {
    let mut message = Message::builder_request(method, MessageWriteVec::new());
    for attribute in attributes {
        message
            .add_attribute(*attribute)
            .expect("distinct attributes");
    }
    let username = Username::new(credentials.username).expect("REST usernames are short ASCII");
    let realm = Realm::new(credentials.realm).expect("the relay's own realm");
    let nonce = Nonce::new(credentials.nonce).expect("the relay's own nonce");
    message.add_attribute(&username).expect("one USERNAME");
    message.add_attribute(&realm).expect("one REALM");
    message.add_attribute(&nonce).expect("one NONCE");
    let key = LongTermKeyCredentials::new(
        credentials.username.to_owned(),
        credentials.password.to_owned(),
        credentials.realm.to_owned(),
    );
    message
        .add_message_integrity(&key.into(), IntegrityAlgorithm::Sha1)
        .expect("integrity over a small message");
    message.finish()
}

/// Sends a request and waits for the response with its transaction id,
/// retrying twice (UDP may drop it).
async fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &[u8],
    wait: Duration,
) -> Result<Vec<u8>, ProbeError> {
    let transaction = Message::from_bytes(request)
        .map_err(garbled)?
        .transaction_id();
    let mut buffer = vec![0u8; 1500];
    for _ in 0..3 {
        socket.send_to(request, server).await?;
        let deadline = tokio::time::Instant::now() + wait / 3;
        while let Ok(Ok((len, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await
        {
            let matches = from == server
                && Message::from_bytes(&buffer[..len])
                    .is_ok_and(|m| m.transaction_id() == transaction);
            if matches {
                return Ok(buffer[..len].to_vec());
            }
        }
    }
    Err(ProbeError::NoAnswer(server))
}

fn refusal(answer: &Message<'_>) -> ProbeError {
    match answer.attribute::<ErrorCode>() {
        Ok(error) => ProbeError::Refused {
            code: error.code(),
            reason: error.reason().to_owned(),
        },
        Err(_) => ProbeError::Garbled("an error answer without ERROR-CODE".into()),
    }
}

fn garbled(err: impl std::fmt::Display) -> ProbeError {
    ProbeError::Garbled(err.to_string())
}
