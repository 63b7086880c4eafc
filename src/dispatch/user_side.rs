//! What a user's private message does: it opens (or reopens) their dialog,
//! with the welcome and the topic, and is copied into the topic; content
//! Telegram does not let bots copy becomes a notice saying what arrived.
//! Blocking and unblocking the bot show in the topic.

use super::rules::{self, Content, UserPlan};
use super::{Ctx, texts};
use crate::outbox::{Action, Purpose, Target};
use crate::store::albums::Part;
use crate::store::dialogs::{self, Dialog, Status};
use crate::store::links::Direction;
use crate::store::users::{self, User};
use crate::telegram::update::{MemberChange, Message};
use tracing::{debug, warn};

impl Ctx<'_> {
    pub(super) fn on_user_message(&mut self, message: &Message) -> anyhow::Result<()> {
        let Some(from) = &message.from else {
            warn!(bot = %self.bot.name, "private message without a sender; skipped");
            return Ok(());
        };
        if from.is_bot {
            return Ok(());
        }
        // An album this message is not part of is complete.
        let album = message.media_group_id.as_deref();
        self.complete_albums_at(message.chat.id, 0, album)?;
        let content = rules::classify(message);
        if let Content::Service(key) = content {
            return self.on_user_service_message(from.id, key);
        }
        let user = User {
            user_id: from.id,
            first_name: from.first_name.clone(),
            last_name: from.last_name.clone(),
            username: from.username.clone(),
        };
        users::wrote(self.tx, &self.bot.name, &user, self.now)?;
        users::set_profile(
            self.tx,
            &self.bot.name,
            user.user_id,
            from.language.as_deref(),
            from.is_premium,
        )?;
        if let Some(payload) = rules::start_payload(message) {
            users::set_start_payload(self.tx, &self.bot.name, user.user_id, payload)?;
        }
        let existing = dialogs::by_user(self.tx, &self.bot.name, user.user_id)?;
        let plan = rules::plan_user_message(
            existing.as_ref().map(|d| d.status),
            rules::searchable_text(message),
            &self.bot.settings.private_keywords,
        );
        let dialog = match (plan, existing) {
            (UserPlan::WaitForKeyword, _) => {
                debug!(bot = %self.bot.name, user = user.user_id, "no private keyword yet; not relayed");
                return Ok(());
            }
            (UserPlan::Open, _) | (_, None) => {
                let group = dialogs::least_busy_group(self.tx, &self.bot.name, &self.groups()?)?;
                let dialog =
                    dialogs::insert(self.tx, &self.bot.name, user.user_id, group, self.now)?;
                self.welcome(&dialog, &user)?;
                self.ensure_topic(&dialog, &user, false)?;
                self.mirror_history(&dialog)?;
                dialog
            }
            (UserPlan::Reopen, Some(dialog)) => {
                self.welcome(&dialog, &user)?;
                self.ensure_topic(&dialog, &user, true)?;
                self.mirror_history(&dialog)?;
                dialog
            }
            (UserPlan::Relay, Some(dialog)) => {
                self.ensure_topic(&dialog, &user, false)?;
                dialog
            }
        };
        if dialog.status != Status::UserAnswered {
            dialogs::set_status(self.tx, dialog.id, Status::UserAnswered)?;
            self.show_status(dialog.id)?;
        }
        let what = match content {
            Content::Copyable | Content::Service(_) => None,
            Content::Unknown(what) => Some(what),
            Content::NotCopyable(what) => {
                // Telegram would refuse the copy: say what arrived instead.
                self.tell_not_delivered(&dialog)?;
                return self.notify_topic(&dialog, &texts::not_copyable(what, message));
            }
        };
        // A forward is forwarded: operators see where it came from.
        let forwarded = message.keys.contains("forward_origin");
        if let Some(album) = album {
            let part = Part {
                message_id: message.message_id,
                dialog: dialog.id,
                toward: Direction::ToTopic,
                reply_to: message.reply_to,
                forwarded,
            };
            return self.gather((message.chat.id, 0), album, &part);
        }
        let copy = Action::Copy {
            to: Target::TopicOf(dialog.id),
            from_chat: message.chat.id,
            message_ids: vec![message.message_id],
            keyboard: None,
            reply_to: message.reply_to,
            forward: forwarded,
        };
        let purpose = Purpose::Inbound {
            dialog: dialog.id,
            what,
        };
        self.queue(&dialog, purpose, copy)
    }

    /// A service message in the user's chat (a payment, a shared contact, a
    /// pinned message, ...): it cannot be copied, so operators of an open
    /// dialog get a note saying what happened. It opens no dialog.
    fn on_user_service_message(&mut self, user: i64, key: &str) -> anyhow::Result<()> {
        match dialogs::by_user(self.tx, &self.bot.name, user)? {
            Some(dialog) if dialog.status != Status::Closed => {
                self.notify_topic(&dialog, &texts::user_service_message(key))
            }
            _ => {
                debug!(bot = %self.bot.name, user, key, "a service message outside a dialog; not relayed");
                Ok(())
            }
        }
    }

    /// Tells the user their message did not reach support, unless the bot
    /// is in silent mode.
    pub(super) fn tell_not_delivered(&mut self, dialog: &Dialog) -> anyhow::Result<()> {
        if self.bot.settings.silent_mode {
            return Ok(());
        }
        let purpose = Purpose::UserNotice { dialog: dialog.id };
        self.send_to_user(dialog, purpose, texts::NOT_DELIVERED)
    }

    /// The greeting, in Telegram's HTML, `{name}` filled in with the user's
    /// first name.
    fn welcome(&mut self, dialog: &Dialog, user: &User) -> anyhow::Result<()> {
        let Some(template) = &self.bot.settings.welcome else {
            return Ok(());
        };
        let action = Action::SendText {
            to: Target::User(dialog.user_id),
            text: rules::welcome_text(template, &user.first_name),
            html: true,
            reply_to: None,
        };
        self.queue(dialog, Purpose::Welcome { dialog: dialog.id }, action)
    }

    /// `my_chat_member` in a private chat: the user blocked ("kicked") or
    /// unblocked ("member") the bot. Other statuses say nothing about that.
    pub(super) fn on_block_change(&mut self, change: &MemberChange) -> anyhow::Result<()> {
        let blocked = match change.new_status.as_deref() {
            Some("kicked") => true,
            Some("member") => false,
            _ => return Ok(()),
        };
        let user = change.chat.id;
        if users::set_blocked(self.tx, &self.bot.name, user, blocked)? {
            if let Some(dialog) = dialogs::by_user(self.tx, &self.bot.name, user)? {
                let text = if blocked {
                    texts::USER_BLOCKED
                } else {
                    texts::USER_UNBLOCKED
                };
                self.notify_topic(&dialog, text)?;
                self.show_status(dialog.id)?;
            }
        }
        Ok(())
    }
}
