use serde_json::Value;
use switchboard::fake::{FakeMessage, FakeTelegram, photo_content};

use crate::util::{Desk, OnDisk, PATIENCE, is_user_card, spawn_switchboard};

/// `n` photos, the first with a caption.
fn photos(n: usize, caption: &str) -> Vec<Value> {
    (0..n)
        .map(|i| photo_content((i == 0).then_some(caption)))
        .collect()
}

/// The largest size's file id of each photo message.
fn photo_ids(messages: &[FakeMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let sizes = m.json["photo"].as_array().expect("a photo");
            sizes.last().expect("a size")["file_id"]
                .as_str()
                .expect("a file id")
                .to_owned()
        })
        .collect()
}

/// The albums among `messages` (user card and service messages left out),
/// in order: each as its messages; a message outside an album is one alone.
fn albums(messages: Vec<FakeMessage>) -> Vec<Vec<FakeMessage>> {
    let mut albums: Vec<Vec<FakeMessage>> = Vec::new();
    for message in messages
        .into_iter()
        .filter(|m| !m.is_service && !is_user_card(m))
    {
        match albums.last_mut() {
            Some(last)
                if message.media_group_id().is_some()
                    && last[0].media_group_id() == message.media_group_id() =>
            {
                last.push(message);
            }
            _ => albums.push(vec![message]),
        }
    }
    albums
}

/// Asserts that `received` is one album with the photos of `sent` (the
/// originals), in order, with the first one's caption.
fn assert_same_album(sent: &[FakeMessage], received: &[FakeMessage], what: &str) {
    assert_eq!(
        received.len(),
        sent.len(),
        "{what}: one album of {}",
        sent.len()
    );
    let album = received[0].media_group_id();
    assert!(album.is_some(), "{what}: the copies are an album");
    assert!(
        received.iter().all(|m| m.media_group_id() == album),
        "{what}: every copy in the one album"
    );
    assert_eq!(
        photo_ids(received),
        photo_ids(sent),
        "{what}: the same photos"
    );
    assert_eq!(
        received[0].json["caption"], sent[0].json["caption"],
        "{what}"
    );
}

/// Albums of 2, 5 and 10 photos arrive as one album each way, each with one
/// `copyMessages` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn albums_of_2_5_and_10_arrive_as_one_album_each_way() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "hello").await;
    let (bot, group) = (desk.bot(), desk.group());
    desk.fake.clear_requests();
    for n in [2, 5, 10] {
        // The user's album.
        desk.fake
            .user_sends_album(bot, &alice, photos(n, &format!("{n} photos")));
        let sent = desk
            .wait("the user's album in their chat", |f| {
                albums(f.private_chat(bot, &alice)).pop()
            })
            .await;
        let copied = desk
            .wait("the album in the topic", |f| {
                albums(f.topic_messages(group, topic))
                    .pop()
                    .filter(|last| last.len() == n)
            })
            .await;
        assert_same_album(&sent, &copied, &format!("{n} to the topic"));

        // The operator's album in the topic.
        desk.fake.operator_sends_album(
            group,
            Some(topic),
            &desk.operator,
            photos(n, &format!("{n} back")),
        );
        let sent = desk
            .wait("the operator's album in the topic", |f| {
                albums(f.topic_messages(group, topic))
                    .pop()
                    .filter(|last| last[0].json["caption"] == format!("{n} back"))
            })
            .await;
        let copied = desk
            .wait("the album in the user's chat", |f| {
                albums(f.private_chat(bot, &alice))
                    .pop()
                    .filter(|last| last.len() == n && last[0].from_is_bot)
            })
            .await;
        assert_same_album(&sent, &copied, &format!("{n} to the user"));
    }
    desk.settle().await;
    assert_eq!(
        desk.fake.request_count("copyMessages"),
        6,
        "one call per album"
    );
    assert_eq!(desk.fake.request_count("copyMessage"), 0);
    assert!(desk.failed_jobs().is_empty());
}

/// A message after an album completes it: the album comes first, whole,
/// then the message, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_after_an_album_follows_it() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    let (bot, group) = (desk.bot(), desk.group());
    // The album opens the dialog.
    desk.fake.user_sends_album(bot, &alice, photos(3, "three"));
    desk.fake.user_sends(bot, &alice, "and a question");
    let topic = desk.only_topic().await;
    let shown = desk
        .wait("the album and the text in the topic", |f| {
            let shown = albums(f.topic_messages(group, topic));
            (shown.len() == 2).then_some(shown)
        })
        .await;
    assert_eq!(shown[0].len(), 3, "the album whole, first");
    assert_eq!(shown[1][0].text.as_deref(), Some("and a question"));

    desk.fake
        .operator_sends_album(group, Some(topic), &desk.operator, photos(2, "two"));
    desk.fake
        .operator_sends(group, Some(topic), &desk.operator, "see above");
    let received = desk
        .wait("the album and the text in the user's chat", |f| {
            let shown: Vec<Vec<FakeMessage>> = albums(f.private_chat(bot, &alice))
                .into_iter()
                .filter(|a| a[0].from_is_bot)
                .collect();
            (shown.len() == 3).then_some(shown) // the welcome, the album, the text
        })
        .await;
    assert_eq!(received[1].len(), 2, "the album whole, first");
    assert_eq!(received[2][0].text.as_deref(), Some("see above"));
    desk.settle().await;
    assert_eq!(desk.fake.request_count("copyMessages"), 2);
}

