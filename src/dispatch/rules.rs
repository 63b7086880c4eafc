//! Product rules as plain functions: what a message means and what should
//! happen, decided without I/O so each rule is tested on its own.

use frankenstein::types::{ChatType, Message, MessageEntityType};

use crate::store::dialogs::Status;
use crate::store::users::User;

/// Telegram's limit for a topic name.
const TOPIC_NAME_MAX_CHARS: usize = 128;

/// What to do with a user's private message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserPlan {
    /// Not relayed: keywords are required and this message has none.
    WaitForKeyword,
    /// The dialog is open: relay.
    Relay,
    /// First contact: open a dialog (welcome, topic), then relay.
    Open,
    /// The dialog was closed: reopen it (welcome, topic), then relay.
    Reopen,
}

#[must_use]
pub fn plan_user_message(
    status: Option<Status>,
    text: Option<&str>,
    keywords: &[String],
) -> UserPlan {
    let opening = match status {
        None => UserPlan::Open,
        Some(Status::Closed) => UserPlan::Reopen,
        Some(_) => return UserPlan::Relay,
    };
    if keywords.is_empty() || text.is_some_and(|text| contains_keyword(text, keywords)) {
        opening
    } else {
        UserPlan::WaitForKeyword
    }
}

/// Case-insensitive: does `text` contain one of `keywords`?
#[must_use]
pub fn contains_keyword(text: &str, keywords: &[String]) -> bool {
    let text = text.to_lowercase();
    keywords
        .iter()
        .any(|keyword| text.contains(&keyword.to_lowercase()))
}

/// What an operator's message in the backend group means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorPlan {
    /// Not for the user: service messages, other bots, commands for other bots.
    Ignore,
    /// "/ ..." : a note for operators only.
    Note,
    Command(Command),
    Relay,
}

/// A bot command: `/name args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Lower-case, without the slash and @username.
    pub name: String,
    pub args: String,
}

/// Classifies a message in the backend group. `group` is the backend group's
/// id; `bot_username` the bot's own, to tell `/close@this_bot` from
/// `/close@other_bot`.
#[must_use]
pub fn plan_operator_message(
    message: &Message,
    group: i64,
    bot_username: Option<&str>,
) -> OperatorPlan {
    // An anonymous admin posts as the group itself (through a helper bot).
    let as_group = message
        .sender_chat
        .as_ref()
        .is_some_and(|chat| chat.id == group);
    let from_bot = message.from.as_ref().is_none_or(|from| from.is_bot);
    if (from_bot && !as_group) || !has_content(message) {
        return OperatorPlan::Ignore;
    }
    let text = message.text.as_deref().unwrap_or_default();
    if text.starts_with("/ ") || text == "/" {
        return OperatorPlan::Note;
    }
    match parse_command(message, bot_username) {
        Some(Ok(command)) => OperatorPlan::Command(command),
        Some(Err(NotForUs)) => OperatorPlan::Ignore,
        None => OperatorPlan::Relay,
    }
}

/// A command addressed to another bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotForUs;

/// The command at the start of the message's text, if any (Telegram marks it
/// with a `bot_command` entity at offset 0).
#[must_use]
pub fn parse_command(
    message: &Message,
    bot_username: Option<&str>,
) -> Option<Result<Command, NotForUs>> {
    let text = message.text.as_deref()?;
    let entity = message.entities.as_ref()?.iter().find(|e| e.offset == 0)?;
    if entity.type_field != MessageEntityType::BotCommand {
        return None;
    }
    // Entity lengths count UTF-16 code units; a command is ASCII, so they
    // match bytes, but stay safe on odd input.
    let length = usize::from(entity.length);
    let word = text.get(1..length.min(text.len()))?;
    let (name, addressee) = match word.split_once('@') {
        Some((name, addressee)) => (name, Some(addressee)),
        None => (word, None),
    };
    if let (Some(addressee), Some(ours)) = (addressee, bot_username) {
        if !addressee.eq_ignore_ascii_case(ours) {
            return Some(Err(NotForUs));
        }
    }
    Some(Ok(Command {
        name: name.to_ascii_lowercase(),
        args: text.get(length..).unwrap_or_default().trim().to_owned(),
    }))
}

