use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use switchboard::app::Options;
use switchboard::clock::ManualClock;
use switchboard::config::BotSettings;
use switchboard::fake::{FakeBot, FakeMessage, FakeTelegram, FakeUser};
use switchboard::store::{FaultSwitch, Store};
use switchboard::testkit;
use tokio::sync::watch;

/// How long any wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(15);
/// The same for waits through injected faults, whose retries take longer.
pub const CHAOS_PATIENCE: Duration = Duration::from_secs(60);

/// The kit's desk (the fake, its bots with their groups, the database, the
/// app launched in this process) with what the integration tests add: a
/// manual clock, an operator, faster timeouts, and waits that panic.
pub struct Desk {
    kit: testkit::Desk,
    pub clock: ManualClock,
    /// How long the app waits for an answer to a call.
    pub call_timeout: Duration,
    /// The first pause before a rejected token is tried again.
    pub token_probe: Duration,
    /// Storage faults the test turns on and off.
    pub faults: FaultSwitch,
    /// Completed scheduler passes.
    passes: Arc<watch::Sender<u64>>,
    /// An operator who is a member of every backend group.
    pub operator: FakeUser,
}

/// The kit's fields (`fake`, `bots`, `database`, `http`, ...) and methods
/// (`bot()`, `group()`, `config()`) read as the desk's own.
impl Deref for Desk {
    type Target = testkit::Desk;

    fn deref(&self) -> &testkit::Desk {
        &self.kit
    }
}

impl DerefMut for Desk {
    fn deref_mut(&mut self) -> &mut testkit::Desk {
        &mut self.kit
    }
}

impl Desk {
    /// One bot named "shop" with default settings, started.
    pub async fn one_bot() -> Desk {
        Desk::start(&[("shop", BotSettings::default())]).await
    }

    /// One bot with the given settings, started.
    pub async fn with(settings: BotSettings) -> Desk {
        Desk::start(&[("shop", settings)]).await
    }

    /// Bots with their own backend groups, started.
    pub async fn start(bots: &[(&str, BotSettings)]) -> Desk {
        let mut desk = Desk::prepare(bots).await;
        desk.launch();
        desk
    }

    /// Like `start`, but the app is not running yet (see `launch`).
    pub async fn prepare(bots: &[(&str, BotSettings)]) -> Desk {
        init_logs();
        let kit = testkit::Desk::prepare(bots)
            .await
            .expect("the desk is prepared");
        Desk {
            call_timeout: Duration::from_secs(5),
            token_probe: Duration::from_secs(5),
            faults: FaultSwitch::default(),
            passes: Arc::new(watch::Sender::new(0)),
            operator: kit.fake.add_user("Olga", Some("olga_support")),
            clock: ManualClock::starting_at(1_700_000_000),
            kit,
        }
    }

    /// Starts the app in this process (on a new port if it ran before).
    pub fn launch(&mut self) {
        let options = Options {
            clock: Arc::new(self.clock.clone()),
            scheduler_tick: Duration::from_millis(20),
            scheduler_passes: Arc::clone(&self.passes),
            call_timeout: self.call_timeout,
            // The sender's backoff logic, on a faster clock.
            retry_base: Duration::from_millis(50),
            token_probe: self.token_probe,
            faults: self.faults.clone(),
        };
        self.kit.launch(options).expect("the app starts");
    }

    /// Stops the app gracefully and waits for it.
    pub async fn stop(&mut self) {
        self.kit.stop().await.expect("the app stops cleanly");
    }

    /// Waits until the scheduler has made a whole pass that started after
    /// this call, so it saw every change made before (to the clock, say).
    pub async fn scheduler_pass(&self) {
        let mut passes = self.passes.subscribe();
        let start = *passes.borrow_and_update();
        // The pass running now may have read the clock before the change.
        let done = tokio::time::timeout(PATIENCE, passes.wait_for(|n| *n >= start + 2)).await;
        assert!(
            matches!(done, Ok(Ok(_))),
            "the scheduler made no pass in time"
        );
    }

