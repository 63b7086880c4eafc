//! Every kind of content a person can send, relayed each way: what a user
//! sends reaches the topic, and what an operator sends in the topic reaches
//! the user, as a message of the same kind with the same content.

use serde_json::{Map, Value, json};
use switchboard::config::{BotSettings, Limits};
use switchboard::fake::{FakeMessage, FakeTelegram};

use crate::util::{Desk, PATIENCE, is_user_card, welcome};

/// The fields of the Bot API's `Message` that are its content (what a copy
/// carries), as opposed to its envelope (ids, date, sender, chat, reply,
/// forward origin, ...). A copy must show exactly the content fields sent.
const CONTENT_KEYS: &[&str] = &[
    "text",
    "entities",
    "link_preview_options",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "animation",
    "audio",
    "document",
    "paid_media",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "checklist",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
    "invoice",
    "giveaway",
    "giveaway_winners",
];

/// A thumbnail, as media shows it.
fn thumbnail(name: &str) -> Value {
    json!({
        "file_id": format!("AAMCAgADGQEAAgFDZ{name}-thumb"),
        "file_unique_id": format!("AQAD{name}T"),
        "file_size": 9_120,
        "width": 320,
        "height": 180,
    })
}

/// Each kind of content, named, as the Bot API shows it in a `Message`.
fn kinds() -> Vec<(&'static str, Value)> {
    // An animation shows as a document as well, for backward compatibility.
    let animation = json!({
        "file_id": "CgACAgQAAxkBAAIBR2Z-animation", "file_unique_id": "AgADanim1",
        "width": 480, "height": 270, "duration": 3, "thumbnail": thumbnail("animation"),
        "file_name": "shrug.gif.mp4", "mime_type": "video/mp4", "file_size": 145_678,
    });
    let animation_document = json!({
        "file_id": "CgACAgQAAxkBAAIBR2Z-animation", "file_unique_id": "AgADanim1",
        "thumbnail": thumbnail("animation"),
        "file_name": "shrug.gif.mp4", "mime_type": "video/mp4", "file_size": 145_678,
    });
    // A venue shows its location as well, for backward compatibility.
    let pickup_point = json!({"latitude": 48.858_37, "longitude": 2.294_481});
    vec![
        (
            "text with formatting",
            // "Order 1234" bold, "is late" italic, the URL a url entity.
            json!({
                "text": "Order 1234 is late. Tracking: https://example.com/t/1234",
                "entities": [
                    {"type": "bold", "offset": 0, "length": 10},
                    {"type": "italic", "offset": 11, "length": 7},
                    {"type": "url", "offset": 30, "length": 26},
                ],
                "link_preview_options": {
                    "url": "https://example.com/t/1234", "prefer_small_media": true,
                },
            }),
        ),
        (
            "photo",
            json!({
                "photo": [
                    {"file_id": "AgACAgIAAxkBAAIBQWZ-photo-s", "file_unique_id": "AQADphotoS",
                     "file_size": 1_406, "width": 90, "height": 60},
                    {"file_id": "AgACAgIAAxkBAAIBQWZ-photo-m", "file_unique_id": "AQADphotoM",
                     "file_size": 17_822, "width": 320, "height": 213},
                    {"file_id": "AgACAgIAAxkBAAIBQWZ-photo-x", "file_unique_id": "AQADphotoX",
                     "file_size": 98_004, "width": 1280, "height": 853},
                ],
                "caption": "the broken part: the hinge",
                "caption_entities": [{"type": "bold", "offset": 17, "length": 9}],
                "show_caption_above_media": true,
            }),
        ),
        (
            "video",
            json!({
                "video": {
                    "file_id": "BAACAgIAAxkBAAIBQ2Z-video", "file_unique_id": "AgADvideo1",
                    "width": 1280, "height": 720, "duration": 14, "thumbnail": thumbnail("video"),
                    "file_name": "unboxing.mp4", "mime_type": "video/mp4", "file_size": 2_480_133,
                },
                "caption": "it rattles at 0:07",
                "caption_entities": [{"type": "italic", "offset": 3, "length": 7}],
                "has_media_spoiler": true,
            }),
        ),
        (
            "animation",
            json!({"animation": animation, "document": animation_document}),
        ),
        (
            "audio",
            json!({
                "audio": {
                    "file_id": "CQACAgIAAxkBAAIBRGZ-audio", "file_unique_id": "AgADaudio1",
                    "duration": 187, "performer": "Shop Band", "title": "Hold music",
                    "file_name": "hold_music.mp3", "mime_type": "audio/mpeg",
                    "file_size": 3_001_234, "thumbnail": thumbnail("audio"),
                },
                "caption": "this plays forever on your hotline",
            }),
        ),
        (
            "voice",
            json!({
                "voice": {
                    "file_id": "AwACAgIAAxkBAAIBRWZ-voice", "file_unique_id": "AgADvoice1",
                    "duration": 6, "mime_type": "audio/ogg", "file_size": 23_456,
                },
            }),
        ),
        (
            "video_note",
            json!({
                "video_note": {
                    "file_id": "DQACAgIAAxkBAAIBRmZ-videonote", "file_unique_id": "AgADnote1",
                    "length": 384, "duration": 9, "thumbnail": thumbnail("video_note"),
                    "file_size": 412_345,
                },
            }),
        ),
        (
            "document",
            json!({
                "document": {
                    "file_id": "BQACAgIAAxkBAAIBSGZ-document", "file_unique_id": "AgADdoc1",
                    "thumbnail": thumbnail("document"), "file_name": "invoice-1234.pdf",
                    "mime_type": "application/pdf", "file_size": 88_213,
                },
                "caption": "invoice 1234, wrong address",
                "caption_entities": [{"type": "underline", "offset": 14, "length": 13}],
            }),
        ),
        (
            "sticker",
            json!({
                "sticker": {
                    "file_id": "CAACAgIAAxkBAAIBSWZ-sticker", "file_unique_id": "AgADsticker1",
                    "type": "regular", "width": 512, "height": 512,
                    "is_animated": false, "is_video": false,
                    "thumbnail": thumbnail("sticker"), "emoji": "📦",
                    "set_name": "ShopParcels", "file_size": 27_640,
                },
            }),
        ),
        (
            "location",
            json!({
                "location": {
                    "latitude": 52.520_008, "longitude": 13.404_954, "horizontal_accuracy": 12.5,
                },
            }),
        ),
        (
            "venue",
            json!({
                "venue": {
                    "location": pickup_point,
                    "title": "Shop pickup point",
                    "address": "5 Avenue Anatole France, Paris",
                    "foursquare_id": "4adcda09f964a520dd3321e3",
                    "foursquare_type": "shops/default",
                },
                "location": pickup_point,
            }),
        ),
        (
            "contact",
            json!({
                "contact": {
                    "phone_number": "+15551234567", "first_name": "Alice",
                    "last_name": "Liddell", "user_id": 123_456_789,
                    "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Alice Liddell\n\
                              TEL;TYPE=CELL:+15551234567\nEND:VCARD",
                },
            }),
        ),
        (
            "poll",
            json!({
                "poll": {
                    "id": "5368583735893164034",
                    "question": "Which delivery slot suits you?",
                    "options": [
                        {"text": "Morning", "voter_count": 0},
                        {"text": "Evening", "voter_count": 0},
                    ],
                    "total_voter_count": 0, "is_closed": false, "is_anonymous": false,
                    "type": "regular", "allows_multiple_answers": true,
                },
            }),
        ),
        ("dice", json!({"dice": {"emoji": "🎲", "value": 5}})),
        (
            "story",
            json!({
                "story": {
                    "chat": {
                        "id": -1_001_987_654_321_i64, "title": "Shop news",
                        "username": "shop_news", "type": "channel",
                    },
                    "id": 42,
                },
            }),
        ),
    ]
}

