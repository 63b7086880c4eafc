//! What a message in a backend group does: a group that moved is followed;
//! in a dialog's topic an operator's message is copied to the user (a closed
//! dialog reopens), a command runs, a note (`/ ...`) stays; messages in
//! General are never relayed.

use tracing::{debug, info, warn};

use super::rules::{self, OperatorPlan};
use super::{Ctx, commands, texts};
use crate::outbox::{Action, Purpose, Target};
use crate::store::albums::Part;
use crate::store::dialogs::{self, Dialog, Status};
use crate::store::links::Direction;
use crate::store::{self, users};
use crate::telegram::update::Message;

impl Ctx<'_> {
    /// `raw` is the update, as received (held back if its topic's creation
    /// is not recorded yet).
    pub(super) fn on_group_message(&mut self, message: &Message, raw: &str) -> anyhow::Result<()> {
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
        self.on_operator_message(message, raw)
    }

    fn on_operator_message(&mut self, message: &Message, raw: &str) -> anyhow::Result<()> {
        let username = store::bots::username(self.tx, &self.bot.name)?;
        let group = message.chat.id;
        let plan = rules::plan_operator_message(message, group, username.as_deref());
        let in_topic = message.is_topic_message;
        let thread = message.message_thread_id.filter(|_| in_topic);
        // An album this message is not part of is complete.
        let album = message.media_group_id.as_deref();
        self.complete_albums_at(group, thread.unwrap_or(0), album)?;
        let dialog = match thread {
            Some(topic) => dialogs::by_topic(self.tx, &self.bot.name, group, topic)?,
            None => None,
        };
        match (plan, dialog) {
            (OperatorPlan::Ignore | OperatorPlan::Note, _) => Ok(()),
            (_, None)
                if in_topic && dialogs::creating_topic_in(self.tx, &self.bot.name, group)? =>
            {
                // Perhaps the new topic, its id not recorded yet: hold the
                // update until it is.
                debug!(bot = %self.bot.name, topic = ?message.message_thread_id,
                    "holding a message until a topic's creation is recorded");
                store::held::hold(self.tx, &self.bot.name, group, raw, self.now)?;
                Ok(())
            }
            (OperatorPlan::Command(command), dialog) if in_topic => match dialog {
                Some(dialog) => commands::in_topic(self, &dialog, &command),
                None => Ok(()), // a topic that is not a dialog of this bot
            },
            (OperatorPlan::Command(command), _) => commands::in_general(self, group, &command),
            (OperatorPlan::Relay { what }, Some(dialog)) => {
                self.relay_reply(&dialog, message, what)
            }
            (OperatorPlan::NotCopyable(what), Some(dialog)) => {
                self.notify_topic(&dialog, &texts::not_sent_uncopyable(what))
            }
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
            self.change_topic(dialog, Action::ReopenTopic { dialog: dialog.id })?;
        }
        // Telegram would refuse a message to a user who blocked the bot
        // (403): say so and spend no call (for an album, once it is whole).
        let blocked = users::is_blocked(self.tx, &self.bot.name, dialog.user_id)?;
        if !blocked {
            dialogs::record_operator_reply(self.tx, dialog.id, self.now)?;
            self.show_status(dialog.id)?;
        }
        // In a topic, a message that is not a reply replies to the topic's
        // first message (whose id is the thread's).
        let reply_to = message
            .reply_to
            .filter(|&id| Some(i64::from(id)) != message.message_thread_id);
        if let (Some(album), Some(thread)) = (&message.media_group_id, message.message_thread_id) {
            let part = Part {
                message_id: message.message_id,
                dialog: dialog.id,
                toward: Direction::ToUser,
                reply_to,
                forwarded: false,
            };
            return self.gather((message.chat.id, thread), album, &part);
        }
        if blocked {
            return self.notify_topic(dialog, texts::BLOCKED);
        }
        let copy = Action::Copy {
            to: Target::User(dialog.user_id),
            from_chat: message.chat.id,
            message_ids: vec![message.message_id],
            keyboard: None,
            reply_to,
            // A forward would show operators' own chats as its origin.
            forward: false,
        };
        let purpose = Purpose::Reply {
            dialog: dialog.id,
            what,
        };
        self.queue(dialog, purpose, copy)
    }
}
