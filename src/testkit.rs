//! A desk to test on, for the integration tests, the benchmarks and demos;
//! the product itself does not use it.
//!
//! A [`Desk`] is the fake Bot API ([`crate::fake`]) with bots, each the admin
//! of its own backend group, and a configuration for the app on a database
//! in a temporary directory. The app runs in this process
//! ([`Desk::launch`], [`Desk::stop`], as often as a test likes), and
//! [`Desk::settle`] waits until it has nothing left to do, after which the
//! absence of something is a fact.
//!
//! [`FakeControl`] is a client of a fake's control API, for a fake in
//! another process (`switchboard fake`). [`enqueue_broadcast`] queues a
//! broadcast as the broadcast feature will.
//!
//! What a run can get wrong (a port, the app not stopping or not settling)
//! is an error; a desk used wrongly (launched twice, asked for a first bot
//! it does not have) panics, as test helpers do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{self, Options};
use crate::config::{BotConfig, BotSettings, Config, HttpConfig, Mode, Token};
use crate::fake::{FakeBot, FakeTelegram, FakeUser};
use crate::outbox::{Action, Job, Lane, Purpose, Target, queue};
use crate::store::Store;

/// How long [`Desk::stop`] waits for the app (which gives its own tasks 5 s).
const STOP_LIMIT: Duration = Duration::from_secs(15);
/// How often [`Desk::settle`] looks.
const SETTLE_INTERVAL: Duration = Duration::from_millis(10);

/// The fake Telegram, its bots with their groups, and the app on them.
pub struct Desk {
    /// The fake Telegram every bot talks to; shut down when the desk is dropped.
    pub fake: FakeTelegram,
    /// The bots in the order they were asked for; a test may change their
    /// configuration before a launch.
    pub bots: Vec<DeskBot>,
    /// The app's SQLite file, in a temporary directory that lives as long as
    /// the desk.
    pub database: PathBuf,
    /// The configuration's `poll_timeout` (5 s unless changed before a launch).
    pub poll_timeout: Duration,
    /// The configuration's `[http] max_upload_mb`, in bytes (the default
    /// unless changed before a launch).
    pub max_upload: u64,
    /// Where the app's HTTP server listens: known before the first launch,
    /// a new port at each later one.
    pub http: SocketAddr,
    /// Bound to `http` until the first launch takes it, so that the port is
    /// the app's from the start.
    listener: Option<std::net::TcpListener>,
    /// The app, while it runs.
    running: Option<RunningApp>,
    /// Holds `database`; deleted with the desk.
    _dir: tempfile::TempDir,
}

/// One bot of a desk.
pub struct DeskBot {
    /// Its account in the fake.
    pub bot: FakeBot,
    /// Its backend group, a forum with the bot as admin.
    pub group: i64,
    /// Its table in the configuration (standalone mode).
    pub config: BotConfig,
}

/// The app running in this process.
struct RunningApp {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Desk {
    /// A fake with `bots` as (name, settings): bot `{name}_bot` with group
    /// `{name} support`, named `name` in the configuration. The app is not
    /// running yet.
    ///
    /// # Errors
    /// If the fake or the app's port cannot be bound, or the temporary
    /// directory cannot be made.
    pub async fn prepare(bots: &[(&str, BotSettings)]) -> anyhow::Result<Desk> {
        let fake = FakeTelegram::start().await?;
        let bots = bots
            .iter()
            .map(|(name, settings)| {
                let bot = fake.add_bot(&format!("{name}_bot"));
                let group = fake.add_forum_group(&format!("{name} support"), &[&bot]);
                let config = BotConfig {
                    name: (*name).to_owned(),
                    token: Token::new(bot.token.clone()),
                    backend_groups: vec![group],
                    mode: Mode::Standalone,
                    settings: settings.clone(),
                };
                DeskBot { bot, group, config }
            })
            .collect();
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let listener = bind_any_port()?;
        Ok(Desk {
            http: listener.local_addr().context("reading the app's address")?,
            listener: Some(listener),
            poll_timeout: Duration::from_secs(5),
            max_upload: HttpConfig::default().max_upload,
            database: dir.path().join("switchboard.db"),
            fake,
            bots,
            running: None,
            _dir: dir,
        })
    }

    /// The configuration the app is launched with.
    #[must_use]
    pub fn config(&self) -> Config {
        Config {
            source: self.database.with_file_name("bots.toml"),
            database: self.database.clone(),
            api_url: self.fake.api_url(),
            poll_timeout: self.poll_timeout,
            http: HttpConfig {
                listen: self.http,
                max_upload: self.max_upload,
            },
            bots: self.bots.iter().map(|b| b.config.clone()).collect(),
        }
    }

    /// Starts the app in this process with `options`, serving HTTP on `http`
    /// (on a new port if it ran before). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// If a port cannot be bound.
    ///
    /// # Panics
    /// If the app is running already.
    pub fn launch(&mut self, options: Options) -> anyhow::Result<()> {
        assert!(self.running.is_none(), "the app is running already");
        let listener = match self.listener.take() {
            Some(listener) => listener,
            None => bind_any_port()?,
        };
        self.http = listener.local_addr().context("reading the app's address")?;
        listener
            .set_nonblocking(true)
            .context("making the app's listener non-blocking")?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .context("handing the app's listener to tokio")?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app::run(self.config(), listener, options, shutdown.clone()));
        self.running = Some(RunningApp { shutdown, task });
        Ok(())
    }

