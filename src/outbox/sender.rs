//! The sender: executes one bot's outbox jobs against the Bot API.
//!
//! Algorithm. The outbox table is the source of truth; the sender keeps an
//! in-memory view of the pending jobs, grouped in lanes (one per dialog and
//! direction: toward its topic, toward its user; see `outbox::topic_lane`):
//!
//! 1. At start the rate limiter's windows are restored from the calls the
//!    last run recorded (the `sends` table), so a restart grants no fresh
//!    budget. Then every pending job with an id above the last one loaded is
//!    appended to its lane (all of them at start, so a restart goes on where
//!    the last run stopped), except a topic creation, which goes to the head
//!    of its lane (behind a head that is running): everything else in a topic
//!    lane needs the topic. The dispatcher wakes the sender after each commit.
//! 2. A lane whose head is neither running nor waiting is *ready*. Ready
//!    heads start in priority order, then age, up to `MAX_IN_FLIGHT` at once;
//!    a lane never has two jobs running, so order per lane is kept. Before a
//!    head starts, the [`Limiter`] must have room for its chat: if the bot's
//!    budget is spent nothing starts; if only its chat's is, that lane waits
//!    until the chat's window frees and the next lane goes. A job that ends
//!    without a call (a topic that exists already) gives its place back.
//! 3. When a call ends, its outcome is recorded in SQLite, with the answer's
//!    time for the limiter's history, before the lane moves on: done jobs
//!    leave the outbox; a transient failure (network, timeout, 5xx) keeps the
//!    job at the head of its lane and retries it after an exponential backoff
//!    with jitter (from `retry_base`, capped at 30 times it); a 429 waits
//!    exactly its `retry_after`, tells the limiter, and does not count as an
//!    attempt; a permanent failure (other 4xx) marks the job failed and
//!    reports it to the dispatcher. An outcome that cannot be recorded (a full
//!    disk) is kept in memory and its write retried with backoff while the
//!    lane waits: the call is never made twice for one outbox row.
//! 4. A 401 (or 404) means Telegram rejected the token ([`TokenGate`]): no
//!    job starts until the bot's poller finds the token accepted again; the
//!    job that saw it stays at the head of its lane, untouched, and the queue
//!    is delivered in order afterwards.
//! 5. Two failures are mended here, as delivery mechanics, at the head of the
//!    lane so order is kept: "message thread not found" (the dialog's topic
//!    was deleted: in one transaction the sender forgets it and queues the
//!    creation of a new topic with the same name at the head of the lane, an
//!    outbox row like any other; the job runs again after it, in the new
//!    topic, and once the topic exists the dispatcher is told so it can add a
//!    note) and `migrate_to_chat_id` (the group moved: the move is recorded,
//!    the bot's dialogs follow it, and the job is retried).
//!
//! The sender decides nothing about the product: what to tell people about a
//! failure is the dispatcher's business.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use frankenstein::methods::{
    CloseForumTopicParams, CopyMessageParams, CreateForumTopicParams, ReopenForumTopicParams,
    SendMessageParams,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::limiter::Limiter;
use super::{FailureKind, Job, Priority, Report, Target};
use crate::clock::unix_now_ms;
use crate::config::Limits;
use crate::store::{self, Store, dialogs, inbox, outbox::Row};
use crate::telegram::gate::TokenGate;
use crate::telegram::{self, Client};
use crate::throttle::Throttle;

/// Calls in flight at once per bot.
const MAX_IN_FLIGHT: usize = 16;
/// Jobs loaded from SQLite per query.
const LOAD_BATCH: usize = 1000;
/// Longest wait between two tries of a job, in multiples of the first one
/// (30 s in production): after an outage, waiting messages go out soon.
const MAX_RETRY_FACTOR: u32 = 30;
/// How long a stopping sender lets calls in flight finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one warning per this long about calls that failed and will be
/// retried; the others are counted into the next one.
const RETRY_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Everything one bot's sender needs.
#[derive(Clone)]
pub struct Sender {
    pub bot: String,
    pub store: Store,
    pub client: Client,
    /// Notified by the dispatcher after it committed new jobs for this bot.
    pub wake: Arc<Notify>,
    /// Notified after a [`Report`] was added to the inbox.
    pub dispatcher_wake: Arc<Notify>,
    /// This bot's rate limits.
    pub limits: Limits,
    /// The first retry's delay after a transient failure (doubling after).
    pub retry_base: Duration,
    /// Whether Telegram accepts the token; shared with the bot's poller.
    pub token: TokenGate,
}

