-- Push notifications: each user's settings, and the durable outbox the
-- delivery worker drains. Also what the sessions list shows about a session.

-- One row per user who saved settings; users without one have the defaults
-- (backend none, every event, no quiet hours). The token is stored as given
-- and never returned by the API (see docs/decisions/0008-notification-queue.md).
CREATE TABLE notification_settings (
    user_id             INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    backend             TEXT NOT NULL CHECK (backend IN ('none', 'gotify', 'ntfy', 'webhook')),
    url                 TEXT NOT NULL DEFAULT '',
    topic               TEXT NOT NULL DEFAULT '',
    token               TEXT,
    notify_messages     INTEGER NOT NULL DEFAULT 1,
    notify_calls        INTEGER NOT NULL DEFAULT 1,
    notify_files        INTEGER NOT NULL DEFAULT 1,
    notify_invitations  INTEGER NOT NULL DEFAULT 1,
    -- Quiet hours as minutes after local midnight, with the offset from UTC
    -- the browser had when they were saved; all three NULL for none.
    quiet_start         INTEGER,
    quiet_end           INTEGER,
    quiet_utc_offset    INTEGER,
    updated_at          INTEGER NOT NULL
);

-- One row per notification to push. A row that has never been attempted may
-- still absorb later messages of the same (user, room): that is coalescing.
-- `attempts` counts deliveries started; `due_at` is when the next may start.
CREATE TABLE notification_outbox (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id       INTEGER REFERENCES rooms(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('message', 'call', 'file', 'invitation')),
    room_name     TEXT NOT NULL DEFAULT '',
    -- Who caused it (author, caller, sender, newcomer).
    actor_name    TEXT NOT NULL,
    -- The latest message's preview, a device name: what the text shows.
    preview       TEXT NOT NULL DEFAULT '',
    -- Messages coalesced into this row.
    count         INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    -- Exactly one of these ends a row: the receiver took it, the user saw the
    -- room before it went out, or the attempts ran out.
    delivered_at  INTEGER,
    skipped_at    INTEGER,
    failed_at     INTEGER
);
CREATE INDEX notification_outbox_pending ON notification_outbox(due_at)
    WHERE delivered_at IS NULL AND skipped_at IS NULL AND failed_at IS NULL;
CREATE INDEX notification_outbox_coalescing ON notification_outbox(user_id, room_id, kind)
    WHERE attempts = 0 AND delivered_at IS NULL AND skipped_at IS NULL AND failed_at IS NULL;

ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
