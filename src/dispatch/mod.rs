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

pub mod commands;
pub mod rules;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Transaction;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::app::Running;
use crate::clock::Clock;
use crate::config::BotConfig;
use crate::http::Health;
use crate::outbox::{self, FailureKind, Job, Priority, Report, Target};
use crate::store::dialogs::{self, Dialog, Status};
use crate::store::users::{self, User};
use crate::store::{self, Store, inbox};
use crate::telegram::update::{self, ChatKind, MemberChange, Message, UpdateKind};
use rules::{Content, OperatorPlan, UserPlan};

/// Inbox rows handled per transaction.
const BATCH: usize = 256;

/// What users are told when their message could not reach support.
pub const NOT_DELIVERED_NOTICE: &str =
    "Sorry, your message could not be delivered to support. Please try again later.";

/// Shown in the topic for a reply that cannot reach a user who blocked the bot.
pub const BLOCKED_NOTE: &str = "⚠️ Not delivered: the user has blocked the bot. \
     Replies reach them again once they unblock it or write to it.";

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
    /// Inbox rows taken (handled or set aside).
    pub rows: usize,
    /// Bots that got jobs: their senders must be woken.
    pub touched: BTreeSet<String>,
    /// Rows set aside as dead letters.
    pub dead_letters: u64,
}

impl Dispatcher {
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut running = self.running.clone();
        let mut failures = 0;
        loop {
            let current = Arc::clone(&running.borrow_and_update());
            let now = self.clock.now();
            let result = self
                .store
                .write(move |tx| {
                    let names: Vec<String> = current.bots.keys().cloned().collect();
                    dispatch_batch(tx, &current.bots, &names, now)
                })
                .await;
            match result {
                Ok(batch) => {
                    failures = 0;
                    self.health.add_dead_letters(batch.dead_letters);
                    // The senders as published after the commit (see
                    // `Running::senders`), not as the batch began.
                    wake_senders(&running.borrow().senders, &batch.touched);
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
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                // A bot that starts (or comes back) may have rows waiting.
                Ok(()) = running.changed() => {}
            }
        }
    }
}

/// Wakes the senders of the bots that got new jobs.
pub fn wake_senders(senders: &HashMap<String, Arc<Notify>>, touched: &BTreeSet<String>) {
    for bot in touched {
        if let Some(wake) = senders.get(bot) {
            wake.notify_one();
        }
    }
}

/// Handles up to [`BATCH`] inbox rows, each in its own savepoint.
pub fn dispatch_batch(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    names: &[String],
    now: i64,
) -> anyhow::Result<Batch> {
    let rows = inbox::next_batch(tx, names, BATCH)?;
    let mut batch = Batch {
        rows: rows.len(),
        ..Batch::default()
    };
    for row in &rows {
        if let Some(bot) = bots.get(&row.bot) {
            match handle_row(tx, bot, row, now) {
                Ok(true) => {
                    batch.touched.insert(row.bot.clone());
                }
                Ok(false) => {}
                // The storage failed, not the row: retry the whole batch later.
                Err(err) if store::is_storage_error(&err) => return Err(err),
                Err(err) => {
                    if set_aside(tx, bot, row, &err, now)? {
                        batch.touched.insert(row.bot.clone());
                    }
                    batch.dead_letters += 1;
                }
            }
        }
        inbox::remove(tx, row.id)?;
    }
    Ok(batch)
}

/// Handles one inbox row inside a savepoint; on error everything it did is
/// rolled back. Returns whether it queued jobs.
fn handle_row(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    row: &inbox::Row,
    now: i64,
) -> anyhow::Result<bool> {
    // Plain SQL: rusqlite's savepoint API wants the transaction mutably.
    tx.execute_batch("SAVEPOINT dispatch_row")?;
    let mut ctx = Ctx {
        tx,
        bot,
        now,
        enqueued: false,
    };
    let handled = match row.kind {
        inbox::Kind::Update => ctx.handle_update(&row.payload),
        inbox::Kind::Report => ctx.handle_report(&row.payload),
    };
    match handled {
        Ok(()) => {
            tx.execute_batch("RELEASE dispatch_row")?;
            Ok(ctx.enqueued)
        }
        Err(err) => {
            tx.execute_batch("ROLLBACK TO dispatch_row; RELEASE dispatch_row")?;
            Err(err)
        }
    }
}

