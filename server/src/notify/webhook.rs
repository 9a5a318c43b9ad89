//! A plain webhook: one JSON `POST` to the configured URL, with the token, if
//! any, as `Authorization: Bearer`. The body (documented in docs/protocol.md):
//! `{event, title, message, priority, room_id, url, app_url, count}`.

use serde_json::json;

use super::event::{Notification, Urgency};

pub fn priority(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Low => "low",
        Urgency::Normal => "normal",
        Urgency::High => "high",
        Urgency::Urgent => "urgent",
    }
}

pub fn request(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    notification: &Notification,
) -> reqwest::RequestBuilder {
    let mut request = client.post(url).json(&json!({
        "event": notification.event,
        "title": notification.title,
        "message": notification.message,
        "priority": priority(notification.urgency),
        "room_id": notification.room_id,
        "url": notification.click_url,
        "app_url": notification.app_url,
        "count": notification.count,
    }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}
