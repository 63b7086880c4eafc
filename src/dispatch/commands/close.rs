//! `/close` in a topic: closes the dialog. The user's next message reopens it.

use super::super::{Ctx, texts};
use crate::outbox::Action;
use crate::store::dialogs::{self, Dialog, Status};

pub fn run(ctx: &mut Ctx<'_>, dialog: &Dialog) -> anyhow::Result<()> {
    if dialog.status == Status::Closed {
        return ctx.notify_topic(dialog, texts::ALREADY_CLOSED);
    }
    close(ctx, dialog)
}

/// Marks the dialog closed and queues closing its topic.
pub fn close(ctx: &mut Ctx<'_>, dialog: &Dialog) -> anyhow::Result<()> {
    dialogs::set_status(ctx.tx, dialog.id, Status::Closed)?;
    ctx.show_status(dialog.id)?;
    ctx.change_topic(dialog, Action::CloseTopic { dialog: dialog.id })
}
