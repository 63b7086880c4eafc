//! Operator commands, one file each (the one-liners `/hold` and `/wait`
//! here). A command is never relayed to a user.

pub mod close;
pub mod new;

use super::rules::Command;
use super::{Ctx, texts};
use crate::store::dialogs::{self, Dialog, Status};

/// A command written inside a dialog's topic.
pub fn in_topic(ctx: &mut Ctx<'_>, dialog: &Dialog, command: &Command) -> anyhow::Result<()> {
    match command.name.as_str() {
        "close" => close::run(ctx, dialog),
        "hold" | "wait" => mark(ctx, dialog, command.name == "hold"),
        "info" if ctx.bot.settings.hide_info.command => {
            ctx.notify_topic(dialog, texts::INFO_HIDDEN)
        }
        "info" => ctx.show_card(dialog, true),
        "new" => ctx.notify_topic(dialog, texts::NEW_IN_GENERAL),
        other => ctx.notify_topic(dialog, &texts::unknown_command(other)),
    }
}

/// `/hold` (the dialog waits for support: 🟪) or `/wait` (it waits for the
/// user: 🟨, and autoclose counts from now), by hand.
fn mark(ctx: &mut Ctx<'_>, dialog: &Dialog, hold: bool) -> anyhow::Result<()> {
    if dialog.status == Status::Closed {
        return ctx.notify_topic(dialog, texts::ALREADY_CLOSED);
    }
    if hold {
        dialogs::set_status(ctx.tx, dialog.id, Status::UserAnswered)?;
    } else {
        dialogs::record_operator_reply(ctx.tx, dialog.id, ctx.now)?;
    }
    ctx.show_status(dialog.id)
}

/// A command written in the General topic of `group`. Commands of other bots
/// sharing the group are left alone.
pub fn in_general(ctx: &mut Ctx<'_>, group: i64, command: &Command) -> anyhow::Result<()> {
    match command.name.as_str() {
        "new" => new::run(ctx, group, &command.args),
        "close" => ctx.notify_general(group, texts::CLOSE_IN_TOPIC),
        _ => Ok(()),
    }
}
