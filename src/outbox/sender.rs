//! The sender: executes one bot's outbox jobs against the Bot API.
//!
//! Algorithm. The outbox table is the source of truth; the sender keeps an
//! in-memory view of the pending jobs, grouped in lanes (one per dialog):
//!
//! 1. Load every pending job with an id above the last one loaded (all of them
//!    at start, so a restart goes on where the last run stopped), appending
//!    each to its lane. The dispatcher wakes the sender after each commit.
//! 2. A lane whose head is not running and not waiting for a retry is *ready*.
//!    Ready heads start in priority order, then age, up to `MAX_IN_FLIGHT` at
//!    once; a lane never has two jobs running, so order per dialog is kept.
//!    Before a head starts, the [`Limiter`] must have room for its chat: if
//!    the bot's budget is spent nothing starts; if only its chat's is, that
//!    lane waits until the chat's window frees and the next lane goes.
//! 3. When a call ends, its result is recorded in SQLite before the lane moves
//!    on: done jobs leave the outbox; a transient failure (network, timeout,
//!    5xx) keeps the job at the head of its lane and retries it after an
//!    exponential backoff with jitter (from `retry_base`, capped at 30 times
//!    it); a 429 waits exactly its `retry_after`, tells the limiter, and does
//!    not count as an attempt; a permanent failure (other 4xx) marks the job
//!    failed and reports it to the dispatcher.
//! 4. Two failures are mended here, as delivery mechanics, at the head of the
//!    lane so order is kept: "message thread not found" (the dialog's topic
//!    was deleted: a new one with the same name is created, once per
//!    deletion, the dispatcher is told so it can add a note, and the job is
//!    retried there) and `migrate_to_chat_id` (the group moved: the move is
//!    recorded, the bot's dialogs follow it, and the job is retried).
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
use crate::config::Limits;
use crate::store::{self, Store, dialogs, inbox, outbox::Row};
use crate::telegram::{self, Client};

/// Calls in flight at once per bot.
const MAX_IN_FLIGHT: usize = 16;
/// Jobs loaded from SQLite per query.
const LOAD_BATCH: usize = 1000;
/// Longest wait between two tries of a job, in multiples of the first one
/// (30 s in production): after an outage, waiting messages go out soon.
const MAX_RETRY_FACTOR: u32 = 30;
/// Longest wait before reading the outbox again after a database error.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// How long a stopping sender lets calls in flight finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything one bot's sender needs.
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
}