    /// What `/healthz` answers: the status code and the JSON body.
    pub async fn health(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(format!("http://{}/healthz", self.http))
            .await
            .expect("healthz answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("healthz JSON"))
    }

    /// Waits for `check` to return Some, re-checking on every fake change.
    pub async fn wait<T>(&self, what: &str, check: impl FnMut(&FakeTelegram) -> Option<T>) -> T {
        self.fake
            .wait_until(PATIENCE, check)
            .await
            .unwrap_or_else(|| panic!("timed out waiting for {what}"))
    }

    /// The one topic of the first bot's group, once something was relayed
    /// into it (as an operator sees it: a topic with a message to answer).
    pub async fn only_topic(&self) -> i64 {
        let group = self.group();
        self.wait("a topic in use", |f| {
            let topic = f.topics(group).first()?.thread_id;
            let used = f.topic_messages(group, topic).iter().any(|m| !m.is_service);
            used.then_some(topic)
        })
        .await
    }

    /// A new user writes `text` to the first bot; returns them and their
    /// topic once the app has relayed it and has nothing left to do.
    pub async fn open_dialog(&self, name: &str, text: &str) -> (FakeUser, i64) {
        let mut opened = self.open_dialogs(&[name], text).await;
        opened.remove(0)
    }

    /// Like [`Desk::open_dialog`], for several new users at once.
    pub async fn open_dialogs(&self, names: &[&str], text: &str) -> Vec<(FakeUser, i64)> {
        let users: Vec<FakeUser> = names
            .iter()
            .map(|name| self.fake.add_user(name, None))
            .collect();
        for user in &users {
            self.fake.user_sends(self.bot(), user, text);
        }
        let mut opened = Vec::new();
        for user in users {
            let topic = self.topic_of(&user).await;
            opened.push((user, topic));
        }
        self.settle().await;
        opened
    }

    /// The topic of `user` in the first bot's group, once something was
    /// relayed into it.
    pub async fn topic_of(&self, user: &FakeUser) -> i64 {
        let group = self.group();
        let suffix = format!(" {}", user.id);
        self.wait("the user's topic in use", |f| {
            let topic = f
                .topics(group)
                .into_iter()
                .find(|t| t.name.ends_with(&suffix))?;
            let used = f
                .topic_messages(group, topic.thread_id)
                .iter()
                .any(|m| !m.is_service);
            used.then_some(topic.thread_id)
        })
        .await
    }

    /// Waits until the topic shows these texts (service messages left out).
    pub async fn wait_topic_texts(&self, group: i64, thread: i64, expected: &[&str]) {
        let what = format!("topic {thread} to show {expected:?}");
        self.wait(&what, |f| {
            (texts(&f.topic_messages(group, thread)) == expected).then_some(())
        })
        .await;
    }

    /// Waits until the user's chat with the bot shows these texts, both directions.
    pub async fn wait_chat_texts(&self, bot: &FakeBot, user: &FakeUser, expected: &[&str]) {
        let what = format!("the chat of user {} to show {expected:?}", user.id);
        self.wait(&what, |f| {
            (texts(&f.private_chat(bot, user)) == expected).then_some(())
        })
        .await;
    }

    /// Waits until the app has nothing left to do (the kit's `settle`, with
    /// `PATIENCE`). Then the absence of something is a fact.
    pub async fn settle(&self) {
        if let Err(err) = self.kit.settle(PATIENCE).await {
            panic!("{err:#}");
        }
    }

    /// Outbox jobs that failed for good, as (job JSON, error).
    pub fn failed_jobs(&self) -> Vec<(String, String)> {
        let store = Store::open(&self.database).expect("open the database");
        let conn = store.conn().expect("connection");
        let mut stmt = conn
            .prepare("SELECT job, last_error FROM outbox WHERE state = 'failed' ORDER BY id")
            .expect("query");
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    }
}

/// The texts (or captions) of messages, service messages and the user card
/// left out.
pub fn texts(messages: &[FakeMessage]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| !m.is_service && !is_user_card(m))
        .map(|m| {
            m.text
                .clone()
                .or_else(|| m.caption.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether `message` is the user card a new topic starts with
/// (`auto_info`): left out of [`texts`], so that tests of other things
/// compare the conversation alone; the card's own tests look at it.
pub fn is_user_card(message: &FakeMessage) -> bool {
    message.from_is_bot
        && message
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("👤 "))
}

/// The default welcome text.
pub fn welcome() -> String {
    BotSettings::default()
        .welcome
        .expect("welcome on by default")
}

/// Shows the app's logs in a failing test's output; `RUST_LOG` sets the level.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Writes a bots.toml for one bot on the fake and returns its path.
pub fn write_config(dir: &Path, fake: &FakeTelegram, group: i64) -> PathBuf {
    let path = dir.join("bots.toml");
    let text = format!(
        r#"
database = "state/switchboard.db"
api_url = "{}"
poll_timeout = "5s"

[http]
listen = "127.0.0.1:0"

[[bots]]
name = "shop"
token = "${{SHOP_TOKEN}}"
backend_group = {group}
"#,
        fake.api_url()
    );
    std::fs::write(&path, text).expect("write bots.toml");
    path
}

/// What the tests of the real binary start from: a fake with one bot
/// (`shop_bot`), its forum group, a user, Alice, and a bots.toml for the
/// bot in a temporary directory (the database goes under it, in `state/`).
pub struct OnDisk {
    pub fake: FakeTelegram,
    pub bot: FakeBot,
    pub group: i64,
    pub alice: FakeUser,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl OnDisk {
    pub async fn new() -> OnDisk {
        let fake = FakeTelegram::start().await.expect("fake");
        let bot = fake.add_bot("shop_bot");
        let group = fake.add_forum_group("Support", &[&bot]);
        let alice = fake.add_user("Alice", None);
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(dir.path(), &fake, group);
        OnDisk {
            fake,
            bot,
            group,
            alice,
            dir,
            config,
        }
    }

    /// Where the app keeps its database.
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("state/switchboard.db")
    }
}

/// A running switchboard process, killed with SIGKILL when dropped (so a
/// failing test leaves no process behind).
pub struct Process(Child);

impl Process {
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Waits for the process to exit by itself; `None` if it is still running
    /// after `PATIENCE`.
    pub async fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_switchboard(config: &Path, bot: &FakeBot) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(config)
        .env("SHOP_TOKEN", &bot.token)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start switchboard");
    Process(child)
}

/// Drops repeats that directly follow their original (a message sent again
/// because its answer was lost), counting them.
pub fn without_repeats(shown: &[String]) -> (Vec<String>, usize) {
    let mut kept: Vec<String> = Vec::new();
    for text in shown {
        if kept.last() != Some(text) {
            kept.push(text.clone());
        }
    }
    let repeats = shown.len() - kept.len();
    (kept, repeats)
}

/// Waits until, for each (user, topic), the topic shows the bot's copies of
/// `questions` and the user's chat the bot's `answers`, in order, allowing
/// only repeats that directly follow their original. Returns how many
/// repeats there were; panics with what arrived if it does not complete
/// within `CHAOS_PATIENCE`.
pub async fn wait_delivered_in_order(
    fake: &FakeTelegram,
    bot: &FakeBot,
    group: i64,
    dialogs: &[(&FakeUser, i64)],
    questions: &[String],
    answers: &[String],
) -> usize {
    let copies = |f: &FakeTelegram, topic: i64| -> Vec<String> {
        f.topic_messages(group, topic)
            .into_iter()
            .filter(|m| m.from_is_bot && !m.is_service && !is_user_card(m))
            .filter_map(|m| m.text)
            .collect()
    };
    let received = |f: &FakeTelegram, user: &FakeUser| -> Vec<String> {
        f.private_chat(bot, user)
            .into_iter()
            .filter(|m| m.from_is_bot)
            .filter_map(|m| m.text)
            .collect()
    };
    let mut repeats = 0;
    for &(user, topic) in dialogs {
        let done = fake
            .wait_until(CHAOS_PATIENCE, |f| {
                let (q, q_repeats) = without_repeats(&copies(f, topic));
                let (a, a_repeats) = without_repeats(&received(f, user));
                (q == questions && a == answers).then_some(q_repeats + a_repeats)
            })
            .await;
        let Some(found) = done else {
            panic!(
                "lost or out of order for user {}:\n topic: {:?}\n chat: {:?}",
                user.id,
                copies(fake, topic),
                received(fake, user)
            );
        };
        repeats += found;
    }
    repeats
}

/// A running switchboard process with its stderr collected; killed when
/// dropped, so that a failing test leaves nothing behind.
pub struct Switchboard {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// Ends when the test's read end of stderr is closed.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Switchboard {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Starts `command` with stderr piped. With `close_after`, the read end
    /// is closed right after the first line that contains it.
    pub fn spawn(mut command: Command, close_after: Option<&'static str>) -> Switchboard {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start switchboard");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&logs);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let last = close_after.is_some_and(|marker| line.contains(marker));
                let mut logs = collected.lock().unwrap_or_else(PoisonError::into_inner);
                logs.push_str(&line);
                logs.push('\n');
                if last {
                    break;
                }
            }
        });
        Switchboard {
            child,
            logs,
            reader: Some(reader),
        }
    }

