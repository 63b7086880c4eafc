//! Live reload: SIGHUP makes the running binary re-read bots.toml. Added
//! bots start, removed bots stop, changed bots restart with their new
//! settings, and an untouched bot keeps relaying through it all; a file that
//! `check` refuses, or one that changes what only a restart can, leaves the
//! running set as it was.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use switchboard::fake::{FakeBot, FakeTelegram, FakeUser, Fault, FaultRule};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use switchboard::store::{Store, inbox};

use crate::util::{PATIENCE, Switchboard, free_port, switchboard_command, texts, wait_for_health};

/// How often the user of the untouched bot writes.
const WRITE_EVERY: Duration = Duration::from_millis(50);
/// How long the removed bot's last call takes to be answered: shorter than
/// the sender's drain (3 s), so it lands while the bot stops.
const IN_FLIGHT: Duration = Duration::from_millis(1500);

/// The end-to-end reload, on the real binary. At start, bots a, b and c run
/// and d's table is invalid (set aside). Carol writes to c every 50 ms
/// throughout. The first reload removes a, changes b's welcome, leaves c
/// alone and makes d valid; then a file `check` refuses and a file that
/// changes `poll_timeout` are both refused, with the running set untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_starts_stops_and_restarts_bots_while_the_others_relay() {
    let fake = FakeTelegram::start().await.expect("fake Telegram");
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|name| Bot::new(&fake, name));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    let http = free_port();
    let file = |poll_timeout: &str, tables: &[(&Bot, &str)]| {
        write_config(&path, &fake.api_url(), http, poll_timeout, tables);
    };
    file(
        "5s",
        &[
            (&a, ""),
            (&b, "welcome = \"b, first version\""),
            (&c, ""),
            (&d, "autoclose = \"4x\""),
        ],
    );
    let mut command = switchboard_command(&path);
    for bot in [&a, &b, &c, &d] {
        command.env(&bot.variable, &bot.fake.token);
    }
    command.env("RUST_LOG", "info");
    let process = Switchboard::spawn(command, None);
    wait_for_health(http, |health| {
        ["a", "b", "c"]
            .iter()
            .all(|name| health["bots"][name]["state"] == "polling")
            && health["bots"]["d"]["state"] == "stopped"
    })
    .await;
    let bella = fake.add_user("Bella", None);
    fake.user_sends(&b.fake, &bella, "hello b");
    b.wait_welcome(&fake, &bella, "b, first version").await;

    // Carol keeps writing to c, and her messages flow before the reload.
    let carol = fake.add_user("Carol", None);
    let writing = CancellationToken::new();
    let writer = keep_writing(&fake, &c.fake, &carol, writing.clone());
    let carol_topic = c.wait_topic(&fake, &carol, |shown| shown.len() >= 3).await;

    // Anna's message to a is on the wire (answered slowly) when a is removed.
    fake.inject(FaultRule::on("copyMessage", Fault::Delay(IN_FLIGHT)).for_bot(&a.fake));
    let anna = fake.add_user("Anna", None);
    fake.user_sends(&a.fake, &anna, "anyone at a?");
    fake.wait_until(PATIENCE, |f| {
        (calls_of(f, &a, Some("copyMessage")) > 0).then_some(())
    })
    .await
    .expect("a copies Anna's message");

    // a removed, b changed, c untouched, d now valid.
    file(
        "5s",
        &[(&b, "welcome = \"b, second version\""), (&c, ""), (&d, "")],
    );
    hang_up(&process);
    let logs = wait_for_log(&process, "configuration reloaded", 1).await;
    assert!(
        logs.contains("configuration reloaded: started d; stopped a; restarted b; unchanged c"),
        "{logs}"
    );
    // a's tasks ended before that line was logged: the call in flight
    // landed, and a calls Telegram no more.
    a.wait_topic(&fake, &anna, |shown| shown == ["anyone at a?"])
        .await;
    let a_calls = calls_of(&fake, &a, None);
    let relayed_by_then = texts(&fake.topic_messages(c.group, carol_topic)).len();
    // While a's call was landing, before d started, c went on sending.
    // (d's tasks are started when the line is logged; its first call may
    // come a moment later.)
    fake.wait_until(PATIENCE, |f| {
        f.requests()
            .iter()
            .any(|r| r.bot_id == Some(d.fake.id) && r.method == "getMe")
            .then_some(())
    })
    .await
    .expect("d starts");
    let requests = fake.requests();
    let position = |bot: &Bot, method: &str| {
        requests
            .iter()
            .position(|r| r.bot_id == Some(bot.fake.id) && r.method == method)
    };
    let landing = position(&a, "copyMessage").expect("a's copy");
    let d_started = position(&d, "getMe").expect("d started");
    let c_meanwhile = requests[landing..d_started]
        .iter()
        .filter(|r| r.bot_id == Some(c.fake.id) && r.method == "copyMessage")
        .count();
    assert!(c_meanwhile > 0, "c paused while a stopped");

    let dora = fake.add_user("Dora", None);
    fake.user_sends(&d.fake, &dora, "hello d");
    d.wait_topic(&fake, &dora, |shown| shown == ["hello d"])
        .await;
    let bert = fake.add_user("Bert", None);
    fake.user_sends(&b.fake, &bert, "hello again b");
    b.wait_welcome(&fake, &bert, "b, second version").await;
    b.wait_topic(&fake, &bert, |shown| shown == ["hello again b"])
        .await;
    let alex = fake.add_user("Alex", None);
    fake.user_sends(&a.fake, &alex, "is a there?");
    let health = wait_for_health(http, |health| {
        ["b", "c", "d"]
            .iter()
            .all(|name| health["bots"][name]["state"] == "polling")
    })
    .await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["bots"]["a"].is_null(), "a is still shown: {health}");

    // c goes on relaying, and every message Carol sent before, during and
    // after the reload reached her topic, once and in order.
    c.wait_topic(&fake, &carol, |shown| shown.len() >= relayed_by_then + 3)
        .await;
    writing.cancel();
    let sent = writer.await.expect("the writer");
    c.wait_topic(&fake, &carol, |shown| shown == sent).await;

    // Facts that hold now that all of the above happened after the reload.
    assert_eq!(
        calls_of(&fake, &a, None),
        a_calls,
        "a called Telegram after its removal"
    );
    assert_eq!(
        fake.pending_update_count(&a.fake),
        1,
        "a fetched Alex's message"
    );
    assert_eq!(a.topic_of(&fake, &alex), None, "a opened a topic");
    let identified = |bot: &Bot| calls_of(&fake, bot, Some("getMe"));
    assert_eq!(identified(&c), 1, "c was restarted");
    assert_eq!(identified(&b), 2, "b was not restarted exactly once");
    let logs = process.logs();
    assert!(
        !logs.contains("409 Conflict"),
        "two pollers for one token:\n{logs}"
    );

    // A file `check` refuses (b's autoclose), which also leaves c out:
    // refused with check's messages, and c keeps running.
    file(
        "5s",
        &[
            (&b, "welcome = \"b, second version\"\nautoclose = \"4x\""),
            (&d, ""),
        ],
    );
    let check = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .envs([&b, &d].map(|bot| (&bot.variable, &bot.fake.token)))
        .output()
        .expect("run check");
    let problems = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(problems.contains("bots[0].autoclose"), "{problems}");
    hang_up(&process);
    let logs = wait_for_log(&process, "configuration was not reloaded", 1).await;
    assert!(logs.contains("ERROR"), "{logs}");
    for line in problems.lines() {
        assert!(logs.contains(line), "{line:?} is not in the log:\n{logs}");
    }

    // A valid file that changes poll_timeout (and leaves c out): refused,
    // naming the key and the restart it takes.
    file("6s", &[(&b, "welcome = \"b, second version\""), (&d, "")]);
    hang_up(&process);
    let logs = wait_for_log(&process, "configuration was not reloaded", 2).await;
    assert!(
        logs.contains("poll_timeout changed, which takes a restart"),
        "{logs}"
    );

    // Still the same running set: c relays, nothing was restarted.
    fake.user_sends(&c.fake, &carol, "still there, c?");
    let mut expected = sent.clone();
    expected.push("still there, c?".to_owned());
    c.wait_topic(&fake, &carol, |shown| shown == expected).await;
    let health = wait_for_health(http, |_| true).await;
    for name in ["b", "c", "d"] {
        assert_eq!(health["bots"][name]["state"], "polling", "{health}");
    }
    assert_eq!(identified(&b), 2, "b was restarted by a refused reload");
    assert_eq!(identified(&c), 1, "c was restarted by a refused reload");
    assert_eq!(identified(&d), 1, "d was restarted by a refused reload");
    assert_eq!(
        c.topic_of(&fake, &carol),
        Some(carol_topic),
        "a second topic"
    );
    process.stop();
}

