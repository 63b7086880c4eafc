//! The dispatcher: turns stored updates into state changes and outbox jobs.
//!
//! It reads the inbox (Telegram updates and the sender's reports) in arrival
//! order, a batch at a time, in one SQLite transaction per batch. Each row is
//! handled inside its own savepoint together with everything it decides
//! (dialog changes, jobs), then deleted: a crash anywhere leaves either all
//! of it or none. A row whose handling fails is rolled back alone and set
//! aside as a *dead letter* with its error (counted in `/healthz`, logged
//! once, and noted in the backend group's General topic), so one bad row
//! never holds up the others. A storage error (a full disk) is different: it
//! passes, so the whole batch is retried later instead. The dispatcher makes
//! no network calls (DESIGN invariant 4); the rules themselves are plain
//! functions in [`rules`].

mod albums;
pub mod commands;
mod edits;
mod mirror;
mod offer;
mod operator_side;
mod reactions;
mod reports;
pub mod rules;
mod status;
pub mod texts;
mod user_side;

pub use status::renames_due;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Transaction;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::app::Running;
use crate::clock::Clock;
use crate::config::BotConfig;
use crate::http::Health;
use crate::outbox::sender::{PrioritySet, Wake};
use crate::outbox::{Action, Job, Lane, Purpose, SenderReport, Target, queue};
use crate::proxy::intercept::Intercepted;
use crate::store::albums::AlbumKey;
use crate::store::dialogs::{self, Dialog};
use crate::store::users::User;
use crate::store::{self, Store, inbox};
use crate::telegram::update::{self, ChatKind, UpdateKind};

/// Inbox rows handled per transaction.
pub const BATCH: usize = 256;

/// The shared dispatcher task.
pub struct Dispatcher {
    pub store: Store,
    /// The running bots and their senders' wakes; a reload replaces them.
    /// Inbox rows of other bots wait (for a bot to come back).
    pub running: watch::Receiver<Arc<Running>>,
    pub clock: Arc<dyn Clock>,
    /// Notified when the inbox has new rows.
    pub wake: Arc<Notify>,
    /// Where dead letters are counted.
    pub health: Arc<Health>,
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct Batch {
    /// Inbox rows looked at (handled, set aside, or skipped: a bot that is
    /// not running).
    pub rows: usize,
    /// The highest inbox id looked at: the next batch starts after it.
    pub last: Option<i64>,
    /// Bots that got jobs, and of which priorities: their senders must be woken.
    pub touched: Touched,
    /// Rows set aside as dead letters.
    pub dead_letters: u64,
    /// Bots whose existing bot was offered updates: its waiting
    /// `getUpdates` or webhook delivery must be woken.
    pub offered: BTreeSet<String>,
    /// Albums that got a part and wait for more (see `albums`).
    pub gathered: BTreeSet<AlbumKey>,
}

impl Dispatcher {
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut running = self.running.clone();
        let mut failures = 0;
        // The inbox is read from here on. Rows of bots that are not running
        // stay behind it; a new running set (a reload) starts over, so a bot
        // that comes back finds its rows.
        let mut cursor = 0;
        let mut last_set: Option<Arc<Running>> = None;
        // When each album being gathered is complete (see `albums`).
        let mut album_deadlines: BTreeMap<AlbumKey, Instant> = BTreeMap::new();
        loop {
            let current = Arc::clone(&running.borrow_and_update());
            if !last_set
                .as_ref()
                .is_some_and(|last| Arc::ptr_eq(last, &current))
            {
                cursor = 0;
                last_set = Some(Arc::clone(&current));
                // Albums left from before (a restart, a bot that is back)
                // wait a quiet time from now for their remaining parts.
                match self.store.run(|conn| Ok(store::albums::all(conn)?)).await {
                    Ok(open) => {
                        let deadline = Instant::now() + albums::QUIET;
                        for key in open {
                            album_deadlines.entry(key).or_insert(deadline);
                        }
                    }
                    Err(err) => {
                        error!(cause = %format!("{err:#}"), "cannot read the albums being gathered; will retry");
                        last_set = None;
                    }
                }
            }
            self.complete_due_albums(&mut album_deadlines, &current)
                .await;
            let now = self.clock.now();
            let result = self.dispatch(current, cursor, now).await;
            match result {
                Ok(batch) => {
                    failures = 0;
                    cursor = batch.last.unwrap_or(cursor);
                    let deadline = Instant::now() + albums::QUIET;
                    for key in batch.gathered {
                        album_deadlines.insert(key, deadline);
                    }
                    self.health.add_dead_letters(batch.dead_letters);
                    // The senders as published after the commit (see
                    // `Running::senders`), not as the batch began.
                    let published = Arc::clone(&running.borrow());
                    wake_senders(&published.senders, &batch.touched);
                    for bot in &batch.offered {
                        if let Some(existing) = published.existing.get(bot) {
                            existing.offered();
                        }
                    }
                    if batch.rows == BATCH {
                        continue;
                    }
                }
                Err(err) => {
                    failures += 1;
                    if !store::is_storage_error(&err) {
                        error!(cause = %format!("{err:#}"), "dispatching failed; will retry");
                    }
                    let max = if store::is_storage_error(&err) {
                        store::RETRY_MAX
                    } else {
                        Duration::from_secs(30)
                    };
                    let pause = crate::backoff::delay(failures, max);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            }
            let next_album = album_deadlines.values().min().copied();
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                // A bot that starts (or comes back) may have rows waiting.
                Ok(()) = running.changed() => {}
                () = crate::clock::sleep_until(next_album) => {}
            }
        }
    }

