//! Operator commands, one file each. A command is never relayed to a user.

pub mod close;
pub mod new;

use super::Ctx;
use super::rules::{self, Command};
use crate::outbox::{Job, Priority, Target};
use crate::store::dialogs::Dialog;

/// What operators can do inside a dialog's topic, for the unknown-command answer.
const TOPIC_HELP: &str = "In a dialog's topic: /close closes the dialog; a message starting with \"/ \" is a note for operators and is not sent.";

/// A command written inside a dialog's topic.
pub fn in_topic(ctx: &mut Ctx<'_>, dialog: &Dialog, command: &Command) -> anyhow::Result<()> {
    match command.name.as_str() {
        "close" => close::run(ctx, dialog),
        "new" => note(
            ctx,
            dialog,
            "/new works in the General topic: /new USER_ID.".into(),
        ),
        other => note(
            ctx,
            dialog,
            format!(
                "Unknown command {}: nothing was sent to the user. {TOPIC_HELP}",
                rules::echo_command(other)
            ),
        ),
    }
}

/// A command written in the General topic of `group`. Commands of other bots
/// sharing the group are left alone.
pub fn in_general(ctx: &mut Ctx<'_>, group: i64, command: &Command) -> anyhow::Result<()> {
    match command.name.as_str() {
        "new" => new::run(ctx, group, &command.args),
        "close" => ctx.answer_in_general(group, "/close works inside a dialog's topic.".into()),
        _ => Ok(()),
    }
}

/// A note for operators in the dialog's topic, cut to fit a message.
pub fn note(ctx: &mut Ctx<'_>, dialog: &Dialog, text: String) -> anyhow::Result<()> {
    let job = Job::Text {
        to: Target::Topic(dialog.id),
        text: rules::fit_message(&text),
    };
    ctx.enqueue(dialog, Priority::TopicEdit, job)
}
