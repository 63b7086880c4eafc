//! Long polling for one bot: `getUpdates` into the inbox.
//!
//! Each batch is stored together with the new offset in one transaction
//! before the next `getUpdates` confirms it to Telegram (DESIGN invariant 1),
//! so a crash at any point re-fetches rather than loses updates.
//!
//! Failures: 429 waits exactly `retry_after`; network errors and 5xx back off
//! exponentially with jitter; 401 stops this bot (and only this bot) with one
//! clear error; 409 names its two possible causes and keeps retrying slowly.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::http::{BotHealth, Health};
use crate::store::{self, Store};
use crate::telegram::{self, Client};

/// Longest pause between two tries after failures, in multiples of the
/// first one (30 s in production).
const MAX_BACKOFF_FACTOR: u32 = 30;
/// Pause after an empty answer to a short poll (`poll_timeout = "0s"`).
const SHORT_POLL_PAUSE: Duration = Duration::from_secs(1);

pub struct Poller {
    pub bot: String,
    /// A client whose timeout exceeds `poll_timeout`.
    pub client: Client,
    pub store: Store,
    pub poll_timeout: Duration,
    /// Notified after updates were stored.
    pub dispatcher_wake: Arc<Notify>,
    /// Where this poller reports its state for `/healthz`.
    pub health: Arc<Health>,
    /// The first delay before polling again after a failure (doubling after).
    pub retry_base: Duration,
}

impl Poller {
    pub async fn run(self, shutdown: CancellationToken) {
        self.health.set(&self.bot, BotHealth::Starting);
        let Some(username) = self.identify(&shutdown).await else {
            return;
        };
        info!(bot = %self.bot, username = %username, "connected to Telegram");
        let bot = self.bot.clone();
        let loaded = self
            .store
            .run(move |conn| {
                store::bots::save_username(conn, &bot, &username)?;
                Ok(store::bots::offset(conn, &bot)?)
            })
            .await;
        let mut offset = match loaded {
            Ok(offset) => offset,
            Err(err) => {
                let reason = format!("cannot read the polling position: {err:#}");
                error!(bot = %self.bot, "stopped: {reason}");
                self.health.set(&self.bot, BotHealth::Stopped { reason });
                return;
            }
        };
        self.health.set(&self.bot, BotHealth::Polling);
        let mut failures = 0;
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = self.client.get_updates(offset, self.poll_timeout) => result,
            };
            if let Ok(updates) = &result {
                debug!(bot = %self.bot, offset, updates = updates.len(), "getUpdates answered");
            }
            if result.is_ok() && failures > 0 {
                self.health.set(&self.bot, BotHealth::Polling);
            }
            let pause = match result {
                Ok(updates) if updates.is_empty() => {
                    failures = 0;
                    if self.poll_timeout.is_zero() {
                        SHORT_POLL_PAUSE
                    } else {
                        Duration::ZERO
                    }
                }
                Ok(updates) => match self.store_batch(updates).await {
                    Ok(next) => {
                        failures = 0;
                        offset = next;
                        self.dispatcher_wake.notify_one();
                        Duration::ZERO
                    }
                    Err(err) => {
                        // Not stored, so not confirmed: fetched again next time.
                        failures += 1;
                        error!(bot = %self.bot, cause = %format!("{err:#}"), "cannot store updates; will fetch them again");
                        self.backoff(failures)
                    }
                },
                Err(err) => match self.pause_after(&err, &mut failures) {
                    Some(pause) => pause,
                    None => return,
                },
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// `getMe`, retried until it answers; `None` if the bot must stop.
    async fn identify(&self, shutdown: &CancellationToken) -> Option<String> {
        let mut failures = 0;
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return None,
                result = self.client.get_me() => result,
            };
            let err = match result {
                Ok(me) => return Some(me.username.unwrap_or_default()),
                Err(err) => err,
            };
            let pause = self.pause_after(&err, &mut failures)?;
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Stores the batch and the offset after it; returns that offset.
    async fn store_batch(&self, updates: Vec<telegram::RawUpdate>) -> anyhow::Result<i64> {
        let next = updates.iter().map(|u| u.update_id).max().unwrap_or(0) + 1;
        let bot = self.bot.clone();
        self.store
            .write(move |tx| {
                store::inbox::append_updates(tx, &bot, updates.iter().map(|u| u.json.get()), next)?;
                Ok(())
            })
            .await?;
        Ok(next)
    }

    /// How long to wait after a failed call; `None` when the bot must stop.
    fn pause_after(&self, err: &telegram::Error, failures: &mut u32) -> Option<Duration> {
        // A 429 names its own wait; it must not lengthen the backoff of
        // failures that come after it.
        if !matches!(err, telegram::Error::RetryAfter(_)) {
            *failures += 1;
        }
        let health = match err {
            telegram::Error::Unauthorized => BotHealth::Stopped {
                reason: err.to_string(),
            },
            _ => BotHealth::Retrying {
                error: err.to_string(),
            },
        };
        self.health.set(&self.bot, health);
        match err {
            telegram::Error::Unauthorized => {
                error!(bot = %self.bot,
                    "stopped: Telegram rejected the token (401 Unauthorized). Check this bot's token \
                     in bots.toml; it may have been revoked in @BotFather. The other bots keep running.");
                None
            }
            telegram::Error::RetryAfter(after) => {
                warn!(bot = %self.bot, "rate limited: polling again in {}s", after.as_secs());
                Some(*after)
            }
            telegram::Error::Conflict(description) => {
                error!(bot = %self.bot, cause = %description,
                    "409 Conflict: another program is polling this token (stop it: only one may), \
                     or a webhook is set for it (remove it with deleteWebhook). Retrying.");
                Some(self.backoff(*failures + 2))
            }
            other => {
                warn!(bot = %self.bot, cause = %other, "getUpdates failed; retrying");
                Some(self.backoff(failures.saturating_sub(1)))
            }
        }
    }

    /// The pause before try `failures + 1`.
    fn backoff(&self, failures: u32) -> Duration {
        crate::backoff::delay_from(
            self.retry_base,
            failures,
            self.retry_base * MAX_BACKOFF_FACTOR,
        )
    }
}
