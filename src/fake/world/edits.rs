//! Edits of a bot's own messages: `editMessageText`, `editMessageCaption`,
//! `editMessageMedia`, `editMessageReplyMarkup`, `editMessageLiveLocation`
//! and `stopMessageLiveLocation`, as Telegram makes them.
//!
//! - The message is `message_id` in `chat_id`. Messages sent via inline mode
//!   (`inline_message_id`) are not modelled: 400 `inline messages are not
//!   modelled by the fake`. A message the chat does not have, or no longer
//!   has (it was in a deleted topic), is 400 `message to edit not found`; a
//!   message of someone else is 400 `message can't be edited`, and so is,
//!   for the text, caption and media edits, one that shows something else
//!   than a text or a photo, video, animation, audio, document or voice
//!   (a service message, a sticker, ...), as `TDLib` checks it. A live
//!   location edit needs a live location that can still be moved (see
//!   `locations.rs`): another location, or one that expired or was
//!   stopped, is 400 `message can't be edited`, a text or a file `there is
//!   no live location in the message to edit`.
//! - An edit replaces the message where it is: `private_chat`,
//!   `topic_messages`, the control API, later button presses and copies
//!   see the edited message. It gets `edit_date` (the time of the latest edit),
//!   and the method answers it whole.
//! - `reply_markup` is the inline keyboard the message shows after the
//!   edit: an edit without one removes the keyboard the message had, for
//!   every edit method. That is what Telegram does, though the Bot API docs
//!   do not say it: the Bot API server hands `TDLib` no markup, and the
//!   edit then shows none (`TDLib`'s "pass null if none"); bots keep a
//!   keyboard by sending it again.
//! - An edit that leaves everything as it was (text, entities, caption,
//!   file, location, keyboard) is 400 `message is not modified: specified
//!   new message content and reply markup are exactly the same as a
//!   current content and reply markup of the message`.
//! - Checks run in Telegram's order: the parameters first (`message text is
//!   empty`, `can't parse InputMedia: ...`), then the message, then what it
//!   shows, then the lengths (`MESSAGE_TOO_LONG` and `MEDIA_CAPTION_TOO_LONG`,
//!   the server's words for an edit, unlike a send's).
//! - Edits post no message: the rate limits do not count them (the methods
//!   table says [`crate::fake::limits::Posts::Nothing`]; Telegram's own
//!   flood control of edits is not modelled), and no update is sent (bots
//!   do not see bots' messages, and people are not clients in the fake).
//!   The request is recorded like any other.

use serde_json::{Map, Value};

use super::files::FileKind;
use super::locations::{Live, Point, edited_live_period, live_period, location_json};
use super::media::add_caption;
use super::methods::{MAX_CAPTION_CHARS, MAX_TEXT_CHARS, formatted, inline_markup};
use super::{ChatKey, World, add_command_entity, message_index, now, thread_of};
use crate::fake::error::ApiError;
use crate::fake::params::Params;

/// The files whose messages a bot may edit the text or caption of (with
/// text messages), as `TDLib`'s `can_edit_message` lists them.
const EDITABLE_FILES: [FileKind; 6] = [
    FileKind::Photo,
    FileKind::Animation,
    FileKind::Document,
    FileKind::Video,
    FileKind::Audio,
    FileKind::Voice,
];
/// The fields of a caption, replaced by a caption or media edit.
const CAPTION_FIELDS: [&str; 3] = ["caption", "caption_entities", "show_caption_above_media"];
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
                            markup are exactly the same as a current content and reply markup \
                            of the message";

/// A message about to be edited: where it is, and its fields, to change.
struct Edit {
    chat: ChatKey,
    index: usize,
    message: Map<String, Value>,
}

