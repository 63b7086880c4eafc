//! Starts and stops everything: per bot a poller and a sender, one shared
//! dispatcher, the scheduler and the HTTP server. Every task gets the
//! shutdown token and is tracked, so a stop waits for them (with a deadline).
//!
//! Every long-lived task runs under a supervisor: if it panics (a bug, or a
//! resource gone bad), the failure is logged and shown in `/healthz`, and the
//! task is started again after a pause; the work it had is durable, so the
//! new one goes on with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::clock::{Clock, SystemClock};
use crate::config::{BotConfig, Loaded, MAX_RATE_WINDOW};
use crate::dispatch::{self, Dispatcher};
use crate::http::BotHealth;
use crate::http::{self, Health};
use crate::outbox::limiter::Limiter;
use crate::outbox::sender::Sender;
use crate::poller::Poller;
use crate::store::{self, FaultSwitch, Store};
use crate::telegram::gate::TokenGate;
use crate::telegram::{self, Client};

/// How often the write-ahead log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the tasks to finish.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// Bound on every call but the long poll, by default.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A long poll may take this much longer than `poll_timeout` before it counts as lost.
const POLL_GRACE: Duration = Duration::from_secs(15);
/// Longest pause before a failed task is started again.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// What tests and the demo may change about a run.
#[derive(Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// How often the scheduler looks for due work (autoclose).
    pub scheduler_tick: Duration,
    /// Bumped after every completed scheduler pass, so that a test can wait
    /// for one that surely saw its clock change.
    pub scheduler_passes: Arc<watch::Sender<u64>>,
    /// How long a call (other than the long poll) may take before it counts
    /// as failed and is retried.
    pub call_timeout: Duration,
    /// The first delay before retrying a failed call (it doubles per try).
    pub retry_base: Duration,
    /// The first pause before probing a rejected token again (it doubles
    /// per probe, up to 60 times).
    pub token_probe: Duration,
    /// Storage faults a test injects (none by default).
    pub faults: FaultSwitch,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock: Arc::new(SystemClock),
            scheduler_tick: Duration::from_secs(15),
            scheduler_passes: Arc::new(watch::Sender::new(0)),
            call_timeout: CALL_TIMEOUT,
            retry_base: Duration::from_secs(1),
            token_probe: Duration::from_secs(5),
            faults: FaultSwitch::default(),
        }
    }
}

/// Binds the HTTP server's address (`[http] listen`).
pub async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([http] listen)"))
}

/// Runs switchboard until `shutdown` is cancelled, serving HTTP on `listener`:
/// the valid bots of `loaded` (a `Config` converts into it); the invalid ones
/// are reported in the log and in `/healthz`.
pub async fn run(
    loaded: impl Into<Loaded>,
    listener: TcpListener,
    options: Options,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Loaded { config, invalid } = loaded.into();
    let path = config.database.clone();
    let faults = options.faults.clone();
    let store = tokio::task::spawn_blocking(move || Store::open_with(&path, faults))
        .await
        .context("opening the database")??;
    let health = Arc::new(Health::default());
    let dead_letters = store
        .run(|conn| Ok(store::dead_letters::count(conn)?))
        .await
        .context("reading the database")?;
    health.add_dead_letters(dead_letters);
    for bot in invalid {
        error!(bot = %bot.label,
            "not started: its table in the configuration is invalid (the other bots run):\n{}",
            bot.problems);
        let reason = format!("invalid configuration: {}", bot.problems);
        health.set(&bot.label, BotHealth::Stopped { reason });
    }
    let tracker = TaskTracker::new();
    let dispatcher_wake = Arc::new(Notify::new());
    let mut senders = HashMap::new();
    let poll_http = telegram::http_client(config.poll_timeout + POLL_GRACE)?;
    let send_http = telegram::http_client(options.call_timeout)?;
    let supervisor = Supervisor {
        tracker: tracker.clone(),
        health: Arc::clone(&health),
        shutdown: shutdown.clone(),
    };
    for bot in &config.bots {
        let wake = Arc::new(Notify::new());
        senders.insert(bot.name.clone(), Arc::clone(&wake));
        let token = TokenGate::default();
        let poller = Poller {
            bot: bot.name.clone(),
            client: Client::new(poll_http.clone(), &config.api_url, &bot.token),
            store: store.clone(),
            poll_timeout: config.poll_timeout,
            dispatcher_wake: Arc::clone(&dispatcher_wake),
            health: Arc::clone(&health),
            retry_base: options.retry_base,
            token_probe: options.token_probe,
            token: token.clone(),
        };
        let sender = Sender::new(
            bot.name.clone(),
            store.clone(),
            Client::new(send_http.clone(), &config.api_url, &bot.token),
            wake,
            Arc::clone(&dispatcher_wake),
            bot.settings.limits,
            options.retry_base,
            token,
        );
        supervisor.spawn(format!("poller {}", bot.name), move |shutdown| {
            poller.clone().run(shutdown)
        });
        supervisor.spawn(format!("sender {}", bot.name), move |shutdown| {
            sender.clone().run(shutdown)
        });
    }
    let bots: Arc<HashMap<_, _>> = Arc::new(
        config
            .bots
            .iter()
            .map(|bot| (bot.name.clone(), bot.clone()))
            .collect(),
    );
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        bots: Arc::clone(&bots),
        clock: Arc::clone(&options.clock),
        wake: dispatcher_wake,
        senders: senders.clone(),
        health: Arc::clone(&health),
    });
    supervisor.spawn("dispatcher".into(), move |shutdown| {
        Arc::clone(&dispatcher).run(shutdown)
    });
    let checkpoint_store = store.clone();
    supervisor.spawn("checkpoint".into(), move |shutdown| {
        checkpoint(checkpoint_store.clone(), shutdown)
    });
    let scheduler = Arc::new(Scheduler {
        store: store.clone(),
        bots,
        senders,
        options,
    });
    supervisor.spawn("scheduler".into(), move |shutdown| {
        Arc::clone(&scheduler).run(shutdown)
    });
    let http_address = listener.local_addr()?;
    let http_shutdown = shutdown.clone();
    let http_health = Arc::clone(&health);
    tracker.spawn(async move {
        if let Err(err) = http::serve(listener, http_health, store, http_shutdown).await {
            error!(cause = %err, "the HTTP server failed");
        }
    });
    info!(bots = config.bots.len(), database = %config.database.display(), http = %http_address, "switchboard is running");

    shutdown.cancelled().await;
    info!("stopping");
    tracker.close();
    if tokio::time::timeout(STOP_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        warn!("some tasks did not stop in time; pending work resumes on the next start");
    }
    Ok(())
}

