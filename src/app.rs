//! Starts and stops everything: per bot a poller and a sender (and, in
//! proxy and forward mode, the delivery to the existing bot's webhook), one
//! shared dispatcher, the scheduler and the HTTP server (with the Bot API
//! proxy). Every task gets the
//! shutdown token and is tracked, so a stop waits for them (with a deadline).
//!
//! Every long-lived task runs under a supervisor: if it panics (a bug, or a
//! resource gone bad), the failure is logged and shown in `/healthz`, and the
//! task is started again after a pause; the work it had is durable, so the
//! new one goes on with it.
//!
//! Each bot's tasks have a supervisor of their own, with a cancellation
//! token that is a child of the shutdown token, so one bot can be stopped
//! alone. That is what a reload ([`run_with_reload`], SIGHUP) needs: it
//! re-reads `bots.toml` strictly (as `check` does; any problem refuses the
//! whole file and the running set stays), works out a plan (`reload::Plan`), then
//!
//! 1. stops the removed and changed bots and waits until their tasks have
//!    ended (the sender lets its calls in flight land first), so a bot never
//!    has two pollers (Telegram answers 409 to the second) or two senders,
//!    even when a token moves from one bot to another;
//! 2. publishes the new [`Running`] (configuration, bots, sender wakes) in a
//!    `watch` channel, which the dispatcher, the scheduler and the HTTP
//!    server follow;
//! 3. starts the changed and added bots; the unchanged ones were not touched.
//!
//! A stopped bot's queued work stays in the database (the dispatcher leaves
//! the inbox rows of bots that do not run) and goes on if the bot comes back.

mod reload;

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
use crate::config::{BotConfig, Config, Loaded, MAX_RATE_WINDOW};
use crate::dispatch::{self, Dispatcher};
use crate::http::{self, AppState, BotHealth, Health};
use crate::outbox::limiter::Limiter;
use crate::outbox::sender::{Sender, Wake};
use crate::poller::Poller;
use crate::proxy::intercept::Recorder;
use crate::proxy::webhook::Delivery;
use crate::proxy::{self, ExistingBot};
use crate::store::{self, FaultSwitch, Store};
use crate::telegram::gate::TokenGate;
use crate::telegram::{self, Client};

/// How long a stop waits for the tasks to finish.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// Dialogs whose old message links the scheduler prunes in one pass.
const LINKS_PRUNED_DIALOGS: usize = 1_000;
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

/// The configuration in force and the bots running under it, as the shared
/// tasks (dispatcher, scheduler) and the HTTP server see them: published in
/// a `watch` channel and replaced as a whole by each reload.
#[derive(Debug)]
pub struct Running {
    /// The configuration in force; its `bots` are the running bots (those
    /// whose table was invalid at start are not among them).
    pub config: Config,
    /// Each running bot's configuration by name (`config.bots`, indexed).
    pub bots: HashMap<String, BotConfig>,
    /// Each running bot's sender wake, to notify after committing jobs for
    /// it. Read it after the commit: a bot restarted in between has a new
    /// sender, which is published here before it starts.
    pub senders: HashMap<String, Arc<Wake>>,
    /// The existing bots of the proxy- and forward-mode bots, by name: the
    /// proxy serves their tokens, the dispatcher offers them updates.
    pub existing: HashMap<String, Arc<ExistingBot>>,
}

impl Running {
    fn new(
        config: Config,
        senders: HashMap<String, Arc<Wake>>,
        existing: HashMap<String, Arc<ExistingBot>>,
    ) -> Running {
        let bots = config
            .bots
            .iter()
            .map(|bot| (bot.name.clone(), bot.clone()))
            .collect();
        Running {
            config,
            bots,
            senders,
            existing,
        }
    }
}

/// Runs switchboard until `shutdown` is cancelled, serving HTTP on `listener`:
/// the valid bots of `loaded` (a `Config` converts into it); the invalid ones
/// are reported in the log and in `/healthz`. Never reloads.
pub async fn run(
    loaded: impl Into<Loaded>,
    listener: TcpListener,
    options: Options,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let never = Arc::new(Notify::new());
    run_with_reload(loaded, listener, options, shutdown, never).await
}

