//! Where one user's notifications go, and sending one there.
//!
//! Errors name the receiver's answer or the kind of network failure, never
//! the URL (it may embed a token) and never the token.

use std::time::Duration;

use mesh_proto::NotificationBackend;

use super::event::Notification;
use super::{gotify, ntfy, webhook};
use crate::config::NotifyDefault;
use crate::store::notifications::StoredSettings;

#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub backend: NotificationBackend,
    pub url: String,
    /// ntfy only.
    pub topic: String,
    pub token: Option<String>,
    /// A user's own choice, not the administrator's default (see `reach`).
    pub chosen_by_user: bool,
}

impl Target {
    /// The user's own backend, else the server default (its ntfy topic with
    /// `{username}` filled in), else nothing.
    pub fn resolve(
        settings: &StoredSettings,
        default: Option<&NotifyDefault>,
        username: &str,
    ) -> Option<Target> {
        if settings.backend != NotificationBackend::None {
            return Some(Target {
                backend: settings.backend,
                url: settings.url.clone(),
                topic: settings.topic.clone(),
                token: settings.token.clone(),
                chosen_by_user: true,
            });
        }
        default.map(|default| Target {
            backend: default.backend,
            url: default.url.clone(),
            topic: default.topic.replace("{username}", username),
            token: default.token.clone(),
            chosen_by_user: false,
        })
    }
}

/// Why a delivery did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Worth trying again: no connection, a timeout, 5xx, 408 or 429.
    Transient(String),
    /// Trying again will not help until the settings change (other 4xx).
    Permanent(String),
}

impl DeliveryError {
    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Transient(message) | DeliveryError::Permanent(message) => message,
        }
    }
}

pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    notification: &Notification,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let token = target.token.as_deref();
    let request = match target.backend {
        NotificationBackend::Gotify => gotify::request(client, &target.url, token, notification),
        NotificationBackend::Ntfy => {
            ntfy::request(client, &target.url, &target.topic, token, notification)
        }
        NotificationBackend::Webhook => webhook::request(client, &target.url, token, notification),
        NotificationBackend::None => {
            return Err(DeliveryError::Permanent(
                "no notification backend is set".into(),
            ))
        }
    };
    let response = request.timeout(timeout).send().await.map_err(|err| {
        if super::reach::refused(&err) {
            return DeliveryError::Permanent(super::reach::PrivateAddress.to_string());
        }
        let what = if err.is_timeout() {
            "the receiver did not answer in time"
        } else if err.is_connect() {
            "could not connect to the receiver"
        } else if err.is_builder() {
            "the receiver's URL is not usable"
        } else {
            "the request to the receiver failed"
        };
        DeliveryError::Transient(what.into())
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = format!("receiver answered {}", status.as_u16());
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Err(DeliveryError::Transient(message))
    } else {
        Err(DeliveryError::Permanent(message))
    }
}