/// The content fields of a message. A copy of a poll is a new poll, with
/// an id of its own: its id is not content.
fn content_of(message: &Value) -> Map<String, Value> {
    let mut content: Map<String, Value> = CONTENT_KEYS
        .iter()
        .filter_map(|&key| Some((key.to_owned(), message.get(key)?.clone())))
        .collect();
    if let Some(Value::Object(poll)) = content.get_mut("poll") {
        poll.remove("id");
    }
    content
}

/// How the copy of `kind` differs from what was sent, one line each.
fn differences(kind: &str, sent: &Value, copy: &Value) -> Vec<String> {
    let sent = content_of(sent);
    assert!(!sent.is_empty(), "{kind}: the table entry has no content");
    let copied = content_of(copy);
    let mut found = Vec::new();
    for (key, value) in &sent {
        match copied.get(key) {
            Some(copied) if copied == value => {}
            Some(copied) => found.push(format!(
                "{kind}: `{key}` is {copied} in the copy, sent {value}"
            )),
            None => found.push(format!("{kind}: the copy has no `{key}` (sent {value})")),
        }
    }
    for (key, value) in copied.iter().filter(|(key, _)| !sent.contains_key(*key)) {
        found.push(format!(
            "{kind}: the copy has `{key}`, which was not sent: {value}"
        ));
    }
    found
}

