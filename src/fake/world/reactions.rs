//! Reactions: `setMessageReaction`, people reacting, and the reactions a
//! message shows.
//!
//! - Each chat keeps its messages' reactions beside the messages
//!   ([`Reactions`], by message id), not in their `Message` JSON: the Bot API
//!   sends a `Message` without them, and Telegram shows members only counts.
//!   A test reads them in [`FakeMessage::reactions`](crate::fake::FakeMessage).
//! - Everyone (a user, an operator, a bot) has at most one reaction to a
//!   message, an emoji of [`REACTION_EMOJI`]: bots and users without Premium
//!   may choose one, and no chat of the fake allows custom emoji. Choosing
//!   another replaces it; the reactions are kept in the order they were
//!   last chosen.
//! - A reaction to a message of an album goes to the album's first message,
//!   as the Bot API documents for `setMessageReaction` (and as clients
//!   react to an album as a whole).
//! - `setMessageReaction` is read as the official Bot API server reads it:
//!   `reaction` first (its parse errors), then the chat (`chat not found`)
//!   and the message (`message to react not found`), then what `TDLib`
//!   checks (an empty emoji), then what Telegram's servers refuse
//!   (`REACTIONS_TOO_MANY`, `REACTION_INVALID`; their order among each other
//!   is not known). A bot's reaction sends no update: the Bot API documents
//!   that bots do not receive `message_reaction` for reactions set by bots.
//! - A person's change sends a `message_reaction` update
//!   (`MessageReactionUpdated`) to the bot of the private chat, or to the
//!   group's admin bots, as Telegram sends them only to admins; the
//!   `allowed_updates` filter drops it unless the bot asked for it (it is not
//!   in the default set). A choice that changes nothing sends nothing.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ChatKey, GENERAL_THREAD_ID, World, message_index, now, thread_of, user_json};
use crate::fake::FakeReaction;
use crate::fake::error::ApiError;
use crate::fake::params::Params;

/// The emoji Telegram accepts in a `ReactionTypeEmoji`, as the Bot API lists
/// them: without U+FE0F (`❤` is U+2764 alone; `❤️` is refused), the joined
/// ones with U+200D.
pub const REACTION_EMOJI: [&str; 73] = [
    "👍",
    "👎",
    "❤",
    "🔥",
    "🥰",
    "👏",
    "😁",
    "🤔",
    "🤯",
    "😱",
    "🤬",
    "😢",
    "🎉",
    "🤩",
    "🤮",
    "💩",
    "🙏",
    "👌",
    "🕊",
    "🤡",
    "🥱",
    "🥴",
    "😍",
    "🐳",
    // Heart on fire: heart, ZWJ, fire.
    "\u{2764}\u{200d}\u{1f525}",
    "🌚",
    "🌭",
    "💯",
    "🤣",
    "⚡",
    "🍌",
    "🏆",
    "💔",
    "🤨",
    "😐",
    "🍓",
    "🍾",
    "💋",
    "🖕",
    "😈",
    "😴",
    "😭",
    "🤓",
    "👻",
    // Man technologist: man, ZWJ, laptop.
    "\u{1f468}\u{200d}\u{1f4bb}",
    "👀",
    "🎃",
    "🙈",
    "😇",
    "😨",
    "🤝",
    "✍",
    "🤗",
    "🫡",
    "🎅",
    "🎄",
    "☃",
    "💅",
    "🤪",
    "🗿",
    "🆒",
    "💘",
    "🙉",
    "🦄",
    "😘",
    "💊",
    "🙊",
    "😎",
    "👾",
    // Man shrugging: person shrugging, ZWJ, male sign.
    "\u{1f937}\u{200d}\u{2642}",
    "🤷",
    // Woman shrugging: person shrugging, ZWJ, female sign.
    "\u{1f937}\u{200d}\u{2640}",
    "😡",
];

/// A chat's reactions: message id -> who chose which emoji, in the order
/// they were last chosen. A message without reactions has no entry.
pub(super) type Reactions = BTreeMap<i64, Vec<FakeReaction>>;

