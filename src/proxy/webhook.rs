//! Delivering an existing bot's updates to its webhook: the URL it set with
//! `setWebhook` on the proxy, or `forward_url` in forward mode.
//!
//! One task per bot, like Telegram's own delivery: the oldest waiting update
//! is POSTed as JSON, with `X-Telegram-Bot-Api-Secret-Token` when a secret
//! is set; only a 2xx answer takes it off the buffer, so updates arrive one
//! at a time and in order. A failure is recorded for `getWebhookInfo`
//! (`last_error_date`, `last_error_message`, in Telegram's words) and the
//! same update is tried again after a pause that doubles up to
//! [`MAX_PAUSE`]; a new webhook, or new updates, wake the task early.
//!
//! A webhook may answer with a method call (Telegram's "webhook reply":
//! `{"method":"sendMessage",...}`). It is made through the proxy, as if the
//! bot had called it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{ExistingBot, Proxy};
use crate::clock::Clock;
use crate::http::Health;
use crate::store::{self, Store, offered};

/// Longest pause between two tries of a failing webhook.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// How long a webhook may take to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest webhook answer read (a webhook reply is one method call).
const MAX_REPLY: usize = 1024 * 1024;

/// Where updates go, and with which secret.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    url: String,
    secret: Option<String>,
}

/// One bot's webhook delivery.
pub struct Delivery {
    pub bot: Arc<ExistingBot>,
    pub store: Store,
    pub proxy: Proxy,
    pub clock: Arc<dyn Clock>,
    /// The first pause after a failed delivery (doubling after).
    pub retry_base: Duration,
    /// Where a webhook that does not take its updates shows.
    pub health: Arc<Health>,
}

impl Delivery {
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = self.bot.changes.subscribe();
        let mut failures: u32 = 0;
        loop {
            changes.borrow_and_update();
            let pause = match self.next().await {
                Ok(Some((target, update))) => match self.deliver(&target, &update).await {
                    Ok(reply) => {
                        let (name, id) = (self.bot.name.clone(), update.update_id);
                        let taken = self
                            .store
                            .write(move |tx| Ok(offered::delivered(tx, &name, id)?))
                            .await;
                        self.health.webhook_delivered(&self.bot.name);
                        if taken.is_ok() {
                            failures = 0;
                            if let Some(reply) = reply {
                                self.webhook_reply(reply).await;
                            }
                            continue;
                        }
                        // Delivered but not recorded: delivered again later,
                        // as Telegram redelivers what it could not confirm.
                        failures += 1;
                        crate::backoff::delay_from(self.retry_base, failures - 1, MAX_PAUSE)
                    }
                    Err(error) => {
                        failures += 1;
                        if failures == 1 {
                            warn!(bot = %self.bot.name, cause = %error,
                                "the bot's webhook did not take an update; trying again");
                        }
                        let (name, now) = (self.bot.name.clone(), self.clock.now());
                        self.health.webhook_failed(&name, &error, now);
                        let _ = self
                            .store
                            .write(move |tx| {
                                Ok(offered::save_delivery_error(tx, &name, now, &error)?)
                            })
                            .await;
                        crate::backoff::delay_from(self.retry_base, failures - 1, MAX_PAUSE)
                    }
                },
                Ok(None) => {
                    failures = 0;
                    self.health.webhook_delivered(&self.bot.name);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        _ = changes.changed() => continue,
                    }
                }
                Err(err) => {
                    failures += 1;
                    if !store::is_storage_error(&err) {
                        warn!(bot = %self.bot.name, cause = %format!("{err:#}"),
                            "cannot read the updates waiting for the webhook; retrying");
                    }
                    crate::backoff::delay_from(self.retry_base, failures - 1, store::RETRY_MAX)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The webhook and the oldest update waiting for it, if both exist.
    async fn next(&self) -> anyhow::Result<Option<(Target, offered::Offered)>> {
        let name = self.bot.name.clone();
        let forward = self.bot.forward.as_ref().map(|forward| Target {
            url: forward.url.clone(),
            secret: forward.secret.as_ref().map(|s| s.expose().to_owned()),
        });
        self.store
            .run(move |conn| {
                let target = match forward {
                    Some(target) => target,
                    None => match offered::asked(conn, &name)?.webhook {
                        Some(webhook) => Target {
                            url: webhook.url,
                            secret: webhook.secret,
                        },
                        None => return Ok(None),
                    },
                };
                Ok(offered::waiting(conn, &name, 1)?
                    .into_iter()
                    .next()
                    .map(|update| (target, update)))
            })
            .await
    }

    /// POSTs one update; `Ok` with the answer's method call, if it holds
    /// one. The error is worded as Telegram words `last_error_message`.
    async fn deliver(
        &self,
        target: &Target,
        update: &offered::Offered,
    ) -> Result<Option<Value>, String> {
        let mut request = self
            .proxy
            .http
            .post(&target.url)
            .timeout(DELIVERY_TIMEOUT)
            .header(header::CONTENT_TYPE, "application/json")
            .body(update.payload.clone());
        if let Some(secret) = &target.secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request.send().await.map_err(|err| {
            if err.is_timeout() {
                "Read timeout expired".to_owned()
            } else if err.is_connect() {
                "Connection refused".to_owned()
            } else {
                format!(
                    "Failed to deliver: {}",
                    crate::config::mask_tokens(&crate::telegram::error_chain(&err.without_url()))
                )
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "Wrong response from the webhook: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned());
        }
        debug!(bot = %self.bot.name, update = update.update_id, "delivered to the webhook");
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Ok(None);
        }
        let body = match response.bytes().await {
            Ok(body) if body.len() <= MAX_REPLY => body,
            _ => return Ok(None),
        };
        Ok(serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(|reply| reply.get("method").is_some_and(Value::is_string)))
    }

    /// Makes the method call a webhook answered with.
    async fn webhook_reply(&self, mut reply: Value) {
        let Some(method) = reply
            .as_object_mut()
            .and_then(|call| call.remove("method"))
            .and_then(|method| method.as_str().map(str::to_owned))
        else {
            return;
        };
        let valid = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            warn!(bot = %self.bot.name, "a webhook reply named no valid method; ignored");
            return;
        }
        match super::pass::call(&self.proxy, &self.bot, &method, &reply).await {
            Ok(()) => info!(bot = %self.bot.name, method = %method, "made the webhook's reply"),
            Err(cause) => {
                warn!(bot = %self.bot.name, method = %method, cause = %cause, "the webhook's reply failed");
            }
        }
    }
}
