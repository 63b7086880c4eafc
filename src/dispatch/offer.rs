//! What an existing bot (proxy and forward mode) is offered: every update
//! Telegram sent, in order and with its original `update_id`, but
//!
//! - those of a type the bot did not ask for (its `allowed_updates`, or
//!   Telegram's default when it never chose), as Telegram would not have
//!   sent them either;
//! - those from its backend groups: they are switchboard's own, and the bot
//!   would react to operators;
//! - with `bot_sees_dialogs = false`, a user's messages (new or edited) while
//!   their dialog is open, so that the bot is silent while a human talks.
//!
//! It is decided here, in the dispatcher, because only here is the dialog's
//! state known in the order of the updates. An update is offered whether or
//! not switchboard's own rules could handle it: the bot keeps working even
//! when switchboard sets an update aside.

use rusqlite::Transaction;
use serde_json::Value;

use crate::config::BotConfig;
use crate::proxy::Wanted;
use crate::store::dialogs::{self, Status};
use crate::store::{groups, offered};

/// Offers the raw update `payload` to the existing bot of `bot`, if it is
/// for the bot (see the module's documentation). Returns whether it was.
pub fn offer(
    tx: &Transaction<'_>,
    bot: &BotConfig,
    payload: &str,
    now: i64,
) -> anyhow::Result<bool> {
    // What cannot be read as an update cannot be offered as one either.
    let Ok(Value::Object(update)) = serde_json::from_str::<Value>(payload) else {
        return Ok(false);
    };
    let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
        return Ok(false);
    };
    let Some((kind, body)) = update.iter().find(|(key, _)| *key != "update_id") else {
        return Ok(false);
    };
    let wanted = Wanted::from_stored(offered::allowed_updates(tx, &bot.name)?.as_deref());
    if !wanted.wants(kind) {
        return Ok(false);
    }
    if let Some(chat) = chat_of(body) {
        if chat < 0 && is_backend_group(tx, bot, chat)? {
            return Ok(false);
        }
        let users_message = matches!(kind.as_str(), "message" | "edited_message") && chat > 0;
        if users_message && !bot.settings.bot_sees_dialogs {
            let open = dialogs::by_user(tx, &bot.name, chat)?
                .is_some_and(|dialog| dialog.status != Status::Closed);
            if open {
                return Ok(false);
            }
        }
    }
    offered::offer(tx, &bot.name, update_id, payload, now)?;
    Ok(true)
}

/// The chat an update happened in: its own `chat`, or its message's (a
/// `callback_query`).
fn chat_of(body: &Value) -> Option<i64> {
    body.get("chat")
        .or_else(|| body.get("message")?.get("chat"))?
        .get("id")?
        .as_i64()
}

fn is_backend_group(tx: &Transaction<'_>, bot: &BotConfig, chat: i64) -> rusqlite::Result<bool> {
    Ok(bot.backend_groups.contains(&chat)
        || groups::current_all(tx, &bot.name, &bot.backend_groups)?.contains(&chat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_chat_of_an_update_is_found_where_telegram_puts_it() {
        assert_eq!(chat_of(&json!({"chat": {"id": 5}, "text": "hi"})), Some(5));
        assert_eq!(
            chat_of(&json!({"id": "q", "message": {"chat": {"id": -100}}})),
            Some(-100)
        );
        assert_eq!(chat_of(&json!({"id": "q", "inline_message_id": "x"})), None);
        assert_eq!(chat_of(&json!({"query": "x"})), None);
    }
}
