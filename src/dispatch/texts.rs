//! What switchboard says to people, gathered in one place: notices to users,
//! notices to operators (in a dialog's topic or in General), help, and the
//! helpers that make a text fit a Telegram message.
//!
//! Words: a *notice* is switchboard's own message (to a user, or to
//! operators); a *note* is an operator's `/ ...` message that stays among
//! operators. Texts are measured as Telegram measures them, in UTF-16 code
//! units.

use crate::config::HideInfo;
use crate::store::dialogs::Status;
use crate::store::users::{Profile, User};
use crate::telegram::update::Message;

/// Telegram's limit for a message text, in UTF-16 code units (Telegram
/// documents 4,096 characters; counting code units can only be safer).
pub const MESSAGE_MAX: usize = 4096;

/// The longest command name echoed back in a note, in characters (Telegram's
/// own limit for a bot's commands is 32).
const ECHOED_COMMAND_MAX: usize = 64;

/// What users are told when their message could not reach support.
pub const NOT_DELIVERED: &str =
    "Sorry, your message could not be delivered to support. Please try again later.";

/// In the topic, for a reply that cannot reach a user who blocked the bot.
pub const BLOCKED: &str = "⚠️ Not delivered: the user has blocked the bot. \
     Replies reach them again once they unblock it or write to it.";

/// In the topic, when the user blocked the bot.
pub const USER_BLOCKED: &str = "The user blocked the bot.";

/// In the topic, when the user unblocked the bot.
pub const USER_UNBLOCKED: &str = "The user unblocked the bot.";

/// In a topic that replaces a deleted one.
pub const TOPIC_REPLACED: &str =
    "⚠️ The previous topic of this dialog was deleted; the dialog continues here.";

/// What operators can do inside a dialog's topic, for the unknown-command answer.
pub const TOPIC_HELP: &str = "In a dialog's topic: /close closes the dialog; /info shows the user card with the dialog's figures; /hold marks it as waiting for support (🟪), /wait as waiting for the user (🟨); a message starting with \"/ \" is a note for operators and is not sent.";

/// `/close` on a closed dialog.
pub const ALREADY_CLOSED: &str = "This dialog is already closed.";

/// `/new` written inside a topic.
pub const NEW_IN_GENERAL: &str = "/new works in the General topic: /new USER_ID.";

/// `/close` written in General.
pub const CLOSE_IN_TOPIC: &str = "/close works inside a dialog's topic.";

/// `/new` without a valid user id.
pub const NEW_USAGE: &str = "Usage: /new USER_ID — opens a dialog with a user who has written to this bot before. The id is in each topic's name.";

/// An unknown command in a topic.
#[must_use]
pub fn unknown_command(name: &str) -> String {
    format!(
        "Unknown command {}: nothing was sent to the user. {TOPIC_HELP}",
        echo_command(name)
    )
}

/// The dialog closed by itself after `after` (as written in bots.toml).
#[must_use]
pub fn closed_automatically(after: &str) -> String {
    format!("Closed automatically: no reply from the user for {after}.")
}

/// A user's message that Telegram refused to copy into the topic.
#[must_use]
pub fn not_shown(what: Option<&str>, error: &str) -> String {
    let what = what.map(|what| format!(" ({what})")).unwrap_or_default();
    format!("⚠️ A message from the user{what} could not be shown here: {error}")
}

/// An operator's reply that did not reach the user.
#[must_use]
pub fn not_delivered_to_user(what: Option<&str>, error: &str) -> String {
    let what = what.map(|what| format!(" ({what})")).unwrap_or_default();
    format!("⚠️ Not delivered to the user{what}: {error}")
}

/// An operator's message that Telegram does not let bots copy.
#[must_use]
pub fn not_sent_uncopyable(what: &str) -> String {
    format!("⚠️ Not sent to the user: Telegram does not let bots copy {what}.")
}