/// An album whose parts come in two `getUpdates` batches is still one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_split_across_two_batches_stays_one() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "hello").await;
    let (bot, group) = (desk.bot(), desk.group());
    let items = photos(5, "in two parts");
    let album = "77700011122233";
    let with_album = |mut item: Value| {
        item["media_group_id"] = album.into();
        item
    };
    let mut items = items.into_iter().map(with_album);
    for item in items.by_ref().take(2) {
        desk.fake.user_sends_content(bot, &alice, item);
    }
    desk.wait("the first parts fetched", |f| {
        (f.pending_update_count(bot) == 0).then_some(())
    })
    .await;
    for item in items {
        desk.fake.user_sends_content(bot, &alice, item);
    }
    let sent = albums(desk.fake.private_chat(bot, &alice)).pop().unwrap();
    let copied = desk
        .wait("the album in the topic", |f| {
            albums(f.topic_messages(group, topic))
                .pop()
                .filter(|last| last.len() >= 5)
        })
        .await;
    assert_same_album(&sent, &copied, "split across batches");
    desk.settle().await;
    assert_eq!(desk.fake.request_count("copyMessages"), 1);
}

/// The real binary, killed with SIGKILL in the middle of an album (three
/// parts gathered, two not sent yet), and started again: the album arrives
/// once, whole, with one call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_interrupted_by_a_kill_arrives_whole_once() {
    let on_disk = OnDisk::new().await;
    let (fake, bot, group, alice) = (&on_disk.fake, &on_disk.bot, on_disk.group, &on_disk.alice);
    let (config, database) = (&on_disk.config, on_disk.database());

    let album = "88800011122233";
    let items: Vec<Value> = photos(5, "interrupted")
        .into_iter()
        .map(|mut item| {
            item["media_group_id"] = album.into();
            item
        })
        .collect();
    let mut first = spawn_switchboard(config, bot);
    for item in &items[..3] {
        fake.user_sends_content(bot, alice, item.clone());
    }
    // Killed while the three parts wait for the rest.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gathered(&database) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the parts were not gathered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    first.kill();
    for item in &items[3..] {
        fake.user_sends_content(bot, alice, item.clone());
    }
    let mut second = spawn_switchboard(config, bot);
    // (A topic creation in flight at the kill is made again: look in each.)
    let shown_albums = |f: &FakeTelegram| -> Vec<Vec<FakeMessage>> {
        f.topics(group)
            .iter()
            .flat_map(|topic| albums(f.topic_messages(group, topic.thread_id)))
            .collect()
    };
    let copied = fake
        .wait_until(PATIENCE, |f| shown_albums(f).pop())
        .await
        .expect("the album in the topic");
    // Nothing more comes.
    fake.wait_until(PATIENCE, |f| {
        (f.pending_update_count(bot) == 0 && f.request_count("copyMessages") >= 1).then_some(())
    })
    .await
    .expect("settled");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while gathered(&database) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the album stayed gathered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    second.kill();
    // The user's album in their chat (the welcome may come between its parts).
    let sent: Vec<FakeMessage> = fake
        .private_chat(bot, alice)
        .into_iter()
        .filter(|m| m.media_group_id() == Some(album))
        .collect();
    assert_same_album(&sent, &copied, "after the kill");
    assert_eq!(shown_albums(fake).len(), 1, "nothing else");
    assert_eq!(fake.request_count("copyMessages"), 1, "one call");
    assert_eq!(fake.request_count("copyMessage"), 0);
}

/// How many album parts the database at `path` holds (0 before it exists).
fn gathered(path: &std::path::Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM album_parts", [], |row| row.get(0))
        .unwrap_or(0)
}

/// An operator's album for a user who blocked the bot is not sent: one
/// note says so, not one per photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_for_a_user_who_blocked_the_bot_gets_one_note() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "hello").await;
    let (bot, group) = (desk.bot(), desk.group());
    desk.fake.user_blocks_bot(bot, &alice);
    desk.wait_topic_texts(
        group,
        topic,
        &["hello", switchboard::dispatch::texts::USER_BLOCKED],
    )
    .await;
    desk.fake.clear_requests();
    desk.fake
        .operator_sends_album(group, Some(topic), &desk.operator, photos(4, "for Alice"));
    desk.settle().await;
    let notes = desk
        .fake
        .topic_messages(group, topic)
        .into_iter()
        .filter(|m| m.text.as_deref() == Some(switchboard::dispatch::texts::BLOCKED))
        .count();
    assert_eq!(notes, 1, "one note for the album");
    assert_eq!(desk.fake.request_count("copyMessages"), 0, "no call");
}