    /// Completes the albums whose quiet time is over; those it cannot
    /// (the storage refuses) are tried again a little later.
    async fn complete_due_albums(
        &self,
        deadlines: &mut BTreeMap<AlbumKey, Instant>,
        current: &Arc<Running>,
    ) {
        let now = Instant::now();
        let due: Vec<AlbumKey> = deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        for key in &due {
            deadlines.remove(key);
        }
        let running = Arc::clone(current);
        let at = self.clock.now();
        let keys = due.clone();
        let written = self
            .store
            .write(move |tx| albums::complete(tx, &running.bots, &keys, at))
            .await;
        match written {
            Ok(touched) => wake_senders(&current.senders, &touched),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(cause = %format!("{err:#}"), "cannot complete albums; will retry");
                }
                let retry = now + albums::QUIET;
                for key in due {
                    deadlines.insert(key, retry);
                }
            }
        }
    }
}

impl Dispatcher {
    /// Reads and decodes the next batch after `cursor` on the read pool,
    /// then applies the rules in the writer's transaction: the writer, which
    /// every write waits for, spends its time on SQL only. Reading outside
    /// the transaction is safe: only the dispatcher removes inbox rows, and
    /// new ones come after.
    async fn dispatch(
        &self,
        current: Arc<Running>,
        cursor: i64,
        now: i64,
    ) -> anyhow::Result<Batch> {
        let running = Arc::clone(&current);
        let (rows, looked_at, last) = self
            .store
            .run(move |conn| {
                Ok(read_batch(conn, cursor, &|bot| {
                    running.bots.contains_key(bot)
                })?)
            })
            .await?;
        // Every row looked at is handled (no stopped bot's among them): they
        // leave the inbox in one range.
        let range = last
            .filter(|_| rows.len() == looked_at)
            .map(|last| (cursor, last));
        let mut batch = self
            .store
            .write(move |tx| dispatch_batch(tx, &current.bots, rows, range, now))
            .await?;
        batch.rows = looked_at;
        batch.last = last;
        Ok(batch)
    }
}

/// An inbox row, decoded (or what stopped it from being read).
pub struct Decoded {
    row: inbox::Row,
    content: anyhow::Result<Content>,
}

enum Content {
    Update(update::Update),
    Report(SenderReport),
    Intercepted(Intercepted),
}

