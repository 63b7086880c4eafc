//! What the outside can do to the process through its exposed surfaces: an
//! upstream that echoes the token, idle or half-open HTTP connections, a
//! dead stderr. Each test runs the real binary (or the app) and asserts what
//! an operator or a user would see.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use switchboard::fake::{FakeBot, FakeTelegram};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{
    Desk, PATIENCE, Switchboard, free_port, switchboard_command, texts, wait_for_health,
    write_bots_config,
};

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
    let config = write_bots_config(
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
        .args(["-c", &format!("kill -TERM {}", process.id())])
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
        let config = write_bots_config(
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

/// The part of a token after `:`.
fn secret_of(token: &str) -> &str {
    token.split_once(':').map_or(token, |(_, secret)| secret)
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