/// Like [`run`], and each time `reload` is notified, re-reads the
/// configuration file (`Config::source`) and applies what changed in its
/// bots (see the module's documentation). Notifications that come during a
/// reload make one more.
pub async fn run_with_reload(
    loaded: impl Into<Loaded>,
    listener: TcpListener,
    options: Options,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
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
    let supervisor = Supervisor {
        tracker: tracker.clone(),
        health: Arc::clone(&health),
        shutdown: shutdown.clone(),
    };
    let (records, recorder) = Recorder::new(
        store.clone(),
        Arc::clone(&dispatcher_wake),
        options.retry_base,
    );
    let recorder = Arc::new(recorder);
    // The recorder outlives the HTTP server: a call the proxy answers in
    // the server's grace at shutdown is still recorded.
    let proxy_stopped = CancellationToken::new();
    let recorder_stop = proxy_stopped.clone();
    supervisor.spawn("proxy recorder".into(), move |_shutdown| {
        Arc::clone(&recorder).run(recorder_stop.clone())
    });
    let proxy = proxy::Proxy::new(
        &config.api_url,
        config.http.max_upload,
        store.clone(),
        records,
        shutdown.clone(),
    )?;
    let context = BotContext {
        store: store.clone(),
        proxy: proxy.clone(),
        clock: Arc::clone(&options.clock),
        api_url: config.api_url.clone(),
        poll_timeout: config.poll_timeout,
        poll_http: telegram::http_client(config.poll_timeout + POLL_GRACE)?,
        send_http: telegram::http_client(options.call_timeout)?,
        dispatcher_wake: Arc::clone(&dispatcher_wake),
        health: Arc::clone(&health),
        retry_base: options.retry_base,
        token_probe: options.token_probe,
    };
    let (bot_count, database) = (config.bots.len(), config.database.clone());
    let mut bots = Bots::start(context, supervisor.clone(), config);
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        running: bots.subscribe(),
        clock: Arc::clone(&options.clock),
        wake: dispatcher_wake,
        health: Arc::clone(&health),
    });
    supervisor.spawn("dispatcher".into(), move |shutdown| {
        Arc::clone(&dispatcher).run(shutdown)
    });
    let scheduler = Arc::new(Scheduler {
        store: store.clone(),
        running: bots.subscribe(),
        options,
        links_pruned_to: std::sync::atomic::AtomicI64::new(0),
    });
    supervisor.spawn("scheduler".into(), move |shutdown| {
        Arc::clone(&scheduler).run(shutdown)
    });
    let http_address = listener.local_addr()?;
    warn_if_exposed(http_address, &bots.subscribe().borrow().config);
    let http_shutdown = shutdown.clone();
    let state = AppState {
        health,
        store,
        running: bots.subscribe(),
        proxy,
    };
    tracker.spawn(async move {
        if let Err(err) = http::serve(listener, state, http_shutdown).await {
            error!(cause = %err, "the HTTP server failed");
        }
        proxy_stopped.cancel();
    });
    info!(bots = bot_count, database = %database.display(), http = %http_address, "switchboard is running");

    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = reload.notified() => bots.reload(&shutdown, http_address).await,
        }
    }
    info!("stopping");
    tracker.close();
    let stopped = async {
        tracker.wait().await;
        bots.stop_all().await;
    };
    if tokio::time::timeout(STOP_DEADLINE, stopped).await.is_err() {
        warn!("some tasks did not stop in time; pending work resumes on the next start");
    }
    Ok(())
}

/// The Bot API proxy serves the tokens of proxy- and forward-mode bots on
/// `[http] listen`: on an address other machines reach, a warning names the
/// risk.
fn warn_if_exposed(address: SocketAddr, config: &Config) {
    let connected = config.bots.iter().any(|bot| bot.mode.is_connected());
    if connected && !address.ip().is_loopback() {
        warn!(http = %address,
            "the Bot API proxy listens on an address other machines can reach: whoever can \
             connect and knows a proxy bot's token can act as that bot and take its updates. \
             Listen on 127.0.0.1 unless the existing bot runs on another machine, and then \
             allow only that machine (a firewall, or a private network)");
    }
}

/// What building a bot's tasks needs; the same for every bot.
struct BotContext {
    store: Store,
    /// The Bot API proxy: its client delivers webhooks too.
    proxy: proxy::Proxy,
    clock: Arc<dyn Clock>,
    /// `api_url` and `poll_timeout` take a restart to change (a reload
    /// refuses them), so they are fixed here.
    api_url: String,
    poll_timeout: Duration,
    /// For the long polls: its timeout exceeds `poll_timeout`.
    poll_http: reqwest::Client,
    /// For every other call.
    send_http: reqwest::Client,
    dispatcher_wake: Arc<Notify>,
    health: Arc<Health>,
    retry_base: Duration,
    token_probe: Duration,
}