/// The next [`BATCH`] inbox rows after `cursor`; those of running bots
/// decoded, with how many rows were looked at and the last one's id.
pub fn read_batch(
    conn: &rusqlite::Connection,
    cursor: i64,
    running: &dyn Fn(&str) -> bool,
) -> rusqlite::Result<(Vec<Decoded>, usize, Option<i64>)> {
    let rows = inbox::next_after(conn, cursor, BATCH)?;
    let (looked_at, last) = (rows.len(), rows.last().map(|row| row.id));
    let decoded = rows
        .into_iter()
        .filter(|row| running(&row.bot))
        .map(|row| {
            let content = match &row.kind {
                // An update or report that cannot be read becomes a dead letter.
                Ok(inbox::Kind::Update) => update::decode(&row.payload)
                    .map(Content::Update)
                    .map_err(|err| anyhow::anyhow!("cannot read the update: {err}")),
                Ok(inbox::Kind::Report) => serde_json::from_str(&row.payload)
                    .map(Content::Report)
                    .map_err(|err| anyhow::anyhow!("cannot read the sender's report: {err}")),
                Ok(inbox::Kind::Intercepted) => serde_json::from_str(&row.payload)
                    .map(Content::Intercepted)
                    .map_err(|err| {
                        anyhow::anyhow!("cannot read a message the existing bot sent: {err}")
                    }),
                Err(kind) => Err(crate::outbox::UnknownValue::new("inbox row kind", kind).into()),
            };
            Decoded { row, content }
        })
        .collect();
    Ok((decoded, looked_at, last))
}

/// Bots that got jobs, with the priorities they got.
pub type Touched = BTreeMap<String, PrioritySet>;

/// Wakes the senders of the bots that got new jobs.
pub fn wake_senders(senders: &HashMap<String, Arc<Wake>>, touched: &Touched) {
    for (bot, priorities) in touched {
        if let Some(wake) = senders.get(bot) {
            wake.jobs_queued(*priorities);
        }
    }
}

/// Handles a batch of rows (from [`read_batch`]), and removes them from the
/// inbox: all of `range` when it is given (every row in it was handled),
/// else one by one.
///
/// Optimistically first: the whole batch in one savepoint. Should a row
/// fail (not the storage: its data, or a bug), that is rolled back and the
/// batch done again with a savepoint per row, so that the failing row alone
/// is set aside. Rows almost never fail, and a savepoint per row costs two
/// statements each in the one writer every write waits for.
pub fn dispatch_batch(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    rows: Vec<Decoded>,
    range: Option<(i64, i64)>,
    now: i64,
) -> anyhow::Result<Batch> {
    let mut batch = Batch {
        rows: rows.len(),
        ..Batch::default()
    };
    let all_at_once = store::in_savepoint(tx, "dispatch_batch", || {
        let mut done = Batch::default();
        for Decoded { row, content } in &rows {
            let Some(bot) = bots.get(&row.bot) else {
                continue;
            };
            let content = content.as_ref().map_err(|err| anyhow::anyhow!("{err:#}"))?;
            done.note(&row.bot, handle_row(tx, bot, row, content, now)?);
            if offer_row(tx, bot, row, now)? {
                done.offered.insert(row.bot.clone());
            }
        }
        Ok(done)
    });
    match all_at_once {
        Ok(done) => {
            batch.touched = done.touched;
            batch.offered = done.offered;
            batch.gathered = done.gathered;
        }
        // The storage failed, not a row: retry the whole batch later.
        Err(err) if store::is_storage_error(&err) => return Err(err),
        Err(_) => {
            for Decoded { row, content } in &rows {
                let Some(bot) = bots.get(&row.bot) else {
                    continue;
                };
                let handled = match content {
                    Ok(content) => store::in_savepoint(tx, "dispatch_row", || {
                        handle_row(tx, bot, row, content, now)
                    }),
                    Err(err) => Err(anyhow::anyhow!("{err:#}")),
                };
                match handled {
                    Ok(effects) => batch.note(&row.bot, effects),
                    Err(err) if store::is_storage_error(&err) => return Err(err),
                    Err(err) => {
                        let queued = set_aside(tx, bot, row, &err, now)?;
                        note_touched(&mut batch.touched, &row.bot, queued);
                        batch.dead_letters += 1;
                    }
                }
                // Whatever switchboard made of it, the existing bot gets it.
                if offer_row(tx, bot, row, now)? {
                    batch.offered.insert(row.bot.clone());
                }
            }
        }
    }
    match range {
        Some((after, through)) => {
            inbox::remove_range(tx, after, through)?;
        }
        None => {
            for Decoded { row, .. } in &rows {
                inbox::remove(tx, row.id)?;
            }
        }
    }
    Ok(batch)
}

