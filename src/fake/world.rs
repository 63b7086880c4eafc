//! The fake's state, and the Bot API methods applied to it.
//!
//! Everything here is synchronous and runs under the fake's one mutex: the
//! server decodes a request, locks, calls into this file, unlocks, answers.
//! Messages are stored as the Telegram `Message` JSON the Bot API would return,
//! one `Vec` per chat with message id = index + 1 (ids are per chat, from 1,
//! and nothing is ever deleted).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::limits::{self, FakeStats, Limiter, Limits};
use super::params::{Params, value_as_i64};
use super::{FakeBot, FakeMessage, FakeTopic, FakeUser, Fault, FaultRule, RecordedRequest, html};

/// How many confirmed updates per bot are kept for [`World::repeat_confirmed`].
const CONFIRMED_KEPT: usize = 1000;

/// 409 for a `getUpdates` superseded by a newer one for the same bot.
pub(super) const CONFLICT_OTHER_POLLER: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
/// 400 for any call naming a group that moved to a new id.
pub(super) const GROUP_MIGRATED: &str = "Bad Request: group chat was upgraded to a supergroup chat";
/// 409 for `getUpdates` while a webhook is set.
const CONFLICT_WEBHOOK: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/// Methods the fake implements, in Telegram's spelling.
const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "copyMessage",
    "copyMessages",
    "createForumTopic",
    "closeForumTopic",
    "reopenForumTopic",
    "editForumTopic",
    "getChat",
    "getChatMember",
];

const FIRST_USER_ID: i64 = 1_000_000_001;
const FIRST_BOT_ID: i64 = 7_000_000_001;
const FIRST_GROUP_ID: i64 = -1_001_000_000_001;
/// The General topic's id; messages in it carry no thread id.
const GENERAL_THREAD_ID: i64 = 1;
const DEFAULT_ICON_COLOR: i64 = 7_322_096;
/// The six colors `createForumTopic` accepts.
const ICON_COLORS: [i64; 6] = [
    7_322_096, 16_766_590, 13_338_331, 9_367_192, 16_749_490, 16_478_047,
];
const MAX_TEXT_CHARS: usize = 4096;
const MAX_CAPTION_CHARS: usize = 1024;
/// Counted as Telegram counts it, in UTF-16 code units.
const MAX_TOPIC_NAME_UTF16: usize = 128;
const MAX_UPDATES_PER_POLL: i64 = 100;
/// Update types left out when a bot has no `allowed_updates` (or an empty one).
const NOT_DELIVERED_BY_DEFAULT: [&str; 3] =
    ["chat_member", "message_reaction", "message_reaction_count"];
/// Message fields a copy carries over.
const CONTENT_FIELDS: &[&str] = &[
    "text",
    "entities",
    "link_preview_options",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "animation",
    "sticker",
    "video_note",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "story",
    "checklist",
];
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

/// A Telegram-shaped error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ApiError {
    /// `error_code`, also the HTTP status.
    pub(super) code: u16,
    /// `description`.
    pub(super) description: String,
    /// `parameters.retry_after`.
    pub(super) retry_after: Option<u32>,
    /// `parameters.migrate_to_chat_id`.
    pub(super) migrate_to_chat_id: Option<i64>,
}

impl ApiError {
    pub(super) fn new(code: u16, description: &str) -> ApiError {
        ApiError {
            code,
            description: description.to_owned(),
            retry_after: None,
            migrate_to_chat_id: None,
        }
    }

    /// 400 `Bad Request: {what}`.
    pub(super) fn bad_request(what: &str) -> ApiError {
        ApiError::new(400, &format!("Bad Request: {what}"))
    }

    /// 403 `Forbidden: {what}`.
    fn forbidden(what: &str) -> ApiError {
        ApiError::new(403, &format!("Forbidden: {what}"))
    }

    /// 401 for an unknown token.
    pub(super) fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized")
    }

    /// 404 for an unknown method or path.
    pub(super) fn not_found() -> ApiError {
        ApiError::new(404, "Not Found")
    }

    /// 429 `Too Many Requests: retry after {secs}` with `parameters.retry_after`.
    pub(super) fn too_many_requests(secs: u32) -> ApiError {
        ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {secs}"),
            retry_after: Some(secs),
            migrate_to_chat_id: None,
        }
    }

    /// 400 for a call naming a group that now lives at `new_id`.
    fn migrated(new_id: i64) -> ApiError {
        ApiError {
            migrate_to_chat_id: Some(new_id),
            ..ApiError::new(400, GROUP_MIGRATED)
        }
    }

    fn thread_not_found() -> ApiError {
        ApiError::bad_request("message thread not found")
    }

    fn topic_not_modified() -> ApiError {
        ApiError::bad_request("TOPIC_NOT_MODIFIED")
    }

    /// The JSON body Telegram sends with this error.
    pub(super) fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        let mut parameters = Map::new();
        if let Some(secs) = self.retry_after {
            parameters.insert("retry_after".into(), secs.into());
        }
        if let Some(chat_id) = self.migrate_to_chat_id {
            parameters.insert("migrate_to_chat_id".into(), chat_id.into());
        }
        if !parameters.is_empty() {
            body["parameters"] = Value::Object(parameters);
        }
        body
    }
}

