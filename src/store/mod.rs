//! SQLite storage: the connection pool, the schema and its migrations, and the
//! queries, grouped by the table they touch.
//!
//! Every blocking call runs inside `spawn_blocking` through [`Store::run`], so
//! async tasks never wait on disk. Write transactions are `BEGIN IMMEDIATE`:
//! SQLite then queues writers on `busy_timeout` instead of failing a read
//! transaction that tries to upgrade to a write.
//!
//! Storage trouble (a full disk, an I/O error, a read-only file) is tracked
//! as an *episode* in [`StorageHealth`]: logged once when the first write
//! fails and once when writes succeed again, and shown in `/healthz` in
//! between, so a full disk is loud without flooding the log per message.
//!
//! The database file is created owner-only (0600): it holds users' names and,
//! until dispatched, their messages. SQLite gives its `-wal` and `-shm` files
//! the database file's permissions.
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a commit appends
//! to the write-ahead log without waiting for the disk, and only checkpoints
//! (copying the log into the database) sync. SQLite would checkpoint inside
//! whichever commit crosses its threshold, making that message wait for the
//! disk; instead the app calls [`Store::checkpoint`] from a background task,
//! and the automatic checkpoint is left only as a far-away safety net.

pub mod bots;
pub mod dead_letters;
pub mod dialogs;
pub mod groups;
pub mod inbox;
pub mod outbox;
pub mod sends;
pub mod updates;
pub mod users;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tracing::{error, info};

/// A pool of SQLite connections to one database file.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The current storage episode, if writes are failing.
    health: Arc<StorageHealth>,
    /// Faults a test injects (none in production).
    faults: FaultSwitch,
}

/// Schema migrations: entry `i` moves the database from `user_version` i to i+1.
const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql"), include_str!("schema_v2.sql")];

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        Store::open_with(path, FaultSwitch::default())
    }

    /// Like [`Store::open`], with a fault switch a test can flip.
    pub fn open_with(path: &Path, faults: FaultSwitch) -> anyhow::Result<Store> {
        let shown = path.display();
        create_owner_only(path).with_context(|| format!("cannot create database {shown}"))?;
        // WAL mode is a property of the file: set it once, here, rather than
        // from every pooled connection at once (they would contend for the
        // lock it takes on a new database).
        let first =
            Connection::open(path).with_context(|| format!("cannot open database {shown}"))?;
        first.busy_timeout(Duration::from_secs(10))?;
        let mode: String =
            while_busy(|| Ok(first.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?))
                .with_context(|| format!("cannot use database {shown}"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot use WAL mode for {shown} (got {mode})");
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
            .with_context(|| format!("cannot open database {shown}"))?;
        let store = Store {
            pool,
            health: Arc::default(),
            faults,
        };
        let mut conn = store
            .conn()
            .with_context(|| format!("cannot open database {shown}"))?;
        while_busy(|| migrate(&mut conn))
            .with_context(|| format!("cannot migrate database {shown}"))?;
        Ok(store)
    }

    /// Whether writes are failing now, and why (for `/healthz`).
    #[must_use]
    pub fn problem(&self) -> Option<StorageProblem> {
        self.health.problem()
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
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await
        .context("database task failed")?;
        if let Err(err) = &result {
            if is_storage_error(err) {
                self.health.failed(err);
            }
        }
        result
    }

    /// Runs `f` inside one write transaction on the blocking thread pool;
    /// commits if it returns `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        let faults = self.faults.clone();
        let value = self
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                // Dropping `tx` rolls it back, as a failed commit would.
                faults.refuse_commit()?;
                tx.commit()?;
                Ok(value)
            })
            .await?;
        self.health.recovered();
        Ok(value)
    }
}

/// Creates the database file owner-only if it does not exist yet (SQLite
/// gives `-wal` and `-shm` the same permissions), and its directory too.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// Whether `err` comes from the storage itself (a full disk, an I/O error, a
/// read-only or locked file, no connection), as opposed to the data or the
/// code: such an error passes when the storage recovers, so the work is
/// retried, never set aside.
#[must_use]
pub fn is_storage_error(err: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::{
        CannotOpen, DatabaseBusy, DatabaseLocked, DiskFull, OutOfMemory, ReadOnly, SystemIoFailure,
    };
    err.chain().any(|cause| {
        if cause.downcast_ref::<r2d2::Error>().is_some() {
            return true;
        }
        matches!(
            cause
                .downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code),
            Some(
                DiskFull
                    | SystemIoFailure
                    | ReadOnly
                    | CannotOpen
                    | DatabaseBusy
                    | DatabaseLocked
                    | OutOfMemory
            )
        )
    })
}

