//! The durable outbox: what switchboard will say to Telegram, and the sender
//! that says it.
//!
//! The dispatcher writes [`Job`]s in the same transaction as the state change
//! that called for them; the [`sender`] executes them, records the result, and
//! reports jobs that failed for good back to the dispatcher as an [`Outcome`]
//! in the inbox, so product rules decide what people are told about it.

pub mod sender;

use serde::{Deserialize, Serialize};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The private chat with this user.
    User(i64),
    /// The topic of this dialog (looked up when sent: it may not exist yet when queued).
    Topic(i64),
    /// The General topic of this backend group.
    General(i64),
}

/// One outgoing Bot API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Create the dialog's topic, unless it has one already.
    CreateTopic {
        dialog_id: i64,
        name: String,
    },
    /// `copyMessage`: keeps media and formatting.
    Copy {
        to: Target,
        from_chat: i64,
        message_id: i32,
    },
    Text {
        to: Target,
        text: String,
    },
    CloseTopic {
        dialog_id: i64,
    },
    ReopenTopic {
        dialog_id: i64,
    },
}

/// Which lane goes first when several have work; lower first. Within a lane,
/// jobs always go in the order they were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Operator replies to users.
    Reply = 0,
    /// User messages into topics, and what opening a dialog takes.
    Inbound = 1,
    /// Topic state changes and notes.
    TopicEdit = 2,
}

impl Priority {
    #[must_use]
    pub fn from_i64(value: i64) -> Priority {
        match value {
            0 => Priority::Reply,
            1 => Priority::Inbound,
            _ => Priority::TopicEdit,
        }
    }
}

/// A job that failed for good, handed back to the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub job: Job,
    pub error: String,
}

/// The lane of everything about one user's dialog.
#[must_use]
pub fn dialog_lane(user_id: i64) -> String {
    format!("u{user_id}")
}

/// The lane of answers in the General topic.
pub const GENERAL_LANE: &str = "general";
