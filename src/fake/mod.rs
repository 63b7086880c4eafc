//! A stateful fake of the Telegram Bot API, served over real HTTP.
//!
//! [`FakeTelegram::start`] binds `127.0.0.1:0` and answers `GET`/`POST
//! /bot{token}/{method}` with the Bot API's wire format: JSON or form bodies in,
//! `{"ok":true,"result":..}` or `{"ok":false,"error_code":..,"description":..,
//! "parameters":{..}}` out, with the HTTP status equal to the error code. The
//! integration tests, the benchmarks and `switchboard demo` run against it.
//!
//! What it models:
//! - **Accounts**: bots (with tokens) and users. Ids are unique per fake.
//! - **Private chats**, one per (bot, user) pair; chat id = user id. A user
//!   "starts" a bot by writing to it, and can block and unblock it.
//! - **Forum supergroups** shared by the bots in them (as admins with
//!   `can_manage_topics`), with topics (created, closed, reopened, edited,
//!   deleted) and the General topic. A topic's id is the id of its
//!   `forum_topic_created` service message; message ids are per chat.
//! - **Updates**: one queue per bot with `getUpdates` semantics (offset
//!   confirmation, negative offsets, long polling, `allowed_updates`, 409 when a
//!   second poller or a webhook competes). Bots never see messages sent by bots.
//!   [`FakeTelegram::repeat_confirmed_updates`] serves updates twice.
//! - **Methods**: `getMe`, `getUpdates`, `setWebhook`, `deleteWebhook`,
//!   `getWebhookInfo`, `sendMessage` (plain, entities, or HTML parse mode),
//!   `sendPhoto`, `sendDocument`, `sendVideo`, `sendAudio`, `sendVoice`,
//!   `sendAnimation`, `sendMediaGroup`, `getFile` (see **Files**),
//!   `sendLocation` (see **Locations**), `copyMessage`, `copyMessages`,
//!   `forwardMessage`, `forwardMessages` (see **Forwards**),
//!   `createForumTopic`, `closeForumTopic`,
//!   `reopenForumTopic`, `editForumTopic`, `answerCallbackQuery`,
//!   `getChat`, `getChatMember`, the edits (see **Edits**),
//!   `setMessageReaction` (see **Reactions**), each
//!   declared once in the methods table (`world/methods.rs`), and matched in
//!   any case as Telegram matches them (`sendmessage`). Other
//!   methods answer 404 like Telegram does for unknown ones. Topic names are
//!   limited to 128 UTF-16 code units, as Telegram counts them; a copy
//!   carries the known content fields of its source, and a message without
//!   any (a giveaway, an invoice, a service message, a kind the fake does
//!   not know) answers 400 `Bad Request: message can't be copied`.
//! - **Forwards** (`world/methods.rs`): `forwardMessage` (answers the new
//!   `Message`) and `forwardMessages` (1-100 increasing `message_ids`;
//!   answers their `MessageId`s; albums stay albums under a new
//!   `media_group_id`) post, from the bot, what a copy carries plus
//!   `forward_origin`: the source's own if it is a forward (Telegram keeps
//!   the first origin), else `user` (`sender_user`: its `from`), `chat`
//!   (`sender_chat`) or `channel` (`chat`, `message_id`), with the source's
//!   `date`, and the older fields the Bot API server still sends beside it
//!   (`forward_from`, `forward_from_chat`, `forward_date`, ...).
//!   `protect_content` gives the new message `has_protected_content`. A
//!   source not found (or in a deleted topic) is 400 `message to forward
//!   not found`; a service message, a message with protected content and
//!   a kind the fake does not know `message can't be forwarded`;
//!   `forwardMessages` skips those, and answers `messages can't be
//!   forwarded` if none is left. Hidden senders (`hidden_user`) are not
//!   modelled, and a forwarded live location does not move with its source.
//! - **Locations** (`world/locations.rs`): `sendLocation` (`latitude`,
//!   `longitude`, `horizontal_accuracy`; live with `live_period`, 60-86400
//!   or `0x7FFFFFFF`, `heading`, `proximity_alert_radius`; `TDLib`'s checks
//!   and 400s: `wrong location specified`, `wrong live location period
//!   specified`, ...). A live location can be moved while its live period
//!   runs: by its bot with `editMessageLiveLocation` and stopped with
//!   `stopMessageLiveLocation` (see **Edits**), by people with
//!   [`FakeTelegram::user_moves_live_location`] and
//!   [`FakeTelegram::operator_moves_live_location`] (content from
//!   [`live_location_content`]), each move an `edited_message` update to
//!   the bot(s), as Telegram sends them. A stopped live location shows
//!   without `live_period`, as the Bot API shows it; one whose period ran
//!   out keeps showing it in the fake (stored messages are not rewritten as
//!   time passes) but can no longer move.
//! - **Files**: every method takes `multipart/form-data` bodies as well as
//!   JSON and form ones (a part without a file name is a parameter, a part
//!   with one an upload, up to 50 MB, else 413). A send method's file is an
//!   upload in the part of its name (`photo`), `attach://<part>`, a known
//!   `file_id` (400 `Bad Request: wrong file identifier/HTTP URL specified`
//!   otherwise, `can't use file of type Document as Photo` for a photo's
//!   place) or an `http(s)` URL (a made-up file; nothing is fetched); none is
//!   400 `Bad Request: there is no photo in the request`. Messages show
//!   files in the Bot API's shape: `photo` as a list of sizes (90, 320, 800,
//!   1280 px and the original, from a PNG, GIF or JPEG header; other bytes
//!   count as 1280×853), `document` with `file_name` (the part's) and
//!   `mime_type`, ... and resending a `file_id` shows the same file (its
//!   `file_unique_id` too). `sendMediaGroup` takes 1–10 `InputMedia`
//!   (photos and videos, or documents, or audio; `there are no messages to
//!   send`, `too many messages to send as an album`, `document can't be
//!   mixed with other media types`); two or more share a `media_group_id`.
//!   Uploaded bytes are kept; other files (a person's, e.g. from
//!   [`photo_content`], one sent by URL, a photo's smaller sizes) are made-up
//!   bytes of their `file_size`. `getFile` gives a path (`photos/file_0.jpg`;
//!   400 `Bad Request: file is too big` over 20 MB) to download at
//!   `GET /file/bot{token}/{file_path}` (the token may be percent-encoded),
//!   with that bot's token only (404 `Not Found` otherwise).
//!   [`FakeTelegram::file`] and [`FakeTelegram::file_bytes`] show a file to a
//!   test. Ids are shared by all bots (Telegram's are per bot); thumbnails,
//!   stickers and video notes sent by bots, and content checks (an image
//!   that does not decode) are not modelled.
//! - **Edits** of a bot's own messages (`world/edits.rs`):
//!   `editMessageText` (`text` with `entities` or `parse_mode`, of a text
//!   message), `editMessageCaption` (`caption`, `caption_entities`,
//!   `show_caption_above_media`, of a message with a file),
//!   `editMessageMedia` (an `InputMedia` named as in `sendMediaGroup`:
//!   upload, `attach://`, `file_id` or URL; file, caption and spoiler
//!   replaced), `editMessageReplyMarkup`, `editMessageLiveLocation` (a new
//!   point, `heading`, `proximity_alert_radius`, and `live_period` kept if
//!   not given, of a live location still running) and
//!   `stopMessageLiveLocation`. Each takes `reply_markup`, and
//!   an edit without it removes the inline keyboard, as Telegram does. The
//!   message is replaced in its chat with `edit_date` set
//!   ([`FakeMessage::edit_date`]), and the edited `Message` is the answer.
//!   Telegram's 400s: `message to edit not found`, `message can't be
//!   edited` (another's message, a service message, a sticker, ...), `there
//!   is no text in the message to edit` (and `caption`, `media`, `live
//!   location`; a location not live or no longer live: `message can't be
//!   edited`), `invalid location specified`, `message
//!   is not modified: ...` for an edit that changes nothing, `MESSAGE_TOO_LONG`,
//!   `MEDIA_CAPTION_TOO_LONG`, `can't change media type in the album`, ...
//!   Inline messages (`inline_message_id`) are not modelled (400). Edits
//!   send no update and do not count against the rate limits.
//! - **Reactions** (`world/reactions.rs`): `setMessageReaction` sets the
//!   bot's reaction to a message of its private chat with a user or of a
//!   group it is in (member or admin): `reaction`, a JSON array of
//!   `ReactionType`, holds at most one (400 `REACTIONS_TOO_MANY`); none, or
//!   an empty one, removes it; `is_big` changes nothing. The emoji must be
//!   one of [`REACTION_EMOJI`] as the Bot API lists them (`❤`, not `❤️`),
//!   else 400 `REACTION_INVALID`, as for a `custom_emoji` (no chat allows
//!   one) and a service message; `paid` does not parse (bots can't use paid
//!   reactions). A message the chat does not show is 400 `message to react
//!   not found`, a user who blocked the bot 403 as for a send; a reaction to a message of an album goes to its first
//!   message. People react with [`FakeTelegram::user_reacts`] and
//!   [`FakeTelegram::operator_reacts`] (one emoji, or none to take it
//!   back): a change sends a `message_reaction` update
//!   (`MessageReactionUpdated`: `chat`, `message_id`, `user`, `date`,
//!   `old_reaction`, `new_reaction`) to the bot of the private chat, or to
//!   every admin bot of the group, not its plain members, as Telegram does;
//!   only a bot that asked for `message_reaction` in `allowed_updates`
//!   receives it (it is not in the default set). A bot's own reaction sends
//!   no update. Reactions are kept beside the messages, one per person or
//!   bot ([`FakeMessage::reactions`]), not in the `Message` JSON, which the
//!   Bot API sends without them; the anonymous counts
//!   (`message_reaction_count`) and chats' `available_reactions` are not
//!   modelled.
//! - **Rate limits** (off by default; [`FakeTelegram::set_limits`] with
//!   [`Limits::telegram`] or custom [`Rate`]s): sliding windows per bot, per
//!   private chat and per group (all topics together). Messages posted by
//!   `sendMessage`, the methods that send files (each message of an album),
//!   `sendLocation`, `copyMessage`, `copyMessages` (each copy),
//!   `forwardMessage`, `forwardMessages` (each forward) and the topic
//!   methods count (edits do not: Telegram's flood control of edits is not
//!   modelled); a send over budget gets 429 with `retry_after` (whole
//!   seconds until there is room) and is not applied. [`FakeTelegram::stats`]
//!   counts the 429s per scope and lists every accepted send, to check that no
//!   window went over budget. The algorithm is described in `limits.rs`.
//! - **Group migration**: [`FakeTelegram::migrate_group`] moves a group to a
//!   new id; calls naming the old id get 400 with `migrate_to_chat_id`.
//! - **Faults**: a test injects [`FaultRule`]s matched by method and bot, for
//!   the next `times` matching requests or [`FaultRule::always`]:
//!   [`Fault::Error`] (a Telegram-shaped error: 429 `retry_after`, 5xx, 403
//!   blocked, 400 thread not found, 409, ...), [`Fault::Hang`] (never
//!   answered), [`Fault::Delay`] (answered late), [`Fault::Disconnect`] (the
//!   connection is dropped, with or without the request taking effect).
//!   [`FaultRule::with_probability`] makes a rule hit only a random share of
//!   its matching requests (chaos testing); [`FakeTelegram::seed_faults`]
//!   makes the draw reproducible.
//!
//! A test acts as a person ([`FakeTelegram::user_sends`],
//! [`FakeTelegram::operator_sends`], [`FakeTelegram::user_presses_button`]
//! for an inline button: a `callback_query` update, [`FakeTelegram::user_reacts`],
//! ...) and inspects what each chat shows
//! ([`FakeTelegram::private_chat`], [`FakeTelegram::topic_messages`], ...), what
//! the bots asked for ([`FakeTelegram::requests`]), and waits for the system
//! under test with [`FakeTelegram::wait_until`].
//!
//! Another process drives the fake through the **control API** served beside
//! the Bot API under `/fake/` (JSON: create bots, users and groups, write as
//! a user or an operator, press a button, react, read chats, topics and
//! reactions, statistics,
//! limits, faults;
//! the routes are in `control.rs`). `switchboard fake` serves a fake on its
//! own for that ([`standalone`]).
//!
//! Not modelled (yet): Telegram's dynamic limits (the fake's windows are
//! fixed) and paid broadcasts, Markdown parse modes (the text is kept as
//! sent), edits of inline messages (`inline_message_id`) and of
//! messages other than texts, files and live locations (polls, checklists),
//! deletions, webhook delivery.
//!
//! Concurrency: the whole world lives behind one `std::sync::Mutex` that is never
//! held across an `.await`. Every change bumps a `tokio::sync::watch` version
//! counter, which [`FakeTelegram::wait_until`] sleeps on; a change that a
//! bot's waiting `getUpdates` must see also bumps that bot's own counter, so
//! a long poll wakes for its own bot only.
//!
//! Files: this one holds the handle and the public types; `server.rs` the
//! HTTP side of the Bot API (routing, faults, the long poll), `control.rs`
//! the control API, `params.rs` the request parameters (multipart bodies
//! included), `error.rs` the error
//! answer, `world/` the state and the methods (its module doc maps it),
//! `limits.rs` the rate limits, `html.rs` the HTML parse mode.