/// Offers an update row to the bot's existing bot, if it has one (see
/// [`offer`]); returns whether it was offered.
fn offer_row(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    row: &inbox::Row,
    now: i64,
) -> anyhow::Result<bool> {
    if row.kind == Ok(inbox::Kind::Update) && bot.mode.is_connected() {
        offer::offer(tx, bot, &row.payload, now)
    } else {
        Ok(false)
    }
}

impl Batch {
    /// Notes what handling a row of `bot` did.
    fn note(&mut self, bot: &str, effects: Effects) {
        note_touched(&mut self.touched, bot, effects.queued);
        self.gathered.extend(effects.gathered);
    }
}

/// What handling one row did, besides its writes.
struct Effects {
    /// The priorities of the jobs it queued.
    queued: PrioritySet,
    /// The albums it added a part to.
    gathered: Vec<AlbumKey>,
}

/// Runs `act` on `bot`'s view of `tx` at `now` (a pass of the scheduler's
/// or the dispatcher's own timers), noting in `touched` what it queued.
fn act_as<'a>(
    tx: &'a Transaction<'a>,
    bot: &'a BotConfig,
    now: i64,
    touched: &mut Touched,
    act: impl FnOnce(&mut Ctx<'a>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut ctx = Ctx::new(tx, bot, now);
    act(&mut ctx)?;
    note_touched(touched, &bot.name, ctx.queued);
    Ok(())
}

/// Adds the priorities `bot` got to `touched`.
fn note_touched(touched: &mut Touched, bot: &str, queued: PrioritySet) {
    if !queued.is_empty() {
        let entry = touched.entry(bot.to_owned()).or_default();
        *entry = entry.union(queued);
    }
}

/// Handles one inbox row.
fn handle_row(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    row: &inbox::Row,
    content: &Content,
    now: i64,
) -> anyhow::Result<Effects> {
    let mut ctx = Ctx::new(tx, bot, now);
    match content {
        Content::Update(update) => ctx.handle_update(update, &row.payload)?,
        Content::Report(report) => ctx.handle_report(report)?,
        Content::Intercepted(call) => ctx.on_intercepted(call)?,
    }
    Ok(Effects {
        queued: ctx.queued,
        gathered: ctx.gathered,
    })
}

/// Sets a row that could not be handled aside as a dead letter, logs it and
/// tells operators in the General topic of the bot's first backend group.
/// Returns the priority of that notice, if it was queued.
fn set_aside(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    row: &inbox::Row,
    err: &anyhow::Error,
    now: i64,
) -> anyhow::Result<PrioritySet> {
    let error = format!("{err:#}");
    let kind = row
        .kind
        .as_ref()
        .map_or_else(String::as_str, |kind| kind.as_str());
    store::dead_letters::add(tx, &bot.name, kind, &row.payload, &error, now)?;
    error!(bot = %bot.name, kind, cause = %error,
        "could not handle an inbox row; it is set aside in the dead_letters table and the others go on");
    let mut ctx = Ctx::new(tx, bot, now);
    let Some(group) = ctx.groups()?.first().copied() else {
        return Ok(PrioritySet::default());
    };
    ctx.notify_general(group, &texts::dead_letter(&error))?;
    Ok(ctx.queued)
}

