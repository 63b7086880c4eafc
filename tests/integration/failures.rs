use switchboard::dispatch::texts::{BLOCKED, TOPIC_REPLACED};
use switchboard::fake::{Fault, FaultRule};

use crate::util::{Desk, texts, welcome};

/// The bot learns of the block only when a reply is refused (403): the reply
/// is reported in the topic, later replies are not even tried, and the
/// user's next message makes delivery possible again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_refused_with_403_blocked_marks_the_user_until_they_write_again() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "question").await;
    let group = desk.group();
    desk.fake
        .inject(FaultRule::on("copyMessage", Fault::blocked_by_user()).for_bot(desk.bot()));
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "answer 1");
    desk.wait_topic_texts(group, topic, &["question", "answer 1", BLOCKED])
        .await;
    let copies_before = desk.fake.request_count("copyMessage");
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "answer 2");
    desk.wait_topic_texts(
        group,
        topic,
        &["question", "answer 1", BLOCKED, "answer 2", BLOCKED],
    )
    .await;
    desk.settle().await;
    assert_eq!(
        desk.fake.request_count("copyMessage"),
        copies_before,
        "not tried while blocked"
    );

    desk.fake.user_sends(desk.bot(), &alice, "sorry, I'm back");
    desk.wait_topic_texts(
        group,
        topic,
        &[
            "question",
            "answer 1",
            BLOCKED,
            "answer 2",
            BLOCKED,
            "sorry, I'm back",
        ],
    )
    .await;
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "welcome back");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["question", &welcome(), "sorry, I'm back", "welcome back"],
    )
    .await;
}

/// `my_chat_member` tells of blocking and unblocking: the topic says so, and
/// replies in between are not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_and_unblocking_the_bot_show_in_the_topic() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "question").await;
    let group = desk.group();
    desk.fake.user_blocks_bot(desk.bot(), &alice);
    desk.wait_topic_texts(group, topic, &["question", "The user blocked the bot."])
        .await;
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "are you there?");
    desk.wait_topic_texts(
        group,
        topic,
        &[
            "question",
            "The user blocked the bot.",
            "are you there?",
            BLOCKED,
        ],
    )
    .await;
    desk.fake.user_unblocks_bot(desk.bot(), &alice);
    desk.wait_topic_texts(
        group,
        topic,
        &[
            "question",
            "The user blocked the bot.",
            "are you there?",
            BLOCKED,
            "The user unblocked the bot.",
        ],
    )
    .await;
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "hello again");
    desk.wait_chat_texts(desk.bot(), &alice, &["question", &welcome(), "hello again"])
        .await;
}

/// An operator deleted the topic: the user's next message gets a new topic,
/// with a note, and the dialog goes on there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_topic_is_replaced_and_the_message_delivered_there() {
    let desk = Desk::one_bot().await;
    let (alice, old) = desk.open_dialog("Alice", "first").await;
    let group = desk.group();
    desk.fake.delete_topic(group, old);

    desk.fake.user_sends(desk.bot(), &alice, "second");
    desk.fake.user_sends(desk.bot(), &alice, "third");
    let new = desk
        .wait("a new topic", |f| {
            f.topics(group)
                .into_iter()
                .find(|t| t.thread_id != old && !t.deleted)
                .map(|t| t.thread_id)
        })
        .await;
    // The messages in order; the note joins them (where depends on timing).
    let shown = desk
        .wait("the new topic to show the messages and the note", |f| {
            let shown = texts(&f.topic_messages(group, new));
            (shown.len() == 3).then_some(shown)
        })
        .await;
    let messages: Vec<&String> = shown.iter().filter(|t| *t != TOPIC_REPLACED).collect();
    assert_eq!(messages, ["second", "third"], "{shown:?}");
    assert!(shown.iter().any(|t| t == TOPIC_REPLACED), "{shown:?}");
    desk.fake
        .operator_sends(group, Some(new), &desk.operator, "answer");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["first", &welcome(), "second", "third", "answer"],
    )
    .await;
    desk.settle().await;
    let live: Vec<_> = desk
        .fake
        .topics(group)
        .into_iter()
        .filter(|t| !t.deleted)
        .collect();
    assert_eq!(live.len(), 1, "exactly one replacement: {live:?}");
    assert!(
        desk.failed_jobs()
            .iter()
            .all(|(_, e)| e.contains("thread not found"))
    );
}

/// The backend group moved to a new chat id (Telegram's migrate_to_chat_id):
/// switchboard follows it, and the dialog goes on in the same topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_group_that_moves_to_a_new_id_is_followed() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "before the move");
    let topic = desk.only_topic().await;
    desk.settle().await;

    let moved = desk.fake.migrate_group(desk.group());
    desk.fake.user_sends(desk.bot(), &alice, "after the move");
    desk.wait_topic_texts(moved, topic, &["before the move", "after the move"])
        .await;
    desk.fake.operator_sends(
        moved,
        Some(topic),
        &desk.operator,
        "answer from the new group",
    );
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &[
            "before the move",
            &welcome(),
            "after the move",
            "answer from the new group",
        ],
    )
    .await;
    desk.settle().await;
    assert!(desk.failed_jobs().is_empty(), "{:?}", desk.failed_jobs());
}

/// The token is revoked while replies are queued (Telegram answers 401):
/// sending pauses with the queue intact, `/healthz` shows the bot stopped,
/// and once the token works again every reply arrives, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_pauses_the_bot_and_loses_nothing() {
    let mut desk = Desk::prepare(&[("shop", switchboard::config::BotSettings::default())]).await;
    desk.token_probe = std::time::Duration::from_millis(100);
    desk.launch();
    let (alice, topic) = desk.open_dialog("Alice", "question").await;
    let group = desk.group();
    // The first refusal comes from a reply; the poller still fetches...
    desk.fake.inject(
        FaultRule::on("copyMessage", Fault::unauthorized())
            .for_bot(desk.bot())
            .always(),
    );
    for text in ["one", "two", "three"] {
        desk.fake
            .operator_sends(group, Some(topic), &desk.operator, text);
    }
    desk.wait("a reply refused with 401", |f| {
        (f.request_count("copyMessage") >= 2).then_some(())
    })
    .await;
    // ...then every call is refused, as for a revoked token.
    desk.fake.inject(
        FaultRule::any(Fault::unauthorized())
            .for_bot(desk.bot())
            .always(),
    );
    let mut stopped = false;
    for _ in 0..500 {
        let (status, health) = desk.health().await;
        if status == 503 && health["bots"]["shop"]["state"] == "stopped" {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stopped, "/healthz shows the bot stopped");
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", &welcome()]
    );

    desk.fake.clear_faults();
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["question", &welcome(), "one", "two", "three"],
    )
    .await;
    desk.settle().await;
    assert!(desk.failed_jobs().is_empty(), "{:?}", desk.failed_jobs());
    assert_eq!(
        texts(&desk.fake.topic_messages(group, topic)),
        ["question", "one", "two", "three"],
        "no 'not delivered' note"
    );
    let (status, health) = desk.health().await;
    assert_eq!(status, 200, "{health}");
}