/// How one try of a job ended.
enum Attempt {
    /// `created`: a topic was created for a dialog: (dialog, topic, name).
    Done {
        created: Option<(i64, i64, String)>,
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
    /// The dialog's topic was deleted and has been replaced: retry now.
    TopicReplaced {
        dialog_id: i64,
    },
    /// The group `from` moved to chat id `to`: follow it and retry now.
    Migrated {
        from: i64,
        to: i64,
    },
}

/// Where a call went, for what its failure means.
#[derive(Default)]
struct Used {
    chat: Option<i64>,
    topic: Option<i64>,
}

impl Sender {
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut lanes = Lanes::default();
        let mut limiter = Limiter::new(this.limits);
        let mut last_loaded = 0;
        let mut in_flight: JoinSet<(String, Attempt)> = JoinSet::new();
        // The lane of each task in flight, to recover it if the task fails.
        let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut load_failures = 0;
        loop {
            match this.load(last_loaded, &mut lanes).await {
                Ok(last) => {
                    last_loaded = last;
                    load_failures = 0;
                }
                Err(err) => {
                    error!(bot = %this.bot, cause = %format!("{err:#}"), "cannot read the outbox");
                    load_failures += 1;
                    let pause = crate::backoff::delay(load_failures, MAX_RETRY_DELAY);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            }
            let now = Instant::now();
            lanes.promote_due(now);
            let mut bot_ready_at = None;
            while in_flight.len() < MAX_IN_FLIGHT {
                if let Some(at) = limiter.bot_ready_at(now) {
                    bot_ready_at = Some(at);
                    break;
                }
                let Some(row) = lanes.start_next() else { break };
                if let Err(at) = limiter.try_acquire(row.chat, now) {
                    lanes.park(&row.lane, at);
                    continue;
                }
                debug!(bot = %this.bot, job = row.id, lane = %row.lane, "sending");
                let sender = Arc::clone(&this);
                let lane = row.lane.clone();
                let task = in_flight.spawn(async move {
                    let attempt = sender.attempt(&row).await;
                    (row.lane, attempt)
                });
                running.insert(task.id(), lane);
            }
            let wake_at = match (lanes.next_retry(), bot_ready_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(joined) = in_flight.join_next_with_id() => {
                    let joined = this.lane_of(joined, &mut running, &mut lanes, &mut limiter);
                    this.finish(joined, &mut lanes, &mut limiter).await;
                }
                () = this.wake.notified() => {}
                () = sleep_until(wake_at) => {}
            }
        }
        // Calls already on the wire: let them land so their results are
        // recorded; whatever does not finish in time stays pending and is sent
        // again after a restart.
        let drain = async {
            while let Some(joined) = in_flight.join_next_with_id().await {
                let joined = this.lane_of(joined, &mut running, &mut lanes, &mut limiter);
                this.finish(joined, &mut lanes, &mut limiter).await;
            }
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            warn!(bot = %this.bot, "stopped with calls in flight; they are sent again on restart");
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
        joined: Result<(tokio::task::Id, (String, Attempt)), tokio::task::JoinError>,
        running: &mut HashMap<tokio::task::Id, String>,
        lanes: &mut Lanes,
        limiter: &mut Limiter,
    ) -> Option<(String, Attempt)> {
        match joined {
            Ok((id, result)) => {
                running.remove(&id);
                Some(result)
            }
            Err(err) => {
                let lane = running.remove(&err.id())?;
                if err.is_cancelled() {
                    return None;
                }
                error!(bot = %self.bot, lane = %lane, cause = %err, "a send task failed; retrying its job");
                if let Some(head) = lanes.head(&lane) {
                    limiter.finished(head.chat, Instant::now());
                }
                lanes.retry(&lane, Instant::now() + self.retry_delay(0));
                None
            }
        }
    }

    async fn finish(
        &self,
        joined: Option<(String, Attempt)>,
        lanes: &mut Lanes,
        limiter: &mut Limiter,
    ) {
        let Some((lane, attempt)) = joined else {
            return;
        };
        let Some(row) = lanes.head(&lane) else { return };
        let (id, attempts, chat, job) = (row.id, row.attempts, row.chat, row.job.clone());
        limiter.finished(chat, Instant::now());
        let recorded = match attempt {
            Attempt::Done { created } => {
                let result = self
                    .store
                    .write(move |tx| {
                        if let Some((dialog, topic, name)) = created {
                            dialogs::set_topic(tx, dialog, topic, &name)?;
                        }
                        Ok(store::outbox::complete(tx, id)?)
                    })
                    .await;
                result.map(|()| lanes.advance(&lane))
            }
            Attempt::TopicReplaced { dialog_id } => {
                let bot = self.bot.clone();
                let result = self
                    .store
                    .write(move |tx| {
                        let report = serde_json::to_string(&Report::TopicReplaced { dialog_id })?;
                        inbox::append(tx, &bot, inbox::Kind::Report, &report)?;
                        Ok(())
                    })
                    .await;
                if result.is_ok() {
                    self.dispatcher_wake.notify_one();
                }
                // The job itself goes again right away, into the new topic.
                lanes.park(&lane, Instant::now());
                result
            }
            Attempt::Retry {
                after,
                error,
                throttled,
            } => {
                if throttled {
                    limiter.throttled(chat, after, Instant::now());
                }
                debug!(bot = %self.bot, job = id, attempts, cause = %error, "will retry in {after:?}");
                let result = self
                    .store
                    .write(move |tx| Ok(store::outbox::record_retry(tx, id, &error, !throttled)?))
                    .await;
                if throttled {
                    lanes.park(&lane, Instant::now() + after);
                } else {
                    lanes.retry(&lane, Instant::now() + after);
                }
                result
            }
            Attempt::Migrated { from, to } => {
                warn!(bot = %self.bot, from, to,
                    "a backend group moved to a new chat id; following it (update bots.toml to the new id)");
                let bot = self.bot.clone();
                let result = self
                    .store
                    .write(move |tx| Ok(store::groups::record_migration(tx, &bot, from, to)?))
                    .await;
                lanes.park(&lane, Instant::now());
                result
            }
            Attempt::Failed { error, kind } => {
                warn!(bot = %self.bot, job = id, cause = %error, "job failed for good");
                let bot = self.bot.clone();
                let result = self
                    .store
                    .write(move |tx| {
                        store::outbox::fail(tx, id, &error)?;
                        if let Ok(job) = job {
                            let report =
                                serde_json::to_string(&Report::Failed { job, error, kind })?;
                            inbox::append(tx, &bot, inbox::Kind::Report, &report)?;
                        }
                        Ok(())
                    })
                    .await;
                if result.is_ok() {
                    self.dispatcher_wake.notify_one();
                }
                result.map(|()| lanes.advance(&lane))
            }
        };
        if let Err(err) = recorded {
            // The result could not be stored: try the job again later rather
            // than lose it (at worst it is delivered twice).
            error!(bot = %self.bot, job = id, cause = %format!("{err:#}"), "cannot record a job's result");
            lanes.retry(&lane, Instant::now() + Duration::from_secs(1));
        }
    }

    async fn attempt(&self, row: &Row) -> Attempt {
        let job = match &row.job {
            Ok(job) => job,
            Err(err) => {
                return Attempt::Failed {
                    error: format!("this version cannot read the job: {err}"),
                    kind: FailureKind::Other,
                };
            }
        };
        let mut used = Used::default();
        match self.execute(job, &mut used).await {
            Ok(created) => Attempt::Done { created },
            Err(Failure::Telegram(err)) if err.is_not_modified() => Attempt::Done { created: None },
            Err(Failure::Telegram(telegram::Error::ThreadNotFound)) => {
                match (job.dialog(), used.topic) {
                    (Some(dialog_id), Some(deleted)) => {
                        self.replace_topic(job, dialog_id, deleted, row.attempts)
                            .await
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
            Err(Failure::Store(err)) => self.retry_after_database_error(row.attempts, &err),
        }
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        crate::backoff::delay_from(
            self.retry_base,
            attempts,
            self.retry_base * MAX_RETRY_FACTOR,
        )
    }

    /// The dialog's topic `deleted` is gone: create a new one with the same
    /// name (unless another job did already) and have the job retried.
    async fn replace_topic(
        &self,
        job: &Job,
        dialog_id: i64,
        deleted: i64,
        attempts: u32,
    ) -> Attempt {
        if matches!(job, Job::CloseTopic { .. }) {
            // Closing a topic that no longer exists: nothing left to close;
            // the dialog gets a new topic when it reopens.
            let forgotten = self
                .store
                .write(move |tx| Ok(dialogs::forget_topic(tx, dialog_id, deleted)?))
                .await;
            return match forgotten {
                Ok(_) => Attempt::Done { created: None },
                Err(err) => self.retry_after_database_error(attempts, &err),
            };
        }
        let dialog = match self.dialog(dialog_id).await {
            Ok(dialog) => dialog,
            Err(Failure::Store(err)) => return self.retry_after_database_error(attempts, &err),
            Err(_) => {
                return Attempt::Failed {
                    error: "the dialog is gone".into(),
                    kind: FailureKind::Other,
                };
            }
        };
        let name = dialog
            .topic_name
            .unwrap_or_else(|| format!("Dialog {dialog_id}"));
        let params = CreateForumTopicParams::builder()
            .chat_id(dialog.backend_group)
            .name(name.clone())
            .build();
        let created = match self.client.create_forum_topic(&params).await {
            Ok(topic) => i64::from(topic.message_thread_id),
            Err(telegram::Error::RetryAfter(after)) => {
                return Attempt::Retry {
                    after,
                    error: format!(
                        "replacing the deleted topic: 429: retry after {}s",
                        after.as_secs()
                    ),
                    throttled: true,
                };
            }
            Err(err) if err.is_transient() => {
                return Attempt::Retry {
                    after: self.retry_delay(attempts),
                    error: format!("replacing the deleted topic: {err}"),
                    throttled: false,
                };
            }
            Err(err) => {
                return Attempt::Failed {
                    error: format!("the topic was deleted and a new one cannot be created: {err}"),
                    kind: FailureKind::Other,
                };
            }
        };
        let recorded = self
            .store
            .write(move |tx| {
                Ok(dialogs::replace_topic(
                    tx, dialog_id, deleted, created, &name,
                )?)
            })
            .await;
        match recorded {
            Ok(()) => {
                warn!(bot = %self.bot, dialog = dialog_id, deleted, created, "the dialog's topic was deleted; replaced it");
                Attempt::TopicReplaced { dialog_id }
            }
            Err(err) => self.retry_after_database_error(attempts, &err),
        }
    }

    /// A database error is passing (a lock, a full disk being freed): try
    /// the job again later.
    fn retry_after_database_error(&self, attempts: u32, err: &anyhow::Error) -> Attempt {
        Attempt::Retry {
            after: self.retry_delay(attempts),
            error: format!("database: {err:#}"),
            throttled: false,
        }
    }

    /// Makes the call. `Ok(Some((dialog, topic, name)))` when a topic was
    /// created; `used` tells where the call went.
    async fn execute(
        &self,
        job: &Job,
        used: &mut Used,
    ) -> Result<Option<(i64, i64, String)>, Failure> {
        match job {
            Job::CreateTopic { dialog_id, name } => {
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
                Ok(Some((
                    dialog.id,
                    i64::from(topic.message_thread_id),
                    name.clone(),
                )))
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

/// Pending jobs by lane, and which lanes may start their head job.
#[derive(Default)]
struct Lanes {
    lanes: HashMap<String, Lane>,
    /// Heads that may start now: (priority, job id, lane).
    ready: BTreeSet<(Priority, i64, String)>,
    /// Lanes waiting to retry their head, by when.
    waiting: BinaryHeap<Reverse<(Instant, String)>>,
}

#[derive(Default)]
struct Lane {
    jobs: VecDeque<Row>,
    /// The head is running or waiting (for a retry, or for room in its chat).
    busy: bool,
}

impl Lanes {
    fn push(&mut self, row: Row) {
        let lane = self.lanes.entry(row.lane.clone()).or_default();
        if lane.jobs.is_empty() && !lane.busy {
            self.ready.insert((row.priority, row.id, row.lane.clone()));
        }
        lane.jobs.push_back(row);
    }

    /// Takes the best ready head and marks its lane busy.
    fn start_next(&mut self) -> Option<Row> {
        while let Some((_, id, name)) = self.ready.pop_first() {
            // Each lane is in `ready` at most once, with its head; stay safe
            // against a stale entry all the same: a job must never run twice.
            let Some(lane) = self.lanes.get_mut(&name) else {
                continue;
            };
            if lane.busy || lane.jobs.front().map(|head| head.id) != Some(id) {
                continue;
            }
            lane.busy = true;
            return lane.jobs.front().cloned();
        }
        None
    }

    /// The job at the head of a lane: the running one, for a busy lane.
    fn head(&self, name: &str) -> Option<&Row> {
        self.lanes.get(name).and_then(|lane| lane.jobs.front())
    }

    /// The head is finished: the next job of the lane becomes ready.
    fn advance(&mut self, name: &str) {
        let Some(lane) = self.lanes.get_mut(name) else {
            return;
        };
        lane.jobs.pop_front();
        lane.busy = false;
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

    /// The head may not start before `at` (its chat has no room yet).
    fn park(&mut self, name: &str, at: Instant) {
        if let Some(lane) = self.lanes.get_mut(name) {
            lane.busy = true;
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
                lane.busy = false;
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
}
