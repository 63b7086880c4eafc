//! The fake driven over real HTTP, with reqwest (wire format, error shapes,
//! form bodies) and with frankenstein's `Bot` (its types decode our answers).

use std::time::{Duration, Instant};

use frankenstein::AsyncTelegramApi;
use frankenstein::client_reqwest::Bot;
use frankenstein::methods::{
    CloseForumTopicParams, CopyMessageParams, CreateForumTopicParams, GetUpdatesParams,
    SendMessageParams,
};
use frankenstein::types::{AllowedUpdate, ChatMember, ChatType, MessageEntityType};
use frankenstein::updates::UpdateContent;
use serde_json::{Value, json};

use super::*;

/// A fake with one bot, one user, one operator and a forum group.
struct Desk {
    fake: FakeTelegram,
    bot: FakeBot,
    user: FakeUser,
    operator: FakeUser,
    group: i64,
}

async fn desk() -> Desk {
    let fake = FakeTelegram::start().await.unwrap();
    let bot = fake.add_bot("shop_bot");
    let user = fake.add_user("Alice", Some("alice"));
    let operator = fake.add_user("Olga", None);
    let group = fake.add_forum_group("Support", &[&bot]);
    Desk {
        fake,
        bot,
        user,
        operator,
        group,
    }
}

fn method_url(fake: &FakeTelegram, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", fake.api_url())
}

/// POSTs JSON params; returns the HTTP status and the body.
async fn call(fake: &FakeTelegram, token: &str, method: &str, params: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(method_url(fake, token, method))
        .json(&params)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Calls a method that must succeed; returns its `result`.
impl Desk {
    /// A new topic named `name` in the desk's group, made by its bot.
    async fn topic(&self, name: &str) -> i64 {
        let created = ok(
            &self.fake,
            &self.bot,
            "createForumTopic",
            json!({ "chat_id": self.group, "name": name }),
        )
        .await;
        created["message_thread_id"].as_i64().unwrap()
    }
}

async fn ok(fake: &FakeTelegram, bot: &FakeBot, method: &str, params: Value) -> Value {
    let (status, body) = call(fake, &bot.token, method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    assert_eq!(body["ok"], true);
    body["result"].clone()
}

/// Calls a method that must fail with `code`; returns the description.
async fn fails(
    fake: &FakeTelegram,
    bot: &FakeBot,
    method: &str,
    params: Value,
    code: u16,
) -> String {
    let (status, body) = call(fake, &bot.token, method, params).await;
    assert_eq!(status, code, "{method}: {body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], code);
    body["description"].as_str().unwrap().to_owned()
}

/// Asserts that `method` refuses each of `cases` with 400 and its
/// description.
async fn refuses(fake: &FakeTelegram, bot: &FakeBot, method: &str, cases: &[(Value, &str)]) {
    for (params, expected) in cases {
        assert_eq!(
            fails(fake, bot, method, params.clone(), 400).await,
            *expected,
            "{method} {params}"
        );
    }
}

fn frankenstein_bot(fake: &FakeTelegram, bot: &FakeBot) -> Bot {
    Bot::new_url(format!("{}/bot{}", fake.api_url(), bot.token))
}

fn update_ids(updates: &Value) -> Vec<i64> {
    updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn long_poll_wakes_when_a_user_sends() {
    let d = desk().await;
    let poll = tokio::spawn({
        let (fake, bot) = (d.fake.clone(), d.bot.clone());
        async move {
            let started = Instant::now();
            let updates = ok(&fake, &bot, "getUpdates", json!({ "timeout": 10 })).await;
            (updates, started.elapsed())
        }
    });
    d.fake
        .wait_until(Duration::from_secs(2), |f| {
            (f.request_count("getUpdates") == 1).then_some(())
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !poll.is_finished(),
        "the poll must wait while nothing is queued"
    );

    let sent = d.fake.user_sends(&d.bot, &d.user, "hello");
    let (updates, elapsed) = poll.await.unwrap();
    assert!(elapsed < Duration::from_secs(2), "woke after {elapsed:?}");
    let message = &updates[0]["message"];
    assert_eq!(message["message_id"], sent);
    assert_eq!(message["text"], "hello");
    assert_eq!(
        message["chat"],
        json!({"id": d.user.id, "type": "private", "first_name": "Alice", "username": "alice"})
    );
    assert_eq!(message["from"]["id"], d.user.id);
    assert_eq!(message["from"]["is_bot"], false);
}

#[tokio::test]
async fn offsets_confirm_and_negative_offsets_keep_the_last_updates() {
    let d = desk().await;
    for text in ["one", "two", "three"] {
        d.fake.user_sends(&d.bot, &d.user, text);
    }
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({})).await;
    let ids = update_ids(&updates);
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    // Delivered but not confirmed: still pending, delivered again.
    assert_eq!(d.fake.pending_update_count(&d.bot), 3);
    let limited = ok(&d.fake, &d.bot, "getUpdates", json!({ "limit": 2 })).await;
    assert_eq!(update_ids(&limited), ids[..2]);

    let after_first = ok(
        &d.fake,
        &d.bot,
        "getUpdates",
        json!({ "offset": ids[0] + 1 }),
    )
    .await;
    assert_eq!(update_ids(&after_first), ids[1..]);
    assert_eq!(d.fake.pending_update_count(&d.bot), 2);
    let none = ok(
        &d.fake,
        &d.bot,
        "getUpdates",
        json!({ "offset": ids[2] + 1 }),
    )
    .await;
    assert_eq!(none, json!([]));
    assert_eq!(d.fake.pending_update_count(&d.bot), 0);

    for text in ["four", "five", "six"] {
        d.fake.user_sends(&d.bot, &d.user, text);
    }
    let last = ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": -1 })).await;
    assert_eq!(last[0]["message"]["text"], "six");
    assert_eq!(d.fake.pending_update_count(&d.bot), 1);
}

#[tokio::test]
async fn frankenstein_decodes_every_answer() {
    let d = desk().await;
    let api = frankenstein_bot(&d.fake, &d.bot);

    let me = api.get_me().await.unwrap().result;
    assert_eq!(u64::try_from(d.bot.id).ok(), Some(me.id));
    assert!(me.is_bot);
    assert_eq!(me.username.as_deref(), Some("shop_bot"));
    assert_eq!(me.can_join_groups, Some(true));

    d.fake.user_sends(&d.bot, &d.user, "/start");
    d.fake
        .user_sends_content(&d.bot, &d.user, photo_content(Some("look")));
    d.fake.user_blocks_bot(&d.bot, &d.user);
    d.fake.user_unblocks_bot(&d.bot, &d.user);
    let params = GetUpdatesParams::builder()
        .timeout(1)
        .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::MyChatMember])
        .build();
    let updates = api.get_updates(&params).await.unwrap().result;
    assert_eq!(updates.len(), 4);
    let UpdateContent::Message(start) = &updates[0].content else {
        panic!("{:?}", updates[0]);
    };
    assert_eq!(start.text.as_deref(), Some("/start"));
    assert_eq!(start.chat.type_field, ChatType::Private);
    let command = &start.entities.as_ref().unwrap()[0];
    assert_eq!(
        (command.type_field, command.offset, command.length),
        (MessageEntityType::BotCommand, 0, 6)
    );
    let UpdateContent::Message(photo) = &updates[1].content else {
        panic!("{:?}", updates[1]);
    };
    assert_eq!(photo.photo.as_ref().unwrap().len(), 2);
    assert_eq!(photo.caption.as_deref(), Some("look"));
    let UpdateContent::MyChatMember(blocked) = &updates[2].content else {
        panic!("{:?}", updates[2]);
    };
    assert!(matches!(blocked.old_chat_member, ChatMember::Member(_)));
    assert!(matches!(blocked.new_chat_member, ChatMember::Kicked(_)));
    assert!(
        matches!(&updates[3].content, UpdateContent::MyChatMember(u) if matches!(u.new_chat_member, ChatMember::Member(_)))
    );

    let reply = SendMessageParams::builder()
        .chat_id(d.user.id)
        .text("Hi Alice")
        .build();
    let sent = api.send_message(&reply).await.unwrap().result;
    assert_eq!(sent.message_id, 3);
    assert_eq!(sent.chat.id, d.user.id);
    assert!(sent.from.as_ref().unwrap().is_bot);

    let topic = api
        .create_forum_topic(
            &CreateForumTopicParams::builder()
                .chat_id(d.group)
                .name("Alice #1")
                .build(),
        )
        .await
        .unwrap()
        .result;
    assert_eq!(
        topic.message_thread_id, 2,
        "message 1 is the group's creation"
    );
    assert_eq!(topic.icon_color, 7_322_096);

    let copy = CopyMessageParams::builder()
        .chat_id(d.group)
        .message_thread_id(topic.message_thread_id)
        .from_chat_id(d.user.id)
        .message_id(photo.message_id)
        .build();
    let copied = api.copy_message(&copy).await.unwrap().result;
    assert_eq!(copied.message_id, 3);

    let in_topic = d.fake.topic_messages(d.group, 2);
    assert_eq!(in_topic.len(), 2);
    assert!(in_topic[0].is_service);
    assert_eq!(in_topic[0].json["forum_topic_created"]["name"], "Alice #1");
    let copy = &in_topic[1];
    assert_eq!(
        (copy.message_id, copy.thread_id, copy.from_id),
        (3, Some(2), d.bot.id)
    );
    assert_eq!(copy.caption.as_deref(), Some("look"));
    assert_eq!(
        copy.json["photo"],
        d.fake.private_chat(&d.bot, &d.user)[1].json["photo"]
    );
    assert_eq!(copy.json["is_topic_message"], true);
    assert_eq!(copy.json["reply_to_message"]["message_id"], 2);

    // An operator's answer in the topic, decoded as an Update.
    let answer = d
        .fake
        .operator_sends(d.group, Some(2), &d.operator, "We are on it");
    let updates = api
        .get_updates(
            &GetUpdatesParams::builder()
                .offset(i64::from(updates[3].update_id) + 1)
                .build(),
        )
        .await
        .unwrap()
        .result;
    let UpdateContent::Message(message) = &updates[0].content else {
        panic!("{:?}", updates[0]);
    };
    assert_eq!(i64::from(message.message_id), answer);
    assert_eq!(message.message_thread_id, Some(2));
    assert_eq!(message.is_topic_message, Some(true));
    assert_eq!(message.chat.is_forum, Some(true));

    let closed = api
        .close_forum_topic(
            &CloseForumTopicParams::builder()
                .chat_id(d.group)
                .message_thread_id(2)
                .build(),
        )
        .await
        .unwrap()
        .result;
    assert!(closed);
    assert!(d.fake.topics(d.group)[0].closed);
}

#[tokio::test]
async fn error_answers_have_telegrams_shape() {
    let d = desk().await;
    let (status, body) = call(&d.fake, "123:nope", "getMe", json!({})).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        )
    );
    assert_eq!(
        fails(&d.fake, &d.bot, "sendRocket", json!({}), 404).await,
        "Not Found"
    );
    let wrong_path = reqwest::get(format!("{}/nothing", d.fake.api_url()))
        .await
        .unwrap();
    assert_eq!(wrong_path.status().as_u16(), 404);

    // Before the user writes, the bot cannot.
    let hello = json!({ "chat_id": d.user.id, "text": "hi" });
    assert_eq!(
        fails(&d.fake, &d.bot, "sendMessage", hello.clone(), 403).await,
        "Forbidden: bot can't initiate conversation with a user"
    );
    let first = d.fake.user_sends(&d.bot, &d.user, "help");
    ok(&d.fake, &d.bot, "sendMessage", hello.clone()).await;

    d.fake.user_blocks_bot(&d.bot, &d.user);
    assert_eq!(
        fails(&d.fake, &d.bot, "sendMessage", hello.clone(), 403).await,
        "Forbidden: bot was blocked by the user"
    );
    let copy_to_user =
        json!({ "chat_id": d.user.id, "from_chat_id": d.user.id, "message_id": first });
    assert_eq!(
        fails(&d.fake, &d.bot, "copyMessage", copy_to_user, 403).await,
        "Forbidden: bot was blocked by the user"
    );

    let topic = ok(
        &d.fake,
        &d.bot,
        "createForumTopic",
        json!({ "chat_id": d.group, "name": "Alice" }),
    )
    .await;
    let thread = topic["message_thread_id"].as_i64().unwrap();
    d.fake.delete_topic(d.group, thread);
    assert!(d.fake.topics(d.group)[0].deleted);
    let into_topic = json!({ "chat_id": d.group, "message_thread_id": thread, "text": "answer" });
    assert_eq!(
        fails(&d.fake, &d.bot, "sendMessage", into_topic, 400).await,
        "Bad Request: message thread not found"
    );
    let copy_into_topic = json!({ "chat_id": d.group, "message_thread_id": 99, "from_chat_id": d.user.id, "message_id": first });
    assert_eq!(
        fails(&d.fake, &d.bot, "copyMessage", copy_into_topic, 400).await,
        "Bad Request: message thread not found"
    );

    let cases = [
        (
            "sendMessage",
            json!({ "text": "x" }),
            "Bad Request: chat_id is empty",
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "  " }),
            "Bad Request: message text is empty",
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x".repeat(4097) }),
            "Bad Request: message is too long",
        ),
        (
            "sendMessage",
            json!({ "chat_id": -1_009_999, "text": "x" }),
            "Bad Request: chat not found",
        ),
        (
            "sendMessage",
            json!({ "chat_id": "@nobody", "text": "x" }),
            "Bad Request: chat not found",
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "message_thread_id": "two" }),
            "Bad Request: invalid message_thread_id specified",
        ),
        (
            "copyMessage",
            json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_id": 77 }),
            "Bad Request: message to copy not found",
        ),
        (
            "copyMessage",
            json!({ "chat_id": d.group, "from_chat_id": d.group, "message_id": 1 }),
            "Bad Request: message can't be copied",
        ),
        (
            "closeForumTopic",
            json!({ "chat_id": d.group, "message_thread_id": 42 }),
            "Bad Request: message thread not found",
        ),
    ];
    for (method, params, expected) in cases {
        assert_eq!(
            fails(&d.fake, &d.bot, method, params.clone(), 400).await,
            expected,
            "{method} {params}"
        );
    }

    // Malformed bodies are 400s, never a crash.
    for (content_type, body) in [
        ("application/json", "{\"chat_id\":"),
        ("application/json", "42"),
    ] {
        let response = reqwest::Client::new()
            .post(method_url(&d.fake, &d.bot.token, "sendMessage"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .starts_with("Bad Request: "),
            "{body}"
        );
    }

    // frankenstein surfaces the same errors as Error::Api.
    let api = frankenstein_bot(&d.fake, &d.bot);
    let err = api
        .send_message(
            &SendMessageParams::builder()
                .chat_id(d.user.id)
                .text("x")
                .build(),
        )
        .await
        .unwrap_err();
    let frankenstein::Error::Api(err) = err else {
        panic!("{err}");
    };
    assert_eq!(
        (err.error_code, err.description.as_str()),
        (403, "Forbidden: bot was blocked by the user")
    );

    // Protected content cannot be copied.
    let protected = d.fake.user_sends_content(
        &d.bot,
        &d.user,
        json!({ "text": "secret", "has_protected_content": true }),
    );
    let copy_protected =
        json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_id": protected });
    assert_eq!(
        fails(&d.fake, &d.bot, "copyMessage", copy_protected, 400).await,
        "Bad Request: message can't be copied"
    );
}

#[tokio::test]
async fn allowed_updates_filter_is_remembered_and_raw_updates_bypass_it() {
    let d = desk().await;
    // Default filter: my_chat_member is delivered, chat_member would not be.
    d.fake.user_blocks_bot(&d.bot, &d.user);
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({})).await;
    assert!(updates[0].get("my_chat_member").is_some());
    let next = updates[0]["update_id"].as_i64().unwrap() + 1;

    let only_messages = json!({ "offset": next, "allowed_updates": ["message"] });
    assert_eq!(
        ok(&d.fake, &d.bot, "getUpdates", only_messages).await,
        json!([])
    );
    // Writing to a blocked bot unblocks it (my_chat_member, filtered out) and sends.
    d.fake.user_sends(&d.bot, &d.user, "back again");
    // No allowed_updates: the remembered filter still applies.
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": next })).await;
    assert_eq!(updates.as_array().unwrap().len(), 1);
    assert_eq!(updates[0]["message"]["text"], "back again");

    let raw = d
        .fake
        .push_raw_update(&d.bot, json!({ "future_kind": { "x": 1 } }));
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": raw })).await;
    assert_eq!(
        updates,
        json!([{ "update_id": raw, "future_kind": { "x": 1 } }])
    );

    // An empty list means the default set again.
    let confirm = json!({ "offset": raw + 1, "allowed_updates": [] });
    ok(&d.fake, &d.bot, "getUpdates", confirm).await;
    d.fake.user_blocks_bot(&d.bot, &d.user);
    assert_eq!(d.fake.pending_update_count(&d.bot), 1);
}

