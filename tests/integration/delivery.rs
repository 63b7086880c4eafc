use std::time::Duration;

use switchboard::config::{BotSettings, Limits, Rate};
use switchboard::fake::{self, Fault, FaultRule};
use switchboard::store::Store;

use crate::util::{Desk, wait_delivered_in_order};

fn settings(limits: Limits) -> BotSettings {
    BotSettings {
        limits,
        welcome: None,
        ..BotSettings::default()
    }
}

/// 429 storms, 5xx bursts, timeouts and dropped connections (before and
/// after Telegram applied the call): every user message reaches its topic
/// and every reply its user, in order per dialog. Repeats can only come from
/// answers lost after the call was applied; the test prints their count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_loses_nothing_and_keeps_order_per_dialog() {
    let mut desk = Desk::prepare(&[("shop", settings(Limits::OFF))]).await;
    desk.call_timeout = Duration::from_millis(300);
    desk.launch();
    let group = desk.group();
    let opened = desk
        .open_dialogs(&["User0", "User1", "User2", "User3"], "hello")
        .await;

    desk.fake.seed_faults(7);
    let chaos = |method: &str, fault: Fault, p: f64| {
        desk.fake
            .inject(FaultRule::on(method, fault).with_probability(p).always());
    };
    chaos("copyMessage", Fault::retry_after(1), 0.05);
    chaos("copyMessage", Fault::server_error(), 0.1);
    chaos("copyMessage", Fault::Hang, 0.05);
    chaos(
        "copyMessage",
        Fault::Disconnect { after_apply: false },
        0.05,
    );
    chaos("copyMessage", Fault::Disconnect { after_apply: true }, 0.05);
    chaos("getUpdates", Fault::server_error(), 0.1);
    chaos("getUpdates", Fault::Disconnect { after_apply: false }, 0.05);
    // A 429 storm (every call refused for a while) and a 5xx burst, on top.
    desk.fake
        .inject(FaultRule::any(Fault::retry_after(1)).times(12));
    desk.fake
        .inject(FaultRule::on("copyMessage", Fault::server_error()).times(8));

    let rounds = 6;
    for round in 0..rounds {
        for (user, topic) in &opened {
            desk.fake
                .user_sends(desk.bot(), user, &format!("question {round}"));
            desk.fake.operator_sends(
                group,
                Some(*topic),
                &desk.operator,
                &format!("answer {round}"),
            );
        }
    }
    let questions: Vec<String> = std::iter::once("hello".to_string())
        .chain((0..rounds).map(|r| format!("question {r}")))
        .collect();
    let answers: Vec<String> = (0..rounds).map(|r| format!("answer {r}")).collect();
    let dialogs: Vec<_> = opened.iter().map(|(user, topic)| (user, *topic)).collect();
    let repeats = wait_delivered_in_order(
        &desk.fake,
        desk.bot(),
        group,
        &dialogs,
        &questions,
        &answers,
    )
    .await;
    let calls = desk.fake.requests().len();
    println!(
        "chaos: {repeats} repeated deliveries over {} messages, {calls} calls",
        opened.len() * (2 * rounds + 1)
    );
    desk.fake.clear_faults();
    desk.settle().await;
    assert!(desk.failed_jobs().is_empty(), "{:?}", desk.failed_jobs());
}

