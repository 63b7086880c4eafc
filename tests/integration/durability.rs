use switchboard::fake::{FakeTelegram, Fault, FaultRule};

use crate::util::{
    OnDisk, PATIENCE, spawn_switchboard, texts, wait_delivered_in_order, welcome, write_config,
};

/// The process is killed (SIGKILL, no graceful stop) after it fetched the
/// updates and Telegram forgot them (the next getUpdates confirmed them),
/// while their relay is in flight; after a restart every message arrives
/// exactly once, in order, in the one topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_relay_then_restarted_loses_and_repeats_nothing() {
    let on_disk = OnDisk::new().await;
    let (fake, bot, group, alice) = (&on_disk.fake, &on_disk.bot, on_disk.group, &on_disk.alice);
    let (config, dir) = (&on_disk.config, &on_disk.dir);
    let operator = fake.add_user("Olga", None);

    for text in ["one", "two", "three"] {
        fake.user_sends(bot, alice, text);
    }
    // The topic creation never answers: the messages are fetched, stored and
    // dispatched, and their relay is in flight when the process dies.
    fake.inject(FaultRule {
        method: Some("createForumTopic".into()),
        bot_id: Some(bot.id),
        times: 1,
        fault: Fault::Hang,
    });
    let mut first = spawn_switchboard(config, bot);
    fake.wait_until(PATIENCE, |f| {
        (f.request_count("createForumTopic") == 1 && f.pending_update_count(bot) == 0).then_some(())
    })
    .await
    .expect("the updates confirmed and the topic creation in flight");
    // The welcome goes in the other direction's lane, beside the topic
    // creation: let it be recorded, so that the only call in flight at the
    // kill is the one that never answers.
    let database = dir.path().join("state/switchboard.db");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !toward_users_done(&database) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the welcome was not recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first.kill();

    let mut second = spawn_switchboard(config, bot);
    let relayed = fake
        .wait_until(PATIENCE, |f| {
            let topic = f.topics(group).first()?.thread_id;
            let shown = texts(&f.topic_messages(group, topic));
            (shown.len() >= 3).then_some((topic, shown))
        })
        .await;
    let (topic, shown) = relayed.expect("the messages relayed after the restart");

    fake.operator_sends(group, Some(topic), &operator, "answer");
    let answered = fake
        .wait_until(PATIENCE, |f| {
            texts(&f.private_chat(bot, alice))
                .contains(&"answer".to_string())
                .then_some(())
        })
        .await;
    second.kill();
    assert!(
        answered.is_some(),
        "the reply was not delivered after the restart"
    );

    assert_eq!(shown, ["one", "two", "three"]);
    assert_eq!(fake.topics(group).len(), 1, "one topic");
    assert_eq!(
        texts(&fake.private_chat(bot, alice)),
        ["one", "two", "three", &welcome(), "answer"],
        "the welcome and the answer once each"
    );
    assert_eq!(fake.pending_update_count(bot), 0);
}

/// Whether no job toward a user is pending in the database at `path`.
fn toward_users_done(path: &std::path::Path) -> bool {
    let store = switchboard::store::Store::open(path).expect("open the database");
    let conn = store.conn().expect("connection");
    let pending: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND lane LIKE 'u%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    pending == 0
}

/// A graceful stop and a restart: work queued in the meantime is picked up,
/// nothing is fetched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_goes_on_where_the_last_run_stopped() {
    let mut desk = crate::util::Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "before");
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["before"])
        .await;
    desk.stop().await;

    desk.fake.user_sends(desk.bot(), &alice, "while stopped");
    desk.fake.operator_sends(
        desk.group(),
        Some(topic),
        &desk.operator,
        "reply while stopped",
    );
    desk.launch();
    // The operator wrote in the topic while switchboard was down; the user's
    // message is copied in after the restart.
    desk.wait_topic_texts(
        desk.group(),
        topic,
        &["before", "reply while stopped", "while stopped"],
    )
    .await;
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["before", &welcome(), "while stopped", "reply while stopped"],
    )
    .await;
    desk.settle().await;
    assert_eq!(desk.fake.topics(desk.group()).len(), 1);
}

