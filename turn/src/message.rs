//! The messages the relay writes: responses, Data indications and ChannelData.

use std::net::SocketAddr;

use stun_types::attribute::{ErrorCode, Fingerprint};
use stun_types::message::{
    Message, MessageClass, MessageType, MessageWriteVec, Method, TransactionId,
};
use stun_types::prelude::*;
use turn_types::attribute::{Data, XorPeerAddress};
use turn_types::message::DATA;

use crate::auth::Signer;

/// Everything needed to answer one request, possibly later (an Allocate
/// waits for its relay socket).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    method: Method,
    transaction: TransactionId,
    signer: Option<Signer>,
    fingerprint: bool,
}

impl Reply {
    /// An unsigned reply to `request`, with FINGERPRINT if the request had one.
    pub(crate) fn to(request: &Message<'_>) -> Self {
        Self {
            method: request.method(),
            transaction: request.transaction_id(),
            signer: None,
            fingerprint: request.has_attribute(Fingerprint::TYPE),
        }
    }

    /// The same reply, signed with the request's credentials.
    pub(crate) fn signed(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The same reply without a signature: 401 and 438 are never signed.
    pub(crate) fn unsigned(&self) -> Self {
        Self {
            signer: None,
            ..self.clone()
        }
    }

    pub(crate) fn transaction(&self) -> TransactionId {
        self.transaction
    }

    /// A success response carrying `attributes`.
    pub(crate) fn success(&self, attributes: &[&dyn AttributeWrite]) -> Vec<u8> {
        self.build(MessageClass::Success, None, attributes)
    }

    /// An error response with `code` (and its standard reason) and `attributes`.
    pub(crate) fn error(&self, code: u16, attributes: &[&dyn AttributeWrite]) -> Vec<u8> {
        self.build(MessageClass::Error, Some(code), attributes)
    }

    fn build(
        &self,
        class: MessageClass,
        code: Option<u16>,
        attributes: &[&dyn AttributeWrite],
    ) -> Vec<u8> {
        let mtype = MessageType::from_class_method(class, self.method);
        let mut out =
            Message::builder(mtype, self.transaction, MessageWriteVec::with_capacity(128));
        let error = code.and_then(|code| ErrorCode::builder(code).build().ok());
        let error = error.as_ref().map(|e| e as &dyn AttributeWrite);
        // Our own attributes on a fresh message: a failure here is a bug, not
        // a client's doing, so it is logged rather than sent half-built.
        let mut result = error
            .into_iter()
            .chain(attributes.iter().copied())
            .try_for_each(|attribute| out.add_attribute(attribute));
        if let (Ok(()), Some(signer)) = (&result, &self.signer) {
            result = signer.sign(&mut out);
        }
        if let (Ok(()), true) = (&result, self.fingerprint) {
            result = out.add_fingerprint();
        }
        if let Err(e) = result {
            tracing::error!(method = %self.method, "cannot write a TURN response: {e}");
        }
        out.finish()
    }
}

/// A Data indication carrying `payload` from `peer`; `None` if it cannot fit
/// in one STUN message.
pub(crate) fn data_indication(
    transaction: TransactionId,
    peer: SocketAddr,
    payload: &[u8],
) -> Option<Vec<u8>> {
    // Data::new panics past u16::MAX; the whole message must fit that too.
    if payload.len() > usize::from(u16::MAX) - 64 {
        return None;
    }
    let mtype = MessageType::from_class_method(MessageClass::Indication, DATA);
    let mut out = Message::builder(
        mtype,
        transaction,
        MessageWriteVec::with_capacity(payload.len() + 48),
    );
    out.add_attribute(&XorPeerAddress::new(peer, transaction))
        .ok()?;
    out.add_attribute(&Data::new(payload)).ok()?;
    Some(out.finish())
}

/// A ChannelData message; over streams it is padded to four bytes
/// (RFC 8656 §12.5). `None` if the payload does not fit the length field.
pub(crate) fn channel_data(number: u16, payload: &[u8], pad: bool) -> Option<Vec<u8>> {
    let length = u16::try_from(payload.len()).ok()?;
    let padded = match pad {
        true => payload.len().next_multiple_of(4),
        false => payload.len(),
    };
    let mut out = Vec::with_capacity(4 + padded);
    out.extend_from_slice(&number.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    out.resize(4 + padded, 0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use turn_types::channel::ChannelData;

    #[test]
    fn channel_data_is_padded_only_for_streams() {
        let datagram = channel_data(0x4001, b"abcde", false).unwrap();
        assert_eq!(datagram.len(), 9);
        let stream = channel_data(0x4001, b"abcde", true).unwrap();
        assert_eq!(stream.len(), 12);
        let parsed = ChannelData::parse(&stream).unwrap();
        assert_eq!((parsed.id(), parsed.data()), (0x4001, &b"abcde"[..]));
    }

    #[test]
    fn data_indication_round_trips() {
        let peer: SocketAddr = "[2001:4860::8888]:5000".parse().unwrap();
        let bytes = data_indication(7.into(), peer, b"hello").unwrap();
        let msg = Message::from_bytes(&bytes).unwrap();
        assert!(msg.has_method(DATA));
        let tid = msg.transaction_id();
        assert_eq!(msg.attribute::<XorPeerAddress>().unwrap().addr(tid), peer);
        assert_eq!(msg.attribute::<Data>().unwrap().data(), b"hello");
    }
}