mod control;
mod error;
mod html;
mod limits;
mod params;
mod server;
pub mod standalone;
mod world;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use self::world::World;

pub use self::control::CONTROL_HELP;
pub use self::limits::{AcceptedSend, FakeStats, Limits, Rate};
pub use self::world::REACTION_EMOJI;

/// A running fake Bot API server and a handle on its state.
///
/// Cheap to clone; all clones share one server. The server stops on
/// [`FakeTelegram::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct FakeTelegram {
    /// The shared state, also held by the server task.
    core: Arc<Core>,
    /// Where the server listens.
    addr: SocketAddr,
    /// Cancels the server when the last handle goes away; the server task holds
    /// `core` but not this, so it cannot keep itself alive.
    _stop_on_drop: Arc<DropGuard>,
}

/// A bot account known to the fake.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FakeBot {
    /// Telegram user id of the bot; also the prefix of its token.
    pub id: i64,
    /// The full token, `"{id}:{35 random chars}"`.
    pub token: String,
    /// The bot's username (also used as its first name).
    pub username: String,
}

/// A human account known to the fake (a user or an operator).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FakeUser {
    /// Telegram user id; also the id of this user's private chats with bots.
    pub id: i64,
    /// First name shown in `from` and in private chats.
    pub first_name: String,
    /// Optional `@username` (without the `@`).
    pub username: Option<String>,
}

