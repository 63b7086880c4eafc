//! The fake's state, and what changes it.
//!
//! Everything here is synchronous and runs under the fake's one mutex: the
//! server decodes a request, locks, calls in here, unlocks, answers.
//! Messages are stored as the Telegram `Message` JSON the Bot API would return,
//! one `Vec` per chat with message id = index + 1 (ids are per chat, from 1,
//! and nothing is ever deleted); an edit replaces a message in place.
//!
//! This file holds the state ([`World`]) and what every part uses (posting a
//! message, looking up accounts, the JSON of users and chats). The parts, by
//! concern, each an `impl World` of its own:
//! - `accounts`: creating bots, users and groups; tokens; group migration.
//! - `people`: what users and operators do, and what they see.
//! - `updates`: the update queues, `getUpdates` and webhooks.
//! - `methods`: the table of the Bot API methods the fake implements, and
//!   the methods themselves, but for those of the next two parts.
//! - `media`: the methods that send files (`sendPhoto`, .., `sendMediaGroup`).
//! - `edits`: the edits of a bot's own messages (`editMessageText`,
//!   `editMessageCaption`, `editMessageMedia`, `editMessageReplyMarkup`,
//!   `editMessageLiveLocation`, `stopMessageLiveLocation`).
//! - `locations`: `sendLocation`, and the live locations that edits and
//!   people move.
//! - `files`: the file store (uploads, files sent by URL, people's files),
//!   `getFile` and downloads.
//! - `reactions`: `setMessageReaction` and people's reactions, kept beside
//!   each chat's messages.
//! - `requests`: the record of requests and the injected faults.

mod accounts;
mod edits;
mod files;
mod locations;
mod media;
mod methods;
mod people;
mod reactions;
mod requests;
mod updates;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::limits::{FakeStats, Limiter, Limits};
use super::{FakeBot, FakeUser, FaultRule, RecordedRequest};

pub(super) use self::files::{FileKind, new_file_ids};
pub(super) use self::methods::{Handler, find_method, method_names, random_digits};
pub use self::reactions::REACTION_EMOJI;
pub(super) use self::updates::{PollRequest, Update};

const FIRST_USER_ID: i64 = 1_000_000_001;
const FIRST_BOT_ID: i64 = 7_000_000_001;
const FIRST_GROUP_ID: i64 = -1_001_000_000_001;
/// The General topic's id; messages in it carry no thread id.
pub(super) const GENERAL_THREAD_ID: i64 = 1;

/// Everything the fake knows.
pub(super) struct World {
    next_user_id: i64,
    next_bot_id: i64,
    next_group_id: i64,
    bots: BTreeMap<i64, BotAccount>,
    /// Token -> bot id.
    tokens: HashMap<String, i64>,
    users: BTreeMap<i64, FakeUser>,
    /// Keyed by (bot id, user id): each bot has its own chat with a user.
    private_chats: HashMap<(i64, i64), PrivateChat>,
    groups: BTreeMap<i64, Group>,
    /// Old group id -> the id the group lives at now.
    migrated: HashMap<i64, i64>,
    requests: Vec<RecordedRequest>,
    faults: Vec<FaultRule>,
    /// Decides which requests a [`super::Fault::Sometimes`] hits; seedable.
    fault_rng: fastrand::Rng,
    /// Rate limits and what they let through.
    limiter: Limiter,
    /// Bots whose waiting `getUpdates` must look again (their updates, their
    /// webhook or their newest poll changed), taken after each change.
    polls_changed: BTreeSet<i64>,
    /// Button presses sent to bots as `callback_query` updates, by id.
    callback_queries: HashMap<String, CallbackQuery>,
    /// Every file, and the paths `getFile` gave out.
    files: files::Files,
}

/// A button press, and whether the bot answered it.
pub(in crate::fake) struct CallbackQuery {
    bot: i64,
    answered: bool,
    /// The text the answer showed the user, if any.
    text: Option<String>,
}

struct BotAccount {
    profile: FakeBot,
    /// Unconfirmed updates, oldest first, each with its `update_id`.
    updates: VecDeque<Update>,
    /// The latest confirmed updates (at most `updates::CONFIRMED_KEPT`), oldest first.
    confirmed: VecDeque<Update>,
    /// Confirmed updates to serve again, with the next `getUpdates`.
    repeats: Vec<Update>,
    /// Repeats the current `getUpdates` serves before the queue.
    serving: Vec<Update>,
    next_update_id: i64,
    /// Remembered filter; `None` or empty means the default set.
    allowed_updates: Option<Vec<String>>,
    webhook_url: Option<String>,
    /// Bumped by every `getUpdates`; a waiting call that sees it change was
    /// superseded and answers 409.
    poll_generation: u64,
}