/// The canonical spelling of a method the fake implements (case-insensitive lookup).
pub(super) fn canonical_method(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// A decoded `getUpdates` call.
#[derive(Debug)]
pub(super) struct PollRequest {
    pub(super) offset: i64,
    pub(super) limit: usize,
    pub(super) timeout: Duration,
    pub(super) allowed_updates: Option<Vec<String>>,
}

impl PollRequest {
    pub(super) fn parse(p: &Params) -> Result<PollRequest, ApiError> {
        let limit = p
            .opt_i64("limit")?
            .unwrap_or(MAX_UPDATES_PER_POLL)
            .clamp(1, MAX_UPDATES_PER_POLL);
        let timeout = p.opt_i64("timeout")?.unwrap_or(0).max(0);
        Ok(PollRequest {
            offset: p.opt_i64("offset")?.unwrap_or(0),
            limit: usize::try_from(limit).unwrap_or(100),
            timeout: Duration::from_secs(timeout.unsigned_abs()),
            allowed_updates: allowed_updates(p)?,
        })
    }
}

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
    /// Decides which requests a [`Fault::Sometimes`] hits; seedable.
    fault_rng: fastrand::Rng,
    /// Rate limits and what they let through.
    limiter: Limiter,
}

struct BotAccount {
    profile: FakeBot,
    /// Unconfirmed updates, oldest first, each with its `update_id`.
    updates: VecDeque<Value>,
    /// The latest confirmed updates (at most [`CONFIRMED_KEPT`]), oldest first.
    confirmed: VecDeque<Value>,
    /// Confirmed updates to serve again, with the next `getUpdates`.
    repeats: Vec<Value>,
    /// Repeats the current `getUpdates` serves before the queue.
    serving: Vec<Value>,
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
}

