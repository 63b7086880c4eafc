//! The durable outbox: what switchboard will say to Telegram, and the sender
//! that says it.
//!
//! The dispatcher writes [`Job`]s in the same transaction as the state change
//! that called for them; the [`sender`] executes them, records the result, and
//! reports jobs that failed for good back to the dispatcher
//! ([`Report`]) in the inbox, so product rules decide what people are told.

pub mod limiter;
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
    /// Create the dialog's topic, unless it has one already. Always runs at
    /// the head of the dialog's topic lane (see `sender`).
    CreateTopic {
        dialog_id: i64,
        name: String,
        /// The deleted topic this one replaces (the dispatcher is told once
        /// it exists, to say so in it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<i64>,
    },
    /// `copyMessage`: keeps media and formatting.
    Copy {
        to: Target,
        from_chat: i64,
        message_id: i32,
        /// What the message carries, in words ("a message with `hologram`"),
        /// when it is of a kind switchboard does not know and is copied on
        /// the chance that Telegram can: a failure note then names it. `None`
        /// for ordinary content.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        what: Option<String>,
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
    /// What an existing bot sent, mirrored into topics.
    Mirror = 3,
    /// Mass mailings: last, so they never delay a conversation.
    Broadcast = 4,
}

impl Priority {
    #[must_use]
    pub fn from_i64(value: i64) -> Priority {
        match value {
            0 => Priority::Reply,
            1 => Priority::Inbound,
            2 => Priority::TopicEdit,
            3 => Priority::Mirror,
            _ => Priority::Broadcast,
        }
    }
}

impl Job {
    /// The dialog whose topic the job goes to, if it goes to one.
    #[must_use]
    pub fn dialog(&self) -> Option<i64> {
        match self {
            Job::Copy {
                to: Target::Topic(dialog),
                ..
            }
            | Job::Text {
                to: Target::Topic(dialog),
                ..
            } => Some(*dialog),
            Job::CreateTopic { dialog_id, .. }
            | Job::CloseTopic { dialog_id }
            | Job::ReopenTopic { dialog_id } => Some(*dialog_id),
            _ => None,
        }
    }

    /// The lane of this job in the dialog of `user_id`: toward the topic or
    /// toward the user (DESIGN invariant 3).
    #[must_use]
    pub fn lane(&self, user_id: i64) -> String {
        if self.dialog().is_some() {
            topic_lane(user_id)
        } else {
            user_lane(user_id)
        }
    }

    /// The chat the job sends into, for rate limiting: `group` is the backend
    /// group of the dialog it belongs to.
    #[must_use]
    pub fn chat(&self, group: i64) -> i64 {
        match self {
            Job::Copy { to, .. } | Job::Text { to, .. } => match to {
                Target::User(user) => *user,
                Target::General(chat) => *chat,
                Target::Topic(_) => group,
            },
            Job::CreateTopic { .. } | Job::CloseTopic { .. } | Job::ReopenTopic { .. } => group,
        }
    }
}

/// Why a job failed for good, where the product reacts to the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// 403 "bot was blocked by the user".
    Blocked,
    Other,
}

/// What the sender tells the dispatcher (through the inbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// A job failed for good.
    Failed {
        job: Job,
        error: String,
        kind: FailureKind,
    },
    /// The dialog's topic was deleted; a new one with the same name replaced
    /// it, and the job that found out was delivered there.
    TopicReplaced { dialog_id: i64 },
}

/// The lane of a dialog's jobs toward its topic: topic calls, the user's
/// messages, notes. Topic creation heads it.
#[must_use]
pub fn topic_lane(user_id: i64) -> String {
    format!("t{user_id}")
}

/// The lane of a dialog's jobs toward the user: replies, the welcome, notices.
#[must_use]
pub fn user_lane(user_id: i64) -> String {
    format!("u{user_id}")
}

/// The lane of answers in the General topic.
pub const GENERAL_LANE: &str = "general";
