//! What a job is: why it is made (its [`Purpose`]), what it does (its
//! [`Action`]), and where it queues (its [`Lane`], whose kind sets its
//! [`Priority`]).
//!
//! The purpose decides what a permanent failure means (the dispatcher's
//! report policy matches on it) and which message links a copy records; the
//! action is all the sender needs to make the call. A job is stored as JSON
//! in the `outbox` table, its lane and priority in columns of their own.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The private chat with this user.
    User(i64),
    /// The topic of this dialog, looked up when the job runs (it may not
    /// exist yet when the job is queued, and it may be replaced).
    TopicOf(i64),
    /// The General topic of this backend group.
    General(i64),
}

/// Why a job is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// An operator's message, copied to the dialog's user.
    Reply {
        dialog: i64,
        /// As for [`Purpose::Inbound`]: content of a kind switchboard does
        /// not know, in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        what: Option<String>,
    },
    /// A user's message, copied into the dialog's topic.
    Inbound {
        dialog: i64,
        /// What the message carries, in words ("a message with
        /// `hologram`"), when it is of a kind switchboard does not know and
        /// is copied on the chance that Telegram can: a failure notice then
        /// names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        what: Option<String>,
    },
    /// The greeting sent when a dialog opens.
    Welcome { dialog: i64 },
    /// switchboard tells the dialog's user something (e.g. that their
    /// message could not be delivered).
    UserNotice { dialog: i64 },
    /// switchboard tells operators something in the dialog's topic.
    TopicNotice { dialog: i64 },
    /// switchboard answers operators in a backend group's General topic.
    GeneralNotice,
    /// Creating, closing or reopening the dialog's topic.
    TopicChange { dialog: i64 },
    /// One message of a broadcast to a user.
    Broadcast,
    /// A message the existing bot sent the dialog's user (proxy and forward
    /// mode), mirrored into the dialog's topic.
    Mirror { dialog: i64 },
    /// The existing bot changed a message it sent the dialog's user: the
    /// mirror follows.
    MirrorEdit { dialog: i64 },
    /// The user edited a message: its copy in the topic follows.
    UserEdit { dialog: i64 },
    /// An operator edited a message in the topic: the user's copy follows.
    OperatorEdit { dialog: i64 },
    /// A reaction on one side, set on the counterpart on the other.
    Reaction { dialog: i64 },
}

/// The Bot API call a job makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// `copyMessage` for one id, `copyMessages` for several (an album stays
    /// an album): media and formatting are kept. Ids are increasing.
    Copy {
        to: Target,
        from_chat: i64,
        message_ids: Vec<i32>,
        /// The keyboard the copy shows (a mirror of a message with one; a
        /// single message only, as Telegram allows).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyboard: Option<Keyboard>,
        /// The message (in `from_chat`) the original replies to: the copy
        /// replies to its counterpart in the target chat, found through the
        /// message links when the job runs; without one, it is a plain
        /// message. A single message only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<i32>,
        /// `forwardMessage(s)` instead: the copy shows where the original
        /// came from (the first origin of a forwarded message, which
        /// Telegram keeps). Neither a keyboard nor a reply.
        #[serde(default, skip_serializing_if = "is_false")]
        forward: bool,
    },
    /// `sendMessage`; with `html`, the text is in Telegram's HTML format
    /// (`parse_mode = "HTML"`).
    SendText {
        to: Target,
        text: String,
        #[serde(default, skip_serializing_if = "is_false")]
        html: bool,
        /// The message of the target chat it replies to (if that still
        /// exists; else it is a plain message).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<i64>,
    },
    /// `createForumTopic` for the dialog, unless it has a topic already.
    /// Always runs at the head of the dialog's topic lane (see `sender`).
    CreateTopic {
        dialog: i64,
        name: String,
        /// The deleted topic this one replaces (the dispatcher is told once
        /// it exists, to say so in it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<i64>,
    },
    /// An edit of a message switchboard sent (a mirror): `editMessageText`,
    /// `editMessageCaption`, `editMessageMedia` or `editMessageReplyMarkup`
    /// of the message `message_id` in `chat`, with `params` (the new text,
    /// caption or media) and the keyboard to show.
    Edit {
        chat: i64,
        message_id: i64,
        change: EditKind,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        params: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyboard: Option<Keyboard>,
    },
    /// An edit (`change`, with `params`) of the copy in `chat` of message
    /// `original_id` of `original_chat`, a user's or an operator's. The copy
    /// is found through the message links when the job runs (it may still
    /// have been in flight when the edit was queued); a message that was
    /// never copied needs nothing.
    EditCopy {
        chat: i64,
        original_chat: i64,
        original_id: i64,
        change: EditKind,
        params: serde_json::Value,
    },
    /// `editForumTopic` of the dialog's topic, if it has one: its name
    /// becomes `name` (a status shown in it).
    RenameTopic { dialog: i64, name: String },
    /// `setMessageReaction` on the message `message_id` of `chat`:
    /// `reaction` (a JSON array of `ReactionType`; empty removes it).
    React {
        chat: i64,
        message_id: i64,
        reaction: serde_json::Value,
    },
    /// `closeForumTopic` of the dialog's topic, if it has one.
    CloseTopic { dialog: i64 },
    /// `reopenForumTopic` of the dialog's topic, if it has one.
    ReopenTopic { dialog: i64 },
}

