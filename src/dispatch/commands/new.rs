//! `/new USER_ID` in General: opens a dialog with a user the bot knows.
//!
//! A bot can only write to people who wrote to it first, so the user must be
//! known; the dialog's topic is created (or reopened) and the operator writes
//! there. A new dialog goes to the group where /new was written. No welcome
//! is sent: the user did not write.

use super::super::{Ctx, rules};
use crate::store::dialogs::{self, Status};
use crate::store::users;

const USAGE: &str = "Usage: /new USER_ID — opens a dialog with a user who has written to this bot before. The id is in each topic's name.";

pub fn run(ctx: &mut Ctx<'_>, group: i64, args: &str) -> anyhow::Result<()> {
    let Ok(user_id) = args.trim().parse::<i64>() else {
        return ctx.answer_in_general(group, USAGE.into());
    };
    let Some(user) = users::get(ctx.tx, &ctx.bot.name, user_id)? else {
        return ctx.answer_in_general(group, format!(
            "User {user_id} has not written to this bot, and a bot cannot start a conversation. \
             Ask them to send the bot a message first."
        ));
    };
    let who = rules::describe_user(&user);
    let dialog = match dialogs::by_user(ctx.tx, &ctx.bot.name, user_id)? {
        Some(dialog) if dialog.status != Status::Closed => {
            let link = dialog
                .topic_id
                .and_then(|topic| rules::topic_link(dialog.backend_group, topic))
                .map(|link| format!(": {link}"))
                .unwrap_or_default();
            return ctx
                .answer_in_general(group, format!("A dialog with {who} is already open{link}"));
        }
        Some(dialog) => {
            dialogs::set_status(ctx.tx, dialog.id, Status::UserAnswered)?;
            ctx.ensure_topic(&dialog, &user, true)?;
            ctx.answer_in_general(group, format!("Reopened the dialog with {who}."))?;
            dialog
        }
        None => {
            let dialog = dialogs::insert(ctx.tx, &ctx.bot.name, user_id, group, ctx.now)?;
            ctx.ensure_topic(&dialog, &user, false)?;
            ctx.answer_in_general(group, format!("Opened a dialog with {who}."))?;
            dialog
        }
    };
    super::note(
        ctx,
        &dialog,
        format!("Dialog opened by an operator with /new. Messages written here go to {who}."),
    )
}