/// Whether a message carries something a person wrote or sent (as opposed to
/// a service message such as "topic created" or "user joined"), i.e. whether
/// it can be relayed with `copyMessage`.
#[must_use]
pub fn has_content(m: &Message) -> bool {
    m.text.is_some()
        || m.animation.is_some()
        || m.audio.is_some()
        || m.document.is_some()
        || m.live_photo.is_some()
        || m.paid_media.is_some()
        || m.photo.is_some()
        || m.sticker.is_some()
        || m.story.is_some()
        || m.video.is_some()
        || m.video_note.is_some()
        || m.voice.is_some()
        || m.checklist.is_some()
        || m.contact.is_some()
        || m.dice.is_some()
        || m.game.is_some()
        || m.poll.is_some()
        || m.venue.is_some()
        || m.location.is_some()
        || m.rich_message.is_some()
}

/// The text a keyword is looked for in: the text, or a media caption.
#[must_use]
pub fn searchable_text(m: &Message) -> Option<&str> {
    m.text.as_deref().or(m.caption.as_deref())
}

#[must_use]
pub fn is_private(m: &Message) -> bool {
    m.chat.type_field == ChatType::Private
}

/// The topic name operators see: "Alice Smith @alice 123456".
#[must_use]
pub fn topic_name(user: &User) -> String {
    let mut name = user.full_name();
    if let Some(username) = &user.username {
        name.push_str(" @");
        name.push_str(username);
    }
    let id = format!(" {}", user.user_id);
    let room = TOPIC_NAME_MAX_CHARS - id.chars().count();
    let mut name: String = name.trim().chars().take(room).collect();
    name.push_str(&id);
    name
}

/// How a user is named in notes: "Alice Smith (@alice, 123456)".
#[must_use]
pub fn describe_user(user: &User) -> String {
    match &user.username {
        Some(username) => format!("{} (@{username}, {})", user.full_name(), user.user_id),
        None => format!("{} ({})", user.full_name(), user.user_id),
    }
}

