//! The sender: executes one bot's outbox jobs against the Bot API.
//!
//! Algorithm. The outbox table is the source of truth; the sender keeps a
//! bounded in-memory view of the pending jobs, grouped in lanes (one per
//! dialog and direction; see `lanes`):
//!
//! 1. At start the rate limiter's windows are restored from the calls the
//!    last run recorded (the `sends` table), so a restart grants no fresh
//!    budget.
//! 2. Jobs are loaded a *window* per priority: at most [`WINDOW`] jobs of
//!    each priority are held, the oldest first, and more are loaded when the
//!    dispatcher says it queued some of that priority ([`Wake`]) or when a
//!    window runs low. Every job of
//!    a lane has the lane's priority, so a lane's jobs load in order; a
//!    backlog of a million broadcast messages holds [`WINDOW`] of them in
//!    memory, and a reply queued behind them loads at once, in its own
//!    window.
//! 3. A lane whose head is neither running nor waiting is *ready*. Ready
//!    heads start in priority order, then age, up to `MAX_IN_FLIGHT` at once;
//!    a lane never has two jobs running, so order per lane is kept. Before a
//!    head starts, the [`Limiter`] must have room for its chat: if the bot's
//!    budget is spent nothing starts; if only its chat's is, that lane waits
//!    until the chat's window frees and the next lane goes. A job that ends
//!    without a call (a topic that exists already) gives its place back.
//! 4. When a call ends, its outcome is recorded in SQLite (through the one
//!    writer, which batches it with others), with the answer's time for the
//!    limiter's history and, for a copy, its message links, before the lane
//!    moves on: done jobs leave the outbox; a transient failure (network,
//!    timeout, 5xx) keeps the job at the head of its lane and retries it
//!    after an exponential backoff with jitter (from `retry_base`, capped at
//!    30 times it); a 429 waits exactly its `retry_after`, tells the limiter,
//!    and does not count as an attempt; a permanent failure (other 4xx) marks
//!    the job failed and reports it to the dispatcher. An outcome that cannot
//!    be recorded (a full disk) is kept in memory and its write retried with
//!    backoff while the lane waits: the call is never made twice for one
//!    outbox row.
//! 5. A 401 (or 404) means Telegram rejected the token ([`TokenGate`]): no
//!    job starts until the bot's poller finds the token accepted again; the
//!    job that saw it stays at the head of its lane, untouched, and the queue
//!    is delivered in order afterwards.
//! 6. Two failures are mended here, as delivery mechanics, at the head of the
//!    lane so order is kept: "message thread not found" (the dialog's topic
//!    was deleted: in one transaction the sender forgets it and queues the
//!    creation of a new topic with the same name at the head of the lane, an
//!    outbox row like any other; the job runs again after it, in the new
//!    topic, and once the topic exists the dispatcher is told so it can add a
//!    notice) and `migrate_to_chat_id` (the group moved: the move is
//!    recorded, the bot's dialogs follow it, and the job is retried).
//!
//! The sender decides nothing about the product: what to tell people about a
//! failure is the dispatcher's business.

mod execute;
mod lanes;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::limiter::Limiter;
use super::queue::{self, Row, Unreadable};
use super::{FailureKind, Job, Lane, Priority, Purpose, SenderReport};
use crate::clock::unix_now_ms;
use crate::config::Limits;
use crate::store::links::{self, Direction, Link};
use crate::store::{self, Store, dialogs, inbox};
use crate::telegram::Client;
use crate::telegram::gate::TokenGate;
use crate::throttle::Throttle;
use execute::{Attempt, Copied, Created, Place, Places};
use lanes::Lanes;

/// Calls in flight at once per bot.
const MAX_IN_FLIGHT: usize = 16;
/// Jobs of one priority held in memory at most; more load when fewer than
/// half of that are left.
pub const WINDOW: usize = 5_000;
/// Longest wait between two tries of a job, in multiples of the first one
/// (30 s in production): after an outage, waiting messages go out soon.
const MAX_RETRY_FACTOR: u32 = 30;
/// How long a stopping sender lets calls in flight finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one warning per this long about calls that failed and will be
/// retried; the others are counted into the next one.
const RETRY_WARNING_EVERY: Duration = Duration::from_secs(10);

/// How whoever queued jobs for a bot wakes its sender, saying which
/// priorities got them: the sender then reads only those windows again.
#[derive(Debug, Default)]
pub struct Wake {
    notify: Notify,
    /// Bit `p` set: jobs of priority `p` were queued since the last look.
    priorities: AtomicU8,
}

