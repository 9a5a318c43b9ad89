//! Push notifications: a message, call, file or invitation that nobody sees
//! is pushed to the tools self-hosters run — Gotify, ntfy, or a webhook.
//!
//! - [`event`]: what is pushed and how it reads;
//! - [`outbox`]: who gets an event (settings, quiet hours), written to the
//!   durable outbox in SQLite, coalescing chat bursts per (user, room);
//! - [`worker`]: drains the outbox with retries and backoff;
//! - [`target`] with [`gotify`], [`ntfy`], [`webhook`]: the wire formats;
//! - [`attention`]: who is looking at which room (they are not pushed);
//! - [`settings`], [`quiet`]: a user's choices.
//!
//! Why a durable outbox and what "exactly once" means here:
//! docs/decisions/0008-notification-queue.md.

pub mod attention;
pub mod event;
pub mod gotify;
pub mod ntfy;
pub mod outbox;
pub mod quiet;
pub mod reach;
pub mod settings;
pub mod target;
pub mod webhook;
pub mod worker;

use std::collections::HashSet;

use mesh_proto::{NotificationBackend, NotificationTestResult, SetFocus};
use rusqlite::Connection;

use self::attention::Attention;
use self::event::{EventKind, Notification};
use self::outbox::{Event, Rules};
use self::target::{DeliveryError, Target};
use crate::config::NotifySettings;
use crate::error::{Error, Result};
use crate::hub::ConnectionId;
use crate::store::{notifications, rooms, users};
use crate::tokens::Actor;
use crate::{now_ms, App};

pub struct Notifier {
    pub attention: Attention,
    rules: Rules,
    /// For the administrator's default receiver.
    client: reqwest::Client,
    /// For receivers users chose: public addresses only, unless allowed.
    user_client: reqwest::Client,
    allow_private: bool,
    /// Wakes the worker when something was queued.
    wake: tokio::sync::Notify,
}

impl Notifier {
    pub fn new(settings: &NotifySettings) -> anyhow::Result<Notifier> {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(settings.timeout)
                .timeout(settings.timeout)
                // A redirect could carry the token's header to another host.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Mesh/", env!("CARGO_PKG_VERSION")))
        };
        let client = builder().build()?;
        let user_client = if settings.allow_private {
            client.clone()
        } else {
            builder()
                .dns_resolver(std::sync::Arc::new(reach::PublicOnly))
                .build()?
        };
        Ok(Notifier {
            attention: Attention::default(),
            rules: Rules {
                has_default: settings.default.is_some(),
                coalesce_ms: settings.coalesce.as_millis() as i64,
            },
            client,
            user_client,
            allow_private: settings.allow_private,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The HTTP client that may reach `target`, or why none may.
    pub fn client_for(&self, target: &Target) -> Result<&reqwest::Client, DeliveryError> {
        if !target.chosen_by_user || self.allow_private {
            return Ok(&self.client);
        }
        if reach::private_literal(&target.url) {
            return Err(DeliveryError::Permanent(reach::PrivateAddress.to_string()));
        }
        Ok(&self.user_client)
    }

    /// Tells the worker the outbox has something new.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// What a chat message in `room_id` needs to queue its notifications
    /// inside the transaction that stores it.
    pub fn for_room(&self, room_id: i64) -> RoomNotice {
        RoomNotice {
            rules: self.rules,
            room_id,
            watching: self.attention.active_in(room_id),
        }
    }
}

/// Queues a chat message's notifications in the message's own transaction.
pub struct RoomNotice {
    rules: Rules,
    room_id: i64,
    /// Members looking at the room when the message was sent.
    watching: HashSet<i64>,
}

impl RoomNotice {
    pub fn message(
        &self,
        conn: &Connection,
        author_id: i64,
        body: &str,
        member_ids: &[i64],
        now: i64,
    ) -> Result<()> {
        let event = Event {
            kind: EventKind::Message,
            room_id: Some(self.room_id),
            room_name: room_name(conn, self.room_id)?,
            actor_name: username(conn, author_id)?,
            preview: body.to_owned(),
        };
        let recipients = member_ids
            .iter()
            .copied()
            .filter(|id| *id != author_id && !self.watching.contains(id));
        outbox::enqueue(conn, self.rules, &event, recipients, now)?;
        Ok(())
    }
}

fn room_name(conn: &Connection, room_id: i64) -> Result<String> {
    Ok(rooms::get(conn, room_id, 0)?
        .map(|room| room.name)
        .unwrap_or_default())
}

fn username(conn: &Connection, user_id: i64) -> Result<String> {
    Ok(users::get(conn, user_id)?
        .map(|user| user.username)
        .unwrap_or_default())
}

/// Queues an event decided after its own transaction; a failure is logged,
/// never passed to the caller, whose action already happened.
async fn queue(
    app: &App,
    kind: EventKind,
    room_id: Option<i64>,
    actor_id: i64,
    preview: String,
    recipients: Vec<i64>,
) {
    if recipients.is_empty() {
        return;
    }
    let rules = app.notify.rules;
    let queued = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let event = Event {
                kind,
                room_id,
                room_name: match room_id {
                    Some(id) => room_name(&tx, id)?,
                    None => String::new(),
                },
                actor_name: username(&tx, actor_id)?,
                preview,
            };
            let queued = outbox::enqueue(&tx, rules, &event, recipients, now_ms())?;
            tx.commit()?;
            Ok(queued)
        })
        .await;
    match queued {
        Ok(0) => {}
        Ok(_) => app.notify.wake(),
        Err(err) => {
            tracing::error!(error = %err, kind = kind.as_str(), "cannot queue notifications")
        }
    }
}

