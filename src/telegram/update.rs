//! switchboard's own update types, decoded leniently: only what switchboard
//! uses, and nothing it does not use can make an update fail.
//!
//! Why not frankenstein's types: they are exact models of one Bot API
//! version. One enum value added by a later version (a new `forward_origin`
//! type, a new sticker type) or one number outside the declared range (an
//! entity offset above `u16::MAX`) fails the whole update, and the user's
//! message would be lost. Telegram adds fields and values with every version.
//!
//! How: [`decode`] parses the update into a JSON tree, then reads the few
//! fields switchboard uses, each by its own rule:
//!
//! * Identifiers (`update_id`, `message_id`, chat and sender ids, the topic's
//!   thread id, `migrate_to_chat_id`) must be integers that fit (`i64`;
//!   message ids `i32`, as the Bot API's methods take them). A required one
//!   that is missing, or any one that does not fit, makes the update unusable:
//!   a [`DecodeError`] that says which field and why. These are the only
//!   errors.
//! * Every other field is optional and read leniently: a value of an
//!   unexpected type counts as absent, an enum value switchboard does not know
//!   becomes an `Other` variant (or stays a plain string), and an entity that
//!   does not decode is left out of the list.
//! * Whatever switchboard does not read is never looked at. The names of a
//!   message's top-level keys are kept ([`Message::keys`]) so that the
//!   dispatcher can tell what the message carries (text, a photo, a giveaway,
//!   a service message, or a kind it does not know) without decoding it.
//!
//! `null` counts as absent everywhere, as serde's `Option` does.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

/// An update that switchboard cannot use at all (see the module doc for the
/// only reasons there are).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DecodeError {
    /// The update's id, if it could be read.
    pub update_id: Option<i64>,
    /// What is wrong, naming the field: "message.from.id 18446744073709551615
    /// does not fit in a 64-bit integer".
    pub reason: String,
}

/// One update, as far as switchboard is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub update_id: i64,
    pub kind: UpdateKind,
}

/// What the update is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// `message`: a new message in a private chat or a group (boxed: it is
    /// much larger than the other variants).
    Message(Box<Message>),
    /// `my_chat_member`: the bot's membership in a chat changed (in a private
    /// chat: the user blocked or unblocked it).
    MyChatMember(MemberChange),
    /// `edited_message`: a message was edited; with the message object as
    /// sent, whose new content an edit of its copy takes.
    EditedMessage(Box<Message>, Box<Value>),
    /// `callback_query`: someone pressed an inline button.
    CallbackQuery(ButtonPress),
    /// `message_reaction`: someone changed their reaction to a message.
    Reaction(ReactionChange),
    /// Any other kind, named by its key(s): `edited_message`, `poll`, ...;
    /// "nothing" for an update with no key besides `update_id`.
    Other(String),
}

/// A message: what switchboard reads of Telegram's `Message` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_id: i32,
    pub chat: Chat,
    /// The sender; absent in channels. Anonymous admins appear as a helper
    /// bot here, with the group in `sender_chat`.
    pub from: Option<Sender>,
    /// The id of the chat the message was sent on behalf of, if any.
    pub sender_chat: Option<i64>,
    /// The topic (forum thread) of a message in a supergroup.
    pub message_thread_id: Option<i64>,
    /// Whether the message was sent in a forum topic (as opposed to General).
    pub is_topic_message: bool,
    /// The id of the message this one replies to, in the same chat. In a
    /// forum topic every message replies to the topic's first message (its
    /// id is the thread's) unless it is a real reply. Read leniently: an
    /// unreadable one counts as none.
    pub reply_to: Option<i32>,
    /// Service message: the group moved to this new chat id.
    pub migrate_to_chat_id: Option<i64>,
    pub text: Option<String>,
    /// The caption of a media message.
    pub caption: Option<String>,
    /// The entities of `text` that decoded; others are left out.
    pub entities: Vec<Entity>,
    /// The message may not be forwarded or copied.
    pub has_protected_content: bool,
    /// The album (media group) the message belongs to, if any.
    pub media_group_id: Option<String>,
    /// The top-level keys of the message object whose values are not `null`
    /// (`text`, `photo`, `giveaway`, `forum_topic_created`, keys from future
    /// Bot API versions, ...): what the message carries is classified by them.
    pub keys: BTreeSet<String>,
}