impl BotContext {
    /// Builds one bot's tasks: its poller and its sender, the token gate
    /// they share and the sender's wake. The one place that knows how a
    /// bot's tasks fit together.
    fn build(&self, bot: &BotConfig) -> BotTasks {
        let wake = Arc::new(Wake::default());
        let token = TokenGate::default();
        let existing = ExistingBot::new(bot);
        let poller = Poller {
            bot: bot.name.clone(),
            client: Client::new(self.poll_http.clone(), &self.api_url, &bot.token),
            store: self.store.clone(),
            poll_timeout: self.poll_timeout,
            dispatcher_wake: Arc::clone(&self.dispatcher_wake),
            health: Arc::clone(&self.health),
            retry_base: self.retry_base,
            token_probe: self.token_probe,
            token: token.clone(),
            existing: existing.clone(),
        };
        let sender = Sender::new(
            bot.name.clone(),
            self.store.clone(),
            Client::new(self.send_http.clone(), &self.api_url, &bot.token),
            Arc::clone(&wake),
            Arc::clone(&self.dispatcher_wake),
            bot.settings.limits,
            self.retry_base,
            token,
        );
        let delivery = existing.as_ref().map(|existing| {
            Arc::new(Delivery {
                bot: Arc::clone(existing),
                store: self.store.clone(),
                proxy: self.proxy.clone(),
                clock: Arc::clone(&self.clock),
                retry_base: self.retry_base,
                health: Arc::clone(&self.health),
            })
        });
        BotTasks {
            name: bot.name.clone(),
            poller,
            sender,
            wake,
            existing,
            delivery,
        }
    }
}

/// One bot's tasks, built and not started yet.
struct BotTasks {
    name: String,
    poller: Poller,
    sender: Sender,
    /// The sender's wake: published in [`Running`] before the sender starts,
    /// so that no job committed after the sender loaded the outbox goes
    /// without a wake.
    wake: Arc<Wake>,
    /// Proxy and forward mode: the existing bot's side, published in
    /// [`Running`] with the wake.
    existing: Option<Arc<ExistingBot>>,
    /// Proxy and forward mode: delivery to the existing bot's webhook.
    delivery: Option<Arc<Delivery>>,
}

impl BotTasks {
    /// The senders' wakes and the existing bots of `built`, by name.
    fn handles(
        built: &[BotTasks],
    ) -> (
        HashMap<String, Arc<Wake>>,
        HashMap<String, Arc<ExistingBot>>,
    ) {
        let senders = built
            .iter()
            .map(|tasks| (tasks.name.clone(), Arc::clone(&tasks.wake)))
            .collect();
        let existing = built
            .iter()
            .filter_map(|tasks| Some((tasks.name.clone(), Arc::clone(tasks.existing.as_ref()?))))
            .collect();
        (senders, existing)
    }

    /// Starts the poller and the sender under a supervisor of their own,
    /// returned to stop them.
    fn start(self, supervisor: &Supervisor) -> Supervisor {
        let BotTasks {
            name,
            poller,
            sender,
            wake: _,
            existing: _,
            delivery,
        } = self;
        let own = supervisor.for_bot();
        own.spawn(poller_task(&name), move |shutdown| {
            poller.clone().run(shutdown)
        });
        own.spawn(sender_task(&name), move |shutdown| {
            sender.clone().run(shutdown)
        });
        if let Some(delivery) = delivery {
            own.spawn(webhook_task(&name), move |shutdown| {
                Arc::clone(&delivery).run(shutdown)
            });
        }
        own
    }
}

fn poller_task(bot: &str) -> String {
    format!("poller {bot}")
}

fn sender_task(bot: &str) -> String {
    format!("sender {bot}")
}

fn webhook_task(bot: &str) -> String {
    format!("webhook {bot}")
}

/// The running bots: each one's tasks, and the [`Running`] published to the
/// shared tasks.
struct Bots {
    context: BotContext,
    /// The supervisor of the whole process; each bot's is a child of it.
    supervisor: Supervisor,
    /// Each running bot's supervisor, by name. A bot being stopped stays
    /// here until its tasks have ended, so the final stop waits for it.
    tasks: HashMap<String, Supervisor>,
    running: watch::Sender<Arc<Running>>,
}

impl Bots {
    /// Starts every bot of `config`.
    fn start(context: BotContext, supervisor: Supervisor, config: Config) -> Bots {
        let built: Vec<BotTasks> = config.bots.iter().map(|bot| context.build(bot)).collect();
        let (senders, existing) = BotTasks::handles(&built);
        let running = watch::Sender::new(Arc::new(Running::new(config, senders, existing)));
        let tasks = built
            .into_iter()
            .map(|tasks| (tasks.name.clone(), tasks.start(&supervisor)))
            .collect();
        Bots {
            context,
            supervisor,
            tasks,
            running,
        }
    }