#[tokio::test]
async fn a_second_get_updates_ends_the_waiting_one_with_409() {
    let d = desk().await;
    let first = tokio::spawn({
        let (fake, bot) = (d.fake.clone(), d.bot.clone());
        async move { call(&fake, &bot.token, "getUpdates", json!({ "timeout": 10 })).await }
    });
    d.fake
        .wait_until(Duration::from_secs(2), |f| {
            (f.request_count("getUpdates") == 1).then_some(())
        })
        .await
        .unwrap();
    let second = ok(&d.fake, &d.bot, "getUpdates", json!({ "timeout": 0 })).await;
    assert_eq!(second, json!([]));
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        body["description"],
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    );
}

#[tokio::test]
async fn a_webhook_blocks_get_updates_until_deleted() {
    let d = desk().await;
    ok(
        &d.fake,
        &d.bot,
        "setWebhook",
        json!({ "url": "https://example.org/hook" }),
    )
    .await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    let info = ok(&d.fake, &d.bot, "getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], "https://example.org/hook");
    assert_eq!(info["pending_update_count"], 1);
    let conflict = fails(&d.fake, &d.bot, "getUpdates", json!({}), 409).await;
    assert!(conflict.starts_with("Conflict: can't use getUpdates method while webhook is active"));
    ok(&d.fake, &d.bot, "deleteWebhook", json!({})).await;
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({})).await;
    assert_eq!(updates[0]["message"]["text"], "hi");
    assert_eq!(
        ok(&d.fake, &d.bot, "getWebhookInfo", json!({})).await["url"],
        ""
    );
}

#[tokio::test]
async fn error_faults_answer_as_injected_then_run_out() {
    let d = desk().await;
    let other = d.fake.add_bot("other_bot");
    d.fake
        .inject(FaultRule::on("getMe", Fault::retry_after(3)).for_bot(&d.bot));
    d.fake
        .inject(FaultRule::on("GETME", Fault::server_error()).times(2));

    // The other bot skips the first rule and consumes the second.
    assert_eq!(
        fails(&d.fake, &other, "getMe", json!({}), 502).await,
        "Bad Gateway"
    );
    let (status, body) = call(&d.fake, &d.bot.token, "getMe", json!({})).await;
    assert_eq!(status, 429);
    assert_eq!(body["parameters"], json!({ "retry_after": 3 }));
    assert_eq!(body["description"], "Too Many Requests: retry after 3");
    assert_eq!(
        fails(&d.fake, &d.bot, "getMe", json!({}), 502).await,
        "Bad Gateway"
    );
    ok(&d.fake, &d.bot, "getMe", json!({})).await;

    // frankenstein reads parameters.retry_after.
    d.fake.inject(FaultRule::any(Fault::retry_after(7)));
    let frankenstein::Error::Api(err) = frankenstein_bot(&d.fake, &d.bot)
        .get_me()
        .await
        .unwrap_err()
    else {
        panic!("expected an API error");
    };
    assert_eq!(err.parameters.and_then(|p| p.retry_after), Some(7));

    d.fake
        .inject(FaultRule::any(Fault::migrated_to(-100_777)).always());
    let (_, body) = call(&d.fake, &d.bot.token, "sendMessage", json!({})).await;
    assert_eq!(body["parameters"]["migrate_to_chat_id"], -100_777);
    d.fake.clear_faults();
    ok(&d.fake, &d.bot, "getMe", json!({})).await;
    // Every request was recorded, faulted or not.
    assert_eq!(d.fake.request_count("getme"), 6);
    assert_eq!(d.fake.requests()[0].bot_id, Some(other.id));
}

#[tokio::test]
async fn a_hang_is_recorded_but_never_answered_or_applied() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    d.fake.inject(FaultRule::on("sendMessage", Fault::Hang));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client
        .post(method_url(&d.fake, &d.bot.token, "sendMessage"))
        .json(&json!({ "chat_id": d.user.id, "text": "lost" }))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let recorded = d.fake.requests().pop().unwrap();
    assert_eq!(recorded.method, "sendMessage");
    assert_eq!(recorded.params["text"], "lost");
    assert_eq!(d.fake.private_chat(&d.bot, &d.user).len(), 1);
}

#[tokio::test]
async fn a_delay_answers_late_but_normally() {
    let d = desk().await;
    d.fake.inject(FaultRule::on(
        "getMe",
        Fault::Delay(Duration::from_millis(150)),
    ));
    let started = Instant::now();
    let me = ok(&d.fake, &d.bot, "getMe", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(me["username"], "shop_bot");
}

#[tokio::test]
async fn a_disconnect_drops_the_answer_with_or_without_the_effect() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    let send = |text: &str| {
        reqwest::Client::new()
            .post(method_url(&d.fake, &d.bot.token, "sendMessage"))
            .json(&json!({ "chat_id": d.user.id, "text": text }))
            .send()
    };
    d.fake.inject(FaultRule::on(
        "sendMessage",
        Fault::Disconnect { after_apply: false },
    ));
    let outcome = match send("not applied").await {
        Ok(response) => response.text().await.map(|_| ()),
        Err(err) => Err(err),
    };
    assert!(outcome.is_err(), "the client must see a broken connection");
    assert_eq!(d.fake.private_chat(&d.bot, &d.user).len(), 1);

    d.fake.inject(FaultRule::on(
        "sendMessage",
        Fault::Disconnect { after_apply: true },
    ));
    let outcome = match send("applied").await {
        Ok(response) => response.text().await.map(|_| ()),
        Err(err) => Err(err),
    };
    assert!(outcome.is_err(), "the client must see a broken connection");
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(chat.last().unwrap().text.as_deref(), Some("applied"));
    assert_eq!(
        d.fake.request_count("sendMessage"),
        2,
        "no silent client retries"
    );
}

#[tokio::test]
async fn form_and_query_parameters_work_like_json() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    let client = reqwest::Client::new();
    let response = client
        .post(method_url(&d.fake, &d.bot.token, "sendmessage"))
        .form(&[
            ("chat_id", d.user.id.to_string()),
            ("text", "007".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"]["text"], "007");
    assert_eq!(d.fake.requests().last().unwrap().method, "sendMessage");

    let response = client
        .post(method_url(&d.fake, &d.bot.token, "getUpdates"))
        .form(&[
            ("offset", "0"),
            ("allowed_updates", r#"["my_chat_member"]"#),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"].as_array().unwrap().len(), 1, "{body}");
    let recorded = d.fake.requests().pop().unwrap();
    assert_eq!(
        recorded.params,
        json!({ "offset": 0, "allowed_updates": ["my_chat_member"] })
    );
    d.fake.user_sends(&d.bot, &d.user, "filtered out");
    assert_eq!(d.fake.pending_update_count(&d.bot), 1);

    let response = client
        .get(method_url(&d.fake, &d.bot.token, "sendMessage"))
        .query(&[
            ("chat_id", d.user.id.to_string()),
            ("text", "via query".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        d.fake
            .private_chat(&d.bot, &d.user)
            .last()
            .unwrap()
            .text
            .as_deref(),
        Some("via query")
    );
}

#[tokio::test]
async fn topics_are_created_closed_reopened_and_edited() {
    let d = desk().await;
    let create = |name: &str| json!({ "chat_id": d.group, "name": name, "icon_color": 16_766_590 });
    let first = ok(&d.fake, &d.bot, "createForumTopic", create("Alice")).await;
    let second = ok(&d.fake, &d.bot, "createForumTopic", create("Bob")).await;
    assert_eq!(
        first,
        json!({ "message_thread_id": 2, "name": "Alice", "icon_color": 16_766_590 })
    );
    assert_eq!(second["message_thread_id"], 3);
    let created = &d.fake.topic_messages(d.group, 3)[0];
    assert_eq!(
        (created.message_id, created.thread_id, created.is_service),
        (3, Some(3), true)
    );

    let thread = json!({ "chat_id": d.group, "message_thread_id": 2 });
    assert_eq!(
        ok(&d.fake, &d.bot, "closeForumTopic", thread.clone()).await,
        true
    );
    assert_eq!(
        fails(&d.fake, &d.bot, "closeForumTopic", thread.clone(), 400).await,
        "Bad Request: TOPIC_NOT_MODIFIED"
    );
    // Admin bots may still post in a closed topic.
    ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.group, "message_thread_id": 2, "text": "noted" }),
    )
    .await;
    ok(&d.fake, &d.bot, "reopenForumTopic", thread.clone()).await;
    assert_eq!(
        fails(&d.fake, &d.bot, "reopenForumTopic", thread.clone(), 400).await,
        "Bad Request: TOPIC_NOT_MODIFIED"
    );

    let rename = json!({ "chat_id": d.group, "message_thread_id": 2, "name": "Alice" });
    assert_eq!(
        fails(&d.fake, &d.bot, "editForumTopic", rename, 400).await,
        "Bad Request: TOPIC_NOT_MODIFIED"
    );
    let rename = json!({ "chat_id": d.group, "message_thread_id": 2, "name": "✅ Alice" });
    ok(&d.fake, &d.bot, "editForumTopic", rename).await;
    let kinds: Vec<String> = d
        .fake
        .topic_messages(d.group, 2)
        .iter()
        .map(|m| {
            let json = m.json.as_object().unwrap();
            let kind = [
                "forum_topic_created",
                "forum_topic_closed",
                "forum_topic_reopened",
                "forum_topic_edited",
                "text",
            ];
            kind.iter()
                .find(|k| json.contains_key(**k))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "forum_topic_created",
            "forum_topic_closed",
            "text",
            "forum_topic_reopened",
            "forum_topic_edited"
        ]
    );
    assert_eq!(
        d.fake.topic_messages(d.group, 2)[4].json["forum_topic_edited"],
        json!({ "name": "✅ Alice" })
    );
    let topics = d.fake.topics(d.group);
    assert_eq!(
        topics[0],
        FakeTopic {
            thread_id: 2,
            name: "✅ Alice".into(),
            icon_color: 16_766_590,
            closed: false,
            deleted: false
        }
    );
    // Bots get no updates for what bots did.
    assert_eq!(d.fake.pending_update_count(&d.bot), 0);

    // An operator closing a topic is news for every bot of the group.
    d.fake.operator_closes_topic(d.group, 3, &d.operator);
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({})).await;
    assert_eq!(updates[0]["message"]["forum_topic_closed"], json!({}));
    assert_eq!(updates[0]["message"]["message_thread_id"], 3);
    assert!(d.fake.topics(d.group)[1].closed);

    let plain = d.fake.add_plain_group("Not a forum", &[&d.bot]);
    let name = json!({ "chat_id": plain, "name": "x" });
    assert_eq!(
        fails(&d.fake, &d.bot, "createForumTopic", name, 400).await,
        "Bad Request: the chat is not a forum"
    );
    let member_bot = d.fake.add_bot("member_bot");
    d.fake.add_bot_to_group(d.group, &member_bot, false);
    assert_eq!(
        fails(&d.fake, &member_bot, "createForumTopic", create("x"), 400).await,
        "Bad Request: not enough rights to create a topic"
    );
    let empty = json!({ "chat_id": d.group, "name": "" });
    assert_eq!(
        fails(&d.fake, &d.bot, "createForumTopic", empty, 400).await,
        "Bad Request: TOPIC_NAME_INVALID"
    );
    // Names are measured in UTF-16 code units: an emoji is two.
    let emoji = json!({ "chat_id": d.group, "name": "😀".repeat(65) });
    assert_eq!(
        fails(&d.fake, &d.bot, "createForumTopic", emoji, 400).await,
        "Bad Request: TOPIC_NAME_INVALID"
    );
    ok(
        &d.fake,
        &d.bot,
        "createForumTopic",
        create(&"😀".repeat(64)),
    )
    .await;
}

#[tokio::test]
async fn chats_are_per_bot_and_groups_are_shared() {
    let d = desk().await;
    let second = d.fake.add_bot("second_bot");
    d.fake.add_bot_to_group(d.group, &second, true);
    assert_eq!(d.fake.user_sends(&d.bot, &d.user, "to first"), 1);
    assert_eq!(d.fake.user_sends(&second, &d.user, "to second"), 1);
    assert_eq!(d.fake.user_sends(&second, &d.user, "again"), 2);
    assert_eq!(d.fake.private_chat(&d.bot, &d.user).len(), 1);
    assert_eq!(d.fake.private_chat(&second, &d.user).len(), 2);
    assert_eq!(d.fake.pending_update_count(&d.bot), 1);
    assert_eq!(d.fake.pending_update_count(&second), 2);

    // A bot's message in the group reaches no bot; an operator's reaches both.
    ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.group, "text": "from a bot" }),
    )
    .await;
    let id = d.fake.operator_sends(d.group, None, &d.operator, "/new 42");
    assert_eq!(d.fake.pending_update_count(&d.bot), 2);
    assert_eq!(d.fake.pending_update_count(&second), 3);
    let general = d.fake.general_messages(d.group);
    assert_eq!(
        general.iter().map(|m| m.message_id).collect::<Vec<_>>(),
        [1, 2, id]
    );
    let command = &general[2].json;
    assert_eq!(
        command["entities"],
        json!([{ "type": "bot_command", "offset": 0, "length": 4 }])
    );
    assert!(command.get("message_thread_id").is_none());
    assert!(command.get("is_topic_message").is_none());

    // An operator's reply points at the message replied to.
    let reply = d
        .fake
        .operator_replies(d.group, None, &d.operator, 2, "thanks");
    assert_eq!(
        d.fake.general_messages(d.group)[3].json["reply_to_message"]["message_id"],
        2
    );
    assert_eq!(reply, 4);
}

#[tokio::test]
async fn html_parse_mode_becomes_entities_and_bad_markup_is_rejected() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    let html =
        json!({ "chat_id": d.user.id, "text": "<b>Hi</b> &lt;Alice&gt;", "parse_mode": "HTML" });
    let sent = ok(&d.fake, &d.bot, "sendMessage", html).await;
    assert_eq!(sent["text"], "Hi <Alice>");
    assert_eq!(
        sent["entities"],
        json!([{ "type": "bold", "offset": 0, "length": 2 }])
    );
    let bad = json!({ "chat_id": d.user.id, "text": "Hi <Alice>", "parse_mode": "HTML" });
    let err = fails(&d.fake, &d.bot, "sendMessage", bad, 400).await;
    assert!(
        err.starts_with("Bad Request: can't parse entities: "),
        "{err}"
    );
}

#[tokio::test]
async fn copies_carry_content_and_captions_can_change() {
    let d = desk().await;
    let photo = d
        .fake
        .user_sends_content(&d.bot, &d.user, photo_content(Some("old")));
    let topic = ok(
        &d.fake,
        &d.bot,
        "createForumTopic",
        json!({ "chat_id": d.group, "name": "Alice" }),
    )
    .await;
    let copy = json!({
        "chat_id": d.group, "message_thread_id": topic["message_thread_id"],
        "from_chat_id": d.user.id, "message_id": photo, "caption": "<i>new</i>", "parse_mode": "HTML",
    });
    ok(&d.fake, &d.bot, "copyMessage", copy).await;
    let copied = d.fake.topic_messages(d.group, 2).pop().unwrap();
    assert_eq!(copied.caption.as_deref(), Some("new"));
    assert_eq!(
        copied.json["caption_entities"],
        json!([{ "type": "italic", "offset": 0, "length": 3 }])
    );
    assert!(copied.json.get("forward_origin").is_none());
    assert_eq!(copied.json["from"]["id"], d.bot.id);

    // Operator answer copied back to the user, in one copyMessages call.
    let answer = d
        .fake
        .operator_sends(d.group, Some(2), &d.operator, "here you go");
    let photo_answer =
        d.fake
            .operator_sends_content(d.group, Some(2), &d.operator, photo_content(None));
    let copies = ok(
        &d.fake,
        &d.bot,
        "copyMessages",
        json!({ "chat_id": d.user.id, "from_chat_id": d.group, "message_ids": [answer, photo_answer] }),
    )
    .await;
    assert_eq!(copies, json!([{ "message_id": 2 }, { "message_id": 3 }]));
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(chat[1].text.as_deref(), Some("here you go"));
    assert!(chat[1].from_is_bot);
    assert!(chat[1].json.get("message_thread_id").is_none());
    assert!(chat[2].json.get("photo").is_some());
}

