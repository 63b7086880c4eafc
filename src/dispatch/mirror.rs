//! Mirrors: what the existing bot sends a user (proxy and forward mode,
//! `intercept_external`), shown in the user's topic.
//!
//! - A message to a user whose dialog is open is copied into the topic (a
//!   copy of the bot's own message, so it keeps its kind and formatting),
//!   queued in the dialog's topic lane: a mirror of the bot's answer to the
//!   message that opened the dialog waits there for the topic. An album is
//!   one `copyMessages` call, so it stays one album. An inline keyboard is
//!   shown (see [`Keyboard`]).
//! - A message to a user without an open dialog is remembered (ids and
//!   keyboard only), the newest `intercept_history` per user; when a dialog
//!   opens, they are mirrored first, before the message that opened it.
//! - A user's press of a button in their chat shows in the topic as a
//!   short line, so operators can follow the bot's flow.
//! - Every mirror records its message link (direction `from_bot`): the
//!   bot's later edits (text, caption, media, keyboard) find their mirror
//!   through it and are made on it.

use serde_json::{Value, json};
use tracing::debug;

use super::{Ctx, edits, texts};
use crate::outbox::{Action, EditKind, Job, Keyboard, Lane, Purpose, Target};
use crate::proxy::intercept::Intercepted;
use crate::store::dialogs::{self, Dialog, Status};
use crate::store::intercepted::{self, Remembered};
use crate::store::links::{self, Direction};
use crate::telegram::update::ButtonPress;

/// One message the bot sent, as far as a mirror needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    chat: i64,
    message_id: i32,
    album: Option<String>,
    keyboard: Option<Keyboard>,
    /// The message of the chat it replies to, if any.
    reply_to: Option<i32>,
}