/// How one try of a job ended.
enum Attempt {
    Done {
        created: Option<Created>,
    },
    Retry {
        after: Duration,
        error: String,
        /// A 429: the limiter must hear of it.
        throttled: bool,
    },
    Failed {
        error: String,
        kind: FailureKind,
    },
    /// The dialog's topic `deleted` is gone (message thread not found).
    TopicDeleted {
        dialog_id: i64,
        deleted: i64,
    },
    /// The group `from` moved to chat id `to`: follow it and retry now.
    Migrated {
        from: i64,
        to: i64,
    },
    /// 401/404: the token is not accepted (any more).
    TokenRejected {
        error: String,
    },
}

/// A topic the sender created for a dialog.
#[derive(Debug, Clone)]
struct Created {
    dialog_id: i64,
    topic: i64,
    name: String,
    /// The deleted topic it replaces.
    replaces: Option<i64>,
}

/// What a finished call changes in the outbox, to be recorded before its
/// lane moves on. Kept (and its write retried) while the database refuses.
#[derive(Debug, Clone)]
struct Outcome {
    /// The job's row.
    id: i64,
    /// The call's chat and when it was answered (Unix ms), if a call was
    /// made: the limiter's history.
    sent: Option<(i64, i64)>,
    change: Change,
}

#[derive(Debug, Clone)]
enum Change {
    Done {
        created: Option<Created>,
    },
    Retry {
        error: String,
        /// When to try again.
        at: Instant,
        /// A 429: waits `at` without counting as an attempt.
        throttled: bool,
    },
    Failed {
        /// `None` for a job this version cannot read.
        job: Option<Job>,
        error: String,
        kind: FailureKind,
    },
    /// Forget the deleted topic; for a job other than closing it, queue a
    /// replacement topic at the head of `lane`.
    TopicDeleted {
        dialog_id: i64,
        deleted: i64,
        close: bool,
        lane: String,
        priority: Priority,
    },
    Migrated {
        from: i64,
        to: i64,
    },
}

/// An outcome whose record failed, waiting for its write to be retried.
struct Unrecorded {
    lane: String,
    outcome: Outcome,
    due: Instant,
    tries: u32,
}

/// Where a call went, for what its failure means.
#[derive(Default)]
struct Used {
    chat: Option<i64>,
    topic: Option<i64>,
}

/// The sender's working state, owned by its loop.
struct State {
    lanes: Lanes,
    limiter: Limiter,
    /// Outcomes waiting for the database, oldest first.
    unrecorded: VecDeque<Unrecorded>,
    /// Rate-limits warnings about retried calls.
    retry_warnings: Throttle,
}

impl Sender {
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut state = State {
            lanes: Lanes::default(),
            limiter: Limiter::new(this.limits),
            unrecorded: VecDeque::new(),
            retry_warnings: Throttle::new(RETRY_WARNING_EVERY),
        };
        if !this.restore_limiter(&mut state.limiter, &shutdown).await {
            return;
        }
        let mut last_loaded = 0;
        let mut in_flight: JoinSet<(String, Attempt, bool)> = JoinSet::new();
        // The lane of each task in flight, to recover it if the task fails.
        let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut load_failures = 0;
        loop {
            match this.load(last_loaded, &mut state.lanes).await {
                Ok(last) => {
                    last_loaded = last;
                    load_failures = 0;
                }
                Err(err) => {
                    if !store::is_storage_error(&err) {
                        error!(bot = %this.bot, cause = %format!("{err:#}"), "cannot read the outbox");
                    }
                    load_failures += 1;
                    let pause = crate::backoff::delay(load_failures, store::RETRY_MAX);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            }
            this.record_again(&mut state).await;
            let now = Instant::now();
            state.lanes.promote_due(now);
            let paused = this.token.is_rejected();
            let mut bot_ready_at = None;
            while !paused && in_flight.len() < MAX_IN_FLIGHT {
                if let Some(at) = state.limiter.bot_ready_at(now) {
                    bot_ready_at = Some(at);
                    break;
                }
                let Some(row) = state.lanes.start_next() else {
                    break;
                };
                if let Err(at) = state.limiter.try_acquire(row.chat, now) {
                    state.lanes.park(&row.lane, at);
                    continue;
                }
                debug!(bot = %this.bot, job = row.id, lane = %row.lane, "sending");
                let sender = Arc::clone(&this);
                let lane = row.lane.clone();
                let task = in_flight.spawn(async move {
                    let (attempt, called) = sender.attempt(&row).await;
                    (row.lane, attempt, called)
                });
                running.insert(task.id(), lane);
            }
            let wake_at = [
                state.lanes.next_retry(),
                bot_ready_at,
                state.unrecorded.iter().map(|u| u.due).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(joined) = in_flight.join_next_with_id() => {
                    if let Some(ended) = this.lane_of(joined, &mut running, &mut state) {
                        this.finish(&mut state, ended).await;
                    }
                }
                () = this.wake.notified() => {}
                () = this.token.accepted(), if paused => {
                    info!(bot = %this.bot, "the token is accepted again; sending resumes");
                }
                () = sleep_until(wake_at) => {}
            }
        }
        // Calls already on the wire: let them land so their results are
        // recorded; whatever does not finish in time stays pending and is sent
        // again after a restart.
        let drain = async {
            while let Some(joined) = in_flight.join_next_with_id().await {
                if let Some(ended) = this.lane_of(joined, &mut running, &mut state) {
                    this.finish(&mut state, ended).await;
                }
            }
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            warn!(bot = %this.bot, "stopped with calls in flight; they are sent again on restart");
        }
        if !state.unrecorded.is_empty() {
            warn!(bot = %this.bot, calls = state.unrecorded.len(),
                "stopped before the database took these calls' results; they are sent again on restart");
        }
    }

