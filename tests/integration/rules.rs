use std::time::Duration;

use switchboard::config::BotSettings;
use switchboard::dispatch::texts::NOT_DELIVERED;
use switchboard::fake::{Fault, FaultRule};

use crate::util::{Desk, texts, welcome};

fn settings(change: impl FnOnce(&mut BotSettings)) -> BotSettings {
    let mut settings = BotSettings::default();
    change(&mut settings);
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_is_sent_on_first_contact_only_and_can_be_off() {
    let desk = Desk::start(&[
        ("on", BotSettings::default()),
        ("off", settings(|s| s.welcome = None)),
    ])
    .await;
    let alice = desk.fake.add_user("Alice", None);
    let (on, off) = (&desk.bots[0].bot, &desk.bots[1].bot);
    desk.fake.user_sends(on, &alice, "one");
    desk.fake.user_sends(off, &alice, "one");
    let on_group = desk.bots[0].group;
    desk.wait("the first relay", |f| {
        let topic = f.topics(on_group).first()?.thread_id;
        (!texts(&f.topic_messages(on_group, topic)).is_empty()).then_some(())
    })
    .await;
    desk.fake.user_sends(on, &alice, "two");
    desk.wait("both topics", |f| {
        let done = |group, n| {
            f.topics(group)
                .first()
                .is_some_and(|t| texts(&f.topic_messages(group, t.thread_id)).len() == n)
        };
        (done(desk.bots[0].group, 2) && done(desk.bots[1].group, 1)).then_some(())
    })
    .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(on, &alice)),
        ["one", &welcome(), "two"]
    );
    assert_eq!(texts(&desk.fake.private_chat(off, &alice)), ["one"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keywords_gate_the_opening_then_everything_is_relayed() {
    let desk = Desk::with(settings(|s| {
        s.private_keywords = vec!["support".into(), "refund".into()];
    }))
    .await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "hi there");
    desk.settle().await;
    assert!(
        desk.fake.topics(desk.group()).is_empty(),
        "no keyword, no dialog"
    );

    desk.fake.user_sends(desk.bot(), &alice, "I want a REFUND");
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["I want a REFUND"])
        .await;
    desk.fake.user_sends(desk.bot(), &alice, "for order 7");
    desk.wait_topic_texts(desk.group(), topic, &["I want a REFUND", "for order 7"])
        .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["hi there", "I want a REFUND", &welcome(), "for order 7"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_then_the_users_next_message_reopens_with_the_welcome() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "question");
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["question"])
        .await;

    desk.fake
        .operator_sends(desk.group(), Some(topic), &desk.operator, "/close");
    let group = desk.group();
    desk.wait("the topic to close", |f| {
        f.topics(group)[0].closed.then_some(())
    })
    .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", &welcome()],
        "/close is not sent to the user"
    );

    desk.fake.user_sends(desk.bot(), &alice, "one more thing");
    desk.wait_topic_texts(group, topic, &["question", "/close", "one more thing"])
        .await;
    desk.wait("the topic to reopen", |f| {
        (!f.topics(group)[0].closed).then_some(())
    })
    .await;
    desk.settle().await;
    assert_eq!(desk.fake.topics(group).len(), 1, "the same topic is reused");
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", &welcome(), "one more thing", &welcome()]
    );

    // /close twice answers in the topic instead of failing.
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "/close");
    desk.wait("closed again", |f| f.topics(group)[0].closed.then_some(()))
        .await;
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "/close");
    desk.wait_topic_texts(
        group,
        topic,
        &[
            "question",
            "/close",
            "one more thing",
            "/close",
            "/close",
            "This dialog is already closed.",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_opens_a_dialog_with_a_known_user_and_explains_otherwise() {
    let desk = Desk::with(settings(|s| s.private_keywords = vec!["help".into()])).await;
    let group = desk.group();
    let alice = desk.fake.add_user("Alice", Some("alice"));
    // Alice wrote, but without a keyword: the bot knows her, no dialog yet.
    desk.fake.user_sends(desk.bot(), &alice, "hi");
    desk.settle().await;

    desk.fake
        .operator_sends(group, None, &desk.operator, "/new 424242");
    desk.fake
        .operator_sends(group, None, &desk.operator, "/new");
    desk.fake
        .operator_sends(group, None, &desk.operator, &format!("/new {}", alice.id));
    let topic = desk.only_topic().await;
    desk.settle().await;
    let general = texts(&desk.fake.general_messages(group));
    assert_eq!(general.len(), 6, "{general:?}");
    assert!(
        general[3].starts_with("User 424242 has not written to this bot"),
        "{general:?}"
    );
    assert!(general[4].starts_with("Usage: /new USER_ID"), "{general:?}");
    assert_eq!(
        general[5],
        format!("Opened a dialog with Alice (@alice, {}).", alice.id)
    );

    desk.fake.operator_sends(
        group,
        Some(topic),
        &desk.operator,
        "Hi Alice, how can we help?",
    );
    desk.wait_chat_texts(desk.bot(), &alice, &["hi", "Hi Alice, how can we help?"])
        .await;

    desk.fake
        .operator_sends(group, None, &desk.operator, &format!("/new {}", alice.id));
    desk.settle().await;
    let general = texts(&desk.fake.general_messages(group));
    assert!(
        general
            .last()
            .is_some_and(|t| t.contains("is already open")),
        "{general:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_unknown_commands_stay_with_operators() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "question");
    let topic = desk.only_topic().await;
    let group = desk.group();
    desk.fake.operator_sends(
        group,
        Some(topic),
        &desk.operator,
        "/ she ordered twice, check",
    );
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "/refund 10");
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "Answer for you");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["question", &welcome(), "Answer for you"],
    )
    .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", &welcome(), "Answer for you"]
    );
    let shown = texts(&desk.fake.topic_messages(group, topic));
    assert!(
        shown
            .iter()
            .any(|t| t.starts_with("Unknown command /refund: nothing was sent to the user")),
        "{shown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoclose_after_the_last_operator_reply_unless_the_user_answered() {
    let desk = Desk::with(settings(|s| s.autoclose = Some(Duration::from_secs(3600)))).await;
    let group = desk.group();
    let alice = desk.fake.add_user("Alice", None);
    let bob = desk.fake.add_user("Bob", None);
    desk.fake.user_sends(desk.bot(), &alice, "alice asks");
    desk.fake.user_sends(desk.bot(), &bob, "bob asks");
    let (alice_topic, bob_topic) = (desk.topic_of(&alice).await, desk.topic_of(&bob).await);
    desk.fake
        .operator_sends(group, Some(alice_topic), &desk.operator, "answer A");
    desk.fake
        .operator_sends(group, Some(bob_topic), &desk.operator, "answer B");
    desk.wait_chat_texts(desk.bot(), &bob, &["bob asks", &welcome(), "answer B"])
        .await;
    desk.fake
        .user_sends(desk.bot(), &bob, "thanks, but one more question");
    desk.wait_chat_texts(desk.bot(), &alice, &["alice asks", &welcome(), "answer A"])
        .await;
    desk.settle().await;

    // A whole scheduler pass on the advanced clock, then every job it
    // queued done: had autoclose fired, the topic would be closed by now.
    desk.clock.advance(Duration::from_secs(3599));
    desk.scheduler_pass().await;
    desk.settle().await;
    assert!(desk.fake.topics(group).iter().all(|t| !t.closed), "not yet");

    desk.clock.advance(Duration::from_secs(1));
    desk.wait("Alice's dialog to close", |f| {
        f.topics(group)
            .iter()
            .find(|t| t.thread_id == alice_topic)?
            .closed
            .then_some(())
    })
    .await;
    desk.settle().await;
    let bob_state = desk
        .fake
        .topics(group)
        .into_iter()
        .find(|t| t.thread_id == bob_topic);
    assert!(
        !bob_state.expect("bob's topic").closed,
        "Bob wrote after the reply: stays open"
    );
    let shown = texts(&desk.fake.topic_messages(group, alice_topic));
    assert_eq!(
        shown.last().map(String::as_str),
        Some("Closed automatically: no reply from the user for 1h.")
    );
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["alice asks", &welcome(), "answer A"]
    );
}