/// A chat: its id and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: i64,
    pub kind: ChatKind,
}

/// A chat's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Private,
    Group,
    Supergroup,
    Channel,
    /// A type switchboard does not know, or none.
    #[serde(other)]
    Other,
}

/// The person (or bot) who sent a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub id: i64,
    pub is_bot: bool,
    /// Empty if Telegram sent none (it always does).
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    /// The IETF language tag of the user's client, if Telegram sent it.
    pub language: Option<String>,
    pub is_premium: bool,
}

/// One entity of a message's text (a command, a link, bold text, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// The entity's `type` as Telegram wrote it: `bot_command`, `bold`, ...
    pub kind: String,
    /// Where it starts and how long it is, in UTF-16 code units.
    pub offset: u32,
    pub length: u32,
}

impl Entity {
    #[must_use]
    pub fn is_bot_command(&self) -> bool {
        self.kind == "bot_command"
    }
}

/// A `my_chat_member` update: the bot's status in `chat` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub chat: Chat,
    /// The bot's new `status`: "member", "kicked", "administrator", ...
    /// (`None` if missing or not a string).
    pub new_status: Option<String>,
}

/// A `callback_query` update: `from` pressed a button of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPress {
    pub from: Sender,
    /// The chat and id of the message whose button it was; `None` for an
    /// inline message (or one too old for Telegram to send).
    pub message: Option<(i64, i64)>,
    /// The button's `callback_data`, if any.
    pub data: Option<String>,
    /// The text of the button with that data in the message's keyboard, if
    /// the message came with it.
    pub button: Option<String>,
}

/// A `message_reaction` update: `user` now reacts to message `message_id`
/// of `chat` with `new_reaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionChange {
    pub chat: Chat,
    pub message_id: i64,
    /// Who reacted; `None` for an anonymous one (on behalf of a chat).
    pub user: Option<Sender>,
    /// The reactions now (a JSON array of `ReactionType`), as sent.
    pub new_reaction: Value,
}

/// Decodes one update from its JSON text. Fails only on an update that
/// cannot be used (see the module doc); never panics.
pub fn decode(json: &str) -> Result<Update, DecodeError> {
    let value: Value = serde_json::from_str(json).map_err(|err| DecodeError {
        update_id: None,
        reason: format!("not JSON: {err}"),
    })?;
    decode_value(&value)
}

/// Like [`decode`], from an already parsed JSON value.
pub fn decode_value(value: &Value) -> Result<Update, DecodeError> {
    let fail = |update_id, reason| DecodeError { update_id, reason };
    let Value::Object(map) = value else {
        return Err(fail(None, "the update is not a JSON object".into()));
    };
    let update = Object {
        map,
        path: String::new(),
    };
    let update_id = update.required_id("update_id").map_err(|r| fail(None, r))?;
    let with_id = |reason| fail(Some(update_id), reason);
    let kind = if let Some(message) = map.get("message").filter(|v| !v.is_null()) {
        UpdateKind::Message(Box::new(message_from(message, "message").map_err(with_id)?))
    } else if let Some(edited) = map.get("edited_message").filter(|v| !v.is_null()) {
        let message = message_from(edited, "edited_message").map_err(with_id)?;
        UpdateKind::EditedMessage(Box::new(message), Box::new(edited.clone()))
    } else if let Some(change) = map.get("my_chat_member").filter(|v| !v.is_null()) {
        UpdateKind::MyChatMember(member_change_from(change, "my_chat_member").map_err(with_id)?)
    } else if let Some(change) = map.get("message_reaction").filter(|v| !v.is_null()) {
        UpdateKind::Reaction(reaction_from(change, "message_reaction").map_err(with_id)?)
    } else if let Some(press) = map.get("callback_query").filter(|v| !v.is_null()) {
        UpdateKind::CallbackQuery(button_press_from(press, "callback_query").map_err(with_id)?)
    } else {
        let kinds: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|key| *key != "update_id")
            .collect();
        UpdateKind::Other(if kinds.is_empty() {
            "nothing".into()
        } else {
            kinds.join(",")
        })
    };
    Ok(Update { update_id, kind })
}