/// An inline keyboard as a mirror shows it to operators: the rows and the
/// texts of the existing bot's keyboard, where a URL button stays a URL
/// button and every other button (a callback, ...) becomes a button of
/// switchboard's ([`Keyboard::INERT`]), so that a press in the group never
/// reaches the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyboard(pub Vec<Vec<Button>>);

/// One button of a [`Keyboard`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    /// A URL button's link; `None`: the bot's button, shown inert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Keyboard {
    /// The `callback_data` of a mirrored button that is not a link: a press
    /// only gets switchboard's answer.
    pub const INERT: &'static str = "switchboard:bot-button";

    /// The mirror of a message's `reply_markup`, if it has an inline
    /// keyboard with at least one button.
    #[must_use]
    pub fn mirror(reply_markup: &serde_json::Value) -> Option<Keyboard> {
        let rows = reply_markup.get("inline_keyboard")?.as_array()?;
        let rows: Vec<Vec<Button>> = rows
            .iter()
            .filter_map(serde_json::Value::as_array)
            .map(|row| {
                row.iter()
                    .filter_map(|button| {
                        let text = button.get("text")?.as_str()?.to_owned();
                        let url = button
                            .get("url")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned);
                        Some(Button { text, url })
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|row| !row.is_empty())
            .collect();
        (!rows.is_empty()).then_some(Keyboard(rows))
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// What an [`Action::Edit`] or [`Action::EditCopy`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditKind {
    Text,
    Caption,
    Media,
    Keyboard,
    /// A live location's new position.
    LiveLocation,
}

impl EditKind {
    /// The Bot API method.
    #[must_use]
    pub fn method(self) -> &'static str {
        match self {
            EditKind::Text => "editMessageText",
            EditKind::Caption => "editMessageCaption",
            EditKind::Media => "editMessageMedia",
            EditKind::Keyboard => "editMessageReplyMarkup",
            EditKind::LiveLocation => "editMessageLiveLocation",
        }
    }
}

/// One outgoing Bot API call: why, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub purpose: Purpose,
    pub action: Action,
}

impl Job {
    /// The dialog whose topic the job goes to, if it goes to one.
    #[must_use]
    pub fn topic_dialog(&self) -> Option<i64> {
        match &self.action {
            Action::Copy {
                to: Target::TopicOf(dialog),
                ..
            }
            | Action::SendText {
                to: Target::TopicOf(dialog),
                ..
            }
            | Action::CreateTopic { dialog, .. }
            | Action::CloseTopic { dialog }
            | Action::ReopenTopic { dialog }
            | Action::RenameTopic { dialog, .. } => Some(*dialog),
            Action::Copy { .. }
            | Action::SendText { .. }
            | Action::Edit { .. }
            | Action::EditCopy { .. }
            | Action::React { .. } => None,
        }
    }

    /// The chat the job sends into, for rate limiting: `group` is the backend
    /// group of the dialog it belongs to.
    #[must_use]
    pub fn chat(&self, group: i64) -> i64 {
        match &self.action {
            Action::Copy { to, .. } | Action::SendText { to, .. } => match to {
                Target::User(user) => *user,
                Target::General(chat) => *chat,
                Target::TopicOf(_) => group,
            },
            Action::CreateTopic { .. }
            | Action::CloseTopic { .. }
            | Action::ReopenTopic { .. }
            | Action::RenameTopic { .. } => group,
            Action::Edit { chat, .. }
            | Action::EditCopy { chat, .. }
            | Action::React { chat, .. } => *chat,
        }
    }

    /// Whether this job creates a topic (it then heads its lane).
    #[must_use]
    pub fn creates_topic(&self) -> bool {
        matches!(self.action, Action::CreateTopic { .. })
    }
}

/// Which lane goes first when several have work; lower first. Within a lane,
/// jobs always go in the order they were queued. Every job of a lane has the
/// lane's priority (see [`Lane::priority`]), so loading the outbox a window
/// per priority keeps each lane's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Toward users: operators' replies first, since a user is waiting.
    Reply = 0,
    /// Toward topics: users' messages, and what their dialogs need.
    Inbound = 1,
    /// Answers to operators in General.
    General = 2,
    /// Mass mailings: after the conversations, so they never delay one.
    Broadcast = 3,
    /// Renames of topics (the status shown in their names): last, so a
    /// rename never delays a message.
    TopicEdit = 4,
}

