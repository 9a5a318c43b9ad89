//! Property tests of the WebSocket frame decoder: whatever bytes a client
//! sends, decoding returns a frame or a clear error, and never panics.

use mesh_proto::{ClientEvent, ClientFrame, SendMessage, PROTOCOL_VERSION};
use proptest::prelude::*;

#[test]
fn decodes_a_valid_send() {
    let frame = ClientFrame::decode(
        r#"{"v":1,"id":"c1","type":"message.send","payload":{"room_id":3,"client_id":"x","body":"hi"}}"#,
    )
    .unwrap();
    assert_eq!(frame.id.as_deref(), Some("c1"));
    assert_eq!(
        frame.event,
        ClientEvent::SendMessage(SendMessage {
            room_id: 3,
            client_id: "x".into(),
            body: "hi".into()
        })
    );
}

#[test]
fn rejects_unknown_type_keeping_the_request_id() {
    let err =
        ClientFrame::decode(r#"{"v":1,"id":"c9","type":"room.nuke","payload":{}}"#).unwrap_err();
    assert_eq!(err.id.as_deref(), Some("c9"));
    assert_eq!(err.error.code, "invalid_event");
}

#[test]
fn rejects_wrong_payload_types() {
    let err = ClientFrame::decode(
        r#"{"v":1,"id":"c2","type":"message.send","payload":{"room_id":"3","client_id":"x","body":"hi"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.error.code, "invalid_event");
}

#[test]
fn rejects_other_protocol_versions() {
    let err = ClientFrame::decode(r#"{"v":2,"type":"ping"}"#).unwrap_err();
    assert_eq!(err.error.code, "unsupported_version");
}

#[test]
fn rejects_non_json_and_non_objects() {
    assert_eq!(
        ClientFrame::decode("{").unwrap_err().error.code,
        "invalid_json"
    );
    assert_eq!(
        ClientFrame::decode("[1,2]").unwrap_err().error.code,
        "invalid_event"
    );
    assert_eq!(
        ClientFrame::decode("null").unwrap_err().error.code,
        "invalid_event"
    );
}

fn arb_event() -> impl Strategy<Value = ClientEvent> {
    let text = ".{0,40}";
    prop_oneof![
        text.prop_map(|token| ClientEvent::Auth(mesh_proto::AuthPayload { token })),
        (any::<i64>(), text, text).prop_map(|(room_id, client_id, body)| {
            ClientEvent::SendMessage(SendMessage {
                room_id,
                client_id,
                body,
            })
        }),
        (any::<i64>(), any::<i64>(), text).prop_map(|(room_id, message_id, body)| {
            ClientEvent::EditMessage(mesh_proto::EditMessage {
                room_id,
                message_id,
                body,
            })
        }),
        (any::<i64>(), any::<i64>()).prop_map(|(room_id, message_id)| {
            ClientEvent::DeleteMessage(mesh_proto::DeleteMessage {
                room_id,
                message_id,
            })
        }),
        any::<i64>().prop_map(|room_id| ClientEvent::Typing(mesh_proto::TypingPayload { room_id })),
        Just(ClientEvent::Ping),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn json_like_garbage_never_panics(text in r#"[{}\[\]":,0-9a-z. \\-]{0,200}"#) {
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn every_event_round_trips(id in proptest::option::of("[a-z0-9]{1,12}"), event in arb_event()) {
        let frame = ClientFrame { v: PROTOCOL_VERSION, id, event };
        let text = serde_json::to_string(&frame).unwrap();
        prop_assert_eq!(ClientFrame::decode(&text).unwrap(), frame);
    }

    #[test]
    fn mutated_valid_frames_never_panic(cut in 0usize..120, byte in any::<u8>()) {
        let valid = r#"{"v":1,"id":"c1","type":"message.send","payload":{"room_id":3,"client_id":"x","body":"hi"}}"#;
        let mut bytes = valid.as_bytes().to_vec();
        let at = cut % bytes.len();
        bytes[at] = byte;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = ClientFrame::decode(text);
        }
    }
}
