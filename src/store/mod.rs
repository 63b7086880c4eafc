//! SQLite storage: the connection pool, the schema and its migrations, and the
//! queries, grouped by the table they touch.
//!
//! Reads run on a pool of connections, each inside `spawn_blocking` through
//! [`Store::run`], so async tasks never wait on disk. Writes go to the one
//! writer thread ([`Store::write`], see `writer`), which commits them in
//! batches.
//!
//! Storage trouble (a full disk, an I/O error, a read-only file) is tracked
//! as an *episode* (see `health`): logged once when the first write fails and
//! once when writes succeed again, and shown in `/healthz` in between, so a
//! full disk is loud without flooding the log per message.
//!
//! The database file is created owner-only (0600): it holds users' names and,
//! until dispatched, their messages. SQLite gives its `-wal` and `-shm` files
//! the database file's permissions.
//!
//! The database runs in WAL mode with `synchronous = NORMAL`: a commit appends
//! to the write-ahead log without waiting for the disk, and only checkpoints
//! (copying the log into the database) sync. The writer checkpoints itself,
//! after the commit that takes the log past [`CHECKPOINT_PAGES`]: a small log,
//! so each checkpoint syncs little, and the log starts over from its
//! beginning right after. A checkpoint from a task of its own looked better
//! (no message waits for the disk) and measured worse: under a steady stream
//! of writes it always lags the writer, so the log never starts over, grows
//! to the safety net, and the writer then syncs tens of megabytes at once
//! (`many`'s p99 latency 54–476 ms with 1,000 bots relaying, against 10–31
//! ms in most runs this way; docs/BENCHMARKS.md).

pub mod albums;
pub mod bots;
pub mod dead_letters;
pub mod dialogs;
pub mod groups;
mod health;
pub mod held;
pub mod inbox;
pub mod intercepted;
pub mod links;
mod migrate;
pub mod offered;
pub mod sends;
pub mod updates;
pub mod users;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction};

use health::StorageHealth;
pub use health::{FaultSwitch, RETRY_MAX, StorageProblem, is_storage_error};

/// Prepared statements kept per connection.
const STATEMENTS_CACHED: usize = 128;

/// Connections in the read pool.
const READERS: u32 = 8;

/// One SQLite database: a pool of connections for reads, one writer.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// One permit per pooled connection: a read waits here, as a task,
    /// rather than as a blocked thread. With a thousand bots reading at
    /// once, blocking threads waiting for a connection grew to hundreds.
    readers: Arc<tokio::sync::Semaphore>,
    writer: writer::Writer,
    /// The current storage episode, if writes are failing.
    health: Arc<StorageHealth>,
}

/// Pages in the write-ahead log after which the committing connection (the
/// writer) checkpoints: SQLite's default, about 4 MB.
pub const CHECKPOINT_PAGES: i64 = 1000;

/// Settings of every connection: commits append to the write-ahead log and
/// only checkpoints sync.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    // Room for every statement the code prepares: the default (16) is
    // fewer, and a statement parsed again costs more than running it.
    conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;",
    )?;
    conn.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)
}

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
        let manager = SqliteConnectionManager::file(path).with_init(|conn| configure(conn));
        let pool = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(2))
            .build(manager)
            .with_context(|| format!("cannot open database {shown}"))?;
        let mut conn = pool
            .get()
            .with_context(|| format!("cannot open database {shown}"))?;
        while_busy(|| migrate::migrate(&mut conn))
            .with_context(|| format!("cannot migrate database {shown}"))?;
        let health = Arc::new(StorageHealth::default());
        let writer_conn =
            Connection::open(path).with_context(|| format!("cannot open database {shown}"))?;
        configure(&writer_conn)?;
        let writer = writer::Writer::start(writer_conn, Arc::clone(&health), faults)
            .context("cannot start the database writer")?;
        Ok(Store {
            pool,
            readers: Arc::new(tokio::sync::Semaphore::new(READERS as usize)),
            writer,
            health,
        })
    }

    /// Whether writes are failing now, and why (for `/healthz`).
    #[must_use]
    pub fn problem(&self) -> Option<StorageProblem> {
        self.health.problem()
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
        let permit = Arc::clone(&self.readers)
            .acquire_owned()
            .await
            .context("the database is closing")?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
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

    /// Runs `f` in a write transaction (the writer's next batch): `Ok` once
    /// committed; on `Err` nothing `f` did is kept.
    pub async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        let result = self.writer.write(f).await;
        if let Err(err) = &result {
            if is_storage_error(err) {
                self.health.failed(err);
            }
        }
        result
    }
}

/// Runs `f` inside the savepoint `name` of `conn`'s open transaction:
/// released if `f` succeeds, rolled back (and released) if it fails, so a
/// failed part leaves nothing behind while the rest of the transaction goes
/// on. The statements are prepared once per connection.
pub fn in_savepoint<T>(
    conn: &Connection,
    name: &str,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    // Plain SQL: rusqlite's savepoint API wants the transaction mutably.
    conn.prepare_cached(&format!("SAVEPOINT {name}"))?
        .execute([])?;
    match f() {
        Ok(value) => {
            conn.prepare_cached(&format!("RELEASE {name}"))?
                .execute([])?;
            Ok(value)
        }
        Err(err) => {
            conn.prepare_cached(&format!("ROLLBACK TO {name}"))?
                .execute([])?;
            conn.prepare_cached(&format!("RELEASE {name}"))?
                .execute([])?;
            Err(err)
        }
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
    use tokio_util::sync::CancellationToken;

    #[test]
    fn migrations_run_once_and_reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let store = Store::open(&path).unwrap();
            let conn = store.conn().unwrap();
            updates::Stored::default().save(&conn, "shop", 42).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let conn = store.conn().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, migrate::VERSION as i64);
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_stays_small_under_a_steady_stream_of_writes() {
        let (store, dir) = testing::temp_store();
        let log = dir.path().join("test.db-wal");
        // Short reads come and go meanwhile, one after the other, as the
        // dispatcher's do. (A read that never ends would hold the log: SQLite
        // starts it over only when no reader is in it.)
        let reading = CancellationToken::new();
        let reader = tokio::spawn({
            let (store, reading) = (store.clone(), reading.clone());
            async move {
                while !reading.is_cancelled() {
                    store
                        .run(|conn| {
                            Ok(conn.query_row("SELECT count(*) FROM bots", [], |r| {
                                r.get::<_, i64>(0)
                            })?)
                        })
                        .await
                        .unwrap();
                }
            }
        });
        // About 12,000 pages written: three times the log's limit.
        let payload = "x".repeat(4000);
        for _ in 0..6_000 {
            let payload = payload.clone();
            store
                .write(move |tx| {
                    tx.execute(
                        "INSERT INTO inbox (bot, kind, payload) VALUES ('shop', 'update', ?1)",
                        [payload],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        reading.cancel();
        reader.await.unwrap();
        let pages = std::fs::metadata(&log).unwrap().len() / 4096;
        assert!(
            pages < 2 * CHECKPOINT_PAGES as u64,
            "the log grew to {pages} pages"
        );
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