const TOO_MANY: &str = "REACTIONS_TOO_MANY";
const INVALID: &str = "REACTION_INVALID";

/// One `ReactionType` of a `setMessageReaction` call, as parsed.
enum Chosen {
    Emoji(String),
    /// Valid, but no chat of the fake allows one.
    CustomEmoji,
}

impl World {
    /// `setMessageReaction`: the bot's reaction to a message of a private
    /// chat it has with the user, or of a group it is in; none removes it.
    pub(super) fn set_message_reaction(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chosen = reaction_types(p)?;
        let chat_id = p.chat_id("chat_id")?;
        // As the Bot API server reads it: anything but a positive number names no message.
        let id = p.opt_i64("message_id").ok().flatten().unwrap_or(0);
        self.source_messages(bot, chat_id)?;
        let chat = if chat_id > 0 {
            ChatKey::Private { bot, user: chat_id }
        } else {
            ChatKey::Group(chat_id)
        };
        let (target, is_service) = self
            .reaction_target(chat, id)
            .ok_or_else(|| ApiError::bad_request("message to react not found"))?;
        if chosen
            .iter()
            .any(|c| matches!(c, Chosen::Emoji(emoji) if emoji.is_empty()))
        {
            return Err(ApiError::bad_request("invalid reaction type specified"));
        }
        if self
            .private_chats
            .get(&(bot, chat_id))
            .is_some_and(|c| c.blocked)
        {
            return Err(ApiError::forbidden("bot was blocked by the user"));
        }
        if chosen.len() > 1 {
            return Err(ApiError::bad_request(TOO_MANY));
        }
        let emoji = match chosen.into_iter().next() {
            None => None,
            Some(Chosen::Emoji(emoji)) if !is_service && REACTION_EMOJI.contains(&&*emoji) => {
                Some(emoji)
            }
            Some(_) => return Err(ApiError::bad_request(INVALID)),
        };
        self.choose_reaction(chat, target, bot, emoji);
        Ok(true.into())
    }

    /// The user reacts to message `id` of their chat with the bot (any
    /// message there) with `emoji`, or takes their reaction back (`None`).
    /// Returns the id of the message that holds the reaction; 404 if the
    /// chat has no such message, 400 for a service message or an emoji
    /// Telegram does not offer.
    pub(in crate::fake) fn user_reacts(
        &mut self,
        bot: i64,
        user: i64,
        id: i64,
        emoji: Option<&str>,
    ) -> Result<i64, ApiError> {
        self.person_reacts(ChatKey::Private { bot, user }, user, id, emoji)
    }

    /// `operator` reacts to message `id` of `group` with `emoji`, or takes
    /// their reaction back (`None`); errors as for [`World::user_reacts`].
    pub(in crate::fake) fn operator_reacts(
        &mut self,
        group: i64,
        operator: i64,
        id: i64,
        emoji: Option<&str>,
    ) -> Result<i64, ApiError> {
        self.group(group);
        self.person_reacts(ChatKey::Group(group), operator, id, emoji)
    }

    /// The reactions message `id` of the chat of `bot` and `user` holds; 404
    /// if the chat has no such message.
    pub(in crate::fake) fn private_reactions(
        &self,
        bot: i64,
        user: i64,
        id: i64,
    ) -> Result<Vec<FakeReaction>, ApiError> {
        self.shown_reactions(ChatKey::Private { bot, user }, id)
    }

    /// The reactions message `id` of `group` holds; 404 if it has no such message.
    pub(in crate::fake) fn group_reactions(
        &self,
        group: i64,
        id: i64,
    ) -> Result<Vec<FakeReaction>, ApiError> {
        self.group(group);
        self.shown_reactions(ChatKey::Group(group), id)
    }

    fn shown_reactions(&self, chat: ChatKey, id: i64) -> Result<Vec<FakeReaction>, ApiError> {
        let found = message_index(id).is_some_and(|i| i < self.chat_messages(chat).len());
        if !found {
            return Err(no_message(chat, id));
        }
        Ok(self
            .chat_reactions(chat)
            .and_then(|reactions| reactions.get(&id))
            .cloned()
            .unwrap_or_default())
    }

