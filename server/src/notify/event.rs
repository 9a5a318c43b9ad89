//! What a notification says: the kinds of event, and the title, text, links
//! and urgency each backend is given.

use crate::store::notifications::OutboxRow;

/// The events a user can be pushed, each switched on or off in their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Message,
    Call,
    File,
    Invitation,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Call => "call",
            EventKind::File => "file",
            EventKind::Invitation => "invitation",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        [
            EventKind::Message,
            EventKind::Call,
            EventKind::File,
            EventKind::Invitation,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    pub fn enabled_in(self, events: &mesh_proto::NotificationEvents) -> bool {
        match self {
            EventKind::Message => events.messages,
            EventKind::Call => events.calls,
            EventKind::File => events.files,
            EventKind::Invitation => events.invitations,
        }
    }
}

/// How urgent a notification is; each backend maps it to its own scale
/// (documented in docs/protocol.md, "Push notifications").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Someone joined through your link.
    Low,
    /// Chat messages, the test notification.
    Normal,
    /// A file waiting for your device.
    High,
    /// A call ringing now.
    Urgent,
}

/// One push, ready for any backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `message`, `call`, `file`, `invitation` or `test`.
    pub event: &'static str,
    pub title: String,
    pub message: String,
    pub urgency: Urgency,
    /// The web client's page for it: the room, or the server's front page.
    pub click_url: String,
    /// The same place for the desktop app: `mesh://room/{id}`, if a room.
    pub app_url: Option<String>,
    pub room_id: Option<i64>,
    /// Messages this notification stands for (1 unless coalesced).
    pub count: i64,
}

/// Longest message preview pushed, in characters.
const PREVIEW_CHARS: usize = 200;

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

impl Notification {
    /// Renders an outbox row; `public_url` is where the web client lives.
    pub fn from_row(row: &OutboxRow, public_url: &str) -> Notification {
        let room = format!("#{}", row.room_name);
        let (title, message, urgency) = match row.kind {
            EventKind::Message if row.count > 1 => (
                format!("{} new messages in {room}", row.count),
                format!("{}: {}", row.actor_name, preview(&row.preview)),
                Urgency::Normal,
            ),
            EventKind::Message => (
                format!("{} in {room}", row.actor_name),
                preview(&row.preview),
                Urgency::Normal,
            ),
            EventKind::Call => (
                format!("{} is calling in {room}", row.actor_name),
                "Open the room to join the call.".to_owned(),
                Urgency::Urgent,
            ),
            EventKind::File => (
                format!("{} is sending you a file", row.actor_name),
                format!("To your device {}.", row.preview),
                Urgency::High,
            ),
            EventKind::Invitation => (
                format!("{} joined {room}", row.actor_name),
                "They used an invitation link you made.".to_owned(),
                Urgency::Low,
            ),
        };
        Notification {
            event: row.kind.as_str(),
            title,
            message,
            urgency,
            click_url: room_web_url(public_url, row.room_id),
            app_url: row.room_id.map(room_app_url),
            room_id: row.room_id,
            count: row.count,
        }
    }

    /// What `POST /me/notifications/test` sends.
    pub fn test(public_url: &str) -> Notification {
        Notification {
            event: "test",
            title: "Mesh test notification".to_owned(),
            message: format!("Notifications from {public_url} reach you."),
            urgency: Urgency::Normal,
            click_url: room_web_url(public_url, None),
            app_url: None,
            room_id: None,
            count: 1,
        }
    }
}

/// The room's page in the web client, or its front page.
pub fn room_web_url(public_url: &str, room_id: Option<i64>) -> String {
    match room_id {
        Some(id) => format!("{public_url}/rooms/{id}"),
        None => format!("{public_url}/"),
    }
}

/// The deep link desktop and mobile apps register for.
pub fn room_app_url(room_id: i64) -> String {
    format!("mesh://room/{room_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: EventKind, count: i64, preview: &str) -> OutboxRow {
        OutboxRow {
            id: 1,
            user_id: 2,
            room_id: Some(7),
            kind,
            room_name: "general".into(),
            actor_name: "alice".into(),
            preview: preview.into(),
            count,
            attempts: 1,
        }
    }

    #[test]
    fn a_coalesced_burst_names_the_count_and_shows_the_latest_message() {
        let n = Notification::from_row(&row(EventKind::Message, 10, "ten"), "https://m.example");
        assert_eq!(n.title, "10 new messages in #general");
        assert_eq!(n.message, "alice: ten");
        assert_eq!(n.click_url, "https://m.example/rooms/7");
        assert_eq!(n.app_url.as_deref(), Some("mesh://room/7"));
    }

    #[test]
    fn long_previews_are_cut() {
        let n = Notification::from_row(&row(EventKind::Message, 1, &"x".repeat(500)), "http://h");
        assert_eq!(n.message.chars().count(), PREVIEW_CHARS + 1);
        assert!(n.message.ends_with('…'));
    }
}
