//! The existing bot's updates, served from the buffer (`store::offered`)
//! with the Bot API's semantics.
//!
//! `getUpdates`: an `offset` confirms every update below it (a negative one
//! keeps only that many of the newest); up to `limit` (1–100) updates come
//! back, oldest first, with their original `update_id`; with a `timeout`,
//! the call waits until an update is offered, the time is up, or a newer
//! `getUpdates` of the same bot starts (the older one then answers with no
//! updates, where Telegram would answer 409: the bot never sees a conflict
//! it did not cause). `allowed_updates` is remembered, and switchboard polls
//! Telegram for it (see [`super::Wanted`]).
//!
//! `setWebhook`, `deleteWebhook` and `getWebhookInfo` are answered here:
//! the webhook is switchboard's to deliver to (`super::webhook`), never set
//! at Telegram, whose updates switchboard alone consumes. While a webhook is
//! set (or in forward mode, where bots.toml names it), `getUpdates` gets
//! Telegram's 409, as it would from Telegram.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header;
use axum::response::Response;
use serde_json::{Map, Value, json};
use tracing::{error, info};

use super::params::{MAX_LOCAL_BODY, Params};
use super::{ExistingBot, Wanted, answer};
use crate::http::AppState;
use crate::store::offered::{self, Webhook};

/// Longest long poll: Telegram's practical maximum.
const MAX_TIMEOUT: Duration = Duration::from_secs(50);
/// Telegram's answer to `getUpdates` while a webhook is set.
const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/// Reads the parameters of a method answered here.
async fn read(request: Request) -> Result<Params, Response> {
    let query = request.uri().query().map(str::to_owned);
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(request.into_body(), MAX_LOCAL_BODY)
        .await
        .map_err(|_| answer::error(413, "Request Entity Too Large"))?;
    Params::read(query.as_deref(), content_type.as_deref(), body)
        .await
        .map_err(|err| answer::bad_request(&err))
}

fn storage_failed(bot: &ExistingBot, err: &anyhow::Error) -> Response {
    error!(bot = %bot.name, cause = %format!("{err:#}"), "the update buffer cannot be read or written");
    answer::error(
        500,
        "Internal Server Error: switchboard cannot use its database just now; retry later",
    )
}

pub async fn get_updates(state: &AppState, bot: &Arc<ExistingBot>, request: Request) -> Response {
    let params = match read(request).await {
        Ok(params) => params,
        Err(response) => return response,
    };
    let read = || -> Result<_, String> {
        let offset = params.int("offset")?.unwrap_or(0);
        let limit = params.int("limit")?.unwrap_or(100).clamp(1, 100);
        let timeout = params.int("timeout")?.unwrap_or(0).max(0);
        let allowed = params.strings("allowed_updates")?;
        Ok((offset, limit, timeout, allowed))
    };
    let (offset, limit, timeout, allowed) = match read() {
        Ok(read) => read,
        Err(err) => return answer::bad_request(&err),
    };
    if bot.forward.is_some() {
        return answer::error(409, WEBHOOK_ACTIVE);
    }
    let limit = usize::try_from(limit).unwrap_or(100);
    let timeout = Duration::from_secs(u64::try_from(timeout).unwrap_or(0)).min(MAX_TIMEOUT);
    let deadline = tokio::time::Instant::now() + timeout;
    let number = bot.start_poll();
    let mut changes = bot.changes.subscribe();

    let name = bot.name.clone();
    let allowed_json = allowed.as_deref().map(stored_list);
    let first = state
        .store
        .write(move |tx| {
            if offered::asked(tx, &name)?.webhook.is_some() {
                return Ok(None);
            }
            if let Some(json) = &allowed_json {
                offered::save_allowed_updates(tx, &name, json)?;
            }
            offered::confirm(tx, &name, offset)?;
            Ok(Some(offered::waiting(tx, &name, limit)?))
        })
        .await;
    let mut updates = match first {
        Ok(Some(updates)) => updates,
        Ok(None) => return answer::error(409, WEBHOOK_ACTIVE),
        Err(err) => return storage_failed(bot, &err),
    };
    if allowed.is_some() {
        bot.set_wanted(Wanted::from_list(allowed));
    }
    loop {
        if !updates.is_empty() || timeout.is_zero() {
            return answer::ok_raw_list(updates.iter().map(|u| u.payload.as_str()));
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                return answer::ok_raw_list([]);
            },
            () = tokio::time::sleep_until(deadline) => return answer::ok_raw_list([]),
            () = state.proxy.shutdown.cancelled() => return answer::ok_raw_list([]),
        }
        if !bot.is_latest_poll(number) {
            return answer::ok_raw_list([]);
        }
        let name = bot.name.clone();
        updates = match state
            .store
            .run(move |conn| Ok(offered::waiting(conn, &name, limit)?))
            .await
        {
            Ok(updates) => updates,
            Err(err) => return storage_failed(bot, &err),
        };
    }
}

/// A bot's `allowed_updates` as `existing_bots` stores it (a JSON array;
/// a list of strings always serialises).
fn stored_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Telegram's rule for `secret_token`: 1–256 of `A-Z a-z 0-9 _ -`.
fn valid_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An absolute http(s) URL with a host. Unlike Telegram, plain http is
/// accepted: the bot usually listens next to switchboard.
fn valid_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

