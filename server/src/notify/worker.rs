//! The delivery worker: drains the outbox, retrying with exponential backoff
//! and jitter up to the configured number of attempts. Rows are claimed
//! before they are sent, so a restart retries whatever was not confirmed;
//! a receiver that answered 2xx is never sent the same row again.

use std::time::Duration;

use rand::Rng;
use tokio::task::JoinSet;

use super::event::Notification;
use super::target::{self, DeliveryError, Target};
use crate::store::notifications::{self, OutboxRow, Outcome};
use crate::store::users;
use crate::{now_ms, App, SharedApp};

/// Rows taken per round; they are sent concurrently.
const BATCH: i64 = 32;
/// The longest the worker sleeps without looking at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// No retry waits longer than this.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Finished notifications are kept this long (to look into a delivery
/// problem), then deleted; the worker checks once per [`PRUNE_EVERY`].
const RETENTION: Duration = Duration::from_secs(7 * 86_400);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs until the server shuts down; the round under way is finished first.
pub async fn run(app: SharedApp) {
    let mut shutdown = app.shutdown.clone();
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(tokio::time::Instant::now());
            prune(&app).await;
        }
        let lease = (app.config.notify.timeout * 2 + Duration::from_secs(1)).as_millis() as i64;
        let claimed = app
            .store
            .call(move |conn| Ok(notifications::claim_due(conn, now_ms(), lease, BATCH)?))
            .await;
        let rows = match claimed {
            Ok(rows) => rows,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the notification outbox");
                Vec::new()
            }
        };
        if !rows.is_empty() {
            let mut deliveries = JoinSet::new();
            for row in rows {
                let app = app.clone();
                deliveries.spawn(async move { deliver(&app, row).await });
            }
            while deliveries.join_next().await.is_some() {}
            continue;
        }
        let next_due = app
            .store
            .call(|conn| Ok(notifications::next_due(conn)?))
            .await
            .ok()
            .flatten();
        let wait = next_due
            .map(|due| Duration::from_millis((due - now_ms()).max(0) as u64))
            .unwrap_or(IDLE_POLL)
            .min(IDLE_POLL);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.notify.woken() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
    }
}

async fn prune(app: &App) {
    let before = now_ms() - RETENTION.as_millis() as i64;
    match app
        .store
        .call(move |conn| Ok(notifications::prune(conn, before)?))
        .await
    {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "old notifications pruned"),
        Err(err) => tracing::error!(error = %err, "cannot prune old notifications"),
    }
}

/// One attempt at one row, and its outcome recorded.
async fn deliver(app: &App, row: OutboxRow) {
    let outcome = attempt(app, &row).await;
    match &outcome {
        Outcome::Delivered => {
            tracing::info!(
                notification = row.id,
                user = row.user_id,
                kind = row.kind.as_str(),
                attempts = row.attempts,
                "notification delivered"
            )
        }
        Outcome::Skipped(reason) => {
            tracing::debug!(
                notification = row.id,
                user = row.user_id,
                reason,
                "notification skipped"
            )
        }
        Outcome::Retry { error, .. } => {
            tracing::info!(notification = row.id, user = row.user_id, attempts = row.attempts,
                error = %error, "notification not delivered; will retry")
        }
        Outcome::Failed(error) => {
            tracing::warn!(notification = row.id, user = row.user_id, attempts = row.attempts,
                error = %error, "notification given up")
        }
    }
    let id = row.id;
    if let Err(err) = app
        .store
        .call(move |conn| Ok(notifications::record(conn, id, &outcome, now_ms())?))
        .await
    {
        tracing::error!(notification = id, error = %err, "cannot record a notification's delivery");
    }
}

async fn attempt(app: &App, row: &OutboxRow) -> Outcome {
    if row
        .room_id
        .is_some_and(|room| app.notify.attention.is_active(row.user_id, room))
    {
        return Outcome::Skipped("the user is looking at the room");
    }
    let user_id = row.user_id;
    let looked_up = app
        .store
        .call(move |conn| {
            let settings = notifications::settings(conn, user_id)?;
            let username = users::get(conn, user_id)?.map(|user| user.username);
            Ok((settings, username))
        })
        .await;
    let (settings, username) = match looked_up {
        Ok((settings, Some(username))) => (settings, username),
        Ok((_, None)) => return Outcome::Skipped("the account no longer exists"),
        Err(err) => return retry_or_fail(app, row, format!("database: {err}")),
    };
    if !row.kind.enabled_in(&settings.events) {
        return Outcome::Skipped("the user switched this event off");
    }
    let Some(target) = Target::resolve(&settings, app.config.notify.default.as_ref(), &username)
    else {
        return Outcome::Skipped("no notification backend");
    };
    let notification = Notification::from_row(row, &app.public_url);
    let sent = match app.notify.client_for(&target) {
        Ok(client) => target::send(client, &target, &notification, app.config.notify.timeout).await,
        Err(refused) => Err(refused),
    };
    match sent {
        Ok(()) => Outcome::Delivered,
        Err(DeliveryError::Permanent(error)) => Outcome::Failed(error),
        Err(DeliveryError::Transient(error)) => retry_or_fail(app, row, error),
    }
}

fn retry_or_fail(app: &App, row: &OutboxRow, error: String) -> Outcome {
    if row.attempts >= app.config.notify.max_attempts {
        return Outcome::Failed(error);
    }
    let delay = backoff(app.config.notify.retry_base, row.attempts);
    Outcome::Retry {
        due_at: now_ms() + delay.as_millis() as i64,
        error,
    }
}

/// The wait after the `attempts`-th failure: `base · 2^(attempts−1)`, capped,
/// then a random point in its upper half so receivers coming back up are not
/// hit by every server at once.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let full = base.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    let half = full / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempts in 1..=5u32 {
            let full = Duration::from_millis(100 << (attempts - 1));
            let wait = backoff(base, attempts);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF);
    }
}