/// Closes the dialogs whose last operator reply is older than their bot's
/// `autoclose` and that the user has not answered since. Returns the bots
/// that got jobs.
pub fn autoclose_due(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    now: i64,
) -> anyhow::Result<Touched> {
    let secs = |after: Duration| i64::try_from(after.as_secs()).unwrap_or(i64::MAX);
    let mut touched = Touched::new();
    // The shortest autoclose of all bots: every dialog due for any bot.
    let Some(shortest) = bots.values().filter_map(|bot| bot.settings.autoclose).min() else {
        return Ok(touched);
    };
    for (dialog, last_reply) in dialogs::waiting_since(tx, now.saturating_sub(secs(shortest)))? {
        let Some(bot) = bots.get(&dialog.bot) else {
            continue;
        };
        let Some(after) = bot.settings.autoclose else {
            continue;
        };
        if last_reply > now.saturating_sub(secs(after)) {
            continue;
        }
        let after = crate::config::format_duration(after);
        act_as(tx, bot, now, &mut touched, |ctx| {
            ctx.notify_topic(&dialog, &texts::closed_automatically(&after))?;
            commands::close::close(ctx, &dialog)
        })?;
        info!(bot = %bot.name, dialog = dialog.id, "dialog closed automatically");
    }
    Ok(touched)
}

/// One bot's view of the open transaction: what the rules read and the jobs
/// they queue.
pub struct Ctx<'a> {
    pub tx: &'a Transaction<'a>,
    pub bot: &'a BotConfig,
    pub now: i64,
    /// The priorities of the jobs queued (the bot's sender must be woken).
    queued: PrioritySet,
    /// The albums that got a part (see [`albums`]).
    gathered: Vec<AlbumKey>,
}

impl<'a> Ctx<'a> {
    /// `bot`'s view of `tx` at `now`, with nothing queued yet.
    fn new(tx: &'a Transaction<'a>, bot: &'a BotConfig, now: i64) -> Ctx<'a> {
        Ctx {
            tx,
            bot,
            now,
            queued: PrioritySet::default(),
            gathered: Vec::new(),
        }
    }
}

impl Ctx<'_> {
    /// Queues a job of `dialog` in its lane: toward the topic or toward the user.
    pub fn queue(
        &mut self,
        dialog: &Dialog,
        purpose: Purpose,
        action: Action,
    ) -> anyhow::Result<()> {
        let job = Job { purpose, action };
        let lane = if job.topic_dialog().is_some() {
            Lane::Topic(dialog.user_id)
        } else {
            Lane::User(dialog.user_id)
        };
        let chat = job.chat(dialog.backend_group);
        self.queue_in(&lane, chat, &job)
    }

    /// Queues `job` in `lane`; `chat` is where it sends to.
    fn queue_in(&mut self, lane: &Lane, chat: i64, job: &Job) -> anyhow::Result<()> {
        let id = queue::enqueue(self.tx, &self.bot.name, lane, chat, job, self.now)?;
        debug!(bot = %self.bot.name, job = id, lane = %lane, "queued");
        self.queued = self.queued.with(lane.priority());
        Ok(())
    }

    /// Tells operators something in the dialog's topic, cut to fit a message.
    pub fn notify_topic(&mut self, dialog: &Dialog, text: &str) -> anyhow::Result<()> {
        self.notify_topic_replying(dialog, text, None)
    }

    /// Like [`Ctx::notify_topic`], as a reply to message `reply_to` of the
    /// topic (if that still exists).
    pub fn notify_topic_replying(
        &mut self,
        dialog: &Dialog,
        text: &str,
        reply_to: Option<i64>,
    ) -> anyhow::Result<()> {
        let action = Action::SendText {
            to: Target::TopicOf(dialog.id),
            text: texts::fit_message(text),
            html: false,
            reply_to,
        };
        self.queue(dialog, Purpose::TopicNotice { dialog: dialog.id }, action)
    }

    /// The user card in the dialog's topic (with its figures for `/info`).
    pub fn show_card(&mut self, dialog: &Dialog, figures: bool) -> anyhow::Result<()> {
        let Some(profile) = store::users::profile(self.tx, &self.bot.name, dialog.user_id)? else {
            return Ok(());
        };
        let figures = if figures {
            let (messages_in, messages_out) =
                store::links::counts(self.tx, &self.bot.name, dialog.id)?;
            let (opened_at, replied_at) = dialogs::times(self.tx, dialog.id)?;
            Some(texts::Figures {
                messages_in,
                messages_out,
                opened_at,
                last_activity: profile.last_seen.max(replied_at.unwrap_or(0)),
                status: dialog.status,
            })
        } else {
            None
        };
        let card = texts::user_card(&profile, self.bot.settings.hide_info, figures.as_ref());
        let action = Action::SendText {
            to: Target::TopicOf(dialog.id),
            text: card,
            html: true,
            reply_to: None,
        };
        self.queue(dialog, Purpose::TopicNotice { dialog: dialog.id }, action)
    }