    /// Fills the limiter's windows with the calls of the last run; `false`
    /// if stopped before the database answered.
    async fn restore_limiter(&self, limiter: &mut Limiter, shutdown: &CancellationToken) -> bool {
        let Some(window) = Limiter::longest_window(&self.limits) else {
            return true;
        };
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let mut failures = 0;
        loop {
            let bot = self.bot.clone();
            let now_ms = unix_now_ms();
            let since = now_ms.saturating_sub(window_ms);
            let loaded = self
                .store
                .run(move |conn| Ok(store::sends::since(conn, &bot, since)?))
                .await;
            match loaded {
                Ok(sends) => {
                    let now = Instant::now();
                    for (chat, at_ms) in sends {
                        let age = u64::try_from(now_ms.saturating_sub(at_ms)).unwrap_or(0);
                        let at = now.checked_sub(Duration::from_millis(age)).unwrap_or(now);
                        limiter.restore(chat, at);
                    }
                    return true;
                }
                Err(err) => {
                    if !store::is_storage_error(&err) {
                        error!(bot = %self.bot, cause = %format!("{err:#}"), "cannot read the recent calls");
                    }
                    failures += 1;
                    let pause = crate::backoff::delay(failures, store::RETRY_MAX);
                    tokio::select! {
                        () = shutdown.cancelled() => return false,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// Appends newly committed jobs to their lanes; returns the last id seen.
    async fn load(&self, mut last: i64, lanes: &mut Lanes) -> anyhow::Result<i64> {
        loop {
            let bot = self.bot.clone();
            let rows = self
                .store
                .run(move |conn| Ok(store::outbox::pending_after(conn, &bot, last, LOAD_BATCH)?))
                .await?;
            let full = rows.len() == LOAD_BATCH;
            for row in rows {
                last = row.id;
                lanes.push(row);
            }
            if !full {
                return Ok(last);
            }
        }
    }

    /// Matches a finished task to its lane. A task that failed (only a bug
    /// can make one panic) leaves its job pending: the lane retries it later
    /// rather than stall.
    fn lane_of(
        &self,
        joined: Result<(tokio::task::Id, (String, Attempt, bool)), tokio::task::JoinError>,
        running: &mut HashMap<tokio::task::Id, String>,
        state: &mut State,
    ) -> Option<(String, Attempt, bool)> {
        match joined {
            Ok((id, ended)) => {
                running.remove(&id);
                Some(ended)
            }
            Err(err) => {
                let lane = running.remove(&err.id())?;
                if err.is_cancelled() {
                    return None;
                }
                error!(bot = %self.bot, lane = %lane, cause = %err, "a send task failed; retrying its job");
                if let Some(head) = state.lanes.head(&lane) {
                    state.limiter.finished(head.chat, Instant::now());
                }
                state
                    .lanes
                    .retry(&lane, Instant::now() + self.retry_delay(0));
                None
            }
        }
    }

    /// Takes a call's end: tells the limiter, records the outcome, moves the lane.
    async fn finish(&self, state: &mut State, (lane, attempt, called): (String, Attempt, bool)) {
        let Some(row) = state.lanes.head(&lane) else {
            return;
        };
        let (id, attempts, chat, priority) = (row.id, row.attempts, row.chat, row.priority);
        let job = row.job.clone().ok();
        let now = Instant::now();
        if called {
            state.limiter.finished(chat, now);
        } else {
            state.limiter.cancel(chat);
        }
        let change = match attempt {
            Attempt::Done { created } => Change::Done { created },
            Attempt::Retry {
                after,
                error,
                throttled,
            } => {
                if throttled {
                    state.limiter.throttled(chat, after, now);
                }
                match state.retry_warnings.allow(now) {
                    Some(suppressed) => warn!(bot = %self.bot, job = id, attempts, cause = %error,
                        more_since_last_warning = suppressed, "a call failed; retrying in {after:?}"),
                    None => {
                        debug!(bot = %self.bot, job = id, attempts, cause = %error, "retrying in {after:?}")
                    }
                }
                Change::Retry {
                    error,
                    at: now + after,
                    throttled,
                }
            }
            Attempt::Failed { error, kind } => {
                warn!(bot = %self.bot, job = id, cause = %error, "job failed for good");
                Change::Failed { job, error, kind }
            }
            Attempt::TopicDeleted { dialog_id, deleted } => {
                warn!(bot = %self.bot, dialog = dialog_id, deleted,
                    "the dialog's topic was deleted; a new one with the same name replaces it");
                Change::TopicDeleted {
                    dialog_id,
                    deleted,
                    close: matches!(job, Some(Job::CloseTopic { .. })),
                    lane: lane.clone(),
                    priority,
                }
            }
            Attempt::Migrated { from, to } => {
                warn!(bot = %self.bot, from, to,
                    "a backend group moved to a new chat id; following it (update bots.toml to the new id)");
                Change::Migrated { from, to }
            }
            Attempt::TokenRejected { error } => {
                if self.token.reject() {
                    error!(bot = %self.bot, cause = %error,
                        "Telegram rejected the token: sending is paused and every queued message kept; \
                         it goes on, in order, once the token works again (fix it in bots.toml and restart)");
                }
                // Nothing to record: the job stays as it was, at the head.
                state.lanes.park(&lane, now);
                return;
            }
        };
        let outcome = Outcome {
            id,
            sent: called.then(|| (chat, unix_now_ms())),
            change,
        };
        match self.record(&outcome).await {
            Ok(queued) => self.apply(state, &lane, &outcome.change, queued),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(bot = %self.bot, job = id, cause = %format!("{err:#}"),
                        "cannot record a call's result; keeping it and trying again");
                }
                state.unrecorded.push_back(Unrecorded {
                    lane,
                    outcome,
                    due: now + self.database_retry_delay(0),
                    tries: 1,
                });
            }
        }
    }

    /// Retries the records that are due, oldest first, until one fails.
    async fn record_again(&self, state: &mut State) {
        while let Some(next) = state.unrecorded.front() {
            let now = Instant::now();
            if next.due > now {
                return;
            }
            match self.record(&next.outcome).await {
                Ok(queued) => {
                    if let Some(done) = state.unrecorded.pop_front() {
                        self.apply(state, &done.lane, &done.outcome.change, queued);
                    }
                }
                Err(_) => {
                    // The store logs the episode; wait and try again.
                    let delay = self.database_retry_delay(next.tries);
                    if let Some(next) = state.unrecorded.front_mut() {
                        next.tries += 1;
                        next.due = now + delay;
                    }
                    return;
                }
            }
        }
    }

    /// Writes an outcome in one transaction; returns the replacement topic's
    /// creation job when one was queued.
    async fn record(&self, outcome: &Outcome) -> anyhow::Result<Option<Row>> {
        let bot = self.bot.clone();
        let outcome = outcome.clone();
        self.store
            .write(move |tx| {
                if let Some((chat, at_ms)) = outcome.sent {
                    store::sends::record(tx, &bot, chat, at_ms)?;
                }
                let id = outcome.id;
                match outcome.change {
                    Change::Done { created } => {
                        if let Some(created) = created {
                            dialogs::set_topic(
                                tx,
                                created.dialog_id,
                                created.topic,
                                &created.name,
                            )?;
                            if created.replaces.is_some() {
                                let report = Report::TopicReplaced {
                                    dialog_id: created.dialog_id,
                                };
                                report_to_dispatcher(tx, &bot, &report)?;
                            }
                        }
                        store::outbox::complete(tx, id)?;
                        Ok(None)
                    }
                    Change::Retry {
                        error, throttled, ..
                    } => {
                        store::outbox::record_retry(tx, id, &error, !throttled)?;
                        Ok(None)
                    }
                    Change::Failed { job, error, kind } => {
                        store::outbox::fail(tx, id, &error)?;
                        if let Some(job) = job {
                            if let Job::CreateTopic { dialog_id, .. } = &job {
                                dialogs::topic_request_failed(tx, *dialog_id)?;
                            }
                            report_to_dispatcher(tx, &bot, &Report::Failed { job, error, kind })?;
                        }
                        Ok(None)
                    }
                    Change::TopicDeleted {
                        dialog_id,
                        deleted,
                        close,
                        lane,
                        priority,
                    } => {
                        let forgotten = dialogs::forget_topic(tx, dialog_id, deleted)?;
                        if close {
                            // Nothing left to close; the dialog gets a new
                            // topic when it reopens.
                            store::outbox::complete(tx, id)?;
                            return Ok(None);
                        }
                        // Another job may have replaced it already: then the
                        // job simply goes again, into the dialog's topic now.
                        if !forgotten || !dialogs::request_topic(tx, dialog_id)? {
                            return Ok(None);
                        }
                        let Some(dialog) = dialogs::by_id(tx, dialog_id)? else {
                            return Ok(None);
                        };
                        let job = Job::CreateTopic {
                            dialog_id,
                            name: dialog
                                .topic_name
                                .unwrap_or_else(|| format!("Dialog {dialog_id}")),
                            replaces: Some(deleted),
                        };
                        let chat = dialog.backend_group;
                        let now = crate::clock::unix_now();
                        let id =
                            store::outbox::enqueue(tx, &bot, &lane, priority, chat, &job, now)?;
                        Ok(Some(Row {
                            id,
                            lane,
                            priority,
                            chat,
                            job: Ok(job),
                            attempts: 0,
                        }))
                    }
                    Change::Migrated { from, to } => {
                        store::groups::record_migration(tx, &bot, from, to)?;
                        Ok(None)
                    }
                }
            })
            .await
    }

    /// Moves the lane on after its outcome was recorded.
    fn apply(&self, state: &mut State, lane: &str, change: &Change, queued: Option<Row>) {
        let lanes = &mut state.lanes;
        match change {
            Change::Done { created } => {
                if created.as_ref().is_some_and(|c| c.replaces.is_some()) {
                    self.dispatcher_wake.notify_one();
                }
                lanes.advance(lane);
            }
            Change::Failed { .. } => {
                self.dispatcher_wake.notify_one();
                lanes.advance(lane);
            }
            Change::Retry {
                at,
                throttled: true,
                ..
            } => lanes.park(lane, *at),
            Change::Retry { at, .. } => lanes.retry(lane, *at),
            Change::TopicDeleted { close: true, .. } => lanes.advance(lane),
            Change::TopicDeleted { .. } => match queued {
                Some(create) => lanes.put_first(lane, create),
                None => lanes.park(lane, Instant::now()),
            },
            Change::Migrated { .. } => lanes.park(lane, Instant::now()),
        }
    }

    async fn attempt(&self, row: &Row) -> (Attempt, bool) {
        let job = match &row.job {
            Ok(job) => job,
            Err(err) => {
                let failed = Attempt::Failed {
                    error: format!("this version cannot read the job: {err}"),
                    kind: FailureKind::Other,
                };
                return (failed, false);
            }
        };
        let mut used = Used::default();
        let result = self.execute(job, &mut used).await;
        let called = used.chat.is_some();
        let attempt = match result {
            Ok(created) => Attempt::Done { created },
            Err(Failure::Telegram(err)) if err.is_not_modified() => Attempt::Done { created: None },
            Err(Failure::Telegram(telegram::Error::ThreadNotFound)) => {
                match (job.dialog(), used.topic) {
                    (Some(dialog_id), Some(deleted)) => {
                        Attempt::TopicDeleted { dialog_id, deleted }
                    }
                    _ => Attempt::Failed {
                        error: telegram::Error::ThreadNotFound.to_string(),
                        kind: FailureKind::Other,
                    },
                }
            }
            Err(Failure::Telegram(telegram::Error::RetryAfter(after))) => Attempt::Retry {
                after,
                error: format!("429: retry after {}s", after.as_secs()),
                throttled: true,
            },
            Err(Failure::Telegram(telegram::Error::Migrated(to)))
                if used.chat.is_some_and(|from| from != to) =>
            {
                Attempt::Migrated {
                    from: used.chat.unwrap_or_default(),
                    to,
                }
            }
            Err(Failure::Telegram(err @ telegram::Error::Unauthorized)) => Attempt::TokenRejected {
                error: err.to_string(),
            },
            Err(Failure::Telegram(err)) if err.is_transient() => Attempt::Retry {
                after: self.retry_delay(row.attempts),
                error: err.to_string(),
                throttled: false,
            },
            Err(Failure::Telegram(err)) => Attempt::Failed {
                kind: match &err {
                    telegram::Error::Forbidden(description) if description.contains("blocked") => {
                        FailureKind::Blocked
                    }
                    _ => FailureKind::Other,
                },
                error: err.to_string(),
            },
            Err(Failure::NoTopic) => Attempt::Failed {
                error: "the dialog has no topic: creating it failed".into(),
                kind: FailureKind::Other,
            },
            // A read failed before any call: try again later.
            Err(Failure::Store(err)) => Attempt::Retry {
                after: self.database_retry_delay(row.attempts),
                error: format!("database: {err:#}"),
                throttled: false,
            },
        };
        (attempt, called)
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        crate::backoff::delay_from(
            self.retry_base,
            attempts,
            self.retry_base * MAX_RETRY_FACTOR,
        )
    }

    /// The pause before touching the database again after `tries` failures.
    fn database_retry_delay(&self, tries: u32) -> Duration {
        crate::backoff::delay_from(self.retry_base, tries, store::RETRY_MAX)
    }

    /// Makes the call. `Ok(Some(..))` when a topic was created; `used`
    /// tells where the call went (nothing set: no call was made).
    async fn execute(&self, job: &Job, used: &mut Used) -> Result<Option<Created>, Failure> {
        match job {
            Job::CreateTopic {
                dialog_id,
                name,
                replaces,
            } => {
                let dialog = self.dialog(*dialog_id).await?;
                if dialog.topic_id.is_some() {
                    return Ok(None);
                }
                used.chat = Some(dialog.backend_group);
                let params = CreateForumTopicParams::builder()
                    .chat_id(dialog.backend_group)
                    .name(name.clone())
                    .build();
                let topic = self.client.create_forum_topic(&params).await?;
                info!(bot = %self.bot, dialog = dialog.id, topic = topic.message_thread_id, "topic created");
                Ok(Some(Created {
                    dialog_id: dialog.id,
                    topic: i64::from(topic.message_thread_id),
                    name: name.clone(),
                    replaces: *replaces,
                }))
            }
            Job::Copy {
                to,
                from_chat,
                message_id,
                ..
            } => {
                let (chat, thread) = self.resolve(to).await?;
                *used = Used {
                    chat: Some(chat),
                    topic: thread.map(i64::from),
                };
                let params = CopyMessageParams::builder()
                    .chat_id(chat)
                    .maybe_message_thread_id(thread)
                    .from_chat_id(*from_chat)
                    .message_id(*message_id)
                    .build();
                self.client.copy_message(&params).await?;
                Ok(None)
            }
            Job::Text { to, text } => {
                let (chat, thread) = self.resolve(to).await?;
                *used = Used {
                    chat: Some(chat),
                    topic: thread.map(i64::from),
                };
                let params = SendMessageParams::builder()
                    .chat_id(chat)
                    .maybe_message_thread_id(thread)
                    .text(text.clone())
                    .build();
                self.client.send_message(&params).await?;
                Ok(None)
            }
            Job::CloseTopic { dialog_id } => {
                if let Some((chat, thread)) = self.topic_of(*dialog_id).await? {
                    *used = Used {
                        chat: Some(chat),
                        topic: Some(i64::from(thread)),
                    };
                    let params = CloseForumTopicParams::builder()
                        .chat_id(chat)
                        .message_thread_id(thread)
                        .build();
                    self.client.close_forum_topic(&params).await?;
                }
                Ok(None)
            }
            Job::ReopenTopic { dialog_id } => {
                if let Some((chat, thread)) = self.topic_of(*dialog_id).await? {
                    *used = Used {
                        chat: Some(chat),
                        topic: Some(i64::from(thread)),
                    };
                    let params = ReopenForumTopicParams::builder()
                        .chat_id(chat)
                        .message_thread_id(thread)
                        .build();
                    self.client.reopen_forum_topic(&params).await?;
                }
                Ok(None)
            }
        }
    }

    async fn dialog(&self, id: i64) -> Result<dialogs::Dialog, Failure> {
        self.store
            .run(move |conn| Ok(dialogs::by_id(conn, id)?))
            .await
            .map_err(Failure::Store)?
            .ok_or(Failure::NoTopic)
    }

    /// The dialog's (group, topic), if it has a topic.
    async fn topic_of(&self, dialog_id: i64) -> Result<Option<(i64, i32)>, Failure> {
        let dialog = self.dialog(dialog_id).await?;
        Ok(dialog.topic_id.and_then(|topic| {
            i32::try_from(topic)
                .ok()
                .map(|topic| (dialog.backend_group, topic))
        }))
    }

    /// The chat and thread a target stands for now.
    async fn resolve(&self, target: &Target) -> Result<(i64, Option<i32>), Failure> {
        match target {
            Target::User(user) => Ok((*user, None)),
            Target::General(group) => {
                let (bot, group) = (self.bot.clone(), *group);
                let current = self
                    .store
                    .run(move |conn| Ok(store::groups::current(conn, &bot, group)?))
                    .await
                    .map_err(Failure::Store)?;
                Ok((current, None))
            }
            Target::Topic(dialog) => match self.topic_of(*dialog).await? {
                Some((group, topic)) => Ok((group, Some(topic))),
                None => Err(Failure::NoTopic),
            },
        }
    }
}

enum Failure {
    Telegram(telegram::Error),
    /// The job's dialog has no topic (its creation failed for good).
    NoTopic,
    Store(anyhow::Error),
}

impl From<telegram::Error> for Failure {
    fn from(err: telegram::Error) -> Failure {
        Failure::Telegram(err)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Adds a report for the dispatcher to the inbox.
fn report_to_dispatcher(
    tx: &rusqlite::Transaction<'_>,
    bot: &str,
    report: &Report,
) -> anyhow::Result<()> {
    inbox::append(
        tx,
        bot,
        inbox::Kind::Report,
        &serde_json::to_string(report)?,
    )?;
    Ok(())
}

/// Pending jobs by lane, and which lanes may start their head job.
#[derive(Default)]
struct Lanes {
    lanes: HashMap<String, Lane>,
    /// Heads that may start now: (priority, job id, lane). May hold stale
    /// entries (a lane whose head changed); they are skipped.
    ready: BTreeSet<(Priority, i64, String)>,
    /// Lanes waiting to retry their head, by when.
    waiting: BinaryHeap<Reverse<(Instant, String)>>,
}

#[derive(Default)]
struct Lane {
    jobs: VecDeque<Row>,
    state: LaneState,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum LaneState {
    /// The head may start (it is in `ready`).
    #[default]
    Idle,
    /// The head is in flight, or its outcome waits to be recorded.
    Running,
    /// The head waits until a time (in `waiting`): a retry, or room in its chat.
    Parked,
}

impl Lanes {
    /// Queues a loaded job: at the end of its lane, or, for a topic
    /// creation, at the head (behind a running head).
    fn push(&mut self, row: Row) {
        let lane = self.lanes.entry(row.lane.clone()).or_default();
        let first = matches!(row.job, Ok(Job::CreateTopic { .. }));
        if first && lane.state == LaneState::Running {
            lane.jobs.insert(1.min(lane.jobs.len()), row);
        } else if first || lane.jobs.is_empty() {
            if lane.state == LaneState::Idle {
                self.ready.insert((row.priority, row.id, row.lane.clone()));
            }
            lane.jobs.push_front(row);
        } else {
            lane.jobs.push_back(row);
        }
    }

    /// Puts `row` before the head of a lane whose head just ended (its
    /// outcome was recorded): `row` starts next.
    fn put_first(&mut self, name: &str, row: Row) {
        let Some(lane) = self.lanes.get_mut(name) else {
            return;
        };
        lane.state = LaneState::Idle;
        self.ready.insert((row.priority, row.id, name.to_owned()));
        lane.jobs.push_front(row);
    }

    /// Takes the best ready head and marks its lane running.
    fn start_next(&mut self) -> Option<Row> {
        while let Some((_, id, name)) = self.ready.pop_first() {
            // A job must never run twice: skip entries that are stale.
            let Some(lane) = self.lanes.get_mut(&name) else {
                continue;
            };
            if lane.state != LaneState::Idle || lane.jobs.front().map(|head| head.id) != Some(id) {
                continue;
            }
            lane.state = LaneState::Running;
            return lane.jobs.front().cloned();
        }
        None
    }

    /// The job at the head of a lane: the running one, for a running lane.
    fn head(&self, name: &str) -> Option<&Row> {
        self.lanes.get(name).and_then(|lane| lane.jobs.front())
    }

    /// The head is finished: the next job of the lane becomes ready.
    fn advance(&mut self, name: &str) {
        let Some(lane) = self.lanes.get_mut(name) else {
            return;
        };
        lane.jobs.pop_front();
        lane.state = LaneState::Idle;
        match lane.jobs.front() {
            Some(next) => {
                self.ready.insert((next.priority, next.id, name.to_owned()));
            }
            None => {
                self.lanes.remove(name);
            }
        }
    }

    /// The head failed for now: it runs again at `at`, nothing else in its lane before it.
    fn retry(&mut self, name: &str, at: Instant) {
        if let Some(head) = self.lanes.get_mut(name).and_then(|l| l.jobs.front_mut()) {
            head.attempts += 1;
        }
        self.park(name, at);
    }

    /// The head may not start before `at`.
    fn park(&mut self, name: &str, at: Instant) {
        if let Some(lane) = self.lanes.get_mut(name) {
            lane.state = LaneState::Parked;
            self.waiting.push(Reverse((at, name.to_owned())));
        }
    }

    fn promote_due(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.waiting.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, name))) = self.waiting.pop() else {
                break;
            };
            if let Some(lane) = self.lanes.get_mut(&name) {
                if lane.state != LaneState::Parked {
                    continue;
                }
                lane.state = LaneState::Idle;
                if let Some(head) = lane.jobs.front() {
                    self.ready.insert((head.priority, head.id, name));
                }
            }
        }
    }

    fn next_retry(&self) -> Option<Instant> {
        self.waiting.peek().map(|Reverse((at, _))| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, lane: &str, priority: Priority) -> Row {
        Row {
            id,
            lane: lane.into(),
            priority,
            chat: 1,
            job: Ok(Job::Text {
                to: Target::User(1),
                text: id.to_string(),
            }),
            attempts: 0,
        }
    }

    #[test]
    fn one_job_per_lane_at_a_time_in_priority_then_age_order() {
        let mut lanes = Lanes::default();
        lanes.push(row(1, "a", Priority::Inbound));
        lanes.push(row(2, "a", Priority::Reply));
        lanes.push(row(3, "b", Priority::Reply));
        lanes.push(row(4, "c", Priority::TopicEdit));
        let order: Vec<i64> = std::iter::from_fn(|| lanes.start_next().map(|r| r.id)).collect();
        // Lane a's reply (2) waits behind its own older job (1).
        assert_eq!(order, [3, 1, 4]);
        lanes.advance("a");
        assert_eq!(lanes.start_next().map(|r| r.id), Some(2));
        assert!(lanes.start_next().is_none());
    }

    #[test]
    fn a_retrying_head_blocks_its_lane_until_due() {
        let mut lanes = Lanes::default();
        lanes.push(row(1, "a", Priority::Reply));
        lanes.push(row(2, "a", Priority::Reply));
        lanes.push(row(3, "b", Priority::Reply));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        let now = Instant::now();
        lanes.retry("a", now + Duration::from_secs(5));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(3));
        assert!(lanes.start_next().is_none());
        lanes.promote_due(now + Duration::from_secs(4));
        assert!(lanes.start_next().is_none());
        assert_eq!(lanes.next_retry(), Some(now + Duration::from_secs(5)));
        lanes.promote_due(now + Duration::from_secs(5));
        let retried = lanes.start_next().unwrap();
        assert_eq!((retried.id, retried.attempts), (1, 1));
    }

    fn create_topic(id: i64, lane: &str) -> Row {
        Row {
            job: Ok(Job::CreateTopic {
                dialog_id: 1,
                name: "x".into(),
                replaces: None,
            }),
            ..row(id, lane, Priority::Inbound)
        }
    }

    #[test]
    fn a_topic_creation_heads_its_lane_but_never_overtakes_a_running_head() {
        let mut lanes = Lanes::default();
        lanes.push(row(1, "t", Priority::Inbound));
        lanes.push(row(2, "t", Priority::Inbound));
        lanes.push(create_topic(3, "t"));
        assert_eq!(
            lanes.start_next().map(|r| r.id),
            Some(3),
            "loaded idle: first"
        );
        lanes.advance("t");
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        lanes.push(create_topic(4, "t"));
        assert!(lanes.start_next().is_none(), "1 is still running");
        lanes.advance("t");
        let order: Vec<i64> = std::iter::from_fn(|| {
            let id = lanes.start_next()?.id;
            lanes.advance("t");
            Some(id)
        })
        .collect();
        assert_eq!(order, [4, 2]);
    }

    #[test]
    fn a_replacement_goes_before_the_head_that_found_the_topic_deleted() {
        let mut lanes = Lanes::default();
        lanes.push(row(1, "t", Priority::Inbound));
        lanes.push(row(2, "t", Priority::Inbound));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        lanes.put_first("t", create_topic(9, "t"));
        let order: Vec<i64> = std::iter::from_fn(|| {
            let id = lanes.start_next()?.id;
            lanes.advance("t");
            Some(id)
        })
        .collect();
        assert_eq!(order, [9, 1, 2]);
    }
}
