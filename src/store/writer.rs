//! The one writer: every write transaction of the process goes through one
//! thread with one connection, which commits them in batches.
//!
//! SQLite writes one transaction at a time anyway; with several writers
//! (pollers, the dispatcher, every sender) each pays for its own `BEGIN
//! IMMEDIATE`, commit and lock hand-over, and they queue on the lock. Here
//! they queue in a channel instead, and the writer drains it:
//!
//! 1. Take the first waiting request, then every other one already waiting
//!    (up to [`MAX_BATCH`]).
//! 2. Open one transaction. Run each request in a savepoint of its own: a
//!    request that fails is rolled back alone, and its caller gets its
//!    error at once; the others are kept.
//! 3. Commit once. Only then does each kept request's caller get its value:
//!    nothing is reported done that is not durable. If the commit fails (a
//!    full disk), every kept request gets that error, with SQLite's error
//!    code, so callers tell a storage error from their own.
//!
//! A request sees the writes of the requests before it in its batch, as it
//! would had they committed just before: they commit together or not at all.

use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::health::{FaultSwitch, StorageHealth};

/// Most requests in one transaction: enough to amortise a commit, few
/// enough that a batch's latency stays small.
pub const MAX_BATCH: usize = 256;
/// Requests waiting at most; writers beyond wait for room (backpressure).
const QUEUE: usize = 4096;

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn Request>>,
}

impl Writer {
    /// Starts the writer thread on `conn`; it ends when every handle is dropped.
    pub(super) fn start(
        conn: Connection,
        health: Arc<StorageHealth>,
        faults: FaultSwitch,
    ) -> std::io::Result<Writer> {
        let (queue, requests) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("switchboard-writer".into())
            .spawn(move || run(conn, requests, &health, &faults))?;
        Ok(Writer { queue })
    }

    /// Runs `f` in the next batch's transaction; `Ok` once committed.
    pub(super) async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> anyhow::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { f, reply }))
            .await
            .map_err(|_| anyhow::anyhow!("the database writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the database writer has stopped"))?
    }
}

/// A waiting request, before it ran.
trait Request: Send {
    /// Runs the request in `tx` (inside its own savepoint); its caller is
    /// answered by what it returns, once the batch's commit is known.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Ran>;
    /// The request could not run at all.
    fn abort(self: Box<Self>, err: anyhow::Error);
}

/// A request that ran, waiting for the commit.
trait Ran: Send {
    fn finish(self: Box<Self>, commit: Result<(), &CommitError>);
}

struct Pending<T, F> {
    f: F,
    reply: oneshot::Sender<anyhow::Result<T>>,
}

impl<T, F> Request for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> anyhow::Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Ran> {
        let f = self.f;
        let result = super::in_savepoint(tx, "request", || f(tx));
        Box::new(Done {
            result,
            reply: self.reply,
        })
    }

    fn abort(self: Box<Self>, err: anyhow::Error) {
        // The caller may have gone away (a stopped task): nothing to tell.
        let _ = self.reply.send(Err(err));
    }
}

struct Done<T> {
    result: anyhow::Result<T>,
    reply: oneshot::Sender<anyhow::Result<T>>,
}

impl<T: Send> Ran for Done<T> {
    fn finish(self: Box<Self>, commit: Result<(), &CommitError>) {
        let answer = match (self.result, commit) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(err)) => Err(err.to_error()),
            (Err(err), _) => Err(err),
        };
        let _ = self.reply.send(answer);
    }
}

/// Why a batch did not commit, handed to each of its requests.
#[derive(Debug)]
struct CommitError {
    /// SQLite's code, so callers can tell a storage error.
    code: Option<rusqlite::ffi::Error>,
    message: String,
}

impl CommitError {
    fn new(err: &anyhow::Error) -> CommitError {
        let code = err
            .chain()
            .find_map(|cause| match cause.downcast_ref::<rusqlite::Error>() {
                Some(rusqlite::Error::SqliteFailure(code, _)) => Some(*code),
                _ => None,
            });
        CommitError {
            code,
            message: format!("{err:#}"),
        }
    }

    fn to_error(&self) -> anyhow::Error {
        match self.code {
            Some(code) => rusqlite::Error::SqliteFailure(code, Some(self.message.clone())).into(),
            None => anyhow::anyhow!("{}", self.message),
        }
    }
}

fn run(
    mut conn: Connection,
    mut requests: mpsc::Receiver<Box<dyn Request>>,
    health: &StorageHealth,
    faults: &FaultSwitch,
) {
    while let Some(first) = requests.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        match write_batch(&mut conn, batch, faults) {
            Ok(()) => health.recovered(),
            Err(err) => health.failed(&err),
        }
    }
}

/// Runs a batch in one transaction and answers every request; the error is
/// the batch's own (it could not begin or commit), for the storage episode.
fn write_batch(
    conn: &mut Connection,
    batch: Vec<Box<dyn Request>>,
    faults: &FaultSwitch,
) -> anyhow::Result<()> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let err = CommitError::new(&err.into());
            for request in batch {
                request.abort(err.to_error());
            }
            return Err(err.to_error());
        }
    };
    let mut ran = Vec::with_capacity(batch.len());
    let mut batch = batch.into_iter();
    let mut broken = None;
    for request in batch.by_ref() {
        let done = request.run(&tx);
        // A savepoint statement that failed leaves the transaction unusable.
        if tx.is_autocommit() {
            broken = Some(anyhow::anyhow!("the transaction ended early"));
        }
        ran.push(done);
        if broken.is_some() {
            break;
        }
    }
    let commit = match broken {
        Some(err) => Err(err),
        None => faults
            .refuse_commit()
            .map_err(anyhow::Error::from)
            .and_then(|()| tx.commit().map_err(anyhow::Error::from)),
    };
    let commit = commit.map_err(|err| CommitError::new(&err));
    for done in ran {
        done.finish(commit.as_ref().copied());
    }
    // Requests after a broken transaction never ran.
    if let Err(err) = &commit {
        for request in batch {
            request.abort(err.to_error());
        }
    }
    commit.map_err(|err| err.to_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_rolls_back_alone_and_the_rest_commit_together() {
        let (store, _dir) = temp_store();
        let mut waiting = Vec::new();
        for n in 0..50_i64 {
            let store = store.clone();
            waiting.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.execute(
                            "INSERT INTO bots (name, update_offset) VALUES (?1, ?2)",
                            (format!("b{n}"), n),
                        )?;
                        anyhow::ensure!(n % 10 != 3, "request {n} fails");
                        Ok(n)
                    })
                    .await
            }));
        }
        let mut failed = Vec::new();
        for (n, handle) in waiting.into_iter().enumerate() {
            if handle.await.unwrap().is_err() {
                failed.push(n);
            }
        }
        assert_eq!(failed, [3, 13, 23, 33, 43]);
        let conn = store.conn().unwrap();
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM bots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            stored, 45,
            "the failed requests' rows were rolled back, the others kept"
        );
    }

    #[tokio::test]
    async fn a_refused_commit_fails_every_request_with_sqlites_code() {
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultSwitch::default();
        let store = crate::store::Store::open_with(&dir.path().join("db"), faults.clone()).unwrap();
        faults.set_disk_full(true);
        let err = store
            .write(|tx| Ok(tx.execute("INSERT INTO bots (name) VALUES ('x')", [])?))
            .await
            .unwrap_err();
        assert!(crate::store::is_storage_error(&err), "{err:#}");
        assert!(store.problem().is_some());
        faults.set_disk_full(false);
        let conn = store.conn().unwrap();
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM bots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 0);
    }
}
