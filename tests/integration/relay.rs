use switchboard::config::BotSettings;
use switchboard::fake::{Fault, FaultRule};

use crate::util::{Desk, texts, welcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_message_creates_one_topic_and_later_messages_reuse_it() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", Some("alice"));

    desk.fake
        .user_sends(desk.bot(), &alice, "Hello, my order is late");
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["Hello, my order is late"])
        .await;

    desk.fake.user_sends(desk.bot(), &alice, "Order #1234");
    desk.wait_topic_texts(
        desk.group(),
        topic,
        &["Hello, my order is late", "Order #1234"],
    )
    .await;
    desk.settle().await;

    let topics = desk.fake.topics(desk.group());
    assert_eq!(topics.len(), 1, "one topic per user: {topics:?}");
    assert_eq!(topics[0].name, format!("🟪 Alice @alice {}", alice.id));
    // The copies are the bot's, in the topic.
    let copies = desk.fake.topic_messages(desk.group(), topic);
    assert!(
        copies
            .iter()
            .filter(|m| !m.is_service && !crate::util::is_user_card(m))
            .all(|m| m.from_is_bot)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reply_reaches_the_user_and_general_chatter_does_not() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);

    desk.fake
        .user_sends(desk.bot(), &alice, "Where is my parcel?");
    let topic = desk.only_topic().await;
    desk.fake
        .operator_sends(desk.group(), Some(topic), &desk.operator, "It ships today.");
    desk.fake
        .operator_sends(desk.group(), None, &desk.operator, "lunch, anyone?");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["Where is my parcel?", &welcome(), "It ships today."],
    )
    .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["Where is my parcel?", welcome().as_str(), "It ships today."],
        "General chatter and service messages never reach the user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_copied_with_its_caption() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    let photo = serde_json::json!({
        "photo": [{"file_id": "AgAD-photo", "file_unique_id": "u1", "width": 90, "height": 90}],
        "caption": "the broken part",
    });
    desk.fake.user_sends_content(desk.bot(), &alice, photo);
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["the broken part"])
        .await;
    let copy = desk
        .fake
        .topic_messages(desk.group(), topic)
        .into_iter()
        .find(|m| !m.is_service && !crate::util::is_user_card(m))
        .expect("the copy");
    assert_eq!(copy.json["photo"][0]["file_id"], "AgAD-photo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_with_two_groups_never_see_each_others_users() {
    let desk = Desk::start(&[
        ("shop", BotSettings::default()),
        ("bank", BotSettings::default()),
    ])
    .await;
    let (shop, bank) = (&desk.bots[0], &desk.bots[1]);
    let alice = desk.fake.add_user("Alice", None);
    let bob = desk.fake.add_user("Bob", None);

    desk.fake.user_sends(&shop.bot, &alice, "shop question");
    desk.fake.user_sends(&bank.bot, &bob, "bank question");
    desk.fake
        .user_sends(&bank.bot, &alice, "alice asks the bank");
    desk.wait("both groups to have their topics", |f| {
        (f.topics(shop.group).len() == 1 && f.topics(bank.group).len() == 2).then_some(())
    })
    .await;
    desk.settle().await;

    let shop_topics = desk.fake.topics(shop.group);
    assert_eq!(shop_topics[0].name, format!("🟪 Alice {}", alice.id));
    assert_eq!(
        texts(
            &desk
                .fake
                .topic_messages(shop.group, shop_topics[0].thread_id)
        ),
        ["shop question"]
    );
    let mut bank_texts: Vec<Vec<String>> = desk
        .fake
        .topics(bank.group)
        .iter()
        .map(|t| texts(&desk.fake.topic_messages(bank.group, t.thread_id)))
        .collect();
    bank_texts.sort();
    assert_eq!(bank_texts, [["alice asks the bank"], ["bank question"]]);

    // A reply in the shop's topic goes to Alice's chat with the shop bot only.
    desk.fake.operator_sends(
        shop.group,
        Some(shop_topics[0].thread_id),
        &desk.operator,
        "shop answer",
    );
    desk.wait_chat_texts(
        &shop.bot,
        &alice,
        &["shop question", &welcome(), "shop answer"],
    )
    .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.private_chat(&bank.bot, &alice)),
        ["alice asks the bank", welcome().as_str()]
    );
}