    /// A person's reaction, and the update it sends if it changed anything.
    fn person_reacts(
        &mut self,
        chat: ChatKey,
        person: i64,
        id: i64,
        emoji: Option<&str>,
    ) -> Result<i64, ApiError> {
        let from = user_json(self.user(person));
        let (target, is_service) = self
            .reaction_target(chat, id)
            .ok_or_else(|| no_message(chat, id))?;
        if emoji.is_some_and(|e| is_service || !REACTION_EMOJI.contains(&e)) {
            return Err(ApiError::bad_request(INVALID));
        }
        let Some((old, new)) = self.choose_reaction(chat, target, person, emoji.map(str::to_owned))
        else {
            return Ok(target);
        };
        let update = json!({
            "chat": self.chat_json(chat),
            "message_id": target,
            "user": from,
            "date": now(),
            "old_reaction": reaction_list(old.as_deref()),
            "new_reaction": reaction_list(new.as_deref()),
        });
        let bots: Vec<i64> = match chat {
            ChatKey::Private { bot, .. } => vec![bot],
            ChatKey::Group(group) => self
                .group(group)
                .bots
                .iter()
                .filter_map(|(&bot, &admin)| admin.then_some(bot))
                .collect(),
        };
        for bot in bots {
            self.enqueue(bot, "message_reaction", update.clone());
        }
        Ok(target)
    }

    /// The message a reaction to message `id` of `chat` goes to (an album's
    /// first message), and whether it is a service message; `None` if the
    /// chat has no such message, or no longer shows it (its topic was deleted).
    fn reaction_target(&self, chat: ChatKey, id: i64) -> Option<(i64, bool)> {
        let messages = self.chat_messages(chat);
        let message = message_index(id).and_then(|i| messages.get(i))?;
        if let ChatKey::Group(group) = chat {
            let thread = thread_of(message).unwrap_or(GENERAL_THREAD_ID);
            if self
                .group(group)
                .topics
                .get(&thread)
                .is_some_and(|t| t.deleted)
            {
                return None;
            }
        }
        let message = match message["media_group_id"].as_str() {
            Some(album) => messages
                .iter()
                .find(|m| m["media_group_id"].as_str() == Some(album))
                .unwrap_or(message),
            None => message,
        };
        let id = message["message_id"].as_i64()?;
        Some((id, super::people::is_service(message)))
    }

    /// Sets the reaction of `who` to message `id` (`None` removes it).
    /// Returns the old and the new emoji if that changed anything.
    fn choose_reaction(
        &mut self,
        chat: ChatKey,
        id: i64,
        who: i64,
        emoji: Option<String>,
    ) -> Option<(Option<String>, Option<String>)> {
        let reactions = match chat {
            ChatKey::Private { bot, user } => {
                &mut self.private_chats.entry((bot, user)).or_default().reactions
            }
            ChatKey::Group(group) => &mut self.group_mut(group).reactions,
        };
        let list = reactions.entry(id).or_default();
        let old_index = list.iter().position(|r| r.from_id == who);
        let old = old_index.map(|i| list[i].emoji.clone());
        let changed = old != emoji;
        if changed {
            if let Some(i) = old_index {
                list.remove(i);
            }
            if let Some(emoji) = &emoji {
                list.push(FakeReaction {
                    from_id: who,
                    emoji: emoji.clone(),
                });
            }
        }
        if list.is_empty() {
            reactions.remove(&id);
        }
        changed.then_some((old, emoji))
    }

    fn chat_messages(&self, chat: ChatKey) -> &[Value] {
        match chat {
            ChatKey::Private { bot, user } => self
                .private_chats
                .get(&(bot, user))
                .map_or(&[][..], |c| &c.messages),
            ChatKey::Group(group) => &self.group(group).messages,
        }
    }

