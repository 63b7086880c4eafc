//! Long polling for one bot: `getUpdates` into the inbox.
//!
//! Each batch is stored together with the new offset in one transaction
//! before the next `getUpdates` confirms it to Telegram (DESIGN invariant 1),
//! so a crash at any point re-fetches rather than loses updates.
//!
//! An update id already stored (an update served twice) is not stored again.
//!
//! Failures: 429 waits exactly `retry_after`; network errors and 5xx back off
//! exponentially with jitter; 409 names its two possible causes and keeps
//! retrying slowly. A 401 (or 404: the token is unknown) stops this bot's
//! polling and sending (only this bot's) with one clear error, and rejects
//! its [`TokenGate`]: the sender keeps its queue. The poller then probes with
//! `getMe`, rarely (from `token_probe`, doubling up to 60 times it); once the
//! token works again, polling and sending go on where they stopped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::http::{BotHealth, Health};
use crate::proxy::{ExistingBot, Wanted};
use crate::store::{self, Store};
use crate::telegram::gate::TokenGate;
use crate::telegram::{self, Client};

/// Longest pause between two tries after failures, in multiples of the
/// first one (30 s in production).
const MAX_BACKOFF_FACTOR: u32 = 30;
/// Pause after an empty answer to a short poll (`poll_timeout = "0s"`).
const SHORT_POLL_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause between two probes of a rejected token, in multiples of
/// the first one (5 minutes in production).
const MAX_PROBE_FACTOR: u32 = 60;

#[derive(Clone)]
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
    /// The first pause before probing a rejected token again (doubling after).
    pub token_probe: Duration,
    /// Whether Telegram accepts the token; shared with the bot's sender.
    pub token: TokenGate,
    /// Proxy and forward mode: the existing bot, whose wanted update types
    /// are polled for too.
    pub existing: Option<Arc<ExistingBot>>,
}