    fn subscribe(&self) -> watch::Receiver<Arc<Running>> {
        self.running.subscribe()
    }

    /// Re-reads the configuration file and carries out what changed in its
    /// bots; on any problem logs why and keeps the running configuration.
    /// `http` is where the HTTP server (and the Bot API proxy) listens.
    async fn reload(&mut self, shutdown: &CancellationToken, http: SocketAddr) {
        let current = Arc::clone(&self.running.borrow());
        let source = current.config.source.clone();
        info!(file = %source.display(), "reloading the configuration");
        let config = match tokio::task::spawn_blocking(move || Config::load(&source)).await {
            Ok(Ok(config)) => config,
            Ok(Err(problems)) => {
                error!("the configuration was not reloaded; the running one stays:\n{problems}");
                return;
            }
            Err(err) => {
                error!(cause = %err, "the configuration was not reloaded; the running one stays");
                return;
            }
        };
        let fixed = reload::fixed_changes(&current.config, &config);
        if !fixed.is_empty() {
            error!(
                "the configuration was not reloaded: {} changed, which takes a restart \
                 (systemctl restart switchboard); nothing was applied, not even the bots' \
                 changes: the running configuration stays",
                fixed.join(", ")
            );
            return;
        }
        let plan = reload::plan(&current.config.bots, &config.bots);
        let stopping: Vec<String> = plan.removed.iter().chain(&plan.changed).cloned().collect();
        if !self.stop(&stopping, shutdown).await {
            return;
        }
        let built: Vec<BotTasks> = config
            .bots
            .iter()
            .filter(|bot| plan.added.contains(&bot.name) || plan.changed.contains(&bot.name))
            .map(|bot| self.context.build(bot))
            .collect();
        let mut senders = current.senders.clone();
        senders.retain(|name, _| plan.unchanged.contains(name));
        let mut existing = current.existing.clone();
        existing.retain(|name, _| plan.unchanged.contains(name));
        let (new_senders, new_existing) = BotTasks::handles(&built);
        senders.extend(new_senders);
        existing.extend(new_existing);
        let had_proxy = current
            .config
            .bots
            .iter()
            .any(|bot| bot.mode.is_connected());
        if !had_proxy {
            // The first proxy bot: the proxy's exposure matters from now on.
            warn_if_exposed(http, &config);
        }
        self.running
            .send_replace(Arc::new(Running::new(config, senders, existing)));
        for tasks in built {
            let name = tasks.name.clone();
            self.tasks.insert(name, tasks.start(&self.supervisor));
        }
        // `/healthz` shows the running bots only: not the removed ones, nor
        // those whose table was invalid at start and is gone now.
        for label in self.context.health.snapshot().into_keys() {
            if !self.tasks.contains_key(&label) {
                self.context.health.remove(&label);
            }
        }
        info!(
            "configuration reloaded: started {}; stopped {}; restarted {}; unchanged {}",
            reload::list(&plan.added),
            reload::list(&plan.removed),
            reload::list(&plan.changed),
            reload::list(&plan.unchanged),
        );
    }

    /// Stops these bots and waits until their tasks have ended (the senders
    /// let their calls in flight land); `false` if the process began to
    /// stop first, which then waits for them with the rest.
    async fn stop(&mut self, names: &[String], shutdown: &CancellationToken) -> bool {
        let mut trackers = Vec::new();
        for name in names {
            if let Some(bot) = self.tasks.get(name) {
                bot.stop();
                trackers.push(bot.tracker.clone());
            }
            if let Some(existing) = self.running.borrow().existing.get(name) {
                existing.retire();
            }
        }
        let ended = async move {
            for tracker in trackers {
                tracker.wait().await;
            }
        };
        tokio::pin!(ended);
        let in_time = tokio::select! {
            () = &mut ended => true,
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(STOP_DEADLINE) => false,
        };
        if !in_time {
            warn!(bots = %reload::list(names),
                "these bots have not stopped yet; the reload goes on once they have");
            tokio::select! {
                () = ended => {}
                () = shutdown.cancelled() => return false,
            }
        }
        for name in names {
            self.tasks.remove(name);
            // Failures of the stopped tasks no longer concern `/healthz`.
            self.context.health.forget_task(&poller_task(name));
            self.context.health.forget_task(&sender_task(name));
            self.context.health.forget_task(&webhook_task(name));
        }
        true
    }