impl Priority {
    pub const ALL: [Priority; 5] = [
        Priority::Reply,
        Priority::Inbound,
        Priority::General,
        Priority::Broadcast,
        Priority::TopicEdit,
    ];
}

impl TryFrom<i64> for Priority {
    type Error = UnknownValue;

    fn try_from(value: i64) -> Result<Priority, UnknownValue> {
        Priority::ALL
            .into_iter()
            .find(|p| *p as i64 == value)
            .ok_or_else(|| UnknownValue::new("priority", value))
    }
}

/// The FIFO a job waits in (DESIGN invariant 3): one per dialog and
/// direction, one for General, one per broadcast recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// Toward the topic of the dialog of this user: topic calls, the user's
    /// messages, notices for operators. A topic creation heads it.
    Topic(i64),
    /// Toward this user: replies, the welcome, notices.
    User(i64),
    /// Answers in General topics.
    General,
    /// A broadcast message to this user.
    Broadcast(i64),
    /// Renames of the topic of the dialog of this user: apart from its
    /// messages, so that they never wait behind one another.
    Rename(i64),
}

impl Lane {
    #[must_use]
    pub fn priority(&self) -> Priority {
        match self {
            Lane::User(_) => Priority::Reply,
            Lane::Topic(_) => Priority::Inbound,
            Lane::General => Priority::General,
            Lane::Broadcast(_) => Priority::Broadcast,
            Lane::Rename(_) => Priority::TopicEdit,
        }
    }

    /// The lane as stored: `t<user>`, `u<user>`, `general`, `b<user>`,
    /// `r<user>`.
    #[must_use]
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// Reads a stored lane.
    ///
    /// # Errors
    /// When `key` is not one this version writes.
    pub fn parse(key: &str) -> Result<Lane, UnknownValue> {
        let unknown = || UnknownValue::new("lane", key);
        if key == "general" {
            return Ok(Lane::General);
        }
        let (kind, user) = key.split_at_checked(1).ok_or_else(unknown)?;
        let user: i64 = user.parse().map_err(|_| unknown())?;
        match kind {
            "t" => Ok(Lane::Topic(user)),
            "u" => Ok(Lane::User(user)),
            "b" => Ok(Lane::Broadcast(user)),
            "r" => Ok(Lane::Rename(user)),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lane::Topic(user) => write!(f, "t{user}"),
            Lane::User(user) => write!(f, "u{user}"),
            Lane::General => f.write_str("general"),
            Lane::Broadcast(user) => write!(f, "b{user}"),
            Lane::Rename(user) => write!(f, "r{user}"),
        }
    }
}

/// A stored value this version does not know: an error, never a default
/// (a newer version wrote it, or the database is damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database (written by a newer version?)")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl UnknownValue {
    pub fn new(what: &'static str, value: impl fmt::Display) -> UnknownValue {
        UnknownValue {
            what,
            value: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_round_trip_and_carry_their_priority() {
        for lane in [
            Lane::Topic(42),
            Lane::User(-7),
            Lane::General,
            Lane::Broadcast(9),
            Lane::Rename(3),
        ] {
            assert_eq!(Lane::parse(&lane.key()), Ok(lane.clone()));
        }
        assert_eq!(Lane::User(1).priority(), Priority::Reply);
        assert_eq!(Lane::Broadcast(1).priority(), Priority::Broadcast);
        for bad in ["", "x1", "t", "tx", "general2", "u1.5"] {
            assert!(Lane::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_priorities_are_errors() {
        for priority in Priority::ALL {
            assert_eq!(Priority::try_from(priority as i64), Ok(priority));
        }
        assert!(Priority::try_from(5).is_err());
        assert!(Priority::try_from(-1).is_err());
    }

    #[test]
    fn jobs_are_stored_as_purpose_and_action() {
        let job = Job {
            purpose: Purpose::Inbound {
                dialog: 3,
                what: None,
            },
            action: Action::Copy {
                to: Target::TopicOf(3),
                from_chat: 42,
                message_ids: vec![7],
                keyboard: None,
                reply_to: None,
                forward: false,
            },
        };
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "purpose": {"kind": "inbound", "dialog": 3},
                "action": {"kind": "copy", "to": {"topic_of": 3}, "from_chat": 42, "message_ids": [7]}
            })
        );
        assert_eq!(serde_json::from_value::<Job>(json).unwrap(), job);
        assert_eq!(job.topic_dialog(), Some(3));
        assert_eq!(job.chat(-100), -100);
    }
}