/// A t.me link to a topic of a supergroup (works for its members).
#[must_use]
pub fn topic_link(group: i64, topic: i64) -> Option<String> {
    let internal = group.checked_neg()?.checked_sub(1_000_000_000_000)?;
    (internal > 0).then(|| format!("https://t.me/c/{internal}/{topic}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: serde_json::Value) -> Message {
        serde_json::from_value(json).unwrap()
    }

    fn group_message(text: &str, command_len: Option<u16>) -> Message {
        let mut json = serde_json::json!({
            "message_id": 5, "date": 0, "message_thread_id": 3, "is_topic_message": true,
            "chat": {"id": -1001, "type": "supergroup", "title": "Support"},
            "from": {"id": 9, "is_bot": false, "first_name": "Olga"},
            "text": text,
        });
        if let Some(length) = command_len {
            json["entities"] =
                serde_json::json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        message(json)
    }

    fn keywords(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn user_messages_open_reopen_or_relay() {
        assert_eq!(plan_user_message(None, Some("hi"), &[]), UserPlan::Open);
        assert_eq!(
            plan_user_message(Some(Status::Closed), None, &[]),
            UserPlan::Reopen
        );
        assert_eq!(
            plan_user_message(Some(Status::SupportAnswered), None, &[]),
            UserPlan::Relay
        );
    }

    #[test]
    fn keywords_gate_only_the_opening_and_ignore_case() {
        let kw = keywords(&["Support", "help"]);
        assert_eq!(
            plan_user_message(None, Some("hello"), &kw),
            UserPlan::WaitForKeyword
        );
        assert_eq!(plan_user_message(None, None, &kw), UserPlan::WaitForKeyword);
        assert_eq!(
            plan_user_message(None, Some("I need SUPPORT"), &kw),
            UserPlan::Open
        );
        assert_eq!(
            plan_user_message(Some(Status::Closed), Some("hello"), &kw),
            UserPlan::WaitForKeyword
        );
        assert_eq!(
            plan_user_message(Some(Status::Closed), Some("Help!"), &kw),
            UserPlan::Reopen
        );
        assert_eq!(
            plan_user_message(Some(Status::UserAnswered), Some("no kw"), &kw),
            UserPlan::Relay
        );
        assert!(contains_keyword("ПОМОЩЬ нужна", &keywords(&["помощь"])));
    }

    #[test]
    fn operator_messages() {
        assert_eq!(
            plan_operator_message(&group_message("hello", None), -1001, Some("shop_bot")),
            OperatorPlan::Relay
        );
        assert_eq!(
            plan_operator_message(&group_message("/ internal", None), -1001, None),
            OperatorPlan::Note
        );
        let close =
            plan_operator_message(&group_message("/close", Some(6)), -1001, Some("shop_bot"));
        assert_eq!(
            close,
            OperatorPlan::Command(Command {
                name: "close".into(),
                args: String::new()
            })
        );
        let addressed = plan_operator_message(
            &group_message("/close@Shop_Bot now", Some(15)),
            -1001,
            Some("shop_bot"),
        );
        assert_eq!(
            addressed,
            OperatorPlan::Command(Command {
                name: "close".into(),
                args: "now".into()
            })
        );
        let other = plan_operator_message(
            &group_message("/close@other_bot", Some(16)),
            -1001,
            Some("shop_bot"),
        );
        assert_eq!(other, OperatorPlan::Ignore);
        // A slash without a command entity (e.g. a path) is plain text.
        assert_eq!(
            plan_operator_message(&group_message("/usr/bin is full", None), -1001, None),
            OperatorPlan::Relay
        );
    }

    #[test]
    fn service_messages_and_bots_are_ignored_but_anonymous_admins_relayed() {
        let service = message(serde_json::json!({
            "message_id": 3, "date": 0, "chat": {"id": -1001, "type": "supergroup"},
            "from": {"id": 9, "is_bot": false, "first_name": "Olga"},
            "forum_topic_created": {"name": "x", "icon_color": 1}
        }));
        assert_eq!(
            plan_operator_message(&service, -1001, None),
            OperatorPlan::Ignore
        );
        let bot = message(serde_json::json!({
            "message_id": 3, "date": 0, "chat": {"id": -1001, "type": "supergroup"},
            "from": {"id": 8, "is_bot": true, "first_name": "Other"}, "text": "hi"
        }));
        assert_eq!(
            plan_operator_message(&bot, -1001, None),
            OperatorPlan::Ignore
        );
        let anonymous = message(serde_json::json!({
            "message_id": 3, "date": 0, "chat": {"id": -1001, "type": "supergroup"},
            "from": {"id": 1087968824, "is_bot": true, "first_name": "Group"},
            "sender_chat": {"id": -1001, "type": "supergroup"}, "text": "hi"
        }));
        assert_eq!(
            plan_operator_message(&anonymous, -1001, None),
            OperatorPlan::Relay
        );
    }

    #[test]
    fn topic_names_fit_telegram_and_keep_the_id() {
        let mut user = User {
            user_id: 42,
            first_name: "Alice".into(),
            last_name: Some("Smith".into()),
            username: Some("alice".into()),
        };
        assert_eq!(topic_name(&user), "Alice Smith @alice 42");
        assert_eq!(describe_user(&user), "Alice Smith (@alice, 42)");
        user.first_name = "é".repeat(300);
        let name = topic_name(&user);
        assert_eq!(name.chars().count(), 128);
        assert!(name.ends_with(" 42"));
    }

    #[test]
    fn topic_links() {
        assert_eq!(
            topic_link(-1001234567890, 7).as_deref(),
            Some("https://t.me/c/1234567890/7")
        );
        assert_eq!(topic_link(-42, 7), None);
    }
}