    /// What the process logged so far.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the reader thread has closed the read end of stderr.
    pub async fn wait_stderr_closed(&mut self) {
        let reader = self.reader.take().expect("a reader");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !reader.is_finished() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the marker line never came:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = reader.join();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit by itself; `None` if it still runs
    /// after `PATIENCE`. Its whole log is collected when it exited.
    pub async fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Kills the process and returns everything it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.logs()
    }
}

impl Drop for Switchboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `switchboard run --config <config>`.
pub fn switchboard_command(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(["run", "--config"]).arg(config);
    command
}

/// A bots.toml with these bots as (name, token variable, backend group).
pub fn write_bots_config(
    dir: &Path,
    api_url: &str,
    http: SocketAddr,
    bots: &[(&str, &str, i64)],
) -> PathBuf {
    let mut text = format!(
        "database = \"switchboard.db\"\napi_url = \"{api_url}\"\npoll_timeout = \"5s\"\n\n[http]\nlisten = \"{http}\"\n"
    );
    for (name, variable, group) in bots {
        text.push_str(&format!(
            "\n[[bots]]\nname = \"{name}\"\ntoken = \"${{{variable}}}\"\nbackend_group = {group}\n"
        ));
    }
    let path = dir.join("bots.toml");
    std::fs::write(&path, text).expect("write bots.toml");
    path
}

/// A port that was free a moment ago (the process binds it itself).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Polls `/healthz` until its JSON satisfies `done`; panics after `PATIENCE`.
pub async fn wait_for_health(
    http: SocketAddr,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let url = format!("http://{http}/healthz");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await {
            if let Ok(health) = response.json::<serde_json::Value>().await {
                if done(&health) {
                    return health;
                }
                last = Some(health);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/healthz never showed what was expected; last: {last:?}");
}