/// Sets a row that could not be handled aside as a dead letter, logs it and
/// tells operators in the General topic of the bot's first backend group.
/// Returns whether that note was queued.
fn set_aside(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    row: &inbox::Row,
    err: &anyhow::Error,
    now: i64,
) -> anyhow::Result<bool> {
    let error = format!("{err:#}");
    store::dead_letters::add(tx, &bot.name, row.kind.as_str(), &row.payload, &error, now)?;
    error!(bot = %bot.name, kind = row.kind.as_str(), cause = %error,
        "could not handle an inbox row; it is set aside in the dead_letters table and the others go on");
    let mut ctx = Ctx {
        tx,
        bot,
        now,
        enqueued: false,
    };
    let Some(group) = ctx.groups()?.first().copied() else {
        return Ok(false);
    };
    ctx.answer_in_general(
        group,
        format!("⚠️ An update could not be handled and was set aside (dead letter): {error}"),
    )?;
    Ok(ctx.enqueued)
}

/// Closes the dialogs whose last operator reply is older than their bot's
/// `autoclose` and that the user has not answered since. Returns the bots
/// that got jobs.
pub fn autoclose_due(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    now: i64,
) -> anyhow::Result<BTreeSet<String>> {
    let mut touched = BTreeSet::new();
    for bot in bots.values() {
        let Some(after) = bot.settings.autoclose else {
            continue;
        };
        let cutoff = now.saturating_sub(i64::try_from(after.as_secs()).unwrap_or(i64::MAX));
        for dialog in dialogs::waiting_since(tx, &bot.name, cutoff)? {
            let mut ctx = Ctx {
                tx,
                bot,
                now,
                enqueued: false,
            };
            let note = format!(
                "Closed automatically: no reply from the user for {}.",
                crate::config::format_duration(after)
            );
            ctx.enqueue(
                &dialog,
                Priority::TopicEdit,
                Job::Text {
                    to: Target::Topic(dialog.id),
                    text: note,
                },
            )?;
            commands::close::close(&mut ctx, &dialog)?;
            info!(bot = %bot.name, dialog = dialog.id, "dialog closed automatically");
            touched.insert(bot.name.clone());
        }
    }
    Ok(touched)
}

/// One bot's view of the open transaction.
pub struct Ctx<'a> {
    pub tx: &'a Transaction<'a>,
    pub bot: &'a BotConfig,
    pub now: i64,
    /// Whether any job was queued (the bot's sender must be woken).
    enqueued: bool,
}