#[tokio::test]
async fn wait_until_sees_changes_and_times_out() {
    let d = desk().await;
    let waiter = tokio::spawn({
        let fake = d.fake.clone();
        async move {
            fake.wait_until(Duration::from_secs(5), |f| {
                f.requests()
                    .iter()
                    .find(|r| r.method == "getMe")
                    .map(|r| r.bot_id)
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    ok(&d.fake, &d.bot, "getMe", json!({})).await;
    assert_eq!(waiter.await.unwrap(), Some(Some(d.bot.id)));

    let started = Instant::now();
    let never = d
        .fake
        .wait_until(Duration::from_millis(50), |f| {
            (f.request_count("sendMessage") > 0).then_some(())
        })
        .await;
    assert_eq!(never, None);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn shutdown_ends_long_polls_and_stops_serving() {
    let d = desk().await;
    let poll = tokio::spawn({
        let (fake, bot) = (d.fake.clone(), d.bot.clone());
        async move { call(&fake, &bot.token, "getUpdates", json!({ "timeout": 30 })).await }
    });
    d.fake
        .wait_until(Duration::from_secs(2), |f| {
            (f.request_count("getUpdates") == 1).then_some(())
        })
        .await
        .unwrap();
    d.fake.shutdown();
    let (status, body) = tokio::time::timeout(Duration::from_secs(2), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status, body["result"].clone()), (200, json!([])));
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let attempt = reqwest::Client::new()
                .post(method_url(&d.fake, &d.bot.token, "getMe"))
                .send()
                .await;
            if attempt.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the server must stop listening");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let fake = FakeTelegram::start().await.unwrap();
    let bot = fake.add_bot("b");
    let url = method_url(&fake, &bot.token, "getMe");
    let clone = fake.clone();
    drop(fake);
    assert!(
        reqwest::Client::new().post(&url).send().await.is_ok(),
        "a clone keeps it alive"
    );
    drop(clone);
    let stopped = tokio::time::timeout(Duration::from_secs(2), async {
        while reqwest::Client::new().post(&url).send().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(stopped.is_ok());
}

#[tokio::test]
async fn tokens_and_ids_look_like_telegrams() {
    let d = desk().await;
    let (id, secret) = d.bot.token.split_once(':').unwrap();
    assert_eq!(id, d.bot.id.to_string());
    assert_eq!(secret.len(), 35);
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    assert_eq!(d.group, -1_001_000_000_001);
    assert!(d.fake.api_url().starts_with("http://127.0.0.1:"));
    assert!(!d.fake.api_url().ends_with('/'));
    let chat = ok(&d.fake, &d.bot, "getChat", json!({ "chat_id": d.group })).await;
    let decoded: frankenstein::types::ChatFullInfo = serde_json::from_value(chat).unwrap();
    assert_eq!(decoded.is_forum, Some(true));
    let member = ok(
        &d.fake,
        &d.bot,
        "getChatMember",
        json!({ "chat_id": d.group, "user_id": d.bot.id }),
    )
    .await;
    let decoded: ChatMember = serde_json::from_value(member).unwrap();
    let ChatMember::Administrator(admin) = decoded else {
        panic!("{decoded:?}");
    };
    assert_eq!(admin.can_manage_topics, Some(true));
}

#[tokio::test]
async fn odd_inputs_get_400s_never_a_crash() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    // A pending update answers at once, whatever the timeout.
    let huge = json!({ "offset": i64::MIN, "limit": -5, "timeout": i64::MAX });
    assert_eq!(
        ok(&d.fake, &d.bot, "getUpdates", huge)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let cases = [
        ("getUpdates", json!({ "timeout": 1e300 })),
        ("getUpdates", json!({ "allowed_updates": "message" })),
        ("sendMessage", json!({ "chat_id": { "a": 1 }, "text": "x" })),
        ("sendMessage", json!({ "chat_id": d.group, "text": ["x"] })),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "message_thread_id": i64::MIN }),
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "reply_parameters": "{" }),
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "reply_parameters": { "message_id": 999 } }),
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "entities": 5 }),
        ),
        (
            "sendMessage",
            json!({ "chat_id": d.group, "text": "x", "parse_mode": "Klingon" }),
        ),
        (
            "copyMessage",
            json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_id": i64::MIN }),
        ),
        (
            "copyMessages",
            json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_ids": [3, 2] }),
        ),
        (
            "copyMessages",
            json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_ids": [] }),
        ),
        (
            "createForumTopic",
            json!({ "chat_id": d.group, "name": "x", "icon_color": "red" }),
        ),
        (
            "createForumTopic",
            json!({ "chat_id": d.group, "name": "x".repeat(129) }),
        ),
        (
            "editForumTopic",
            json!({ "chat_id": d.group, "message_thread_id": 1, "name": "y" }),
        ),
        ("getChatMember", json!({ "chat_id": d.group })),
    ];
    for (method, params) in cases {
        fails(&d.fake, &d.bot, method, params, 400).await;
    }
    // Replies inside the same chat work, and are optional when allowed.
    let reply =
        json!({ "chat_id": d.user.id, "text": "re", "reply_parameters": { "message_id": 1 } });
    assert_eq!(
        ok(&d.fake, &d.bot, "sendMessage", reply).await["reply_to_message"]["text"],
        "hi"
    );
    let lenient = json!({ "chat_id": d.user.id, "text": "re", "reply_to_message_id": 99, "allow_sending_without_reply": true });
    assert!(
        ok(&d.fake, &d.bot, "sendMessage", lenient)
            .await
            .get("reply_to_message")
            .is_none()
    );
}

// ---- rate limits, chaos faults, group migration ------------------------------

/// Like [`call`], on a client that keeps its connection (for many quick calls).
async fn call_on(
    client: &reqwest::Client,
    fake: &FakeTelegram,
    bot: &FakeBot,
    method: &str,
    params: &Value,
) -> (u16, Value) {
    let response = client
        .post(method_url(fake, &bot.token, method))
        .json(params)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn too_many_requests(secs: u32) -> Value {
    json!({
        "ok": false,
        "error_code": 429,
        "description": format!("Too Many Requests: retry after {secs}"),
        "parameters": { "retry_after": secs },
    })
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    let client = reqwest::Client::new();
    for i in 0..200 {
        let chat = if i % 2 == 0 { d.user.id } else { d.group };
        let params = json!({ "chat_id": chat, "text": format!("burst {i}") });
        let (status, body) = call_on(&client, &d.fake, &d.bot, "sendMessage", &params).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(d.fake.private_chat(&d.bot, &d.user).len(), 101);
    let stats = d.fake.stats();
    assert_eq!(stats.throttled, 0);
    assert_eq!(stats.sends.len(), 200);
    assert_eq!(stats.accepted_sends(d.group).len(), 100);
    assert!(stats.sends.iter().all(|s| s.bot_id == d.bot.id));
    d.fake.clear_stats();
    assert_eq!(d.fake.stats(), FakeStats::default());
}

#[tokio::test]
async fn a_bot_over_its_budget_gets_429_until_the_window_passes() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "hi");
    d.fake.set_limits(Limits {
        per_bot: Some(Rate::new(5, Duration::from_secs(1))),
        ..Limits::off()
    });
    let client = reqwest::Client::new();
    let to_group = |text: &str| json!({ "chat_id": d.group, "text": text });
    for i in 0..5 {
        let (status, _) = call_on(
            &client,
            &d.fake,
            &d.bot,
            "sendMessage",
            &to_group(&i.to_string()),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, body) = call_on(&client, &d.fake, &d.bot, "sendMessage", &to_group("late")).await;
    assert_eq!((status, body), (429, too_many_requests(1)));
    // The budget is the bot's, over all its chats; refused sends are not applied.
    let to_user = json!({ "chat_id": d.user.id, "text": "late too" });
    let (status, _) = call_on(&client, &d.fake, &d.bot, "sendMessage", &to_user).await;
    assert_eq!(status, 429);
    assert_eq!(d.fake.general_messages(d.group).len(), 1 + 5);
    assert_eq!(d.fake.private_chat(&d.bot, &d.user).len(), 1);
    // Calls that post nothing are not limited.
    ok(&d.fake, &d.bot, "getMe", json!({})).await;

    let first_accepted = d.fake.stats().sends[0].at;
    tokio::time::sleep_until(first_accepted + Duration::from_secs(1)).await;
    ok(&d.fake, &d.bot, "sendMessage", to_group("on time")).await;
    let stats = d.fake.stats();
    assert_eq!((stats.throttled, stats.throttled_bot), (2, 2));
    assert_eq!(stats.bot_max_in_window(d.bot.id, Duration::from_secs(1)), 5);

    // retry_after is the wait in whole seconds, rounded up; frankenstein reads it.
    d.fake.set_limits(Limits {
        per_bot: Some(Rate::new(2, Duration::from_secs(10))),
        ..Limits::off()
    });
    for text in ["a", "b"] {
        ok(&d.fake, &d.bot, "sendMessage", to_group(text)).await;
    }
    let frankenstein::Error::Api(err) = frankenstein_bot(&d.fake, &d.bot)
        .send_message(
            &SendMessageParams::builder()
                .chat_id(d.group)
                .text("c")
                .build(),
        )
        .await
        .unwrap_err()
    else {
        panic!("expected an API error");
    };
    assert_eq!(err.error_code, 429);
    assert_eq!(err.parameters.and_then(|p| p.retry_after), Some(10));
}

#[tokio::test]
async fn chats_and_groups_have_their_own_budgets_and_topics_share_one() {
    let d = desk().await;
    let bob = d.fake.add_user("Bob", None);
    let other_group = d.fake.add_forum_group("Support 2", &[&d.bot]);
    d.fake.user_sends(&d.bot, &d.user, "hi");
    d.fake.user_sends(&d.bot, &bob, "hello");
    let minute = Duration::from_secs(60);
    d.fake.set_limits(Limits {
        per_bot: None,
        per_private_chat: Some(Rate::new(2, minute)),
        per_group: Some(Rate::new(3, minute)),
    });

    // The group: a topic, a message in it and one in General use its 3 sends.
    let topic = d.topic("Alice").await;
    let in_topic = json!({ "chat_id": d.group, "message_thread_id": topic, "text": "x" });
    ok(&d.fake, &d.bot, "sendMessage", in_topic.clone()).await;
    ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.group, "text": "y" }),
    )
    .await;
    let close = json!({ "chat_id": d.group, "message_thread_id": topic });
    let (status, body) = call(&d.fake, &d.bot.token, "closeForumTopic", close).await;
    assert_eq!((status, body), (429, too_many_requests(60)));
    assert!(!d.fake.topics(d.group)[0].closed);
    fails(&d.fake, &d.bot, "sendMessage", in_topic, 429).await;

    // Another group has its own budget; a failed or faulted send uses none.
    let into_missing = json!({ "chat_id": other_group, "message_thread_id": 99, "text": "x" });
    fails(&d.fake, &d.bot, "sendMessage", into_missing, 400).await;
    d.fake
        .inject(FaultRule::on("sendMessage", Fault::server_error()));
    let to_other = json!({ "chat_id": other_group, "text": "z" });
    fails(&d.fake, &d.bot, "sendMessage", to_other.clone(), 502).await;
    for _ in 0..3 {
        ok(&d.fake, &d.bot, "sendMessage", to_other.clone()).await;
    }
    fails(&d.fake, &d.bot, "sendMessage", to_other, 429).await;

    // Private chats: 2 each, one chat's budget is not another's.
    let to = |user: &FakeUser| json!({ "chat_id": user.id, "text": "answer" });
    for _ in 0..2 {
        ok(&d.fake, &d.bot, "sendMessage", to(&d.user)).await;
    }
    fails(&d.fake, &d.bot, "sendMessage", to(&d.user), 429).await;
    // copyMessage counts like sendMessage.
    let copy = json!({ "chat_id": bob.id, "from_chat_id": bob.id, "message_id": 1 });
    ok(&d.fake, &d.bot, "copyMessage", copy).await;
    ok(&d.fake, &d.bot, "sendMessage", to(&bob)).await;
    fails(&d.fake, &d.bot, "sendMessage", to(&bob), 429).await;

    let stats = d.fake.stats();
    assert_eq!(
        (
            stats.throttled,
            stats.throttled_group,
            stats.throttled_private_chat,
            stats.throttled_bot
        ),
        (5, 3, 2, 0)
    );
    assert_eq!(stats.max_in_window(d.group, minute), 3);
    assert_eq!(stats.max_in_window(other_group, minute), 3);
    assert_eq!(stats.max_in_window(d.user.id, minute), 2);
    assert_eq!(stats.max_in_window(bob.id, minute), 2);
    let methods: Vec<&str> = stats
        .sends
        .iter()
        .filter(|s| s.chat_id == d.group)
        .map(|s| s.method)
        .collect();
    assert_eq!(methods, ["createForumTopic", "sendMessage", "sendMessage"]);
}

#[tokio::test]
async fn copy_messages_counts_every_copy() {
    let d = desk().await;
    for text in ["one", "two", "three"] {
        d.fake.user_sends(&d.bot, &d.user, text);
    }
    d.fake.set_limits(Limits {
        per_group: Some(Rate::new(4, Duration::from_secs(60))),
        ..Limits::off()
    });
    let copy =
        |ids: Value| json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_ids": ids });
    ok(&d.fake, &d.bot, "copyMessages", copy(json!([1, 2, 3]))).await;
    fails(&d.fake, &d.bot, "copyMessages", copy(json!([1, 2])), 429).await;
    ok(&d.fake, &d.bot, "copyMessages", copy(json!([3]))).await;
    let stats = d.fake.stats();
    assert_eq!(stats.accepted_sends(d.group).len(), 4);
    assert_eq!(stats.throttled_group, 1);
}

#[tokio::test]
async fn concurrent_senders_never_push_a_window_over_budget() {
    let d = desk().await;
    let window = Duration::from_millis(250);
    d.fake.set_limits(Limits {
        per_group: Some(Rate::new(5, window)),
        ..Limits::off()
    });
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (fake, bot, group) = (d.fake.clone(), d.bot.clone(), d.group);
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut delivered = 0;
                while delivered < 4 {
                    let params =
                        json!({ "chat_id": group, "text": format!("{sender}/{delivered}") });
                    match call_on(&client, &fake, &bot, "sendMessage", &params).await {
                        (200, _) => delivered += 1,
                        (429, body) => {
                            assert_eq!(body["parameters"]["retry_after"], 1);
                            // Sooner than retry_after, to hammer the window's edge.
                            tokio::time::sleep(Duration::from_millis(15)).await;
                        }
                        (status, body) => panic!("{status}: {body}"),
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let stats = d.fake.stats();
    assert_eq!(stats.accepted_sends(d.group).len(), 16);
    let most = stats.max_in_window(d.group, window);
    assert!((1..=5).contains(&most), "{most} sends in one window");
    assert!(stats.throttled_group > 0);
    assert_eq!(stats.throttled, stats.throttled_group);
    assert_eq!(d.fake.general_messages(d.group).len(), 1 + 16);
}

#[tokio::test]
async fn chaos_rules_hit_a_random_share_reproducibly() {
    let d = desk().await;
    let client = reqwest::Client::new();
    let run = || async {
        let mut faulted = Vec::new();
        for _ in 0..200 {
            let (status, _) = call_on(&client, &d.fake, &d.bot, "getMe", &json!({})).await;
            assert!(status == 200 || status == 502, "{status}");
            faulted.push(status == 502);
        }
        faulted
    };
    d.fake.inject(
        FaultRule::on("getMe", Fault::server_error())
            .with_probability(0.25)
            .always(),
    );
    d.fake.seed_faults(42);
    let first = run().await;
    let hits = first.iter().filter(|&&hit| hit).count();
    assert!((25..=75).contains(&hits), "{hits} faults of 200");
    d.fake.seed_faults(42);
    assert_eq!(run().await, first, "same seed, same faults");

    // With `times`, the rule fires exactly that often, then is spent.
    d.fake.clear_faults();
    d.fake.inject(
        FaultRule::on("getMe", Fault::server_error())
            .with_probability(0.5)
            .times(3),
    );
    let hits = run().await.iter().filter(|&&hit| hit).count();
    assert_eq!(hits, 3);
}

#[tokio::test]
async fn a_migrated_group_answers_with_its_new_id() {
    let d = desk().await;
    let first = d.fake.user_sends(&d.bot, &d.user, "hi");
    let topic = d.topic("Alice").await;
    let copy = |chat: i64| json!({ "chat_id": chat, "message_thread_id": topic, "from_chat_id": d.user.id, "message_id": first });
    ok(&d.fake, &d.bot, "copyMessage", copy(d.group)).await;
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({})).await;
    let offset = updates.as_array().unwrap().last().unwrap()["update_id"]
        .as_i64()
        .unwrap()
        + 1;

    let new = d.fake.migrate_group(d.group);
    assert_ne!(new, d.group);
    assert!(new < 0);

    // The old id: 400 with migrate_to_chat_id, for chat_id and from_chat_id.
    let (status, body) = call(&d.fake, &d.bot.token, "copyMessage", copy(d.group)).await;
    assert_eq!(status, 400);
    let error: frankenstein::response::ErrorResponse = serde_json::from_value(body).unwrap();
    assert_eq!(error.error_code, 400);
    assert_eq!(
        error.description,
        "Bad Request: group chat was upgraded to a supergroup chat"
    );
    assert_eq!(
        error.parameters.and_then(|p| p.migrate_to_chat_id),
        Some(new)
    );
    let from_old = json!({ "chat_id": d.user.id, "from_chat_id": d.group, "message_id": 1 });
    fails(&d.fake, &d.bot, "copyMessage", from_old, 400).await;
    let frankenstein::Error::Api(err) = frankenstein_bot(&d.fake, &d.bot)
        .send_message(
            &SendMessageParams::builder()
                .chat_id(d.group)
                .text("x")
                .build(),
        )
        .await
        .unwrap_err()
    else {
        panic!("expected an API error");
    };
    assert_eq!(err.parameters.and_then(|p| p.migrate_to_chat_id), Some(new));

    // The new id: same topics and messages, now naming the new chat.
    assert!(d.fake.topics(d.group).is_empty());
    assert_eq!(d.fake.topics(new)[0].name, "Alice");
    ok(&d.fake, &d.bot, "copyMessage", copy(new)).await;
    let messages = d.fake.topic_messages(new, topic);
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m.json["chat"]["id"] == new));
    assert_eq!(messages[2].json["reply_to_message"]["chat"]["id"], new);

    // The bot hears of the move, and later updates carry the new id.
    d.fake
        .operator_sends(new, Some(topic), &d.operator, "from the new group");
    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": offset })).await;
    let messages: Vec<&Value> = updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["message"])
        .collect();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["chat"]["id"], d.group);
    assert_eq!(messages[0]["migrate_to_chat_id"], new);
    assert_eq!(messages[1]["chat"]["id"], new);
    assert_eq!(messages[1]["migrate_from_chat_id"], d.group);
    assert_eq!(messages[2]["chat"]["id"], new);
    assert_eq!(messages[2]["text"], "from the new group");
    assert_eq!(messages[2]["message_thread_id"], topic);
}