/// A bot with two backend groups spreads new dialogs over them (least busy
/// first) and each dialog stays in its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_backend_groups_share_the_dialogs() {
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    let first = desk.group();
    let second = desk.fake.add_forum_group("shop support 2", &[desk.bot()]);
    desk.bots[0].config.backend_groups.push(second);
    desk.launch();
    let users: Vec<_> = (0..3)
        .map(|i| desk.fake.add_user(&format!("User{i}"), None))
        .collect();
    for user in &users {
        desk.fake.user_sends(desk.bot(), user, "hi");
        // One at a time, so "least busy" sees each new dialog.
        desk.wait("the user's topic", |f| {
            let suffix = format!(" {}", user.id);
            [first, second]
                .iter()
                .any(|g| f.topics(*g).iter().any(|t| t.name.ends_with(&suffix)))
                .then_some(())
        })
        .await;
    }
    desk.settle().await;
    assert_eq!(
        desk.fake.topics(first).len(),
        2,
        "first, and first again among equals"
    );
    assert_eq!(desk.fake.topics(second).len(), 1);
    let in_second = desk.fake.topics(second)[0].thread_id;
    desk.fake
        .operator_sends(second, Some(in_second), &desk.operator, "from group 2");
    desk.wait_chat_texts(desk.bot(), &users[1], &["hi", &welcome(), "from group 2"])
        .await;
}

/// Every relayed message has its message link: each user message and its
/// copy in the topic, each operator message and its copy in the user's
/// chat (what replies, edits and reactions are mapped through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_relayed_message_has_its_link() {
    use switchboard::store::links::{self, Direction};
    use switchboard::store::{Store, dialogs};

    let desk = Desk::with(BotSettings {
        welcome: None,
        ..BotSettings::default()
    })
    .await;
    let group = desk.group();
    let (alice, topic) = desk.open_dialog("Alice", "one").await;
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        switchboard::fake::photo_content(Some("a photo")),
    );
    desk.fake.user_sends(desk.bot(), &alice, "three");
    for answer in ["a", "b"] {
        desk.fake
            .operator_sends(group, Some(topic), &desk.operator, answer);
    }
    desk.wait_chat_texts(desk.bot(), &alice, &["one", "a photo", "three", "a", "b"])
        .await;
    // The operators' messages and the copies interleave as timing has it.
    desk.wait("every message in the topic", |f| {
        let mut shown = texts(&f.topic_messages(group, topic));
        shown.sort();
        (shown == ["a", "a photo", "b", "one", "three"]).then_some(())
    })
    .await;
    desk.settle().await;

    // What Telegram shows: (chat, id) of each original and of each copy, in order.
    let chat = desk.fake.private_chat(desk.bot(), &alice);
    let in_topic = desk.fake.topic_messages(group, topic);
    let ids = |messages: &[switchboard::fake::FakeMessage], bot: bool| -> Vec<i64> {
        messages
            .iter()
            .filter(|m| !m.is_service && !crate::util::is_user_card(m) && m.from_is_bot == bot)
            .map(|m| m.message_id)
            .collect()
    };
    let mut expected: Vec<(Direction, i64, i64, i64, i64)> = ids(&chat, false)
        .into_iter()
        .zip(ids(&in_topic, true))
        .map(|(original, copy)| (Direction::ToTopic, alice.id, original, group, copy))
        .collect();
    expected.extend(
        ids(&in_topic, false)
            .into_iter()
            .zip(ids(&chat, true))
            .map(|(original, copy)| (Direction::ToUser, group, original, alice.id, copy)),
    );
    assert_eq!(expected.len(), 5);

    let store = Store::open(&desk.database).expect("database");
    let conn = store.conn().expect("connection");
    let dialog = dialogs::by_user(&conn, "shop", alice.id)
        .expect("read")
        .expect("the dialog");
    let mut recorded: Vec<(Direction, i64, i64, i64, i64)> =
        links::of_dialog(&conn, "shop", dialog.id)
            .expect("links")
            .into_iter()
            .map(|l| {
                (
                    l.direction,
                    l.original_chat,
                    l.original_id,
                    l.copy_chat,
                    l.copy_id,
                )
            })
            .collect();
    let key = |l: &(Direction, i64, i64, i64, i64)| (l.0 == Direction::ToUser, l.2);
    recorded.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(recorded, expected);
    // And they are found from either side.
    for (_, original_chat, original_id, copy_chat, copy_id) in expected {
        let by_copy = links::by_copy(&conn, "shop", copy_chat, copy_id)
            .expect("read")
            .expect("found by its copy");
        assert_eq!(
            (by_copy.original_chat, by_copy.original_id),
            (original_chat, original_id)
        );
    }
}