/// A copy into the topic that fails for good (e.g. content Telegram refuses to copy).
fn refuse_next_copy(desk: &Desk) {
    desk.fake.inject(FaultRule {
        method: Some("copyMessage".into()),
        bot_id: Some(desk.bot().id),
        times: 1,
        fault: Fault::Error {
            code: 400,
            description: "Bad Request: message can't be copied".into(),
            retry_after: None,
            migrate_to_chat_id: None,
        },
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_message_is_shown_to_operators_and_the_user_unless_silent() {
    for silent in [false, true] {
        let desk = Desk::with(settings(|s| s.silent_mode = silent)).await;
        let alice = desk.fake.add_user("Alice", None);
        desk.fake.user_sends(desk.bot(), &alice, "first");
        let topic = desk.only_topic().await;
        desk.wait_topic_texts(desk.group(), topic, &["first"]).await;

        refuse_next_copy(&desk);
        desk.fake
            .user_sends(desk.bot(), &alice, "a message Telegram refuses to copy");
        desk.settle().await;
        let failed = desk.failed_jobs();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].1.contains("message can't be copied"),
            "{failed:?}"
        );
        let expected: &[&str] = if silent {
            &["first", &welcome(), "a message Telegram refuses to copy"]
        } else {
            &[
                "first",
                &welcome(),
                "a message Telegram refuses to copy",
                NOT_DELIVERED,
            ]
        };
        assert_eq!(
            texts(&desk.fake.private_chat(desk.bot(), &alice)),
            expected,
            "silent_mode = {silent}"
        );
        // Operators see it in the topic either way.
        assert_eq!(
            texts(&desk.fake.topic_messages(desk.group(), topic)),
            [
                "first",
                "⚠️ A message from the user could not be shown here: \
                 rejected by Telegram (400): Bad Request: message can't be copied"
            ]
        );
    }
}

#[tokio::test]
async fn the_welcome_greets_by_name_with_formatting() {
    let desk = Desk::with(BotSettings {
        welcome: Some("Hello, <b>{name}</b>! We answer within the hour.".into()),
        ..BotSettings::default()
    })
    .await;
    let ann = desk.fake.add_user("Ann <3", None);
    desk.fake.user_sends(desk.bot(), &ann, "hi");
    let greeting = desk
        .wait("the welcome", |fake| {
            fake.private_chat(desk.bot(), &ann)
                .into_iter()
                .find(|m| m.from_is_bot)
        })
        .await;
    assert_eq!(
        greeting.text.as_deref(),
        Some("Hello, Ann <3! We answer within the hour."),
        "the name is text, never markup"
    );
    assert_eq!(
        greeting.json["entities"],
        serde_json::json!([{"type": "bold", "offset": 7, "length": 6}])
    );
}

#[tokio::test]
async fn topic_names_show_the_status_and_a_busy_dialog_is_renamed_once_a_minute() {
    let desk = Desk::with(BotSettings {
        limits: switchboard::config::Limits::OFF,
        ..BotSettings::default()
    })
    .await;
    let (ann, thread) = desk.open_dialog("Ann", "hello").await;
    let name = |desk: &Desk| {
        desk.fake
            .topics(desk.group())
            .into_iter()
            .find(|t| t.thread_id == thread)
            .map(|t| t.name)
            .unwrap_or_default()
    };
    assert_eq!(
        name(&desk),
        format!("🟪 Ann {}", ann.id),
        "created with its status"
    );

    // The first answer renames at once.
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "Hi Ann");
    desk.wait("🟨", |_| (name(&desk).starts_with("🟨 ")).then_some(()))
        .await;
    let renames = desk.fake.request_count("editForumTopic");

    // 30 messages within the minute, the status flipping each time: no
    // further rename, and none delays a message.
    for n in 0..15 {
        desk.fake
            .user_sends(desk.bot(), &ann, &format!("question {n}"));
        desk.fake.operator_sends(
            desk.group(),
            Some(thread),
            &desk.operator,
            &format!("answer {n}"),
        );
    }
    desk.wait("the last answer", |fake| {
        texts(&fake.private_chat(desk.bot(), &ann))
            .contains(&"answer 14".to_owned())
            .then_some(())
    })
    .await;
    desk.settle().await;
    assert_eq!(
        desk.fake.request_count("editForumTopic"),
        renames,
        "coalesced"
    );

    // A minute later the scheduler sends the latest status, once.
    desk.fake.user_sends(desk.bot(), &ann, "one more");
    desk.settle().await;
    desk.clock.advance(Duration::from_secs(60));
    desk.scheduler_pass().await;
    desk.settle().await;
    assert_eq!(name(&desk), format!("🟪 Ann {}", ann.id));
    assert_eq!(desk.fake.request_count("editForumTopic"), renames + 1);

    // /wait and /hold by hand; a block shows too.
    desk.clock.advance(Duration::from_secs(60));
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "/wait");
    desk.wait("/wait", |_| (name(&desk).starts_with("🟨 ")).then_some(()))
        .await;
    desk.clock.advance(Duration::from_secs(60));
    desk.fake.user_blocks_bot(desk.bot(), &ann);
    desk.wait("the block", |_| {
        (name(&desk).starts_with("🟨🚫 ")).then_some(())
    })
    .await;
    desk.clock.advance(Duration::from_secs(60));
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "/hold");
    desk.wait("/hold", |_| {
        (name(&desk).starts_with("🟪🚫 ")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn without_status_icons_topic_names_show_no_status() {
    let desk = Desk::with(BotSettings {
        status_icons: false,
        ..BotSettings::default()
    })
    .await;
    let (ann, thread) = desk.open_dialog("Ann", "hello").await;
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "Hi Ann");
    desk.wait_chat_texts(desk.bot(), &ann, &["hello", &welcome(), "Hi Ann"])
        .await;
    desk.settle().await;
    assert_eq!(
        desk.fake.topics(desk.group())[0].name,
        format!("Ann {}", ann.id)
    );
    assert_eq!(desk.fake.request_count("editForumTopic"), 0);
}

/// The user card of a topic: the bot's first message in it.
fn card_of(desk: &Desk, thread: i64) -> Option<String> {
    desk.fake
        .topic_messages(desk.group(), thread)
        .into_iter()
        .find(crate::util::is_user_card)
        .and_then(|m| m.text)
}

#[tokio::test]
async fn a_new_topic_starts_with_the_user_card_and_info_shows_the_figures() {
    let desk = Desk::one_bot().await;
    let ann = desk.fake.add_user("Ann", Some("ann_k"));
    desk.fake.user_sends(desk.bot(), &ann, "/start spring24");
    let thread = desk.topic_of(&ann).await;
    desk.wait_topic_texts(desk.group(), thread, &["/start spring24"])
        .await;
    let topic = desk.fake.topic_messages(desk.group(), thread);
    let first = topic.iter().find(|m| !m.is_service).unwrap();
    assert!(crate::util::is_user_card(first), "the card comes first");
    let card = card_of(&desk, thread).unwrap();
    for part in [
        "Ann",
        "@ann_k",
        &format!("id {}", ann.id),
        "came with /start spring24",
        "first wrote 2023-11-14",
    ] {
        assert!(card.contains(part), "{part:?} in {card:?}");
    }
    assert!(
        !card.contains("messages from the user"),
        "figures only for /info"
    );

    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "Hello Ann");
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &["/start spring24", &welcome(), "Hello Ann"],
    )
    .await;
    desk.settle().await;
    let info = info(&desk, thread).await;
    assert!(
        info.contains("1 messages from the user, 1 to the user"),
        "{info}"
    );
    assert!(info.contains("waiting for the user"), "{info}");
    assert!(info.contains("not blocked"), "{info}");
}

