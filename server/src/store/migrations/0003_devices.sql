-- Desktop agents, the peer-to-peer sessions opened between them (kept for
-- audit) and the capability tokens already redeemed (single use).

-- A device is known by its certificate's SHA-256 fingerprint. Revoked devices
-- stay for the audit trail of their sessions.
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    -- JSON array of "ip:port" strings, as last announced.
    addresses   TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX devices_by_user ON devices(user_id);

CREATE TABLE p2p_sessions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('file', 'terminal')),
    scope       TEXT NOT NULL CHECK (scope IN ('file', 'terminal:view', 'terminal:control')),
    from_device INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    to_device   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    closed_at   INTEGER
);
CREATE INDEX p2p_sessions_by_from ON p2p_sessions(from_device);
CREATE INDEX p2p_sessions_by_to ON p2p_sessions(to_device);

-- A token's jti is recorded when redeemed; a second redemption is a replay.
-- Rows past expires_at are pruned: an expired token is refused anyway.
CREATE TABLE used_capabilities (
    jti        TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES p2p_sessions(id) ON DELETE CASCADE,
    used_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
