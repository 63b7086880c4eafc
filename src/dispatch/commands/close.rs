//! `/close` in a topic: closes the dialog. The user's next message reopens it.

use super::super::Ctx;
use crate::outbox::{Job, Priority};
use crate::store::dialogs::{self, Dialog, Status};

pub fn run(ctx: &mut Ctx<'_>, dialog: &Dialog) -> anyhow::Result<()> {
    if dialog.status == Status::Closed {
        return super::note(ctx, dialog, "This dialog is already closed.".into());
    }
    close(ctx, dialog)
}

/// Marks the dialog closed and queues closing its topic.
pub fn close(ctx: &mut Ctx<'_>, dialog: &Dialog) -> anyhow::Result<()> {
    dialogs::set_status(ctx.tx, dialog.id, Status::Closed)?;
    let job = Job::CloseTopic {
        dialog_id: dialog.id,
    };
    ctx.enqueue(dialog, Priority::TopicEdit, job)
}
