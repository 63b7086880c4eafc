//! Accounts: creating bots, users and groups, finding a bot by its token,
//! and moving a group to a new id (migration).

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use super::{
    BotAccount, ChatKey, GENERAL_THREAD_ID, Group, World, content_map, message_index,
    next_message_id, now, random_string,
};
use crate::fake::error::ApiError;
use crate::fake::{FakeBot, FakeUser};

impl World {
    pub(in crate::fake) fn add_bot(&mut self, username: &str) -> FakeBot {
        let id = self.next_bot_id;
        self.next_bot_id += 1;
        let profile = FakeBot {
            id,
            token: format!("{id}:{}", random_string(35)),
            username: username.to_owned(),
        };
        self.tokens.insert(profile.token.clone(), id);
        self.bots.insert(
            id,
            BotAccount {
                profile: profile.clone(),
                updates: VecDeque::new(),
                next_update_id: 1,
                confirmed: VecDeque::new(),
                repeats: Vec::new(),
                serving: Vec::new(),
                allowed_updates: None,
                webhook_url: None,
                poll_generation: 0,
            },
        );
        profile
    }

    pub(in crate::fake) fn add_user(
        &mut self,
        first_name: &str,
        username: Option<&str>,
    ) -> FakeUser {
        let user = FakeUser {
            id: self.next_user_id,
            first_name: first_name.to_owned(),
            username: username.map(str::to_owned),
        };
        self.next_user_id += 1;
        self.users.insert(user.id, user.clone());
        user
    }

    pub(in crate::fake) fn add_group(
        &mut self,
        title: &str,
        is_forum: bool,
        admin_bots: &[i64],
    ) -> i64 {
        for &bot in admin_bots {
            self.bot(bot);
        }
        let id = self.next_group_id;
        self.next_group_id -= 1;
        self.groups.insert(
            id,
            Group {
                title: title.to_owned(),
                is_forum,
                bots: admin_bots.iter().map(|&bot| (bot, true)).collect(),
                messages: Vec::new(),
                reactions: BTreeMap::new(),
                topics: BTreeMap::new(),
            },
        );
        // Message 1, as in a real supergroup; it also keeps topic ids clear of
        // General's id 1.
        let created = content_map(json!({ "supergroup_chat_created": true }));
        self.post(ChatKey::Group(id), None, None, None, created);
        id
    }

    pub(in crate::fake) fn add_bot_to_group(&mut self, group: i64, bot: i64, admin: bool) {
        self.bot(bot);
        self.group_mut(group).bots.insert(bot, admin);
    }

    /// Moves `old` to a fresh id with its topics, messages and bots (stored
    /// messages are rewritten to name the new chat) and tells the bots, as
    /// Telegram does: a `migrate_to_chat_id` message from the old chat, then a
    /// `migrate_from_chat_id` message in the new chat's General topic. Later
    /// calls naming `old` get 400 with `migrate_to_chat_id` (`World::apply`).
    pub(in crate::fake) fn migrate_group(&mut self, old: i64) -> i64 {
        let mut group = self.groups.remove(&old).unwrap_or_else(|| {
            panic!("fake Telegram: no group {old} in this fake (already migrated?)")
        });
        let new = self.next_group_id;
        self.next_group_id -= 1;
        for message in &mut group.messages {
            rename_chat(message, new);
            if let Some(reply) = message.get_mut("reply_to_message") {
                rename_chat(reply, new);
            }
        }
        let bots: Vec<i64> = group.bots.keys().copied().collect();
        let farewell_id = next_message_id(&group.messages);
        self.groups.insert(new, group);
        for target in self.migrated.values_mut() {
            if *target == old {
                *target = new;
            }
        }
        self.migrated.insert(old, new);
        self.limiter.move_group(old, new);

        let mut old_chat = self.chat_json(ChatKey::Group(new));
        old_chat["id"] = old.into();
        let farewell = json!({
            "message_id": farewell_id,
            "chat": old_chat,
            "date": now(),
            "migrate_to_chat_id": new,
        });
        for bot in bots {
            self.enqueue(bot, "message", farewell.clone());
        }
        let welcome = content_map(json!({ "migrate_from_chat_id": old }));
        let message = self.post(ChatKey::Group(new), None, None, None, welcome);
        self.fan_out_to_group(new, &message);
        new
    }

    pub(in crate::fake) fn bot_for_token(&self, token: &str) -> Option<i64> {
        self.tokens.get(token).copied()
    }

    /// Every bot, by id.
    pub(in crate::fake) fn bot_profiles(&self) -> Vec<FakeBot> {
        self.bots.values().map(|b| b.profile.clone()).collect()
    }

    // ---- ids from outside ----------------------------------------------------------
    //
    // The methods above panic on an id the fake never gave out: from a test,
    // that is a bug in the test. The control API takes ids from another
    // process, so it checks them first, under the same lock, with these.

    /// 404 unless `id` is a bot of this fake.
    pub(in crate::fake) fn require_bot(&self, id: i64) -> Result<(), ApiError> {
        require(self.bots.contains_key(&id), || format!("no bot {id}"))
    }

    /// 404 unless `id` is a user of this fake.
    pub(in crate::fake) fn require_user(&self, id: i64) -> Result<(), ApiError> {
        require(self.users.contains_key(&id), || format!("no user {id}"))
    }

    /// 404 unless `id` is a group of this fake (at its current id).
    pub(in crate::fake) fn require_group(&self, id: i64) -> Result<(), ApiError> {
        match self.migrated.get(&id) {
            Some(new) => require(false, || format!("group {id} moved to {new}")),
            None => require(self.groups.contains_key(&id), || format!("no group {id}")),
        }
    }

    /// 404 unless `thread` is General (1) or a topic of `group` (a live one
    /// if `live`), and `group` is a group of this fake.
    pub(in crate::fake) fn require_topic(
        &self,
        group: i64,
        thread: i64,
        live: bool,
    ) -> Result<(), ApiError> {
        self.require_group(group)?;
        let topic = self.group(group).topics.get(&thread);
        let found = thread == GENERAL_THREAD_ID || topic.is_some_and(|t| !(live && t.deleted));
        require(found, || format!("no topic {thread} in group {group}"))
    }

    /// 404 unless `group` has a message `id`.
    pub(in crate::fake) fn require_group_message(
        &self,
        group: i64,
        id: i64,
    ) -> Result<(), ApiError> {
        self.require_group(group)?;
        let messages = &self.group(group).messages;
        let found = message_index(id).is_some_and(|i| i < messages.len());
        require(found, || format!("no message {id} in group {group}"))
    }
}

/// `Ok` if `found`, else 404 `Not Found: {what}`.
fn require(found: bool, what: impl FnOnce() -> String) -> Result<(), ApiError> {
    if found {
        Ok(())
    } else {
        Err(ApiError::new(404, &format!("Not Found: {}", what())))
    }
}

/// Points a stored message at the chat's new id.
fn rename_chat(message: &mut Value, chat_id: i64) {
    if let Some(chat) = message.get_mut("chat").and_then(Value::as_object_mut) {
        chat.insert("id".into(), chat_id.into());
    }
}