/// A call started in `room_id`: every other member not looking at the room.
pub async fn call_started(app: &App, room_id: i64, caller_id: i64, member_ids: &[i64]) {
    let watching = app.notify.attention.active_in(room_id);
    let recipients = member_ids
        .iter()
        .copied()
        .filter(|id| *id != caller_id && !watching.contains(id))
        .collect();
    queue(
        app,
        EventKind::Call,
        Some(room_id),
        caller_id,
        String::new(),
        recipients,
    )
    .await;
}

/// Someone offered a file to one of `recipient_id`'s devices.
pub async fn file_offered(app: &App, sender_id: i64, recipient_id: i64, device_name: &str) {
    if sender_id == recipient_id {
        return;
    }
    queue(
        app,
        EventKind::File,
        None,
        sender_id,
        device_name.to_owned(),
        vec![recipient_id],
    )
    .await;
}

/// `newcomer_id` joined `room_id` through an invitation link `inviter_id` made.
pub async fn invitation_used(app: &App, room_id: i64, inviter_id: i64, newcomer_id: i64) {
    if inviter_id == newcomer_id {
        return;
    }
    queue(
        app,
        EventKind::Invitation,
        Some(room_id),
        newcomer_id,
        String::new(),
        vec![inviter_id],
    )
    .await;
}

/// A connection reports the room it shows and whether it is visible.
pub async fn focus(
    app: &App,
    actor: Actor,
    connection: ConnectionId,
    focus: SetFocus,
) -> Result<()> {
    let room_id = focus.room_id.filter(|_| focus.visible);
    if let Some(room_id) = room_id {
        app.store
            .call(move |conn| {
                crate::rooms::access(conn, room_id, actor.user_id)?;
                Ok(())
            })
            .await?;
    }
    app.notify.attention.set(connection, actor.user_id, room_id);
    Ok(())
}

/// The server-wide default backend, as settings report it.
pub fn server_default(settings: &NotifySettings) -> NotificationBackend {
    settings
        .default
        .as_ref()
        .map_or(NotificationBackend::None, |default| default.backend)
}

/// Sends one test notification now through the user's saved settings (or
/// the server default) and reports what the receiver said.
pub async fn send_test(app: &App, user_id: i64) -> Result<NotificationTestResult> {
    let (settings, user) = app
        .store
        .call(move |conn| {
            let user = users::get(conn, user_id)?.ok_or_else(Error::unauthorized)?;
            Ok((notifications::settings(conn, user_id)?, user))
        })
        .await?;
    let Some(target) = Target::resolve(
        &settings,
        app.config.notify.default.as_ref(),
        &user.username,
    ) else {
        return Ok(NotificationTestResult {
            delivered: false,
            error: Some("No notification backend is set, and the server has no default.".into()),
        });
    };
    let notification = Notification::test(&app.public_url);
    let result = match app.notify.client_for(&target) {
        Ok(client) => target::send(client, &target, &notification, app.config.notify.timeout).await,
        Err(refused) => Err(refused),
    };
    tracing::info!(
        user = user_id,
        backend = target.backend.as_str(),
        delivered = result.is_ok(),
        "test notification"
    );
    Ok(NotificationTestResult {
        delivered: result.is_ok(),
        error: result.err().map(|err| err.message().to_owned()),
    })
}