/// A message as stored by the fake, with the fields tests look at most.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeMessage {
    /// Id within its chat.
    pub message_id: i64,
    /// Sender's user id (a bot or a human); 0 for a group's creation message,
    /// which has no sender.
    pub from_id: i64,
    /// Whether the sender is a bot.
    pub from_is_bot: bool,
    /// Topic the message is in; `None` in private chats and in General.
    pub thread_id: Option<i64>,
    /// Text of a text message.
    pub text: Option<String>,
    /// Caption of a media message.
    pub caption: Option<String>,
    /// Whether this is a service message (topic created/closed/..., group created).
    pub is_service: bool,
    /// The full Telegram `Message` object as the Bot API would return it.
    pub json: serde_json::Value,
    /// The reactions to the message, one per person or bot, in the order
    /// they were last chosen (`setMessageReaction`,
    /// [`FakeTelegram::user_reacts`], [`FakeTelegram::operator_reacts`]).
    /// Kept beside [`FakeMessage::json`], as the Bot API's `Message` has
    /// none; an album's reactions are its first message's.
    pub reactions: Vec<FakeReaction>,
}

/// One reaction to a message, in [`FakeMessage::reactions`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FakeReaction {
    /// Who reacted: a user's or a bot's id.
    pub from_id: i64,
    /// The emoji, one of [`REACTION_EMOJI`].
    pub emoji: String,
}

impl FakeMessage {
    /// The `file_id` of the file the message shows: the largest size of a
    /// photo, or its animation, document, video, audio, voice, sticker or
    /// video note. `None` for a message without a file.
    #[must_use]
    pub fn file_id(&self) -> Option<&str> {
        if let Some(sizes) = self.json["photo"].as_array() {
            return sizes.last()?["file_id"].as_str();
        }
        [
            "animation",
            "document",
            "video",
            "audio",
            "voice",
            "sticker",
            "video_note",
        ]
        .iter()
        .find_map(|field| self.json[*field]["file_id"].as_str())
    }

    /// When the message was last edited (Unix time), if it was: an edit by
    /// `editMessageText`, `editMessageCaption`, `editMessageMedia`,
    /// `editMessageReplyMarkup`, `editMessageLiveLocation` or
    /// `stopMessageLiveLocation`, or a person's edit or move of a live
    /// location. [`FakeMessage::json`] and the other fields
    /// show the message as edited.
    #[must_use]
    pub fn edit_date(&self) -> Option<i64> {
        self.json["edit_date"].as_i64()
    }

    /// The album the message belongs to, if any.
    #[must_use]
    pub fn media_group_id(&self) -> Option<&str> {
        self.json["media_group_id"].as_str()
    }

    /// The emoji `from_id` (a user or a bot) reacted to the message with, if any.
    #[must_use]
    pub fn reaction_of(&self, from_id: i64) -> Option<&str> {
        self.reactions
            .iter()
            .find(|r| r.from_id == from_id)
            .map(|r| r.emoji.as_str())
    }
}

