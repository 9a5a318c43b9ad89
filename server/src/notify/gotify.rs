//! Gotify: `POST {url}/message` with the application token in
//! `X-Gotify-Key` and a JSON body of title, message, priority (0–10) and the
//! `client::notification` click URL extra
//! (<https://gotify.net/docs/pushmsg>, <https://gotify.net/docs/msgextras>).

use serde_json::json;

use super::event::{Notification, Urgency};

/// Gotify's Android client shows 1–3 quietly, 4–7 normally and 8–10 as
/// heads-up notifications.
pub fn priority(urgency: Urgency) -> u8 {
    match urgency {
        Urgency::Low => 3,
        Urgency::Normal => 5,
        Urgency::High => 7,
        Urgency::Urgent => 9,
    }
}

pub fn request(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    notification: &Notification,
) -> reqwest::RequestBuilder {
    let mut request = client.post(format!("{url}/message")).json(&json!({
        "title": notification.title,
        "message": notification.message,
        "priority": priority(notification.urgency),
        "extras": {
            "client::notification": { "click": { "url": notification.click_url } }
        }
    }));
    if let Some(token) = token {
        request = request.header("X-Gotify-Key", token);
    }
    request
}