/// A desk whose bot sends without rate limits: fifteen messages into one
/// chat would otherwise take 15 s (the limiter has tests of its own).
async fn unlimited_desk() -> Desk {
    Desk::with(BotSettings {
        limits: Limits::OFF,
        ..BotSettings::default()
    })
    .await
}

/// Sends each kind of the table in turn with `send`, waits for its copy (the
/// next of `copies`), and returns how the copies differ from what was sent.
async fn relay_each_kind(
    desk: &Desk,
    send: impl Fn(Value),
    copies: impl Fn(&FakeTelegram) -> Vec<FakeMessage>,
) -> Vec<String> {
    let table = kinds();
    let before = copies(&desk.fake).len();
    let mut problems = Vec::new();
    for (i, (kind, content)) in table.iter().enumerate() {
        send(content.clone());
        let copy = desk
            .fake
            .wait_until(PATIENCE, |f| copies(f).get(before + i).cloned())
            .await;
        let Some(copy) = copy else {
            // The copies of the kinds after it would be compared with the wrong ones.
            problems.push(format!(
                "{kind}: no copy arrived (the later kinds were not tried)"
            ));
            return problems;
        };
        problems.extend(differences(kind, content, &copy.json));
    }
    desk.settle().await;
    let extra = copies(&desk.fake).len() - before - table.len();
    if extra > 0 {
        problems.push(format!("{extra} message(s) more than the copies arrived"));
    }
    for (job, error) in desk.failed_jobs() {
        problems.push(format!("a job failed: {job}: {error}"));
    }
    problems
}

/// Each kind a user sends arrives in their topic as the same kind with the
/// same content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_a_user_sends_reaches_the_topic_unchanged() {
    let desk = unlimited_desk().await;
    let (alice, topic) = desk.open_dialog("Alice", "I will show you").await;
    let group = desk.group();
    // The bot's copies, without the user card and the service messages.
    let copies = |f: &FakeTelegram| -> Vec<FakeMessage> {
        f.topic_messages(group, topic)
            .into_iter()
            .filter(|m| m.from_is_bot && !m.is_service && !is_user_card(m))
            .collect()
    };
    let send = |content| {
        desk.fake.user_sends_content(desk.bot(), &alice, content);
    };
    let problems = relay_each_kind(&desk, send, copies).await;
    assert!(
        problems.is_empty(),
        "not relayed faithfully from the user to the topic:\n{}",
        problems.join("\n")
    );
}

/// Each kind an operator sends in the topic arrives in the user's chat as
/// the same kind with the same content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_an_operator_sends_reaches_the_user_unchanged() {
    let desk = unlimited_desk().await;
    let (alice, topic) = desk.open_dialog("Alice", "show me").await;
    let group = desk.group();
    let welcome = welcome();
    // The bot's messages in the user's chat, without the welcome.
    let copies = |f: &FakeTelegram| -> Vec<FakeMessage> {
        f.private_chat(desk.bot(), &alice)
            .into_iter()
            .filter(|m| m.from_is_bot && m.text.as_deref() != Some(welcome.as_str()))
            .collect()
    };
    let send = |content| {
        desk.fake
            .operator_sends_content(group, Some(topic), &desk.operator, content);
    };
    let problems = relay_each_kind(&desk, send, copies).await;
    assert!(
        problems.is_empty(),
        "not relayed faithfully from the topic to the user:\n{}",
        problems.join("\n")
    );
}