/// A job that copies several messages at once (an album) makes one
/// `copyMessages` call, and each message gets its link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_messages_copied_at_once_each_get_their_link() {
    use switchboard::outbox::{Action, Job, Lane, Purpose, Target, queue};
    use switchboard::store::{Store, dialogs, links};

    let desk = Desk::with(BotSettings {
        welcome: None,
        ..BotSettings::default()
    })
    .await;
    let group = desk.group();
    let (alice, topic) = desk.open_dialog("Alice", "one").await;
    desk.fake.user_sends(desk.bot(), &alice, "two");
    desk.wait_topic_texts(group, topic, &["one", "two"]).await;
    desk.settle().await;
    let originals: Vec<i32> = desk
        .fake
        .private_chat(desk.bot(), &alice)
        .iter()
        .map(|m| i32::try_from(m.message_id).expect("an id"))
        .collect();

    let store = Store::open(&desk.database).expect("database");
    let conn = store.conn().expect("connection");
    let dialog = dialogs::by_user(&conn, "shop", alice.id)
        .expect("read")
        .expect("the dialog");
    let job = Job {
        purpose: Purpose::Inbound {
            dialog: dialog.id,
            what: None,
        },
        action: Action::Copy {
            to: Target::TopicOf(dialog.id),
            from_chat: alice.id,
            message_ids: originals.clone(),
            keyboard: None,
            reply_to: None,
            forward: false,
        },
    };
    queue::enqueue(&conn, "shop", &Lane::Topic(alice.id), group, &job, 0).expect("enqueue");
    // The sender learns of jobs when woken: a message does that.
    desk.fake.user_sends(desk.bot(), &alice, "three");
    desk.wait_topic_texts(group, topic, &["one", "two", "one", "two", "three"])
        .await;
    desk.settle().await;
    assert_eq!(desk.fake.request_count("copyMessages"), 1);
    let copies: Vec<i64> = desk
        .fake
        .topic_messages(group, topic)
        .iter()
        .filter(|m| !m.is_service && !crate::util::is_user_card(m))
        .map(|m| m.message_id)
        .collect();
    for (original, copy) in originals.iter().zip(&copies[2..4]) {
        let link = links::by_original(&conn, "shop", alice.id, i64::from(*original))
            .expect("read")
            .expect("a link");
        assert_eq!(
            (link.copy_chat, link.copy_id),
            (group, *copy),
            "the latest copy"
        );
    }
}

/// The id of the message this one replies to, if it is a reply.
fn replied_to(message: &switchboard::fake::FakeMessage) -> Option<i64> {
    message.json["reply_to_message"]["message_id"].as_i64()
}

#[tokio::test]
async fn a_reply_on_one_side_is_a_reply_on_the_other() {
    let desk = Desk::one_bot().await;
    let (ann, thread) = desk.open_dialog("Ann", "Where is my order?").await;
    let find = |messages: Vec<switchboard::fake::FakeMessage>, text: &str| {
        messages
            .into_iter()
            .find(|m| m.text.as_deref() == Some(text))
            .unwrap_or_else(|| panic!("{text:?} not found"))
    };
    let question_there = find(
        desk.fake.private_chat(desk.bot(), &ann),
        "Where is my order?",
    );
    let question_here = find(
        desk.fake.topic_messages(desk.group(), thread),
        "Where is my order?",
    );

    // An operator replies to the user's message in the topic: the user gets
    // a reply to their own message.
    let answer_here = desk.fake.operator_replies(
        desk.group(),
        Some(thread),
        &desk.operator,
        question_here.message_id,
        "It ships today",
    );
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &["Where is my order?", &welcome(), "It ships today"],
    )
    .await;
    let answer_there = find(desk.fake.private_chat(desk.bot(), &ann), "It ships today");
    assert_eq!(replied_to(&answer_there), Some(question_there.message_id));

    // The user replies to the operator's message: the copy in the topic
    // replies to the operator's original.
    desk.fake
        .user_replies(desk.bot(), &ann, answer_there.message_id, "Thanks!");
    // A reply to a message without a counterpart (switchboard's welcome)
    // arrives as a plain message.
    let welcome_there = find(desk.fake.private_chat(desk.bot(), &ann), &welcome());
    desk.fake
        .user_replies(desk.bot(), &ann, welcome_there.message_id, "Hi to you too");
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &[
            "Where is my order?",
            "It ships today",
            "Thanks!",
            "Hi to you too",
        ],
    )
    .await;
    // A message in the topic that is no reply stays one.
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "Anything else?");
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &[
            "Where is my order?",
            &welcome(),
            "It ships today",
            "Thanks!",
            "Hi to you too",
            "Anything else?",
        ],
    )
    .await;
    let topic = desk.fake.topic_messages(desk.group(), thread);
    assert_eq!(
        replied_to(&find(topic.clone(), "Thanks!")),
        Some(answer_here)
    );
    assert_eq!(
        replied_to(&find(topic, "Hi to you too")),
        Some(thread),
        "a plain message in the topic (replying to the topic's first message only)"
    );
    let chat = desk.fake.private_chat(desk.bot(), &ann);
    assert_eq!(replied_to(&find(chat, "Anything else?")), None);
}

