//! The Bot API methods the fake implements: one table, and the methods
//! (but those that send files, in `media.rs`, `sendLocation`, in
//! `locations.rs`, `getFile`, in `files.rs`, the edits of messages, in
//! `edits.rs`, and `setMessageReaction`, in `reactions.rs`).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::files::FileKind;
use super::{
    ChatKey, GENERAL_THREAD_ID, Group, Topic, World, content_map, message_id, message_index,
    next_message_id, private_chat_json, reply_copy, thread_of, topic_state_content, user_json,
};
use crate::fake::error::ApiError;
use crate::fake::html;
use crate::fake::limits::{self, Posts};
use crate::fake::params::{Params, value_as_i64};

const DEFAULT_ICON_COLOR: i64 = 7_322_096;
/// The six colors `createForumTopic` accepts.
const ICON_COLORS: [i64; 6] = [
    7_322_096, 16_766_590, 13_338_331, 9_367_192, 16_749_490, 16_478_047,
];
pub(super) const MAX_TEXT_CHARS: usize = 4096;
pub(super) const MAX_CAPTION_CHARS: usize = 1024;
/// Counted as Telegram counts it, in UTF-16 code units.
const MAX_TOPIC_NAME_UTF16: usize = 128;
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

/// One Bot API method the fake implements.
pub(in crate::fake) struct Method {
    /// Telegram's spelling; a request may spell it in any case, as Telegram allows.
    pub(in crate::fake) name: &'static str,
    /// What answers a call.
    pub(in crate::fake) handler: Handler,
    /// What a call posts, as the rate limits count it.
    pub(in crate::fake) posts: Posts,
}

/// A method's function: the world, the calling bot, the parameters.
type Run = fn(&mut World, i64, &Params) -> Result<Value, ApiError>;

/// What answers a call of a method.
#[derive(Clone, Copy)]
pub(in crate::fake) enum Handler {
    /// A function of the world, run under its lock by [`World::apply`].
    Apply(Run),
    /// `getUpdates`: the server waits for updates without holding the lock
    /// ([`World::begin_poll`], then [`World::poll`] on every change).
    LongPoll,
}

impl Method {
    const fn apply(name: &'static str, posts: Posts, run: Run) -> Method {
        Method {
            name,
            handler: Handler::Apply(run),
            posts,
        }
    }

    const fn long_poll(name: &'static str) -> Method {
        Method {
            name,
            handler: Handler::LongPoll,
            posts: Posts::Nothing,
        }
    }
}

