//! What the outside can do to the process through its exposed surfaces: an
//! upstream that echoes the token, idle or half-open HTTP connections, a
//! dead stderr. Each test runs the real binary (or the app) and asserts what
//! an operator or a user would see.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use switchboard::fake::{FakeBot, FakeTelegram};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{Desk, PATIENCE, texts};

/// A wrong `api_url` (here a server that answers every request like
/// Express's default 404 page, echoing the path and so the token) must not
/// put the token into `/healthz` or the log, even at debug level, whether
/// the echo is raw or percent-encoded; the masked error is still shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_echoes_the_token_does_not_expose_it() {
    let raw = "111111111:AAEchoedRawSecret_0123456789abcdefgh";
    let encoded = "222222222:AAEchoedEncodedSecret-0123456789abcd";
    let upstream = echo_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let http = free_port();
    let config = write_config(
        dir.path(),
        &format!("http://{upstream}"),
        http,
        &[
            ("raw", "RAW_TOKEN", -1001234567890),
            ("encoded", "ENCODED_TOKEN", -1009876543210),
        ],
    );
    let mut command = switchboard_command(&config);
    command
        .env("RAW_TOKEN", raw)
        .env("ENCODED_TOKEN", encoded)
        .env("RUST_LOG", "debug");
    let process = Switchboard::spawn(command, None);

    let health = wait_for_health(http, |health| {
        let echoed = |bot: &str| {
            health["bots"][bot]["error"]
                .as_str()
                .is_some_and(|e| e.contains("Cannot POST"))
        };
        echoed("raw") && echoed("encoded")
    })
    .await;
    let logs = process.stop();
    let health = health.to_string();
    for token in [raw, encoded] {
        let secret = secret_of(token);
        assert!(!health.contains(secret), "token in /healthz: {health}");
        assert!(!logs.contains(secret), "token in the log:\n{logs}");
    }
    // The error is still there to read, with the token masked.
    assert!(
        health.contains("Cannot POST /bot111111111:***/getMe"),
        "{health}"
    );
    assert!(
        health.contains("Cannot POST /bot222222222%3A***/getMe"),
        "{health}"
    );
    assert!(
        logs.contains("Cannot POST /bot111111111:***/getMe"),
        "{logs}"
    );
}

/// Under the common default of 1,024 file descriptors (soft and hard), 1,100
/// idle connections to the HTTP port must not stall relaying: a user's
/// message still reaches its topic while they are open, and `/healthz`
/// answers once they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_starve_the_bots_of_file_descriptors() {
    const IDLE: usize = 1_100;
    // The test holds the client ends, so it needs more than 1,024 itself.
    let _ = rlimit::increase_nofile_limit(4 * IDLE as u64);
    let setup = Setup::new().await;
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(&setup.config)
        .env("SHOP_TOKEN", &setup.bot.token)
        .env("RUST_LOG", "warn");
    let process = Switchboard::spawn(command, None);
    wait_for_health(setup.http, |health| {
        health["bots"]["shop"]["state"] == "polling"
    })
    .await;

    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(
            TcpStream::connect(setup.http)
                .await
                .expect("connect an idle client"),
        );
    }
    let alice = setup.fake.add_user("Alice", None);
    setup.fake.user_sends(&setup.bot, &alice, "still relayed?");
    let relayed = setup.wait_topic_with(&alice, "still relayed?").await;
    assert!(
        relayed,
        "not relayed while idle connections were open:\n{}",
        process.logs()
    );

    drop(idle);
    let health = wait_for_health(setup.http, |_| true).await;
    assert_eq!(health["status"], "ok", "{health}");
    process.stop();
}

/// A connection that never sends a request is closed by the server (after
/// the header read timeout), rather than held open forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_by_the_server() {
    let desk = Desk::one_bot().await;
    wait_for_health(desk.http, |health| {
        health["bots"]["shop"]["state"] == "polling"
    })
    .await;
    let mut silent = TcpStream::connect(desk.http).await.expect("connect");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the silent connection is still open (or failed otherwise): {read:?}"
    );
}

/// SIGTERM while a client holds a half-sent request: the process still
/// stops by itself, with success, without running into the stop deadline
/// (app.rs logs "some tasks did not stop in time" when it does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_a_half_sent_request() {
    let setup = Setup::new().await;
    let mut command = switchboard_command(&setup.config);
    command
        .env("SHOP_TOKEN", &setup.bot.token)
        .env("RUST_LOG", "info");
    let mut process = Switchboard::spawn(command, None);
    wait_for_health(setup.http, |health| {
        health["bots"]["shop"]["state"] == "polling"
    })
    .await;
    let mut client = TcpStream::connect(setup.http).await.expect("connect");
    client
        .write_all(b"GET /healthz HT")
        .await
        .expect("half a request line");
    // Not an assertion on time: lets the server read the half request, so
    // that the stop finds a connection in the middle of a request.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", process.child.id())])
        .status()
        .expect("run kill");
    assert!(signalled.success());
    let status = process.exit_status().await;
    let logs = process.logs();
    let status = status.unwrap_or_else(|| panic!("the process did not stop:\n{logs}"));
    assert!(status.success(), "{status:?}\n{logs}");
    assert!(logs.contains("stopping"), "the log was captured:\n{logs}");
    assert!(
        !logs.contains("did not stop in time"),
        "the stop ran into its deadline:\n{logs}"
    );
    drop(client);
}