/// Rows a bot left in the inbox while it was not running (fetched by an
/// earlier run that stopped before handling them) wait for it, though the
/// other bots' rows go past them, and are handled once a reload brings it
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_comes_back_finds_the_rows_it_left() {
    let fake = FakeTelegram::start().await.expect("fake Telegram");
    let [a, b] = ["a", "b"].map(|name| Bot::new(&fake, name));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    let http = free_port();
    let file = |tables: &[(&Bot, &str)]| write_config(&path, &fake.api_url(), http, "5s", tables);

    // The earlier run fetched Zoe's message to a and stored it, with a's
    // offset past it, as its poller does.
    let zoe = fake.add_user("Zoe", None);
    fake.user_sends(&a.fake, &zoe, "left behind");
    let url = format!("{}/bot{}/getUpdates", fake.api_url(), a.fake.token);
    let answer: serde_json::Value = reqwest::get(url)
        .await
        .expect("getUpdates")
        .json()
        .await
        .expect("getUpdates' answer");
    let update = answer["result"][0].clone();
    let update_id = update["update_id"].as_i64().expect("an update");
    let store = Store::open(&dir.path().join("switchboard.db")).expect("the database");
    store
        .write(move |tx| {
            let raw = update.to_string();
            inbox::append_updates(tx, "a", [(update_id, raw.as_str())], update_id + 1, 0)?;
            Ok(())
        })
        .await
        .expect("the earlier run's row");
    drop(store);

    // This run starts without a: b's rows are handled, a's wait.
    file(&[(&b, "")]);
    let mut command = switchboard_command(&path);
    for bot in [&a, &b] {
        command.env(&bot.variable, &bot.fake.token);
    }
    command.env("RUST_LOG", "info");
    let process = Switchboard::spawn(command, None);
    wait_for_health(http, |health| health["bots"]["b"]["state"] == "polling").await;
    let bella = fake.add_user("Bella", None);
    for text in ["one", "two"] {
        fake.user_sends(&b.fake, &bella, text);
    }
    b.wait_topic(&fake, &bella, |shown| shown == ["one", "two"])
        .await;
    assert_eq!(
        a.topic_of(&fake, &zoe),
        None,
        "a's row was handled without a"
    );

    // a comes back, and Zoe's message reaches its group, once.
    file(&[(&a, ""), (&b, "")]);
    hang_up(&process);
    wait_for_log(&process, "configuration reloaded", 1).await;
    a.wait_topic(&fake, &zoe, |shown| shown == ["left behind"])
        .await;
    process.stop();
}