/// The topic of a dialog could not be created.
#[must_use]
pub fn user_edit_not_shown(error: &str, now: Option<&str>) -> String {
    match now {
        Some(text) => format!(
            "✏️ The user edited a message; its copy here could not follow ({error}). It now reads:\n{text}"
        ),
        None => format!("✏️ The user edited a message; its copy here could not follow ({error})."),
    }
}

/// A note for a service message in a user's chat (by its key): what
/// happened, in words where switchboard knows them.
#[must_use]
pub fn user_service_message(key: &str) -> String {
    let what = match key {
        "pinned_message" => "pinned a message",
        "successful_payment" => "completed a payment",
        "refunded_payment" => "got a payment refunded",
        "users_shared" | "user_shared" => "shared a user with the bot",
        "chat_shared" => "shared a chat with the bot",
        "gift" | "unique_gift" | "gift_upgrade_sent" => "sent a gift",
        "write_access_allowed" => "allowed the bot to write to them",
        "web_app_data" => "sent data from a Web App",
        "connected_website" => "logged in to a website with Telegram",
        "passport_data" => "shared Telegram Passport data",
        "proximity_alert_triggered" => "came near a shared live location",
        "message_auto_delete_timer_changed" => "changed the auto-delete timer of the chat",
        "chat_background_set" => "changed the chat's background",
        "checklist_tasks_done" => "marked checklist tasks done",
        "checklist_tasks_added" => "added checklist tasks",
        other => {
            return format!(
                "ℹ️ A service message (`{other}`) in the user's chat; Telegram does not let bots copy it."
            );
        }
    };
    format!("ℹ️ The user {what} (a service message; Telegram does not let bots copy it).")
}

/// Why an edit of a kind no edit call applies did not follow.
pub const EDIT_CANNOT_FOLLOW: &str =
    "Telegram lets bots edit only texts, captions, media and live locations";

pub fn edit_not_delivered(error: &str) -> String {
    format!("⚠️ Your edit did not reach the user: {error}")
}

pub fn button_pressed(who: &str, button: &str) -> String {
    format!("🔘 {who} pressed “{button}”")
}

pub fn mirror_failed(error: &str) -> String {
    format!("⚠️ The bot sent the user a message that cannot be shown here: {error}")
}

pub fn topic_not_created(who: &str, error: &str) -> String {
    format!(
        "⚠️ Could not create a topic for {who}: {error}. The bot must be an admin of this group with the right to manage topics."
    )
}

/// An inbox row set aside as a dead letter.
#[must_use]
pub fn dead_letter(error: &str) -> String {
    format!("⚠️ An update could not be handled and was set aside (dead letter): {error}")
}

/// `/new` for a user the bot does not know.
#[must_use]
pub fn new_unknown_user(user_id: i64) -> String {
    format!(
        "User {user_id} has not written to this bot, and a bot cannot start a conversation. \
         Ask them to send the bot a message first."
    )
}

/// `/new` for a dialog that is open already, with a link to its topic.
#[must_use]
pub fn already_open(who: &str, link: Option<&str>) -> String {
    let link = link.map(|link| format!(": {link}")).unwrap_or_default();
    format!("A dialog with {who} is already open{link}")
}

/// `/new` reopened a closed dialog.
#[must_use]
pub fn reopened(who: &str) -> String {
    format!("Reopened the dialog with {who}.")
}

/// `/new` opened a dialog (in General).
#[must_use]
pub fn opened(who: &str) -> String {
    format!("Opened a dialog with {who}.")
}

/// `/new` opened a dialog (in its topic).
#[must_use]
pub fn opened_by_operator(who: &str) -> String {
    format!("Dialog opened by an operator with /new. Messages written here go to {who}.")
}

/// The note for a user's message that Telegram refuses to copy: what it was,
/// and its text or caption, which operators can still read.
#[must_use]
pub fn not_copyable(what: &str, message: &Message) -> String {
    let mut note = format!(
        "⚠️ The user sent {what}. Telegram does not let bots copy it, so it cannot be shown here."
    );
    if let Some(text) = &message.text {
        note.push_str("\n\nIts text:\n");
        note.push_str(text);
    } else if let Some(caption) = &message.caption {
        note.push_str("\n\nIts caption:\n");
        note.push_str(caption);
    }
    note
}