    /// Stops every bot and resolves once all their tasks have ended.
    async fn stop_all(&self) {
        for bot in self.tasks.values() {
            bot.stop();
        }
        for bot in self.tasks.values() {
            bot.tracker.wait().await;
        }
    }
}

/// Starts tasks and starts them again when they fail.
#[derive(Clone)]
struct Supervisor {
    tracker: TaskTracker,
    health: Arc<Health>,
    shutdown: CancellationToken,
}

impl Supervisor {
    /// A supervisor for one bot's tasks: its own tracker, and a cancellation
    /// that stops them alone (the shutdown stops them too).
    fn for_bot(&self) -> Supervisor {
        Supervisor {
            tracker: TaskTracker::new(),
            health: Arc::clone(&self.health),
            shutdown: self.shutdown.child_token(),
        }
    }

    /// Asks its tasks to stop; `tracker.wait()` resolves once they have.
    fn stop(&self) {
        self.shutdown.cancel();
        self.tracker.close();
    }

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

/// Periodic work: autoclose, and forgetting what is no longer needed (calls
/// older than the rate limits' windows, updates an existing bot left for a
/// day).
struct Scheduler {
    store: Store,
    /// The running bots (it follows reloads).
    running: watch::Receiver<Arc<Running>>,
    options: Options,
    /// The last dialog whose old message links were pruned: the next pass
    /// goes on after it.
    links_pruned_to: std::sync::atomic::AtomicI64,
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
        let running = Arc::clone(&self.running.borrow());
        let now = self.options.clock.now();
        match self
            .store
            .write(move |tx| dispatch::autoclose_due(tx, &running.bots, now))
            .await
        {
            // The senders as published after the commit (see `Running::senders`).
            Ok(touched) => dispatch::wake_senders(&self.running.borrow().senders, &touched),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(cause = %format!("{err:#}"), "autoclose check failed; will retry");
                }
            }
        }
        let running = Arc::clone(&self.running.borrow());
        match self
            .store
            .write(move |tx| dispatch::renames_due(tx, &running.bots, now))
            .await
        {
            Ok(touched) => dispatch::wake_senders(&self.running.borrow().senders, &touched),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    error!(cause = %format!("{err:#}"), "renaming topics failed; will retry");
                }
            }
        }
        let running = Arc::clone(&self.running.borrow());
        let links_after = self
            .links_pruned_to
            .load(std::sync::atomic::Ordering::Relaxed);
        let pruned = self
            .store
            .write(move |tx| {
                // Updates an existing bot did not take within a day, as
                // Telegram drops them.
                store::offered::prune(tx, now.saturating_sub(store::offered::KEEP_SECS))?;
                // One delete for all bots, beyond the longest window any
                // running bot restores (a bot's own windows may be shorter:
                // keeping a little more is harmless).
                let longest = running
                    .bots
                    .values()
                    .filter_map(|bot| Limiter::longest_window(&bot.settings.limits))
                    .max()
                    .unwrap_or(MAX_RATE_WINDOW);
                let longest = i64::try_from(longest.as_millis()).unwrap_or(i64::MAX);
                let now_ms = crate::clock::unix_now_ms();
                store::sends::prune(tx, now_ms.saturating_sub(longest))?;
                // Old message links (stamped by the system clock), some
                // dialogs a pass, round and round.
                let links_before = crate::clock::unix_now().saturating_sub(store::links::KEEP_SECS);
                let (last, _) =
                    store::links::prune(tx, links_before, links_after, LINKS_PRUNED_DIALOGS)?;
                Ok(last)
            })
            .await;
        match pruned {
            Ok(last) => self
                .links_pruned_to
                .store(last.unwrap_or(0), std::sync::atomic::Ordering::Relaxed),
            Err(err) => {
                if !store::is_storage_error(&err) {
                    warn!(cause = %format!("{err:#}"), "pruning old records failed; will retry");
                }
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

    #[tokio::test(start_paused = true)]
    async fn a_bot_stops_alone_and_every_bot_with_the_shutdown() {
        let process = Supervisor {
            tracker: TaskTracker::new(),
            health: Arc::new(Health::default()),
            shutdown: CancellationToken::new(),
        };
        let (one, other) = (process.for_bot(), process.for_bot());
        for bot in [&one, &other] {
            bot.spawn("task".into(), |shutdown| async move {
                shutdown.cancelled().await;
            });
        }
        one.stop();
        one.tracker.wait().await;
        assert!(!other.shutdown.is_cancelled());
        assert_eq!(other.tracker.len(), 1, "the other bot's task runs on");
        process.shutdown.cancel();
        other.tracker.close();
        other.tracker.wait().await;
    }
}