impl Wake {
    /// Jobs of `priorities` were committed for this bot.
    pub fn jobs_queued(&self, priorities: PrioritySet) {
        self.priorities.fetch_or(priorities.0, Ordering::SeqCst);
        self.notify.notify_one();
    }

    async fn notified(&self) {
        self.notify.notified().await;
    }

    /// The priorities that got jobs since the last call.
    fn take(&self) -> PrioritySet {
        PrioritySet(self.priorities.swap(0, Ordering::SeqCst))
    }
}

/// A set of priorities, as bits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PrioritySet(u8);

impl PrioritySet {
    pub const ALL: PrioritySet = PrioritySet(u8::MAX);

    #[must_use]
    pub fn with(self, priority: Priority) -> PrioritySet {
        PrioritySet(self.0 | (1 << priority as u8))
    }

    #[must_use]
    pub fn contains(self, priority: Priority) -> bool {
        self.0 & (1 << priority as u8) != 0
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    #[must_use]
    pub fn union(self, other: PrioritySet) -> PrioritySet {
        PrioritySet(self.0 | other.0)
    }
}

/// Everything one bot's sender needs.
#[derive(Clone)]
pub struct Sender {
    pub bot: String,
    pub store: Store,
    pub client: Client,
    /// Woken by the dispatcher (or the scheduler) after it committed new
    /// jobs for this bot.
    pub wake: Arc<Wake>,
    /// Notified after a [`SenderReport`] was added to the inbox.
    pub dispatcher_wake: Arc<Notify>,
    /// This bot's rate limits.
    pub limits: Limits,
    /// The first retry's delay after a transient failure (doubling after).
    pub retry_base: Duration,
    /// Whether Telegram accepts the token; shared with the bot's poller.
    pub token: TokenGate,
    /// Where dialogs' topics are (see `execute`).
    places: Arc<Places>,
}

impl Sender {
    /// A sender with an empty cache of places.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        bot: String,
        store: Store,
        client: Client,
        wake: Arc<Wake>,
        dispatcher_wake: Arc<Notify>,
        limits: Limits,
        retry_base: Duration,
        token: TokenGate,
    ) -> Sender {
        Sender {
            bot,
            store,
            client,
            wake,
            dispatcher_wake,
            limits,
            retry_base,
            token,
            places: Arc::default(),
        }
    }
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
        /// The links to record: the job's copies, as its purpose reads them.
        links: Vec<Link>,
    },
    Retry {
        error: String,
        /// When to try again.
        at: Instant,
        /// A 429: waits `at` without counting as an attempt.
        throttled: bool,
    },
    Failed {
        /// `None` for a row this version cannot read.
        job: Option<Job>,
        error: String,
        kind: FailureKind,
    },
    /// Forget the deleted topic; for a job other than closing it, queue a
    /// replacement topic at the head of `lane`.
    TopicDeleted {
        dialog: i64,
        deleted: i64,
        close: bool,
        lane: Lane,
    },
    Migrated {
        from: i64,
        to: i64,
    },
}

/// An outcome whose record failed, waiting for its write to be retried.
struct Unrecorded {
    lane: Option<Lane>,
    outcome: Outcome,
    due: Instant,
    tries: u32,
}

/// How far each priority's window has been loaded.
#[derive(Default, Clone, Copy)]
struct Window {
    /// The highest id loaded.
    last: i64,
    /// The last load found nothing more: load again only when woken.
    exhausted: bool,
}