/// How a command is named in a note: `/name`, cut if absurdly long.
#[must_use]
pub fn echo_command(name: &str) -> String {
    if name.chars().count() <= ECHOED_COMMAND_MAX {
        format!("/{name}")
    } else {
        let cut: String = name.chars().take(ECHOED_COMMAND_MAX).collect();
        format!("/{cut}…")
    }
}

/// `text` as Telegram counts it: UTF-16 code units.
#[must_use]
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `text` of at most `max` UTF-16 code units. It ends
/// between characters, so a surrogate pair is never split.
#[must_use]
pub fn prefix_within(text: &str, max: usize) -> &str {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &text[..at];
        }
    }
    text
}

/// `text` cut to at most `max` UTF-16 code units, ending in "…" when cut.
#[must_use]
pub fn fit(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut = prefix_within(text, max - 1).to_owned();
    cut.push('…');
    cut
}

/// A text switchboard composed, fit for `sendMessage` ([`MESSAGE_MAX`]).
#[must_use]
pub fn fit_message(text: &str) -> String {
    fit(text, MESSAGE_MAX)
}

/// How a user is named in notes: "Alice Smith (@alice, 123456)".
#[must_use]
pub fn describe_user(user: &User) -> String {
    match &user.username {
        Some(username) => format!("{} (@{username}, {})", user.full_name(), user.user_id),
        None => format!("{} ({})", user.full_name(), user.user_id),
    }
}

/// What `/info` adds to the user card: the dialog's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Messages copied to the topic, and to the user.
    pub messages_in: i64,
    pub messages_out: i64,
    pub opened_at: i64,
    pub last_activity: i64,
    pub status: Status,
}

/// The user card (Telegram HTML), without what `hide` hides; with the
/// dialog's figures for `/info`.
#[must_use]
pub fn user_card(profile: &Profile, hide: HideInfo, figures: Option<&Figures>) -> String {
    let user = &profile.user;
    let mut who = Vec::new();
    if !hide.name {
        let name = escape_html(&user.full_name());
        if hide.username {
            who.push(format!("<b>{name}</b>"));
        } else {
            who.push(format!(
                "<a href=\"tg://user?id={}\"><b>{name}</b></a>",
                user.user_id
            ));
        }
    }
    if let (Some(username), false) = (&user.username, hide.username) {
        who.push(format!("@{}", escape_html(username)));
    }
    who.push(format!("id <code>{}</code>", user.user_id));
    let mut lines = vec![format!("👤 {}", who.join(" · "))];
    let mut about = Vec::new();
    if let Some(language) = &profile.language {
        about.push(format!("language {}", escape_html(language)));
    }
    about.push(if profile.premium {
        "⭐ Premium".to_owned()
    } else {
        "no Premium".to_owned()
    });
    lines.push(format!("🌐 {}", about.join(" · ")));
    if let Some(payload) = &profile.start_payload {
        lines.push(format!(
            "🔗 came with /start <code>{}</code>",
            escape_html(payload)
        ));
    }
    lines.push(format!("🕐 first wrote {}", when(profile.first_seen)));
    if let Some(figures) = figures {
        lines.push(format!(
            "💬 {} messages from the user, {} to the user",
            figures.messages_in, figures.messages_out
        ));
        lines.push(format!(
            "📂 opened {} · last activity {}",
            when(figures.opened_at),
            when(figures.last_activity)
        ));
        let status = match figures.status {
            Status::UserAnswered => "🟪 waiting for support",
            Status::SupportAnswered => "🟨 waiting for the user",
            Status::Closed => "⬛️ closed",
        };
        let blocked = if profile.blocked {
            "🚫 the user has blocked the bot"
        } else {
            "not blocked"
        };
        lines.push(format!("📌 {status} · {blocked}"));
    }
    lines.join("\n")
}