/// The bot's message with two callback buttons, sent to the desk's user.
async fn send_choice(d: &Desk) -> i64 {
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let keyboard = json!({ "inline_keyboard": [[
        { "text": "Yes", "callback_data": "yes" },
        { "text": "No", "callback_data": "no" },
    ]] });
    let sent = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "Sure?", "reply_markup": keyboard }),
    )
    .await;
    sent["message_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_button_press_reaches_the_bot_and_is_answered_once() {
    let d = desk().await;
    let choice = send_choice(&d).await;
    let query = d.fake.user_presses_button(&d.bot, &d.user, choice, "no");

    let api = frankenstein_bot(&d.fake, &d.bot);
    let params = GetUpdatesParams::builder()
        .allowed_updates(vec![AllowedUpdate::CallbackQuery])
        .build();
    let updates = api.get_updates(&params).await.unwrap().result;
    let UpdateContent::CallbackQuery(press) = &updates.last().unwrap().content else {
        panic!("{updates:?}");
    };
    assert_eq!(press.id, query);
    assert_eq!(press.data.as_deref(), Some("no"));
    assert_eq!(press.from.id, u64::try_from(d.user.id).unwrap());
    assert!(press.message.is_some(), "the pressed message comes with it");
    assert_eq!(d.fake.callback_answer(&query), None);

    let answer = frankenstein::methods::AnswerCallbackQueryParams::builder()
        .callback_query_id(query.clone())
        .text("Noted")
        .build();
    assert!(api.answer_callback_query(&answer).await.unwrap().result);
    assert_eq!(d.fake.callback_answer(&query), Some(Some("Noted".into())));
    let again = fails(
        &d.fake,
        &d.bot,
        "answerCallbackQuery",
        json!({ "callback_query_id": query }),
        400,
    )
    .await;
    assert!(again.contains("query ID is invalid"), "{again}");
}

#[tokio::test]
async fn a_message_keyboard_is_edited_removed_and_not_edited_for_nothing() {
    let d = desk().await;
    let choice = send_choice(&d).await;
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Done", "callback_data": "done" } ]] });
    let edited = ok(
        &d.fake,
        &d.bot,
        "editMessageReplyMarkup",
        json!({ "chat_id": d.user.id, "message_id": choice, "reply_markup": keyboard }),
    )
    .await;
    assert_eq!(edited["reply_markup"], keyboard);
    assert!(edited["edit_date"].is_i64());
    let shown = &d.fake.private_chat(&d.bot, &d.user)[usize::try_from(choice - 1).unwrap()];
    assert_eq!(shown.json["reply_markup"], keyboard);

    let unchanged = fails(
        &d.fake,
        &d.bot,
        "editMessageReplyMarkup",
        json!({ "chat_id": d.user.id, "message_id": choice, "reply_markup": keyboard }),
        400,
    )
    .await;
    assert!(
        unchanged.starts_with("Bad Request: message is not modified"),
        "{unchanged}"
    );
    let users_own = fails(
        &d.fake,
        &d.bot,
        "editMessageReplyMarkup",
        json!({ "chat_id": d.user.id, "message_id": 1 }),
        400,
    )
    .await;
    assert!(users_own.contains("message can't be edited"), "{users_own}");

    let removed = ok(
        &d.fake,
        &d.bot,
        "editMessageReplyMarkup",
        json!({ "chat_id": d.user.id, "message_id": choice }),
    )
    .await;
    assert!(removed.get("reply_markup").is_none());
}

// ---- files and multipart uploads ----------------------------------------------

/// One part of a multipart body: a parameter, or a file with a name.
enum Part<'a> {
    Text(&'a str, String),
    File {
        name: &'a str,
        file_name: &'a str,
        mime: &'a str,
        bytes: &'a [u8],
    },
}

/// A `multipart/form-data` body, as Bot API clients send it: its content
/// type and its bytes.
fn multipart_body(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "----fakeTelegramBoundary7MA4YWxk";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                let head = format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n");
                body.extend_from_slice(head.as_bytes());
                body.extend_from_slice(value.as_bytes());
            }
            Part::File {
                name,
                file_name,
                mime,
                bytes,
            } => {
                let head = format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: {mime}\r\n\r\n"
                );
                body.extend_from_slice(head.as_bytes());
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// POSTs a multipart body; returns the HTTP status and the body.
async fn call_multipart(
    fake: &FakeTelegram,
    token: &str,
    method: &str,
    parts: &[Part<'_>],
) -> (u16, Value) {
    let (content_type, body) = multipart_body(parts);
    let response = reqwest::Client::new()
        .post(method_url(fake, token, method))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A PNG header for a `width`×`height` image, then `payload` bytes.
fn png(width: u32, height: u32, payload: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend((0..payload).map(|i| u8::try_from(i % 251).unwrap()));
    bytes
}

/// `GET {api_url}/file/bot{token}/{path}`: the status and the bytes.
async fn download(fake: &FakeTelegram, token: &str, path: &str) -> (u16, Vec<u8>) {
    let url = format!("{}/file/bot{token}/{path}", fake.api_url());
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// The bot's `getFile` path for `file_id`.
async fn file_path(fake: &FakeTelegram, bot: &FakeBot, file_id: &str) -> String {
    let file = ok(fake, bot, "getFile", json!({ "file_id": file_id })).await;
    file["file_path"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_uploaded_photo_reaches_the_user_and_downloads_as_sent() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let bytes = png(1000, 600, 4000);
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Nice", "callback_data": "nice" } ]] });
    let parts = [
        Part::Text("chat_id", d.user.id.to_string()),
        Part::Text("caption", "<b>Your</b> order".into()),
        Part::Text("parse_mode", "HTML".into()),
        Part::Text("reply_markup", keyboard.to_string()),
        Part::File {
            name: "photo",
            file_name: "order.png",
            mime: "image/png",
            bytes: &bytes,
        },
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "sendPhoto", &parts).await;
    assert_eq!(status, 200, "{body}");
    let sent = &body["result"];
    let decoded: frankenstein::types::Message = serde_json::from_value(sent.clone()).unwrap();
    let sizes = decoded.photo.unwrap();
    let dimensions: Vec<(u32, u32)> = sizes.iter().map(|s| (s.width, s.height)).collect();
    assert_eq!(dimensions, [(90, 54), (320, 192), (800, 480), (1000, 600)]);
    let largest = sizes.last().unwrap();
    assert_eq!(largest.file_size, Some(bytes.len() as u64));
    assert_eq!(sent["caption"], "Your order");
    assert_eq!(sent["caption_entities"][0]["type"], "bold");
    assert_eq!(sent["reply_markup"], keyboard);

    // The user sees it; the test sees the bytes, and the request as it came.
    let shown = d.fake.private_chat(&d.bot, &d.user).pop().unwrap();
    assert_eq!(shown.file_id(), Some(largest.file_id.as_str()));
    assert_eq!(shown.caption.as_deref(), Some("Your order"));
    assert_eq!(d.fake.file_bytes(&largest.file_id), Some(bytes.clone()));
    let file = d.fake.file(&largest.file_id).unwrap();
    assert_eq!(
        (file.kind, file.uploaded, file.file_size),
        ("photo", true, bytes.len() as u64)
    );
    let recorded = d.fake.requests().pop().unwrap().params;
    assert_eq!(
        recorded["photo"],
        json!({ "file_name": "order.png", "mime_type": "image/png", "file_size": bytes.len() })
    );
    assert_eq!(recorded["chat_id"], d.user.id);

    // getFile, then the download, with the token as typed or percent-encoded.
    let path = file_path(&d.fake, &d.bot, &largest.file_id).await;
    assert_eq!(path, "photos/file_0.jpg");
    assert_eq!(
        file_path(&d.fake, &d.bot, &largest.file_id).await,
        path,
        "the same file keeps its path"
    );
    assert_eq!(
        download(&d.fake, &d.bot.token, &path).await,
        (200, bytes.clone())
    );
    let encoded = d.bot.token.replace(':', "%3A");
    assert_eq!(download(&d.fake, &encoded, &path).await, (200, bytes));
    let small = file_path(&d.fake, &d.bot, &sizes[0].file_id).await;
    let (status, made_up) = download(&d.fake, &d.bot.token, &small).await;
    assert_eq!(status, 200);
    assert_eq!(Some(made_up.len() as u64), sizes[0].file_size);

    // Another bot's token, an unknown path, an unknown token: Telegram's 404.
    let other = d.fake.add_bot("other_bot");
    for (token, path) in [
        (other.token.as_str(), path.as_str()),
        (d.bot.token.as_str(), "photos/file_9.jpg"),
        ("123:nope", path.as_str()),
    ] {
        let url = format!("{}/file/bot{token}/{path}", d.fake.api_url());
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{token} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "ok": false, "error_code": 404, "description": "Not Found" })
        );
    }
}

#[tokio::test]
async fn a_document_is_sent_again_by_file_id_and_copied_into_a_topic() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let report = b"%PDF-1.4 the report".to_vec();
    let parts = [
        Part::Text("chat_id", d.user.id.to_string()),
        Part::Text("document", "attach://file1".into()),
        Part::File {
            name: "file1",
            file_name: "report.pdf",
            mime: "application/octet-stream",
            bytes: &report,
        },
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "sendDocument", &parts).await;
    assert_eq!(status, 200, "{body}");
    let document = body["result"]["document"].clone();
    assert_eq!(document["file_name"], "report.pdf");
    assert_eq!(document["mime_type"], "application/pdf");
    assert_eq!(document["file_size"], report.len());
    let file_id = document["file_id"].as_str().unwrap();
    assert!(file_id.starts_with("BQAC"), "{file_id}");
    let sent_id = body["result"]["message_id"].clone();

    // By file_id, into a topic: the same file.
    let topic = d.topic("Alice").await;
    let again = json!({ "chat_id": d.group, "message_thread_id": topic,
                        "document": file_id, "caption": "the same" });
    let resent = ok(&d.fake, &d.bot, "sendDocument", again).await;
    assert_eq!(resent["document"], document);
    assert_eq!(resent["message_thread_id"], topic);
    let decoded: frankenstein::types::Message = serde_json::from_value(resent).unwrap();
    assert_eq!(decoded.caption.as_deref(), Some("the same"));

    // A copy of the bot's document keeps the file.
    let copy = json!({ "chat_id": d.group, "message_thread_id": topic,
                       "from_chat_id": d.user.id, "message_id": sent_id });
    ok(&d.fake, &d.bot, "copyMessage", copy).await;
    let shown = d.fake.topic_messages(d.group, topic);
    assert_eq!(shown.len(), 3, "created, resent, copied");
    assert!(shown[1..].iter().all(|m| m.file_id() == Some(file_id)));
    assert_eq!(d.fake.file_bytes(file_id), Some(report));

    // A document's file_id cannot stand in for a photo.
    let as_photo = json!({ "chat_id": d.user.id, "photo": file_id });
    assert_eq!(
        fails(&d.fake, &d.bot, "sendPhoto", as_photo, 400).await,
        "Bad Request: can't use file of type Document as Photo"
    );
}

#[tokio::test]
async fn attached_parts_make_one_album() {
    let d = desk().await;
    let topic = d.topic("Alice").await;
    let (one, two) = (png(640, 480, 100), png(480, 640, 200));
    let known = d
        .fake
        .user_sends_content(&d.bot, &d.user, photo_content(None));
    let known_id = d.fake.private_chat(&d.bot, &d.user)[usize::try_from(known - 1).unwrap()]
        .file_id()
        .unwrap()
        .to_owned();
    let media = json!([
        { "type": "photo", "media": "attach://one", "caption": "first" },
        { "type": "photo", "media": "attach://two", "has_spoiler": true },
        { "type": "photo", "media": known_id },
        { "type": "video", "media": "https://example.com/clip.mp4", "width": 640, "height": 360 },
    ]);
    let file = |name, bytes| Part::File {
        name,
        file_name: "p.png",
        mime: "image/png",
        bytes,
    };
    let parts = [
        Part::Text("chat_id", d.group.to_string()),
        Part::Text("message_thread_id", topic.to_string()),
        Part::Text("media", media.to_string()),
        file("one", &one),
        file("two", &two),
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "sendMediaGroup", &parts).await;
    assert_eq!(status, 200, "{body}");
    let sent: Vec<frankenstein::types::Message> =
        serde_json::from_value(body["result"].clone()).unwrap();
    assert_eq!(sent.len(), 4);
    let album = sent[0].media_group_id.clone().unwrap();
    assert!(
        sent.iter()
            .all(|m| m.media_group_id.as_ref() == Some(&album))
    );
    assert_eq!(sent[0].caption.as_deref(), Some("first"));
    assert!(sent[1].caption.is_none());
    assert_eq!(sent[1].has_media_spoiler, Some(true));
    let video = sent[3].video.as_ref().unwrap();
    assert_eq!((video.width, video.height), (640, 360));
    assert_eq!(video.file_name.as_deref(), Some("clip.mp4"));

    let shown = d.fake.topic_messages(d.group, topic);
    assert_eq!(shown.len(), 5, "the topic's creation, then the album");
    assert!(
        shown[1..]
            .iter()
            .all(|m| m.media_group_id() == Some(&*album))
    );
    assert_eq!(shown[3].file_id(), Some(known_id.as_str()));
    let first = shown[1].file_id().unwrap();
    assert_eq!(d.fake.file_bytes(first), Some(one));
    let path = file_path(&d.fake, &d.bot, shown[2].file_id().unwrap()).await;
    assert_eq!(download(&d.fake, &d.bot.token, &path).await, (200, two));

    // One item is sent alone, outside any album.
    let single = json!({ "chat_id": d.group, "media": [{ "type": "photo", "media": known_id }] });
    let alone = ok(&d.fake, &d.bot, "sendMediaGroup", single).await;
    assert_eq!(alone.as_array().unwrap().len(), 1);
    assert!(alone[0].get("media_group_id").is_none());
}