/// A file the fake keeps (uploaded by a bot, sent by URL or by a person),
/// from [`FakeTelegram::file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeFile {
    /// The id it was asked for by.
    pub file_id: String,
    /// Stays the same however the file is sent again.
    pub file_unique_id: String,
    /// The message field that shows it: `"photo"` (one of its sizes),
    /// `"document"`, `"video"`, `"audio"`, `"voice"`, `"animation"`,
    /// `"sticker"` or `"video_note"`.
    pub kind: &'static str,
    /// Its size in bytes.
    pub file_size: u64,
    /// The name it was uploaded with (or that its URL or message gave).
    pub file_name: Option<String>,
    /// Its MIME type, if known.
    pub mime_type: Option<String>,
    /// Whether its bytes are an upload's; otherwise the fake made them up.
    pub uploaded: bool,
}

/// A forum topic as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FakeTopic {
    /// Topic id (= id of its `forum_topic_created` message).
    pub thread_id: i64,
    /// Current name.
    pub name: String,
    /// Icon color chosen at creation.
    pub icon_color: i64,
    /// Whether the topic is closed.
    pub closed: bool,
    /// Whether an admin deleted it ([`FakeTelegram::delete_topic`]).
    pub deleted: bool,
}

/// One HTTP request as it reached the fake.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecordedRequest {
    /// The bot whose token was in the URL; `None` for an unknown token.
    pub bot_id: Option<i64>,
    /// Method name, canonical spelling for known methods (`sendMessage`), as
    /// sent otherwise.
    pub method: String,
    /// All parameters (query string and body merged) as a JSON object. Form
    /// values that parse as JSON are stored as that JSON; an uploaded file
    /// (a multipart part with a file name) as
    /// `{"file_name":..,"mime_type":..,"file_size":..}`.
    pub params: serde_json::Value,
}

/// What an injected fault does to a request it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with a Telegram-shaped error; the HTTP status is `code`.
    Error {
        /// `error_code` and HTTP status.
        code: u16,
        /// `description`, e.g. `"Bad Request: message thread not found"`.
        description: String,
        /// `parameters.retry_after`.
        retry_after: Option<u32>,
        /// `parameters.migrate_to_chat_id`.
        migrate_to_chat_id: Option<i64>,
    },
    /// Never answer (until the fake shuts down). The request is recorded but not
    /// applied.
    Hang,
    /// Apply and answer normally after the delay.
    Delay(Duration),
    /// Apply at once, answer after the delay: the effect is visible (the
    /// updates it causes included) while the caller still waits.
    SlowAnswer(Duration),
    /// Close the connection without an answer. With `after_apply` the request
    /// takes effect first (the client cannot know it did); without, it does not.
    Disconnect {
        /// Apply the request before dropping the connection.
        after_apply: bool,
    },
    /// `fault` for a random share of the matching requests, `per_million`
    /// out of a million on average; the others pass on to the next rules as
    /// if this one did not match. Built by [`FaultRule::with_probability`];
    /// the draw follows [`FakeTelegram::seed_faults`].
    Sometimes {
        /// Chance of firing, in millionths (an integer, so `Fault` stays `Eq`).
        per_million: u32,
        /// What happens when it fires.
        fault: Box<Fault>,
    },
}

impl Fault {
    /// A Telegram-shaped error with the given code and description.
    #[must_use]
    pub fn error(code: u16, description: &str) -> Fault {
        Fault::Error {
            code,
            description: description.to_owned(),
            retry_after: None,
            migrate_to_chat_id: None,
        }
    }

    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    #[must_use]
    pub fn retry_after(secs: u32) -> Fault {
        Fault::Error {
            code: 429,
            description: format!("Too Many Requests: retry after {secs}"),
            retry_after: Some(secs),
            migrate_to_chat_id: None,
        }
    }

    /// 502 `Bad Gateway`, what Telegram's front end answers when its back end is down.
    #[must_use]
    pub fn server_error() -> Fault {
        Fault::error(502, "Bad Gateway")
    }

    /// 403 `Forbidden: bot was blocked by the user`.
    #[must_use]
    pub fn blocked_by_user() -> Fault {
        Fault::error(403, "Forbidden: bot was blocked by the user")
    }

    /// 400 `Bad Request: message thread not found`.
    #[must_use]
    pub fn thread_not_found() -> Fault {
        Fault::error(400, "Bad Request: message thread not found")
    }

    /// 401 `Unauthorized` (a revoked token).
    #[must_use]
    pub fn unauthorized() -> Fault {
        Fault::error(401, "Unauthorized")
    }

    /// 409 `Conflict: terminated by other getUpdates request; ...`.
    #[must_use]
    pub fn conflict() -> Fault {
        Fault::error(409, error::CONFLICT_OTHER_POLLER)
    }

    /// 400 `Bad Request: group chat was upgraded to a supergroup chat` with
    /// `parameters.migrate_to_chat_id`.
    #[must_use]
    pub fn migrated_to(chat_id: i64) -> Fault {
        Fault::Error {
            code: 400,
            description: error::GROUP_MIGRATED.to_owned(),
            retry_after: None,
            migrate_to_chat_id: Some(chat_id),
        }
    }
}

/// Which requests a [`Fault`] applies to, and how many times.
///
/// Rules are tried in the order they were injected; the first that matches a
/// request (and fires, for a [`FaultRule::with_probability`] rule) consumes
/// one of its `times` and decides the fault. A rule with `times == 0` is spent
/// and never matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// Method name (case-insensitive); `None` matches every method.
    pub method: Option<String>,
    /// Bot id; `None` matches every bot (and unknown tokens).
    pub bot_id: Option<i64>,
    /// How many matching requests this rule still affects.
    pub times: usize,
    /// What happens to them.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for the next request of `method` (any bot), once.
    #[must_use]
    pub fn on(method: &str, fault: Fault) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            bot_id: None,
            times: 1,
            fault,
        }
    }

    /// A rule for the next request of any method (any bot), once.
    #[must_use]
    pub fn any(fault: Fault) -> FaultRule {
        FaultRule {
            method: None,
            bot_id: None,
            times: 1,
            fault,
        }
    }

    /// Restricts the rule to one bot.
    #[must_use]
    pub fn for_bot(mut self, bot: &FakeBot) -> FaultRule {
        self.bot_id = Some(bot.id);
        self
    }

    /// Makes the rule affect `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: usize) -> FaultRule {
        self.times = n;
        self
    }

    /// Makes the rule affect every matching request until [`FakeTelegram::clear_faults`].
    #[must_use]
    pub fn always(mut self) -> FaultRule {
        self.times = usize::MAX;
        self
    }

    /// Makes the rule fire on each matching request with chance `probability`
    /// (clamped to 0..=1, kept to a millionth), as [`Fault::Sometimes`].
    /// `times` then counts the requests it fired on: `.always()` for chaos,
    /// `.times(3)` for exactly 3 faults at random places.
    #[must_use]
    pub fn with_probability(mut self, probability: f64) -> FaultRule {
        let per_million = (probability.clamp(0.0, 1.0) * 1_000_000.0).round();
        self.fault = Fault::Sometimes {
            // A whole number in 0..=1e6 after the clamp: the cast is exact.
            per_million: per_million as u32,
            fault: Box::new(self.fault),
        };
        self
    }
}