/// With the fake enforcing a group budget, the limiter keeps the group
/// within it: no 429, every message delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limiter_keeps_a_group_within_its_budget_without_429s() {
    let budget = Rate {
        count: 10,
        per: Duration::from_secs(1),
    };
    let limits = Limits {
        bot: None,
        chat: None,
        group: Some(budget),
    };
    let desk = Desk::start(&[("shop", settings(limits))]).await;
    desk.fake.set_limits(fake::Limits {
        per_bot: None,
        per_private_chat: None,
        per_group: Some(fake::Rate::new(budget.count, budget.per)),
    });
    let group = desk.group();
    // 15 users: 15 topics, 15 user cards and 15 copies, 45 sends into one
    // group: 5 windows.
    let names: Vec<String> = (0..15).map(|i| format!("User{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    desk.open_dialogs(&names, "hi").await;
    let stats = desk.fake.stats();
    assert_eq!(stats.throttled, 0, "no 429");
    assert_eq!(stats.accepted_sends(group).len(), 45);
    assert!(stats.max_in_window(group, budget.per) <= 10);
}

/// A 2,000-message burst to distinct users, with the fake enforcing the same
/// per-bot budget: no 429, and the budget never exceeded. (How close to the
/// budget it runs is measured by the benchmarks, not asserted here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_many_users_stays_within_the_bot_budget() {
    let budget = Rate {
        count: 500,
        per: Duration::from_secs(1),
    };
    let limits = Limits {
        bot: Some(budget),
        chat: None,
        group: None,
    };
    let mut desk = Desk::prepare(&[("shop", settings(limits))]).await;
    desk.fake.set_limits(fake::Limits {
        per_bot: Some(fake::Rate::new(budget.count, budget.per)),
        per_private_chat: None,
        per_group: None,
    });
    let users: Vec<_> = (0..2_000)
        .map(|i| desk.fake.add_user(&format!("U{i}"), None))
        .collect();
    for user in &users {
        desk.fake.user_started_bot(desk.bot(), user);
    }
    enqueue_broadcast(&desk, &users, "news");
    desk.launch();
    desk.settle().await;
    let stats = desk.fake.stats();
    assert_eq!(stats.throttled, 0, "no 429");
    assert_eq!(stats.sends.len(), 2_000);
    assert!(stats.bot_max_in_window(desk.bot().id, budget.per) <= 500);
}

/// Queues a broadcast from "shop" to `users` (see the test kit's).
fn enqueue_broadcast(desk: &Desk, users: &[switchboard::fake::FakeUser], text: &str) {
    let store = Store::open(&desk.database).expect("database");
    switchboard::testkit::enqueue_broadcast(&store, "shop", users, text).expect("broadcast");
}

/// An operator's reply does not wait behind a queued broadcast: it is
/// delivered while most of 10,000 broadcast messages are still queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_overtakes_ten_thousand_queued_broadcast_messages() {
    let mut desk = Desk::start(&[("shop", settings(Limits::OFF))]).await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "question");
    let topic = desk.only_topic().await;
    desk.settle().await;
    desk.stop().await;

    let audience: Vec<_> = (0..10_000)
        .map(|i| desk.fake.add_user(&format!("U{i}"), None))
        .collect();
    for user in &audience {
        desk.fake.user_started_bot(desk.bot(), user);
    }
    enqueue_broadcast(&desk, &audience, "weekly news");
    desk.fake.clear_stats();
    desk.fake
        .operator_sends(desk.group(), Some(topic), &desk.operator, "your answer");
    desk.launch();
    desk.wait_chat_texts(desk.bot(), &alice, &["question", "your answer"])
        .await;
    let sends = desk.fake.stats().sends;
    let before = sends.iter().take_while(|s| s.chat_id != alice.id).count();
    println!("priority: {before} broadcast messages went out before the reply");
    assert!(
        before < 5_000,
        "the reply waited behind {before} of 10,000 broadcast messages"
    );

    // A reply written while the broadcast goes out overtakes it too.
    desk.fake
        .operator_sends(desk.group(), Some(topic), &desk.operator, "one more thing");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["question", "your answer", "one more thing"],
    )
    .await;
    let sends = desk.fake.stats().sends;
    let after_first = sends
        .iter()
        .skip_while(|s| s.chat_id != alice.id)
        .skip(1)
        .take_while(|s| s.chat_id != alice.id)
        .count();
    let left = 10_000 - sends.iter().filter(|s| s.chat_id != alice.id).count();
    println!("priority: {after_first} broadcast messages between the replies, {left} still queued");
    assert!(
        left > 0,
        "the second reply waited until the whole broadcast was out"
    );
}