    /// Tells operators something in the General topic of `group`, cut to fit.
    pub fn notify_general(&mut self, group: i64, text: &str) -> anyhow::Result<()> {
        let job = Job {
            purpose: Purpose::GeneralNotice,
            action: Action::SendText {
                to: Target::General(group),
                text: texts::fit_message(text),
                html: false,
                reply_to: None,
            },
        };
        self.queue_in(&Lane::General, group, &job)
    }

    /// Sends the dialog's user a text of switchboard's (a welcome, a notice).
    pub fn send_to_user(
        &mut self,
        dialog: &Dialog,
        purpose: Purpose,
        text: &str,
    ) -> anyhow::Result<()> {
        let action = Action::SendText {
            to: Target::User(dialog.user_id),
            text: texts::fit_message(text),
            html: false,
            reply_to: None,
        };
        self.queue(dialog, purpose, action)
    }

    /// Queues a change of the dialog's topic (create, close, reopen).
    pub fn change_topic(&mut self, dialog: &Dialog, action: Action) -> anyhow::Result<()> {
        self.queue(dialog, Purpose::TopicChange { dialog: dialog.id }, action)
    }

    /// Queues the topic's creation (once: not while one is queued already),
    /// or its reopening, as the dialog needs.
    pub fn ensure_topic(
        &mut self,
        dialog: &Dialog,
        user: &User,
        reopen: bool,
    ) -> anyhow::Result<()> {
        if dialog.topic_id.is_none() {
            if !dialogs::request_topic(self.tx, dialog.id)? {
                return Ok(());
            }
            // Created with its status already in its name.
            let icon = self.wanted_icon(dialog)?;
            dialogs::set_icon_wanted(self.tx, dialog.id, &icon)?;
            dialogs::set_icon_shown(self.tx, dialog.id, &icon, None)?;
            let action = Action::CreateTopic {
                dialog: dialog.id,
                name: rules::titled(
                    &icon,
                    &rules::topic_name_hiding(user, self.bot.settings.hide_info),
                ),
                replaces: None,
            };
            self.change_topic(dialog, action)?;
            if self.bot.settings.auto_info {
                self.show_card(dialog, false)?;
            }
            Ok(())
        } else if reopen {
            self.change_topic(dialog, Action::ReopenTopic { dialog: dialog.id })
        } else {
            Ok(())
        }
    }

    /// Handles `update`; `raw` is its JSON, as received.
    fn handle_update(&mut self, update: &update::Update, raw: &str) -> anyhow::Result<()> {
        debug!(bot = %self.bot.name, update = update.update_id, "dispatching");
        match &update.kind {
            UpdateKind::Message(message) if rules::is_private(message) => {
                self.on_user_message(message)
            }
            UpdateKind::Message(message) => self.on_group_message(message, raw),
            UpdateKind::MyChatMember(change) if change.chat.kind == ChatKind::Private => {
                self.on_block_change(change)
            }
            UpdateKind::MyChatMember(_) => {
                debug!(bot = %self.bot.name, update = update.update_id,
                    "ignoring a change of the bot's membership in a group");
                Ok(())
            }
            UpdateKind::CallbackQuery(press) => self.on_button_press(press),
            UpdateKind::EditedMessage(message, raw) => self.on_edit(message, raw),
            UpdateKind::Reaction(change) => self.on_reaction(change),
            UpdateKind::Other(kind) => {
                debug!(bot = %self.bot.name, update = update.update_id, kind = %kind,
                    "ignoring an update kind without a rule");
                Ok(())
            }
        }
    }

    /// The bot's backend groups under the chat ids they have now.
    fn groups(&self) -> anyhow::Result<Vec<i64>> {
        Ok(store::groups::current_all(
            self.tx,
            &self.bot.name,
            &self.bot.backend_groups,
        )?)
    }
}