impl Ctx<'_> {
    /// Queues a job in the dialog's lane for its direction.
    pub fn enqueue(&mut self, dialog: &Dialog, priority: Priority, job: Job) -> anyhow::Result<()> {
        let chat = job.chat(dialog.backend_group);
        self.enqueue_in(&job.lane(dialog.user_id), priority, chat, job)
    }

    /// Queues a job in `lane`; `chat` is where it sends to.
    pub fn enqueue_in(
        &mut self,
        lane: &str,
        priority: Priority,
        chat: i64,
        job: Job,
    ) -> anyhow::Result<()> {
        let id = store::outbox::enqueue(
            self.tx,
            &self.bot.name,
            lane,
            priority,
            chat,
            &job,
            self.now,
        )?;
        debug!(bot = %self.bot.name, job = id, lane, ?priority, "queued");
        self.enqueued = true;
        Ok(())
    }

    /// Answers operators in the General topic of `group`, cut to fit a message.
    pub fn answer_in_general(&mut self, group: i64, text: String) -> anyhow::Result<()> {
        let job = Job::Text {
            to: Target::General(group),
            text: rules::fit_message(&text),
        };
        self.enqueue_in(outbox::GENERAL_LANE, Priority::TopicEdit, group, job)
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
            let name = rules::topic_name(user);
            self.enqueue(
                dialog,
                Priority::Inbound,
                Job::CreateTopic {
                    dialog_id: dialog.id,
                    name,
                    replaces: None,
                },
            )
        } else if reopen {
            self.enqueue(
                dialog,
                Priority::Inbound,
                Job::ReopenTopic {
                    dialog_id: dialog.id,
                },
            )
        } else {
            Ok(())
        }
    }

    fn handle_update(&mut self, payload: &str) -> anyhow::Result<()> {
        // An update that cannot be used at all becomes a dead letter.
        let update = update::decode(payload)
            .map_err(|err| anyhow::anyhow!("cannot read the update: {err}"))?;
        debug!(bot = %self.bot.name, update = update.update_id, "dispatching");
        match &update.kind {
            UpdateKind::Message(message) if rules::is_private(message) => {
                self.on_user_message(message)
            }
            UpdateKind::Message(message) => self.on_group_message(message),
            UpdateKind::MyChatMember(change) if change.chat.kind == ChatKind::Private => {
                self.on_block_change(change)
            }
            UpdateKind::MyChatMember(_) => {
                debug!(bot = %self.bot.name, update = update.update_id,
                    "ignoring a change of the bot's membership in a group");
                Ok(())
            }
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

    fn on_group_message(&mut self, message: &Message) -> anyhow::Result<()> {
        let chat = message.chat.id;
        if !self.groups()?.contains(&chat) {
            debug!(bot = %self.bot.name, chat, "ignoring a message from another chat");
            return Ok(());
        }
        if let Some(to) = message.migrate_to_chat_id {
            warn!(bot = %self.bot.name, from = chat, to,
                "a backend group moved to a new chat id; following it (update bots.toml to the new id)");
            store::groups::record_migration(self.tx, &self.bot.name, chat, to)?;
            return Ok(());
        }
        self.on_operator_message(message)
    }

    fn on_user_message(&mut self, message: &Message) -> anyhow::Result<()> {
        let Some(from) = &message.from else {
            warn!(bot = %self.bot.name, "private message without a sender; skipped");
            return Ok(());
        };
        if from.is_bot {
            return Ok(());
        }
        let content = rules::classify(message);
        if content == Content::Service {
            debug!(bot = %self.bot.name, user = from.id, "a service message; not relayed");
            return Ok(());
        }
        let user = User {
            user_id: from.id,
            first_name: from.first_name.clone(),
            last_name: from.last_name.clone(),
            username: from.username.clone(),
        };
        users::upsert(self.tx, &self.bot.name, &user, self.now)?;
        // Writing to the bot means it is not blocked (any more).
        users::set_blocked(self.tx, &self.bot.name, user.user_id, false)?;
        let existing = dialogs::by_user(self.tx, &self.bot.name, user.user_id)?;
        let plan = rules::plan_user_message(
            existing.as_ref().map(|d| d.status),
            rules::searchable_text(message),
            &self.bot.settings.private_keywords,
        );
        let dialog = match (plan, existing) {
            (UserPlan::WaitForKeyword, _) => {
                debug!(bot = %self.bot.name, user = user.user_id, "no private keyword yet; not relayed");
                return Ok(());
            }
            (UserPlan::Open, _) | (_, None) => {
                let group = dialogs::least_busy_group(self.tx, &self.bot.name, &self.groups()?)?;
                let dialog =
                    dialogs::insert(self.tx, &self.bot.name, user.user_id, group, self.now)?;
                self.welcome(&dialog)?;
                self.ensure_topic(&dialog, &user, false)?;
                dialog
            }
            (UserPlan::Reopen, Some(dialog)) => {
                self.welcome(&dialog)?;
                self.ensure_topic(&dialog, &user, true)?;
                dialog
            }
            (UserPlan::Relay, Some(dialog)) => {
                self.ensure_topic(&dialog, &user, false)?;
                dialog
            }
        };
        dialogs::set_status(self.tx, dialog.id, Status::UserAnswered)?;
        let what = match content {
            Content::Copyable | Content::Service => None,
            Content::Unknown(what) => Some(what),
            Content::NotCopyable(what) => {
                // Telegram would refuse the copy: say what arrived instead.
                self.tell_not_delivered(&dialog)?;
                return commands::note(self, &dialog, rules::not_copyable_note(what, message));
            }
        };
        let copy = Job::Copy {
            to: Target::Topic(dialog.id),
            from_chat: message.chat.id,
            message_id: message.message_id,
            what,
        };
        self.enqueue(&dialog, Priority::Inbound, copy)
    }

    /// Tells the user their message did not reach support, unless the bot
    /// is in silent mode.
    fn tell_not_delivered(&mut self, dialog: &Dialog) -> anyhow::Result<()> {
        if self.bot.settings.silent_mode {
            return Ok(());
        }
        let notice = Job::Text {
            to: Target::User(dialog.user_id),
            text: NOT_DELIVERED_NOTICE.into(),
        };
        self.enqueue(dialog, Priority::Reply, notice)
    }

    fn welcome(&mut self, dialog: &Dialog) -> anyhow::Result<()> {
        match &self.bot.settings.welcome {
            Some(text) => {
                let job = Job::Text {
                    to: Target::User(dialog.user_id),
                    text: text.clone(),
                };
                self.enqueue(dialog, Priority::Inbound, job)
            }
            None => Ok(()),
        }
    }

    fn on_operator_message(&mut self, message: &Message) -> anyhow::Result<()> {
        let username = store::bots::username(self.tx, &self.bot.name)?;
        let group = message.chat.id;
        let plan = rules::plan_operator_message(message, group, username.as_deref());
        let in_topic = message.is_topic_message;
        let dialog = match message.message_thread_id.filter(|_| in_topic) {
            Some(topic) => dialogs::by_topic(self.tx, &self.bot.name, group, topic)?,
            None => None,
        };
        match (plan, dialog) {
            (OperatorPlan::Ignore | OperatorPlan::Note, _) => Ok(()),
            (OperatorPlan::Command(command), dialog) if in_topic => match dialog {
                Some(dialog) => commands::in_topic(self, &dialog, &command),
                None => Ok(()), // a topic that is not a dialog of this bot
            },
            (OperatorPlan::Command(command), _) => commands::in_general(self, group, &command),
            (OperatorPlan::Relay { what }, Some(dialog)) => {
                self.relay_reply(&dialog, message, what)
            }
            (OperatorPlan::NotCopyable(what), Some(dialog)) => commands::note(
                self,
                &dialog,
                format!("⚠️ Not sent to the user: Telegram does not let bots copy {what}."),
            ),
            (OperatorPlan::Relay { .. } | OperatorPlan::NotCopyable(_), None) if in_topic => {
                info!(bot = %self.bot.name, topic = ?message.message_thread_id,
                    "not relayed: this topic is not a dialog of this bot");
                Ok(())
            }
            // Chatter in General.
            (OperatorPlan::Relay { .. } | OperatorPlan::NotCopyable(_), None) => Ok(()),
        }
    }

    /// Copies an operator's message to the user; `what` names content of a
    /// kind switchboard does not know.
    fn relay_reply(
        &mut self,
        dialog: &Dialog,
        message: &Message,
        what: Option<String>,
    ) -> anyhow::Result<()> {
        if dialog.status == Status::Closed {
            self.enqueue(
                dialog,
                Priority::TopicEdit,
                Job::ReopenTopic {
                    dialog_id: dialog.id,
                },
            )?;
        }
        if users::is_blocked(self.tx, &self.bot.name, dialog.user_id)? {
            // Telegram would refuse it (403): say so now and spend no call.
            return commands::note(self, dialog, BLOCKED_NOTE.into());
        }
        dialogs::record_operator_reply(self.tx, dialog.id, self.now)?;
        let copy = Job::Copy {
            to: Target::User(dialog.user_id),
            from_chat: message.chat.id,
            message_id: message.message_id,
            what,
        };
        self.enqueue(dialog, Priority::Reply, copy)
    }

    /// What the sender reports: a job failed for good (tell whoever waits for
    /// it), or a deleted topic was replaced (say so there).
    fn handle_report(&mut self, payload: &str) -> anyhow::Result<()> {
        // A report this version cannot read becomes a dead letter.
        let report: Report = serde_json::from_str(payload)
            .map_err(|err| anyhow::anyhow!("cannot read the sender's report: {err}"))?;
        let (job, error) = match report {
            Report::TopicReplaced { dialog_id } => {
                return match dialogs::by_id(self.tx, dialog_id)? {
                    Some(dialog) => commands::note(self, &dialog, TOPIC_REPLACED_NOTE.into()),
                    None => Ok(()),
                };
            }
            Report::Failed {
                job,
                error,
                kind: FailureKind::Blocked,
            } => {
                if let Job::Copy {
                    to: Target::User(user),
                    ..
                }
                | Job::Text {
                    to: Target::User(user),
                    ..
                } = job
                {
                    users::set_blocked(self.tx, &self.bot.name, user, true)?;
                    if let (Job::Copy { .. }, Some(dialog)) =
                        (&job, dialogs::by_user(self.tx, &self.bot.name, user)?)
                    {
                        commands::note(self, &dialog, BLOCKED_NOTE.into())?;
                    }
                    return Ok(());
                }
                (job, error)
            }
            Report::Failed {
                job,
                error,
                kind: FailureKind::Other,
            } => (job, error),
        };
        match job {
            // A user's message did not reach the topic.
            Job::Copy {
                to: Target::Topic(dialog_id),
                what,
                ..
            } => {
                let Some(dialog) = dialogs::by_id(self.tx, dialog_id)? else {
                    return Ok(());
                };
                self.tell_not_delivered(&dialog)?;
                // Operators see it too, where they work (if the topic exists).
                let what = what.map(|what| format!(" ({what})")).unwrap_or_default();
                let note =
                    format!("⚠️ A message from the user{what} could not be shown here: {error}");
                commands::note(self, &dialog, note)
            }
            // An operator's reply did not reach the user.
            Job::Copy {
                to: Target::User(user_id),
                what,
                ..
            } => {
                let Some(dialog) = dialogs::by_user(self.tx, &self.bot.name, user_id)? else {
                    return Ok(());
                };
                let what = what.map(|what| format!(" ({what})")).unwrap_or_default();
                commands::note(
                    self,
                    &dialog,
                    format!("⚠️ Not delivered to the user{what}: {error}"),
                )
            }
            Job::CreateTopic { dialog_id, .. } => {
                let Some(dialog) = dialogs::by_id(self.tx, dialog_id)? else {
                    return Ok(());
                };
                let user = users::get(self.tx, &self.bot.name, dialog.user_id)?;
                let who = user.map_or_else(
                    || format!("dialog {dialog_id}"),
                    |u| rules::describe_user(&u),
                );
                self.answer_in_general(dialog.backend_group, format!(
                    "⚠️ Could not create a topic for {who}: {error}. The bot must be an admin of this group with the right to manage topics."
                ))
            }
            // Notes and topic edits: the sender logged them; nobody else waits.
            Job::Text { .. }
            | Job::Copy {
                to: Target::General(_),
                ..
            }
            | Job::CloseTopic { .. }
            | Job::ReopenTopic { .. } => Ok(()),
        }
    }
}

impl Ctx<'_> {
    /// `my_chat_member` in a private chat: the user blocked ("kicked") or
    /// unblocked ("member") the bot. Other statuses say nothing about that.
    fn on_block_change(&mut self, change: &MemberChange) -> anyhow::Result<()> {
        let blocked = match change.new_status.as_deref() {
            Some("kicked") => true,
            Some("member") => false,
            _ => return Ok(()),
        };
        let user = change.chat.id;
        if users::set_blocked(self.tx, &self.bot.name, user, blocked)? {
            if let Some(dialog) = dialogs::by_user(self.tx, &self.bot.name, user)? {
                let text = if blocked {
                    "The user blocked the bot."
                } else {
                    "The user unblocked the bot."
                };
                commands::note(self, &dialog, text.into())?;
            }
        }
        Ok(())
    }
}

/// Shown in a topic that replaces a deleted one.
pub const TOPIC_REPLACED_NOTE: &str =
    "⚠️ The previous topic of this dialog was deleted; the dialog continues here.";
