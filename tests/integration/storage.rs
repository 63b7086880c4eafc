use std::time::Duration;

use switchboard::config::{BotSettings, Limits};
use switchboard::dispatch::texts::TOPIC_REPLACED;
use switchboard::fake::{Fault, FaultRule};

use crate::util::{Desk, texts};

/// Polls `/healthz` until `check` accepts it; panics after a while.
async fn wait_health(desk: &Desk, what: &str, check: impl Fn(u16, &serde_json::Value) -> bool) {
    for _ in 0..750 {
        let (status, health) = desk.health().await;
        if check(status, &health) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "timed out waiting for /healthz to show {what}: {:?}",
        desk.health().await
    );
}

/// Waits until the database has refused at least `n` more commits.
async fn wait_refused(desk: &Desk, n: u64) {
    let start = desk.faults.refused_commits();
    desk.wait("refused commits", |_| {
        (desk.faults.refused_commits() >= start + n).then_some(())
    })
    .await;
}

/// The disk fills while calls are on their way, so their results cannot be
/// recorded: they are kept and recorded once there is room again, never
/// sent twice. Five new users, 30 messages: five topics, each message once.
/// Meanwhile `/healthz` answers 503 with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_doubles_nothing_and_shows_in_healthz() {
    let mut desk = Desk::prepare(&[(
        "shop",
        BotSettings {
            welcome: None,
            // This test is about the disk, not pacing.
            limits: Limits::OFF,
            ..BotSettings::default()
        },
    )])
    .await;
    desk.launch();
    let group = desk.group();
    // Topic creations take a moment: the disk fills while they are in flight.
    desk.fake.inject(
        FaultRule::on("createForumTopic", Fault::Delay(Duration::from_millis(300))).always(),
    );
    let users: Vec<_> = (0..5)
        .map(|i| desk.fake.add_user(&format!("User{i}"), None))
        .collect();
    let messages: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    for text in &messages {
        for user in &users {
            desk.fake.user_sends(desk.bot(), user, text);
        }
    }
    desk.wait("topic creations in flight", |f| {
        (f.request_count("createForumTopic") >= 1).then_some(())
    })
    .await;
    desk.faults.set_disk_full(true);
    wait_health(&desk, "the storage failing", |status, health| {
        status == 503
            && health["storage"]["state"] == "failing"
            && health["storage"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("full"))
    })
    .await;
    // Telegram applied the creations; their results reach a full disk, and
    // the records are refused a few times before there is room again.
    desk.wait("the topics created", |f| {
        (f.topics(group).len() >= 5).then_some(())
    })
    .await;
    wait_refused(&desk, 20).await;
    desk.faults.set_disk_full(false);

    for user in &users {
        let topic = desk.topic_of(user).await;
        let expected: Vec<&str> = messages.iter().map(String::as_str).collect();
        desk.wait_topic_texts(group, topic, &expected).await;
    }
    desk.settle().await;
    assert_eq!(desk.fake.topics(group).len(), 5, "one topic per user");
    assert_eq!(desk.fake.request_count("createForumTopic"), 5);
    assert_eq!(
        desk.fake.request_count("copyMessage"),
        30,
        "each message once"
    );
    wait_health(&desk, "the storage recovered", |status, health| {
        status == 200 && health["storage"]["state"] == "ok"
    })
    .await;
}

/// A deleted topic is replaced through an outbox job like any other call:
/// when the replacement's result cannot be recorded at once, it is kept and
/// recorded later, and no second replacement is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_topic_is_replaced_once_even_when_the_disk_fills_meanwhile() {
    let desk = Desk::one_bot().await;
    let (alice, old) = desk.open_dialog("Alice", "first").await;
    let group = desk.group();
    desk.fake.delete_topic(group, old);
    desk.fake.inject(
        FaultRule::on("createForumTopic", Fault::Delay(Duration::from_millis(300))).always(),
    );
    desk.fake.user_sends(desk.bot(), &alice, "second");
    // The replacement is being created: the disk fills before its answer.
    desk.wait("the replacement in flight", |f| {
        (f.request_count("createForumTopic") >= 2).then_some(())
    })
    .await;
    desk.faults.set_disk_full(true);
    let new = desk
        .wait("a new topic", |f| {
            f.topics(group)
                .into_iter()
                .find(|t| t.thread_id != old && !t.deleted)
                .map(|t| t.thread_id)
        })
        .await;
    wait_refused(&desk, 20).await;
    desk.faults.set_disk_full(false);
    desk.wait("the message and the note in the new topic", |f| {
        let shown = texts(&f.topic_messages(group, new));
        (shown.len() == 2).then_some(())
    })
    .await;
    desk.settle().await;
    let shown = texts(&desk.fake.topic_messages(group, new));
    assert!(shown.contains(&"second".to_owned()), "{shown:?}");
    assert!(shown.contains(&TOPIC_REPLACED.to_owned()), "{shown:?}");
    assert_eq!(
        desk.fake.request_count("createForumTopic"),
        2,
        "the first topic, and one replacement"
    );
    assert!(desk.failed_jobs().is_empty(), "{:?}", desk.failed_jobs());
}

/// The database, its write-ahead log and shared-memory file hold users'
/// names and messages: they are created owner-only, in a directory that is
/// owner-only too when switchboard creates it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let fake = switchboard::fake::FakeTelegram::start()
        .await
        .expect("fake");
    let bot = fake.add_bot("shop_bot");
    let group = fake.add_forum_group("Support", &[&bot]);
    let alice = fake.add_user("Alice", None);
    let dir = tempfile::tempdir().expect("temp dir");
    // database = "state/switchboard.db": the directory does not exist yet.
    let config = crate::util::write_config(dir.path(), &fake, group);
    let mut process = crate::util::spawn_switchboard(&config, &bot);
    fake.user_sends(&bot, &alice, "hello");
    let relayed = fake
        .wait_until(crate::util::PATIENCE, |f| {
            let topic = f.topics(group).first()?.thread_id;
            (texts(&f.topic_messages(group, topic)) == ["hello"]).then_some(())
        })
        .await;
    assert!(relayed.is_some(), "relayed");
    let state = dir.path().join("state");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    };
    let files = ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm"];
    let modes: Vec<u32> = files.iter().map(|f| mode(&state.join(f))).collect();
    process.kill();
    assert_eq!(modes, [0o600, 0o600, 0o600], "{files:?}");
    assert_eq!(mode(&state), 0o700);
}

/// A file that is not a SQLite database where the database should be: the
/// error names the file, and nothing is overwritten.
#[test]
fn a_foreign_file_as_database_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let database = state.join("switchboard.db");
    let foreign = "these are someone's notes, not a database\n".repeat(200);
    std::fs::write(&database, &foreign).expect("write");
    let config = dir.path().join("bots.toml");
    std::fs::write(
        &config,
        "database = \"state/switchboard.db\"\napi_url = \"http://127.0.0.1:9\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[bots]]\nname = \"shop\"\ntoken = \"123456:AAHforeignforeignforeignforeign1\"\nbackend_group = -1001234567890\n",
    )
    .expect("write config");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&database.display().to_string()) && stderr.contains("not a database"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&database).expect("read"), foreign);
}