fn message_from(value: &Value, path: &str) -> Result<Message, String> {
    let message = Object::of(value, path)?;
    let message_id = message.required_id("message_id")?;
    let message_id = i32::try_from(message_id)
        .map_err(|_| format!("{path}.message_id {message_id} does not fit in a 32-bit integer"))?;
    let from = match message.object("from") {
        Some(from) => Some(sender_from(&from)?),
        None => None,
    };
    let sender_chat = match message.object("sender_chat") {
        Some(chat) => Some(chat.required_id("id")?),
        None => None,
    };
    let entities = match message.map.get("entities") {
        Some(Value::Array(list)) => list.iter().filter_map(entity_from).collect(),
        _ => Vec::new(),
    };
    Ok(Message {
        message_id,
        chat: chat_from(message.required_object("chat")?)?,
        from,
        sender_chat,
        message_thread_id: message.id("message_thread_id")?,
        is_topic_message: message.flag("is_topic_message"),
        reply_to: message
            .get("reply_to_message")
            .and_then(|reply| reply.get("message_id"))
            .and_then(Value::as_i64)
            .and_then(|id| i32::try_from(id).ok()),
        migrate_to_chat_id: message.id("migrate_to_chat_id")?,
        text: message.string("text"),
        caption: message.string("caption"),
        entities,
        has_protected_content: message.flag("has_protected_content"),
        media_group_id: message.string("media_group_id"),
        keys: message
            .map
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, _)| key.clone())
            .collect(),
    })
}

fn sender_from(from: &Object<'_>) -> Result<Sender, String> {
    Ok(Sender {
        id: from.required_id("id")?,
        is_bot: from.flag("is_bot"),
        first_name: from.string("first_name").unwrap_or_default(),
        last_name: from.string("last_name"),
        username: from.string("username"),
        language: from.string("language_code"),
        is_premium: from.flag("is_premium"),
    })
}

fn reaction_from(value: &Value, path: &str) -> Result<ReactionChange, String> {
    let change = Object::of(value, path)?;
    let user = match change.object("user") {
        Some(user) => Some(sender_from(&user)?),
        None => None,
    };
    Ok(ReactionChange {
        chat: chat_from(change.required_object("chat")?)?,
        message_id: change.required_id("message_id")?,
        user,
        new_reaction: change
            .get("new_reaction")
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new())),
    })
}

fn button_press_from(value: &Value, path: &str) -> Result<ButtonPress, String> {
    let press = Object::of(value, path)?;
    let from = sender_from(&press.required_object("from")?)?;
    let data = press.string("data");
    let (message, button) = match press.object("message") {
        Some(message) => {
            let chat = message.required_object("chat")?.required_id("id")?;
            let id = message.required_id("message_id")?;
            let button = data.as_deref().and_then(|data| {
                message
                    .get("reply_markup")?
                    .get("inline_keyboard")?
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_array)
                    .flatten()
                    .find(|b| b.get("callback_data").and_then(Value::as_str) == Some(data))?
                    .get("text")?
                    .as_str()
                    .map(str::to_owned)
            });
            (Some((chat, id)), button)
        }
        None => (None, None),
    };
    Ok(ButtonPress {
        from,
        message,
        data,
        button,
    })
}

fn member_change_from(value: &Value, path: &str) -> Result<MemberChange, String> {
    let change = Object::of(value, path)?;
    let new_status = change
        .object("new_chat_member")
        .and_then(|member| member.string("status"));
    Ok(MemberChange {
        chat: chat_from(change.required_object("chat")?)?,
        new_status,
    })
}

fn chat_from(chat: Object<'_>) -> Result<Chat, String> {
    Ok(Chat {
        id: chat.required_id("id")?,
        kind: chat
            .map
            .get("type")
            .and_then(|kind| ChatKind::deserialize(kind).ok())
            .unwrap_or(ChatKind::Other),
    })
}

