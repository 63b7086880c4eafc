//! The dialog's status in its topic's name (`status_icons`): 🟪 the user
//! wrote last, 🟨 an operator answered last, ⬛️ closed, and 🚫 after it
//! while the user has blocked the bot.
//!
//! Each change of a dialog's status (or of its user's blocking) records the
//! icon the dialog wants. A rename (`editForumTopic`) is queued only when
//! the topic's name does not show it already, at most one a minute per
//! dialog, in a lane of its own at the lowest priority: a rename never
//! delays a message, and a busy dialog never spends its group's budget on
//! renames. A change within the minute waits for the scheduler, which then
//! sends the latest status only: the name is made from it when queued.

use std::collections::HashMap;

use rusqlite::Transaction;

use super::{Ctx, Touched, act_as, rules};
use crate::config::BotConfig;
use crate::outbox::{Action, Job, Lane, Purpose};
use crate::store::dialogs::{self, Dialog};
use crate::store::users;

impl Ctx<'_> {
    /// The icon the dialog's topic name should show now ("" without
    /// `status_icons`).
    pub(super) fn wanted_icon(&self, dialog: &Dialog) -> anyhow::Result<String> {
        if !self.bot.settings.status_icons {
            return Ok(String::new());
        }
        let blocked = users::is_blocked(self.tx, &self.bot.name, dialog.user_id)?;
        Ok(rules::status_icon(dialog.status, blocked))
    }

    /// The dialog's status (or its user's blocking) may have changed: the
    /// topic's name follows (see the module's documentation).
    pub fn show_status(&mut self, dialog: i64) -> anyhow::Result<()> {
        let Some(dialog) = dialogs::by_id(self.tx, dialog)? else {
            return Ok(());
        };
        let wanted = self.wanted_icon(&dialog)?;
        dialogs::set_icon_wanted(self.tx, dialog.id, &wanted)?;
        self.rename_if_due(&dialog, &wanted)
    }

    /// Queues the rename of the dialog's topic to show `wanted`, if its
    /// name does not and the last rename is a minute old. A topic not
    /// created yet gets its icon when it is.
    fn rename_if_due(&mut self, dialog: &Dialog, wanted: &str) -> anyhow::Result<()> {
        let Some(name) = &dialog.topic_name else {
            return Ok(());
        };
        let (shown, renamed_at) = dialogs::icon_shown(self.tx, dialog.id)?;
        if !rules::rename_due(wanted, &shown, renamed_at, self.now) {
            return Ok(());
        }
        let job = Job {
            purpose: Purpose::TopicChange { dialog: dialog.id },
            action: Action::RenameTopic {
                dialog: dialog.id,
                name: rules::titled(wanted, name),
            },
        };
        self.queue_in(&Lane::Rename(dialog.user_id), dialog.backend_group, &job)?;
        dialogs::set_icon_shown(self.tx, dialog.id, wanted, Some(self.now))?;
        Ok(())
    }
}

/// Queues the renames that waited for their minute (the scheduler's pass).
/// Returns the bots that got jobs.
pub fn renames_due(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    now: i64,
) -> anyhow::Result<Touched> {
    let mut touched = Touched::new();
    for (dialog, wanted) in dialogs::due_renames(tx, now.saturating_sub(rules::RENAME_EVERY))? {
        let Some(bot) = bots.get(&dialog.bot) else {
            continue;
        };
        act_as(tx, bot, now, &mut touched, |ctx| {
            ctx.rename_if_due(&dialog, &wanted)
        })?;
    }
    Ok(touched)
}