#[derive(Default)]
struct PrivateChat {
    messages: Vec<Value>,
    /// The user wrote to the bot at least once; until then the bot cannot write.
    started: bool,
    blocked: bool,
    /// The reactions to the messages, beside them.
    reactions: reactions::Reactions,
}

struct Group {
    title: String,
    is_forum: bool,
    /// Bot id -> is admin (with `can_manage_topics`).
    bots: BTreeMap<i64, bool>,
    messages: Vec<Value>,
    /// The reactions to the messages, beside them.
    reactions: reactions::Reactions,
    topics: BTreeMap<i64, Topic>,
}

struct Topic {
    name: String,
    icon_color: i64,
    icon_custom_emoji_id: Option<String>,
    closed: bool,
    deleted: bool,
}

/// Which chat's message list a message goes to.
#[derive(Clone, Copy, Debug)]
enum ChatKey {
    Private { bot: i64, user: i64 },
    Group(i64),
}

impl World {
    pub(super) fn new() -> World {
        World {
            next_user_id: FIRST_USER_ID,
            next_bot_id: FIRST_BOT_ID,
            next_group_id: FIRST_GROUP_ID,
            bots: BTreeMap::new(),
            tokens: HashMap::new(),
            users: BTreeMap::new(),
            private_chats: HashMap::new(),
            groups: BTreeMap::new(),
            migrated: HashMap::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            fault_rng: fastrand::Rng::new(),
            limiter: Limiter::default(),
            polls_changed: BTreeSet::new(),
            callback_queries: HashMap::new(),
            files: files::Files::default(),
        }
    }

    // ---- rate limits ------------------------------------------------------------------

    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.limiter.set_limits(limits);
    }

    pub(super) fn stats(&self) -> FakeStats {
        self.limiter.stats()
    }

    pub(super) fn clear_stats(&mut self) {
        self.limiter.clear_stats();
    }

    // ---- shared by the parts ----------------------------------------------------

    /// Appends a message to a chat and returns its JSON. In a topic it gets the
    /// thread fields and, unless it replies to something else, a reply to the
    /// topic's first message, as Telegram does.
    fn post(
        &mut self,
        chat: ChatKey,
        from: Option<Value>,
        thread: Option<i64>,
        reply_to: Option<Value>,
        content: Map<String, Value>,
    ) -> Value {
        let chat_json = self.chat_json(chat);
        let messages = match chat {
            ChatKey::Private { bot, user } => {
                &mut self.private_chats.entry((bot, user)).or_default().messages
            }
            ChatKey::Group(id) => &mut self.group_mut(id).messages,
        };
        let id = next_message_id(messages);
        let mut message = Map::new();
        message.insert("message_id".into(), id.into());
        if let Some(from) = from {
            message.insert("from".into(), from);
        }
        message.insert("chat".into(), chat_json);
        message.insert("date".into(), now().into());
        if let Some(thread) = thread {
            message.insert("message_thread_id".into(), thread.into());
            message.insert("is_topic_message".into(), true.into());
        }
        let topic_root = || {
            thread
                .filter(|&t| t != id)
                .and_then(message_index)
                .and_then(|i| messages.get(i))
                .map(reply_copy)
        };
        if let Some(reply) = reply_to.or_else(topic_root) {
            message.insert("reply_to_message".into(), reply);
        }
        for (key, value) in content {
            if key != "message_id" && key != "chat" {
                message.insert(key, value);
            }
        }
        add_command_entity(&mut message);
        let message = Value::Object(message);
        messages.push(message.clone());
        message
    }

    /// A live topic addressed by a test; a wrong address is a bug in the test.
    fn live_topic_mut(&mut self, group: i64, thread: i64) -> &mut Topic {
        self.group_mut(group)
            .topics
            .get_mut(&thread)
            .filter(|t| !t.deleted)
            .unwrap_or_else(|| panic!("fake Telegram: group {group} has no live topic {thread}"))
    }

    fn chat_json(&self, chat: ChatKey) -> Value {
        match chat {
            ChatKey::Private { user, .. } => private_chat_json(self.user(user)),
            ChatKey::Group(id) => {
                let group = self.group(id);
                let mut chat = json!({ "id": id, "type": "supergroup", "title": group.title });
                if group.is_forum {
                    chat["is_forum"] = true.into();
                }
                chat
            }
        }
    }

    fn bot_user_json(&self, bot: i64) -> Value {
        let profile = &self.bot(bot).profile;
        json!({
            "id": profile.id,
            "is_bot": true,
            "first_name": profile.username,
            "username": profile.username,
        })
    }

    fn bot(&self, id: i64) -> &BotAccount {
        self.bots
            .get(&id)
            .unwrap_or_else(|| panic!("fake Telegram: no bot {id} in this fake"))
    }

    fn bot_mut(&mut self, id: i64) -> &mut BotAccount {
        self.bots
            .get_mut(&id)
            .unwrap_or_else(|| panic!("fake Telegram: no bot {id} in this fake"))
    }

    fn user(&self, id: i64) -> &FakeUser {
        self.users
            .get(&id)
            .unwrap_or_else(|| panic!("fake Telegram: no user {id} in this fake"))
    }

    fn group(&self, id: i64) -> &Group {
        self.groups
            .get(&id)
            .unwrap_or_else(|| panic!("fake Telegram: no group {id} in this fake"))
    }

    fn group_mut(&mut self, id: i64) -> &mut Group {
        self.groups
            .get_mut(&id)
            .unwrap_or_else(|| panic!("fake Telegram: no group {id} in this fake"))
    }
}

