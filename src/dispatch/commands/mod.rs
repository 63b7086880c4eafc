//! Operator commands, one file each. A command is never relayed to a user.

pub mod close;
pub mod new;

use super::rules::Command;
use super::{Ctx, texts};
use crate::store::dialogs::Dialog;

/// A command written inside a dialog's topic.
pub fn in_topic(ctx: &mut Ctx<'_>, dialog: &Dialog, command: &Command) -> anyhow::Result<()> {
    match command.name.as_str() {
        "close" => close::run(ctx, dialog),
        "new" => ctx.notify_topic(dialog, texts::NEW_IN_GENERAL),
        other => ctx.notify_topic(dialog, &texts::unknown_command(other)),
    }
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