#[tokio::test]
async fn albums_telegram_refuses_send_nothing() {
    let d = desk().await;
    let known = d
        .fake
        .user_sends_content(&d.bot, &d.user, photo_content(None));
    let known_id = d.fake.private_chat(&d.bot, &d.user)[usize::try_from(known - 1).unwrap()]
        .file_id()
        .unwrap()
        .to_owned();

    // What Telegram refuses, in its words; nothing is sent.
    let photo = json!({ "type": "photo", "media": known_id });
    let cases = [
        (json!([]), "Bad Request: there are no messages to send"),
        (
            Value::Array(vec![photo.clone(); 11]),
            "Bad Request: too many messages to send as an album",
        ),
        (
            json!([photo, { "type": "document", "media": "https://example.com/a.pdf" }]),
            "Bad Request: document can't be mixed with other media types",
        ),
        (
            json!([photo, { "type": "photo", "media": "attach://missing" }]),
            "Bad Request: can't parse InputMedia: media not found",
        ),
        (
            json!([photo, { "type": "animation", "media": known_id }]),
            "Bad Request: can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup",
        ),
        (
            json!({ "type": "photo" }),
            "Bad Request: expected an Array of InputMedia",
        ),
    ];
    for (media, expected) in cases {
        let params = json!({ "chat_id": d.group, "media": media });
        assert_eq!(
            fails(&d.fake, &d.bot, "sendMediaGroup", params, 400).await,
            expected,
            "{media}"
        );
    }
    assert_eq!(
        d.fake.general_messages(d.group).len(),
        1,
        "only its creation"
    );
}

#[tokio::test]
async fn missing_and_wrong_files_get_telegrams_400s() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let to_user = |extra: Value| {
        let mut params = json!({ "chat_id": d.user.id });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        params
    };
    let cases = [
        (
            "sendPhoto",
            json!({}),
            "Bad Request: there is no photo in the request",
        ),
        (
            "sendDocument",
            json!({ "document": "" }),
            "Bad Request: there is no document in the request",
        ),
        (
            "sendVoice",
            json!({}),
            "Bad Request: there is no voice in the request",
        ),
        (
            "sendPhoto",
            json!({ "photo": "attach://nothing" }),
            "Bad Request: there is no photo in the request",
        ),
        (
            "sendPhoto",
            json!({ "photo": "AgACAgIAAxkBAAIBdmVyeU5vdEFGaWxl" }),
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            "sendVideo",
            json!({ "video": "nope" }),
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            "getFile",
            json!({ "file_id": "nope" }),
            "Bad Request: invalid file_id",
        ),
        ("getFile", json!({}), "Bad Request: file_id not specified"),
    ];
    for (method, extra, expected) in cases {
        let params = to_user(extra.clone());
        assert_eq!(
            fails(&d.fake, &d.bot, method, params, 400).await,
            expected,
            "{method} {extra}"
        );
    }
    let empty = [
        Part::Text("chat_id", d.user.id.to_string()),
        Part::File {
            name: "photo",
            file_name: "empty.jpg",
            mime: "image/jpeg",
            bytes: b"",
        },
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "sendPhoto", &empty).await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: file must be non-empty");
    let broken = reqwest::Client::new()
        .post(method_url(&d.fake, &d.bot.token, "sendPhoto"))
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n1")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status().as_u16(), 400);
    assert_eq!(
        d.fake.private_chat(&d.bot, &d.user).len(),
        1,
        "nothing was sent"
    );
}

#[tokio::test]
async fn files_sent_by_url_and_by_people_are_made_up() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let by_url =
        json!({ "chat_id": d.user.id, "document": "HTTPS://example.com/files/report.pdf?v=2" });
    let sent = ok(&d.fake, &d.bot, "sendDocument", by_url).await;
    assert_eq!(sent["document"]["file_name"], "report.pdf");
    assert_eq!(sent["document"]["mime_type"], "application/pdf");
    let file_id = sent["document"]["file_id"].as_str().unwrap();
    assert!(!d.fake.file(file_id).unwrap().uploaded);
    let photo = json!({ "chat_id": d.user.id, "photo": "https://example.com/cat.jpg" });
    let sent = ok(&d.fake, &d.bot, "sendPhoto", photo).await;
    assert_eq!(sent["photo"].as_array().unwrap().len(), 4);

    // A person's photo and document download as made-up bytes of their size.
    let message = d
        .fake
        .user_sends_content(&d.bot, &d.user, photo_content(Some("look")));
    let chat = d.fake.private_chat(&d.bot, &d.user);
    let photo = chat[usize::try_from(message - 1).unwrap()]
        .file_id()
        .unwrap();
    let path = file_path(&d.fake, &d.bot, photo).await;
    let (status, bytes) = download(&d.fake, &d.bot.token, &path).await;
    assert_eq!((status, bytes.len()), (200, 98_000));
    assert_eq!(d.fake.file_bytes(photo), Some(bytes));
    let audio = json!({ "chat_id": d.user.id, "audio": photo });
    assert_eq!(
        fails(&d.fake, &d.bot, "sendAudio", audio, 400).await,
        "Bad Request: can't use file of type Photo as Audio"
    );

    // getFile refuses what is over 20 MB, as the Bot API server does.
    let size = (20 << 20) + 1;
    let big = d
        .fake
        .user_sends_content(&d.bot, &d.user, document_content("big.zip", size, None));
    let chat = d.fake.private_chat(&d.bot, &d.user);
    let big = chat[usize::try_from(big - 1).unwrap()].file_id().unwrap();
    assert_eq!(d.fake.file(big).unwrap().file_size, size);
    assert_eq!(
        fails(&d.fake, &d.bot, "getFile", json!({ "file_id": big }), 400).await,
        "Bad Request: file is too big"
    );
    let fits = d.fake.user_sends_content(
        &d.bot,
        &d.user,
        document_content("fits.zip", 20 << 20, None),
    );
    let chat = d.fake.private_chat(&d.bot, &d.user);
    let fits = chat[usize::try_from(fits - 1).unwrap()].file_id().unwrap();
    assert_eq!(
        file_path(&d.fake, &d.bot, fits).await,
        "documents/file_1.zip"
    );
}

#[tokio::test]
async fn an_upload_over_20_mb_is_kept_but_not_downloadable() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let bytes = vec![7_u8; (20 << 20) + 1024];
    let parts = [
        Part::Text("chat_id", d.user.id.to_string()),
        Part::File {
            name: "document",
            file_name: "backup.tar",
            mime: "application/x-tar",
            bytes: &bytes,
        },
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "sendDocument", &parts).await;
    assert_eq!(status, 200, "{body}");
    let document = &body["result"]["document"];
    assert_eq!(document["mime_type"], "application/x-tar");
    let file_id = document["file_id"].as_str().unwrap();
    assert_eq!(d.fake.file(file_id).unwrap().file_size, bytes.len() as u64);
    assert_eq!(
        fails(
            &d.fake,
            &d.bot,
            "getFile",
            json!({ "file_id": file_id }),
            400
        )
        .await,
        "Bad Request: file is too big"
    );
}

#[tokio::test]
async fn each_message_of_an_album_counts_against_the_limits() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    d.fake.set_limits(Limits {
        per_private_chat: Some(Rate::new(3, Duration::from_secs(60))),
        ..Limits::off()
    });
    let photo = json!({ "type": "photo", "media": "https://example.com/a.jpg" });
    let album = json!({ "chat_id": d.user.id, "media": [photo, photo] });
    ok(&d.fake, &d.bot, "sendMediaGroup", album.clone()).await;
    let (status, _) = call(&d.fake, &d.bot.token, "sendMediaGroup", album).await;
    assert_eq!(status, 429, "2 + 2 is over 3");
    let one = json!({ "chat_id": d.user.id, "photo": "https://example.com/b.jpg" });
    ok(&d.fake, &d.bot, "sendPhoto", one).await;
    assert_eq!(
        d.fake
            .stats()
            .max_in_window(d.user.id, Duration::from_secs(60)),
        3
    );
}

// ---- edits of a bot's own messages --------------------------------------------

/// The message `id` of a chat, as a test sees it.
fn nth(messages: &[FakeMessage], id: i64) -> &FakeMessage {
    &messages[usize::try_from(id - 1).unwrap()]
}

const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content \
                            and reply markup are exactly the same as a current content and reply \
                            markup of the message";

#[tokio::test]
async fn a_text_is_edited_and_its_keyboard_goes_unless_sent_again() {
    let d = desk().await;
    let choice = send_choice(&d).await;
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Undo", "callback_data": "undo" } ]] });

    // HTML, as sendMessage takes it; without `reply_markup` the keyboard goes.
    let edited = ok(
        &d.fake,
        &d.bot,
        "editMessageText",
        json!({ "chat_id": d.user.id, "message_id": choice, "text": "<b>Done</b>, thanks",
                "parse_mode": "HTML", "link_preview_options": { "is_disabled": true } }),
    )
    .await;
    assert_eq!(edited["message_id"], choice);
    assert_eq!(edited["text"], "Done, thanks");
    assert_eq!(
        edited["entities"],
        json!([{ "type": "bold", "offset": 0, "length": 4 }])
    );
    assert!(edited.get("reply_markup").is_none(), "{edited}");
    assert!(edited["edit_date"].as_i64().unwrap() >= edited["date"].as_i64().unwrap());
    let shown = d.fake.private_chat(&d.bot, &d.user);
    let shown = nth(&shown, choice);
    assert_eq!(shown.text.as_deref(), Some("Done, thanks"));
    assert_eq!(shown.edit_date(), edited["edit_date"].as_i64());
    assert_eq!(shown.json, edited);
    assert_eq!(
        nth(&d.fake.private_chat(&d.bot, &d.user), 1).edit_date(),
        None,
        "the user's message was not edited"
    );

    // Explicit entities, and a keyboard sent with the edit stays.
    let api = frankenstein_bot(&d.fake, &d.bot);
    let params = frankenstein::methods::EditMessageTextParams::builder()
        .chat_id(d.user.id)
        .message_id(i32::try_from(choice).unwrap())
        .text("Done, really")
        .entities(vec![
            frankenstein::types::MessageEntity::builder()
                .type_field(MessageEntityType::Italic)
                .offset(6)
                .length(6)
                .build(),
        ])
        .reply_markup(serde_json::from_value(keyboard.clone()).unwrap())
        .build();
    let frankenstein::response::MessageOrBool::Message(message) =
        api.edit_message_text(&params).await.unwrap().result
    else {
        panic!("an edit of a chat's message answers the message");
    };
    assert_eq!(message.text.as_deref(), Some("Done, really"));
    assert!(message.edit_date.is_some());
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(nth(&shown, choice).json["reply_markup"], keyboard);
    assert_eq!(nth(&shown, choice).json["entities"][0]["type"], "italic");

    // The same text, entities and keyboard: not modified, and nothing changes.
    let same = json!({ "chat_id": d.user.id, "message_id": choice, "text": "Done, really",
                       "entities": [{ "type": "italic", "offset": 6, "length": 6 }],
                       "reply_markup": keyboard });
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageText", same.clone(), 400).await,
        NOT_MODIFIED
    );
    // The same text without the keyboard is a change: the keyboard goes.
    let mut without = same;
    without.as_object_mut().unwrap().remove("reply_markup");
    let edited = ok(&d.fake, &d.bot, "editMessageText", without).await;
    assert!(edited.get("reply_markup").is_none());

    // A command gets its entity again, as a sent one does.
    let command = json!({ "chat_id": d.user.id, "message_id": choice, "text": "/help me" });
    let edited = ok(&d.fake, &d.bot, "editMessageText", command).await;
    assert_eq!(edited["entities"][0]["type"], "bot_command");
}