/// One bot of the test: on the fake, with its own backend group, its token
/// in the environment variable `variable`.
struct Bot {
    name: String,
    fake: FakeBot,
    group: i64,
    variable: String,
}

impl Bot {
    fn new(fake: &FakeTelegram, name: &str) -> Bot {
        let bot = fake.add_bot(&format!("{name}_bot"));
        let group = fake.add_forum_group(&format!("{name} support"), &[&bot]);
        Bot {
            name: name.to_owned(),
            fake: bot,
            group,
            variable: format!("{}_TOKEN", name.to_uppercase()),
        }
    }

    /// The topic of `user` in this bot's group, if there is one.
    fn topic_of(&self, fake: &FakeTelegram, user: &FakeUser) -> Option<i64> {
        let suffix = format!(" {}", user.id);
        fake.topics(self.group)
            .into_iter()
            .find(|topic| topic.name.ends_with(&suffix))
            .map(|topic| topic.thread_id)
    }

    /// Waits until the texts in `user`'s topic satisfy `done`; returns the topic.
    async fn wait_topic(
        &self,
        fake: &FakeTelegram,
        user: &FakeUser,
        done: impl Fn(&[String]) -> bool,
    ) -> i64 {
        let found = fake
            .wait_until(PATIENCE, |f| {
                let topic = self.topic_of(f, user)?;
                done(&texts(&f.topic_messages(self.group, topic))).then_some(topic)
            })
            .await;
        found.unwrap_or_else(|| {
            let shown = self
                .topic_of(fake, user)
                .map(|topic| texts(&fake.topic_messages(self.group, topic)));
            panic!(
                "{}: the topic of {} shows {shown:?}",
                self.name, user.first_name
            )
        })
    }

