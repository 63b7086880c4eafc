//! Product rules as plain functions: what a message means and what should
//! happen, decided without I/O so each rule is tested on its own.
//!
//! What a message carries ([`classify`]) is read from the names of its
//! top-level keys, following the Bot API's `Message` object. A key is
//! content that `copyMessage` copies, content that Telegram refuses to copy,
//! a service message, or an attribute (sender, date, reply, caption, ...).
//! A key of none of these kinds comes from a Bot API version newer than this
//! code; a message whose content is only such keys is tried as a copy all
//! the same, and named where that fails, so nothing new is dropped silently.
//!
//! Names are measured as Telegram measures them, in UTF-16 code units (see
//! [`super::texts`]): a name of 200 emoji is 400 units, not 200 characters.

use super::texts::{prefix_within, utf16_len};
use crate::config::HideInfo;
use crate::store::dialogs::Status;
use crate::store::users::User;
use crate::telegram::update::{ChatKind, Message};

/// Telegram's limit for a topic name, in UTF-16 code units.
pub const TOPIC_NAME_MAX: usize = 128;

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

/// Icons of a dialog's status in its topic's name (`status_icons`).
pub const ICON_USER_ANSWERED: &str = "🟪";
pub const ICON_SUPPORT_ANSWERED: &str = "🟨";
pub const ICON_CLOSED: &str = "⬛️";
/// After the status icon while the user has blocked the bot.
pub const ICON_BLOCKED: &str = "🚫";
/// Room kept at the start of every topic name for the status icons and a
/// space (the longest, ⬛️🚫, is 4 UTF-16 units), so that adding them never
/// cuts the user's id off the end.
pub const ICON_ROOM: usize = 5;
/// A dialog's topic is renamed at most this often (seconds): a busy dialog
/// never spends its group's budget on renames.
pub const RENAME_EVERY: i64 = 60;

/// The icon a dialog's topic name shows for its status.
#[must_use]
pub fn status_icon(status: Status, blocked: bool) -> String {
    let icon = match status {
        Status::UserAnswered => ICON_USER_ANSWERED,
        Status::SupportAnswered => ICON_SUPPORT_ANSWERED,
        Status::Closed => ICON_CLOSED,
    };
    if blocked {
        format!("{icon}{ICON_BLOCKED}")
    } else {
        icon.to_owned()
    }
}

/// A topic's name: the icon, then the name (cut to fit Telegram's limit).
#[must_use]
pub fn titled(icon: &str, name: &str) -> String {
    let name = base_name(name);
    if icon.is_empty() {
        return name.to_owned();
    }
    let room = TOPIC_NAME_MAX.saturating_sub(utf16_len(icon) + 1);
    format!("{icon} {}", prefix_within(name, room).trim_end())
}

/// A topic's name without the status icons in front of it.
#[must_use]
pub fn base_name(name: &str) -> &str {
    let icons = [
        ICON_USER_ANSWERED,
        ICON_SUPPORT_ANSWERED,
        ICON_CLOSED,
        ICON_BLOCKED,
    ];
    let mut rest = name;
    while let Some(after) = icons.iter().find_map(|icon| rest.strip_prefix(icon)) {
        rest = after;
    }
    if rest.len() == name.len() {
        name
    } else {
        rest.strip_prefix(' ').unwrap_or(rest)
    }
}

/// Whether a topic showing `shown`, last renamed at `renamed_at`, is renamed
/// to `wanted` now: only when they differ, and at most once a
/// [`RENAME_EVERY`] (a later change waits, and only the latest is sent).
#[must_use]
pub fn rename_due(wanted: &str, shown: &str, renamed_at: Option<i64>, now: i64) -> bool {
    wanted != shown && renamed_at.is_none_or(|at| now.saturating_sub(at) >= RENAME_EVERY)
}

/// The `welcome` template (Telegram HTML) for a user: `{name}` becomes their
/// first name, escaped so that it is text, never markup.
#[must_use]
pub fn welcome_text(template: &str, first_name: &str) -> String {
    template.replace("{name}", &super::texts::escape_html(first_name))
}

/// The payload of a `/start PAYLOAD` message (a deep link's), if any.
#[must_use]
pub fn start_payload(message: &Message) -> Option<&str> {
    let text = message.text.as_deref()?;
    let rest = text.strip_prefix("/start")?;
    let payload = rest.strip_prefix(' ')?.trim();
    (!payload.is_empty()).then_some(payload)
}