/// Writes are failing: since when, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProblem {
    /// Unix time of the first failed write of this episode.
    pub since: i64,
    pub error: String,
    /// Writes that failed in this episode.
    pub failures: u64,
}

/// Longest pause before work that failed on the storage tries again: a
/// write attempt is cheap, and a freed disk should be noticed soon.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// A storage episode ends with a successful write at least this long after
/// its last failed one: on a nearly full disk some writes fit and others do
/// not, and the episode must not flap (nor its log lines repeat).
const EPISODE_QUIET: Duration = Duration::from_secs(1);

/// The storage episode: `None` while writes succeed.
#[derive(Debug, Default)]
pub struct StorageHealth {
    episode: Mutex<Option<(StorageProblem, std::time::Instant)>>,
}

impl StorageHealth {
    fn failed(&self, err: &anyhow::Error) {
        self.failed_at(err, std::time::Instant::now());
    }

    fn recovered(&self) {
        self.recovered_at(std::time::Instant::now());
    }

    fn failed_at(&self, err: &anyhow::Error, now: std::time::Instant) {
        let error = format!("{err:#}");
        let mut episode = self.episode.lock().unwrap_or_else(PoisonError::into_inner);
        match episode.as_mut() {
            Some((problem, last_failure)) => {
                problem.failures += 1;
                problem.error = error;
                *last_failure = now;
            }
            None => {
                error!(cause = %error,
                    "the database cannot be written (disk full? read-only?); work waits and is retried, \
                     nothing is lost or sent twice. Logged once until it recovers.");
                let problem = StorageProblem {
                    since: crate::clock::unix_now(),
                    error,
                    failures: 1,
                };
                *episode = Some((problem, now));
            }
        }
    }

    fn recovered_at(&self, now: std::time::Instant) {
        let mut episode = self.episode.lock().unwrap_or_else(PoisonError::into_inner);
        if episode.as_ref().is_some_and(|(_, last_failure)| {
            now.saturating_duration_since(*last_failure) >= EPISODE_QUIET
        }) {
            if let Some((problem, _)) = episode.take() {
                info!(
                    failures = problem.failures,
                    "the database is writable again"
                );
            }
        }
    }

    fn problem(&self) -> Option<StorageProblem> {
        self.episode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(problem, _)| problem.clone())
    }
}

/// Storage faults a test can turn on: with the disk "full", every write
/// transaction fails at its commit with SQLite's own `SQLITE_FULL`, as on a
/// full filesystem; reads go on working.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(Arc<FaultState>);

#[derive(Debug, Default)]
struct FaultState {
    disk_full: AtomicBool,
    refused: AtomicU64,
}

impl FaultSwitch {
    pub fn set_disk_full(&self, full: bool) {
        self.0.disk_full.store(full, Ordering::SeqCst);
    }

    /// How many commits were refused so far.
    #[must_use]
    pub fn refused_commits(&self) -> u64 {
        self.0.refused.load(Ordering::SeqCst)
    }

    fn refuse_commit(&self) -> rusqlite::Result<()> {
        if !self.0.disk_full.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.0.refused.fetch_add(1, Ordering::SeqCst);
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ))
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
    fn a_storage_episode_spans_failures_until_writes_work_for_a_while() {
        let health = StorageHealth::default();
        let start = std::time::Instant::now();
        let full = anyhow::Error::new(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ));
        assert!(is_storage_error(&full));
        assert!(!is_storage_error(&anyhow::anyhow!("a bad update")));
        assert_eq!(health.problem(), None);
        health.failed_at(&full, start);
        health.failed_at(&full, start + Duration::from_millis(500));
        let problem = health.problem().expect("an episode");
        assert_eq!(problem.failures, 2, "one episode, two failures");
        assert!(problem.error.contains("full"));
        // A write that fits between failures does not end it...
        health.recovered_at(start + Duration::from_millis(900));
        assert!(health.problem().is_some());
        // ...one after a quiet second does.
        health.recovered_at(start + Duration::from_millis(1500));
        assert_eq!(health.problem(), None);
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
