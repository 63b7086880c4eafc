//! What the sender reports, and what people are told: the policy for a job
//! that failed for good is decided by its purpose.
//!
//! | purpose | failed for good | told |
//! |---|---|---|
//! | reply | blocked | the user is marked blocked; operators, in the topic |
//! | reply | otherwise | operators, in the topic, with the error |
//! | inbound | any | the user (unless `silent_mode`) and operators, in the topic |
//! | welcome, user notice, broadcast | blocked | the user is marked blocked |
//! | welcome, user notice, broadcast | otherwise | nobody (the sender logged it) |
//! | mirror (the existing bot's message) | any | operators, in the topic, with the error |
//! | a user's edit | any | operators, in the topic, with the new text |
//! | an operator's edit | any | operators, in the topic, with the error |
//! | topic creation | any | operators, in General: the topic is missing |
//! | other topic changes, notices to operators, edits of mirrors | any | nobody (the sender logged it) |
//!
//! A report that a deleted topic was replaced gets a notice in the new topic.

use tracing::debug;

use super::{Ctx, texts};
use crate::outbox::{Action, FailureKind, Job, Purpose, SenderReport, Target};
use crate::store::users;
use crate::store::{dialogs, links};

impl Ctx<'_> {
    pub(super) fn handle_report(&mut self, report: &SenderReport) -> anyhow::Result<()> {
        match report {
            SenderReport::TopicReplaced { dialog_id } => {
                match dialogs::by_id(self.tx, *dialog_id)? {
                    Some(dialog) => self.notify_topic(&dialog, texts::TOPIC_REPLACED),
                    None => Ok(()),
                }
            }
            SenderReport::Failed { job, error, kind } => self.on_failed(job, error, *kind),
        }
    }

    fn on_failed(&mut self, job: &Job, error: &str, kind: FailureKind) -> anyhow::Result<()> {
        if kind == FailureKind::Blocked {
            if let Action::Copy {
                to: Target::User(user),
                ..
            }
            | Action::SendText {
                to: Target::User(user),
                ..
            } = job.action
            {
                if users::set_blocked(self.tx, &self.bot.name, user, true)? {
                    if let Some(dialog) = dialogs::by_user(self.tx, &self.bot.name, user)? {
                        self.show_status(dialog.id)?;
                    }
                }
            }
        }
        match (&job.purpose, kind) {
            (Purpose::Reply { dialog, .. }, FailureKind::Blocked) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                self.notify_topic(&dialog, texts::BLOCKED)
            }
            (Purpose::Reply { dialog, what }, FailureKind::Other) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                self.notify_topic(
                    &dialog,
                    &texts::not_delivered_to_user(what.as_deref(), error),
                )
            }
            (Purpose::Inbound { dialog, what }, _) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                self.tell_not_delivered(&dialog)?;
                // Operators see it too, where they work (if the topic exists).
                self.notify_topic(&dialog, &texts::not_shown(what.as_deref(), error))
            }
            (Purpose::UserEdit { dialog }, _) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                // The new content, as a reply to the copy that could not
                // follow (an edit queued before EditCopy names the copy).
                let (copy, params) = match &job.action {
                    Action::EditCopy {
                        chat,
                        original_chat,
                        original_id,
                        params,
                        ..
                    } => {
                        let copy = links::counterpart(
                            self.tx,
                            &self.bot.name,
                            *original_chat,
                            *original_id,
                            *chat,
                        )?;
                        (copy, params)
                    }
                    Action::Edit {
                        message_id, params, ..
                    } => (Some(*message_id), params),
                    _ => return Ok(()),
                };
                let now = params
                    .get("text")
                    .or_else(|| params.get("caption"))
                    .or_else(|| params.pointer("/media/caption"))
                    .and_then(serde_json::Value::as_str);
                let text = texts::user_edit_not_shown(error, now);
                self.notify_topic_replying(&dialog, &text, copy)
            }
            (Purpose::OperatorEdit { dialog }, _) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                // A reply to the operator's message.
                let original = match &job.action {
                    Action::EditCopy { original_id, .. } => Some(*original_id),
                    _ => None,
                };
                self.notify_topic_replying(&dialog, &texts::edit_not_delivered(error), original)
            }
            (Purpose::Mirror { dialog }, _) => {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                self.notify_topic(&dialog, &texts::mirror_failed(error))
            }
            (Purpose::TopicChange { dialog }, _)
                if matches!(job.action, Action::CreateTopic { .. }) =>
            {
                let Some(dialog) = dialogs::by_id(self.tx, *dialog)? else {
                    return Ok(());
                };
                let user = users::get(self.tx, &self.bot.name, dialog.user_id)?;
                let who = user.map_or_else(
                    || format!("dialog {}", dialog.id),
                    |u| texts::describe_user(&u),
                );
                self.notify_general(dialog.backend_group, &texts::topic_not_created(&who, error))
            }
            (
                Purpose::Welcome { .. }
                | Purpose::UserNotice { .. }
                | Purpose::Broadcast
                | Purpose::TopicChange { .. }
                | Purpose::TopicNotice { .. }
                | Purpose::GeneralNotice
                | Purpose::MirrorEdit { .. }
                | Purpose::Reaction { .. },
                _,
            ) => {
                debug!(bot = %self.bot.name, purpose = ?job.purpose, "a failed job nobody waits for");
                Ok(())
            }
        }
    }
}