/// When whoever reads stderr goes away, logging must not kill the task that
/// logs next: new users keep getting their topics (each topic creation logs
/// at info), and the process stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_does_not_stop_relaying() {
    let setup = Setup::new().await;
    let mut command = switchboard_command(&setup.config);
    command
        .env("SHOP_TOKEN", &setup.bot.token)
        .env("RUST_LOG", "info");
    // The read end closes once the bot is connected, so the next info line
    // is a topic creation in the bot's sender.
    let mut process = Switchboard::spawn(command, Some("connected to Telegram"));
    process.wait_stderr_closed().await;

    let users: Vec<_> = ["Alice", "Bob", "Carol"]
        .iter()
        .map(|name| setup.fake.add_user(name, None))
        .collect();
    for user in &users {
        let text = format!("hello from {}", user.id);
        setup.fake.user_sends(&setup.bot, user, &text);
        let relayed = setup.wait_topic_with(user, &text).await;
        assert!(relayed, "{text:?} did not reach its topic");
    }
    assert!(process.is_running(), "the process died");
    let health = wait_for_health(setup.http, |_| true).await;
    assert_eq!(health["status"], "ok", "{health}");
}

/// A fake Telegram with one bot and its group, and a bots.toml for it whose
/// HTTP server listens on a known port.
struct Setup {
    fake: FakeTelegram,
    bot: FakeBot,
    group: i64,
    config: PathBuf,
    http: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let fake = FakeTelegram::start().await.expect("fake Telegram");
        let bot = fake.add_bot("shop_bot");
        let group = fake.add_forum_group("Support", &[&bot]);
        let dir = tempfile::tempdir().expect("temp dir");
        let http = free_port();
        let config = write_config(
            dir.path(),
            &fake.api_url(),
            http,
            &[("shop", "SHOP_TOKEN", group)],
        );
        Setup {
            fake,
            bot,
            group,
            config,
            http,
            _dir: dir,
        }
    }

    /// Whether `user`'s topic came to show `text`, within `PATIENCE`.
    async fn wait_topic_with(&self, user: &switchboard::fake::FakeUser, text: &str) -> bool {
        let suffix = format!(" {}", user.id);
        self.fake
            .wait_until(PATIENCE, |f| {
                let topic = f
                    .topics(self.group)
                    .into_iter()
                    .find(|t| t.name.ends_with(&suffix))?;
                texts(&f.topic_messages(self.group, topic.thread_id))
                    .iter()
                    .any(|shown| shown == text)
                    .then_some(())
            })
            .await
            .is_some()
    }
}

/// A running switchboard process with its stderr collected; killed when
/// dropped, so that a failing test leaves nothing behind.
struct Switchboard {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// Ends when the test's read end of stderr is closed.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Switchboard {
    /// Starts `command` with stderr piped. With `close_after`, the read end
    /// is closed right after the first line that contains it.
    fn spawn(mut command: Command, close_after: Option<&'static str>) -> Switchboard {
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
    fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the reader thread has closed the read end of stderr.
    async fn wait_stderr_closed(&mut self) {
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

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit by itself; `None` if it still runs
    /// after `PATIENCE`. Its whole log is collected when it exited.
    async fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
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
    fn stop(mut self) -> String {
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
fn switchboard_command(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(["run", "--config"]).arg(config);
    command
}

/// A bots.toml with these bots as (name, token variable, backend group).
fn write_config(
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
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// The part of a token after `:`.
fn secret_of(token: &str) -> &str {
    token.split_once(':').map_or(token, |(_, secret)| secret)
}

/// Polls `/healthz` until its JSON satisfies `done`; panics after `PATIENCE`.
async fn wait_for_health(
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

/// A server that answers every request as Express does when no route
/// matches: 404 and an HTML page that echoes the method and the path. For
/// the bot id 222222222 it echoes the path percent-encoded (`:` as `%3A`),
/// as some servers do.
async fn echo_server() -> SocketAddr {
    use axum::http::{Request, StatusCode};
    use axum::response::Html;
    async fn not_found(request: Request<axum::body::Body>) -> (StatusCode, Html<String>) {
        let path = request.uri().path();
        let shown = if path.starts_with("/bot222222222:") {
            path.replace(':', "%3A")
        } else {
            path.to_owned()
        };
        let page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {} {shown}</pre>\n</body>\n</html>\n",
            request.method()
        );
        (StatusCode::NOT_FOUND, Html(page))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the echo server");
    let address = listener.local_addr().expect("its address");
    let router = axum::Router::new().fallback(not_found);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}