/// Content for [`FakeTelegram::user_sends_content`]: a photo with a fresh
/// `file_id` in two sizes, and an optional caption. Once sent, bots can
/// download it (made-up bytes of each size's `file_size`).
#[must_use]
pub fn photo_content(caption: Option<&str>) -> serde_json::Value {
    let (small, small_unique) = world::new_file_ids(world::FileKind::Photo);
    let (large, large_unique) = world::new_file_ids(world::FileKind::Photo);
    let mut content = serde_json::json!({
        "photo": [
            {"file_id": small, "file_unique_id": small_unique,
             "width": 90, "height": 60, "file_size": 1200},
            {"file_id": large, "file_unique_id": large_unique,
             "width": 1280, "height": 853, "file_size": 98000},
        ]
    });
    if let Some(caption) = caption {
        content["caption"] = caption.into();
    }
    content
}

/// Content for [`FakeTelegram::user_sends_content`]: a document with a
/// fresh `file_id`, named `file_name`, of `file_size` bytes, and an optional
/// caption. Once sent, bots can download it (made-up bytes), up to 20 MB.
#[must_use]
pub fn document_content(
    file_name: &str,
    file_size: u64,
    caption: Option<&str>,
) -> serde_json::Value {
    let (file_id, unique) = world::new_file_ids(world::FileKind::Document);
    let mut content = serde_json::json!({
        "document": {
            "file_id": file_id, "file_unique_id": unique, "file_name": file_name,
            "mime_type": "application/octet-stream", "file_size": file_size,
        }
    });
    if let Some(caption) = caption {
        content["caption"] = caption.into();
    }
    content
}

/// Content for [`FakeTelegram::user_sends_content`] and
/// [`FakeTelegram::operator_sends_content`]: a live location at
/// (`latitude`, `longitude`) that can move for `live_period` seconds
/// (`0x7FFFFFFF`: forever), with [`FakeTelegram::user_moves_live_location`]
/// and [`FakeTelegram::operator_moves_live_location`].
#[must_use]
pub fn live_location_content(latitude: f64, longitude: f64, live_period: i64) -> serde_json::Value {
    serde_json::json!({
        "location": { "latitude": latitude, "longitude": longitude, "live_period": live_period }
    })
}

/// State shared by the handles and the server task.
struct Core {
    /// Everything the fake knows. Never locked across an `.await`.
    world: Mutex<World>,
    /// Bumped after every change to `world`; waiters re-check on each bump.
    version: watch::Sender<u64>,
    /// Per bot, bumped after a change its waiting `getUpdates` must see: a
    /// thousand long polls then wake for their own bot's updates only, not
    /// for every change anywhere.
    polls: Mutex<HashMap<i64, watch::Sender<u64>>>,
    /// Stops the server and wakes every long poll and hang.
    shutdown: CancellationToken,
}

impl Core {
    /// Reads the world without announcing a change.
    fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        f(&world)
    }

    /// Changes the world, then wakes everyone waiting for a change.
    fn mutate<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let (result, polls_changed) = {
            let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
            let result = f(&mut world);
            (result, world.take_polls_changed())
        };
        if !polls_changed.is_empty() {
            let polls = self.polls.lock().unwrap_or_else(PoisonError::into_inner);
            for bot in polls_changed {
                if let Some(signal) = polls.get(&bot) {
                    signal.send_modify(|version| *version += 1);
                }
            }
        }
        self.version.send_modify(|version| *version += 1);
        result
    }

    /// Changes that a waiting `getUpdates` of `bot` must see.
    fn poll_changes(&self, bot: i64) -> watch::Receiver<u64> {
        let mut polls = self.polls.lock().unwrap_or_else(PoisonError::into_inner);
        polls
            .entry(bot)
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }
}