#[tokio::test]
async fn an_edit_on_one_side_changes_the_copy_on_the_other() {
    let desk = Desk::one_bot().await;
    let (ann, thread) = desk.open_dialog("Ann", "My order is 1243").await;
    let original = desk.fake.private_chat(desk.bot(), &ann)[0].message_id;
    desk.fake
        .user_edits(desk.bot(), &ann, original, "My order is 1234");
    desk.wait_topic_texts(desk.group(), thread, &["My order is 1234"])
        .await;
    let copy = desk
        .fake
        .topic_messages(desk.group(), thread)
        .into_iter()
        .find(|m| m.text.as_deref() == Some("My order is 1234"))
        .unwrap();
    assert!(
        copy.json.get("edit_date").is_some(),
        "edited, not sent again"
    );

    let answer = desk.fake.operator_sends(
        desk.group(),
        Some(thread),
        &desk.operator,
        "It ships tomorow",
    );
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &["My order is 1234", &welcome(), "It ships tomorow"],
    )
    .await;
    desk.fake
        .operator_edits(desk.group(), &desk.operator, answer, "It ships tomorrow");
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &["My order is 1234", &welcome(), "It ships tomorrow"],
    )
    .await;
}

#[tokio::test]
async fn an_edit_telegram_refuses_becomes_a_note_with_the_new_text() {
    use switchboard::fake::{Fault, FaultRule};
    let desk = Desk::one_bot().await;
    let (ann, thread) = desk.open_dialog("Ann", "hello").await;
    let original = desk.fake.private_chat(desk.bot(), &ann)[0].message_id;
    desk.fake.inject(
        FaultRule::on(
            "editMessageText",
            Fault::error(400, "Bad Request: message can't be edited"),
        )
        .always(),
    );
    desk.fake
        .user_edits(desk.bot(), &ann, original, "hello again");
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &[
            "hello",
            "✏️ The user edited a message; its copy here could not follow (rejected by Telegram (400): Bad Request: message can't be edited). It now reads:\nhello again",
        ],
    )
    .await;
    // The note replies to the copy that could not follow.
    let shown: Vec<_> = desk
        .fake
        .topic_messages(desk.group(), thread)
        .into_iter()
        .filter(|m| !m.is_service && !crate::util::is_user_card(m))
        .collect();
    assert_eq!(
        shown[1].json["reply_to_message"]["message_id"],
        shown[0].message_id
    );
}

#[tokio::test]
async fn a_reaction_on_one_side_shows_on_the_other() {
    let desk = Desk::one_bot().await;
    let (ann, thread) = desk.open_dialog("Ann", "Is it in stock?").await;
    let find = |messages: Vec<switchboard::fake::FakeMessage>, text: &str| {
        messages
            .into_iter()
            .find(|m| m.text.as_deref() == Some(text))
            .unwrap_or_else(|| panic!("{text:?} not found"))
    };
    let bot_id = desk.bot().id;

    // An operator reacts to the user's message in the topic: the user sees
    // the bot's reaction on their own message.
    let copy = find(
        desk.fake.topic_messages(desk.group(), thread),
        "Is it in stock?",
    );
    desk.fake
        .operator_reacts(desk.group(), &desk.operator, copy.message_id, Some("👍"));
    desk.wait("the reaction on the user's message", |fake| {
        let original = find(fake.private_chat(desk.bot(), &ann), "Is it in stock?");
        (original.reaction_of(bot_id) == Some("👍")).then_some(())
    })
    .await;

    // The user reacts to the operator's answer: the operator's message in
    // the topic shows it; taking it back removes it.
    let answer =
        desk.fake
            .operator_sends(desk.group(), Some(thread), &desk.operator, "Yes, 3 left");
    desk.wait_chat_texts(
        desk.bot(),
        &ann,
        &["Is it in stock?", &welcome(), "Yes, 3 left"],
    )
    .await;
    let answer_there = find(desk.fake.private_chat(desk.bot(), &ann), "Yes, 3 left");
    desk.fake
        .user_reacts(desk.bot(), &ann, answer_there.message_id, Some("🔥"));
    let shown = |fake: &switchboard::fake::FakeTelegram| {
        fake.topic_messages(desk.group(), thread)
            .into_iter()
            .find(|m| m.message_id == answer)
            .and_then(|m| m.reaction_of(bot_id).map(str::to_owned))
    };
    desk.wait("the reaction in the topic", |fake| {
        (shown(fake).as_deref() == Some("🔥")).then_some(())
    })
    .await;
    desk.fake
        .user_reacts(desk.bot(), &ann, answer_there.message_id, None);
    desk.wait("the reaction taken back", |fake| {
        shown(fake).is_none().then_some(())
    })
    .await;
}