/// Every method the fake implements, each once: the server routes by this
/// table, answers 404 for a name not in it, the rate limits count what it
/// says a call posts, and [`method_names`] lists it.
const METHODS: &[Method] = &[
    Method::long_poll("getUpdates"),
    Method::apply("getMe", Posts::Nothing, |w, bot, _| Ok(w.get_me(bot))),
    Method::apply("setWebhook", Posts::Nothing, World::set_webhook),
    Method::apply("deleteWebhook", Posts::Nothing, World::delete_webhook),
    Method::apply("getWebhookInfo", Posts::Nothing, |w, bot, _| {
        Ok(w.get_webhook_info(bot))
    }),
    Method::apply("sendMessage", Posts::OneMessage, World::send_message),
    Method::apply("sendPhoto", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Photo)
    }),
    Method::apply("sendDocument", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Document)
    }),
    Method::apply("sendVideo", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Video)
    }),
    Method::apply("sendAudio", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Audio)
    }),
    Method::apply("sendVoice", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Voice)
    }),
    Method::apply("sendAnimation", Posts::OneMessage, |w, bot, p| {
        w.send_file(bot, p, FileKind::Animation)
    }),
    Method::apply("sendMediaGroup", Posts::EachMedia, World::send_media_group),
    Method::apply("sendLocation", Posts::OneMessage, World::send_location),
    Method::apply("getFile", Posts::Nothing, World::get_file),
    Method::apply("copyMessage", Posts::OneMessage, World::copy_message),
    Method::apply("copyMessages", Posts::EachCopy, World::copy_messages),
    Method::apply("forwardMessage", Posts::OneMessage, World::forward_message),
    Method::apply("forwardMessages", Posts::EachCopy, World::forward_messages),
    Method::apply(
        "createForumTopic",
        Posts::OneMessage,
        World::create_forum_topic,
    ),
    Method::apply("closeForumTopic", Posts::OneMessage, |w, bot, p| {
        w.set_topic_closed(bot, p, true)
    }),
    Method::apply("reopenForumTopic", Posts::OneMessage, |w, bot, p| {
        w.set_topic_closed(bot, p, false)
    }),
    Method::apply("editForumTopic", Posts::OneMessage, World::edit_forum_topic),
    Method::apply("editMessageText", Posts::Nothing, World::edit_message_text),
    Method::apply(
        "editMessageCaption",
        Posts::Nothing,
        World::edit_message_caption,
    ),
    Method::apply(
        "editMessageMedia",
        Posts::Nothing,
        World::edit_message_media,
    ),
    Method::apply(
        "editMessageReplyMarkup",
        Posts::Nothing,
        World::edit_message_reply_markup,
    ),
    Method::apply(
        "editMessageLiveLocation",
        Posts::Nothing,
        World::edit_message_live_location,
    ),
    Method::apply(
        "stopMessageLiveLocation",
        Posts::Nothing,
        World::stop_message_live_location,
    ),
    Method::apply(
        "setMessageReaction",
        Posts::Nothing,
        World::set_message_reaction,
    ),
    Method::apply(
        "answerCallbackQuery",
        Posts::Nothing,
        World::answer_callback_query,
    ),
    Method::apply("getChat", Posts::Nothing, |w, bot, p| w.get_chat(bot, p)),
    Method::apply("getChatMember", Posts::Nothing, |w, bot, p| {
        w.get_chat_member(bot, p)
    }),
];

/// The method called `name`, in any case (`sendmessage` is `sendMessage`).
pub(in crate::fake) fn find_method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// The names of the methods the fake implements, in Telegram's spelling.
pub(in crate::fake) fn method_names() -> impl Iterator<Item = &'static str> {
    METHODS.iter().map(|m| m.name)
}

