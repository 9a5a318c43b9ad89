//! A user's notification settings on the wire: checking an update, and
//! answering without the token.

use mesh_proto::{
    NotificationBackend, NotificationSettings, NotificationSettingsUpdate, QuietHours,
};

use super::quiet::{format_clock, QuietWindow};
use crate::error::{Error, Result};
use crate::store::notifications::{self, StoredSettings};
use crate::tokens::Actor;
use crate::{now_ms, App};

const MAX_URL_CHARS: usize = 2048;
const MAX_TOPIC_CHARS: usize = 64;
const MAX_TOKEN_CHARS: usize = 512;

pub fn to_wire(
    stored: &StoredSettings,
    server_default: NotificationBackend,
) -> NotificationSettings {
    NotificationSettings {
        backend: stored.backend,
        url: stored.url.clone(),
        topic: stored.topic.clone(),
        token_set: stored.token.is_some(),
        events: stored.events,
        quiet_hours: stored.quiet.map(|quiet| QuietHours {
            start: format_clock(quiet.start),
            end: format_clock(quiet.end),
            utc_offset_minutes: quiet.utc_offset,
        }),
        server_default,
    }
}

/// The settings after `update`, or a validation error naming what is wrong.
pub fn apply(
    current: StoredSettings,
    update: NotificationSettingsUpdate,
) -> Result<StoredSettings> {
    let backend = update.backend;
    let url = update.url.trim().trim_end_matches('/').to_owned();
    let topic = update.topic.trim().to_owned();
    if url.is_empty() && backend != NotificationBackend::None {
        return Err(Error::validation(format!(
            "The {} backend needs a URL.",
            backend.as_str()
        )));
    }
    if !url.is_empty() {
        validate_url(&url)?;
    }
    if backend == NotificationBackend::Ntfy && topic.is_empty() {
        return Err(Error::validation("The ntfy backend needs a topic."));
    }
    if !topic.is_empty() {
        validate_topic(&topic)?;
    }
    let token = match update.token {
        None => current.token,
        Some(token) if token.is_empty() => None,
        Some(token) => Some(validate_token(token)?),
    };
    let quiet = match update.quiet_hours {
        None => None,
        Some(hours) => Some(
            QuietWindow::parse(&hours.start, &hours.end, hours.utc_offset_minutes)
                .map_err(Error::validation)?,
        ),
    };
    Ok(StoredSettings {
        backend,
        url,
        topic,
        token,
        events: update.events,
        quiet,
    })
}

fn validate_url(url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| Error::validation("The notification URL is not a valid URL."))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::validation(
            "The notification URL must start with http:// or https:// and name a host.",
        ));
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(Error::validation(
            "The notification URL can have at most 2048 characters.",
        ));
    }
    Ok(())
}

fn validate_topic(topic: &str) -> Result<()> {
    let ok = topic.chars().count() <= MAX_TOPIC_CHARS
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "An ntfy topic has at most 64 characters: letters, digits, '-' and '_'.",
        ))
    }
}

fn validate_token(token: String) -> Result<String> {
    let token = token.trim().to_owned();
    let ok = !token.is_empty()
        && token.chars().count() <= MAX_TOKEN_CHARS
        && token.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(token)
    } else {
        Err(Error::validation(
            "A token has at most 512 printable ASCII characters, without spaces.",
        ))
    }
}

/// The caller's settings.
pub async fn get(app: &App, actor: Actor) -> Result<NotificationSettings> {
    let stored = app
        .store
        .call(move |conn| Ok(notifications::settings(conn, actor.user_id)?))
        .await?;
    Ok(to_wire(&stored, super::server_default(&app.config.notify)))
}

/// Saves the caller's settings; a bad update changes nothing.
pub async fn update(
    app: &App,
    actor: Actor,
    update: NotificationSettingsUpdate,
) -> Result<NotificationSettings> {
    let allow_private = app.config.notify.allow_private;
    let stored = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let current = notifications::settings(&tx, actor.user_id)?;
            let next = apply(current, update)?;
            if next.backend != NotificationBackend::None
                && !allow_private
                && super::reach::private_literal(&next.url)
            {
                return Err(Error::validation(format!(
                    "{}.",
                    super::reach::PrivateAddress
                )));
            }
            notifications::save_settings(&tx, actor.user_id, &next, now_ms())?;
            tx.commit()?;
            Ok(next)
        })
        .await?;
    tracing::info!(
        user = actor.user_id,
        backend = stored.backend.as_str(),
        "notification settings saved"
    );
    Ok(to_wire(&stored, super::server_default(&app.config.notify)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_proto::NotificationEvents;

    fn update(backend: NotificationBackend, url: &str, topic: &str) -> NotificationSettingsUpdate {
        NotificationSettingsUpdate {
            backend,
            url: url.into(),
            topic: topic.into(),
            token: None,
            events: NotificationEvents::default(),
            quiet_hours: None,
        }
    }

    #[test]
    fn backends_need_their_url_and_ntfy_its_topic() {
        let current = StoredSettings::default();
        assert!(apply(current.clone(), update(NotificationBackend::Gotify, "", "")).is_err());
        assert!(apply(
            current.clone(),
            update(NotificationBackend::Ntfy, "https://n.example", "")
        )
        .is_err());
        assert!(apply(
            current.clone(),
            update(NotificationBackend::Webhook, "ftp://x", "")
        )
        .is_err());
        assert!(apply(
            current.clone(),
            update(NotificationBackend::Webhook, "not a url", "")
        )
        .is_err());
        let saved = apply(
            current,
            update(NotificationBackend::Ntfy, " https://n.example/ ", "team_1"),
        )
        .unwrap();
        assert_eq!(saved.url, "https://n.example");
    }

    #[test]
    fn the_token_is_kept_cleared_or_replaced() {
        let current = StoredSettings {
            token: Some("old".into()),
            ..StoredSettings::default()
        };
        let mut change = update(NotificationBackend::None, "", "");
        assert_eq!(
            apply(current.clone(), change.clone())
                .unwrap()
                .token
                .as_deref(),
            Some("old")
        );
        change.token = Some(String::new());
        assert_eq!(apply(current.clone(), change.clone()).unwrap().token, None);
        change.token = Some("new".into());
        assert_eq!(
            apply(current.clone(), change.clone())
                .unwrap()
                .token
                .as_deref(),
            Some("new")
        );
        change.token = Some("has space".into());
        assert!(apply(current, change).is_err());
    }
}
