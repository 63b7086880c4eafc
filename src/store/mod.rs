//! SQLite storage: the connection pool, the schema and its migrations, and the
//! queries, grouped by the table they touch.
//!
//! Every blocking call runs inside `spawn_blocking` through [`Store::run`], so
//! async tasks never wait on disk. Write transactions are `BEGIN IMMEDIATE`:
//! SQLite then queues writers on `busy_timeout` instead of failing a read
//! transaction that tries to upgrade to a write.
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a commit appends
//! to the write-ahead log without waiting for the disk, and only checkpoints
//! (copying the log into the database) sync. SQLite would checkpoint inside
//! whichever commit crosses its threshold, making that message wait for the
//! disk; instead the app calls [`Store::checkpoint`] from a background task,
//! and the automatic checkpoint is left only as a far-away safety net.

pub mod bots;
pub mod dialogs;
pub mod groups;
pub mod inbox;
pub mod outbox;
pub mod users;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// A pool of SQLite connections to one database file.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

/// Schema migrations: entry `i` moves the database from `user_version` i to i+1.
const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        // WAL mode is a property of the file: set it once, here, rather than
        // from every pooled connection at once (they would contend for the
        // lock it takes on a new database).
        let first = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        first.busy_timeout(Duration::from_secs(10))?;
        let mode: String =
            while_busy(|| Ok(first.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot use WAL mode for {} (got {mode})", path.display());
        }
        drop(first);
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.execute_batch(
                "PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA wal_autocheckpoint = 20000;",
            )
        });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(2))
            .build(manager)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        let store = Store { pool };
        let mut conn = store.conn()?;
        while_busy(|| migrate(&mut conn))
            .with_context(|| format!("cannot migrate database {}", path.display()))?;
        Ok(store)
    }

    /// Copies the write-ahead log into the database as far as readers allow,
    /// without blocking them or writers (the disk syncs happen here, off the
    /// message path).
    /// Returns (frames in the log, frames copied).
    pub async fn checkpoint(&self) -> anyhow::Result<(i64, i64)> {
        self.run(|conn| {
            let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })?;
            Ok(frames)
        })
        .await
    }

    /// A pooled connection, for blocking code that is already off the async runtime.
    pub fn conn(&self) -> anyhow::Result<r2d2::PooledConnection<SqliteConnectionManager>> {
        self.pool.get().context("no database connection available")
    }

    /// Runs `f` with a connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await
        .context("database task failed")?
    }

    /// Runs `f` inside one write transaction on the blocking thread pool;
    /// commits if it returns `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}

/// Runs `f` again while SQLite answers "busy" or "locked" at once instead of
/// waiting (it does for a journal-mode switch, which needs the file to itself,
/// e.g. when two processes open a new database together), for up to 10 s.
fn while_busy<T>(mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Err(err) if is_busy(&err) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

fn is_busy(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause
                .downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    })
}

/// Brings the schema up to date, one step per transaction. The version is
/// read inside each write transaction, so two processes (or a process and a
/// tool) opening the same new database at once do not both run a step.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        let Some(step) = MIGRATIONS.get(version) else {
            if version > MIGRATIONS.len() {
                anyhow::bail!(
                    "the database has schema version {version}, newer than this switchboard knows ({}); \
                     upgrade switchboard or restore a backup",
                    MIGRATIONS.len()
                );
            }
            return Ok(());
        };
        tx.execute_batch(step)
            .with_context(|| format!("migration to schema version {}", version + 1))?;
        tx.pragma_update(None, "user_version", i64::try_from(version + 1)?)?;
        tx.commit()?;
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::Store;

    /// A store on a fresh file in a temporary directory (kept alive by the guard).
    pub fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("test.db")).expect("open store");
        (store, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let store = Store::open(&path).unwrap();
            let conn = store.conn().unwrap();
            bots::save_offset(&conn, "shop", 42).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let conn = store.conn().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(bots::offset(&conn, "shop").unwrap(), 42);
    }

    #[test]
    fn concurrent_opens_of_a_new_database_migrate_once() {
        // The race is short: run it on several fresh databases.
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.sqlite");
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || Store::open(&path).map(|_| ()))
                })
                .collect();
            for opener in openers {
                opener.join().unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn checkpoint_copies_the_whole_log_when_no_one_reads() {
        let (store, _dir) = testing::temp_store();
        store
            .write(|tx| Ok(bots::save_offset(tx, "shop", 1)?))
            .await
            .unwrap();
        let (log, copied) = store.checkpoint().await.unwrap();
        assert!(log > 0, "the write went to the log");
        assert_eq!(copied, log);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).err().expect("must refuse");
        assert!(format!("{err:#}").contains("newer than this switchboard knows"));
    }
}