#[tokio::test]
async fn hide_info_keeps_the_name_and_username_from_operators_and_can_refuse_info() {
    let desk = Desk::with(BotSettings {
        hide_info: switchboard::config::HideInfo {
            name: true,
            username: true,
            command: true,
        },
        ..BotSettings::default()
    })
    .await;
    let ann = desk.fake.add_user("Ann Secret", Some("ann_secret"));
    desk.fake.user_sends(desk.bot(), &ann, "hello");
    let thread = desk.topic_of(&ann).await;
    desk.wait_topic_texts(desk.group(), thread, &["hello"])
        .await;
    let name = desk.fake.topics(desk.group())[0].name.clone();
    assert!(
        name.starts_with("🟪 Client ") && name.ends_with(&format!(" {}", ann.id)),
        "{name}"
    );
    let card = card_of(&desk, thread).unwrap();
    assert!(
        !card.contains("Ann") && !card.contains("ann_secret"),
        "{card}"
    );
    assert!(card.contains(&format!("id {}", ann.id)), "{card}");
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "/info");
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &["hello", "/info", switchboard::dispatch::texts::INFO_HIDDEN],
    )
    .await;
    // The label is the user's every time: the same in another bot's desk.
    assert_eq!(
        switchboard::dispatch::rules::topic_name_hiding(
            &switchboard::store::users::User {
                user_id: ann.id,
                first_name: "Other".into(),
                last_name: None,
                username: None,
            },
            switchboard::config::HideInfo {
                name: true,
                username: true,
                command: false,
            },
        ),
        name.trim_start_matches("🟪 ")
    );
}