impl Poller {
    pub async fn run(self, shutdown: CancellationToken) {
        self.health.set(&self.bot, BotHealth::Starting);
        let Some(username) = self.identify(&shutdown).await else {
            return;
        };
        info!(bot = %self.bot, username = %username, "connected to Telegram");
        let Some(mut offset) = self.start_position(&username, &shutdown).await else {
            return;
        };
        self.check_telegram_webhook().await;
        self.health.set(&self.bot, BotHealth::Polling);
        let mut failures = 0;
        let mut wanted = self.existing.as_ref().map(|bot| bot.wanted());
        loop {
            let allowed: Vec<String> = match &mut wanted {
                Some(wanted) => wanted.borrow_and_update().with(telegram::CONNECTED_UPDATES),
                None => telegram::ALLOWED_UPDATES
                    .iter()
                    .map(|&k| k.to_owned())
                    .collect(),
            };
            let wanted_changed = async {
                match &mut wanted {
                    Some(wanted) => {
                        if wanted.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                // The existing bot asked for other types: poll again for
                // them now. Nothing is lost: the offset did not move.
                () = wanted_changed => continue,
                result = self.client.get_updates(offset, self.poll_timeout, &allowed) => result,
            };
            if let Ok(updates) = &result {
                debug!(bot = %self.bot, offset, updates = updates.len(), "getUpdates answered");
                if self.token.accept() {
                    info!(bot = %self.bot, "Telegram accepts the token again");
                }
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
                        if !store::is_storage_error(&err) {
                            error!(bot = %self.bot, cause = %format!("{err:#}"), "cannot store updates; will fetch them again");
                        }
                        self.backoff(failures).min(store::RETRY_MAX)
                    }
                },
                Err(telegram::Error::Unauthorized) => {
                    if self.identify(&shutdown).await.is_none() {
                        return;
                    }
                    self.health.set(&self.bot, BotHealth::Polling);
                    failures = 0;
                    Duration::ZERO
                }
                Err(err) => self.pause_after(&err, &mut failures),
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Records the bot's username and reads where polling goes on, retried
    /// while the database refuses (a full disk passes); `None` on shutdown.
    async fn start_position(&self, username: &str, shutdown: &CancellationToken) -> Option<i64> {
        let mut failures = 0;
        loop {
            let (bot, username) = (self.bot.clone(), username.to_owned());
            let loaded = self
                .store
                .write(move |tx| {
                    store::bots::save_username(tx, &bot, &username)?;
                    let allowed = store::offered::allowed_updates(tx, &bot)?;
                    Ok((store::bots::offset(tx, &bot)?, allowed))
                })
                .await;
            let err = match loaded {
                Ok((offset, allowed_updates)) => {
                    if let Some(existing) = &self.existing {
                        existing.set_wanted(Wanted::from_stored(allowed_updates.as_deref()));
                    }
                    return Some(offset);
                }
                Err(err) => err,
            };
            if !store::is_storage_error(&err) {
                error!(bot = %self.bot, cause = %format!("{err:#}"), "cannot read the polling position; retrying");
            }
            failures += 1;
            let pause = self.backoff(failures).min(store::RETRY_MAX);
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// `getMe`, retried until it answers; while Telegram rejects the token,
    /// probed rarely. `None` on shutdown.
    async fn identify(&self, shutdown: &CancellationToken) -> Option<String> {
        let mut failures = 0;
        let mut probes = 0;
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return None,
                result = self.client.get_me() => result,
            };
            let pause = match result {
                Ok(me) => {
                    if self.token.accept() {
                        info!(bot = %self.bot, "Telegram accepts the token again");
                    }
                    return Some(me.username.unwrap_or_default());
                }
                Err(err @ telegram::Error::Unauthorized) => {
                    if probes == 0 {
                        self.token_rejected(&err);
                    }
                    probes += 1;
                    crate::backoff::delay_from(
                        self.token_probe,
                        probes - 1,
                        self.token_probe * MAX_PROBE_FACTOR,
                    )
                }
                Err(err) => self.pause_after(&err, &mut failures),
            };
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Proxy and forward mode: a webhook set at Telegram for the token keeps
    /// switchboard from polling (409). It is named clearly; in proxy mode
    /// with `take_over_webhook`, it is removed there and kept as the
    /// proxy's webhook, so that switchboard delivers to it.
    async fn check_telegram_webhook(&self) {
        let Some(existing) = &self.existing else {
            return;
        };
        let webhook = match self.client.webhook().await {
            Ok(Some(webhook)) => webhook,
            Ok(None) => return,
            Err(err) => {
                debug!(bot = %self.bot, cause = %err, "cannot read the token's webhook at Telegram");
                return;
            }
        };
        // The URL may hold a secret of its own (a token in its path): only
        // its host is named.
        let host = reqwest::Url::parse(&webhook.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "an unreadable URL".into());
        if !existing.take_over_webhook {
            error!(bot = %self.bot, webhook_host = %host,
                "Telegram has a webhook set for this token, so switchboard cannot take the bot's                  updates (409 Conflict). Point the bot's setWebhook at switchboard's proxy instead                  (switchboard then delivers to it), remove the webhook with deleteWebhook, or set                  take_over_webhook = true for switchboard to move it over by itself.");
            return;
        }
        // Kept first, removed at Telegram after: a crash in between leaves
        // the webhook in both places, and the next start moves it again.
        let hook = store::offered::Webhook {
            url: webhook.url,
            secret: None,
            max_connections: webhook.max_connections,
        };
        let (bot, allowed) = (self.bot.clone(), webhook.allowed_updates.clone());
        let saved = self
            .store
            .write(move |tx| {
                store::offered::save_webhook(tx, &bot, Some(&hook))?;
                if let Some(allowed) = &allowed {
                    let json = serde_json::to_string(allowed)?;
                    store::offered::save_allowed_updates(tx, &bot, &json)?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = saved {
            error!(bot = %self.bot, cause = %format!("{err:#}"),
                "cannot store the webhook to take it over; it stays at Telegram");
            return;
        }
        if let Err(err) = self.client.delete_webhook().await {
            error!(bot = %self.bot, cause = %err,
                "cannot remove the webhook at Telegram to take it over; trying again at the next start");
            return;
        }
        existing.set_wanted(Wanted::from_list(webhook.allowed_updates));
        existing.offered();
        info!(bot = %self.bot, webhook_host = %host,
            "took the bot's webhook over from Telegram: switchboard delivers its updates there \
             now. Telegram does not tell its secret_token: if the bot checks it, let it call \
             setWebhook on switchboard's proxy with it");
    }

    /// Stops this bot's polling and sending until the token works again.
    fn token_rejected(&self, err: &telegram::Error) {
        self.token.reject();
        self.health.set(
            &self.bot,
            BotHealth::Stopped {
                reason: format!(
                    "{err}; polling and sending are paused, queued messages are kept, \
                     and the token is tried again now and then"
                ),
            },
        );
        error!(bot = %self.bot,
            "stopped: Telegram rejected the token (401 Unauthorized). Check this bot's token \
             in bots.toml; it may have been revoked in @BotFather. Queued messages are kept and \
             go out once the token works again. The other bots keep running.");
    }

    /// Stores the batch and the offset after it; returns that offset.
    async fn store_batch(&self, updates: Vec<telegram::RawUpdate>) -> anyhow::Result<i64> {
        let next = updates
            .iter()
            .map(|u| u.update_id)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let bot = self.bot.clone();
        let now = crate::clock::unix_now();
        let fetched = updates.len();
        let stored = self
            .store
            .write(move |tx| {
                let batch = updates.iter().map(|u| (u.update_id, u.json.get()));
                store::inbox::append_updates(tx, &bot, batch, next, now)
            })
            .await?;
        if stored < fetched {
            warn!(bot = %self.bot, repeated = fetched - stored,
                "Telegram served updates that were stored already; they are not handled twice");
        }
        Ok(next)
    }

    /// How long to wait after a failed call (other than a rejected token).
    fn pause_after(&self, err: &telegram::Error, failures: &mut u32) -> Duration {
        // A 429 names its own wait; it must not lengthen the backoff of
        // failures that come after it.
        if !matches!(err, telegram::Error::RetryAfter(_)) {
            *failures += 1;
        }
        self.health.set(
            &self.bot,
            BotHealth::Retrying {
                error: err.to_string(),
            },
        );
        match err {
            telegram::Error::RetryAfter(after) => {
                warn!(bot = %self.bot, "rate limited: polling again in {}s", after.as_secs());
                *after
            }
            telegram::Error::Conflict(description) => {
                error!(bot = %self.bot, cause = %description,
                    "409 Conflict: another program is polling this token (stop it: only one may), \
                     or a webhook is set for it (remove it with deleteWebhook). Retrying.");
                self.backoff(*failures + 2)
            }
            other => {
                warn!(bot = %self.bot, cause = %other, "a call to Telegram failed; retrying");
                self.backoff(failures.saturating_sub(1))
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