/// SIGTERM (systemd's stop) stops the process gracefully: it exits by itself
/// with success, and what it was told before is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully() {
    let on_disk = OnDisk::new().await;
    let (fake, bot, group, alice) = (&on_disk.fake, &on_disk.bot, on_disk.group, &on_disk.alice);
    let mut process = spawn_switchboard(&on_disk.config, bot);
    fake.user_sends(bot, alice, "hello");
    fake.wait_until(PATIENCE, |f| (!f.topics(group).is_empty()).then_some(()))
        .await
        .expect("relaying");

    // The shell's own `kill`: present wherever /bin/sh is.
    let signalled = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", process.id())])
        .status()
        .expect("run kill");
    assert!(signalled.success());
    let status = process
        .exit_status()
        .await
        .expect("the process stops by itself");
    assert!(status.success(), "{status:?}");
}

/// The real binary, killed with SIGKILL at random moments K times while
/// users write and operators answer, and restarted each time: nothing is
/// lost and order per dialog holds; repeats (messages sent again because
/// the kill came between Telegram applying a call and switchboard recording
/// it) are counted and printed, and bounded by the sends in flight at the
/// kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_lose_nothing_and_repeat_only_what_was_in_flight() {
    const USERS: usize = 4;
    const ROUNDS: usize = 10;
    const KILLS: usize = 5;
    let fake = FakeTelegram::start().await.expect("fake");
    let bot = fake.add_bot("shop_bot");
    let group = fake.add_forum_group("Support", &[&bot]);
    let operator = fake.add_user("Olga", None);
    let users: Vec<_> = (0..USERS)
        .map(|i| fake.add_user(&format!("User{i}"), None))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &fake, group);
    // Limits off: this test is about crashes, not pacing.
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "welcome = \"off\"\nbot_limit = \"off\"\nchat_limit = \"off\"\ngroup_limit = \"off\"\n",
    );
    std::fs::write(&config, text).expect("config");

    let mut process = spawn_switchboard(&config, &bot);
    for user in &users {
        fake.user_sends(&bot, user, "hello");
    }
    let topics: Vec<i64> = fake
        .wait_until(PATIENCE, |f| {
            let topics: Vec<i64> = users
                .iter()
                .map(|u| {
                    let topic = f
                        .topics(group)
                        .into_iter()
                        .find(|t| t.name.ends_with(&format!(" {}", u.id)))?;
                    let used = f
                        .topic_messages(group, topic.thread_id)
                        .iter()
                        .any(|m| !m.is_service && !crate::util::is_user_card(m));
                    used.then_some(topic.thread_id)
                })
                .collect::<Option<_>>()?;
            Some(topics)
        })
        .await
        .expect("every user's topic");

    let mut rng = fastrand::Rng::with_seed(11);
    for round in 0..ROUNDS {
        for (user, topic) in users.iter().zip(&topics) {
            fake.user_sends(&bot, user, &format!("q{round}"));
            fake.operator_sends(group, Some(*topic), &operator, &format!("a{round}"));
        }
        if round < KILLS {
            // Let it work for a random moment, then kill it mid-flight.
            let moment = std::time::Duration::from_millis(rng.u64(0..40));
            tokio::time::sleep(moment).await;
            process.kill();
            process = spawn_switchboard(&config, &bot);
        }
    }

    let questions: Vec<String> = std::iter::once("hello".to_string())
        .chain((0..ROUNDS).map(|r| format!("q{r}")))
        .collect();
    let answers: Vec<String> = (0..ROUNDS).map(|r| format!("a{r}")).collect();
    let dialogs: Vec<_> = users.iter().zip(topics.iter().copied()).collect();
    let repeats = wait_delivered_in_order(&fake, &bot, group, &dialogs, &questions, &answers).await;
    process.kill();
    let messages = USERS * (2 * ROUNDS + 1);
    println!("crash: {KILLS} kills, {messages} messages, {repeats} repeated deliveries");
    // At most the sends in flight at each kill (16 per bot) can repeat.
    assert!(repeats <= KILLS * 16, "{repeats} repeats");
}
