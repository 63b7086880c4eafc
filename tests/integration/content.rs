use serde_json::{Value, json};
use switchboard::config::BotSettings;
use switchboard::dispatch::texts::NOT_DELIVERED;

use crate::util::{Desk, texts, welcome};

fn settings(change: impl FnOnce(&mut BotSettings)) -> BotSettings {
    let mut settings = BotSettings::default();
    change(&mut settings);
    settings
}

/// The topic's messages other than service messages, as JSON.
fn shown_in_topic(desk: &Desk, topic: i64) -> Vec<Value> {
    desk.fake
        .topic_messages(desk.group(), topic)
        .into_iter()
        .filter(|m| !m.is_service && !crate::util::is_user_card(m))
        .map(|m| m.json)
        .collect()
}

/// Content that frankenstein's strict types refuse (a value a newer Bot API
/// may send) still reaches the topic as a copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_with_values_from_a_newer_bot_api_is_copied() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    // A forward from an origin of a type that does not exist yet.
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        json!({
            "text": "forwarded from the future",
            "forward_origin": {"type": "time_machine", "date": 1_700_000_000, "year": 2042},
        }),
    );
    let topic = desk.only_topic().await;
    // A sticker of a type that does not exist yet.
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        json!({"sticker": {
            "file_id": "CAAC-hologram", "file_unique_id": "h1", "type": "hologram",
            "width": 512, "height": 512, "is_animated": false, "is_video": false,
        }}),
    );
    // An entity whose offset is beyond what frankenstein accepts (u16).
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        json!({
            "text": "bold claims",
            "entities": [{"type": "bold", "offset": 70_000, "length": 4}],
        }),
    );
    let group = desk.group();
    desk.wait("three copies in the topic", |f| {
        let copies = f
            .topic_messages(group, topic)
            .into_iter()
            .filter(|m| !m.is_service && !crate::util::is_user_card(m))
            .count();
        (copies == 3).then_some(())
    })
    .await;
    desk.settle().await;
    let shown = shown_in_topic(&desk, topic);
    assert_eq!(shown[0]["text"], "forwarded from the future");
    assert_eq!(shown[1]["sticker"]["file_id"], "CAAC-hologram");
    assert_eq!(shown[2]["text"], "bold claims");
    assert!(desk.failed_jobs().is_empty());
}

/// A giveaway cannot be copied: the dialog opens as usual, the topic gets a
/// note that says what arrived, and the user is told unless silent_mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_giveaway_becomes_a_note_and_the_user_is_told_unless_silent() {
    for silent in [false, true] {
        let desk = Desk::with(settings(|s| s.silent_mode = silent)).await;
        let alice = desk.fake.add_user("Alice", None);
        desk.fake.user_sends_content(
            desk.bot(),
            &alice,
            json!({"giveaway": {
                "chats": [{"id": -1_001_234, "type": "channel", "title": "Shop news"}],
                "winners_selection_date": 1_800_000_000, "winner_count": 3,
            }}),
        );
        let topic = desk.only_topic().await;
        desk.settle().await;
        assert_eq!(
            texts(&desk.fake.topic_messages(desk.group(), topic)),
            [
                "⚠️ The user sent a giveaway. Telegram does not let bots copy it, so it \
              cannot be shown here."
            ],
            "silent_mode = {silent}"
        );
        // The giveaway itself shows as "" (it has no text).
        let expected: &[&str] = if silent {
            &["", &welcome()]
        } else {
            &["", &welcome(), NOT_DELIVERED]
        };
        assert_eq!(
            texts(&desk.fake.private_chat(desk.bot(), &alice)),
            expected,
            "silent_mode = {silent}"
        );
        assert!(desk.failed_jobs().is_empty(), "no copy was even tried");
    }
}

/// Paid media cannot be copied either; its caption still reaches operators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caption_of_uncopyable_content_is_in_the_note() {
    let desk = Desk::with(settings(|s| s.silent_mode = true)).await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        json!({
            "paid_media": {"star_count": 5, "paid_media": [{"type": "preview"}]},
            "caption": "the receipt, for a price",
        }),
    );
    let topic = desk.only_topic().await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.topic_messages(desk.group(), topic)),
        [
            "⚠️ The user sent paid media. Telegram does not let bots copy it, so it \
          cannot be shown here.\n\nIts caption:\nthe receipt, for a price"
        ]
    );
}

/// A note that quotes a long text is cut to Telegram's limit, and arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_quoting_a_long_text_is_cut_to_fit() {
    let desk = Desk::with(settings(|s| s.silent_mode = true)).await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends_content(
        desk.bot(),
        &alice,
        json!({"text": "я".repeat(4096), "has_protected_content": true}),
    );
    let topic = desk.only_topic().await;
    desk.settle().await;
    let shown = texts(&desk.fake.topic_messages(desk.group(), topic));
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with(
            "⚠️ The user sent a message with protected content. Telegram does not let bots \
             copy it, so it cannot be shown here.\n\nIts text:\nяяя"
        ),
        "{shown:?}"
    );
    assert!(shown[0].ends_with("я…"));
    assert_eq!(shown[0].encode_utf16().count(), 4096);
}