/// A unix time as `2026-12-01 15:04 UTC`.
fn when(unix: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    // "2026-12-01T15:04:05Z"
    let stamp = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} {} UTC", &stamp[..10], &stamp[11..16])
}

/// `text` as Telegram HTML text: never markup.
#[must_use]
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub const INFO_HIDDEN: &str = "/info is turned off for this bot (hide_info = [\"command\"]).";

/// A t.me link to a topic of a supergroup (works for its members).
#[must_use]
pub fn topic_link(group: i64, topic: i64) -> Option<String> {
    let internal = group.checked_neg()?.checked_sub(1_000_000_000_000)?;
    (internal > 0).then(|| format!("https://t.me/c/{internal}/{topic}"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn profile() -> Profile {
        Profile {
            user: User {
                user_id: 42,
                first_name: "Ann <A&B>".into(),
                last_name: None,
                username: Some("ann".into()),
            },
            language: Some("pt-br".into()),
            premium: true,
            start_payload: None,
            first_seen: 1_764_601_440,
            last_seen: 1_764_601_440,
            blocked: false,
        }
    }

    #[test]
    fn the_card_names_the_user_as_html_text() {
        let card = user_card(&profile(), HideInfo::default(), None);
        assert_eq!(
            card,
            "👤 <a href=\"tg://user?id=42\"><b>Ann &lt;A&amp;B&gt;</b></a> · @ann · id <code>42</code>\n\
             🌐 language pt-br · ⭐ Premium\n\
             🕐 first wrote 2025-12-01 15:04 UTC"
        );
        let hidden = HideInfo {
            name: true,
            username: true,
            command: false,
        };
        assert_eq!(
            user_card(&profile(), hidden, None).lines().next(),
            Some("👤 id <code>42</code>")
        );
    }

    use crate::telegram::update::testing::private_message;

    #[test]
    fn notes_about_uncopyable_messages_keep_their_words() {
        let paid = private_message(json!({"paid_media": {}, "caption": "the receipt"}));
        assert_eq!(
            not_copyable("paid media", &paid),
            "⚠️ The user sent paid media. Telegram does not let bots copy it, so it cannot \
             be shown here.\n\nIts caption:\nthe receipt"
        );
        let protected = private_message(json!({"text": "secret", "has_protected_content": true}));
        assert!(
            not_copyable("a message with protected content", &protected)
                .ends_with("\n\nIts text:\nsecret")
        );
    }

    #[test]
    fn texts_are_cut_to_fit_with_an_ellipsis() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("abcdef", 4), "abc…");
        // "😀" is 2 units: never half of it.
        assert_eq!(fit("😀😀😀", 4), "😀…");
        assert_eq!(fit("😀😀😀", 3), "😀…");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(prefix_within("a😀", 2), "a");
        let long = fit_message(&"я".repeat(5000));
        assert_eq!(utf16_len(&long), MESSAGE_MAX);
        assert_eq!(echo_command("refund"), "/refund");
        let echoed = echo_command(&"a".repeat(5000));
        assert_eq!(echoed.chars().count(), 1 + 64 + 1);
    }

    #[test]
    fn topic_links() {
        assert_eq!(
            topic_link(-1001234567890, 7).as_deref(),
            Some("https://t.me/c/1234567890/7")
        );
        assert_eq!(topic_link(-42, 7), None);
    }
    proptest! {
        #[test]
        fn any_text_fits(text in ".{0,300}", max in 0..200_usize) {
            let cut = fit(&text, max);
            prop_assert!(utf16_len(&cut) <= max);
            if utf16_len(&text) <= max {
                prop_assert_eq!(cut, text);
            } else if max > 0 {
                prop_assert!(cut.ends_with('…'));
                prop_assert!(text.starts_with(cut.trim_end_matches('…')));
            }
        }
    }
}
