//! ntfy: JSON published to the server's root URL with the topic inside, plus
//! title, message, priority (1–5), the click URL and a "view" action for the
//! app's deep link (<https://docs.ntfy.sh/publish/#publish-as-json>); an
//! access token goes in `Authorization: Bearer`.

use serde_json::json;

use super::event::{Notification, Urgency};

/// ntfy's scale: 1 min, 2 low, 3 default, 4 high, 5 max (urgent).
pub fn priority(urgency: Urgency) -> u8 {
    match urgency {
        Urgency::Low => 2,
        Urgency::Normal => 3,
        Urgency::High => 4,
        Urgency::Urgent => 5,
    }
}

pub fn request(
    client: &reqwest::Client,
    url: &str,
    topic: &str,
    token: Option<&str>,
    notification: &Notification,
) -> reqwest::RequestBuilder {
    let mut body = json!({
        "topic": topic,
        "title": notification.title,
        "message": notification.message,
        "priority": priority(notification.urgency),
        "click": notification.click_url,
        "tags": [notification.event],
    });
    if let Some(app_url) = &notification.app_url {
        body["actions"] = json!([{ "action": "view", "label": "Open in the app", "url": app_url }]);
    }
    let mut request = client.post(format!("{url}/")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}
