//! Interception: the calls of the existing bot that put a message in front
//! of a user, or change one, are recorded for the dispatcher, which mirrors
//! them into the user's topic (`dispatch::mirror`).
//!
//! The proxy reads Telegram's answer to such a call (a `Message`, a list of
//! them, or the ids of copies), records it in the inbox in one write, and
//! only then answers the bot: what the bot was told it sent is durable. The
//! dispatcher decides the rest (whether the user has a dialog, what the
//! mirror shows), in order with the users' own updates. Only ids, the
//! keyboard and, for edits, the new text reach the inbox, and they leave
//! it once dispatched.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, warn};

use super::{ExistingBot, Proxy};
use crate::store::{self, inbox};

/// A call of the existing bot's, as the dispatcher gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intercepted {
    /// The method, in lower case (`sendmessage`, `editmessagetext`, ...).
    pub method: String,
    /// The `chat_id` the call named, for the answers that do not say it
    /// (`copyMessage` answers with a message id only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Telegram's `result`.
    pub result: Value,
}

impl Intercepted {
    /// Whether the call changed a message rather than sent one.
    #[must_use]
    pub fn is_edit(&self) -> bool {
        self.method.starts_with("edit") || self.method == "stopmessagelivelocation"
    }
}

/// Whether calls of `method` (in lower case) are recorded: they send a
/// message, or change one.
#[must_use]
pub fn is_intercepted(method: &str) -> bool {
    (method.starts_with("send") && method != "sendchataction")
        || matches!(
            method,
            "copymessage"
                | "copymessages"
                | "forwardmessage"
                | "forwardmessages"
                | "editmessagetext"
                | "editmessagecaption"
                | "editmessagemedia"
                | "editmessagereplymarkup"
                | "editmessagelivelocation"
                | "stopmessagelivelocation"
        )
}

/// Whether the answer to `method` lacks the chat, which the request then
/// has to tell.
#[must_use]
pub fn needs_chat_id(method: &str) -> bool {
    matches!(method, "copymessage" | "copymessages" | "forwardmessages")
}

/// Records a successful call for the dispatcher, before the bot is
/// answered. While the database refuses (a full disk), the record is kept
/// in memory and retried in the background instead, and the bot is answered:
/// its call succeeded at Telegram all the same.
pub async fn record(proxy: &Proxy, bot: &ExistingBot, call: Intercepted) {
    let payload = match serde_json::to_string(&call) {
        Ok(payload) => payload,
        Err(err) => {
            error!(bot = %bot.name, cause = %err, "cannot record a message the bot sent");
            return;
        }
    };
    if let Err(err) = append(proxy, &bot.name, &payload).await {
        if !store::is_storage_error(&err) {
            error!(bot = %bot.name, cause = %format!("{err:#}"),
                "cannot record a message the bot sent; retrying");
        }
        let (proxy, name) = (proxy.clone(), bot.name.clone());
        tokio::spawn(async move {
            let mut failures = 1;
            loop {
                let pause =
                    crate::backoff::delay_from(proxy.retry_base, failures - 1, store::RETRY_MAX);
                tokio::select! {
                    () = proxy.shutdown.cancelled() => {
                        warn!(bot = %name, "stopping with a message of the bot's not recorded; it is not mirrored");
                        return;
                    }
                    () = tokio::time::sleep(pause) => {}
                }
                if append(&proxy, &name, &payload).await.is_ok() {
                    return;
                }
                failures += 1;
            }
        });
    }
}

async fn append(proxy: &Proxy, bot: &str, payload: &str) -> anyhow::Result<()> {
    let (bot, payload) = (bot.to_owned(), payload.to_owned());
    proxy
        .store
        .write(move |tx| {
            inbox::append(tx, &bot, inbox::Kind::Intercepted, &payload)?;
            Ok(())
        })
        .await?;
    proxy.dispatcher_wake.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_and_editing_calls_are_recorded() {
        for method in [
            "sendmessage",
            "sendphoto",
            "sendmediagroup",
            "copymessage",
            "editmessagetext",
            "editmessagereplymarkup",
        ] {
            assert!(is_intercepted(method), "{method}");
        }
        for method in [
            "sendchataction",
            "getme",
            "answercallbackquery",
            "deletemessage",
        ] {
            assert!(!is_intercepted(method), "{method}");
        }
        let edit = Intercepted {
            method: "editmessagecaption".into(),
            chat_id: None,
            result: Value::Bool(true),
        };
        assert!(edit.is_edit());
    }
}