#[tokio::test]
async fn without_auto_info_a_topic_starts_with_the_conversation() {
    let desk = Desk::with(BotSettings {
        auto_info: false,
        ..BotSettings::default()
    })
    .await;
    let (_ann, thread) = desk.open_dialog("Ann", "hello").await;
    desk.settle().await;
    assert_eq!(card_of(&desk, thread), None);
}

/// Message links older than 90 days are pruned: `/info` still counts their
/// messages, and a reply to such an old message arrives as a plain message.
#[tokio::test]
async fn old_message_links_are_pruned_and_info_still_counts_them() {
    let desk = Desk::one_bot().await;
    let (ann, thread) = desk.open_dialog("Ann", "an old question").await;
    let old = desk.fake.private_chat(desk.bot(), &ann)[0].message_id;
    // Ninety-one days pass for the links.
    {
        let store = switchboard::store::Store::open(&desk.database).unwrap();
        let conn = store.conn().unwrap();
        conn.execute("UPDATE message_links SET at = at - 91 * 24 * 3600", [])
            .unwrap();
    }
    desk.scheduler_pass().await;
    desk.fake.user_replies(desk.bot(), &ann, old, "about that");
    desk.wait_topic_texts(desk.group(), thread, &["an old question", "about that"])
        .await;
    let reply = desk
        .fake
        .topic_messages(desk.group(), thread)
        .into_iter()
        .find(|m| m.text.as_deref() == Some("about that"))
        .unwrap();
    // No link, so a plain message: in a topic, that "replies" to the
    // topic's first message.
    assert_eq!(
        reply.json["reply_to_message"]["message_id"], thread,
        "{}",
        reply.json
    );
    let info = info(&desk, thread).await;
    assert!(
        info.contains("2 messages from the user, 0 to the user"),
        "{info}"
    );
}

/// An operator asks for `/info` in the topic; returns the card it shows (the
/// topic's second card: the first opened it).
async fn info(desk: &Desk, thread: i64) -> String {
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "/info");
    desk.wait("/info", |fake| {
        fake.topic_messages(desk.group(), thread)
            .into_iter()
            .filter(crate::util::is_user_card)
            .nth(1)
            .and_then(|m| m.text)
    })
    .await
}