/// Starts tasks and starts them again when they fail.
#[derive(Clone)]
struct Supervisor {
    tracker: TaskTracker,
    health: Arc<Health>,
    shutdown: CancellationToken,
}

impl Supervisor {
    /// Runs `make(shutdown)` as a task named `name` until it returns; each
    /// time it panics instead, logs it, shows it in `/healthz`, and, after a
    /// pause growing with repeated failures, runs `make` again.
    fn spawn<F, Fut>(&self, name: String, make: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        self.tracker.spawn(async move {
            let mut failures = 0;
            loop {
                let task = tokio::spawn(make(this.shutdown.clone()));
                let cause = match task.await {
                    Ok(()) => return,
                    Err(err) if err.is_cancelled() => return,
                    Err(err) => panic_message(err.into_panic()),
                };
                failures += 1;
                error!(task = %name, cause = %cause, "a task failed; starting it again");
                this.health.task_failed(&name, &cause);
                let pause = crate::backoff::delay(failures, MAX_RESTART_DELAY);
                tokio::select! {
                    () = this.shutdown.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                this.health.task_restarted(&name);
            }
        });
    }
}

/// The text of a panic's payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "a panic".to_owned(), |text| (*text).to_owned()),
    }
}

/// Runs `task` every `period` until `shutdown`; a run that takes longer
/// delays the next rather than piling them up.
async fn every<F, Fut>(period: Duration, shutdown: CancellationToken, mut task: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => task().await,
        }
    }
}

/// Checkpoints the database in the background (see `store`).
async fn checkpoint(store: Store, shutdown: CancellationToken) {
    every(CHECKPOINT_EVERY, shutdown, || async {
        if let Err(err) = store.checkpoint().await {
            if !store::is_storage_error(&err) {
                warn!(cause = %format!("{err:#}"), "checkpoint failed; will retry");
            }
        }
    })
    .await;
}

/// Periodic work: autoclose, and forgetting what is no longer needed (update
/// ids older than two days, calls older than the rate limits' windows).
struct Scheduler {
    store: Store,
    bots: Arc<HashMap<String, BotConfig>>,
    senders: HashMap<String, Arc<Notify>>,
    options: Options,
}

impl Scheduler {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        every(self.options.scheduler_tick, shutdown, || async {
            self.pass().await;
            self.options.scheduler_passes.send_modify(|n| *n += 1);
        })
        .await;
    }

    async fn pass(&self) {
        let bots = Arc::clone(&self.bots);
        let now = self.options.clock.now();
        match self
            .store
            .write(move |tx| dispatch::autoclose_due(tx, &bots, now))
            .await
        {
            Ok(touched) => dispatch::wake_senders(&self.senders, &touched),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(cause = %format!("{err:#}"), "autoclose check failed; will retry");
                }
            }
        }
        let bots = Arc::clone(&self.bots);
        let pruned = self
            .store
            .write(move |tx| {
                let now = crate::clock::unix_now();
                store::updates::prune(tx, now - store::updates::REMEMBER_SECS)?;
                let now_ms = crate::clock::unix_now_ms();
                let longest = i64::try_from(MAX_RATE_WINDOW.as_millis()).unwrap_or(i64::MAX);
                store::sends::prune_all(tx, now_ms.saturating_sub(longest))?;
                for bot in bots.values() {
                    let window = Limiter::longest_window(&bot.settings.limits).unwrap_or_default();
                    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
                    store::sends::prune(tx, &bot.name, now_ms.saturating_sub(window_ms))?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = pruned {
            if !store::is_storage_error(&err) {
                warn!(cause = %format!("{err:#}"), "pruning old records failed; will retry");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::http::TaskHealth;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_reported_and_started_again() {
        let supervisor = Supervisor {
            tracker: TaskTracker::new(),
            health: Arc::new(Health::default()),
            shutdown: CancellationToken::new(),
        };
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        supervisor.spawn("flaky".into(), move |shutdown| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(run > 0, "the first run fails");
                shutdown.cancelled().await;
            }
        });
        while runs.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            supervisor.health.tasks()["flaky"],
            TaskHealth {
                restarts: 1,
                last_failure: "the first run fails".into(),
                running: true,
            }
        );
        supervisor.shutdown.cancel();
        supervisor.tracker.close();
        supervisor.tracker.wait().await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "not started again after a stop"
        );
    }
}