/// The topic name of `user`, without what `hide` hides: with
/// `hide_info = ["name"]`, a neutral label that stays the same for the user
/// ("Client 4F2A9C 42"); with `"username"`, no @username.
#[must_use]
pub fn topic_name_hiding(user: &User, hide: HideInfo) -> String {
    let shown = User {
        user_id: user.user_id,
        first_name: if hide.name {
            neutral_label(user.user_id)
        } else {
            user.first_name.clone()
        },
        last_name: if hide.name {
            None
        } else {
            user.last_name.clone()
        },
        username: if hide.username {
            None
        } else {
            user.username.clone()
        },
    };
    topic_name(&shown)
}

/// "Client" and six hex digits from the user id, mixed (splitmix64) so
/// that neighbouring ids look unrelated; the same for the user every time.
fn neutral_label(user_id: i64) -> String {
    let mut x = u64::from_ne_bytes(user_id.to_ne_bytes()).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("Client {:06X}", x & 0xFF_FFFF)
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
    /// Copy it to the user. `what` names content of a kind switchboard does
    /// not know (tried all the same), `None` for ordinary content.
    Relay {
        what: Option<String>,
    },
    /// Content Telegram refuses to copy, named ("a giveaway"): operators are
    /// told it was not sent.
    NotCopyable(&'static str),
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
    let as_group = message.sender_chat == Some(group);
    let from_bot = message.from.as_ref().is_none_or(|from| from.is_bot);
    let content = classify(message);
    if (from_bot && !as_group) || matches!(content, Content::Service(_)) {
        return OperatorPlan::Ignore;
    }
    let text = message.text.as_deref().unwrap_or_default();
    if text.starts_with("/ ") || text == "/" {
        return OperatorPlan::Note;
    }
    match parse_command(message, bot_username) {
        Some(Ok(command)) => return OperatorPlan::Command(command),
        Some(Err(NotForUs)) => return OperatorPlan::Ignore,
        None => {}
    }
    match content {
        Content::Copyable => OperatorPlan::Relay { what: None },
        Content::Unknown(what) => OperatorPlan::Relay { what: Some(what) },
        Content::NotCopyable(what) => OperatorPlan::NotCopyable(what),
        Content::Service(_) => OperatorPlan::Ignore,
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
    let entity = message.entities.iter().find(|e| e.offset == 0)?;
    if !entity.is_bot_command() {
        return None;
    }
    // Entity lengths count UTF-16 code units; a command is ASCII, so they
    // match bytes, but stay safe on odd input.
    let length = usize::try_from(entity.length).unwrap_or(usize::MAX);
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

/// What a message carries, as far as relaying it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Something a person wrote or sent that `copyMessage` copies.
    Copyable,
    /// Something a person sent that Telegram refuses to copy, in words: "a
    /// giveaway", "an invoice", ...
    NotCopyable(&'static str),
    /// A service message ("topic created", "user joined", "payment
    /// received", ...), by its key: not relayed.
    Service(&'static str),
    /// Keys this code does not know, in words: "a message with `hologram`".
    /// Probably content from a newer Bot API version: worth a try.
    Unknown(String),
}

/// Content keys of the Bot API's `Message` that `copyMessage` copies.
const COPYABLE: &[&str] = &[
    "text",
    "animation",
    "audio",
    "document",
    "live_photo",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "checklist",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
    "rich_message",
];

/// Content keys whose messages Telegram refuses to copy (the Bot API's
/// copyMessage: "Service messages, paid media messages, giveaway messages,
/// giveaway winners messages, and invoice messages can't be copied").
const NOT_COPYABLE: &[(&str, &str)] = &[
    ("paid_media", "paid media"),
    ("giveaway", "a giveaway"),
    ("giveaway_winners", "a giveaway winners message"),
    ("invoice", "an invoice"),
];

/// Keys of service messages: events in a chat, not something a person sent.
const SERVICE: &[&str] = &[
    "new_chat_members",
    "left_chat_member",
    "chat_owner_left",
    "chat_owner_changed",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "user_shared",
    "chat_shared",
    "gift",
    "unique_gift",
    "gift_upgrade_sent",
    "connected_website",
    "write_access_allowed",
    "passport_data",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "community_chat_added",
    "community_chat_joined",
    "community_chat_removed",
    "direct_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "managed_bot_created",
    "paid_message_price_changed",
    "paid_messages_waived",
    "suggested_post_approved",
    "suggested_post_approval_failed",
    "suggested_post_declined",
    "suggested_post_paid",
    "suggested_post_refunded",
    "poll_option_added",
    "poll_option_deleted",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "web_app_data",
];

/// Keys that describe a message rather than carry its content: who, where,
/// when, replies, forwards, captions and formatting, buttons.
const ATTRIBUTES: &[&str] = &[
    "message_id",
    "message_thread_id",
    "direct_messages_topic",
    "from",
    "sender_chat",
    "sender_boost_count",
    "sender_business_bot",
    "sender_tag",
    "receiver_user",
    "ephemeral_message_id",
    "date",
    "guest_query_id",
    "business_connection_id",
    "chat",
    "forward_origin",
    "forward_from",
    "forward_from_chat",
    "forward_from_message_id",
    "forward_signature",
    "forward_sender_name",
    "forward_date",
    "is_topic_message",
    "is_automatic_forward",
    "reply_to_message",
    "external_reply",
    "quote",
    "reply_to_story",
    "reply_to_checklist_task_id",
    "reply_to_poll_option_id",
    "via_bot",
    "guest_bot_caller_user",
    "guest_bot_caller_chat",
    "edit_date",
    "has_protected_content",
    "is_from_offline",
    "is_paid_post",
    "paid_star_count",
    "media_group_id",
    "author_signature",
    "entities",
    "link_preview_options",
    "suggested_post_info",
    "effect_id",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "reply_markup",
];

/// What `message` carries, by its keys (see the module doc). Content wins
/// over everything else; protected content cannot be copied whatever it is.
#[must_use]
pub fn classify(message: &Message) -> Content {
    let has = |key: &str| message.keys.contains(key);
    if let Some((_, what)) = NOT_COPYABLE.iter().find(|(key, _)| has(key)) {
        return Content::NotCopyable(what);
    }
    let unknown: Vec<&str> = message
        .keys
        .iter()
        .map(String::as_str)
        .filter(|key| {
            !(COPYABLE.contains(key) || SERVICE.contains(key) || ATTRIBUTES.contains(key))
        })
        .collect();
    let copyable = COPYABLE.iter().any(|key| has(key));
    if message.has_protected_content && (copyable || !unknown.is_empty()) {
        return Content::NotCopyable("a message with protected content");
    }
    if copyable {
        return Content::Copyable;
    }
    if let Some(key) = SERVICE.iter().find(|key| has(key)) {
        return Content::Service(key);
    }
    if unknown.is_empty() {
        // Only attributes: nothing this code recognises, so nothing to name.
        return Content::Unknown("a message without content switchboard recognises".into());
    }
    let names: Vec<String> = unknown.iter().map(|key| format!("`{key}`")).collect();
    Content::Unknown(format!("a message with {}", names.join(", ")))
}

/// The text a keyword is looked for in: the text, or a media caption.
#[must_use]
pub fn searchable_text(m: &Message) -> Option<&str> {
    m.text.as_deref().or(m.caption.as_deref())
}

#[must_use]
pub fn is_private(m: &Message) -> bool {
    m.chat.kind == ChatKind::Private
}

/// The topic name operators see: "Alice Smith @alice 123456".
///
/// Newlines and other whitespace become single spaces; control characters
/// and bidirectional formatting characters (which could make the id read
/// backwards) are removed; a name with nothing left is "User". The name is
/// then cut to fit Telegram's 128 UTF-16 code units together with the id,
/// which is always kept whole at the end, and the status icons in front
/// ([`ICON_ROOM`]).
#[must_use]
pub fn topic_name(user: &User) -> String {
    let mut name = clean_name(&user.full_name());
    let username = user.username.as_deref().map(clean_name);
    if let Some(username) = username.filter(|u| !u.is_empty()) {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push('@');
        name.push_str(&username);
    }
    if name.is_empty() {
        name.push_str("User");
    }
    let id = format!(" {}", user.user_id);
    let room = (TOPIC_NAME_MAX - ICON_ROOM).saturating_sub(utf16_len(&id));
    let mut name = prefix_within(&name, room).trim_end().to_owned();
    name.push_str(&id);
    name
}

/// `name` with whitespace of any kind (newlines, tabs, ...) as single
/// spaces, without other control characters and bidirectional formatting
/// characters, trimmed: runs of spaces, including those the removals leave,
/// collapse to one.
fn clean_name(name: &str) -> String {
    let mut clean = String::with_capacity(name.len());
    let mut space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            space = true;
        } else if !(c.is_control() || is_bidi_control(c)) {
            if space && !clean.is_empty() {
                clean.push(' ');
            }
            space = false;
            clean.push(c);
        }
    }
    clean
}

/// Unicode's bidirectional formatting characters (marks, embeddings,
/// overrides, isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn topic_names_show_the_status_first() {
        assert_eq!(status_icon(Status::UserAnswered, false), "🟪");
        assert_eq!(status_icon(Status::Closed, true), "⬛️🚫");
        assert_eq!(titled("🟨", "Ann 42"), "🟨 Ann 42");
        assert_eq!(
            titled("🟪", "🟨🚫 Ann 42"),
            "🟪 Ann 42",
            "the old icon goes"
        );
        assert_eq!(titled("", "⬛️ Ann 42"), "Ann 42");
        assert_eq!(base_name("Ann 42"), "Ann 42");
        let long = titled("🟪", &"a".repeat(200));
        assert_eq!(utf16_len(&long), 128);
        assert!(rename_due("🟨", "🟪", None, 0));
        assert!(!rename_due("🟪", "🟪", None, 0));
        assert!(!rename_due("🟨", "🟪", Some(100), 159));
        assert!(rename_due("🟨", "🟪", Some(100), 160));
    }

    #[test]
    fn the_welcome_names_the_user_as_text() {
        assert_eq!(welcome_text("Hi <b>{name}</b>!", "Ann"), "Hi <b>Ann</b>!");
        assert_eq!(
            welcome_text("Hi {name}, {name}", "<Bob & Co>"),
            "Hi &lt;Bob &amp; Co&gt;, &lt;Bob &amp; Co&gt;"
        );
        assert_eq!(welcome_text("No name", "Ann"), "No name");
    }

    use super::*;
    use crate::dispatch::texts::describe_user;
    use crate::telegram::update::testing::{message, private_message};
    use proptest::prelude::*;
    use serde_json::json;

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
            OperatorPlan::Relay { what: None }
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
            OperatorPlan::Relay { what: None }
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
            OperatorPlan::Relay { what: None }
        );
    }

    #[test]
    fn operators_content_that_cannot_be_copied_is_not_relayed() {
        let giveaway = private_message(json!({"giveaway": {"chats": [], "winner_count": 1}}));
        let mut in_group = giveaway.clone();
        in_group.chat.id = -1001;
        assert_eq!(
            plan_operator_message(&in_group, -1001, None),
            OperatorPlan::NotCopyable("a giveaway")
        );
        let mut hologram = private_message(json!({"hologram": {"depth": 3}}));
        hologram.chat.id = -1001;
        assert_eq!(
            plan_operator_message(&hologram, -1001, None),
            OperatorPlan::Relay {
                what: Some("a message with `hologram`".into())
            }
        );
        // A command works even in a group whose content is protected.
        let mut close = group_message("/close", Some(6));
        close.has_protected_content = true;
        assert!(matches!(
            plan_operator_message(&close, -1001, None),
            OperatorPlan::Command(_)
        ));
        let mut protected = group_message("hello", None);
        protected.has_protected_content = true;
        assert_eq!(
            plan_operator_message(&protected, -1001, None),
            OperatorPlan::NotCopyable("a message with protected content")
        );
    }

    #[test]
    fn content_is_classified_by_its_keys() {
        let classify_content = |content| classify(&private_message(content));
        for copyable in [
            json!({"text": "hi", "entities": [], "forward_origin": {"type": "x"}}),
            json!({"photo": [], "caption": "c"}),
            json!({"sticker": {"type": "future"}}),
            json!({"checklist": {}}),
            json!({"live_photo": {}}),
            json!({"story": {}, "some_future_attribute": 1}),
        ] {
            assert_eq!(
                classify_content(copyable.clone()),
                Content::Copyable,
                "{copyable}"
            );
        }
        assert_eq!(
            classify_content(json!({"giveaway": {}})),
            Content::NotCopyable("a giveaway")
        );
        assert_eq!(
            classify_content(json!({"invoice": {}})),
            Content::NotCopyable("an invoice")
        );
        assert_eq!(
            classify_content(json!({"paid_media": {}, "caption": "look"})),
            Content::NotCopyable("paid media")
        );
        assert_eq!(
            classify_content(json!({"giveaway_winners": {}})),
            Content::NotCopyable("a giveaway winners message")
        );
        assert_eq!(
            classify_content(json!({"text": "secret", "has_protected_content": true})),
            Content::NotCopyable("a message with protected content")
        );
        for (service, key) in [
            (json!({"forum_topic_created": {}}), "forum_topic_created"),
            (json!({"successful_payment": {}}), "successful_payment"),
            (json!({"write_access_allowed": {}}), "write_access_allowed"),
            (json!({"giveaway_created": {}}), "giveaway_created"),
        ] {
            assert_eq!(
                classify_content(service.clone()),
                Content::Service(key),
                "{service}"
            );
        }
        assert_eq!(
            classify_content(json!({"hologram": {}, "smell": "roses"})),
            Content::Unknown("a message with `hologram`, `smell`".into())
        );
        assert!(matches!(classify_content(json!({})), Content::Unknown(_)));
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
        assert_eq!(name.chars().count(), 128 - ICON_ROOM);
        assert!(name.ends_with(" 42"));
        let shown = titled(&status_icon(Status::Closed, true), &name);
        assert_eq!(
            utf16_len(&shown),
            128,
            "with the longest icons, it still fits"
        );
        assert!(shown.ends_with(" 42"));
    }

    #[test]
    fn topic_names_count_utf16_and_never_split_an_emoji() {
        let user = |first: &str, last: Option<&str>| User {
            user_id: 1_000_000_001,
            first_name: first.into(),
            last_name: last.map(str::to_owned),
            username: None,
        };
        let name = topic_name(&user(&"😀".repeat(200), None));
        // " 1000000001" is 11 units: 112 left (5 for the icons), 56 emoji
        // of 2 units each.
        assert_eq!(name, format!("{} 1000000001", "😀".repeat(56)));
        assert_eq!(utf16_len(&name), 123);
        // A cut that lands on a space leaves no double space before the id.
        let name = topic_name(&user(&"a".repeat(111), Some("b")));
        assert_eq!(name, format!("{} 1000000001", "a".repeat(111)));
    }

    #[test]
    fn topic_names_lose_control_and_bidi_characters() {
        let user = |first: &str, username: Option<&str>| User {
            user_id: 7,
            first_name: first.into(),
            last_name: None,
            username: username.map(str::to_owned),
        };
        assert_eq!(topic_name(&user("Alice\nSmith", None)), "Alice Smith 7");
        assert_eq!(
            topic_name(&user(" Al\u{202E}ice \u{2066} \t Smith\u{0}", None)),
            "Alice Smith 7"
        );
        assert_eq!(topic_name(&user("\u{202E}\u{200F}", None)), "User 7");
        assert_eq!(topic_name(&user("\n", Some("bob"))), "@bob 7");
        assert_eq!(topic_name(&user("", None)), "User 7");
    }

    /// Any user: names from any characters (control, bidi, astral, ...).
    fn any_user() -> impl Strategy<Value = User> {
        let text = prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![
                    '\n', '\t', ' ', '\u{202E}', '\u{2067}', '\u{0}', '😀', 'é'
                ]),
            ],
            0..150,
        )
        .prop_map(|chars| chars.into_iter().collect::<String>());
        (
            any::<i64>(),
            text.clone(),
            prop::option::of(text.clone()),
            prop::option::of(text),
        )
            .prop_map(|(user_id, first_name, last_name, username)| User {
                user_id,
                first_name,
                last_name,
                username,
            })
    }

    proptest! {
        #[test]
        fn any_topic_name_fits_keeps_the_id_and_is_clean(user in any_user()) {
            let name = topic_name(&user);
            let id = format!(" {}", user.user_id);
            prop_assert!(utf16_len(&name) <= TOPIC_NAME_MAX, "{name:?}");
            prop_assert!(name.ends_with(&id), "{name:?}");
            let before_id = &name[..name.len() - id.len()];
            prop_assert!(!before_id.trim().is_empty(), "{name:?}");
            prop_assert_eq!(before_id.trim(), before_id);
            prop_assert!(!before_id.contains("  "), "{name:?}");
            prop_assert!(
                !name.chars().any(|c| c.is_control() || is_bidi_control(c)),
                "{name:?}"
            );
        }
    }
}