impl Ctx<'_> {
    pub(super) fn on_intercepted(&mut self, call: &Intercepted) -> anyhow::Result<()> {
        if !self.bot.settings.intercept_external {
            return Ok(());
        }
        if call.is_edit() {
            return self.on_bot_edit(call);
        }
        let sent = sent_messages(call);
        let Some(first) = sent.first() else {
            return Ok(());
        };
        // A private chat's id is the user's; the bot's messages in groups
        // and channels are not a dialog's.
        if first.chat <= 0 {
            return Ok(());
        }
        let user = first.chat;
        let messages: Vec<Sent> = sent.into_iter().filter(|s| s.chat == user).collect();
        match dialogs::by_user(self.tx, &self.bot.name, user)? {
            Some(dialog) if dialog.status != Status::Closed => self.mirror(&dialog, &messages),
            _ => {
                let keep = u32::from(self.bot.settings.intercept_history);
                if keep == 0 {
                    return Ok(());
                }
                for message in &messages {
                    let remembered = Remembered {
                        message_id: i64::from(message.message_id),
                        album: message.album.clone(),
                        keyboard: message
                            .keyboard
                            .as_ref()
                            .map(serde_json::to_string)
                            .transpose()?,
                    };
                    intercepted::remember(
                        self.tx,
                        &self.bot.name,
                        user,
                        &remembered,
                        keep,
                        self.now,
                    )?;
                }
                debug!(bot = %self.bot.name, user, "remembered the bot's message for a dialog to come");
                Ok(())
            }
        }
    }

    /// The bot changed a message: its mirror, if it has one, follows, in
    /// the dialog's topic lane (after the mirror itself). A message edited
    /// before its mirror was made needs nothing: the copy shows it as it is
    /// then.
    fn on_bot_edit(&mut self, call: &Intercepted) -> anyhow::Result<()> {
        let message = &call.result;
        let (Some(chat), Some(id)) = (
            message.pointer("/chat/id").and_then(Value::as_i64),
            message.get("message_id").and_then(Value::as_i64),
        ) else {
            // `true`: an inline message, which has no mirror.
            return Ok(());
        };
        let Some(link) = links::by_original(self.tx, &self.bot.name, chat, id)?
            .filter(|link| link.direction == Direction::FromBot)
        else {
            return Ok(());
        };
        let Some(dialog) = dialogs::by_id(self.tx, link.dialog)? else {
            return Ok(());
        };
        let (change, params) = match call.method.as_str() {
            "editmessagetext" => (EditKind::Text, edits::text_params(message)),
            "editmessagecaption" => (EditKind::Caption, edits::caption_params(message)),
            "editmessagemedia" => match input_media(message) {
                Some(media) => (EditKind::Media, json!({ "media": media })),
                None => return Ok(()),
            },
            "editmessagereplymarkup" => (EditKind::Keyboard, Value::Null),
            "editmessagelivelocation" => match edits::content_edit(message) {
                Some((EditKind::LiveLocation, params)) => (EditKind::LiveLocation, params),
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        let job = Job {
            purpose: Purpose::MirrorEdit { dialog: dialog.id },
            action: Action::Edit {
                chat: link.copy_chat,
                message_id: link.copy_id,
                change,
                params: strip_nulls(params),
                keyboard: message.get("reply_markup").and_then(Keyboard::mirror),
            },
        };
        self.queue_in(&Lane::Topic(dialog.user_id), link.copy_chat, &job)
    }

    /// A user pressed a button of a message in their chat (the bot's: the
    /// only one with buttons there): operators following the dialog see a
    /// short line saying which.
    pub(super) fn on_button_press(&mut self, press: &ButtonPress) -> anyhow::Result<()> {
        if !self.bot.mode.is_connected() || !self.bot.settings.intercept_external {
            return Ok(());
        }
        let Some((chat, _)) = press.message else {
            return Ok(());
        };
        if chat <= 0 || chat != press.from.id {
            return Ok(());
        }
        let Some(dialog) = dialogs::by_user(self.tx, &self.bot.name, chat)?
            .filter(|dialog| dialog.status != Status::Closed)
        else {
            return Ok(());
        };
        let button = press
            .button
            .as_deref()
            .or(press.data.as_deref())
            .unwrap_or("a button");
        self.notify_topic(
            &dialog,
            &texts::button_pressed(&press.from.first_name, button),
        )
    }

    /// Mirrors the bot's messages remembered for the dialog's user (a
    /// dialog opens): before anything else in its topic lane but the
    /// topic's creation.
    pub(super) fn mirror_history(&mut self, dialog: &Dialog) -> anyhow::Result<()> {
        if !self.bot.mode.is_connected() || !self.bot.settings.intercept_external {
            return Ok(());
        }
        let remembered = intercepted::take(self.tx, &self.bot.name, dialog.user_id)?;
        let messages: Vec<Sent> = remembered
            .into_iter()
            .filter_map(|r| {
                Some(Sent {
                    chat: dialog.user_id,
                    message_id: i32::try_from(r.message_id).ok()?,
                    album: r.album,
                    keyboard: r.keyboard.and_then(|k| serde_json::from_str(&k).ok()),
                    reply_to: None,
                })
            })
            .collect();
        self.mirror(dialog, &messages)
    }

    /// Queues the mirrors of `messages` (in order) into the dialog's topic:
    /// an album's messages in one copy, every other message alone with its
    /// keyboard.
    fn mirror(&mut self, dialog: &Dialog, messages: &[Sent]) -> anyhow::Result<()> {
        let mut rest = messages;
        while let Some(first) = rest.first() {
            let album = match &first.album {
                Some(album) => rest
                    .iter()
                    .take_while(|m| m.album.as_ref() == Some(album))
                    .count(),
                None => 1,
            };
            let (group, after) = rest.split_at(album);
            let action = Action::Copy {
                to: Target::TopicOf(dialog.id),
                from_chat: dialog.user_id,
                message_ids: group.iter().map(|m| m.message_id).collect(),
                keyboard: if album == 1 {
                    first.keyboard.clone()
                } else {
                    None
                },
                reply_to: if album == 1 { first.reply_to } else { None },
                forward: false,
            };
            self.queue(dialog, Purpose::Mirror { dialog: dialog.id }, action)?;
            rest = after;
        }
        Ok(())
    }
}

/// A message's media as `editMessageMedia` takes it: its file by id, with
/// its caption.
pub(super) fn input_media(message: &Value) -> Option<Value> {
    let (kind, file_id) = if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        ("photo", sizes.last()?.get("file_id")?)
    } else {
        // An animation also shows as a document: it is named first.
        ["animation", "video", "audio", "document"]
            .into_iter()
            .find_map(|kind| Some((kind, message.get(kind)?.get("file_id")?)))?
    };
    Some(strip_nulls(json!({
        "type": kind,
        "media": file_id,
        "caption": message.get("caption"),
        "caption_entities": message.get("caption_entities"),
    })))
}