impl World {
    /// `editMessageText`: new `text` (with `entities` or `parse_mode`, as
    /// `sendMessage` takes them) for a text message; `link_preview_options`
    /// are ignored.
    pub(super) fn edit_message_text(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let text = p.opt_str("text")?.unwrap_or_default();
        let (text, entities) = formatted(text, p.opt_str("parse_mode")?, p.opt_json("entities")?)?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("message text is empty"));
        }
        let markup = inline_markup(p)?;
        let mut edit = self.message_to_edit(bot, p)?;
        let shows_file = editable_content(&edit.message)?.is_some();
        if shows_file || !edit.message.contains_key("text") {
            return Err(ApiError::bad_request(
                "there is no text in the message to edit",
            ));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
        }
        let fields = &mut edit.message;
        fields.insert("text".into(), text.into());
        fields.remove("entities");
        if let Some(entities) = entities {
            fields.insert("entities".into(), entities);
        }
        add_command_entity(fields);
        self.save_edit(edit, markup)
    }

    /// `editMessageCaption`: the new `caption` (with `caption_entities` or
    /// `parse_mode`; none or an empty one removes the caption) and
    /// `show_caption_above_media` of a message showing a file.
    pub(super) fn edit_message_caption(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let caption = p.opt_str("caption")?.unwrap_or_default();
        let (caption, entities) = formatted(
            caption,
            p.opt_str("parse_mode")?,
            p.opt_json("caption_entities")?,
        )?;
        let above = p.opt_bool("show_caption_above_media")?.unwrap_or(false);
        let markup = inline_markup(p)?;
        let mut edit = self.message_to_edit(bot, p)?;
        let Some(kind) = editable_content(&edit.message)? else {
            return Err(ApiError::bad_request(
                "there is no caption in the message to edit",
            ));
        };
        if caption.chars().count() > MAX_CAPTION_CHARS {
            return Err(ApiError::bad_request("MEDIA_CAPTION_TOO_LONG"));
        }
        let mut new_caption = Map::new();
        if !caption.is_empty() {
            new_caption.insert("caption".into(), caption.into());
            if let Some(entities) = entities {
                new_caption.insert("caption_entities".into(), entities);
            }
        }
        for field in CAPTION_FIELDS {
            edit.message.remove(field);
        }
        add_caption(&mut edit.message, kind, new_caption, false, above);
        self.save_edit(edit, markup)
    }

    /// `editMessageMedia`: `media`, an `InputMedia` (a photo, video,
    /// animation, audio or document, named as `sendMediaGroup` names its
    /// files), replaces the file, the caption and the spoiler of a message
    /// showing a photo, video, animation, audio or document (not a voice
    /// message). In an album, audio and documents stay what they are,
    /// photos and videos may replace each other, animations none.
    pub(super) fn edit_message_media(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let markup = inline_markup(p)?;
        let media = match p.opt_json("media") {
            Err(_) => {
                return Err(ApiError::bad_request("can't parse input media JSON object"));
            }
            Ok(None) => return Err(ApiError::bad_request("parameter \"media\" is required")),
            Ok(Some(media)) => media,
        };
        let item = self.input_media(p, &media, false)?;
        let mut edit = self.message_to_edit(bot, p)?;
        let old = editable_content(&edit.message)?
            .filter(|&kind| kind != FileKind::Voice)
            .ok_or_else(|| ApiError::bad_request("there is no media in the message to edit"))?;
        let new = item.kind;
        if edit.message.contains_key("media_group_id") && old != new {
            let one_kind_albums = [FileKind::Document, FileKind::Audio];
            if new == FileKind::Animation {
                return Err(ApiError::bad_request(
                    "message content type can't be used in an album",
                ));
            }
            if one_kind_albums.contains(&old) || one_kind_albums.contains(&new) {
                return Err(ApiError::bad_request(
                    "can't change media type in the album",
                ));
            }
        }
        for kind in FileKind::ALL {
            edit.message.remove(kind.field());
        }
        for field in CAPTION_FIELDS {
            edit.message.remove(field);
        }
        edit.message.remove("has_media_spoiler");
        // A file sent by `file_id` is not stored again, so a refused edit
        // (not modified) stores nothing; an upload or a URL is a new file.
        let content = self.media_content(item);
        edit.message.extend(content);
        self.save_edit(edit, markup)
    }

    /// `editMessageReplyMarkup`: the inline keyboard of any of the bot's
    /// own messages (`reply_markup`; without one the keyboard goes).
    pub(super) fn edit_message_reply_markup(
        &mut self,
        bot: i64,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let markup = inline_markup(p)?;
        let edit = self.message_to_edit(bot, p)?;
        self.save_edit(edit, markup)
    }

    /// `editMessageLiveLocation`: a new point (`latitude`, `longitude`,
    /// `horizontal_accuracy`), `heading` and `proximity_alert_radius` (none
    /// if not given) and `live_period` (kept if not given) for a live
    /// location that can still be moved (see `locations.rs`).
    pub(super) fn edit_message_live_location(
        &mut self,
        bot: i64,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let point = Point::from_params(p)?;
        let live = Live::from_params(p)?;
        let markup = inline_markup(p)?;
        let mut edit = self.message_to_edit(bot, p)?;
        let now = now();
        let current = live_location(&edit.message, now)?;
        if !point.is_valid() {
            return Err(ApiError::bad_request("invalid location specified"));
        }
        live.check(false)?;
        let date = edit
            .message
            .get("date")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let period = edited_live_period(live.period, current, date, now)?;
        let location = location_json(point, Live { period, ..live });
        edit.message.insert("location".into(), location);
        self.save_edit(edit, markup)
    }

    /// `stopMessageLiveLocation`: the live location stays where it is and
    /// can no longer be moved; it shows as the Bot API shows a stopped one,
    /// without `live_period`, `heading` and `proximity_alert_radius`.
    pub(super) fn stop_message_live_location(
        &mut self,
        bot: i64,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let markup = inline_markup(p)?;
        let mut edit = self.message_to_edit(bot, p)?;
        live_location(&edit.message, now())?;
        if let Some(Value::Object(location)) = edit.message.get_mut("location") {
            for field in ["live_period", "heading", "proximity_alert_radius"] {
                location.remove(field);
            }
        }
        self.save_edit(edit, markup)
    }

    /// The bot's own message that `chat_id` and `message_id` name, or why
    /// it cannot be edited.
    fn message_to_edit(&self, bot: i64, p: &Params) -> Result<Edit, ApiError> {
        let chat_given = p.opt_str("chat_id")?.is_some_and(|id| !id.is_empty());
        let id = p.opt_i64("message_id")?.unwrap_or(0);
        if !chat_given && id == 0 {
            let inline = p.opt_str("inline_message_id")?.unwrap_or_default();
            return Err(ApiError::bad_request(if inline.is_empty() {
                "message identifier is not specified"
            } else {
                "inline messages are not modelled by the fake"
            }));
        }
        let chat_id = p.chat_id("chat_id")?;
        let not_found = || ApiError::bad_request("message to edit not found");
        let index = message_index(id).ok_or_else(not_found)?;
        let message = self
            .source_messages(bot, chat_id)?
            .get(index)
            .ok_or_else(not_found)?;
        let chat = if chat_id > 0 {
            ChatKey::Private { bot, user: chat_id }
        } else {
            let topic = thread_of(message).and_then(|t| self.group(chat_id).topics.get(&t));
            if topic.is_some_and(|t| t.deleted) {
                return Err(not_found());
            }
            ChatKey::Group(chat_id)
        };
        if message["from"]["id"].as_i64() != Some(bot) {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        let Value::Object(message) = message.clone() else {
            return Err(ApiError::bad_request("message can't be edited"));
        };
        Ok(Edit {
            chat,
            index,
            message,
        })
    }

    /// Stores an edited message with the keyboard it shows now (none if
    /// `markup` is `None`) and its `edit_date`, and answers it; 400 if it
    /// did not change.
    fn save_edit(&mut self, edit: Edit, markup: Option<Value>) -> Result<Value, ApiError> {
        let Edit {
            chat,
            index,
            mut message,
        } = edit;
        match markup {
            Some(markup) => message.insert("reply_markup".into(), markup),
            None => message.remove("reply_markup"),
        };
        let messages = match chat {
            ChatKey::Private { bot, user } => {
                &mut self.private_chats.entry((bot, user)).or_default().messages
            }
            ChatKey::Group(id) => &mut self.group_mut(id).messages,
        };
        let Some(slot) = messages.get_mut(index) else {
            return Err(ApiError::bad_request("message to edit not found"));
        };
        let mut message = Value::Object(message);
        // The stored message and the edit differ in what changed only: the
        // edit is a copy of it, `edit_date` included.
        if *slot == message {
            return Err(ApiError::bad_request(NOT_MODIFIED));
        }
        message["edit_date"] = now().into();
        slot.clone_from(&message);
        Ok(message)
    }
}

/// The live period of the live location a message shows, for a live
/// location edit: 400 `message can't be edited` for a location that is not
/// live (any more) and for what a text or caption edit cannot edit either
/// (a service message, a sticker, ...), `there is no live location in the
/// message to edit` for a text or a file, as `TDLib` checks it.
fn live_location(message: &Map<String, Value>, now: i64) -> Result<i64, ApiError> {
    if message.contains_key("location") {
        return live_period(message, now)
            .ok_or_else(|| ApiError::bad_request("message can't be edited"));
    }
    editable_content(message)?;
    Err(ApiError::bad_request(
        "there is no live location in the message to edit",
    ))
}

/// What a message shows, for a text, caption or media edit: `None` for a
/// text, the file for a file `TDLib` lets a bot edit; 400 `message can't
/// be edited` for anything else (a service message, a sticker, ...).
fn editable_content(message: &Map<String, Value>) -> Result<Option<FileKind>, ApiError> {
    match FileKind::of_message(message) {
        None if message.contains_key("text") => Ok(None),
        Some(kind) if EDITABLE_FILES.contains(&kind) => Ok(Some(kind)),
        _ => Err(ApiError::bad_request("message can't be edited")),
    }
}