/// `timeout` from now, or a year from now if that would overflow.
fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("api_url", &self.api_url())
            .finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Binds 127.0.0.1:0 and serves until [`FakeTelegram::shutdown`] or the drop
    /// of the last handle. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// If the port cannot be bound.
    pub async fn start() -> anyhow::Result<FakeTelegram> {
        FakeTelegram::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Like [`FakeTelegram::start`], on `listen` (port 0 for any free one).
    ///
    /// # Errors
    /// If `listen` cannot be bound.
    pub async fn start_on(listen: SocketAddr) -> anyhow::Result<FakeTelegram> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the fake Bot API to {listen}"))?;
        let addr = listener
            .local_addr()
            .context("reading the fake Bot API's address")?;
        let core = Arc::new(Core {
            world: Mutex::new(World::new()),
            version: watch::Sender::new(0),
            polls: Mutex::default(),
            shutdown: CancellationToken::new(),
        });
        let stop_on_drop = core.shutdown.clone().drop_guard();
        tokio::spawn(server::serve(listener, Arc::clone(&core)));
        Ok(FakeTelegram {
            core,
            addr,
            _stop_on_drop: Arc::new(stop_on_drop),
        })
    }

    /// Base URL without a trailing slash; methods are at `{api_url}/bot{token}/{method}`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server. Waiting long polls answer an empty list, hanging
    /// requests are dropped; the state stays inspectable.
    pub fn shutdown(&self) {
        self.core.shutdown.cancel();
    }

    // ---- world building -------------------------------------------------

    /// Creates a bot account with a fresh id and token.
    #[must_use]
    pub fn add_bot(&self, username: &str) -> FakeBot {
        self.core.mutate(|w| w.add_bot(username))
    }

    /// Creates a human account.
    #[must_use]
    pub fn add_user(&self, first_name: &str, username: Option<&str>) -> FakeUser {
        self.core.mutate(|w| w.add_user(first_name, username))
    }

    /// Creates a forum supergroup (id like `-1001000000001`) whose admins are
    /// `admin_bots`, with `can_manage_topics`. Its message 1 is the
    /// `supergroup_chat_created` service message, so topic ids start at 2.
    #[must_use]
    pub fn add_forum_group(&self, title: &str, admin_bots: &[&FakeBot]) -> i64 {
        let bots: Vec<i64> = admin_bots.iter().map(|b| b.id).collect();
        self.core.mutate(|w| w.add_group(title, true, &bots))
    }

    /// Creates a supergroup that is not a forum, with `admin_bots` as admins.
    #[must_use]
    pub fn add_plain_group(&self, title: &str, admin_bots: &[&FakeBot]) -> i64 {
        let bots: Vec<i64> = admin_bots.iter().map(|b| b.id).collect();
        self.core.mutate(|w| w.add_group(title, false, &bots))
    }

    /// Adds `bot` to `group` as an admin (with `can_manage_topics`) or as a
    /// plain member; a bot already there gets its role changed.
    ///
    /// # Panics
    /// If the group or the bot does not belong to this fake.
    pub fn add_bot_to_group(&self, group: i64, bot: &FakeBot, admin: bool) {
        self.core
            .mutate(|w| w.add_bot_to_group(group, bot.id, admin));
    }

    // ---- acting as a person ----------------------------------------------

    /// `user` writes `text` to `bot`; the first message starts the bot, a
    /// message to a blocked bot unblocks it first. Returns the new message id.
    ///
    /// # Panics
    /// If the bot or the user does not belong to this fake (as do the other
    /// acting methods for unknown bots, users, groups or topics).
    pub fn user_sends(&self, bot: &FakeBot, user: &FakeUser, text: &str) -> i64 {
        self.user_sends_content(bot, user, serde_json::json!({ "text": text }))
    }

    /// `user` edits their text message `message_id` to `text`; `bot` gets an
    /// `edited_message` update if it asked for them.
    ///
    /// # Panics
    /// If the user wrote no such message to the bot.
    pub fn user_edits(&self, bot: &FakeBot, user: &FakeUser, message_id: i64, text: &str) {
        self.core
            .mutate(|w| w.user_edits(bot.id, user.id, message_id, text));
    }

    /// `operator` edits their text message `message_id` in `group` to
    /// `text`; the group's bots get an `edited_message` update.
    ///
    /// # Panics
    /// If the operator wrote no such message there.
    pub fn operator_edits(&self, group: i64, operator: &FakeUser, message_id: i64, text: &str) {
        self.core
            .mutate(|w| w.operator_edits(group, operator.id, message_id, text));
    }

    /// `user`'s live location `message_id` (sent with
    /// [`live_location_content`]) moves to (`latitude`, `longitude`): the
    /// message shows the new point and gets `edit_date`, and `bot` gets an
    /// `edited_message` update, as Telegram sends each move, if it asked
    /// for them.
    ///
    /// # Panics
    /// If the user wrote no such message to the bot, it shows no live
    /// location that can still move (its live period ran out), or the
    /// point is off the map.
    pub fn user_moves_live_location(
        &self,
        bot: &FakeBot,
        user: &FakeUser,
        message_id: i64,
        latitude: f64,
        longitude: f64,
    ) {
        self.core.mutate(|w| {
            w.user_moves_live_location(bot.id, user.id, message_id, latitude, longitude);
        });
    }

    /// `operator`'s live location `message_id` in `group` moves to
    /// (`latitude`, `longitude`); the group's bots get an `edited_message`
    /// update.
    ///
    /// # Panics
    /// As [`FakeTelegram::user_moves_live_location`].
    pub fn operator_moves_live_location(
        &self,
        group: i64,
        operator: &FakeUser,
        message_id: i64,
        latitude: f64,
        longitude: f64,
    ) {
        self.core.mutate(|w| {
            w.operator_moves_live_location(group, operator.id, message_id, latitude, longitude);
        });
    }

    /// `user` replies to message `reply_to` of their chat with `bot` with
    /// `text`. Returns the new message id.
    ///
    /// # Panics
    /// If that chat has no such message.
    pub fn user_replies(&self, bot: &FakeBot, user: &FakeUser, reply_to: i64, text: &str) -> i64 {
        let content = world::content_map(serde_json::json!({ "text": text }));
        self.core
            .mutate(|w| w.user_replies(bot.id, user.id, Some(reply_to), content))
    }

    /// The user presses the inline button with `data` under the bot's
    /// message `message_id` in their chat: the bot gets a `callback_query`
    /// update. Returns the query's id.
    ///
    /// # Panics
    /// If that message is not the bot's or shows no such button.
    pub fn user_presses_button(
        &self,
        bot: &FakeBot,
        user: &FakeUser,
        message_id: i64,
        data: &str,
    ) -> String {
        self.core
            .mutate(|w| w.user_presses_button(bot.id, user.id, message_id, data))
            .unwrap_or_else(|err| {
                panic!("cannot press {data:?} under message {message_id}: {err:?}")
            })
    }

    /// `user` reacts to message `message_id` of their chat with `bot` (any
    /// message there, theirs or the bot's) with `emoji`, one of
    /// [`REACTION_EMOJI`], replacing their reaction, or takes it back
    /// (`None`). If that changed anything, the bot gets a `message_reaction`
    /// update, if it asked for them in `allowed_updates`. A reaction to a
    /// message of an album goes to its first message.
    ///
    /// # Panics
    /// If the chat has no such message, it is a service message, or the
    /// emoji is not one of [`REACTION_EMOJI`].
    pub fn user_reacts(
        &self,
        bot: &FakeBot,
        user: &FakeUser,
        message_id: i64,
        emoji: Option<&str>,
    ) {
        self.core
            .mutate(|w| w.user_reacts(bot.id, user.id, message_id, emoji))
            .unwrap_or_else(|err| {
                panic!("cannot react with {emoji:?} to message {message_id}: {err:?}")
            });
    }

    /// `operator` reacts to message `message_id` of `group` with `emoji`,
    /// one of [`REACTION_EMOJI`], or takes their reaction back (`None`). If
    /// that changed anything, every bot that is an admin of the group (not
    /// the plain members: Telegram sends reactions to admins only) gets a
    /// `message_reaction` update, if it asked for them in `allowed_updates`.
    ///
    /// # Panics
    /// As [`FakeTelegram::user_reacts`].
    pub fn operator_reacts(
        &self,
        group: i64,
        operator: &FakeUser,
        message_id: i64,
        emoji: Option<&str>,
    ) {
        self.core
            .mutate(|w| w.operator_reacts(group, operator.id, message_id, emoji))
            .unwrap_or_else(|err| {
                panic!("cannot react with {emoji:?} to message {message_id} of {group}: {err:?}")
            });
    }

    /// `None` until the bot answered the button press `query_id`
    /// (`answerCallbackQuery`); then the text it showed the user, if any.
    #[must_use]
    pub fn callback_answer(&self, query_id: &str) -> Option<Option<String>> {
        self.core.read(|w| w.callback_answer(query_id))
    }

    /// The user started the bot some time ago (no update now): the bot may
    /// write to them, e.g. the audience of a broadcast.
    pub fn user_started_bot(&self, bot: &FakeBot, user: &FakeUser) {
        self.core.mutate(|w| w.start_bot(bot.id, user.id));
    }

    /// Like [`FakeTelegram::user_sends`], with `content` merged into the message
    /// object, e.g. `{"photo":[..],"caption":"x"}` (see [`photo_content`]).
    pub fn user_sends_content(
        &self,
        bot: &FakeBot,
        user: &FakeUser,
        content: serde_json::Value,
    ) -> i64 {
        self.core
            .mutate(|w| w.user_sends(bot.id, user.id, world::content_map(content)))
    }

    /// `user` sends an album to `bot`: one message per item of `items`
    /// (content as for [`FakeTelegram::user_sends_content`], e.g.
    /// [`photo_content`]), all with one new `media_group_id`, each its own
    /// update, as Telegram sends them. Returns the message ids.
    pub fn user_sends_album(
        &self,
        bot: &FakeBot,
        user: &FakeUser,
        items: Vec<serde_json::Value>,
    ) -> Vec<i64> {
        let album = world::random_digits(18);
        items
            .into_iter()
            .map(|item| self.user_sends_content(bot, user, with_album(item, &album)))
            .collect()
    }

    /// `user` blocks `bot`: a `my_chat_member` update (member -> kicked); later
    /// sends to the user get 403 `Forbidden: bot was blocked by the user`.
    pub fn user_blocks_bot(&self, bot: &FakeBot, user: &FakeUser) {
        self.core.mutate(|w| w.set_blocked(bot.id, user.id, true));
    }

    /// `user` unblocks `bot`: a `my_chat_member` update (kicked -> member).
    pub fn user_unblocks_bot(&self, bot: &FakeBot, user: &FakeUser) {
        self.core.mutate(|w| w.set_blocked(bot.id, user.id, false));
    }

    /// `operator` writes `text` in `group`, in topic `thread` or in General
    /// (`None`). Every bot in the group gets the update. Returns the message id.
    pub fn operator_sends(
        &self,
        group: i64,
        thread: Option<i64>,
        operator: &FakeUser,
        text: &str,
    ) -> i64 {
        self.operator_sends_content(group, thread, operator, serde_json::json!({ "text": text }))
    }

    /// Like [`FakeTelegram::operator_sends`], with `content` merged into the message.
    pub fn operator_sends_content(
        &self,
        group: i64,
        thread: Option<i64>,
        operator: &FakeUser,
        content: serde_json::Value,
    ) -> i64 {
        let content = world::content_map(content);
        self.core
            .mutate(|w| w.operator_sends(group, thread, operator.id, None, content))
    }

    /// `operator` sends an album in `group` (topic `thread`, or General):
    /// like [`FakeTelegram::user_sends_album`]. Returns the message ids.
    pub fn operator_sends_album(
        &self,
        group: i64,
        thread: Option<i64>,
        operator: &FakeUser,
        items: Vec<serde_json::Value>,
    ) -> Vec<i64> {
        let album = world::random_digits(18);
        items
            .into_iter()
            .map(|item| {
                self.operator_sends_content(group, thread, operator, with_album(item, &album))
            })
            .collect()
    }

    /// `operator` replies to message `reply_to` of `group` with `text`, in `thread`.
    pub fn operator_replies(
        &self,
        group: i64,
        thread: Option<i64>,
        operator: &FakeUser,
        reply_to: i64,
        text: &str,
    ) -> i64 {
        let content = world::content_map(serde_json::json!({ "text": text }));
        self.core
            .mutate(|w| w.operator_sends(group, thread, operator.id, Some(reply_to), content))
    }

    /// `operator` closes the topic: service message `forum_topic_closed`, update to the bots.
    pub fn operator_closes_topic(&self, group: i64, thread: i64, operator: &FakeUser) {
        self.core
            .mutate(|w| w.operator_sets_topic_closed(group, thread, operator.id, true));
    }

    /// `operator` reopens the topic: service message `forum_topic_reopened`, update to the bots.
    pub fn operator_reopens_topic(&self, group: i64, thread: i64, operator: &FakeUser) {
        self.core
            .mutate(|w| w.operator_sets_topic_closed(group, thread, operator.id, false));
    }

    /// An admin deletes the topic: later sends into it get 400 `Bad Request:
    /// message thread not found`. Its messages stay inspectable.
    pub fn delete_topic(&self, group: i64, thread: i64) {
        self.core.mutate(|w| w.delete_topic(group, thread));
    }

    /// Queues `update` (a JSON object without `update_id`, e.g.
    /// `{"future_kind":{..}}`) for `bot`, bypassing the `allowed_updates`
    /// filter. Returns the assigned `update_id`.
    ///
    /// # Panics
    /// If `update` is not a JSON object.
    pub fn push_raw_update(&self, bot: &FakeBot, update: serde_json::Value) -> i64 {
        self.core.mutate(|w| w.push_raw_update(bot.id, update))
    }

    /// The next `getUpdates` of `bot` serves its last `n` confirmed updates
    /// again, with their original ids, before the pending ones: a Bot API
    /// server (or a proxy in front of it) that served them twice.
    pub fn repeat_confirmed_updates(&self, bot: &FakeBot, n: usize) {
        self.core.mutate(|w| w.repeat_confirmed(bot.id, n));
    }

    // ---- inspecting -------------------------------------------------------

    /// Every message of the private chat between `bot` and `user`, both
    /// directions, in order. Empty if they never talked.
    #[must_use]
    pub fn private_chat(&self, bot: &FakeBot, user: &FakeUser) -> Vec<FakeMessage> {
        self.core.read(|w| w.private_chat(bot.id, user.id))
    }

    /// Every topic of `group` ever created, deleted ones included, by id.
    #[must_use]
    pub fn topics(&self, group: i64) -> Vec<FakeTopic> {
        self.core.read(|w| w.topics(group))
    }

    /// Messages in topic `thread` of `group`, service messages included, in order.
    #[must_use]
    pub fn topic_messages(&self, group: i64, thread: i64) -> Vec<FakeMessage> {
        self.core
            .read(|w| w.group_messages(group, |m| world::thread_of(m) == Some(thread)))
    }

    /// Messages in the General topic of `group` (no thread), in order.
    #[must_use]
    pub fn general_messages(&self, group: i64) -> Vec<FakeMessage> {
        self.core
            .read(|w| w.group_messages(group, |m| world::thread_of(m).is_none()))
    }

    /// A file the fake keeps, by any of its `file_id`s; `None` for an unknown id.
    #[must_use]
    pub fn file(&self, file_id: &str) -> Option<FakeFile> {
        self.core.read(|w| w.file_info(file_id))
    }

    /// The bytes of a file, as a download serves them: an upload's as sent,
    /// other files' made up (as many as their `file_size`: mind a huge one).
    #[must_use]
    pub fn file_bytes(&self, file_id: &str) -> Option<Vec<u8>> {
        self.core
            .read(|w| w.file_content(file_id))
            .map(|bytes| bytes.to_vec())
    }

    /// Every request in arrival order, recorded before faults are applied.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.core.read(|w| w.requests().to_vec())
    }

    /// Forgets the recorded requests (e.g. after a test's setup phase, or to
    /// bound memory in long benchmark and demo runs, with
    /// [`FakeTelegram::clear_stats`]).
    pub fn clear_requests(&self) {
        self.core.mutate(World::clear_requests);
    }

    /// How many requests of `method` (case-insensitive) arrived.
    #[must_use]
    pub fn request_count(&self, method: &str) -> usize {
        self.core.read(|w| {
            w.requests()
                .iter()
                .filter(|r| r.method.eq_ignore_ascii_case(method))
                .count()
        })
    }

    /// Updates queued for `bot` and not yet confirmed by an offset (repeats
    /// not yet served included).
    #[must_use]
    pub fn pending_update_count(&self, bot: &FakeBot) -> usize {
        self.core.read(|w| w.pending_update_count(bot.id))
    }

    /// Resolves as soon as `check` returns `Some` (re-checked after every change
    /// of the fake's state), or `None` after `timeout`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeTelegram) -> Option<T>,
    ) -> Option<T> {
        let deadline = deadline_after(timeout);
        // Subscribed before the first check: no change can slip in between.
        let mut changes = self.core.version.subscribe();
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return check(self),
            }
        }
    }

    // ---- faults -----------------------------------------------------------

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, rule: FaultRule) {
        self.core.mutate(|w| w.inject(rule));
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.core.mutate(World::clear_faults);
    }

    /// Restarts the random draw of [`FaultRule::with_probability`] rules from
    /// `seed`: the same requests in the same order then get the same faults.
    /// Without it the draw is seeded at random.
    pub fn seed_faults(&self, seed: u64) {
        self.core.mutate(|w| w.seed_faults(seed));
    }

    // ---- rate limits and migration ----------------------------------------

    /// Enforces `limits` from now on ([`Limits::off`] by default); every
    /// window starts empty. See the module doc for what counts.
    pub fn set_limits(&self, limits: Limits) {
        self.core.mutate(|w| w.set_limits(limits));
    }

    /// A snapshot of the rate limits' statistics: 429s per scope and every
    /// accepted send since the start or [`FakeTelegram::clear_stats`].
    #[must_use]
    pub fn stats(&self) -> FakeStats {
        self.core.read(World::stats)
    }

    /// Forgets the statistics (to bound memory in long runs); the limits'
    /// windows are kept.
    pub fn clear_stats(&self) {
        self.core.mutate(World::clear_stats);
    }

    /// Moves `group` to a new id and returns it, as when Telegram upgrades a
    /// group: topics, messages (rewritten to the new chat id), bots and their
    /// rate budgets move. Every bot in the group gets a `migrate_to_chat_id`
    /// message from the old chat and a `migrate_from_chat_id` service message
    /// in the new chat's General topic. From then on any call naming the old
    /// id (`chat_id` or `from_chat_id`) answers 400 `Bad Request: group chat
    /// was upgraded to a supergroup chat` with `parameters.migrate_to_chat_id`;
    /// the test-side methods take the new id only.
    ///
    /// # Panics
    /// If `group` does not belong to this fake (or already moved).
    pub fn migrate_group(&self, group: i64) -> i64 {
        self.core.mutate(|w| w.migrate_group(group))
    }
}

/// `content` with `media_group_id` set to `album`.
fn with_album(mut content: serde_json::Value, album: &str) -> serde_json::Value {
    if let Some(map) = content.as_object_mut() {
        map.insert("media_group_id".into(), album.into());
    }
    content
}