    /// Waits until `user` got `welcome` from this bot.
    async fn wait_welcome(&self, fake: &FakeTelegram, user: &FakeUser, welcome: &str) {
        let got = fake
            .wait_until(PATIENCE, |f| {
                texts(&f.private_chat(&self.fake, user))
                    .iter()
                    .any(|text| text == welcome)
                    .then_some(())
            })
            .await;
        assert!(
            got.is_some(),
            "{}: {} did not get {welcome:?} but {:?}",
            self.name,
            user.first_name,
            texts(&fake.private_chat(&self.fake, user))
        );
    }
}

/// Writes bots.toml with these bots' tables, each with its extra lines.
/// Rate limits are off, so that a message every 50 ms is relayed as it comes.
fn write_config(
    path: &Path,
    api_url: &str,
    http: SocketAddr,
    poll_timeout: &str,
    tables: &[(&Bot, &str)],
) {
    let mut text = format!(
        "database = \"switchboard.db\"\napi_url = \"{api_url}\"\npoll_timeout = \"{poll_timeout}\"\n\n\
         [http]\nlisten = \"{http}\"\n\n\
         [defaults]\nbot_limit = \"off\"\nchat_limit = \"off\"\ngroup_limit = \"off\"\n"
    );
    for (bot, extra) in tables {
        text.push_str(&format!(
            "\n[[bots]]\nname = \"{}\"\ntoken = \"${{{}}}\"\nbackend_group = {}\n{extra}\n",
            bot.name, bot.variable, bot.group
        ));
    }
    std::fs::write(path, text).expect("write bots.toml");
}

/// `user` writes to `bot` every `WRITE_EVERY` until `stop`; the task returns
/// what they sent, in order.
fn keep_writing(
    fake: &FakeTelegram,
    bot: &FakeBot,
    user: &FakeUser,
    stop: CancellationToken,
) -> JoinHandle<Vec<String>> {
    let (fake, bot, user) = (fake.clone(), bot.clone(), user.clone());
    tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut tick = tokio::time::interval(WRITE_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return sent,
                _ = tick.tick() => {}
            }
            let text = format!("c {}", sent.len() + 1);
            fake.user_sends(&bot, &user, &text);
            sent.push(text);
        }
    })
}

/// How many calls `bot` made (of `method`, or of any).
fn calls_of(fake: &FakeTelegram, bot: &Bot, method: Option<&str>) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.bot_id == Some(bot.fake.id))
        .filter(|r| method.is_none_or(|method| r.method == method))
        .count()
}

/// Sends SIGHUP to the process: `systemctl reload`.
fn hang_up(process: &Switchboard) {
    let signalled = Command::new("kill")
        .args(["-HUP", &process.id().to_string()])
        .status()
        .expect("run kill");
    assert!(signalled.success());
}