    fn chat_reactions(&self, chat: ChatKey) -> Option<&Reactions> {
        match chat {
            ChatKey::Private { bot, user } => {
                self.private_chats.get(&(bot, user)).map(|c| &c.reactions)
            }
            ChatKey::Group(group) => self.groups.get(&group).map(|g| &g.reactions),
        }
    }
}

/// The reactions a message shows, for a test's snapshot of it.
pub(super) fn reactions_of(reactions: &Reactions, message: &Value) -> Vec<FakeReaction> {
    message["message_id"]
        .as_i64()
        .and_then(|id| reactions.get(&id))
        .cloned()
        .unwrap_or_default()
}

/// `[]`, or the one `ReactionTypeEmoji` of `emoji`, as an update lists them.
fn reaction_list(emoji: Option<&str>) -> Value {
    Value::Array(
        emoji
            .map(|emoji| json!({ "type": "emoji", "emoji": emoji }))
            .into_iter()
            .collect(),
    )
}

/// 404 for a person's reaction to a message the chat does not show.
fn no_message(chat: ChatKey, id: i64) -> ApiError {
    let chat = match chat {
        ChatKey::Private { bot, user } => format!("the chat of user {user} with bot {bot}"),
        ChatKey::Group(group) => format!("group {group}"),
    };
    ApiError::new(404, &format!("Not Found: {chat} shows no message {id}"))
}

/// `reaction` as the Bot API server parses it: absent, empty or `null` is
/// no reaction; else a JSON array of `ReactionType` objects, `emoji` or
/// `custom_emoji` (`paid` does not parse: bots can't use paid reactions).
fn reaction_types(p: &Params) -> Result<Vec<Chosen>, ApiError> {
    let value = match p.opt_json("reaction") {
        Ok(None) => return Ok(Vec::new()),
        Ok(Some(value)) => value,
        Err(_) if p.opt_str("reaction").ok().flatten().as_deref() == Some("") => {
            return Ok(Vec::new());
        }
        Err(_) => {
            return Err(ApiError::bad_request(
                "can't parse reaction types JSON object",
            ));
        }
    };
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request("expected an Array of ReactionType"));
    };
    items
        .iter()
        .map(|item| {
            reaction_type(item)
                .map_err(|err| ApiError::bad_request(&format!("can't parse ReactionType: {err}")))
        })
        .collect()
}

/// One `ReactionType`, or why it does not parse, in `TDLib`'s JSON words.
fn reaction_type(item: &Value) -> Result<Chosen, String> {
    let Value::Object(fields) = item else {
        return Err("expected an Object".into());
    };
    match string_field(fields, "type")?.as_str() {
        "emoji" => Ok(Chosen::Emoji(string_field(fields, "emoji")?)),
        "custom_emoji" => {
            let name = "custom_emoji_id";
            let number = match fields.get(name) {
                None => return Err(format!("Can't find field \"{name}\"")),
                Some(Value::String(text)) => text.parse::<i64>().is_ok(),
                Some(Value::Number(number)) => number.as_i64().is_some(),
                Some(_) => return Err(format!("Field \"{name}\" must be a Number")),
            };
            if number {
                Ok(Chosen::CustomEmoji)
            } else {
                Err(format!("Field \"{name}\" must be a valid Number"))
            }
        }
        _ => Err("invalid reaction type specified".into()),
    }
}

/// A required string field; a number is taken as its text, as `TDLib` takes it.
fn string_field(fields: &Map<String, Value>, name: &str) -> Result<String, String> {
    match fields.get(name) {
        None => Err(format!("Can't find field \"{name}\"")),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Number(number)) => Ok(number.to_string()),
        Some(_) => Err(format!("Field \"{name}\" must be of type String")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reaction_emoji_are_the_bot_apis_73_without_presentation_selectors() {
        let mut unique: Vec<&str> = REACTION_EMOJI.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 73);
        assert!(REACTION_EMOJI.iter().all(|e| !e.contains('\u{fe0f}')));
        assert!(REACTION_EMOJI.contains(&"\u{2764}"));
        let joined = REACTION_EMOJI.iter().filter(|e| e.contains('\u{200d}'));
        assert_eq!(joined.count(), 4);
    }
}
