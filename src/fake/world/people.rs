//! People: what users and operators do (each action leaves the messages and
//! the updates Telegram would), and what they see.

use serde_json::{Map, Value, json};

use super::locations::move_live_location;
use super::reactions::{Reactions, reactions_of};
use super::{
    ChatKey, GENERAL_THREAD_ID, World, message_id, message_index, now, private_chat_json,
    reply_copy, thread_of, topic_state_content, user_json,
};
use crate::fake::error::ApiError;
use crate::fake::{FakeMessage, FakeTopic};

impl World {
    pub(in crate::fake) fn user_sends(
        &mut self,
        bot: i64,
        user: i64,
        content: Map<String, Value>,
    ) -> i64 {
        self.user_replies(bot, user, None, content)
    }

    /// Like `user_sends`, as a reply to message `reply_to` of the chat.
    ///
    /// # Panics
    /// If the chat has no such message.
    pub(in crate::fake) fn user_replies(
        &mut self,
        bot: i64,
        user: i64,
        reply_to: Option<i64>,
        content: Map<String, Value>,
    ) -> i64 {
        let reply = reply_to.map(|id| {
            self.private_chats
                .get(&(bot, user))
                .and_then(|chat| message_index(id).and_then(|i| chat.messages.get(i)))
                .map(reply_copy)
                .unwrap_or_else(|| {
                    panic!(
                        "fake Telegram: the chat of user {user} with bot {bot} has no message {id}"
                    )
                })
        });
        let from = user_json(self.user(user));
        self.bot(bot);
        if self
            .private_chats
            .get(&(bot, user))
            .is_some_and(|chat| chat.blocked)
        {
            // Writing to a blocked bot means pressing "Restart": unblock first.
            self.set_blocked(bot, user, false);
        }
        self.private_chats.entry((bot, user)).or_default().started = true;
        self.files.register_shown(&content);
        let message = self.post(
            ChatKey::Private { bot, user },
            Some(from),
            None,
            reply,
            content,
        );
        self.enqueue(bot, "message", message.clone());
        message_id(&message)
    }

    /// The user edits their message `message_id` to `text`: the bot gets
    /// an `edited_message` update (if it asked for them).
    ///
    /// # Panics
    /// If the chat has no such message of the user's.
    pub(in crate::fake) fn user_edits(&mut self, bot: i64, user: i64, message_id: i64, text: &str) {
        self.user_changes(bot, user, message_id, |message| edit_text(message, text));
    }

    /// `operator` edits their message `message_id` in `group` to `text`:
    /// the group's bots get an `edited_message` update.
    ///
    /// # Panics
    /// If the group has no such message of the operator's.
    pub(in crate::fake) fn operator_edits(
        &mut self,
        group: i64,
        operator: i64,
        message_id: i64,
        text: &str,
    ) {
        self.operator_changes(group, operator, message_id, |message| {
            edit_text(message, text);
        });
    }

    /// The user's live location `message_id` moves to a new point: the bot
    /// gets an `edited_message` update (if it asked for them), as Telegram
    /// sends each move of a live location.
    ///
    /// # Panics
    /// If the chat has no such message of the user's, or it shows no live
    /// location that can still move.
    pub(in crate::fake) fn user_moves_live_location(
        &mut self,
        bot: i64,
        user: i64,
        message_id: i64,
        latitude: f64,
        longitude: f64,
    ) {
        self.user_changes(bot, user, message_id, |message| {
            move_live_location(message, latitude, longitude, now());
        });
    }

    /// `operator`'s live location `message_id` in `group` moves to a new
    /// point: the group's bots get an `edited_message` update.
    ///
    /// # Panics
    /// If the group has no such message of the operator's, or it shows no
    /// live location that can still move.
    pub(in crate::fake) fn operator_moves_live_location(
        &mut self,
        group: i64,
        operator: i64,
        message_id: i64,
        latitude: f64,
        longitude: f64,
    ) {
        self.operator_changes(group, operator, message_id, |message| {
            move_live_location(message, latitude, longitude, now());
        });
    }