/// Waits until the log shows `needle` `times` times; returns the log.
async fn wait_for_log(process: &Switchboard, needle: &str, times: usize) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let logs = process.logs();
        if logs.matches(needle).count() >= times {
            return logs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{needle:?} was not logged {times} times:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An existing bot long-polling the proxy through a reload that restarts
/// its bot: the poll the reload ends is answered, and the bot's next poll,
/// made while the reload still stops the bot, waits for what replaces it
/// (not for its own timeout on a bot that no longer gets updates), so the
/// user's next message reaches it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_long_poll_through_a_reload_gets_the_next_update_at_once() {
    let fake = FakeTelegram::start().await.expect("fake Telegram");
    let p = Bot::new(&fake, "p");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    let http = free_port();
    let file = |welcome: &str| {
        let extra = format!("mode = \"proxy\"\nwelcome = \"{welcome}\"");
        write_config(&path, &fake.api_url(), http, "5s", &[(&p, &extra)]);
    };
    file("first version");
    let mut command = switchboard_command(&path);
    command.env(&p.variable, &p.fake.token);
    command.env("RUST_LOG", "info");
    let process = Switchboard::spawn(command, None);
    wait_for_health(http, |health| health["bots"]["p"]["state"] == "polling").await;

    // The existing bot: long polls of 30 s, one after the other, as a
    // library makes them; what it gets goes to `received`.
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let url = format!("http://{http}/bot{}/getUpdates", p.fake.token);
    let polling = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut offset = 0;
        loop {
            let Ok(answer) = client
                .get(&url)
                .query(&[("timeout", "30"), ("offset", &offset.to_string())])
                .send()
                .await
            else {
                return;
            };
            let Ok(body) = answer.json::<serde_json::Value>().await else {
                return;
            };
            for update in body["result"].as_array().into_iter().flatten() {
                offset = update["update_id"].as_i64().unwrap_or(0) + 1;
                if let Some(text) = update["message"]["text"].as_str() {
                    let _ = sent.send(text.to_owned());
                }
            }
        }
    });
    let nina = fake.add_user("Nina", None);
    fake.user_sends(&p.fake, &nina, "before");
    let got = tokio::time::timeout(PATIENCE, received.recv()).await;
    assert_eq!(got.ok().flatten().as_deref(), Some("before"));
    let topic = p
        .wait_topic(&fake, &nina, |shown| shown == ["before"])
        .await;

    // A reply on the wire keeps the bot stopping for a while.
    fake.inject(FaultRule::on("copyMessage", Fault::Delay(IN_FLIGHT)).for_bot(&p.fake));
    let olga = fake.add_user("Olga", None);
    fake.operator_sends(p.group, Some(topic), &olga, "answer");
    fake.wait_until(PATIENCE, |f| {
        (calls_of(f, &p, Some("copyMessage")) > 0).then_some(())
    })
    .await
    .expect("the reply on the wire");
    file("second version");
    hang_up(&process);
    wait_for_log(&process, "configuration reloaded", 1).await;

    fake.user_sends(&p.fake, &nina, "after");
    let got = tokio::time::timeout(PATIENCE, received.recv()).await;
    assert_eq!(
        got.ok().flatten().as_deref(),
        Some("after"),
        "the update after the reload reached the bot's next poll"
    );
    polling.abort();
}

/// A reload that adds the first proxy bot, on an address other machines
/// reach, warns of the risk as a start with it would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_adds_the_first_proxy_bot_warns_of_an_exposed_listen() {
    let fake = FakeTelegram::start().await.expect("fake Telegram");
    let s = Bot::new(&fake, "s");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    let port = free_port().port();
    let all: SocketAddr = format!("0.0.0.0:{port}").parse().unwrap();
    let local: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    write_config(&path, &fake.api_url(), all, "5s", &[(&s, "")]);
    let mut command = switchboard_command(&path);
    command.env(&s.variable, &s.fake.token);
    command.env("RUST_LOG", "info");
    let process = Switchboard::spawn(command, None);
    wait_for_health(local, |health| health["bots"]["s"]["state"] == "polling").await;
    assert!(!process.logs().contains("other machines can reach"));

    write_config(
        &path,
        &fake.api_url(),
        all,
        "5s",
        &[(&s, "mode = \"proxy\"")],
    );
    hang_up(&process);
    let logs = wait_for_log(&process, "configuration reloaded", 1).await;
    assert!(
        logs.contains("other machines can reach") && logs.contains("0.0.0.0"),
        "{logs}"
    );
}
