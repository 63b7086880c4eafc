//! The durable outbox: what switchboard will say to Telegram, and the sender
//! that says it.
//!
//! The dispatcher writes [`Job`]s in the same transaction as the state change
//! that called for them; the [`sender`] executes them, records each outcome
//! (and, for a copy, its message links), and reports jobs that failed for
//! good back to the dispatcher ([`SenderReport`]) in the inbox, so product
//! rules decide what people are told.

pub mod job;
pub mod limiter;
pub mod queue;
pub mod sender;

use serde::{Deserialize, Serialize};

pub use job::{
    Action, Button, EditKind, Job, Keyboard, Lane, Priority, Purpose, Target, UnknownValue,
};

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
pub enum SenderReport {
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