    /// The user changes their message `message_id` with `change`; the bot
    /// gets it as an `edited_message` update.
    fn user_changes(
        &mut self,
        bot: i64,
        user: i64,
        message_id: i64,
        change: impl FnOnce(&mut Value),
    ) {
        let message = self
            .private_chats
            .get_mut(&(bot, user))
            .and_then(|chat| message_index(message_id).and_then(|i| chat.messages.get_mut(i)))
            .filter(|m| m["from"]["id"].as_i64() == Some(user))
            .unwrap_or_else(|| {
                panic!("fake Telegram: user {user} wrote no message {message_id} to bot {bot}")
            });
        change(message);
        let edited = message.clone();
        self.enqueue(bot, "edited_message", edited);
    }

    /// `operator` changes their message `message_id` in `group` with
    /// `change`; the group's bots get it as an `edited_message` update.
    fn operator_changes(
        &mut self,
        group: i64,
        operator: i64,
        message_id: i64,
        change: impl FnOnce(&mut Value),
    ) {
        let message = message_index(message_id)
            .and_then(|i| self.group_mut(group).messages.get_mut(i))
            .filter(|m| m["from"]["id"].as_i64() == Some(operator))
            .unwrap_or_else(|| {
                panic!(
                    "fake Telegram: operator {operator} wrote no message {message_id} in {group}"
                )
            });
        change(message);
        let edited = message.clone();
        let bots: Vec<i64> = self.group(group).bots.keys().copied().collect();
        for bot in bots {
            self.enqueue(bot, "edited_message", edited.clone());
        }
    }