    /// Stops the app gracefully, if it runs, and waits for it.
    ///
    /// # Errors
    /// If it does not stop within 15 s, panicked, or stopped with an error.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(RunningApp { shutdown, task }) = self.running.take() else {
            return Ok(());
        };
        shutdown.cancel();
        tokio::time::timeout(STOP_LIMIT, task)
            .await
            .with_context(|| format!("the app did not stop within {STOP_LIMIT:?}"))?
            .context("the app's task")?
            .context("the app stopped with an error")
    }

    /// Waits until the app has nothing left to do: every update the fake
    /// queued for the desk's bots was fetched, and in one database snapshot
    /// the inbox is empty and no outbox job is pending.
    ///
    /// # Errors
    /// If that does not happen within `limit`, or the database cannot be read.
    pub async fn settle(&self, limit: Duration) -> anyhow::Result<()> {
        let store = Store::open(&self.database)?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let fetched = self
                .bots
                .iter()
                .all(|b| self.fake.pending_update_count(&b.bot) == 0);
            if fetched && pending_work(&store)? == 0 {
                return Ok(());
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the app did not settle within {limit:?}"
            );
            tokio::time::sleep(SETTLE_INTERVAL).await;
        }
    }

    /// The first bot's account.
    ///
    /// # Panics
    /// If the desk has no bot.
    #[must_use]
    pub fn bot(&self) -> &FakeBot {
        &self.first().bot
    }

    /// The first bot's backend group.
    ///
    /// # Panics
    /// If the desk has no bot.
    #[must_use]
    pub fn group(&self) -> i64 {
        self.first().group
    }

    fn first(&self) -> &DeskBot {
        self.bots.first().expect("a desk with at least one bot")
    }
}

/// Queues a broadcast the way a broadcast feature would: one job per user,
/// at the lowest priority, in one transaction.
pub fn enqueue_broadcast(
    store: &Store,
    bot: &str,
    users: &[FakeUser],
    text: &str,
) -> anyhow::Result<()> {
    let mut conn = store.conn()?;
    let tx = conn.transaction()?;
    for user in users {
        let job = Job {
            purpose: Purpose::Broadcast,
            action: Action::SendText {
                to: Target::User(user.id),
                text: text.into(),
                html: false,
                reply_to: None,
            },
        };
        queue::enqueue(&tx, bot, &Lane::Broadcast(user.id), user.id, &job, 0)?;
    }
    tx.commit()?;
    Ok(())
}

impl Drop for Desk {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown.cancel();
        }
        self.fake.shutdown();
    }
}

/// Rows in the inbox plus pending outbox jobs, read in one snapshot.
fn pending_work(store: &Store) -> anyhow::Result<i64> {
    let sql = "SELECT (SELECT COUNT(*) FROM inbox) \
               + (SELECT COUNT(*) FROM outbox WHERE state = 'pending') \
               + (SELECT COUNT(*) FROM album_parts) \
               + (SELECT COUNT(*) FROM held_updates)";
    Ok(store.conn()?.query_row(sql, [], |row| row.get(0))?)
}

fn bind_any_port() -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:0").context("binding a port for the app")
}

/// A client of the control API of a fake (`/fake/...`, see
/// `switchboard fake --help`), at the fake's base URL.
pub struct FakeControl {
    http: reqwest::Client,
    /// The fake's base URL, without a trailing slash.
    api_url: String,
}

impl FakeControl {
    /// A client of the fake at `api_url` (what [`FakeTelegram::api_url`]
    /// says, or what `switchboard fake` printed).
    #[must_use]
    pub fn new(api_url: &str) -> FakeControl {
        FakeControl {
            http: reqwest::Client::new(),
            api_url: api_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Calls `method` on `/fake/{path}` with `body` as JSON; returns the HTTP
    /// status and the answer, whatever they are.
    ///
    /// # Errors
    /// If the fake does not answer with JSON.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}/fake/{path}", self.api_url));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.context("calling the fake")?;
        let status = response.status().as_u16();
        let answer = response.json().await.context("reading the fake's answer")?;
        Ok((status, answer))
    }

    /// `GET /fake/{path}`: the `result` of its answer.
    ///
    /// # Errors
    /// If the call fails or the answer is not ok.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.result(reqwest::Method::GET, path, None).await
    }

    /// `POST /fake/{path}` with `body`: the `result` of its answer.
    ///
    /// # Errors
    /// If the call fails or the answer is not ok.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.result(reqwest::Method::POST, path, Some(body)).await
    }

    /// `PUT /fake/{path}` with `body`: the `result` of its answer.
    ///
    /// # Errors
    /// If the call fails or the answer is not ok.
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.result(reqwest::Method::PUT, path, Some(body)).await
    }

    /// `DELETE /fake/{path}`: the `result` of its answer.
    ///
    /// # Errors
    /// If the call fails or the answer is not ok.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.result(reqwest::Method::DELETE, path, None).await
    }

    async fn result(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method.clone(), path, body).await?;
        if answer["ok"] != true {
            bail!("{method} /fake/{path} answered {status}: {answer}");
        }
        Ok(answer["result"].clone())
    }
}