/// App and fake both held to `budget` per backend group, other limits off.
async fn desk_with_group_budget(budget: Rate) -> Desk {
    let limits = Limits {
        bot: None,
        chat: None,
        group: Some(budget),
    };
    let desk = Desk::prepare(&[("shop", settings(limits))]).await;
    desk.fake.set_limits(fake::Limits {
        per_bot: None,
        per_private_chat: None,
        per_group: Some(fake::Rate::new(budget.count, budget.per)),
    });
    desk
}

/// The user's messages into a throttled backend group queue up, but the
/// operator's reply to that user goes out at once: order is kept per
/// direction, not across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_does_not_wait_behind_the_users_messages_into_a_throttled_group() {
    let mut desk = desk_with_group_budget(Rate {
        count: 2,
        per: Duration::from_secs(3),
    })
    .await;
    desk.launch();
    let group = desk.group();
    let alice = desk.fake.add_user("Alice", None);
    let questions: Vec<String> = (0..6).map(|i| format!("q{i}")).collect();
    for question in &questions {
        desk.fake.user_sends(desk.bot(), &alice, question);
    }
    let topic = desk.topic_of(&alice).await;
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "answer");
    let mut chat: Vec<&str> = questions.iter().map(String::as_str).collect();
    chat.push("answer");
    desk.wait_chat_texts(desk.bot(), &alice, &chat).await;
    let copied = desk
        .fake
        .topic_messages(group, topic)
        .iter()
        .filter(|m| m.from_is_bot && !m.is_service && !crate::util::is_user_card(m))
        .count();
    assert!(
        copied < questions.len(),
        "the reply waited until all {copied} of the user's messages were in the topic"
    );
}

/// A new user's burst before their topic exists queues one topic creation,
/// so the group's whole budget goes to real sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_before_the_topic_exists_spends_the_group_budget_on_real_sends() {
    let budget = Rate {
        count: 5,
        per: Duration::from_secs(2),
    };
    let mut desk = desk_with_group_budget(budget).await;
    let alice = desk.fake.add_user("Alice", None);
    let burst: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for text in &burst {
        desk.fake.user_sends(desk.bot(), &alice, text);
    }
    desk.launch();
    let topic = desk.topic_of(&alice).await;
    let expected: Vec<&str> = burst.iter().map(String::as_str).collect();
    desk.wait_topic_texts(desk.group(), topic, &expected).await;
    desk.settle().await;
    let stats = desk.fake.stats();
    assert_eq!(desk.fake.request_count("createForumTopic"), 1);
    assert_eq!(stats.throttled, 0, "no 429");
    // The first window holds the whole budget: no place went to a job
    // that made no call.
    let sends = stats.accepted_sends(desk.group());
    let first_window = sends
        .iter()
        .take_while(|at| at.duration_since(sends[0]) < budget.per)
        .count();
    assert_eq!(first_window, 5, "{sends:?}");
}

/// A restart does not grant a fresh budget: the limiter's windows are
/// restored from the calls of the last run, so the group is not pushed over
/// its budget (the fake would answer 429).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_group_within_its_budget() {
    let mut desk = desk_with_group_budget(Rate {
        count: 3,
        per: Duration::from_secs(4),
    })
    .await;
    desk.launch();
    let group = desk.group();
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "a1");
    desk.fake.user_sends(desk.bot(), &alice, "a2");
    let topic = desk.topic_of(&alice).await;
    desk.wait_topic_texts(group, topic, &["a1", "a2"]).await;
    desk.settle().await;
    desk.stop().await;
    let bob = desk.fake.add_user("Bob", None);
    desk.fake.user_sends(desk.bot(), &bob, "b1");
    desk.launch();
    let bob_topic = desk.topic_of(&bob).await;
    desk.wait_topic_texts(group, bob_topic, &["b1"]).await;
    let stats = desk.fake.stats();
    eprintln!("DEBUG {} {:?}", stats.throttled, stats.sends);
    assert_eq!(stats.throttled, 0, "no 429 after the restart");
    assert!(stats.max_in_window(group, Duration::from_secs(4)) <= 3);
}