/// The sender's working state, owned by its loop.
struct State {
    lanes: Lanes,
    limiter: Limiter,
    windows: [Window; Priority::ALL.len()],
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
            windows: [Window::default(); Priority::ALL.len()],
            unrecorded: VecDeque::new(),
            retry_warnings: Throttle::new(RETRY_WARNING_EVERY),
        };
        if !this.restore_limiter(&mut state.limiter, &shutdown).await {
            return;
        }
        let mut in_flight: JoinSet<(Lane, Attempt, bool)> = JoinSet::new();
        // The lane of each task in flight, to recover it if the task fails.
        let mut running: HashMap<tokio::task::Id, Lane> = HashMap::new();
        let mut load_failures = 0;
        loop {
            match this.load(&mut state).await {
                Ok(()) => load_failures = 0,
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
            // Biased, and the wake before the calls that end: under a steady
            // stream of ending calls a wake must still be seen at once, or a
            // reply would wait for a broadcast to finish.
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = this.wake.notified() => {
                    // New jobs were committed: their windows may grow.
                    let queued = this.wake.take();
                    for priority in Priority::ALL {
                        if queued.contains(priority) {
                            state.windows[priority as usize].exhausted = false;
                        }
                    }
                }
                Some(joined) = in_flight.join_next_with_id() => {
                    // Every call that has ended by now, recorded together:
                    // one commit for all of them.
                    let mut ended = Vec::new();
                    let mut next = Some(joined);
                    while let Some(joined) = next {
                        if let Some(call) = this.lane_of(joined, &mut running, &mut state) {
                            ended.extend(this.finish(&mut state, call));
                        }
                        next = in_flight.try_join_next_with_id();
                    }
                    this.settle(&mut state, ended).await;
                }
                () = this.token.accepted(), if paused => {
                    info!(bot = %this.bot, "the token is accepted again; sending resumes");
                }
                () = crate::clock::sleep_until(wake_at) => {}
            }
        }
        // Calls already on the wire: let them land so their results are
        // recorded; whatever does not finish in time stays pending and is sent
        // again after a restart.
        let drain = async {
            while let Some(joined) = in_flight.join_next_with_id().await {
                if let Some(call) = this.lane_of(joined, &mut running, &mut state) {
                    let ended = this.finish(&mut state, call);
                    this.settle(&mut state, ended.into_iter().collect()).await;
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

    /// Tops up the windows that are low and may have more; rows this version
    /// cannot read are failed on the spot.
    async fn load(&self, state: &mut State) -> anyhow::Result<()> {
        // The windows to top up, read in one trip to the database.
        let wanted: Vec<(Priority, i64, usize)> = Priority::ALL
            .into_iter()
            .filter_map(|priority| {
                let window = state.windows[priority as usize];
                let held = state.lanes.held(priority);
                (!window.exhausted && held <= WINDOW / 2).then_some((
                    priority,
                    window.last,
                    WINDOW - held,
                ))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let bot = self.bot.clone();
        // Read through the writer: the rows were just written there, and its
        // connection's page cache is warm, while a pooled reader's cache is
        // dropped by every commit; a thousand senders loading at once are
        // far cheaper this way.
        let loaded = self
            .store
            .write(move |tx| {
                let mut loaded = Vec::with_capacity(wanted.len());
                for (priority, after, room) in wanted {
                    let rows = queue::pending_window(tx, &bot, priority, after, room)?;
                    loaded.push((priority, room, rows));
                }
                Ok(loaded)
            })
            .await?;
        let mut unreadable = Vec::new();
        for (priority, room, rows) in loaded {
            let window = &mut state.windows[priority as usize];
            window.exhausted = rows.len() < room;
            for row in rows {
                match row {
                    Ok(row) => {
                        window.last = row.id;
                        state.lanes.push(row);
                    }
                    Err(Unreadable { id, error }) => {
                        window.last = id;
                        warn!(bot = %self.bot, job = id, cause = %error, "job failed for good");
                        let change = Change::Failed {
                            job: None,
                            error,
                            kind: FailureKind::Other,
                        };
                        let outcome = Outcome {
                            id,
                            sent: None,
                            change,
                        };
                        unreadable.push((None, outcome));
                    }
                }
            }
        }
        self.settle(state, unreadable).await;
        Ok(())
    }

    /// Matches a finished task to its lane. A task that failed (only a bug
    /// can make one panic) leaves its job pending: the lane retries it later
    /// rather than stall.
    fn lane_of(
        &self,
        joined: Result<(tokio::task::Id, (Lane, Attempt, bool)), tokio::task::JoinError>,
        running: &mut HashMap<tokio::task::Id, Lane>,
        state: &mut State,
    ) -> Option<(Lane, Attempt, bool)> {
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

    /// Takes a call's end: tells the limiter and says what to record
    /// (nothing, for a rejected token: the job stays as it was).
    fn finish(
        &self,
        state: &mut State,
        (lane, attempt, called): (Lane, Attempt, bool),
    ) -> Option<(Option<Lane>, Outcome)> {
        let row = state.lanes.head(&lane)?;
        let (id, attempts, chat) = (row.id, row.attempts, row.chat);
        let job = row.job.clone();
        let now = Instant::now();
        if called {
            state.limiter.finished(chat, now);
        } else {
            state.limiter.cancel(chat);
        }
        let change = match attempt {
            Attempt::Done { created, copied } => Change::Done {
                created,
                links: copied.map_or_else(Vec::new, |copied| links_of(&job.purpose, &copied)),
            },
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
                Change::Failed {
                    job: Some(job),
                    error,
                    kind,
                }
            }
            Attempt::TopicDeleted { dialog, deleted } => {
                warn!(bot = %self.bot, dialog, deleted,
                    "the dialog's topic was deleted; a new one with the same name replaces it");
                Change::TopicDeleted {
                    dialog,
                    deleted,
                    close: matches!(job.action, super::Action::CloseTopic { .. }),
                    lane: lane.clone(),
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
                return None;
            }
        };
        let outcome = Outcome {
            id,
            sent: called.then(|| (chat, unix_now_ms())),
            change,
        };
        Some((Some(lane), outcome))
    }

    /// Records outcomes (in one transaction) and moves their lanes on; if
    /// the database refuses, keeps them for [`Sender::record_again`] (their
    /// lanes wait).
    async fn settle(&self, state: &mut State, ended: Vec<(Option<Lane>, Outcome)>) {
        if ended.is_empty() {
            return;
        }
        let outcomes: Vec<Outcome> = ended.iter().map(|(_, o)| o.clone()).collect();
        match self.record(outcomes).await {
            Ok(queued) => {
                for ((lane, outcome), queued) in ended.into_iter().zip(queued) {
                    self.apply(state, lane.as_ref(), &outcome.change, queued);
                }
            }
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(bot = %self.bot, calls = ended.len(), cause = %format!("{err:#}"),
                        "cannot record calls' results; keeping them and trying again");
                }
                let due = Instant::now() + self.database_retry_delay(0);
                for (lane, outcome) in ended {
                    state.unrecorded.push_back(Unrecorded {
                        lane,
                        outcome,
                        due,
                        tries: 1,
                    });
                }
            }
        }
    }

    /// Retries the records that are due, together.
    async fn record_again(&self, state: &mut State) {
        let now = Instant::now();
        if state.unrecorded.front().is_none_or(|next| next.due > now) {
            return;
        }
        let due = state.unrecorded.iter().take_while(|u| u.due <= now).count();
        let outcomes: Vec<Outcome> = state
            .unrecorded
            .iter()
            .take(due)
            .map(|u| u.outcome.clone())
            .collect();
        match self.record(outcomes).await {
            Ok(queued) => {
                let done: Vec<Unrecorded> = state.unrecorded.drain(..due).collect();
                for (done, queued) in done.into_iter().zip(queued) {
                    self.apply(state, done.lane.as_ref(), &done.outcome.change, queued);
                }
            }
            Err(_) => {
                // The store logs the episode; wait and try again.
                let tries = state.unrecorded.front().map_or(1, |u| u.tries);
                let next = now + self.database_retry_delay(tries);
                for waiting in state.unrecorded.iter_mut().take(due) {
                    waiting.tries += 1;
                    waiting.due = next;
                }
            }
        }
    }

    /// Writes outcomes in one transaction; for each, the replacement
    /// topic's creation job when one was queued.
    async fn record(&self, outcomes: Vec<Outcome>) -> anyhow::Result<Vec<Option<Row>>> {
        let bot = self.bot.clone();
        self.store
            .write(move |tx| {
                outcomes
                    .into_iter()
                    .map(|outcome| record_one(tx, &bot, outcome))
                    .collect()
            })
            .await
    }

    /// Moves the lane on after its outcome was recorded, and keeps the cache
    /// of places in step with what was recorded.
    fn apply(&self, state: &mut State, lane: Option<&Lane>, change: &Change, queued: Option<Row>) {
        let lanes = &mut state.lanes;
        match change {
            Change::Done { created, .. } => {
                if let Some(created) = created {
                    let place = Place {
                        group: created.group,
                        topic: Some(created.topic),
                    };
                    self.places.set(created.dialog, place);
                    // A report, or updates held until the topic existed.
                    self.dispatcher_wake.notify_one();
                }
                if let Some(lane) = lane {
                    lanes.advance(lane);
                }
            }
            Change::Failed { .. } => {
                self.dispatcher_wake.notify_one();
                if let Some(lane) = lane {
                    lanes.advance(lane);
                }
            }
            Change::Retry { at, throttled, .. } => {
                if let Some(lane) = lane {
                    if *throttled {
                        lanes.park(lane, *at);
                    } else {
                        lanes.retry(lane, *at);
                    }
                }
            }
            Change::TopicDeleted { dialog, close, .. } => {
                self.places.forget(*dialog);
                let Some(lane) = lane else { return };
                match (close, queued) {
                    (true, _) => lanes.advance(lane),
                    (false, Some(create)) => lanes.put_first(lane, create),
                    (false, None) => lanes.park(lane, Instant::now()),
                }
            }
            Change::Migrated { from, .. } => {
                self.places.forget_group(*from);
                if let Some(lane) = lane {
                    lanes.park(lane, Instant::now());
                }
            }
        }
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
}

/// Writes one outcome in `tx`; returns the replacement topic's creation
/// job when one was queued.
fn record_one(
    tx: &rusqlite::Transaction<'_>,
    bot: &str,
    outcome: Outcome,
) -> anyhow::Result<Option<Row>> {
    let bot = bot.to_owned();
    if let Some((chat, at_ms)) = outcome.sent {
        store::sends::record(tx, &bot, chat, at_ms)?;
    }
    let id = outcome.id;
    let now = crate::clock::unix_now();
    match outcome.change {
        Change::Done { created, links } => {
            if let Some(created) = created {
                dialogs::set_topic(tx, created.dialog, created.topic, &created.name)?;
                // Operators' messages in the new topic may have come first.
                store::held::release(tx, &bot, created.group)?;
                if created.replaces.is_some() {
                    let report = SenderReport::TopicReplaced {
                        dialog_id: created.dialog,
                    };
                    report_to_dispatcher(tx, &bot, &report)?;
                }
            }
            for link in &links {
                links::record(tx, &bot, link, now)?;
            }
            queue::complete(tx, id)?;
            Ok(None)
        }
        Change::Retry {
            error, throttled, ..
        } => {
            queue::record_retry(tx, id, &error, !throttled)?;
            Ok(None)
        }
        Change::Failed { job, error, kind } => {
            queue::fail(tx, id, &error)?;
            if let Some(job) = job {
                if let super::Action::CreateTopic { dialog, .. } = &job.action {
                    dialogs::topic_request_failed(tx, *dialog)?;
                    if let Some(found) = dialogs::by_id(tx, *dialog)? {
                        store::held::release(tx, &bot, found.backend_group)?;
                    }
                }
                let report = SenderReport::Failed { job, error, kind };
                report_to_dispatcher(tx, &bot, &report)?;
            }
            Ok(None)
        }
        Change::TopicDeleted {
            dialog,
            deleted,
            close,
            lane,
        } => {
            let forgotten = dialogs::forget_topic(tx, dialog, deleted)?;
            if close {
                // Nothing left to close; the dialog gets a new
                // topic when it reopens.
                queue::complete(tx, id)?;
                return Ok(None);
            }
            // Another job may have replaced it already: then the
            // job simply goes again, into the dialog's topic now.
            if !forgotten || !dialogs::request_topic(tx, dialog)? {
                return Ok(None);
            }
            let Some(found) = dialogs::by_id(tx, dialog)? else {
                return Ok(None);
            };
            let job = Job {
                purpose: Purpose::TopicChange { dialog },
                action: super::Action::CreateTopic {
                    dialog,
                    name: found
                        .topic_name
                        .unwrap_or_else(|| format!("Dialog {dialog}")),
                    replaces: Some(deleted),
                },
            };
            let chat = found.backend_group;
            let id = queue::enqueue(tx, &bot, &lane, chat, &job, now)?;
            Ok(Some(Row {
                id,
                priority: lane.priority(),
                lane,
                chat,
                job,
                attempts: 0,
            }))
        }
        Change::Migrated { from, to } => {
            store::groups::record_migration(tx, &bot, from, to)?;
            Ok(None)
        }
    }
}

/// The message links a copy makes, by the purpose of its job: a user's
/// message into the topic, an operator's to the user, or the existing bot's
/// message into the topic (a mirror). Other copies
/// (broadcasts) relay nothing and link nothing.
fn links_of(purpose: &Purpose, copied: &Copied) -> Vec<Link> {
    let (dialog, direction) = match purpose {
        Purpose::Inbound { dialog, .. } => (*dialog, Direction::ToTopic),
        Purpose::Reply { dialog, .. } => (*dialog, Direction::ToUser),
        Purpose::Mirror { dialog } => (*dialog, Direction::FromBot),
        _ => return Vec::new(),
    };
    copied
        .pairs
        .iter()
        .map(|&(original, copy)| Link {
            dialog,
            direction,
            original_chat: copied.from_chat,
            original_id: i64::from(original),
            copy_chat: copied.to_chat,
            copy_id: i64::from(copy),
        })
        .collect()
}

/// Adds a report for the dispatcher to the inbox.
fn report_to_dispatcher(
    tx: &rusqlite::Transaction<'_>,
    bot: &str,
    report: &SenderReport,
) -> anyhow::Result<()> {
    inbox::append(
        tx,
        bot,
        inbox::Kind::Report,
        &serde_json::to_string(report)?,
    )?;
    Ok(())
}
