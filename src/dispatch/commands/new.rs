//! `/new USER_ID` in General: opens a dialog with a user the bot knows.
//!
//! A bot can only write to people who wrote to it first, so the user must be
//! known; the dialog's topic is created (or reopened) and the operator writes
//! there. A new dialog goes to the group where /new was written. No welcome
//! is sent: the user did not write.

use super::super::{Ctx, texts};
use crate::store::dialogs::{self, Status};
use crate::store::users;

pub fn run(ctx: &mut Ctx<'_>, group: i64, args: &str) -> anyhow::Result<()> {
    let Ok(user_id) = args.trim().parse::<i64>() else {
        return ctx.notify_general(group, texts::NEW_USAGE);
    };
    let Some(user) = users::get(ctx.tx, &ctx.bot.name, user_id)? else {
        return ctx.notify_general(group, &texts::new_unknown_user(user_id));
    };
    let who = texts::describe_user(&user);
    let dialog = match dialogs::by_user(ctx.tx, &ctx.bot.name, user_id)? {
        Some(dialog) if dialog.status != Status::Closed => {
            let link = dialog
                .topic_id
                .and_then(|topic| texts::topic_link(dialog.backend_group, topic));
            return ctx.notify_general(group, &texts::already_open(&who, link.as_deref()));
        }
        Some(dialog) => {
            dialogs::set_status(ctx.tx, dialog.id, Status::UserAnswered)?;
            ctx.show_status(dialog.id)?;
            ctx.ensure_topic(&dialog, &user, true)?;
            ctx.notify_general(group, &texts::reopened(&who))?;
            dialog
        }
        None => {
            let dialog = dialogs::insert(ctx.tx, &ctx.bot.name, user_id, group, ctx.now)?;
            ctx.ensure_topic(&dialog, &user, false)?;
            ctx.notify_general(group, &texts::opened(&who))?;
            dialog
        }
    };
    ctx.notify_topic(&dialog, &texts::opened_by_operator(&who))
}