#[tokio::test]
async fn text_edits_telegram_refuses_change_nothing() {
    let d = desk().await;
    let choice = send_choice(&d).await;
    let photo = ok(
        &d.fake,
        &d.bot,
        "sendPhoto",
        json!({ "chat_id": d.user.id, "photo": "https://example.com/a.jpg", "caption": "A" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let topic = d.topic("Alice").await;
    let in_topic = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.group, "message_thread_id": topic, "text": "hi" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let other = d.fake.add_bot("other_bot");
    d.fake.add_bot_to_group(d.group, &other, true);
    let others = ok(
        &d.fake,
        &other,
        "sendMessage",
        json!({ "chat_id": d.group, "text": "mine" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let operators = d.fake.operator_sends(d.group, None, &d.operator, "hello");

    let to_user =
        |id: i64, text: &str| json!({ "chat_id": d.user.id, "message_id": id, "text": text });
    let to_group = |id: i64| json!({ "chat_id": d.group, "message_id": id, "text": "edited" });
    let long = "x".repeat(4097);
    let cases = [
        (to_user(1, "x"), "Bad Request: message can't be edited"),
        (
            to_user(photo, "x"),
            "Bad Request: there is no text in the message to edit",
        ),
        (to_user(99, "x"), "Bad Request: message to edit not found"),
        (to_user(0, "x"), "Bad Request: message to edit not found"),
        (to_user(choice, " "), "Bad Request: message text is empty"),
        (
            json!({ "chat_id": d.user.id, "message_id": choice }),
            "Bad Request: message text is empty",
        ),
        (to_user(choice, &long), "Bad Request: MESSAGE_TOO_LONG"),
        (
            json!({ "chat_id": d.user.id, "message_id": choice, "text": "<b>open",
                    "parse_mode": "HTML" }),
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            json!({ "inline_message_id": "AgAAAC", "text": "x" }),
            "Bad Request: inline messages are not modelled by the fake",
        ),
        (
            json!({ "text": "x" }),
            "Bad Request: message identifier is not specified",
        ),
        (
            json!({ "chat_id": -42, "message_id": 1, "text": "x" }),
            "Bad Request: chat not found",
        ),
        (to_group(topic), "Bad Request: message can't be edited"),
        (to_group(others), "Bad Request: message can't be edited"),
        (to_group(operators), "Bad Request: message can't be edited"),
    ];
    refuses(&d.fake, &d.bot, "editMessageText", &cases).await;
    let unchanged = d.fake.private_chat(&d.bot, &d.user);
    assert!(
        unchanged.iter().all(|m| m.edit_date().is_none()),
        "nothing was edited"
    );
    assert_eq!(nth(&unchanged, choice).text.as_deref(), Some("Sure?"));

    // A deleted topic's messages are gone for Telegram: nothing to edit.
    ok(&d.fake, &d.bot, "editMessageText", to_group(in_topic)).await;
    d.fake.delete_topic(d.group, topic);
    let gone = json!({ "chat_id": d.group, "message_id": in_topic, "text": "again" });
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageText", gone, 400).await,
        "Bad Request: message to edit not found"
    );
}

#[tokio::test]
async fn captions_are_edited_above_the_media_and_removed() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Buy", "callback_data": "buy" } ]] });
    let photo = ok(
        &d.fake,
        &d.bot,
        "sendPhoto",
        json!({ "chat_id": d.user.id, "photo": "https://example.com/a.jpg", "caption": "Old",
                "has_spoiler": true, "reply_markup": keyboard }),
    )
    .await;
    let id = photo["message_id"].as_i64().unwrap();
    let at = |extra: Value| {
        let mut params = json!({ "chat_id": d.user.id, "message_id": id });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        params
    };

    let edited = ok(
        &d.fake,
        &d.bot,
        "editMessageCaption",
        at(json!({ "caption": "<i>New</i> price", "parse_mode": "HTML",
                   "show_caption_above_media": true, "reply_markup": keyboard })),
    )
    .await;
    assert_eq!(edited["caption"], "New price");
    assert_eq!(edited["caption_entities"][0]["type"], "italic");
    assert_eq!(edited["show_caption_above_media"], true);
    assert_eq!(edited["reply_markup"], keyboard);
    assert_eq!(edited["photo"], photo["photo"], "the file stays");
    assert_eq!(edited["has_media_spoiler"], true, "the spoiler stays");
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(nth(&shown, id).caption.as_deref(), Some("New price"));
    assert!(nth(&shown, id).edit_date().is_some());

    let same = at(
        json!({ "caption": "New price", "show_caption_above_media": true,
                          "caption_entities": [{ "type": "italic", "offset": 0, "length": 3 }],
                          "reply_markup": keyboard }),
    );
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageCaption", same, 400).await,
        NOT_MODIFIED
    );

    // No caption: the caption goes, and so does the keyboard not sent again.
    let bare = ok(&d.fake, &d.bot, "editMessageCaption", at(json!({}))).await;
    for field in [
        "caption",
        "caption_entities",
        "show_caption_above_media",
        "reply_markup",
    ] {
        assert!(bare.get(field).is_none(), "{field}: {bare}");
    }
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(nth(&shown, id).caption, None);
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageCaption", at(json!({})), 400).await,
        NOT_MODIFIED
    );

    // A voice message has a caption too.
    let voice = ok(
        &d.fake,
        &d.bot,
        "sendVoice",
        json!({ "chat_id": d.user.id, "voice": "https://example.com/v.ogg" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let said = json!({ "chat_id": d.user.id, "message_id": voice, "caption": "said" });
    assert_eq!(
        ok(&d.fake, &d.bot, "editMessageCaption", said).await["caption"],
        "said"
    );

    let text = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "plain" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let cases = [
        (
            json!({ "chat_id": d.user.id, "message_id": text, "caption": "x" }),
            "Bad Request: there is no caption in the message to edit",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": 1, "caption": "x" }),
            "Bad Request: message can't be edited",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": 99, "caption": "x" }),
            "Bad Request: message to edit not found",
        ),
        (
            at(json!({ "caption": "x".repeat(1025) })),
            "Bad Request: MEDIA_CAPTION_TOO_LONG",
        ),
        (
            json!({ "inline_message_id": "AgAAAC", "caption": "x" }),
            "Bad Request: inline messages are not modelled by the fake",
        ),
    ];
    refuses(&d.fake, &d.bot, "editMessageCaption", &cases).await;
}

#[tokio::test]
async fn media_is_replaced_by_an_upload_a_file_id_or_a_url() {
    let d = desk().await;
    let topic = d.topic("Alice").await;
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Open", "callback_data": "open" } ]] });
    let sent = ok(
        &d.fake,
        &d.bot,
        "sendPhoto",
        json!({ "chat_id": d.group, "message_thread_id": topic, "photo": "https://example.com/a.jpg",
                "caption": "Old", "has_spoiler": true, "reply_markup": keyboard }),
    )
    .await;
    let id = sent["message_id"].as_i64().unwrap();

    // An upload through attach://, with its caption; the keyboard sent again stays.
    let bytes = png(640, 480, 300);
    let media = json!({ "type": "photo", "media": "attach://new", "caption": "<b>New</b>",
                        "parse_mode": "HTML" });
    let parts = [
        Part::Text("chat_id", d.group.to_string()),
        Part::Text("message_id", id.to_string()),
        Part::Text("media", media.to_string()),
        Part::Text("reply_markup", keyboard.to_string()),
        Part::File {
            name: "new",
            file_name: "new.png",
            mime: "image/png",
            bytes: &bytes,
        },
    ];
    let (status, body) = call_multipart(&d.fake, &d.bot.token, "editMessageMedia", &parts).await;
    assert_eq!(status, 200, "{body}");
    let edited: frankenstein::types::Message =
        serde_json::from_value(body["result"].clone()).unwrap();
    assert!(edited.edit_date.is_some());
    assert_eq!(edited.caption.as_deref(), Some("New"));
    assert_eq!(
        edited.has_media_spoiler, None,
        "the InputMedia has no spoiler"
    );
    let sizes = edited.photo.unwrap();
    assert_eq!(
        (sizes.last().unwrap().width, sizes.last().unwrap().height),
        (640, 480)
    );
    assert_eq!(body["result"]["reply_markup"], keyboard);
    assert_eq!(body["result"]["message_thread_id"], topic);
    let shown = d.fake.topic_messages(d.group, topic);
    let now = shown.iter().find(|m| m.message_id == id).unwrap();
    assert_eq!(now.json, body["result"]);
    assert_eq!(d.fake.file_bytes(now.file_id().unwrap()), Some(bytes));
    let path = file_path(&d.fake, &d.bot, now.file_id().unwrap()).await;
    assert_eq!(download(&d.fake, &d.bot.token, &path).await.0, 200);

    // A document by file_id, in JSON: no caption, no keyboard any more.
    let pdf = ok(
        &d.fake,
        &d.bot,
        "sendDocument",
        json!({ "chat_id": d.group, "document": "https://example.com/r.pdf" }),
    )
    .await;
    let pdf_id = pdf["document"]["file_id"].as_str().unwrap().to_owned();
    let by_id = json!({ "chat_id": d.group, "message_id": id,
                        "media": { "type": "document", "media": pdf_id } });
    let edited = ok(&d.fake, &d.bot, "editMessageMedia", by_id.clone()).await;
    assert_eq!(edited["document"], pdf["document"]);
    for field in ["photo", "caption", "caption_entities", "reply_markup"] {
        assert!(edited.get(field).is_none(), "{field}: {edited}");
    }
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageMedia", by_id, 400).await,
        NOT_MODIFIED
    );

    // A video by URL, and an animation (which no album takes, but a message may).
    let video = json!({ "chat_id": d.group, "message_id": id,
                        "media": { "type": "video", "media": "https://example.com/c.mp4",
                                   "width": 320, "height": 240, "caption": "clip" } });
    let edited = ok(&d.fake, &d.bot, "editMessageMedia", video).await;
    assert_eq!(edited["video"]["width"], 320);
    assert!(edited.get("document").is_none());
    let gif = json!({ "chat_id": d.group, "message_id": id,
                      "media": { "type": "animation", "media": "https://example.com/g.gif" } });
    let edited = ok(&d.fake, &d.bot, "editMessageMedia", gif).await;
    assert!(edited["animation"]["file_id"].is_string());
    assert!(
        edited["document"]["file_id"].is_string(),
        "shown as a document too"
    );
    assert_eq!(
        d.fake.topic_messages(d.group, topic).len(),
        2,
        "the topic's creation and the one message, edited"
    );
}

#[tokio::test]
async fn media_edits_telegram_refuses_change_nothing() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let send = |method: &str, field: &str, url: &str| {
        let params = json!({ "chat_id": d.user.id, field: url });
        let (fake, bot, method) = (d.fake.clone(), d.bot.clone(), method.to_owned());
        async move {
            ok(&fake, &bot, &method, params).await["message_id"]
                .as_i64()
                .unwrap()
        }
    };
    let photo = send("sendPhoto", "photo", "https://example.com/a.jpg").await;
    let voice = send("sendVoice", "voice", "https://example.com/v.ogg").await;
    let text = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "plain" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let photo_id = nth(&d.fake.private_chat(&d.bot, &d.user), photo)
        .file_id()
        .unwrap()
        .to_owned();
    let album = ok(
        &d.fake,
        &d.bot,
        "sendMediaGroup",
        json!({ "chat_id": d.user.id, "media": [
            { "type": "photo", "media": "https://example.com/1.jpg" },
            { "type": "photo", "media": "https://example.com/2.jpg" },
        ] }),
    )
    .await;
    let in_album = album[0]["message_id"].as_i64().unwrap();

    let edit =
        |id: i64, media: Value| json!({ "chat_id": d.user.id, "message_id": id, "media": media });
    let url = |kind: &str| json!({ "type": kind, "media": "https://example.com/f" });
    let cases = [
        (
            edit(text, url("photo")),
            "Bad Request: there is no media in the message to edit",
        ),
        (
            edit(voice, url("audio")),
            "Bad Request: there is no media in the message to edit",
        ),
        (
            edit(1, url("photo")),
            "Bad Request: message can't be edited",
        ),
        (
            edit(99, url("photo")),
            "Bad Request: message to edit not found",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": photo }),
            "Bad Request: parameter \"media\" is required",
        ),
        (
            edit(photo, json!("{not json")),
            "Bad Request: can't parse input media JSON object",
        ),
        (
            edit(
                photo,
                json!({ "type": "photo", "media": "attach://missing" }),
            ),
            "Bad Request: can't parse InputMedia: media not found",
        ),
        (
            edit(photo, json!({ "type": "photo" })),
            "Bad Request: can't parse InputMedia: media not found",
        ),
        (
            edit(photo, url("sticker")),
            "Bad Request: can't parse InputMedia: type \"sticker\" is unsupported",
        ),
        (
            edit(photo, json!({ "type": "document", "media": photo_id })),
            "Bad Request: can't use file of type Photo as Document",
        ),
        (
            edit(photo, json!({ "type": "photo", "media": "nope" })),
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            edit(
                photo,
                json!({ "type": "photo", "media": photo_id, "caption": "x".repeat(1025) }),
            ),
            "Bad Request: message caption is too long",
        ),
        (
            edit(in_album, url("document")),
            "Bad Request: can't change media type in the album",
        ),
        (
            edit(in_album, url("animation")),
            "Bad Request: message content type can't be used in an album",
        ),
        (
            edit(photo, json!({ "type": "photo", "media": photo_id })),
            NOT_MODIFIED,
        ),
        (
            json!({ "inline_message_id": "AgAAAC", "media": url("photo") }),
            "Bad Request: inline messages are not modelled by the fake",
        ),
    ];
    refuses(&d.fake, &d.bot, "editMessageMedia", &cases).await;
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert!(
        shown.iter().all(|m| m.edit_date().is_none()),
        "nothing was edited"
    );

    // In an album a photo may become a video, and stays in the album.
    let video = ok(
        &d.fake,
        &d.bot,
        "editMessageMedia",
        edit(in_album, url("video")),
    )
    .await;
    assert!(video["video"].is_object());
    assert_eq!(video["media_group_id"], album[0]["media_group_id"]);
}

#[tokio::test]
async fn edits_use_no_rate_budget_but_are_requests() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    d.fake.set_limits(Limits {
        per_private_chat: Some(Rate::new(1, Duration::from_secs(60))),
        ..Limits::off()
    });
    let sent = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "v0" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    for n in 1..=5 {
        let params = json!({ "chat_id": d.user.id, "message_id": sent, "text": format!("v{n}") });
        ok(&d.fake, &d.bot, "editMessageText", params).await;
    }
    assert_eq!(d.fake.request_count("editMessageText"), 5);
    let stats = d.fake.stats();
    assert_eq!(stats.sends.len(), 1, "{:?}", stats.sends);
    assert_eq!(stats.throttled, 0);
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(shown.len(), 2, "edits post no message");
    assert_eq!(nth(&shown, sent).text.as_deref(), Some("v5"));
    // The chat's budget is still spent by the one send.
    let again = json!({ "chat_id": d.user.id, "text": "more" });
    fails(&d.fake, &d.bot, "sendMessage", again, 429).await;
}

// ---- reactions ----------------------------------------------------------------

/// `[{"type":"emoji","emoji":..}]`, the `reaction` of one emoji.
fn emoji_reaction(emoji: &str) -> Value {
    json!([{ "type": "emoji", "emoji": emoji }])
}

/// Who reacted to message `id` with what, as a test sees it in a chat or a topic.
fn reactions_to(messages: &[FakeMessage], id: i64) -> Vec<(i64, String)> {
    let message = messages.iter().find(|m| m.message_id == id);
    message
        .unwrap_or_else(|| panic!("no message {id} in {messages:?}"))
        .reactions
        .iter()
        .map(|r| (r.from_id, r.emoji.clone()))
        .collect()
}

/// The desk's bot asks for `message_reaction` updates (and messages) and
/// confirms everything so far; returns the next offset.
async fn ask_for_reactions(fake: &FakeTelegram, bot: &FakeBot) -> i64 {
    let updates = ok(
        fake,
        bot,
        "getUpdates",
        json!({ "allowed_updates": ["message", "message_reaction"] }),
    )
    .await;
    let next = update_ids(&updates).last().map_or(0, |id| id + 1);
    ok(fake, bot, "getUpdates", json!({ "offset": next })).await;
    next
}

#[tokio::test]
async fn a_bot_sets_replaces_and_removes_its_reaction() {
    let d = desk().await;
    let hello = d.fake.user_sends(&d.bot, &d.user, "hello");
    let set = |reaction: Value| json!({ "chat_id": d.user.id, "message_id": hello, "reaction": reaction });

    let done = ok(
        &d.fake,
        &d.bot,
        "setMessageReaction",
        set(emoji_reaction("👍")),
    )
    .await;
    assert_eq!(done, json!(true));
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(reactions_to(&chat, hello), [(d.bot.id, "👍".to_owned())]);
    assert_eq!(nth(&chat, hello).reaction_of(d.bot.id), Some("👍"));
    assert!(
        nth(&chat, hello).json.get("reactions").is_none(),
        "the Message JSON has no reactions: {}",
        nth(&chat, hello).json
    );

    // frankenstein's params, a joined emoji and `is_big`: the reaction is replaced.
    let heart_on_fire = "\u{2764}\u{200d}\u{1f525}";
    let api = frankenstein_bot(&d.fake, &d.bot);
    let params = frankenstein::methods::SetMessageReactionParams::builder()
        .chat_id(d.user.id)
        .message_id(i32::try_from(hello).unwrap())
        .reaction(vec![frankenstein::types::ReactionType::Emoji(
            frankenstein::types::ReactionTypeEmoji::builder()
                .emoji(heart_on_fire)
                .build(),
        )])
        .is_big(true)
        .build();
    assert!(api.set_message_reaction(&params).await.unwrap().result);
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(
        reactions_to(&chat, hello),
        [(d.bot.id, heart_on_fire.to_owned())]
    );

    // The same again changes nothing; a form body's JSON text works too.
    let form = [
        ("chat_id", d.user.id.to_string()),
        ("message_id", hello.to_string()),
        ("reaction", emoji_reaction(heart_on_fire).to_string()),
    ];
    let response = reqwest::Client::new()
        .post(method_url(&d.fake, &d.bot.token, "setmessagereaction"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        reactions_to(&d.fake.private_chat(&d.bot, &d.user), hello).len(),
        1
    );

    // An empty list, no `reaction` and an empty text all remove it.
    for removal in [
        json!({ "chat_id": d.user.id, "message_id": hello, "reaction": [] }),
        json!({ "chat_id": d.user.id, "message_id": hello }),
        json!({ "chat_id": d.user.id, "message_id": hello, "reaction": "" }),
    ] {
        ok(
            &d.fake,
            &d.bot,
            "setMessageReaction",
            set(emoji_reaction("🔥")),
        )
        .await;
        assert_eq!(
            ok(&d.fake, &d.bot, "setMessageReaction", removal).await,
            json!(true)
        );
        let chat = d.fake.private_chat(&d.bot, &d.user);
        assert!(nth(&chat, hello).reactions.is_empty(), "{chat:?}");
    }
    assert_eq!(
        d.fake.pending_update_count(&d.bot),
        1,
        "the user's message only: a bot's reactions send no update"
    );

    // The bot's own message, and a message of a group it is only a member of.
    let own = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "thanks" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    let on_own =
        json!({ "chat_id": d.user.id, "message_id": own, "reaction": emoji_reaction("❤") });
    ok(&d.fake, &d.bot, "setMessageReaction", on_own).await;
    let member = d.fake.add_bot("member_bot");
    d.fake.add_bot_to_group(d.group, &member, false);
    let said = d.fake.operator_sends(d.group, None, &d.operator, "morning");
    let in_group =
        json!({ "chat_id": d.group, "message_id": said, "reaction": emoji_reaction("🫡") });
    ok(&d.fake, &member, "setMessageReaction", in_group).await;
    let general = d.fake.general_messages(d.group);
    let said = general.iter().find(|m| m.message_id == said).unwrap();
    assert_eq!(said.reaction_of(member.id), Some("🫡"));
    assert_eq!(said.reaction_of(d.bot.id), None);
}

#[tokio::test]
async fn a_reaction_to_an_album_goes_to_its_first_message() {
    let d = desk().await;
    let album = |caption| {
        let mut content = photo_content(Some(caption));
        content["media_group_id"] = "13".into();
        content
    };
    let first = d.fake.user_sends_content(&d.bot, &d.user, album("one"));
    let second = d.fake.user_sends_content(&d.bot, &d.user, album("two"));
    let to_second = json!({ "chat_id": d.user.id, "message_id": second,
                            "reaction": emoji_reaction("👀") });
    ok(&d.fake, &d.bot, "setMessageReaction", to_second).await;
    d.fake.user_reacts(&d.bot, &d.user, second, Some("👍"));
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(
        reactions_to(&chat, first),
        [(d.bot.id, "👀".to_owned()), (d.user.id, "👍".to_owned())]
    );
    assert!(nth(&chat, second).reactions.is_empty());
}

#[tokio::test]
async fn reactions_telegram_refuses_change_nothing() {
    let d = desk().await;
    let hello = d.fake.user_sends(&d.bot, &d.user, "hello");
    let with = |reaction: Value| json!({ "chat_id": d.user.id, "message_id": hello, "reaction": reaction });
    let two = json!([{ "type": "emoji", "emoji": "👍" }, { "type": "emoji", "emoji": "🔥" }]);
    let custom = json!([{ "type": "custom_emoji", "custom_emoji_id": "5368324170671202286" }]);
    let cases = [
        (with(two), 400, "Bad Request: REACTIONS_TOO_MANY"),
        (
            with(emoji_reaction("❤\u{fe0f}")),
            400,
            "Bad Request: REACTION_INVALID",
        ),
        (
            with(emoji_reaction("✅")),
            400,
            "Bad Request: REACTION_INVALID",
        ),
        (with(custom), 400, "Bad Request: REACTION_INVALID"),
        (
            with(json!([{ "type": "paid" }])),
            400,
            "Bad Request: can't parse ReactionType: invalid reaction type specified",
        ),
        (
            with(json!([{ "emoji": "👍" }])),
            400,
            "Bad Request: can't parse ReactionType: Can't find field \"type\"",
        ),
        (
            with(json!(["👍"])),
            400,
            "Bad Request: can't parse ReactionType: expected an Object",
        ),
        (
            with(json!({ "type": "emoji", "emoji": "👍" })),
            400,
            "Bad Request: expected an Array of ReactionType",
        ),
        (
            with(json!("[{")),
            400,
            "Bad Request: can't parse reaction types JSON object",
        ),
        (
            with(emoji_reaction("")),
            400,
            "Bad Request: invalid reaction type specified",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": 99, "reaction": emoji_reaction("👍") }),
            400,
            "Bad Request: message to react not found",
        ),
        (
            json!({ "chat_id": d.user.id, "reaction": emoji_reaction("👍") }),
            400,
            "Bad Request: message to react not found",
        ),
        (
            json!({ "chat_id": -1_001_999_999_999_i64, "message_id": 1, "reaction": [] }),
            400,
            "Bad Request: chat not found",
        ),
        (
            json!({ "message_id": hello, "reaction": [] }),
            400,
            "Bad Request: chat_id is empty",
        ),
        // Message 1 of a group is its `supergroup_chat_created` service message.
        (
            json!({ "chat_id": d.group, "message_id": 1, "reaction": emoji_reaction("👍") }),
            400,
            "Bad Request: REACTION_INVALID",
        ),
    ];
    for (params, code, description) in cases {
        let answer = fails(&d.fake, &d.bot, "setMessageReaction", params.clone(), code).await;
        assert_eq!(answer, description, "{params}");
    }
    // A group the bot is not in, and a user who blocked the bot.
    let stranger = d.fake.add_bot("stranger_bot");
    let in_group = json!({ "chat_id": d.group, "message_id": 1, "reaction": [] });
    let answer = fails(&d.fake, &stranger, "setMessageReaction", in_group, 400).await;
    assert_eq!(answer, "Bad Request: chat not found");
    d.fake.user_blocks_bot(&d.bot, &d.user);
    let answer = fails(
        &d.fake,
        &d.bot,
        "setMessageReaction",
        with(emoji_reaction("👍")),
        403,
    )
    .await;
    assert_eq!(answer, "Forbidden: bot was blocked by the user");

    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert!(chat.iter().all(|m| m.reactions.is_empty()), "{chat:?}");
    assert!(
        d.fake
            .general_messages(d.group)
            .iter()
            .all(|m| m.reactions.is_empty())
    );
}

#[tokio::test]
async fn a_users_reaction_reaches_the_bot_only_when_it_asked() {
    let d = desk().await;
    let hello = d.fake.user_sends(&d.bot, &d.user, "hello");
    ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": 2 })).await;

    // The default filter leaves reactions out; the reaction is kept all the same.
    d.fake.user_reacts(&d.bot, &d.user, hello, Some("👍"));
    assert_eq!(d.fake.pending_update_count(&d.bot), 0);
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(reactions_to(&chat, hello), [(d.user.id, "👍".to_owned())]);

    let next = ask_for_reactions(&d.fake, &d.bot).await;
    let reply = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.user.id, "text": "hi!" }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    d.fake.user_reacts(&d.bot, &d.user, hello, Some("🔥"));
    d.fake.user_reacts(&d.bot, &d.user, hello, Some("🔥"));
    d.fake.user_reacts(&d.bot, &d.user, reply, Some("❤"));
    d.fake.user_reacts(&d.bot, &d.user, hello, None);
    d.fake.user_reacts(&d.bot, &d.user, hello, None);

    let updates = ok(&d.fake, &d.bot, "getUpdates", json!({ "offset": next })).await;
    let updates = updates.as_array().unwrap();
    assert_eq!(
        updates.len(),
        3,
        "a choice that changes nothing sends nothing: {updates:?}"
    );
    let first = &updates[0]["message_reaction"];
    assert_eq!(first["chat"]["id"], d.user.id);
    assert_eq!(first["chat"]["type"], "private");
    assert_eq!(first["message_id"], hello);
    assert_eq!(first["user"]["id"], d.user.id);
    assert!(first["date"].is_i64());
    assert_eq!(first["old_reaction"], emoji_reaction("👍"));
    assert_eq!(first["new_reaction"], emoji_reaction("🔥"));
    let on_reply = &updates[1]["message_reaction"];
    assert_eq!(on_reply["message_id"], reply);
    assert_eq!(
        (&on_reply["old_reaction"], &on_reply["new_reaction"]),
        (&json!([]), &emoji_reaction("❤"))
    );
    let removed = &updates[2]["message_reaction"];
    assert_eq!(
        (&removed["old_reaction"], &removed["new_reaction"]),
        (&emoji_reaction("🔥"), &json!([]))
    );

    // frankenstein decodes it.
    d.fake.user_reacts(&d.bot, &d.user, hello, Some("🤝"));
    let api = frankenstein_bot(&d.fake, &d.bot);
    let params = GetUpdatesParams::builder()
        .offset(update_ids(&Value::Array(updates.clone()))[2] + 1)
        .build();
    let decoded = api.get_updates(&params).await.unwrap().result;
    let UpdateContent::MessageReaction(reaction) = &decoded[0].content else {
        panic!("{decoded:?}");
    };
    assert_eq!(i64::from(reaction.message_id), hello);
    assert_eq!(
        reaction.user.as_ref().map(|u| u.id),
        u64::try_from(d.user.id).ok()
    );
    assert_eq!(
        reaction.new_reaction,
        [frankenstein::types::ReactionType::Emoji(
            frankenstein::types::ReactionTypeEmoji::builder()
                .emoji("🤝")
                .build()
        )]
    );
    let chat = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(reactions_to(&chat, hello), [(d.user.id, "🤝".to_owned())]);
    assert_eq!(reactions_to(&chat, reply), [(d.user.id, "❤".to_owned())]);
}

#[tokio::test]
async fn an_operators_reaction_reaches_only_the_admin_bots_that_asked() {
    let d = desk().await;
    let member = d.fake.add_bot("member_bot");
    let quiet = d.fake.add_bot("quiet_bot");
    d.fake.add_bot_to_group(d.group, &member, false);
    d.fake.add_bot_to_group(d.group, &quiet, true);
    let thread = d.topic("Alice").await;
    let said = d
        .fake
        .operator_sends(d.group, Some(thread), &d.operator, "on it");
    let admin_next = ask_for_reactions(&d.fake, &d.bot).await;
    let member_next = ask_for_reactions(&d.fake, &member).await;
    ok(&d.fake, &quiet, "getUpdates", json!({ "offset": -1 })).await;
    let quiet_pending = d.fake.pending_update_count(&quiet);

    d.fake
        .operator_reacts(d.group, &d.operator, said, Some("👌"));

    let updates = ok(
        &d.fake,
        &d.bot,
        "getUpdates",
        json!({ "offset": admin_next }),
    )
    .await;
    assert_eq!(updates.as_array().unwrap().len(), 1, "{updates}");
    let reaction = &updates[0]["message_reaction"];
    assert_eq!(reaction["chat"]["id"], d.group);
    assert_eq!(reaction["chat"]["type"], "supergroup");
    assert_eq!(reaction["message_id"], said);
    assert_eq!(reaction["user"]["id"], d.operator.id);
    assert_eq!(reaction["new_reaction"], emoji_reaction("👌"));
    let member_updates = ok(
        &d.fake,
        &member,
        "getUpdates",
        json!({ "offset": member_next }),
    )
    .await;
    assert_eq!(
        member_updates,
        json!([]),
        "a plain member gets no reactions"
    );
    assert_eq!(
        d.fake.pending_update_count(&quiet),
        quiet_pending,
        "an admin that did not ask gets none"
    );
    let shown = d.fake.topic_messages(d.group, thread);
    let said = shown.iter().find(|m| m.message_id == said).unwrap();
    assert_eq!(said.reaction_of(d.operator.id), Some("👌"));

    // Another operator, then a bot: the reactions are listed in the order chosen.
    let oleg = d.fake.add_user("Oleg", None);
    d.fake
        .operator_reacts(d.group, &oleg, said.message_id, Some("👌"));
    let by_bot = json!({ "chat_id": d.group, "message_id": said.message_id,
                         "reaction": emoji_reaction("🏆") });
    ok(&d.fake, &d.bot, "setMessageReaction", by_bot).await;
    let shown = d.fake.topic_messages(d.group, thread);
    assert_eq!(
        reactions_to(&shown, said.message_id),
        [
            (d.operator.id, "👌".to_owned()),
            (oleg.id, "👌".to_owned()),
            (d.bot.id, "🏆".to_owned()),
        ]
    );
    let updates = ok(
        &d.fake,
        &d.bot,
        "getUpdates",
        json!({ "offset": admin_next + 1 }),
    )
    .await;
    assert_eq!(
        updates.as_array().unwrap().len(),
        1,
        "Oleg's reaction only: {updates}"
    );
}

#[tokio::test]
#[should_panic(expected = "REACTION_INVALID")]
async fn a_person_cannot_react_with_an_emoji_telegram_does_not_offer() {
    let d = desk().await;
    let hello = d.fake.user_sends(&d.bot, &d.user, "hello");
    d.fake.user_reacts(&d.bot, &d.user, hello, Some("✅"));
}

// ---- live locations -----------------------------------------------------------

/// The bot's live location (for `live_period` seconds) in its chat with the
/// desk's user: its message id.
async fn send_live_location(d: &Desk, live_period: i64) -> i64 {
    d.fake.user_sends(&d.bot, &d.user, "/start");
    ok(
        &d.fake,
        &d.bot,
        "sendLocation",
        json!({ "chat_id": d.user.id, "latitude": 52.52, "longitude": 13.405,
                "live_period": live_period }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap()
}

/// Moves the date of message `id` of `chat_id` (the bot's chat with a user,
/// or a group) `seconds` into the past, as if it had been sent then.
fn backdate(d: &Desk, chat_id: i64, id: i64, seconds: i64) {
    d.fake
        .core
        .mutate(|w| w.backdate_message(d.bot.id, chat_id, id, seconds));
}

#[tokio::test]
async fn a_live_location_is_sent_moved_and_stopped() {
    let d = desk().await;
    d.fake.user_sends(&d.bot, &d.user, "/start");
    let sent = ok(
        &d.fake,
        &d.bot,
        "sendLocation",
        json!({ "chat_id": d.user.id, "latitude": 52.52, "longitude": 13.405,
                "horizontal_accuracy": 12.3, "live_period": 600, "heading": 90,
                "proximity_alert_radius": 100 }),
    )
    .await;
    assert_eq!(
        sent["location"],
        json!({ "latitude": 52.52, "longitude": 13.405, "horizontal_accuracy": 13.0,
                "live_period": 600, "heading": 90, "proximity_alert_radius": 100 })
    );
    assert_eq!(sent["from"]["id"], d.bot.id);
    let id = sent["message_id"].as_i64().unwrap();
    let pending = d.fake.pending_update_count(&d.bot);

    // A move: the new point; heading and alert radius go unless sent
    // again, the live period stays.
    let moved = ok(
        &d.fake,
        &d.bot,
        "editMessageLiveLocation",
        json!({ "chat_id": d.user.id, "message_id": id, "latitude": 52.53, "longitude": 13.41 }),
    )
    .await;
    assert_eq!(
        moved["location"],
        json!({ "latitude": 52.53, "longitude": 13.41, "live_period": 600 })
    );
    assert!(moved["edit_date"].as_i64().unwrap() >= moved["date"].as_i64().unwrap());
    let shown = d.fake.private_chat(&d.bot, &d.user);
    assert_eq!(nth(&shown, id).json, moved);
    assert_eq!(nth(&shown, id).edit_date(), moved["edit_date"].as_i64());

    // The same point again is no change; a longer period, a heading or a
    // keyboard is one. frankenstein decodes the answers.
    let same = json!({ "chat_id": d.user.id, "message_id": id, "latitude": 52.53,
                       "longitude": 13.41 });
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageLiveLocation", same, 400).await,
        NOT_MODIFIED
    );
    let api = frankenstein_bot(&d.fake, &d.bot);
    let keyboard = json!({ "inline_keyboard": [[ { "text": "Stop", "callback_data": "stop" } ]] });
    let params = frankenstein::methods::EditMessageLiveLocationParams::builder()
        .chat_id(d.user.id)
        .message_id(i32::try_from(id).unwrap())
        .latitude(52.53)
        .longitude(13.41)
        .live_period(1200)
        .heading(180)
        .reply_markup(serde_json::from_value(keyboard.clone()).unwrap())
        .build();
    let frankenstein::response::MessageOrBool::Message(message) = api
        .edit_message_live_location(&params)
        .await
        .unwrap()
        .result
    else {
        panic!("an edit of a chat's message answers the message");
    };
    let location = message.location.unwrap();
    assert_eq!(
        (location.live_period, location.heading),
        (Some(1200), Some(180))
    );
    assert_eq!(
        nth(&d.fake.private_chat(&d.bot, &d.user), id).json["reply_markup"],
        keyboard
    );

    // Stopped: it stays where it is, shows no live period, and can no
    // longer move or stop.
    let params = frankenstein::methods::StopMessageLiveLocationParams::builder()
        .chat_id(d.user.id)
        .message_id(i32::try_from(id).unwrap())
        .build();
    let frankenstein::response::MessageOrBool::Message(message) = api
        .stop_message_live_location(&params)
        .await
        .unwrap()
        .result
    else {
        panic!("a stop of a chat's message answers the message");
    };
    assert!(message.reply_markup.is_none(), "no keyboard sent: it goes");
    let stopped = nth(&d.fake.private_chat(&d.bot, &d.user), id).json.clone();
    assert_eq!(
        stopped["location"],
        json!({ "latitude": 52.53, "longitude": 13.41 })
    );
    let again = json!({ "chat_id": d.user.id, "message_id": id, "latitude": 1, "longitude": 2 });
    assert_eq!(
        fails(&d.fake, &d.bot, "editMessageLiveLocation", again, 400).await,
        "Bad Request: message can't be edited"
    );
    let stop = json!({ "chat_id": d.user.id, "message_id": id });
    assert_eq!(
        fails(&d.fake, &d.bot, "stopMessageLiveLocation", stop, 400).await,
        "Bad Request: message can't be edited"
    );
    assert_eq!(nth(&d.fake.private_chat(&d.bot, &d.user), id).json, stopped);
    assert_eq!(
        d.fake.pending_update_count(&d.bot),
        pending,
        "bots see no edits of bots' messages"
    );
    assert_eq!(
        d.fake.stats().accepted_sends(d.user.id).len(),
        1,
        "edits are no sends"
    );
}

#[tokio::test]
async fn live_location_edits_telegram_refuses_change_nothing() {
    let d = desk().await;
    let live = send_live_location(&d, 600).await;
    let choice = send_choice(&d).await;
    let still = ok(
        &d.fake,
        &d.bot,
        "sendLocation",
        json!({ "chat_id": d.user.id, "latitude": 1.5, "longitude": 2.5 }),
    )
    .await;
    assert_eq!(
        still["location"],
        json!({ "latitude": 1.5, "longitude": 2.5 }),
        "no live period: a location that never moves"
    );
    let still = still["message_id"].as_i64().unwrap();
    let users =
        d.fake
            .user_sends_content(&d.bot, &d.user, live_location_content(48.85, 2.35, 3600));

    let to = |id: i64, more: Value| {
        let mut params = json!({ "chat_id": d.user.id, "message_id": id, "latitude": 52.0,
                                 "longitude": 13.0 });
        params
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        params
    };
    let cases = [
        (to(still, json!({})), "Bad Request: message can't be edited"),
        (to(users, json!({})), "Bad Request: message can't be edited"),
        (
            to(choice, json!({})),
            "Bad Request: there is no live location in the message to edit",
        ),
        (to(99, json!({})), "Bad Request: message to edit not found"),
        (
            json!({ "chat_id": d.user.id, "message_id": live, "longitude": 13.0 }),
            "Bad Request: latitude is empty",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": live, "latitude": "", "longitude": 1 }),
            "Bad Request: latitude is empty",
        ),
        (
            json!({ "chat_id": d.user.id, "message_id": live, "latitude": 52.0 }),
            "Bad Request: longitude is empty",
        ),
        (
            to(live, json!({ "latitude": 91.0 })),
            "Bad Request: invalid location specified",
        ),
        (
            to(live, json!({ "longitude": -180.5 })),
            "Bad Request: invalid location specified",
        ),
        (
            to(live, json!({ "heading": 361 })),
            "Bad Request: wrong live location heading specified",
        ),
        (
            to(live, json!({ "proximity_alert_radius": 100_001 })),
            "Bad Request: wrong live location proximity alert radius specified",
        ),
        (
            to(live, json!({ "live_period": 600 + 86_400 + 1 })),
            "Bad Request: wrong live location period specified",
        ),
        (
            json!({ "inline_message_id": "AgAAAC", "latitude": 1, "longitude": 2 }),
            "Bad Request: inline messages are not modelled by the fake",
        ),
    ];
    refuses(&d.fake, &d.bot, "editMessageLiveLocation", &cases).await;
    let stop = |id: i64| json!({ "chat_id": d.user.id, "message_id": id });
    for (id, expected) in [
        (still, "Bad Request: message can't be edited"),
        (
            choice,
            "Bad Request: there is no live location in the message to edit",
        ),
    ] {
        assert_eq!(
            fails(&d.fake, &d.bot, "stopMessageLiveLocation", stop(id), 400).await,
            expected
        );
    }
    // Text and caption edits do not edit a location.
    assert_eq!(
        fails(
            &d.fake,
            &d.bot,
            "editMessageText",
            json!({ "chat_id": d.user.id, "message_id": live, "text": "x" }),
            400
        )
        .await,
        "Bad Request: message can't be edited"
    );
    assert!(
        d.fake
            .private_chat(&d.bot, &d.user)
            .iter()
            .all(|m| m.edit_date().is_none()),
        "nothing was edited"
    );

    // Sent 5 minutes ago for 10: a period that ended is refused, a longer one not.
    backdate(&d, d.user.id, live, 300);
    assert_eq!(
        fails(
            &d.fake,
            &d.bot,
            "editMessageLiveLocation",
            to(live, json!({ "live_period": 120 })),
            400
        )
        .await,
        "Bad Request: wrong live location period specified"
    );
    let longer = ok(
        &d.fake,
        &d.bot,
        "editMessageLiveLocation",
        to(live, json!({ "live_period": 900 })),
    )
    .await;
    assert_eq!(longer["location"]["live_period"], 900);
    // 20 minutes ago for 15: it ran out, and can't be moved or stopped.
    backdate(&d, d.user.id, live, 900);
    assert_eq!(
        fails(
            &d.fake,
            &d.bot,
            "editMessageLiveLocation",
            to(live, json!({ "latitude": 53.0 })),
            400
        )
        .await,
        "Bad Request: message can't be edited"
    );
    assert_eq!(
        fails(&d.fake, &d.bot, "stopMessageLiveLocation", stop(live), 400).await,
        "Bad Request: message can't be edited"
    );

    // 0x7FFFFFFF never runs out.
    let forever = ok(
        &d.fake,
        &d.bot,
        "sendLocation",
        json!({ "chat_id": d.user.id, "latitude": 1, "longitude": 2, "live_period": 0x7FFF_FFFF }),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();
    backdate(&d, d.user.id, forever, 400 * 86_400);
    ok(
        &d.fake,
        &d.bot,
        "editMessageLiveLocation",
        to(forever, json!({})),
    )
    .await;

    // sendLocation's own checks.
    let send = |more: Value| {
        let mut params = json!({ "chat_id": d.user.id, "latitude": 52.0, "longitude": 13.0 });
        params
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        params
    };
    let cases = [
        (
            json!({ "chat_id": d.user.id, "longitude": 1 }),
            "Bad Request: latitude is empty",
        ),
        (
            send(json!({ "latitude": 100 })),
            "Bad Request: wrong location specified",
        ),
        (
            send(json!({ "live_period": 30 })),
            "Bad Request: wrong live location period specified",
        ),
        (
            send(json!({ "live_period": 86_401 })),
            "Bad Request: wrong live location period specified",
        ),
        (
            send(json!({ "heading": 0x1_0000 })),
            "Bad Request: wrong live location heading specified",
        ),
        (
            send(json!({ "chat_id": -42 })),
            "Bad Request: chat not found",
        ),
    ];
    refuses(&d.fake, &d.bot, "sendLocation", &cases).await;
}

#[tokio::test]
async fn people_move_live_locations_and_bots_see_each_move() {
    let d = desk().await;
    let shared =
        d.fake
            .user_sends_content(&d.bot, &d.user, live_location_content(48.85, 2.35, 900));
    let next = d.fake.pending_update_count(&d.bot);
    assert_eq!(next, 1);

    d.fake
        .user_moves_live_location(&d.bot, &d.user, shared, 48.86, 2.36);
    let chat = d.fake.private_chat(&d.bot, &d.user);
    let moved = nth(&chat, shared);
    assert_eq!(
        moved.json["location"],
        json!({ "latitude": 48.86, "longitude": 2.36, "live_period": 900 })
    );
    assert!(moved.edit_date().is_some());

    let api = frankenstein_bot(&d.fake, &d.bot);
    let updates = api
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .unwrap()
        .result;
    assert_eq!(updates.len(), 2, "the message, then its move: {updates:?}");
    let UpdateContent::EditedMessage(edited) = &updates[1].content else {
        panic!("{updates:?}");
    };
    assert_eq!(i64::from(edited.message_id), shared);
    assert!(edited.edit_date.is_some());
    let location = edited.location.as_ref().unwrap();
    assert_eq!(
        (location.latitude, location.longitude, location.live_period),
        (48.86, 2.36, Some(900))
    );

    // An operator's live location in a topic: every bot of the group sees it move.
    let other = d.fake.add_bot("other_bot");
    d.fake.add_bot_to_group(d.group, &other, false);
    let topic = d.topic("Alice").await;
    let before = d.fake.pending_update_count(&other);
    let shared = d.fake.operator_sends_content(
        d.group,
        Some(topic),
        &d.operator,
        live_location_content(40.0, -3.7, 0x7FFF_FFFF),
    );
    d.fake
        .operator_moves_live_location(d.group, &d.operator, shared, 40.1, -3.71);
    let moved = d
        .fake
        .topic_messages(d.group, topic)
        .into_iter()
        .find(|m| m.message_id == shared)
        .unwrap();
    assert_eq!(moved.json["location"]["latitude"], 40.1);
    assert_eq!(d.fake.pending_update_count(&other), before + 2);
    let updates = ok(&d.fake, &other, "getUpdates", json!({ "offset": -1 })).await;
    assert_eq!(updates[0]["edited_message"], moved.json);
}

#[tokio::test]
#[should_panic(expected = "no live location that can still move")]
async fn a_person_cannot_move_a_live_location_that_ran_out() {
    let d = desk().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut content = live_location_content(48.85, 2.35, 60);
    content["date"] = (i64::try_from(now).unwrap() - 61).into();
    let shared = d.fake.user_sends_content(&d.bot, &d.user, content);
    d.fake
        .user_moves_live_location(&d.bot, &d.user, shared, 48.86, 2.36);
}

// ---- forwards -------------------------------------------------------------------

#[tokio::test]
async fn forwards_carry_the_content_and_the_first_origin() {
    let d = desk().await;
    let hello = d.fake.user_sends(&d.bot, &d.user, "/start hello");
    let source = nth(&d.fake.private_chat(&d.bot, &d.user), hello)
        .json
        .clone();
    let topic = d.topic("Alice").await;

    // A user's message: origin `user`, with the older fields beside it.
    let forwarded = ok(
        &d.fake,
        &d.bot,
        "forwardMessage",
        json!({ "chat_id": d.group, "message_thread_id": topic, "from_chat_id": d.user.id,
                "message_id": hello }),
    )
    .await;
    assert_eq!(forwarded["text"], "/start hello");
    assert_eq!(forwarded["entities"], source["entities"]);
    assert_eq!(forwarded["from"]["id"], d.bot.id);
    assert_eq!(forwarded["message_thread_id"], topic);
    assert_eq!(
        forwarded["forward_origin"],
        json!({ "type": "user", "sender_user": source["from"], "date": source["date"] })
    );
    assert_eq!(forwarded["forward_from"], source["from"]);
    assert_eq!(forwarded["forward_date"], source["date"]);
    assert!(forwarded.get("has_protected_content").is_none());
    let in_topic = d.fake.topic_messages(d.group, topic);
    assert_eq!(in_topic.last().unwrap().json, forwarded);

    // Forwarded again (back to the user, protected): the first origin stays.
    let api = frankenstein_bot(&d.fake, &d.bot);
    let params = frankenstein::methods::ForwardMessageParams::builder()
        .chat_id(d.user.id)
        .from_chat_id(d.group)
        .message_id(i32::try_from(forwarded["message_id"].as_i64().unwrap()).unwrap())
        .protect_content(true)
        .build();
    let again = api.forward_message(&params).await.unwrap().result;
    let Some(frankenstein::types::MessageOrigin::User(origin)) = again.forward_origin.as_deref()
    else {
        panic!("{again:?}");
    };
    assert_eq!(origin.sender_user.id, u64::try_from(d.user.id).unwrap());
    assert_eq!(again.has_protected_content, Some(true));
    let again_id = i64::from(again.message_id);
    let again = nth(&d.fake.private_chat(&d.bot, &d.user), again_id)
        .json
        .clone();
    assert_eq!(again["forward_origin"], forwarded["forward_origin"]);
    assert!(again.get("message_thread_id").is_none());

    // The bot's own message: the origin is the bot.
    let own = ok(
        &d.fake,
        &d.bot,
        "sendMessage",
        json!({ "chat_id": d.group, "text": "note" }),
    )
    .await;
    let forwarded = ok(
        &d.fake,
        &d.bot,
        "forwardMessage",
        json!({ "chat_id": d.user.id, "from_chat_id": d.group,
                "message_id": own["message_id"] }),
    )
    .await;
    assert_eq!(forwarded["forward_origin"]["type"], "user");
    assert_eq!(forwarded["forward_origin"]["sender_user"], own["from"]);

    // A message sent on behalf of a chat, and a forward of a channel post.
    let group_chat = in_topic[0].json["chat"].clone();
    let anonymous = d.fake.operator_sends_content(
        d.group,
        None,
        &d.operator,
        json!({ "text": "from the admins", "sender_chat": group_chat,
                "author_signature": "Olga" }),
    );
    let forwarded = ok(
        &d.fake,
        &d.bot,
        "forwardMessage",
        json!({ "chat_id": d.user.id, "from_chat_id": d.group, "message_id": anonymous }),
    )
    .await;
    let origin = &forwarded["forward_origin"];
    assert_eq!(
        (
            &origin["type"],
            &origin["sender_chat"],
            &origin["author_signature"]
        ),
        (&json!("chat"), &group_chat, &json!("Olga"))
    );
    assert_eq!(forwarded["forward_from_chat"], group_chat);
    assert_eq!(forwarded["forward_signature"], "Olga");
    let channel = json!({ "id": -1_001_999_000_001_i64, "type": "channel", "title": "News" });
    let post_origin =
        json!({ "type": "channel", "chat": channel, "message_id": 7, "date": 1_700_000_000 });
    let post = d.fake.user_sends_content(
        &d.bot,
        &d.user,
        json!({ "text": "big news", "forward_origin": post_origin }),
    );
    let forwarded = ok(
        &d.fake,
        &d.bot,
        "forwardMessage",
        json!({ "chat_id": d.group, "message_thread_id": topic, "from_chat_id": d.user.id,
                "message_id": post }),
    )
    .await;
    assert_eq!(forwarded["forward_origin"], post_origin);
    assert_eq!(forwarded["forward_from_chat"], channel);
    assert_eq!(forwarded["forward_from_message_id"], 7);
    assert_eq!(forwarded["forward_date"], 1_700_000_000);
    assert!(forwarded.get("forward_from").is_none());

    // What Telegram refuses.
    let forward = |chat: i64, id: i64| json!({ "chat_id": d.user.id, "from_chat_id": chat, "message_id": id });
    let cases = [
        (
            forward(d.user.id, 99),
            "Bad Request: message to forward not found",
        ),
        (
            forward(d.user.id, again_id),
            "Bad Request: message can't be forwarded",
        ),
        (
            forward(d.group, topic),
            "Bad Request: message can't be forwarded",
        ),
        (forward(-42, 1), "Bad Request: chat not found"),
        (
            json!({ "chat_id": d.user.id, "from_chat_id": d.user.id }),
            "Bad Request: message_id is empty",
        ),
    ];
    refuses(&d.fake, &d.bot, "forwardMessage", &cases).await;
    // A deleted topic's messages are gone.
    let in_topic_id = in_topic.last().unwrap().message_id;
    d.fake.delete_topic(d.group, topic);
    assert_eq!(
        fails(
            &d.fake,
            &d.bot,
            "forwardMessage",
            forward(d.group, in_topic_id),
            400
        )
        .await,
        "Bad Request: message to forward not found"
    );
}

#[tokio::test]
async fn forward_messages_keeps_albums_and_skips_what_cannot_be_forwarded() {
    let d = desk().await;
    let text = d.fake.user_sends(&d.bot, &d.user, "look");
    let mut album = Vec::new();
    for caption in ["one", "two"] {
        let mut photo = photo_content(Some(caption));
        photo["media_group_id"] = "111".into();
        album.push(d.fake.user_sends_content(&d.bot, &d.user, photo));
    }
    let protected = d.fake.user_sends_content(
        &d.bot,
        &d.user,
        json!({ "text": "secret", "has_protected_content": true }),
    );
    let topic = d.topic("Alice").await;

    let api = frankenstein_bot(&d.fake, &d.bot);
    let ids = [text, album[0], album[1], protected, 99];
    let params = frankenstein::methods::ForwardMessagesParams::builder()
        .chat_id(d.group)
        .message_thread_id(i32::try_from(topic).unwrap())
        .from_chat_id(d.user.id)
        .message_ids(
            ids.iter()
                .map(|&id| i32::try_from(id).unwrap())
                .collect::<Vec<_>>(),
        )
        .build();
    let forwarded = api.forward_messages(&params).await.unwrap().result;
    let forwarded: Vec<i64> = forwarded.iter().map(|m| i64::from(m.message_id)).collect();
    assert_eq!(
        forwarded.len(),
        3,
        "the protected and the missing one are skipped"
    );

    let in_topic = d.fake.topic_messages(d.group, topic);
    let shown: Vec<&FakeMessage> = forwarded
        .iter()
        .map(|&id| in_topic.iter().find(|m| m.message_id == id).unwrap())
        .collect();
    assert_eq!(shown[0].text.as_deref(), Some("look"));
    assert_eq!(shown[1].caption.as_deref(), Some("one"));
    assert_eq!(shown[2].caption.as_deref(), Some("two"));
    let new_album = shown[1].media_group_id().unwrap();
    assert_eq!(shown[2].media_group_id(), Some(new_album));
    assert_ne!(new_album, "111");
    assert!(shown[0].media_group_id().is_none());
    let source = d.fake.private_chat(&d.bot, &d.user);
    for (forward, &id) in shown.iter().zip(&ids) {
        let origin = &forward.json["forward_origin"];
        assert_eq!(origin["type"], "user");
        assert_eq!(origin["sender_user"]["id"], d.user.id);
        assert_eq!(origin["date"], nth(&source, id).json["date"]);
        assert_eq!(forward.json["from"]["id"], d.bot.id);
    }

    // Each forward is a send.
    assert_eq!(
        d.fake.stats().accepted_sends(d.group).len(),
        4,
        "the topic and 3 forwards"
    );

    let forward =
        |ids: Value| json!({ "chat_id": d.group, "from_chat_id": d.user.id, "message_ids": ids });
    let cases = [
        (
            forward(json!([protected, 99])),
            "Bad Request: messages can't be forwarded",
        ),
        (
            forward(json!([2, 1])),
            "Bad Request: message identifiers must be increasing",
        ),
        (
            forward(json!([])),
            "Bad Request: message_ids must list 1-100 messages",
        ),
        (
            json!({ "chat_id": d.group, "from_chat_id": d.user.id }),
            "Bad Request: message_ids is empty",
        ),
    ];
    refuses(&d.fake, &d.bot, "forwardMessages", &cases).await;
}