/// An entity, or `None` if it does not decode (it is then left out).
fn entity_from(value: &Value) -> Option<Entity> {
    let entity = value.as_object()?;
    let number = |key: &str| {
        entity
            .get(key)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
    };
    Some(Entity {
        kind: entity.get("type")?.as_str()?.to_owned(),
        offset: number("offset")?,
        length: number("length")?,
    })
}

/// A JSON object and where it is in the update, for error messages.
struct Object<'a> {
    map: &'a Map<String, Value>,
    /// "message.from"; empty for the update itself.
    path: String,
}

impl<'a> Object<'a> {
    fn of(value: &'a Value, path: &str) -> Result<Object<'a>, String> {
        match value {
            Value::Object(map) => Ok(Object {
                map,
                path: path.to_owned(),
            }),
            _ => Err(format!("{path} is not a JSON object")),
        }
    }

    /// The full name of a field, for error messages.
    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// An optional identifier: absent, or an integer that fits in `i64`.
    fn id(&self, key: &str) -> Result<Option<i64>, String> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value {
            Value::Number(number) => match number.as_i64() {
                Some(id) => Ok(Some(id)),
                None if number.is_u64() => Err(format!(
                    "{} {number} does not fit in a 64-bit integer",
                    self.name(key)
                )),
                None => Err(format!("{} {number} is not an integer", self.name(key))),
            },
            other => Err(format!(
                "{} is not a number: {}",
                self.name(key),
                shorten(&other.to_string())
            )),
        }
    }

    fn required_id(&self, key: &str) -> Result<i64, String> {
        self.id(key)?
            .ok_or_else(|| format!("{} is missing", self.name(key)))
    }

    /// A nested object; anything else counts as absent.
    fn object(&self, key: &str) -> Option<Object<'a>> {
        let map = self.get(key)?.as_object()?;
        Some(Object {
            map,
            path: self.name(key),
        })
    }

    fn required_object(&self, key: &str) -> Result<Object<'a>, String> {
        match self.get(key) {
            Some(value) => Object::of(value, &self.name(key)),
            None => Err(format!("{} is missing", self.name(key))),
        }
    }

    /// A string field; anything else counts as absent.
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)?.as_str().map(str::to_owned)
    }

    /// A boolean field; true only if it is JSON `true`.
    fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A value quoted in an error message, cut to a readable length.
fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// Messages for unit tests of the rules that read them.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::json;

    use super::{Message, UpdateKind, decode_value};

    /// The message in `json`, as an update would carry it.
    pub(crate) fn message(json: serde_json::Value) -> Message {
        let update = json!({ "update_id": 1, "message": json });
        match decode_value(&update).expect("a valid update").kind {
            UpdateKind::Message(message) => *message,
            other => panic!("not a message: {other:?}"),
        }
    }

    /// A private message from Alice with `content` merged in.
    pub(crate) fn private_message(content: serde_json::Value) -> Message {
        let mut json = json!({
            "message_id": 5, "date": 0,
            "chat": {"id": 42, "type": "private", "first_name": "Alice"},
            "from": {"id": 42, "is_bot": false, "first_name": "Alice"},
        });
        for (key, value) in content.as_object().expect("an object") {
            json[key] = value.clone();
        }
        message(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn message_update(message: Value) -> Value {
        json!({ "update_id": 10, "message": message })
    }

    fn text_message() -> Value {
        json!({
            "message_id": 5, "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private", "first_name": "Alice"},
            "from": {"id": 42, "is_bot": false, "first_name": "Alice", "last_name": "Smith",
                     "username": "alice", "language_code": "en"},
            "text": "/start now",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        })
    }

    fn decode_json(value: &Value) -> Result<Update, DecodeError> {
        decode(&value.to_string())
    }

    fn message_of(update: Update) -> Message {
        match update.kind {
            UpdateKind::Message(message) => *message,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn reads_what_switchboard_uses() {
        let update = decode_json(&message_update(text_message())).unwrap();
        assert_eq!(update.update_id, 10);
        let message = message_of(update);
        assert_eq!(message.message_id, 5);
        assert_eq!(
            message.chat,
            Chat {
                id: 42,
                kind: ChatKind::Private
            }
        );
        assert_eq!(
            message.from,
            Some(Sender {
                id: 42,
                is_bot: false,
                first_name: "Alice".into(),
                last_name: Some("Smith".into()),
                username: Some("alice".into()),
                language: Some("en".into()),
                is_premium: false,
            })
        );
        assert_eq!(message.text.as_deref(), Some("/start now"));
        assert_eq!(
            message.entities,
            [Entity {
                kind: "bot_command".into(),
                offset: 0,
                length: 6
            }]
        );
        assert!(!message.has_protected_content && !message.is_topic_message);
        let keys: Vec<&str> = message.keys.iter().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["chat", "date", "entities", "from", "message_id", "text"]
        );
    }

    #[test]
    fn what_frankenstein_refuses_decodes() {
        let mut message = text_message();
        message["forward_origin"] = json!({"type": "hologram", "date": 1});
        message["sticker"] = json!({"file_id": "x", "type": "smell", "width": 1, "height": 1});
        message["entities"] = json!([
            {"type": "bold", "offset": 70_000, "length": 1},
            {"type": "bold", "offset": -1, "length": 1},
            "not an entity",
            {"type": "future_entity", "offset": 0, "length": 2},
        ]);
        message["chat"]["type"] = json!("hyperchat");
        message["giveaway"] = json!({"whatever": true});
        let message = message_of(decode_json(&message_update(message)).unwrap());
        assert_eq!(message.chat.kind, ChatKind::Other);
        let kinds: Vec<(&str, u32)> = message
            .entities
            .iter()
            .map(|e| (e.kind.as_str(), e.offset))
            .collect();
        assert_eq!(kinds, [("bold", 70_000), ("future_entity", 0)]);
        assert!(message.keys.contains("giveaway"));
    }

    #[test]
    fn unusable_updates_are_errors_that_name_the_field() {
        let reason = |value: Value| decode_json(&value).unwrap_err().reason;
        assert_eq!(reason(json!({"message": {}})), "update_id is missing");
        assert_eq!(reason(json!([1, 2])), "the update is not a JSON object");
        assert!(
            decode("{not json")
                .unwrap_err()
                .reason
                .starts_with("not JSON")
        );

        let mut huge = text_message();
        huge["from"]["id"] = json!(u64::MAX);
        let err = decode_json(&message_update(huge)).unwrap_err();
        assert_eq!(err.update_id, Some(10));
        assert_eq!(
            err.reason,
            "message.from.id 18446744073709551615 does not fit in a 64-bit integer"
        );

        let mut no_chat_id = text_message();
        no_chat_id["chat"] = json!({"type": "private"});
        assert_eq!(
            reason(message_update(no_chat_id)),
            "message.chat.id is missing"
        );
        let mut no_id = text_message();
        no_id.as_object_mut().unwrap().remove("message_id");
        assert_eq!(
            reason(message_update(no_id)),
            "message.message_id is missing"
        );
        let mut big_id = text_message();
        big_id["message_id"] = json!(1_i64 << 40);
        assert!(reason(message_update(big_id)).contains("32-bit"));
        let mut float = text_message();
        float["chat"]["id"] = json!(1.5);
        assert_eq!(
            reason(message_update(float)),
            "message.chat.id 1.5 is not an integer"
        );
        assert_eq!(
            reason(json!({"update_id": 1, "message": "hi"})),
            "message is not a JSON object"
        );
    }

    #[test]
    fn other_kinds_are_named() {
        let update = decode_json(&json!({"update_id": 3, "poll": {"x": 1}})).unwrap();
        assert_eq!(update.kind, UpdateKind::Other("poll".into()));
        let edited = json!({"message_id": 5, "chat": {"id": 42, "type": "private"}, "text": "new"});
        let update =
            decode_json(&json!({"update_id": 3, "edited_message": edited.clone()})).unwrap();
        let UpdateKind::EditedMessage(message, raw) = update.kind else {
            panic!("an edit")
        };
        assert_eq!(
            (message.message_id, message.text.as_deref()),
            (5, Some("new"))
        );
        assert_eq!(*raw, edited);
        let update = decode_json(&json!({"update_id": 3})).unwrap();
        assert_eq!(update.kind, UpdateKind::Other("nothing".into()));
    }

    #[test]
    fn member_changes_keep_the_status_string() {
        let update = decode_json(&json!({"update_id": 4, "my_chat_member": {
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": false, "first_name": "A"},
            "date": 1,
            "old_chat_member": {"status": "member", "user": {"id": 7}},
            "new_chat_member": {"status": "kicked", "user": {"id": 7}, "until_date": 0},
        }}))
        .unwrap();
        assert_eq!(
            update.kind,
            UpdateKind::MyChatMember(MemberChange {
                chat: Chat {
                    id: 42,
                    kind: ChatKind::Private
                },
                new_status: Some("kicked".into()),
            })
        );
        let odd = decode_json(&json!({"update_id": 4, "my_chat_member": {
            "chat": {"id": 42, "type": "private"}, "new_chat_member": {"status": 7}
        }}))
        .unwrap();
        assert!(matches!(
            odd.kind,
            UpdateKind::MyChatMember(MemberChange {
                new_status: None,
                ..
            })
        ));
    }

    // ---- properties ----------------------------------------------------------

    /// Any JSON value, nested a few levels.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(field_name(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Mostly the names switchboard reads, so that random values reach them.
    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "update_id", "message", "my_chat_member", "message_id", "chat", "id", "type",
                "from", "is_bot", "first_name", "sender_chat", "message_thread_id",
                "is_topic_message", "migrate_to_chat_id", "text", "caption", "entities",
                "offset", "length", "has_protected_content", "new_chat_member", "status",
            ])
            .prop_map(str::to_owned),
            1 => "[a-z_]{1,10}",
        ]
    }

    /// A JSON value that looks like an update more often than chance would.
    fn update_like_json() -> impl Strategy<Value = Value> {
        (any::<i64>(), any_json(), any_json(), any_json()).prop_map(|(id, message, chat, from)| {
            let mut message = match message {
                Value::Object(map) => Value::Object(map),
                other => json!({ "text": other }),
            };
            message["message_id"] = json!(id % 1000);
            message["chat"] = chat;
            message["from"] = from;
            json!({ "update_id": id, "message": message })
        })
    }

    /// One thing a newer Bot API might do to a valid message.
    #[derive(Debug, Clone)]
    enum Change {
        /// A field switchboard does not know, at one of these places.
        AddField(Place, String, Value),
        /// An enum value switchboard does not know.
        NewChatType(String),
        NewEntityType(usize, String),
        NewForwardOriginType(String),
        NewStickerType(String),
    }

    #[derive(Debug, Clone, Copy)]
    enum Place {
        Update,
        Message,
        Chat,
        From,
        Entity(usize),
        ForwardOrigin,
        Sticker,
    }

    fn place() -> impl Strategy<Value = Place> {
        prop_oneof![
            Just(Place::Update),
            Just(Place::Message),
            Just(Place::Chat),
            Just(Place::From),
            (0..3_usize).prop_map(Place::Entity),
            Just(Place::ForwardOrigin),
            Just(Place::Sticker),
        ]
    }

    /// A name no Bot API version uses today.
    fn unknown_name() -> impl Strategy<Value = String> {
        "[a-z_]{1,10}".prop_map(|name| format!("future_{name}"))
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (place(), unknown_name(), any_json()).prop_map(|(p, n, v)| Change::AddField(p, n, v)),
            unknown_name().prop_map(Change::NewChatType),
            (0..3_usize, unknown_name()).prop_map(|(i, n)| Change::NewEntityType(i, n)),
            unknown_name().prop_map(Change::NewForwardOriginType),
            unknown_name().prop_map(Change::NewStickerType),
        ]
    }

    /// A valid message update as today's Bot API sends it.
    fn valid_update() -> impl Strategy<Value = Value> {
        let chat_type = prop::sample::select(vec!["private", "group", "supergroup", "channel"]);
        let entity_type = prop::sample::select(vec!["bot_command", "bold", "url", "mention"]);
        let entity = (entity_type, 0..5000_u32, 0..5000_u32)
            .prop_map(|(t, offset, length)| json!({"type": t, "offset": offset, "length": length}));
        (
            (1..i64::from(i32::MAX), any::<i64>(), chat_type),
            prop::option::of((any::<i64>(), any::<bool>(), ".{0,8}")),
            prop::option::of(".{0,20}"),
            prop::collection::vec(entity, 0..3),
            (any::<bool>(), any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |((id, chat, chat_type), from, text, entities, (fwd, sticker, protected))| {
                    let mut message = json!({
                        "message_id": id, "date": 1_700_000_000,
                        "chat": {"id": chat, "type": chat_type},
                    });
                    if let Some((from, is_bot, name)) = from {
                        message["from"] = json!({"id": from, "is_bot": is_bot, "first_name": name});
                    }
                    if let Some(text) = text {
                        message["text"] = text.into();
                        message["entities"] = entities.into();
                    }
                    if fwd {
                        message["forward_origin"] =
                            json!({"type": "hidden_user", "date": 1, "sender_user_name": "X"});
                    }
                    if sticker {
                        message["sticker"] = json!({"file_id": "f", "file_unique_id": "u",
                        "type": "regular", "width": 1, "height": 1,
                        "is_animated": false, "is_video": false});
                    }
                    if protected {
                        message["has_protected_content"] = true.into();
                    }
                    json!({ "update_id": id, "message": message })
                },
            )
    }

    /// Applies `change` to `update` (a no-op where the place it names is
    /// missing).
    fn apply(update: &mut Value, change: &Change) {
        let set_type = |target: Option<&mut Value>, kind: &str| {
            if let Some(Value::Object(map)) = target {
                map.insert("type".into(), kind.into());
            }
        };
        match change {
            Change::AddField(place, name, value) => {
                let target = match place {
                    Place::Update => Some(update),
                    Place::Message => update.get_mut("message"),
                    Place::Chat => update.pointer_mut("/message/chat"),
                    Place::From => update.pointer_mut("/message/from"),
                    Place::Entity(i) => update.pointer_mut(&format!("/message/entities/{i}")),
                    Place::ForwardOrigin => update.pointer_mut("/message/forward_origin"),
                    Place::Sticker => update.pointer_mut("/message/sticker"),
                };
                if let Some(Value::Object(map)) = target {
                    map.insert(name.clone(), value.clone());
                }
            }
            Change::NewChatType(kind) => set_type(update.pointer_mut("/message/chat"), kind),
            Change::NewEntityType(i, kind) => {
                set_type(update.pointer_mut(&format!("/message/entities/{i}")), kind);
            }
            Change::NewForwardOriginType(kind) => {
                set_type(update.pointer_mut("/message/forward_origin"), kind);
            }
            Change::NewStickerType(kind) => set_type(update.pointer_mut("/message/sticker"), kind),
        }
    }

    /// What switchboard should see after `change`, given what it saw before.
    fn expected(mut before: Message, change: &Change) -> Message {
        match change {
            Change::AddField(Place::Message, name, value) => {
                if value.is_null() {
                    before.keys.remove(name);
                } else {
                    before.keys.insert(name.clone());
                }
            }
            Change::NewChatType(_) => before.chat.kind = ChatKind::Other,
            Change::NewEntityType(i, kind) => {
                if let Some(entity) = before.entities.get_mut(*i) {
                    entity.kind.clone_from(kind);
                }
            }
            _ => {}
        }
        before
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decoding_any_text_never_panics(text in ".{0,64}") {
            let _ = decode(&text);
        }

        #[test]
        fn decoding_any_json_never_panics(value in any_json()) {
            let _ = decode(&value.to_string());
        }

        #[test]
        fn decoding_update_like_json_never_panics(value in update_like_json()) {
            let _ = decode(&value.to_string());
        }

        #[test]
        fn newer_bot_api_versions_never_break_a_message(
            update in valid_update(),
            changes in prop::collection::vec(change(), 1..5),
        ) {
            let mut expected_message = message_of(decode_json(&update).expect("a valid update decodes"));
            let mut changed = update.clone();
            for change in &changes {
                apply(&mut changed, change);
                expected_message = expected(expected_message, change);
            }
            let decoded = decode_json(&changed);
            prop_assert!(decoded.is_ok(), "{changed}: {decoded:?}");
            prop_assert_eq!(message_of(decoded.unwrap()), expected_message);
        }
    }
}