pub async fn set_webhook(state: &AppState, bot: &Arc<ExistingBot>, request: Request) -> Response {
    if bot.forward.is_some() {
        return answer::bad_request(
            "this bot is in forward mode: switchboard delivers its updates to forward_url from bots.toml",
        );
    }
    let params = match read(request).await {
        Ok(params) => params,
        Err(response) => return response,
    };
    let url = params.text("url").unwrap_or_default();
    if url.is_empty() {
        return remove_webhook(state, bot, params.flag("drop_pending_updates")).await;
    }
    if !valid_url(&url) {
        return answer::bad_request(
            "bad webhook: an http or https URL with a host must be provided",
        );
    }
    let secret = params.text("secret_token").filter(|s| !s.is_empty());
    if secret.as_deref().is_some_and(|s| !valid_secret(s)) {
        return answer::bad_request("secret token contains unallowed characters");
    }
    let max_connections = match params.int("max_connections") {
        Ok(value) => value.map(|n| n.clamp(1, 100)),
        Err(err) => return answer::bad_request(&err),
    };
    let allowed = match params.strings("allowed_updates") {
        Ok(allowed) => allowed,
        Err(err) => return answer::bad_request(&err),
    };
    let drop_pending = params.flag("drop_pending_updates");
    let webhook = Webhook {
        url,
        secret,
        max_connections,
    };
    let name = bot.name.clone();
    let allowed_json = allowed.as_deref().map(stored_list);
    let saved = webhook.clone();
    let result = state
        .store
        .write(move |tx| {
            let before = offered::asked(tx, &name)?.webhook;
            if let Some(json) = &allowed_json {
                offered::save_allowed_updates(tx, &name, json)?;
            }
            if drop_pending {
                offered::drop_all(tx, &name)?;
            }
            let same = before.as_ref() == Some(&saved);
            if !same {
                offered::save_webhook(tx, &name, Some(&saved))?;
            }
            Ok(same)
        })
        .await;
    match result {
        Ok(same) => {
            if allowed.is_some() {
                bot.set_wanted(Wanted::from_list(allowed));
            }
            // Ends a long poll, and wakes the delivery.
            bot.start_poll();
            if !same {
                info!(bot = %bot.name, "the bot set a webhook; switchboard delivers its updates there");
            }
            let description = if same {
                "Webhook is already set"
            } else {
                "Webhook was set"
            };
            answer::ok_described(&json!(true), description)
        }
        Err(err) => storage_failed(bot, &err),
    }
}

pub async fn delete_webhook(
    state: &AppState,
    bot: &Arc<ExistingBot>,
    request: Request,
) -> Response {
    if bot.forward.is_some() {
        return answer::bad_request(
            "this bot is in forward mode: its webhook is forward_url in bots.toml",
        );
    }
    let params = match read(request).await {
        Ok(params) => params,
        Err(response) => return response,
    };
    remove_webhook(state, bot, params.flag("drop_pending_updates")).await
}

async fn remove_webhook(state: &AppState, bot: &Arc<ExistingBot>, drop_pending: bool) -> Response {
    let name = bot.name.clone();
    let result = state
        .store
        .write(move |tx| {
            let had = offered::asked(tx, &name)?.webhook.is_some();
            if had {
                offered::save_webhook(tx, &name, None)?;
            }
            if drop_pending {
                offered::drop_all(tx, &name)?;
            }
            Ok(had)
        })
        .await;
    match result {
        Ok(had) => {
            bot.start_poll();
            let description = if had {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            answer::ok_described(&json!(true), description)
        }
        Err(err) => storage_failed(bot, &err),
    }
}

pub async fn get_webhook_info(state: &AppState, bot: &Arc<ExistingBot>) -> Response {
    let name = bot.name.clone();
    let result = state
        .store
        .run(move |conn| Ok((offered::asked(conn, &name)?, offered::count(conn, &name)?)))
        .await;
    let (asked, pending) = match result {
        Ok(read) => read,
        Err(err) => return storage_failed(bot, &err),
    };
    let url = bot
        .forward
        .as_ref()
        .map(|forward| forward.url.clone())
        .or_else(|| asked.webhook.as_ref().map(|w| w.url.clone()));
    let mut info = Map::new();
    info.insert("url".into(), json!(url.clone().unwrap_or_default()));
    info.insert("has_custom_certificate".into(), json!(false));
    info.insert("pending_update_count".into(), json!(pending));
    if url.is_some() {
        if let Some((date, message)) = &asked.last_error {
            info.insert("last_error_date".into(), json!(date));
            info.insert("last_error_message".into(), json!(message));
        }
        let max = asked
            .webhook
            .as_ref()
            .and_then(|w| w.max_connections)
            .unwrap_or(40);
        info.insert("max_connections".into(), json!(max));
        if let Some(list) = Wanted::from_stored(asked.allowed_updates.as_deref()).list() {
            info.insert("allowed_updates".into(), json!(list));
        }
    }
    answer::ok(&Value::Object(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_settings_are_checked_as_telegram_checks_them() {
        assert!(valid_secret("abc_DEF-123"));
        assert!(!valid_secret(""));
        assert!(!valid_secret("with space"));
        assert!(!valid_secret(&"a".repeat(257)));
        assert!(valid_url("http://127.0.0.1:8000/hook"));
        assert!(valid_url("https://bot.example/hook"));
        assert!(!valid_url("ftp://bot.example/hook"));
        assert!(!valid_url("/hook"));
        assert!(!valid_url("http://"));
    }
}
