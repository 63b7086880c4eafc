//! Storage trouble: which errors come from the storage (and so pass when it
//! recovers), the current storage *episode*, and the fault switch tests use
//! to simulate a full disk.
//!
//! An episode starts with the first failed write: logged once, and shown in
//! `/healthz` until a write succeeds again at least [`EPISODE_QUIET`] after
//! the last failure, which is logged once too. So a full disk is loud
//! without flooding the log per message, and a nearly full one (some writes
//! fit, others not) does not flap.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing::{error, info};

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

/// An episode ends with a successful write at least this long after
/// its last failed one: on a nearly full disk some writes fit and others do
/// not, and the episode must not flap (nor its log lines repeat).
pub const EPISODE_QUIET: Duration = Duration::from_secs(1);

/// The storage episode: `None` while writes succeed.
#[derive(Debug, Default)]
pub struct StorageHealth {
    episode: Mutex<Option<(StorageProblem, std::time::Instant)>>,
}

impl StorageHealth {
    pub(super) fn failed(&self, err: &anyhow::Error) {
        self.failed_at(err, std::time::Instant::now());
    }

    pub(super) fn recovered(&self) {
        self.recovered_at(std::time::Instant::now());
    }

    pub(super) fn failed_at(&self, err: &anyhow::Error, now: std::time::Instant) {
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

    pub(super) fn recovered_at(&self, now: std::time::Instant) {
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

    pub(super) fn problem(&self) -> Option<StorageProblem> {
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

    pub(super) fn refuse_commit(&self) -> rusqlite::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