/// The thread id of a stored message (`None` in General and private chats).
pub(super) fn thread_of(message: &Value) -> Option<i64> {
    message["message_thread_id"].as_i64()
}

/// A test-provided content object as a map.
///
/// # Panics
/// If `content` is not a JSON object (a bug in the test).
pub(super) fn content_map(content: Value) -> Map<String, Value> {
    match content {
        Value::Object(map) => map,
        other => panic!("fake Telegram: content must be a JSON object, got {other}"),
    }
}

/// `n` random characters from Telegram's token alphabet.
pub(super) fn random_string(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..n)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

fn topic_state_content(closed: bool) -> Map<String, Value> {
    let kind = if closed {
        "forum_topic_closed"
    } else {
        "forum_topic_reopened"
    };
    let mut content = Map::new();
    content.insert(kind.into(), json!({}));
    content
}

/// `message` as it appears in another message's `reply_to_message` (one level deep).
fn reply_copy(message: &Value) -> Value {
    let mut copy = message.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("reply_to_message");
    }
    copy
}

/// Telegram adds a `bot_command` entity for a text that starts with a command.
fn add_command_entity(message: &mut Map<String, Value>) {
    let Some(length) = message
        .get("text")
        .and_then(Value::as_str)
        .and_then(command_length)
    else {
        return;
    };
    let entity = json!({ "type": "bot_command", "offset": 0, "length": length });
    let entities = message
        .entry("entities")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entities {
        if !list
            .iter()
            .any(|e| e["type"] == "bot_command" && e["offset"] == 0)
        {
            list.insert(0, entity);
        }
    }
}

/// Length of the `/command` or `/command@bot` word at the start of `text`.
fn command_length(text: &str) -> Option<usize> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let rest = text.strip_prefix('/')?;
    let word = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
    if word == 0 {
        return None;
    }
    let mut length = 1 + word;
    if let Some(mention) = rest[word..].strip_prefix('@') {
        let name = mention.find(|c: char| !is_word(c)).unwrap_or(mention.len());
        if name > 0 {
            length += 1 + name;
        }
    }
    Some(length)
}

fn message_id(message: &Value) -> i64 {
    message["message_id"].as_i64().unwrap_or(0)
}

fn next_message_id(messages: &[Value]) -> i64 {
    i64::try_from(messages.len()).map_or(i64::MAX, |n| n + 1)
}

/// Position of message `id` in its chat's list.
fn message_index(id: i64) -> Option<usize> {
    usize::try_from(id.checked_sub(1)?).ok()
}

fn user_json(user: &FakeUser) -> Value {
    let mut json = json!({ "id": user.id, "is_bot": false, "first_name": user.first_name });
    if let Some(username) = &user.username {
        json["username"] = username.clone().into();
    }
    json
}

fn private_chat_json(user: &FakeUser) -> Value {
    let mut json = json!({ "id": user.id, "type": "private", "first_name": user.first_name });
    if let Some(username) = &user.username {
        json["username"] = username.clone().into();
    }
    json
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_entities_cover_the_command_word() {
        assert_eq!(command_length("/close"), Some(6));
        assert_eq!(command_length("/new 42"), Some(4));
        assert_eq!(command_length("/start@shop_bot hi"), Some(15));
        assert_eq!(command_length("/ hello"), None);
        assert_eq!(command_length("hello"), None);
    }
}