impl World {
    /// Applies one call of `method` by `bot`: a call naming a migrated group
    /// gets 400, a send over a rate limit gets 429 (see `limits.rs`), anything
    /// else runs and, if it posted messages, uses budget.
    pub(in crate::fake) fn apply(
        &mut self,
        bot: i64,
        method: &'static Method,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let Handler::Apply(run) = method.handler else {
            // The server long-polls such a method itself, without the lock.
            return Err(ApiError::new(
                500,
                "Internal Server Error: not applied under the lock",
            ));
        };
        for name in ["chat_id", "from_chat_id"] {
            if let Some(&new) = p.chat_id(name).ok().and_then(|id| self.migrated.get(&id)) {
                return Err(ApiError::migrated(new));
            }
        }
        let outgoing = limits::outgoing(bot, method.posts, p);
        let now = tokio::time::Instant::now();
        if let Some(call) = &outgoing {
            self.limiter.check(call, now)?;
        }
        let result = run(self, bot, p);
        if let (Some(call), Ok(value)) = (&outgoing, &result) {
            let posted = limits::posted(method.posts, value);
            self.limiter.record(call, method.name, posted, now);
        }
        result
    }

    fn get_me(&self, bot: i64) -> Value {
        let mut me = self.bot_user_json(bot);
        me["can_join_groups"] = true.into();
        me["can_read_all_group_messages"] = false.into();
        me["supports_inline_queries"] = false.into();
        me
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
        let ids = message_ids(p)?;
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

    /// `forwardMessage`: the message `message_id` of `from_chat_id`,
    /// forwarded (see [`forwarded_content`]); answers the new message.
    fn forward_message(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let from_chat_id = p.chat_id("from_chat_id")?;
        let source_id = p.req_i64("message_id")?;
        let protect = p.opt_bool("protect_content")?.unwrap_or(false);
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let source = self
            .shown_messages(bot, from_chat_id)?
            .find(|m| message_id(m) == source_id)
            .ok_or_else(|| ApiError::bad_request("message to forward not found"))?;
        let content = forwarded_content(source, protect)
            .ok_or_else(|| ApiError::bad_request("message can't be forwarded"))?;
        let from = self.bot_user_json(bot);
        Ok(self.post(chat, Some(from), thread, None, content))
    }

    /// `forwardMessages`: the messages `message_ids` (1-100, increasing) of
    /// `from_chat_id`, forwarded in order; those not found or that can't
    /// be forwarded are skipped (none left is 400 `messages can't be
    /// forwarded`). Albums stay albums, under a new media group id.
    /// Answers the new messages' ids.
    fn forward_messages(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let from_chat_id = p.chat_id("from_chat_id")?;
        let ids = message_ids(p)?;
        let protect = p.opt_bool("protect_content")?.unwrap_or(false);
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let mut albums: HashMap<String, String> = HashMap::new();
        let contents: Vec<Map<String, Value>> = self
            .shown_messages(bot, from_chat_id)?
            .filter(|m| ids.contains(&message_id(m)))
            .filter_map(|source| {
                let mut content = forwarded_content(source, protect)?;
                if let Some(album) = source["media_group_id"].as_str() {
                    let new_album = albums
                        .entry(album.to_owned())
                        .or_insert_with(|| random_digits(18));
                    content.insert("media_group_id".into(), new_album.clone().into());
                }
                Some(content)
            })
            .collect();
        if contents.is_empty() {
            return Err(ApiError::bad_request("messages can't be forwarded"));
        }
        let from = self.bot_user_json(bot);
        let forwarded: Vec<Value> = contents
            .into_iter()
            .map(|content| {
                let message = self.post(chat, Some(from.clone()), thread, None, content);
                json!({ "message_id": message_id(&message) })
            })
            .collect();
        Ok(Value::Array(forwarded))
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
        self.post_topic_service(bot, chat_id, thread_id, content);
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
        self.post_topic_service(bot, chat_id, thread, topic_state_content(closed));
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
        let content = content_map(json!({ "forum_topic_edited": edited }));
        self.post_topic_service(bot, chat_id, thread, content);
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

    /// The service message a topic method leaves in the topic, from the bot.
    fn post_topic_service(
        &mut self,
        bot: i64,
        group: i64,
        thread: i64,
        content: Map<String, Value>,
    ) {
        let from = self.bot_user_json(bot);
        self.post(
            ChatKey::Group(group),
            Some(from),
            Some(thread),
            None,
            content,
        );
    }

    /// Where a bot's message to `chat_id` goes, or why it cannot.
    pub(super) fn destination(
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

    /// Answers a button press: once, and only one this bot was sent.
    fn answer_callback_query(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let id = p.req_str("callback_query_id")?;
        match self.callback_queries.get_mut(&id) {
            Some(query) if query.bot == bot && !query.answered => {
                query.answered = true;
                query.text = p.opt_str("text")?;
                Ok(true.into())
            }
            _ => Err(ApiError::bad_request(
                "query is too old and response timeout expired or query ID is invalid",
            )),
        }
    }

    /// The messages of a chat the bot can copy from (or edit one of).
    pub(super) fn source_messages(&self, bot: i64, chat_id: i64) -> Result<&[Value], ApiError> {
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

    /// The messages of a chat the bot can forward from, in order: those of
    /// [`World::source_messages`] but for those of a deleted topic, which
    /// Telegram no longer shows.
    fn shown_messages(
        &self,
        bot: i64,
        chat_id: i64,
    ) -> Result<impl Iterator<Item = &Value>, ApiError> {
        let topics = self.groups.get(&chat_id).map(|group| &group.topics);
        let deleted = move |message: &Value| {
            thread_of(message)
                .and_then(|thread| topics?.get(&thread))
                .is_some_and(|topic| topic.deleted)
        };
        Ok(self
            .source_messages(bot, chat_id)?
            .iter()
            .filter(move |m| !deleted(m)))
    }

    /// The message a new message replies to, from `reply_parameters` or the
    /// older `reply_to_message_id`.
    pub(super) fn reply_target(
        &self,
        chat: ChatKey,
        p: &Params,
    ) -> Result<Option<Value>, ApiError> {
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
}

pub(in crate::fake) fn random_digits(n: usize) -> String {
    (0..n).map(|_| fastrand::digit(10)).collect()
}

/// Text and entities after the parse mode; explicit entities are kept as given.
pub(super) fn formatted(
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
pub(super) fn inline_markup(p: &Params) -> Result<Option<Value>, ApiError> {
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

/// `message_ids` of `copyMessages` and `forwardMessages`: 1-100 ids, increasing.
fn message_ids(p: &Params) -> Result<Vec<i64>, ApiError> {
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
    Ok(ids)
}

/// The fields a forward of `message` carries: its content (as a copy's; a
/// forwarded live location does not move with its source), `forward_origin` (the source's
/// own if it is a forward, else who sent it: `user`, `chat` for a message
/// sent on behalf of a chat, `channel` for a channel post) and the older
/// fields the Bot API server still sends beside it (`forward_from`,
/// `forward_from_chat`, `forward_from_message_id`, `forward_signature`,
/// `forward_sender_name`, `forward_date`), and `has_protected_content` if
/// `protect`. `None` if it cannot be forwarded: a service message, a
/// message with protected content, a kind the fake does not know.
fn forwarded_content(message: &Value, protect: bool) -> Option<Map<String, Value>> {
    if message["has_protected_content"] == true {
        return None;
    }
    let mut content = copy_content(message)?;
    let origin = match message.get("forward_origin") {
        Some(origin) => origin.clone(),
        None => origin_of(message),
    };
    let legacy: &[(&str, &str)] = match origin["type"].as_str() {
        Some("user") => &[("forward_from", "sender_user")],
        Some("chat") => &[
            ("forward_from_chat", "sender_chat"),
            ("forward_signature", "author_signature"),
        ],
        Some("hidden_user") => &[("forward_sender_name", "sender_user_name")],
        Some("channel") => &[
            ("forward_from_chat", "chat"),
            ("forward_from_message_id", "message_id"),
            ("forward_signature", "author_signature"),
        ],
        _ => &[],
    };
    for (field, origin_field) in legacy {
        if let Some(value) = origin.get(*origin_field) {
            content.insert((*field).to_owned(), value.clone());
        }
    }
    content.insert("forward_date".into(), origin["date"].clone());
    content.insert("forward_origin".into(), origin);
    if protect {
        content.insert("has_protected_content".into(), true.into());
    }
    Some(content)
}

/// Who sent `message`, as a `MessageOrigin`.
fn origin_of(message: &Value) -> Value {
    let date = message["date"].clone();
    let mut origin = if message["chat"]["type"] == "channel" {
        json!({
            "type": "channel",
            "chat": message["chat"],
            "message_id": message["message_id"],
            "date": date,
        })
    } else if let Some(chat) = message.get("sender_chat") {
        json!({ "type": "chat", "sender_chat": chat, "date": date })
    } else {
        json!({ "type": "user", "sender_user": message["from"], "date": date })
    };
    let signature = message
        .get("author_signature")
        .filter(|_| origin["type"] != "user");
    if let Some(signature) = signature {
        origin["author_signature"] = signature.clone();
    }
    origin
}

/// The fields a copy of `message` carries, or `None` if it cannot be copied.
fn copy_content(message: &Value) -> Option<Map<String, Value>> {
    if message["has_protected_content"] == true {
        return None;
    }
    let content: Map<String, Value> = CONTENT_FIELDS
        .iter()
        .filter_map(|&field| Some((field.to_owned(), message.get(field)?.clone())))
        .collect();
    (!content.is_empty()).then_some(content)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_is_in_the_table_once_and_in_the_module_doc() {
        let doc = include_str!("../mod.rs");
        let names: Vec<&str> = method_names().collect();
        for name in &names {
            assert!(
                doc.contains(&format!("`{name}`")),
                "{name} is not in fake/mod.rs's doc"
            );
            let spellings = names
                .iter()
                .filter(|n| n.eq_ignore_ascii_case(name))
                .count();
            assert_eq!(spellings, 1, "{name} is in the table more than once");
            assert_eq!(
                find_method(&name.to_uppercase()).map(|m| m.name),
                Some(*name)
            );
        }
        assert!(find_method("sendSticker").is_none());
    }
}
