//! Storage: an embedded SQLite database in the data directory.
//!
//! One connection, used from a blocking thread, serialises every statement;
//! each domain operation runs as one closure (usually one transaction) via
//! [`Store::call`]. The repository functions in the submodules take a
//! `&Connection` and know SQL, nothing about HTTP or WebSockets.
//!
//! Durability: WAL with `synchronous = FULL`, so a transaction that returned
//! is on disk before the caller acknowledges anything to a client.

pub mod devices;
pub mod invites;
pub mod messages;
pub mod notifications;
pub mod rooms;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_call_topology.sql"),
    include_str!("migrations/0003_devices.sql"),
    include_str!("migrations/0004_notifications.sql"),
];

impl Store {
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )?;
        migrate(&conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself
            // is still consistent (SQLite rolled back), so keep using it.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|err| Error::Internal(anyhow::anyhow!("database task failed: {err}")))?
    }

    /// Folds the write-ahead log into the database file; run at shutdown.
    pub async fn checkpoint(&self) -> Result<()> {
        self.call(|conn| {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await
    }
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if applied > MIGRATIONS.len() {
        anyhow::bail!(
            "the database was written by a newer Mesh (schema {applied}, this one knows {}); upgrade Mesh",
            MIGRATIONS.len()
        );
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        conn.execute_batch(&format!(
            "BEGIN; {sql}\nPRAGMA user_version = {version}; COMMIT;"
        ))
        .with_context(|| format!("migration {version} failed"))?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

/// Whether a SQLite error is a UNIQUE constraint violation.
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub(crate) fn role_to_sql(role: mesh_proto::Role) -> &'static str {
    match role {
        mesh_proto::Role::Owner => "owner",
        mesh_proto::Role::Member => "member",
        mesh_proto::Role::Guest => "guest",
    }
}

pub(crate) fn role_from_sql(text: &str) -> rusqlite::Result<mesh_proto::Role> {
    match text {
        "owner" => Ok(mesh_proto::Role::Owner),
        "member" => Ok(mesh_proto::Role::Member),
        "guest" => Ok(mesh_proto::Role::Guest),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("role `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}

pub(crate) fn visibility_to_sql(visibility: mesh_proto::Visibility) -> &'static str {
    match visibility {
        mesh_proto::Visibility::Public => "public",
        mesh_proto::Visibility::Private => "private",
    }
}

pub(crate) fn visibility_from_sql(text: &str) -> rusqlite::Result<mesh_proto::Visibility> {
    match text {
        "public" => Ok(mesh_proto::Visibility::Public),
        "private" => Ok(mesh_proto::Visibility::Private),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("visibility `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}

pub(crate) fn call_topology_to_sql(topology: mesh_proto::CallTopology) -> &'static str {
    match topology {
        mesh_proto::CallTopology::Auto => "auto",
        mesh_proto::CallTopology::Mesh => "mesh",
        mesh_proto::CallTopology::Sfu => "sfu",
    }
}

pub(crate) fn call_topology_from_sql(text: &str) -> rusqlite::Result<mesh_proto::CallTopology> {
    match text {
        "auto" => Ok(mesh_proto::CallTopology::Auto),
        "mesh" => Ok(mesh_proto::CallTopology::Mesh),
        "sfu" => Ok(mesh_proto::CallTopology::Sfu),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("call topology `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}