struct Group {
    title: String,
    is_forum: bool,
    /// Bot id -> is admin (with `can_manage_topics`).
    bots: BTreeMap<i64, bool>,
    messages: Vec<Value>,
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
        }
    }

    // ---- accounts and groups ------------------------------------------------

    pub(super) fn add_bot(&mut self, username: &str) -> FakeBot {
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

    pub(super) fn add_user(&mut self, first_name: &str, username: Option<&str>) -> FakeUser {
        let user = FakeUser {
            id: self.next_user_id,
            first_name: first_name.to_owned(),
            username: username.map(str::to_owned),
        };
        self.next_user_id += 1;
        self.users.insert(user.id, user.clone());
        user
    }

    pub(super) fn add_group(&mut self, title: &str, is_forum: bool, admin_bots: &[i64]) -> i64 {
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
                topics: BTreeMap::new(),
            },
        );
        // Message 1, as in a real supergroup; it also keeps topic ids clear of
        // General's id 1.
        let created = content_map(json!({ "supergroup_chat_created": true }));
        self.post(ChatKey::Group(id), None, None, None, created);
        id
    }

    pub(super) fn add_bot_to_group(&mut self, group: i64, bot: i64, admin: bool) {
        self.bot(bot);
        self.group_mut(group).bots.insert(bot, admin);
    }

    // ---- people acting --------------------------------------------------------

    pub(super) fn user_sends(&mut self, bot: i64, user: i64, content: Map<String, Value>) -> i64 {
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
        let message = self.post(
            ChatKey::Private { bot, user },
            Some(from),
            None,
            None,
            content,
        );
        self.enqueue(bot, "message", message.clone());
        message_id(&message)
    }

    /// The user started the bot some time ago: the bot may write to them.
    pub(super) fn start_bot(&mut self, bot: i64, user: i64) {
        self.bot(bot);
        self.user(user);
        self.private_chats.entry((bot, user)).or_default().started = true;
    }

    pub(super) fn set_blocked(&mut self, bot: i64, user: i64, blocked: bool) {
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

    pub(super) fn operator_sends(
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
        let message = self.post(ChatKey::Group(group_id), Some(from), thread, reply, content);
        self.fan_out_to_group(group_id, &message);
        message_id(&message)
    }

    pub(super) fn operator_sets_topic_closed(
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

    pub(super) fn delete_topic(&mut self, group_id: i64, thread: i64) {
        self.live_topic_mut(group_id, thread).deleted = true;
    }

    /// Moves `old` to a fresh id with its topics, messages and bots (stored
    /// messages are rewritten to name the new chat) and tells the bots, as
    /// Telegram does: a `migrate_to_chat_id` message from the old chat, then a
    /// `migrate_from_chat_id` message in the new chat's General topic. Later
    /// calls naming `old` get [`ApiError::migrated`].
    pub(super) fn migrate_group(&mut self, old: i64) -> i64 {
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

    pub(super) fn push_raw_update(&mut self, bot: i64, update: Value) -> i64 {
        let mut update = content_map(update);
        let account = self.bot_mut(bot);
        let id = account.next_update_id;
        account.next_update_id += 1;
        update.insert("update_id".into(), id.into());
        account.updates.push_back(Value::Object(update));
        id
    }

    // ---- inspection -------------------------------------------------------------

    pub(super) fn private_chat(&self, bot: i64, user: i64) -> Vec<FakeMessage> {
        self.private_chats
            .get(&(bot, user))
            .map(|chat| chat.messages.iter().map(fake_message).collect())
            .unwrap_or_default()
    }

    pub(super) fn topics(&self, group: i64) -> Vec<FakeTopic> {
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

    pub(super) fn group_messages(
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
                    .map(fake_message)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn requests(&self) -> &[RecordedRequest] {
        &self.requests
    }

    pub(super) fn pending_update_count(&self, bot: i64) -> usize {
        self.bots
            .get(&bot)
            .map_or(0, |b| b.updates.len() + b.repeats.len())
    }

    // ---- requests and faults ------------------------------------------------------

    pub(super) fn bot_for_token(&self, token: &str) -> Option<i64> {
        self.tokens.get(token).copied()
    }

    pub(super) fn record(&mut self, bot_id: Option<i64>, method: &str, params: Value) {
        self.requests.push(RecordedRequest {
            bot_id,
            method: method.to_owned(),
            params,
        });
    }

    pub(super) fn clear_requests(&mut self) {
        self.requests.clear();
    }

    pub(super) fn inject(&mut self, rule: FaultRule) {
        self.faults.push(rule);
    }

    pub(super) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub(super) fn seed_faults(&mut self, seed: u64) {
        self.fault_rng = fastrand::Rng::with_seed(seed);
    }

    /// The fault for this request: the first rule that matches and fires
    /// decides it and uses one of its `times`. A [`Fault::Sometimes`] rule
    /// that does not fire passes the request on to the next rules.
    pub(super) fn take_fault(&mut self, bot_id: Option<i64>, method: &str) -> Option<Fault> {
        for index in 0..self.faults.len() {
            let rule = &self.faults[index];
            let matches = rule.times > 0
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && rule.bot_id.is_none_or(|id| Some(id) == bot_id);
            if !matches {
                continue;
            }
            let Some(fault) = fire(&rule.fault, &mut self.fault_rng) else {
                continue;
            };
            let rule = &mut self.faults[index];
            rule.times -= 1;
            if rule.times == 0 {
                self.faults.remove(index);
            }
            return Some(fault);
        }
        None
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

    // ---- getUpdates -------------------------------------------------------------------

    /// Starts a `getUpdates` call: checks for a webhook, stores the filter,
    /// forgets confirmed updates, and supersedes any call still waiting.
    /// Returns this call's generation for [`World::poll`].
    pub(super) fn begin_poll(&mut self, bot: i64, request: &PollRequest) -> Result<u64, ApiError> {
        let account = self.bot_mut(bot);
        if account.webhook_url.is_some() {
            return Err(ApiError::new(409, CONFLICT_WEBHOOK));
        }
        if let Some(allowed) = &request.allowed_updates {
            account.allowed_updates = Some(allowed.clone());
        }
        account.serving = std::mem::take(&mut account.repeats);
        if request.offset > 0 {
            while account
                .updates
                .front()
                .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < request.offset)
            {
                if let Some(update) = account.updates.pop_front() {
                    if account.confirmed.len() == CONFIRMED_KEPT {
                        account.confirmed.pop_front();
                    }
                    account.confirmed.push_back(update);
                }
            }
        } else if request.offset < 0 {
            let keep = usize::try_from(request.offset.unsigned_abs()).unwrap_or(usize::MAX);
            while account.updates.len() > keep {
                account.updates.pop_front();
            }
        }
        account.poll_generation += 1;
        Ok(account.poll_generation)
    }

    /// The updates a waiting `getUpdates` call would answer now (maybe none),
    /// or 409 if a newer call or a webhook superseded it.
    pub(super) fn poll(
        &self,
        bot: i64,
        generation: u64,
        limit: usize,
    ) -> Result<Vec<Value>, ApiError> {
        let account = self.bot(bot);
        if account.webhook_url.is_some() {
            return Err(ApiError::new(409, CONFLICT_WEBHOOK));
        }
        if account.poll_generation != generation {
            return Err(ApiError::new(409, CONFLICT_OTHER_POLLER));
        }
        Ok(account
            .serving
            .iter()
            .chain(&account.updates)
            .take(limit)
            .cloned()
            .collect())
    }

    /// The next `getUpdates` of `bot` serves its last `n` confirmed updates
    /// again, with their ids, before the pending ones.
    pub(super) fn repeat_confirmed(&mut self, bot: i64, n: usize) {
        let account = self.bot_mut(bot);
        let skip = account.confirmed.len().saturating_sub(n);
        account.repeats = account.confirmed.iter().skip(skip).cloned().collect();
    }

    // ---- the other methods ------------------------------------------------------------

    /// Applies one call of `method` (canonical spelling, not `getUpdates`) by
    /// `bot`: a call naming a migrated group gets 400, a send over a rate
    /// limit gets 429 (see `limits.rs`), anything else runs and, if it posted
    /// messages, uses budget.
    pub(super) fn apply(
        &mut self,
        bot: i64,
        method: &'static str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        for name in ["chat_id", "from_chat_id"] {
            if let Some(&new) = p.chat_id(name).ok().and_then(|id| self.migrated.get(&id)) {
                return Err(ApiError::migrated(new));
            }
        }
        let outgoing = limits::outgoing(bot, method, p);
        let now = tokio::time::Instant::now();
        if let Some(call) = &outgoing {
            self.limiter.check(call, now)?;
        }
        let result = self.run(bot, method, p);
        if let (Some(call), Ok(value)) = (&outgoing, &result) {
            self.limiter
                .record(call, method, limits::posted(method, value), now);
        }
        result
    }

    fn run(&mut self, bot: i64, method: &str, p: &Params) -> Result<Value, ApiError> {
        match method {
            "getMe" => Ok(self.get_me(bot)),
            "setWebhook" => self.set_webhook(bot, p),
            "deleteWebhook" => self.delete_webhook(bot, p),
            "getWebhookInfo" => Ok(self.get_webhook_info(bot)),
            "sendMessage" => self.send_message(bot, p),
            "copyMessage" => self.copy_message(bot, p),
            "copyMessages" => self.copy_messages(bot, p),
            "createForumTopic" => self.create_forum_topic(bot, p),
            "closeForumTopic" => self.set_topic_closed(bot, p, true),
            "reopenForumTopic" => self.set_topic_closed(bot, p, false),
            "editForumTopic" => self.edit_forum_topic(bot, p),
            "getChat" => self.get_chat(bot, p),
            "getChatMember" => self.get_chat_member(bot, p),
            _ => Err(ApiError::not_found()),
        }
    }

    fn get_me(&self, bot: i64) -> Value {
        let mut me = self.bot_user_json(bot);
        me["can_join_groups"] = true.into();
        me["can_read_all_group_messages"] = false.into();
        me["supports_inline_queries"] = false.into();
        me
    }

    fn set_webhook(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let url = p.opt_str("url")?.unwrap_or_default();
        let allowed = allowed_updates(p)?;
        let drop_pending = p.opt_bool("drop_pending_updates")?.unwrap_or(false);
        let account = self.bot_mut(bot);
        if let Some(allowed) = allowed {
            account.allowed_updates = Some(allowed);
        }
        if drop_pending {
            account.updates.clear();
        }
        account.webhook_url = (!url.is_empty()).then_some(url);
        account.poll_generation += 1;
        Ok(true.into())
    }

    fn delete_webhook(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let drop_pending = p.opt_bool("drop_pending_updates")?.unwrap_or(false);
        let account = self.bot_mut(bot);
        if drop_pending {
            account.updates.clear();
        }
        account.webhook_url = None;
        Ok(true.into())
    }

    fn get_webhook_info(&self, bot: i64) -> Value {
        let account = self.bot(bot);
        let mut info = json!({
            "url": account.webhook_url.clone().unwrap_or_default(),
            "has_custom_certificate": false,
            "pending_update_count": account.updates.len(),
        });
        if let Some(allowed) = account.allowed_updates.as_ref().filter(|a| !a.is_empty()) {
            info["allowed_updates"] = json!(allowed);
        }
        info
    }

    fn send_message(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let text = p.opt_str("text")?.unwrap_or_default();
        let (text, entities) = formatted(text, p.opt_str("parse_mode")?, p.opt_json("entities")?)?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("message text is empty"));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::bad_request("message is too long"));
        }
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let reply = self.reply_target(chat, p)?;
        let mut content = Map::new();
        content.insert("text".into(), text.into());
        if let Some(entities) = entities {
            content.insert("entities".into(), entities);
        }
        if let Some(markup) = inline_markup(p)? {
            content.insert("reply_markup".into(), markup);
        }
        let from = self.bot_user_json(bot);
        Ok(self.post(chat, Some(from), thread, reply, content))
    }

    fn copy_message(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let from_chat_id = p.chat_id("from_chat_id")?;
        let source_id = p.req_i64("message_id")?;
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let sources = self.source_messages(bot, from_chat_id)?;
        let source = message_index(source_id)
            .and_then(|i| sources.get(i))
            .ok_or_else(|| ApiError::bad_request("message to copy not found"))?;
        let mut content =
            copy_content(source).ok_or_else(|| ApiError::bad_request("message can't be copied"))?;
        override_caption(&mut content, p)?;
        let reply = self.reply_target(chat, p)?;
        if let Some(markup) = inline_markup(p)? {
            content.insert("reply_markup".into(), markup);
        }
        let from = self.bot_user_json(bot);
        let copy = self.post(chat, Some(from), thread, reply, content);
        Ok(json!({ "message_id": message_id(&copy) }))
    }

    fn copy_messages(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let from_chat_id = p.chat_id("from_chat_id")?;
        let ids: Vec<i64> = match p.opt_json("message_ids")? {
            None => return Err(ApiError::bad_request("message_ids is empty")),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(value_as_i64)
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::bad_request("invalid message_ids specified"))?,
            Some(_) => return Err(ApiError::bad_request("invalid message_ids specified")),
        };
        if ids.is_empty() || ids.len() > 100 {
            return Err(ApiError::bad_request(
                "message_ids must list 1-100 messages",
            ));
        }
        if ids.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(ApiError::bad_request(
                "message identifiers must be increasing",
            ));
        }
        let remove_caption = p.opt_bool("remove_caption")?.unwrap_or(false);
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let sources = self.source_messages(bot, from_chat_id)?;
        // Albums stay albums, under a new media group id.
        let mut albums: HashMap<String, String> = HashMap::new();
        let mut contents = Vec::new();
        for source in ids
            .iter()
            .filter_map(|&id| message_index(id).and_then(|i| sources.get(i)))
        {
            let Some(mut content) = copy_content(source) else {
                continue;
            };
            if remove_caption {
                content.remove("caption");
                content.remove("caption_entities");
            }
            if let Some(album) = source["media_group_id"].as_str() {
                let copy_album = albums
                    .entry(album.to_owned())
                    .or_insert_with(|| random_digits(18));
                content.insert("media_group_id".into(), copy_album.clone().into());
            }
            contents.push(content);
        }
        if contents.is_empty() {
            return Err(ApiError::bad_request("message to copy not found"));
        }
        let from = self.bot_user_json(bot);
        let copied: Vec<Value> = contents
            .into_iter()
            .map(|content| {
                let copy = self.post(chat, Some(from.clone()), thread, None, content);
                json!({ "message_id": message_id(&copy) })
            })
            .collect();
        Ok(Value::Array(copied))
    }

    fn create_forum_topic(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        self.check_topic_rights(bot, chat_id, "not enough rights to create a topic")?;
        let name = p.opt_str("name")?.unwrap_or_default();
        if name.trim().is_empty() || name.encode_utf16().count() > MAX_TOPIC_NAME_UTF16 {
            return Err(ApiError::bad_request("TOPIC_NAME_INVALID"));
        }
        let icon_color = p.opt_i64("icon_color")?.unwrap_or(DEFAULT_ICON_COLOR);
        if !ICON_COLORS.contains(&icon_color) {
            return Err(ApiError::bad_request("invalid icon_color specified"));
        }
        let emoji = p.opt_str("icon_custom_emoji_id")?.filter(|e| !e.is_empty());
        let thread_id = next_message_id(&self.group(chat_id).messages);
        let mut topic = json!({ "name": name, "icon_color": icon_color });
        if let Some(emoji) = &emoji {
            topic["icon_custom_emoji_id"] = emoji.clone().into();
        }
        let content = content_map(json!({ "forum_topic_created": topic }));
        let from = self.bot_user_json(bot);
        self.post(
            ChatKey::Group(chat_id),
            Some(from),
            Some(thread_id),
            None,
            content,
        );
        self.group_mut(chat_id).topics.insert(
            thread_id,
            Topic {
                name,
                icon_color,
                icon_custom_emoji_id: emoji,
                closed: false,
                deleted: false,
            },
        );
        topic["message_thread_id"] = thread_id.into();
        Ok(topic)
    }

    fn set_topic_closed(&mut self, bot: i64, p: &Params, closed: bool) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let thread = p.req_i64("message_thread_id")?;
        self.check_topic_rights(bot, chat_id, "not enough rights to manage topics")?;
        let topic = self.api_topic_mut(chat_id, thread)?;
        if topic.closed == closed {
            return Err(ApiError::topic_not_modified());
        }
        topic.closed = closed;
        let from = self.bot_user_json(bot);
        let content = topic_state_content(closed);
        self.post(
            ChatKey::Group(chat_id),
            Some(from),
            Some(thread),
            None,
            content,
        );
        Ok(true.into())
    }

    fn edit_forum_topic(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let thread = p.req_i64("message_thread_id")?;
        self.check_topic_rights(bot, chat_id, "not enough rights to manage topics")?;
        // Empty or missing name keeps the name; an empty emoji id removes the icon.
        let name = p.opt_str("name")?.filter(|n| !n.is_empty());
        if name
            .as_ref()
            .is_some_and(|n| n.encode_utf16().count() > MAX_TOPIC_NAME_UTF16)
        {
            return Err(ApiError::bad_request("TOPIC_NAME_INVALID"));
        }
        let emoji = p.opt_str("icon_custom_emoji_id")?;
        let topic = self.api_topic_mut(chat_id, thread)?;
        let new_name = name.filter(|n| *n != topic.name);
        let new_emoji = emoji.filter(|e| topic.icon_custom_emoji_id.as_deref().unwrap_or("") != e);
        if new_name.is_none() && new_emoji.is_none() {
            return Err(ApiError::topic_not_modified());
        }
        let mut edited = Map::new();
        if let Some(name) = new_name {
            topic.name.clone_from(&name);
            edited.insert("name".into(), name.into());
        }
        if let Some(emoji) = new_emoji {
            topic.icon_custom_emoji_id = (!emoji.is_empty()).then(|| emoji.clone());
            edited.insert("icon_custom_emoji_id".into(), emoji.into());
        }
        let from = self.bot_user_json(bot);
        let content = content_map(json!({ "forum_topic_edited": edited }));
        self.post(
            ChatKey::Group(chat_id),
            Some(from),
            Some(thread),
            None,
            content,
        );
        Ok(true.into())
    }

    fn get_chat(&self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let mut chat = if chat_id > 0 {
            match (
                self.users.get(&chat_id),
                self.private_chats.get(&(bot, chat_id)),
            ) {
                (Some(user), Some(_)) => private_chat_json(user),
                _ => return Err(ApiError::bad_request("chat not found")),
            }
        } else {
            self.joined_group(bot, chat_id)?;
            self.chat_json(ChatKey::Group(chat_id))
        };
        chat["accent_color_id"] = 0.into();
        chat["max_reaction_count"] = 11.into();
        chat["accepted_gift_types"] = json!({
            "unlimited_gifts": false,
            "limited_gifts": false,
            "unique_gifts": false,
            "premium_subscription": false,
            "gifts_from_channels": false,
        });
        Ok(chat)
    }

    fn get_chat_member(&self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let user_id = p.req_i64("user_id")?;
        let member = |user: Value| json!({ "status": "member", "user": user });
        if chat_id > 0 {
            if !self.private_chats.contains_key(&(bot, chat_id)) {
                return Err(ApiError::bad_request("chat not found"));
            }
            return match (user_id == bot, self.users.get(&user_id)) {
                (true, _) => Ok(member(self.bot_user_json(bot))),
                (false, Some(user)) if user_id == chat_id => Ok(member(user_json(user))),
                _ => Err(ApiError::bad_request("user not found")),
            };
        }
        let group = self.joined_group(bot, chat_id)?;
        if let Some(&admin) = group.bots.get(&user_id) {
            let user = self.bot_user_json(user_id);
            return Ok(if admin {
                administrator_json(user)
            } else {
                member(user)
            });
        }
        self.users
            .get(&user_id)
            .map(|user| member(user_json(user)))
            .ok_or_else(|| ApiError::bad_request("user not found"))
    }

    // ---- helpers --------------------------------------------------------------------

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

    /// Queues an update of type `kind` for `bot` if its filter lets it through.
    fn enqueue(&mut self, bot: i64, kind: &str, payload: Value) {
        let Some(account) = self.bots.get_mut(&bot) else {
            return;
        };
        let allowed = match account.allowed_updates.as_deref() {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => !NOT_DELIVERED_BY_DEFAULT.contains(&kind),
        };
        if !allowed {
            return;
        }
        let mut update = Map::new();
        update.insert("update_id".into(), account.next_update_id.into());
        update.insert(kind.into(), payload);
        account.next_update_id += 1;
        account.updates.push_back(Value::Object(update));
    }

    /// A human's message in a group goes to every bot there.
    fn fan_out_to_group(&mut self, group: i64, message: &Value) {
        let bots: Vec<i64> = self.group(group).bots.keys().copied().collect();
        for bot in bots {
            self.enqueue(bot, "message", message.clone());
        }
    }

    /// Where a bot's message to `chat_id` goes, or why it cannot.
    fn destination(
        &self,
        bot: i64,
        chat_id: i64,
        thread: Option<i64>,
    ) -> Result<(ChatKey, Option<i64>), ApiError> {
        if chat_id > 0 {
            if self.bots.contains_key(&chat_id) {
                return Err(ApiError::forbidden("bot can't send messages to bots"));
            }
            if !self.users.contains_key(&chat_id) {
                return Err(ApiError::bad_request("chat not found"));
            }
            return match self.private_chats.get(&(bot, chat_id)) {
                Some(chat) if chat.blocked => {
                    Err(ApiError::forbidden("bot was blocked by the user"))
                }
                Some(chat) if chat.started => Ok((ChatKey::Private { bot, user: chat_id }, None)),
                _ => Err(ApiError::forbidden(
                    "bot can't initiate conversation with a user",
                )),
            };
        }
        let group = self.joined_group(bot, chat_id)?;
        let thread = match thread {
            None | Some(0) => None,
            Some(GENERAL_THREAD_ID) if group.is_forum => None,
            Some(t) if group.is_forum && group.topics.get(&t).is_some_and(|t| !t.deleted) => {
                Some(t)
            }
            Some(_) => return Err(ApiError::thread_not_found()),
        };
        Ok((ChatKey::Group(chat_id), thread))
    }

    /// The messages of a chat the bot can copy from.
    fn source_messages(&self, bot: i64, chat_id: i64) -> Result<&[Value], ApiError> {
        if chat_id > 0 {
            if !self.users.contains_key(&chat_id) {
                return Err(ApiError::bad_request("chat not found"));
            }
            return Ok(self
                .private_chats
                .get(&(bot, chat_id))
                .map_or(&[][..], |chat| &chat.messages));
        }
        Ok(&self.joined_group(bot, chat_id)?.messages)
    }

    /// The message a new message replies to, from `reply_parameters` or the
    /// older `reply_to_message_id`.
    fn reply_target(&self, chat: ChatKey, p: &Params) -> Result<Option<Value>, ApiError> {
        let (id, allow_missing) = if let Some(params) = p.opt_json("reply_parameters")? {
            let id = params
                .get("message_id")
                .and_then(value_as_i64)
                .ok_or_else(|| ApiError::bad_request("invalid reply_parameters specified"))?;
            let allow = params
                .get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (id, allow)
        } else if let Some(id) = p.opt_i64("reply_to_message_id")? {
            let allow = p.opt_bool("allow_sending_without_reply")?.unwrap_or(false);
            (id, allow)
        } else {
            return Ok(None);
        };
        let messages: &[Value] = match chat {
            ChatKey::Private { bot, user } => self
                .private_chats
                .get(&(bot, user))
                .map_or(&[][..], |c| &c.messages),
            ChatKey::Group(group) => &self.group(group).messages,
        };
        match message_index(id).and_then(|i| messages.get(i)) {
            Some(target) => Ok(Some(reply_copy(target))),
            None if allow_missing => Ok(None),
            None => Err(ApiError::bad_request("message to be replied not found")),
        }
    }

    fn check_topic_rights(&self, bot: i64, chat_id: i64, denied: &str) -> Result<(), ApiError> {
        if chat_id > 0 {
            return Err(if self.users.contains_key(&chat_id) {
                ApiError::bad_request("the chat is not a forum")
            } else {
                ApiError::bad_request("chat not found")
            });
        }
        let group = self.joined_group(bot, chat_id)?;
        if !group.is_forum {
            return Err(ApiError::bad_request("the chat is not a forum"));
        }
        if group.bots.get(&bot) != Some(&true) {
            return Err(ApiError::bad_request(denied));
        }
        Ok(())
    }

    fn joined_group(&self, bot: i64, chat_id: i64) -> Result<&Group, ApiError> {
        self.groups
            .get(&chat_id)
            .filter(|g| g.bots.contains_key(&bot))
            .ok_or_else(|| ApiError::bad_request("chat not found"))
    }

    /// A live topic addressed by a bot (the group was already checked).
    fn api_topic_mut(&mut self, group: i64, thread: i64) -> Result<&mut Topic, ApiError> {
        self.group_mut(group)
            .topics
            .get_mut(&thread)
            .filter(|t| !t.deleted)
            .ok_or_else(ApiError::thread_not_found)
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

/// The fault a rule's `fault` applies to this request, if it fires.
fn fire(fault: &Fault, rng: &mut fastrand::Rng) -> Option<Fault> {
    match fault {
        Fault::Sometimes { per_million, fault } => {
            if rng.u32(0..1_000_000) < *per_million {
                fire(fault, rng)
            } else {
                None
            }
        }
        other => Some(other.clone()),
    }
}

/// Points a stored message at the chat's new id.
fn rename_chat(message: &mut Value, chat_id: i64) {
    if let Some(chat) = message.get_mut("chat").and_then(Value::as_object_mut) {
        chat.insert("id".into(), chat_id.into());
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

fn random_digits(n: usize) -> String {
    (0..n).map(|_| fastrand::digit(10)).collect()
}

fn allowed_updates(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
    match p.opt_json("allowed_updates")? {
        None => Ok(None),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("can't parse allowed_updates")),
        Some(_) => Err(ApiError::bad_request("can't parse allowed_updates")),
    }
}

/// Text and entities after the parse mode; explicit entities are kept as given.
fn formatted(
    text: String,
    parse_mode: Option<String>,
    entities: Option<Value>,
) -> Result<(String, Option<Value>), ApiError> {
    let mode = parse_mode.unwrap_or_default();
    let mode = mode.trim();
    if mode.is_empty() {
        return match entities {
            None => Ok((text, None)),
            Some(Value::Array(list)) if list.is_empty() => Ok((text, None)),
            Some(list @ Value::Array(_)) => Ok((text, Some(list))),
            Some(_) => Err(ApiError::bad_request("can't parse entities JSON object")),
        };
    }
    if mode.eq_ignore_ascii_case("html") {
        let (plain, entities) = html::parse(&text)
            .map_err(|err| ApiError::bad_request(&format!("can't parse entities: {err}")))?;
        return Ok((
            plain,
            (!entities.is_empty()).then_some(Value::Array(entities)),
        ));
    }
    if mode.eq_ignore_ascii_case("markdown") || mode.eq_ignore_ascii_case("markdownv2") {
        // Not modelled: the text is kept as sent, without entities.
        return Ok((text, None));
    }
    Err(ApiError::bad_request("unsupported parse_mode"))
}

/// `reply_markup` if it is an inline keyboard (the only kind a Message shows).
fn inline_markup(p: &Params) -> Result<Option<Value>, ApiError> {
    Ok(p.opt_json("reply_markup")?
        .filter(|m| m.get("inline_keyboard").is_some()))
}

/// Applies `caption`, `parse_mode`, `caption_entities`, `remove_caption` and
/// `show_caption_above_media` of a copy request to the copied content.
fn override_caption(content: &mut Map<String, Value>, p: &Params) -> Result<(), ApiError> {
    if content.contains_key("text") {
        return Ok(());
    }
    if p.opt_bool("remove_caption")? == Some(true) {
        content.remove("caption");
        content.remove("caption_entities");
    }
    if let Some(caption) = p.opt_str("caption")? {
        let (caption, entities) = formatted(
            caption,
            p.opt_str("parse_mode")?,
            p.opt_json("caption_entities")?,
        )?;
        content.remove("caption");
        content.remove("caption_entities");
        if caption.chars().count() > MAX_CAPTION_CHARS {
            return Err(ApiError::bad_request("message caption is too long"));
        }
        if !caption.is_empty() {
            content.insert("caption".into(), caption.into());
            if let Some(entities) = entities {
                content.insert("caption_entities".into(), entities);
            }
        }
    }
    if let Some(above) = p.opt_bool("show_caption_above_media")? {
        content.insert("show_caption_above_media".into(), above.into());
    }
    Ok(())
}

/// The fields a copy of `message` carries, or `None` if it cannot be copied.
fn copy_content(message: &Value) -> Option<Map<String, Value>> {
    let content: Map<String, Value> = CONTENT_FIELDS
        .iter()
        .filter_map(|&field| Some((field.to_owned(), message.get(field)?.clone())))
        .collect();
    (!content.is_empty()).then_some(content)
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

fn fake_message(message: &Value) -> FakeMessage {
    let is_service = SERVICE_FIELDS.iter().any(|f| message.get(*f).is_some());
    FakeMessage {
        message_id: message_id(message),
        from_id: message["from"]["id"].as_i64().unwrap_or(0),
        from_is_bot: message["from"]["is_bot"].as_bool().unwrap_or(false),
        thread_id: thread_of(message),
        text: message["text"].as_str().map(str::to_owned),
        caption: message["caption"].as_str().map(str::to_owned),
        is_service,
        json: message.clone(),
    }
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

fn administrator_json(user: Value) -> Value {
    json!({
        "status": "administrator",
        "user": user,
        "can_be_edited": false,
        "is_anonymous": false,
        "can_manage_chat": true,
        "can_delete_messages": true,
        "can_manage_video_chats": true,
        "can_restrict_members": true,
        "can_promote_members": false,
        "can_change_info": true,
        "can_invite_users": true,
        "can_post_stories": false,
        "can_edit_stories": false,
        "can_delete_stories": false,
        "can_pin_messages": true,
        "can_manage_topics": true,
        "can_send_welcome_messages": false,
    })
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

    #[test]
    fn faults_are_consumed_in_order() {
        let mut world = World::new();
        world.inject(FaultRule::on("sendMessage", Fault::server_error()).times(2));
        world.inject(FaultRule::any(Fault::Hang));
        assert_eq!(
            world.take_fault(Some(1), "SENDMESSAGE"),
            Some(Fault::server_error())
        );
        assert_eq!(world.take_fault(None, "getMe"), Some(Fault::Hang));
        assert_eq!(
            world.take_fault(Some(1), "sendMessage"),
            Some(Fault::server_error())
        );
        assert_eq!(world.take_fault(Some(1), "sendMessage"), None);
        world.inject(FaultRule::any(Fault::Hang).times(0));
        assert_eq!(world.take_fault(Some(1), "getMe"), None);
    }

    #[test]
    fn sometimes_rules_hit_a_share_and_pass_the_rest_on() {
        let mut world = World::new();
        world.seed_faults(7);
        world.inject(
            FaultRule::on("copyMessage", Fault::server_error())
                .with_probability(0.2)
                .always(),
        );
        world.inject(FaultRule::any(Fault::Hang).always());
        let faults: Vec<Option<Fault>> = (0..10_000)
            .map(|_| world.take_fault(Some(1), "copyMessage"))
            .collect();
        let errors = faults
            .iter()
            .filter(|f| **f == Some(Fault::server_error()))
            .count();
        assert!((1_700..=2_300).contains(&errors), "{errors} of 10000");
        // The spared requests fell through to the next rule.
        assert!(faults.iter().all(Option::is_some));

        world.clear_faults();
        world.inject(FaultRule::on("getMe", Fault::server_error()).with_probability(0.0));
        world.inject(FaultRule::on("getMe", Fault::server_error()).with_probability(1.0));
        assert_eq!(world.take_fault(None, "getMe"), Some(Fault::server_error()));
        assert_eq!(world.faults.len(), 1, "the certain rule was used up");
        assert_eq!(world.take_fault(None, "getMe"), None);
    }
}