/// `value` without the object keys whose value is `null` (absent).
pub(super) fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// The messages a call's answer names: a `Message`, a list of them
/// (`sendMediaGroup`), or message ids (`copyMessage(s)`,
/// `forwardMessages`) in the chat the call named.
fn sent_messages(call: &Intercepted) -> Vec<Sent> {
    let items: Vec<&Value> = match &call.result {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| {
            let message_id = i32::try_from(item.get("message_id")?.as_i64()?).ok()?;
            let chat = match item.get("chat") {
                Some(chat) => chat.get("id")?.as_i64()?,
                None => call.chat_id?,
            };
            Some(Sent {
                chat,
                message_id,
                album: item
                    .get("media_group_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                keyboard: item.get("reply_markup").and_then(Keyboard::mirror),
                reply_to: item
                    .pointer("/reply_to_message/message_id")
                    .and_then(Value::as_i64)
                    .and_then(|id| i32::try_from(id).ok()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Button;

    #[test]
    fn the_answer_names_the_messages_sent() {
        let message = Intercepted {
            method: "sendmessage".into(),
            chat_id: None,
            result: json!({"message_id": 7, "chat": {"id": 42, "type": "private"},
                "text": "hi", "reply_markup": {"inline_keyboard": [
                    [{"text": "Yes", "callback_data": "y"}, {"text": "Site", "url": "https://x.example"}]]}}),
        };
        assert_eq!(
            sent_messages(&message),
            [Sent {
                chat: 42,
                message_id: 7,
                album: None,
                reply_to: None,
                keyboard: Some(Keyboard(vec![vec![
                    Button {
                        text: "Yes".into(),
                        url: None
                    },
                    Button {
                        text: "Site".into(),
                        url: Some("https://x.example".into())
                    },
                ]])),
            }]
        );
        let album = Intercepted {
            method: "sendmediagroup".into(),
            chat_id: None,
            result: json!([
                {"message_id": 8, "chat": {"id": 42}, "media_group_id": "g"},
                {"message_id": 9, "chat": {"id": 42}, "media_group_id": "g"}
            ]),
        };
        assert_eq!(sent_messages(&album).len(), 2);
        let copies = Intercepted {
            method: "copymessages".into(),
            chat_id: Some(42),
            result: json!([{"message_id": 10}, {"message_id": 11}]),
        };
        let ids: Vec<i32> = sent_messages(&copies)
            .iter()
            .map(|s| s.message_id)
            .collect();
        assert_eq!(ids, [10, 11]);
        let unnamed = Intercepted {
            method: "copymessage".into(),
            chat_id: None,
            result: json!({"message_id": 12}),
        };
        assert!(sent_messages(&unnamed).is_empty(), "no chat, no mirror");
    }

    #[test]
    fn new_media_is_named_by_its_file() {
        let photo = json!({"photo": [{"file_id": "small"}, {"file_id": "large"}], "caption": "c"});
        assert_eq!(
            input_media(&photo),
            Some(json!({"type": "photo", "media": "large", "caption": "c"}))
        );
        let animation = json!({"animation": {"file_id": "a"}, "document": {"file_id": "a"}});
        assert_eq!(
            input_media(&animation),
            Some(json!({"type": "animation", "media": "a"}))
        );
        assert_eq!(input_media(&json!({"text": "no media"})), None);
    }
}