/// An operator who writes in a new topic before switchboard has recorded
/// the topic's id (Telegram's answer to createForumTopic is slow) is not
/// lost: the message is held until the topic is known, then relayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_message_in_a_topic_not_yet_recorded_is_relayed() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.inject(FaultRule::on(
        "createForumTopic",
        Fault::SlowAnswer(std::time::Duration::from_secs(1)),
    ));
    desk.fake.user_sends(desk.bot(), &alice, "anyone there?");
    let group = desk.group();
    let topic = desk
        .wait("the topic created", |f| {
            Some(f.topics(group).first()?.thread_id)
        })
        .await;
    // Telegram has the topic, switchboard has not heard back yet.
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "Yes, hello!");
    desk.wait_chat_texts(
        desk.bot(),
        &alice,
        &["anyone there?", &welcome(), "Yes, hello!"],
    )
    .await;
    desk.wait_topic_texts(group, topic, &["Yes, hello!", "anyone there?"])
        .await;
    desk.settle().await;
}

/// A live location moves on both sides: each move of the user's changes
/// the copy in the topic, and each of an operator's changes the user's copy
/// (`editMessageLiveLocation`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_location_moves_on_both_sides() {
    use switchboard::fake::live_location_content;
    let desk = Desk::one_bot().await;
    let (ann, topic) = desk.open_dialog("Ann", "I am on my way").await;
    let (bot, group) = (desk.bot(), desk.group());
    let position = |m: &switchboard::fake::FakeMessage| {
        let location = &m.json["location"];
        (
            location["latitude"].as_f64(),
            location["longitude"].as_f64(),
        )
    };
    let sent = desk
        .fake
        .user_sends_content(bot, &ann, live_location_content(52.52, 13.40, 3600));
    let copy = desk
        .wait("the live location in the topic", |f| {
            f.topic_messages(group, topic)
                .into_iter()
                .find(|m| m.json.get("location").is_some())
        })
        .await;
    for (lat, lon) in [(52.53, 13.41), (52.54, 13.42)] {
        desk.fake
            .user_moves_live_location(bot, &ann, sent, lat, lon);
        desk.wait("the copy moved", |f| {
            f.topic_messages(group, topic)
                .into_iter()
                .find(|m| m.message_id == copy.message_id)
                .filter(|m| position(m) == (Some(lat), Some(lon)))
        })
        .await;
    }

    let shared = desk.fake.operator_sends_content(
        group,
        Some(topic),
        &desk.operator,
        live_location_content(48.85, 2.35, 900),
    );
    let copy = desk
        .wait("the operator's live location with the user", |f| {
            f.private_chat(bot, &ann)
                .into_iter()
                .find(|m| m.from_is_bot && m.json.get("location").is_some())
        })
        .await;
    desk.fake
        .operator_moves_live_location(group, &desk.operator, shared, 48.86, 2.36);
    desk.wait("the user's copy moved", |f| {
        f.private_chat(bot, &ann)
            .into_iter()
            .find(|m| m.message_id == copy.message_id)
            .filter(|m| position(m) == (Some(48.86), Some(2.36)))
    })
    .await;
    desk.settle().await;
    assert!(desk.failed_jobs().is_empty());
}

/// A forwarded message reaches the topic as a forward: operators see
/// where it came from, as the user did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_message_shows_operators_its_origin() {
    let desk = Desk::one_bot().await;
    let (ann, topic) = desk.open_dialog("Ann", "look at this").await;
    let origin = serde_json::json!({
        "type": "channel",
        "chat": {"id": -1_001_234_567_890_i64, "type": "channel", "title": "Shop News", "username": "shopnews"},
        "message_id": 77,
        "date": 1_700_000_000,
    });
    desk.fake.user_sends_content(
        desk.bot(),
        &ann,
        serde_json::json!({"text": "Sale ends today", "forward_origin": origin}),
    );
    let group = desk.group();
    let shown = desk
        .wait("the forward in the topic", |f| {
            f.topic_messages(group, topic)
                .into_iter()
                .find(|m| m.text.as_deref() == Some("Sale ends today"))
        })
        .await;
    assert_eq!(
        shown.json["forward_origin"], origin,
        "the first origin kept"
    );
    assert!(shown.from_is_bot);
}
