//! Starts and stops everything: per bot a poller and a sender, one shared
//! dispatcher, and the scheduler. Every task gets the shutdown token and is
//! tracked, so a stop waits for them (with a deadline).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::dispatch::{self, Dispatcher};
use crate::http::{self, Health};
use crate::outbox::sender::Sender;
use crate::poller::Poller;
use crate::store::Store;
use crate::telegram::{self, Client};

/// How often the write-ahead log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the tasks to finish.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// Bound on every call but the long poll, by default.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A long poll may take this much longer than `poll_timeout` before it counts as lost.
const POLL_GRACE: Duration = Duration::from_secs(15);

/// What tests and the demo may change about a run.
#[derive(Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// How often the scheduler looks for due work (autoclose).
    pub scheduler_tick: Duration,
    /// How long a call (other than the long poll) may take before it counts
    /// as failed and is retried.
    pub call_timeout: Duration,
    /// The first delay before retrying a failed call (it doubles per try).
    pub retry_base: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock: Arc::new(SystemClock),
            scheduler_tick: Duration::from_secs(15),
            call_timeout: CALL_TIMEOUT,
            retry_base: Duration::from_secs(1),
        }
    }
}

/// Runs switchboard until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    options: Options,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let path = config.database.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&path))
        .await
        .context("opening the database")??;
    let listen = config.http.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([http] listen)"))?;
    let health = Arc::new(Health::default());
    let tracker = TaskTracker::new();
    let dispatcher_wake = Arc::new(Notify::new());
    let mut senders = HashMap::new();
    let poll_http = telegram::http_client(config.poll_timeout + POLL_GRACE)?;
    let send_http = telegram::http_client(options.call_timeout)?;
    for bot in &config.bots {
        let wake = Arc::new(Notify::new());
        senders.insert(bot.name.clone(), Arc::clone(&wake));
        let poller = Poller {
            bot: bot.name.clone(),
            client: Client::new(poll_http.clone(), &config.api_url, &bot.token),
            store: store.clone(),
            poll_timeout: config.poll_timeout,
            dispatcher_wake: Arc::clone(&dispatcher_wake),
            health: Arc::clone(&health),
            retry_base: options.retry_base,
        };
        let sender = Sender {
            bot: bot.name.clone(),
            store: store.clone(),
            client: Client::new(send_http.clone(), &config.api_url, &bot.token),
            wake,
            dispatcher_wake: Arc::clone(&dispatcher_wake),
            limits: bot.settings.limits,
            retry_base: options.retry_base,
        };
        tracker.spawn(poller.run(shutdown.clone()));
        tracker.spawn(sender.run(shutdown.clone()));
    }
    let bots: Arc<HashMap<_, _>> = Arc::new(
        config
            .bots
            .iter()
            .map(|bot| (bot.name.clone(), bot.clone()))
            .collect(),
    );
    let dispatcher = Dispatcher {
        store: store.clone(),
        bots: Arc::clone(&bots),
        clock: Arc::clone(&options.clock),
        wake: dispatcher_wake,
        senders: senders.clone(),
    };
    tracker.spawn(dispatcher.run(shutdown.clone()));
    tracker.spawn(checkpoint(store.clone(), shutdown.clone()));
    tracker.spawn(schedule(store, bots, senders, options, shutdown.clone()));
    let http_address = listener.local_addr()?;
    let http_shutdown = shutdown.clone();
    tracker.spawn(async move {
        if let Err(err) = http::serve(listener, health, http_shutdown).await {
            error!(cause = %err, "the HTTP server failed");
        }
    });
    tracker.close();
    info!(bots = config.bots.len(), database = %config.database.display(), http = %http_address, "switchboard is running");

    shutdown.cancelled().await;
    info!("stopping");
    if tokio::time::timeout(STOP_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        warn!("some tasks did not stop in time; pending work resumes on the next start");
    }
    Ok(())
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
            warn!(cause = %format!("{err:#}"), "checkpoint failed; will retry");
        }
    })
    .await;
}

/// Periodic rules: autoclose.
async fn schedule(
    store: Store,
    bots: Arc<HashMap<String, crate::config::BotConfig>>,
    senders: HashMap<String, Arc<Notify>>,
    options: Options,
    shutdown: CancellationToken,
) {
    every(options.scheduler_tick, shutdown, || async {
        let bots = Arc::clone(&bots);
        let now = options.clock.now();
        match store
            .write(move |tx| dispatch::autoclose_due(tx, &bots, now))
            .await
        {
            Ok(touched) => dispatch::wake_senders(&senders, &touched),
            Err(err) => error!(cause = %format!("{err:#}"), "autoclose check failed; will retry"),
        }
    })
    .await;
}