/// A message whose only content is a field switchboard does not know is
/// tried as a copy; when Telegram refuses, the note names what arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_of_content_is_tried_and_named_when_it_fails() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake
        .user_sends_content(desk.bot(), &alice, json!({"hologram": {"depth": 3}}));
    let topic = desk.only_topic().await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.topic_messages(desk.group(), topic)),
        [
            "⚠️ A message from the user (a message with `hologram`) could not be shown here: \
          rejected by Telegram (400): Bad Request: message can't be copied"
        ]
    );
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["", welcome().as_str(), NOT_DELIVERED]
    );
    let tried = desk
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "copyMessage")
        .count();
    assert_eq!(tried, 1, "the copy was tried");
}

/// An operator's giveaway or invoice in a topic is not sent; a note says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_uncopyable_message_is_a_note_and_nothing_is_sent() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "question").await;
    let group = desk.group();
    desk.fake.operator_sends_content(
        group,
        Some(topic),
        &desk.operator,
        json!({"giveaway": {
            "chats": [{"id": -1_001_234, "type": "channel", "title": "Shop news"}],
            "winners_selection_date": 1_800_000_000, "winner_count": 1,
        }}),
    );
    desk.fake.operator_sends_content(
        group,
        Some(topic),
        &desk.operator,
        json!({"invoice": {
            "title": "Order 7", "description": "Refund fee", "start_parameter": "x",
            "currency": "EUR", "total_amount": 500,
        }}),
    );
    desk.settle().await;
    let notes: Vec<String> = texts(&desk.fake.topic_messages(group, topic))
        .into_iter()
        .filter(|t| t.starts_with("⚠️"))
        .collect();
    assert_eq!(
        notes,
        [
            "⚠️ Not sent to the user: Telegram does not let bots copy a giveaway.",
            "⚠️ Not sent to the user: Telegram does not let bots copy an invoice.",
        ]
    );
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", welcome().as_str()],
        "nothing was sent to the user"
    );
    assert_eq!(
        desk.fake.request_count("copyMessage"),
        1,
        "only the question"
    );
}

/// A name of 200 emoji is 400 UTF-16 code units, far over Telegram's 128:
/// the topic name is cut to fit, and keeps the user id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_named_with_200_emoji_gets_a_topic() {
    let desk = Desk::one_bot().await;
    let (user, topic) = desk.open_dialog(&"😀".repeat(200), "hello").await;
    let topics = desk.fake.topics(desk.group());
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].thread_id, topic);
    let name = &topics[0].name;
    assert!(name.ends_with(&format!(" {}", user.id)), "{name}");
    assert!(name.starts_with("🟪 😀😀"), "{name}");
    assert!(name.encode_utf16().count() <= 128, "{name}");
    desk.wait_topic_texts(desk.group(), topic, &["hello"]).await;
}

/// A 5,000-character unknown command would make a help note over Telegram's
/// 4,096-character limit; the note is cut to fit and arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_unknown_command_still_gets_its_help_note() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "question").await;
    let command = format!("/{}", "x".repeat(4_999));
    desk.fake
        .operator_sends(desk.group(), Some(topic), &desk.operator, &command);
    desk.settle().await;
    let shown = texts(&desk.fake.topic_messages(desk.group(), topic));
    let help = shown
        .iter()
        .find(|t| t.starts_with("Unknown command /xxx"))
        .unwrap_or_else(|| panic!("no help note in {shown:?}"));
    assert!(help.contains("nothing was sent to the user"), "{help}");
    assert!(help.encode_utf16().count() <= 4096);
    assert!(desk.failed_jobs().is_empty(), "{:?}", desk.failed_jobs());
    assert_eq!(
        texts(&desk.fake.private_chat(desk.bot(), &alice)),
        ["question", welcome().as_str()]
    );
}

/// A service message in a user's chat (a payment, say) cannot be copied:
/// operators of an open dialog get a note saying what happened; without an
/// open dialog it opens none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_message_in_an_open_dialog_becomes_a_note() {
    let desk = Desk::one_bot().await;
    let bob = desk.fake.add_user("Bob", None);
    let payment = json!({"successful_payment": {
        "currency": "EUR", "total_amount": 1000, "invoice_payload": "order-1",
        "telegram_payment_charge_id": "t1", "provider_payment_charge_id": "p1",
    }});
    // No dialog yet: nothing opens.
    desk.fake
        .user_sends_content(desk.bot(), &bob, payment.clone());
    desk.settle().await;
    assert!(
        desk.fake.topics(desk.group()).is_empty(),
        "no topic for a service message"
    );

    let (alice, topic) = desk.open_dialog("Alice", "I paid").await;
    desk.fake.user_sends_content(desk.bot(), &alice, payment);
    desk.wait_topic_texts(
        desk.group(),
        topic,
        &[
            "I paid",
            "ℹ️ The user completed a payment (a service message; Telegram does not let bots copy it).",
        ],
    )
    .await;
}