    /// The user presses the inline button with `data` under the bot's
    /// message `message_id` in their chat: a `callback_query` update.
    /// Returns the query's id, for `answerCallbackQuery`; 404 if the bot sent
    /// no such message or it shows no such button (a client cannot press a
    /// button it does not show).
    pub(in crate::fake) fn user_presses_button(
        &mut self,
        bot: i64,
        user: i64,
        message_id: i64,
        data: &str,
    ) -> Result<String, ApiError> {
        let from = user_json(self.user(user));
        let message = message_index(message_id)
            .and_then(|i| self.private_chats.get(&(bot, user))?.messages.get(i))
            .filter(|m| m["from"]["id"].as_i64() == Some(bot))
            .ok_or_else(|| {
                ApiError::new(404, "Not Found: the bot sent no such message to the user")
            })?
            .clone();
        let shown = message["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .any(|button| button["callback_data"].as_str() == Some(data));
        if !shown {
            return Err(ApiError::new(
                404,
                "Not Found: the message shows no button with that callback data",
            ));
        }
        let id = format!("{bot}{:06}", self.callback_queries.len() + 1);
        self.callback_queries.insert(
            id.clone(),
            super::CallbackQuery {
                bot,
                answered: false,
                text: None,
            },
        );
        let query = json!({
            "id": id,
            "from": from,
            "message": message,
            "chat_instance": format!("{bot}{user}"),
            "data": data,
        });
        self.enqueue(bot, "callback_query", query);
        Ok(id)
    }

    /// `None` until the bot answered the button press `id`; then the text it
    /// showed, if any.
    pub(in crate::fake) fn callback_answer(&self, id: &str) -> Option<Option<String>> {
        self.callback_queries
            .get(id)
            .filter(|query| query.answered)
            .map(|query| query.text.clone())
    }

    /// The user started the bot some time ago: the bot may write to them.
    pub(in crate::fake) fn start_bot(&mut self, bot: i64, user: i64) {
        self.bot(bot);
        self.user(user);
        self.private_chats.entry((bot, user)).or_default().started = true;
    }

    pub(in crate::fake) fn set_blocked(&mut self, bot: i64, user: i64, blocked: bool) {
        let person = self.user(user).clone();
        let bot_user = self.bot_user_json(bot);
        let chat = self.private_chats.entry((bot, user)).or_default();
        if chat.blocked == blocked {
            return;
        }
        chat.blocked = blocked;
        chat.started |= !blocked;
        let member = json!({ "status": "member", "user": bot_user });
        let kicked = json!({ "status": "kicked", "user": bot_user, "until_date": 0 });
        let (old, new) = if blocked {
            (member, kicked)
        } else {
            (kicked, member)
        };
        let update = json!({
            "chat": private_chat_json(&person),
            "from": user_json(&person),
            "date": now(),
            "old_chat_member": old,
            "new_chat_member": new,
        });
        self.enqueue(bot, "my_chat_member", update);
    }

    pub(in crate::fake) fn operator_sends(
        &mut self,
        group_id: i64,
        thread: Option<i64>,
        operator: i64,
        reply_to: Option<i64>,
        content: Map<String, Value>,
    ) -> i64 {
        let from = user_json(self.user(operator));
        let group = self.group(group_id);
        let thread = thread.filter(|&t| t != GENERAL_THREAD_ID);
        if let Some(thread) = thread {
            assert!(
                group.topics.get(&thread).is_some_and(|t| !t.deleted),
                "fake Telegram: group {group_id} has no live topic {thread}"
            );
        }
        let reply = reply_to.map(|id| {
            message_index(id)
                .and_then(|i| group.messages.get(i))
                .map(reply_copy)
                .unwrap_or_else(|| panic!("fake Telegram: group {group_id} has no message {id}"))
        });
        self.files.register_shown(&content);
        let message = self.post(ChatKey::Group(group_id), Some(from), thread, reply, content);
        self.fan_out_to_group(group_id, &message);
        message_id(&message)
    }

    pub(in crate::fake) fn operator_sets_topic_closed(
        &mut self,
        group_id: i64,
        thread: i64,
        operator: i64,
        closed: bool,
    ) {
        let from = user_json(self.user(operator));
        let topic = self.live_topic_mut(group_id, thread);
        if topic.closed == closed {
            return;
        }
        topic.closed = closed;
        let message = self.post(
            ChatKey::Group(group_id),
            Some(from),
            Some(thread),
            None,
            topic_state_content(closed),
        );
        self.fan_out_to_group(group_id, &message);
    }

    pub(in crate::fake) fn delete_topic(&mut self, group_id: i64, thread: i64) {
        self.live_topic_mut(group_id, thread).deleted = true;
    }

    // ---- what people see ------------------------------------------------------

    pub(in crate::fake) fn private_chat(&self, bot: i64, user: i64) -> Vec<FakeMessage> {
        self.private_chats
            .get(&(bot, user))
            .map(|chat| {
                chat.messages
                    .iter()
                    .map(|m| fake_message(m, &chat.reactions))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(in crate::fake) fn topics(&self, group: i64) -> Vec<FakeTopic> {
        self.groups
            .get(&group)
            .map(|g| {
                g.topics
                    .iter()
                    .map(|(&thread_id, t)| FakeTopic {
                        thread_id,
                        name: t.name.clone(),
                        icon_color: t.icon_color,
                        closed: t.closed,
                        deleted: t.deleted,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(in crate::fake) fn group_messages(
        &self,
        group: i64,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<FakeMessage> {
        self.groups
            .get(&group)
            .map(|g| {
                g.messages
                    .iter()
                    .filter(|m| keep(m))
                    .map(|m| fake_message(m, &g.reactions))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Message fields that make a message a service message.
const SERVICE_FIELDS: &[&str] = &[
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "supergroup_chat_created",
    "group_chat_created",
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "pinned_message",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "message_auto_delete_timer_changed",
    "write_access_allowed",
];

/// Whether `message` is a service message (a topic created, a pin, ...).
pub(super) fn is_service(message: &Value) -> bool {
    SERVICE_FIELDS.iter().any(|f| message.get(*f).is_some())
}

/// A test's snapshot of a message, with the reactions it shows.
fn fake_message(message: &Value, reactions: &Reactions) -> FakeMessage {
    FakeMessage {
        message_id: message_id(message),
        from_id: message["from"]["id"].as_i64().unwrap_or(0),
        from_is_bot: message["from"]["is_bot"].as_bool().unwrap_or(false),
        thread_id: thread_of(message),
        text: message["text"].as_str().map(str::to_owned),
        caption: message["caption"].as_str().map(str::to_owned),
        is_service: is_service(message),
        json: message.clone(),
        reactions: reactions_of(reactions, message),
    }
}

/// A person's edit of a text message: the new text, without the old
/// entities, and the time of the edit.
fn edit_text(message: &mut Value, text: &str) {
    if let Value::Object(fields) = message {
        fields.insert("text".into(), text.into());
        fields.remove("entities");
        fields.insert("edit_date".into(), now().into());
    }
}
