//! The parallel connection: an existing bot, written with a real Bot API
//! client (frankenstein), keeps working through switchboard's proxy while
//! operators answer in the topics.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use frankenstein::AsyncTelegramApi;
use frankenstein::client_reqwest::Bot;
use frankenstein::methods::{GetUpdatesParams, SendMessageParams};
use frankenstein::types::{AllowedUpdate, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};
use frankenstein::updates::UpdateContent;
use switchboard::config::{BotSettings, Mode, Proxy};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::util::{Desk, PATIENCE, texts};

/// What the existing bot saw: each update's id and what it was, and every
/// call that failed.
#[derive(Default)]
struct Seen {
    updates: Vec<(i64, String)>,
    errors: Vec<String>,
}

/// An existing bot as a team writes one, on frankenstein: it long-polls
/// its Bot API server (the proxy here), answers `/start` with an inline
/// keyboard and every other text with an echo. It keeps its own offset.
struct ExistingBot {
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl ExistingBot {
    fn start(base_url: &str, token: &str) -> ExistingBot {
        let api = Bot::new_url(format!("{base_url}/bot{token}"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(api, Arc::clone(&seen), stop.clone()));
        ExistingBot { seen, stop, task }
    }

    fn update_ids(&self) -> Vec<i64> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.updates.iter().map(|(id, _)| *id).collect()
    }

    fn texts(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.updates.iter().map(|(_, text)| text.clone()).collect()
    }

    fn errors(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.errors.clone()
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

fn keyboard() -> ReplyMarkup {
    let button = |text: &str| InlineKeyboardButton::builder().text(text);
    ReplyMarkup::InlineKeyboardMarkup(
        InlineKeyboardMarkup::builder()
            .inline_keyboard(vec![
                vec![
                    button("Prices").callback_data("prices").build(),
                    button("Hours").callback_data("hours").build(),
                ],
                vec![button("Website").url("https://shop.example").build()],
            ])
            .build(),
    )
}

async fn run(api: Bot, seen: Arc<Mutex<Seen>>, stop: CancellationToken) {
    let mut offset = 0;
    loop {
        let params = GetUpdatesParams::builder()
            .offset(offset)
            .timeout(5)
            .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .build();
        let result = tokio::select! {
            () = stop.cancelled() => return,
            result = api.get_updates(&params) => result,
        };
        let updates = match result {
            Ok(response) => response.result,
            Err(err) => {
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .errors
                    .push(err.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        for update in updates {
            offset = i64::from(update.update_id) + 1;
            let (what, answer) = match &update.content {
                UpdateContent::Message(message) => {
                    let text = message.text.clone().unwrap_or_default();
                    let answer = if text == "/start" {
                        SendMessageParams::builder()
                            .chat_id(message.chat.id)
                            .text("Welcome to the shop!")
                            .reply_markup(keyboard())
                            .build()
                    } else {
                        SendMessageParams::builder()
                            .chat_id(message.chat.id)
                            .text(format!("echo: {text}"))
                            .build()
                    };
                    (text, Some(answer))
                }
                other => (format!("{other:?}").chars().take(40).collect(), None),
            };
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .updates
                .push((i64::from(update.update_id), what));
            if let Some(answer) = answer {
                if let Err(err) = api.send_message(&answer).await {
                    seen.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .errors
                        .push(err.to_string());
                }
            }
        }
    }
}

fn proxy_mode() -> Mode {
    Mode::Proxy(Proxy {
        take_over_webhook: false,
    })
}

async fn proxy_desk(settings: BotSettings) -> Desk {
    let mut desk = Desk::prepare(&[("shop", settings)]).await;
    desk.bots[0].config.mode = proxy_mode();
    desk.launch();
    desk
}

/// Waits until the existing bot has seen `count` updates.
async fn wait_seen(bot: &ExistingBot, count: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while bot.update_ids().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the existing bot saw {:?}, not {count} updates; errors: {:?}",
            bot.texts(),
            bot.errors()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_existing_bot_keeps_answering_beside_the_operators() {
    let desk = proxy_desk(BotSettings::default()).await;
    let existing = ExistingBot::start(&format!("http://{}", desk.http), &desk.bot().token);
    let user = desk.fake.add_user("Ann", None);

    desk.fake.user_sends(desk.bot(), &user, "/start");
    desk.wait("the bot's answer", |fake| {
        texts(&fake.private_chat(desk.bot(), &user))
            .contains(&"Welcome to the shop!".to_owned())
            .then_some(())
    })
    .await;
    let thread = desk.topic_of(&user).await;
    desk.wait_topic_texts(desk.group(), thread, &["/start", "Welcome to the shop!"])
        .await;

    // An operator answers in the topic: the user gets it, and the bot
    // never sees the operator's message.
    desk.fake.operator_sends(
        desk.group(),
        Some(thread),
        &desk.operator,
        "Hi Ann, Olga here",
    );
    desk.fake.user_sends(desk.bot(), &user, "thanks");
    wait_seen(&existing, 2).await;
    desk.settle().await;
    let chat = texts(&desk.fake.private_chat(desk.bot(), &user));
    let welcome = crate::util::welcome();
    for expected in [
        "Welcome to the shop!",
        "Hi Ann, Olga here",
        "echo: thanks",
        welcome.as_str(),
    ] {
        assert_eq!(
            chat.iter().filter(|t| *t == expected).count(),
            1,
            "{expected:?} reaches the user once: {chat:?}"
        );
    }
    assert_eq!(existing.texts(), ["/start", "thanks"]);
    let ids = existing.update_ids();
    assert!(ids[0] < ids[1], "in order: {ids:?}");
    assert_eq!(
        existing.errors(),
        Vec::<String>::new(),
        "no call failed, no 409"
    );

    // Operators saw the whole conversation, the bot's part marked as the
    // bot's, its keyboard shown.
    let topic = desk.fake.topic_messages(desk.group(), thread);
    assert_eq!(
        texts(&topic),
        [
            "/start",
            "Welcome to the shop!",
            "Hi Ann, Olga here",
            "thanks",
            "echo: thanks"
        ]
    );
    let mirror = topic
        .iter()
        .find(|m| m.text.as_deref() == Some("Welcome to the shop!"))
        .expect("the mirror");
    assert!(mirror.from_is_bot);
    assert_eq!(
        mirror.json["reply_markup"],
        serde_json::json!({"inline_keyboard": [
            [{"text": "Prices", "callback_data": "switchboard:bot-button"},
             {"text": "Hours", "callback_data": "switchboard:bot-button"}],
            [{"text": "Website", "url": "https://shop.example"}]
        ]}),
        "URL buttons stay, the bot's callback buttons are shown but inert"
    );
    existing.stop().await;
}

#[tokio::test]
async fn with_intercept_external_off_nothing_is_mirrored() {
    let desk = proxy_desk(BotSettings {
        intercept_external: false,
        ..BotSettings::default()
    })
    .await;
    let existing = ExistingBot::start(&format!("http://{}", desk.http), &desk.bot().token);
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "/start");
    wait_chat_contains(&desk, &user, "Welcome to the shop!").await;
    let thread = desk.topic_of(&user).await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.topic_messages(desk.group(), thread)),
        ["/start"]
    );
    existing.stop().await;
}

#[tokio::test]
async fn a_dialog_that_opens_shows_what_the_bot_said_before() {
    let desk = proxy_desk(BotSettings {
        private_keywords: vec!["operator".into()],
        intercept_history: 2,
        ..BotSettings::default()
    })
    .await;
    let existing = ExistingBot::start(&format!("http://{}", desk.http), &desk.bot().token);
    let user = desk.fake.add_user("Ann", None);
    for text in ["/start", "one", "two"] {
        desk.fake.user_sends(desk.bot(), &user, text);
        let answer = if text == "/start" {
            "Welcome to the shop!".to_owned()
        } else {
            format!("echo: {text}")
        };
        wait_chat_contains(&desk, &user, &answer).await;
    }
    desk.fake.user_sends(desk.bot(), &user, "operator please");
    let thread = desk.topic_of(&user).await;
    wait_chat_contains(&desk, &user, "echo: operator please").await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.topic_messages(desk.group(), thread)),
        [
            "echo: one",
            "echo: two",
            "operator please",
            "echo: operator please"
        ],
        "the last two of the bot's messages, then the dialog"
    );
    existing.stop().await;
}

#[tokio::test]
async fn updates_keep_their_ids_and_types_the_bot_did_not_ask_for_stay_away() {
    let desk = proxy_desk(BotSettings::default()).await;
    let existing = ExistingBot::start(&format!("http://{}", desk.http), &desk.bot().token);
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "hello");
    wait_seen(&existing, 1).await;
    let pushed = desk.fake.push_raw_update(
        desk.bot(),
        serde_json::json!({"message": {
            "message_id": 900, "date": 1_700_000_000,
            "chat": {"id": user.id, "type": "private", "first_name": "Ann"},
            "from": {"id": user.id, "is_bot": false, "first_name": "Ann"},
            "text": "pushed"
        }}),
    );
    // Not asked for (the bot's allowed_updates): never offered.
    desk.fake.push_raw_update(
        desk.bot(),
        serde_json::json!({"poll_answer": {"poll_id": "p", "option_ids": [0],
            "user": {"id": user.id, "is_bot": false, "first_name": "Ann"}}}),
    );
    desk.fake.user_sends(desk.bot(), &user, "last");
    wait_seen(&existing, 3).await;
    desk.settle().await;
    assert_eq!(existing.texts(), ["hello", "pushed", "last"]);
    assert_eq!(existing.update_ids()[1], pushed, "the original update_id");
    existing.stop().await;
}

#[tokio::test]
async fn an_unconfigured_token_is_refused_without_a_call_to_telegram() {
    let desk = proxy_desk(BotSettings::default()).await;
    let stranger = desk.fake.add_bot("stranger_bot");
    let client = reqwest::Client::new();
    let base = format!("http://{}", desk.http);
    desk.fake.clear_requests();
    for path in [
        format!("/bot{}/getMe", stranger.token),
        format!("/bot{}/sendMessage?chat_id=1&text=x", stranger.token),
        format!("/file/bot{}/photos/a.jpg", stranger.token),
        format!("/bot{}:x/getMe", desk.bot().token),
    ] {
        let response = client
            .post(format!("{base}{path}"))
            .header("Host", "api.telegram.org")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        );
    }
    let unknown = client.get(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let passed_on: Vec<_> = desk
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.bot_id != Some(desk.bot().id))
        .collect();
    assert!(
        passed_on.is_empty(),
        "nothing reached Telegram: {passed_on:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    desk.bots[0].config.mode = proxy_mode();
    desk.max_upload = 1024 * 1024;
    desk.launch();
    let client = reqwest::Client::new();
    let url = format!("http://{}/bot{}/sendDocument", desk.http, desk.bot().token);
    let big = vec![b'x'; 2 * 1024 * 1024];
    let declared = client.post(&url).body(big.clone()).send().await.unwrap();
    assert_eq!(declared.status().as_u16(), 413);
    // Without a length up front: counted as it streams.
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let streamed = client
        .post(&url)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status().as_u16(), 413);
    let body: serde_json::Value = streamed.json().await.unwrap();
    assert_eq!(body["error_code"], 413);
}

/// An update a webhook took, with the secret header it came with.
type Taken = (Option<String>, serde_json::Value);

/// A bot's webhook endpoint on loopback: it records each update it takes
/// with the secret header it came with, fails the first `failures` requests
/// with 500, and answers a text "reply" with a webhook reply (a
/// `sendMessage` in the response body).
struct Endpoint {
    url: String,
    taken: Arc<Mutex<Vec<Taken>>>,
    refused: Arc<Mutex<usize>>,
}

impl Endpoint {
    async fn start(failures: usize) -> Endpoint {
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        let taken = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let (record, count) = (Arc::clone(&taken), Arc::clone(&refused));
        let handler =
            move |headers: HeaderMap, axum::Json(update): axum::Json<serde_json::Value>| {
                let (record, count) = (Arc::clone(&record), Arc::clone(&count));
                async move {
                    {
                        let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
                        if *count < failures {
                            *count += 1;
                            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                        }
                    }
                    let secret = headers
                        .get("X-Telegram-Bot-Api-Secret-Token")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let text = update["message"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let chat = update["message"]["chat"]["id"].clone();
                    record
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((secret, update));
                    if text == "reply" {
                        axum::Json(serde_json::json!({
                        "method": "sendMessage", "chat_id": chat, "text": "answered in the webhook reply"
                    }))
                    .into_response()
                    } else {
                        StatusCode::OK.into_response()
                    }
                }
            };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint {
            url,
            taken,
            refused,
        }
    }

    fn texts(&self) -> Vec<String> {
        let taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken
            .iter()
            .map(|(_, u)| u["message"]["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn secrets(&self) -> Vec<Option<String>> {
        let taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken.iter().map(|(secret, _)| secret.clone()).collect()
    }

    fn update_ids(&self) -> Vec<i64> {
        let taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        taken
            .iter()
            .map(|(_, u)| u["update_id"].as_i64().unwrap_or_default())
            .collect()
    }

    async fn wait_texts(&self, expected: &[&str]) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.texts() != expected {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook took {:?}, not {expected:?}",
                self.texts()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn wait_chat_contains(desk: &Desk, user: &switchboard::fake::FakeUser, text: &str) {
    desk.wait(&format!("{text:?} in the user's chat"), |fake| {
        texts(&fake.private_chat(desk.bot(), user))
            .iter()
            .any(|t| t == text)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_webhook_set_on_the_proxy_gets_every_update_in_order_with_its_secret() {
    let desk = proxy_desk(BotSettings::default()).await;
    let endpoint = Endpoint::start(1).await;
    let api = Bot::new_url(format!("http://{}/bot{}", desk.http, desk.bot().token));
    let set = api
        .set_webhook(
            &frankenstein::methods::SetWebhookParams::builder()
                .url(endpoint.url.clone())
                .secret_token("hook-secret_1")
                .build(),
        )
        .await
        .expect("setWebhook is answered by the proxy");
    assert!(set.result);
    // Telegram's rule: no getUpdates while a webhook is set.
    let conflict = api
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .expect_err("409 while a webhook is set");
    assert!(
        conflict.to_string().contains("webhook is active"),
        "{conflict}"
    );

    let user = desk.fake.add_user("Ann", None);
    for text in ["one", "two", "reply"] {
        desk.fake.user_sends(desk.bot(), &user, text);
    }
    endpoint.wait_texts(&["one", "two", "reply"]).await;
    assert_eq!(*endpoint.refused.lock().unwrap(), 1, "the 500 was retried");
    assert_eq!(
        endpoint.secrets(),
        vec![Some("hook-secret_1".to_owned()); 3]
    );
    let ids = endpoint.update_ids();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    wait_chat_contains(&desk, &user, "answered in the webhook reply").await;

    let info = api.get_webhook_info().await.unwrap().result;
    assert_eq!(info.url, endpoint.url);
    assert_eq!(info.pending_update_count, 0);
    assert!(
        info.last_error_message
            .as_deref()
            .is_some_and(|m| m.contains("500")),
        "{info:?}"
    );
    assert!(info.last_error_date.is_some());

    // Back to polling: the bot's getUpdates works again.
    assert!(
        api.delete_webhook(&frankenstein::methods::DeleteWebhookParams::builder().build())
            .await
            .unwrap()
            .result
    );
    desk.fake.user_sends(desk.bot(), &user, "polled");
    let polled = api
        .get_updates(&GetUpdatesParams::builder().timeout(5).build())
        .await
        .unwrap()
        .result;
    assert_eq!(polled.len(), 1);
    assert!(i64::from(polled[0].update_id) > *ids.last().unwrap());
}

#[tokio::test]
async fn forward_mode_posts_every_update_to_the_bots_webhook() {
    let endpoint = Endpoint::start(1).await;
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    desk.bots[0].config.mode = Mode::Forward(switchboard::config::Forward {
        url: endpoint.url.clone(),
        secret: Some(switchboard::config::HookSecret::new("fw-secret")),
    });
    desk.launch();
    let user = desk.fake.add_user("Ann", None);
    for text in ["one", "two", "reply"] {
        desk.fake.user_sends(desk.bot(), &user, text);
    }
    endpoint.wait_texts(&["one", "two", "reply"]).await;
    assert_eq!(endpoint.secrets(), vec![Some("fw-secret".to_owned()); 3]);
    wait_chat_contains(&desk, &user, "answered in the webhook reply").await;
    // The dialog goes on as usual beside the bot, the webhook reply shown.
    let thread = desk.topic_of(&user).await;
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &["one", "two", "reply", "answered in the webhook reply"],
    )
    .await;
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "Olga here");
    wait_chat_contains(&desk, &user, "Olga here").await;
    desk.settle().await;
    assert_eq!(
        endpoint.texts(),
        ["one", "two", "reply"],
        "operators' messages stay away"
    );
}

#[tokio::test]
async fn with_bot_sees_dialogs_off_the_bot_is_silent_while_a_human_talks() {
    let settings = BotSettings {
        private_keywords: vec!["operator".into()],
        bot_sees_dialogs: false,
        ..BotSettings::default()
    };
    let desk = proxy_desk(settings).await;
    let existing = ExistingBot::start(&format!("http://{}", desk.http), &desk.bot().token);
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "/start");
    wait_seen(&existing, 1).await;
    desk.fake
        .user_sends(desk.bot(), &user, "I need an operator");
    let thread = desk.topic_of(&user).await;
    desk.fake.user_sends(desk.bot(), &user, "still there?");
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &["Welcome to the shop!", "I need an operator", "still there?"],
    )
    .await;
    desk.fake
        .operator_sends(desk.group(), Some(thread), &desk.operator, "/close");
    desk.settle().await;
    desk.fake.user_sends(desk.bot(), &user, "bye");
    wait_seen(&existing, 2).await;
    desk.settle().await;
    assert_eq!(existing.texts(), ["/start", "bye"]);
    existing.stop().await;
}

/// A bots.toml with one bot "shop" (token in `SHOP_TOKEN`) in proxy mode.
fn write_proxy_config(
    dir: &std::path::Path,
    fake: &switchboard::fake::FakeTelegram,
    listen: std::net::SocketAddr,
    group: i64,
) -> std::path::PathBuf {
    let config = crate::util::write_bots_config(
        dir,
        &fake.api_url(),
        listen,
        &[("shop", "SHOP_TOKEN", group)],
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("mode = \"proxy\"\n");
    std::fs::write(&config, text).unwrap();
    config
}

/// The existing bot long-polls the real binary, which is killed with
/// SIGKILL while updates flow and started again: the bot gets every update
/// once, in order, with its own offset saying what it has, and never a 409.
#[tokio::test]
async fn every_update_reaches_the_bot_once_across_a_sigkill() {
    use crate::util::{Switchboard, free_port, switchboard_command};
    let fake = switchboard::fake::FakeTelegram::start().await.unwrap();
    let bot = fake.add_bot("shop_bot");
    let group = fake.add_forum_group("shop support", &[&bot]);
    let user = fake.add_user("Ann", None);
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    let config = write_proxy_config(dir.path(), &fake, http, group);
    let start = || {
        let mut command = switchboard_command(&config);
        command
            .env("SHOP_TOKEN", &bot.token)
            .env("RUST_LOG", "warn");
        Switchboard::spawn(command, None)
    };

    let mut process = start();
    crate::util::wait_for_health(http, |h| h["bots"]["shop"]["state"] == "polling").await;
    let existing = ExistingBot::start(&format!("http://{http}"), &bot.token);
    let sent: Vec<String> = (1..=60).map(|n| format!("message {n}")).collect();
    for text in &sent[..20] {
        fake.user_sends(&bot, &user, text);
    }
    wait_seen(&existing, 5).await;
    drop(process); // SIGKILL
    for text in &sent[20..40] {
        fake.user_sends(&bot, &user, text);
    }
    process = start();
    for text in &sent[40..] {
        fake.user_sends(&bot, &user, text);
    }
    wait_seen(&existing, 60).await;
    // Once the bot's offset has confirmed everything, nothing more can come.
    let api = Bot::new_url(format!("http://{http}/bot{}", bot.token));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while api
        .get_webhook_info()
        .await
        .unwrap()
        .result
        .pending_update_count
        > 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "updates stay unconfirmed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(existing.texts(), sent);
    let ids = existing.update_ids();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    let errors = existing.errors();
    assert!(
        errors
            .iter()
            .all(|e| !e.contains("409") && !e.contains("onflict")),
        "{errors:?}"
    );
    existing.stop().await;
    let logs = process.stop();
    assert!(!logs.contains(&bot.token), "the token is never logged");
    let secret = bot.token.split_once(':').unwrap().1.as_bytes();
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "the token is not stored in {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn files_download_through_the_proxy_and_method_names_match_in_any_case() {
    let (desk, user, _thread, api) = open_dialog_beside_the_bot().await;
    let bytes: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("price list.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let sent = api
        .send_document(
            &frankenstein::methods::SendDocumentParams::builder()
                .chat_id(user.id)
                .document(path)
                .build(),
        )
        .await
        .unwrap()
        .result;
    let file_id = sent.document.unwrap().file_id;
    let file = api
        .get_file(
            &frankenstein::methods::GetFileParams::builder()
                .file_id(file_id)
                .build(),
        )
        .await
        .unwrap()
        .result;
    let file_path = file.file_path.expect("a path to download");
    // python-telegram-bot asks with the token percent-encoded.
    let encoded = desk.bot().token.replace(':', "%3A");
    let downloaded = reqwest::get(format!(
        "http://{}/file/bot{encoded}/{file_path}",
        desk.http
    ))
    .await
    .unwrap();
    assert_eq!(downloaded.status().as_u16(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), bytes);

    // Telegram matches method names in any case; so does the proxy, for
    // the methods it answers itself.
    let before = desk.fake.request_count("getWebhookInfo");
    let get = |method: &str| {
        let url = format!("http://{}/bot{}/{method}", desk.http, desk.bot().token);
        async move {
            let answer = reqwest::get(url).await.unwrap();
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let info = get("GETWEBHOOKINFO").await;
    assert_eq!(info["result"]["url"], "");
    assert_eq!(
        desk.fake.request_count("getWebhookInfo"),
        before,
        "answered by switchboard"
    );
    let me = get("GETME").await;
    assert_eq!(me["result"]["username"], "shop_bot", "passed on as named");
}

#[tokio::test]
async fn a_webhook_left_at_telegram_is_taken_over_when_asked() {
    let endpoint = Endpoint::start(0).await;
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    desk.bots[0].config.mode = Mode::Proxy(Proxy {
        take_over_webhook: true,
    });
    let telegram = Bot::new_url(format!("{}/bot{}", desk.fake.api_url(), desk.bot().token));
    let set = frankenstein::methods::SetWebhookParams::builder()
        .url(endpoint.url.clone())
        .build();
    telegram
        .set_webhook(&set)
        .await
        .expect("the webhook is set at Telegram");
    desk.launch();
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "hello");
    endpoint.wait_texts(&["hello"]).await;
    let at_telegram = telegram.get_webhook_info().await.unwrap().result;
    assert_eq!(at_telegram.url, "", "removed at Telegram");
    let proxy = Bot::new_url(format!("http://{}/bot{}", desk.http, desk.bot().token));
    assert_eq!(
        proxy.get_webhook_info().await.unwrap().result.url,
        endpoint.url
    );
    desk.topic_of(&user).await;
}

/// A proxy-mode desk with one user whose dialog is open (no existing bot
/// polling: the test calls the proxy itself), and a frankenstein client
/// on the proxy.
async fn open_dialog_beside_the_bot() -> (Desk, switchboard::fake::FakeUser, i64, Bot) {
    let desk = proxy_desk(BotSettings::default()).await;
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "hello");
    let thread = desk.topic_of(&user).await;
    desk.wait_topic_texts(desk.group(), thread, &["hello"])
        .await;
    let api = Bot::new_url(format!("http://{}/bot{}", desk.http, desk.bot().token));
    (desk, user, thread, api)
}

#[tokio::test]
async fn a_photo_the_bot_uploads_reaches_the_user_and_the_topic() {
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("menu.jpg");
    std::fs::write(&path, vec![7u8; 300 * 1024]).unwrap();
    let params = frankenstein::methods::SendPhotoParams::builder()
        .chat_id(user.id)
        .photo(path)
        .caption("Today's menu")
        .build();
    let sent = api
        .send_photo(&params)
        .await
        .expect("the upload goes through")
        .result;
    let photo = sent.photo.expect("a photo").last().unwrap().file_id.clone();
    assert_eq!(
        desk.fake.file_bytes(&photo).map(|b| b.len()),
        Some(300 * 1024)
    );
    let shown = desk
        .wait("the photo's mirror", |fake| {
            fake.topic_messages(desk.group(), thread)
                .into_iter()
                .find(|m| m.caption.as_deref() == Some("Today's menu"))
        })
        .await;
    assert_eq!(shown.file_id(), Some(photo.as_str()), "the same photo");
    let received = desk.fake.private_chat(desk.bot(), &user);
    assert_eq!(
        received
            .iter()
            .filter(|m| m.file_id() == Some(photo.as_str()))
            .count(),
        1,
        "the user got it once"
    );
}

#[tokio::test]
async fn the_bots_edits_follow_its_mirror_and_button_presses_show() {
    use frankenstein::methods::{EditMessageReplyMarkupParams, EditMessageTextParams};
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    let ReplyMarkup::InlineKeyboardMarkup(markup) = keyboard() else {
        unreachable!("an inline keyboard")
    };
    let sent = api
        .send_message(
            &SendMessageParams::builder()
                .chat_id(user.id)
                .text("Choose:")
                .reply_markup(keyboard())
                .build(),
        )
        .await
        .unwrap()
        .result;
    desk.wait_topic_texts(desk.group(), thread, &["hello", "Choose:"])
        .await;

    let query =
        desk.fake
            .user_presses_button(desk.bot(), &user, i64::from(sent.message_id), "prices");
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &["hello", "Choose:", "🔘 Ann pressed “Prices”"],
    )
    .await;
    // The bot gets the press and answers it, as always.
    let updates = api
        .get_updates(&GetUpdatesParams::builder().build())
        .await
        .unwrap()
        .result;
    assert!(
        updates
            .iter()
            .any(|u| matches!(&u.content, UpdateContent::CallbackQuery(q) if q.id == query)),
        "{updates:?}"
    );

    api.edit_message_text(
        &EditMessageTextParams::builder()
            .chat_id(user.id)
            .message_id(sent.message_id)
            .text("Prices: 10 €")
            .reply_markup(markup)
            .build(),
    )
    .await
    .unwrap();
    desk.wait_topic_texts(
        desk.group(),
        thread,
        &["hello", "Prices: 10 €", "🔘 Ann pressed “Prices”"],
    )
    .await;
    api.edit_message_reply_markup(
        &EditMessageReplyMarkupParams::builder()
            .chat_id(user.id)
            .message_id(sent.message_id)
            .build(),
    )
    .await
    .unwrap();
    let mirror = desk
        .wait("the mirror without its keyboard", |fake| {
            fake.topic_messages(desk.group(), thread)
                .into_iter()
                .find(|m| {
                    m.text.as_deref() == Some("Prices: 10 €")
                        && m.json.get("reply_markup").is_none()
                })
        })
        .await;
    assert!(mirror.from_is_bot);
}

#[tokio::test]
async fn an_album_the_bot_sends_stays_one_album_in_the_topic() {
    use frankenstein::input_media::{InputMediaPhoto, MediaGroupInputMedia};
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    let media = (1..=3)
        .map(|n| {
            MediaGroupInputMedia::Photo(
                InputMediaPhoto::builder()
                    .media(format!("https://shop.example/photo{n}.jpg"))
                    .caption(format!("photo {n}"))
                    .build(),
            )
        })
        .collect();
    let sent = api
        .send_media_group(
            &frankenstein::methods::SendMediaGroupParams::builder()
                .chat_id(user.id)
                .media(media)
                .build(),
        )
        .await
        .expect("the album is sent")
        .result;
    assert_eq!(sent.len(), 3);
    let album = desk
        .wait("the album's mirror", |fake| {
            let mirrored: Vec<_> = fake
                .topic_messages(desk.group(), thread)
                .into_iter()
                .filter(|m| {
                    m.caption
                        .as_deref()
                        .is_some_and(|c| c.starts_with("photo "))
                })
                .collect();
            (mirrored.len() == 3).then_some(mirrored)
        })
        .await;
    let groups: Vec<_> = album.iter().map(|m| m.media_group_id()).collect();
    assert!(
        groups[0].is_some() && groups.iter().all(|g| *g == groups[0]),
        "one album: {groups:?}"
    );
    desk.settle().await;
    assert_eq!(
        desk.fake.request_count("copyMessages"),
        1,
        "one call for the whole album"
    );
}

#[tokio::test]
async fn a_message_the_bot_sends_while_the_disk_is_full_is_mirrored_once_it_frees() {
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    desk.faults.set_disk_full(true);
    let sent = api
        .send_message(
            &SendMessageParams::builder()
                .chat_id(user.id)
                .text("sent during the outage")
                .build(),
        )
        .await;
    // Answered after the record was refused.
    assert!(sent.is_ok(), "the bot's call is answered: {sent:?}");
    desk.faults.set_disk_full(false);
    desk.wait_topic_texts(desk.group(), thread, &["hello", "sent during the outage"])
        .await;
}

#[tokio::test]
async fn switchboard_polls_telegram_for_the_types_the_bot_asks_for() {
    let desk = proxy_desk(BotSettings::default()).await;
    let api = Bot::new_url(format!("http://{}/bot{}", desk.http, desk.bot().token));
    let asked = GetUpdatesParams::builder()
        .allowed_updates(vec![
            AllowedUpdate::Message,
            AllowedUpdate::ChatMember,
            AllowedUpdate::MessageReaction,
        ])
        .build();
    api.get_updates(&asked).await.unwrap();
    let polled_for = |fake: &switchboard::fake::FakeTelegram| {
        fake.requests()
            .into_iter()
            .rev()
            .filter(|r| r.method == "getUpdates" && r.bot_id == Some(desk.bot().id))
            .find_map(|r| r.params.get("allowed_updates").cloned())
    };
    let allowed = desk
        .wait("a poll for the bot's types", |fake| {
            polled_for(fake).filter(|allowed| {
                allowed
                    .as_array()
                    .is_some_and(|a| a.contains(&"chat_member".into()))
            })
        })
        .await;
    for kind in [
        "message",
        "chat_member",
        "message_reaction",
        "my_chat_member",
        "callback_query",
    ] {
        assert!(
            allowed.as_array().unwrap().contains(&kind.into()),
            "{kind} in {allowed}"
        );
    }
}

/// A proxy on an address other machines reach is named as a risk.
#[tokio::test]
async fn listening_beyond_loopback_warns() {
    use crate::util::{Switchboard, free_port, switchboard_command};
    let fake = switchboard::fake::FakeTelegram::start().await.unwrap();
    let bot = fake.add_bot("shop_bot");
    let group = fake.add_forum_group("shop support", &[&bot]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().port();
    let all: std::net::SocketAddr = format!("0.0.0.0:{port}").parse().unwrap();
    let config = write_proxy_config(dir.path(), &fake, all, group);
    let mut command = switchboard_command(&config);
    command
        .env("SHOP_TOKEN", &bot.token)
        .env("RUST_LOG", "warn");
    let process = Switchboard::spawn(command, None);
    let local: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    crate::util::wait_for_health(local, |h| h["bots"]["shop"]["state"] == "polling").await;
    let logs = process.stop();
    assert!(
        logs.contains("other machines can reach") && logs.contains("0.0.0.0"),
        "{logs}"
    );
}

#[tokio::test]
async fn the_bots_reply_to_a_users_message_is_a_reply_in_the_topic_too() {
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    let find = |messages: Vec<switchboard::fake::FakeMessage>, text: &str| {
        messages
            .into_iter()
            .find(|m| m.text.as_deref() == Some(text))
            .unwrap_or_else(|| panic!("{text:?} not found"))
    };
    let hello_there = find(desk.fake.private_chat(desk.bot(), &user), "hello");
    let hello_here = find(desk.fake.topic_messages(desk.group(), thread), "hello");
    let reply = frankenstein::types::ReplyParameters::builder()
        .message_id(i32::try_from(hello_there.message_id).unwrap())
        .build();
    api.send_message(
        &SendMessageParams::builder()
            .chat_id(user.id)
            .text("Hello to you")
            .reply_parameters(reply)
            .build(),
    )
    .await
    .unwrap();
    desk.wait_topic_texts(desk.group(), thread, &["hello", "Hello to you"])
        .await;
    let mirror = find(
        desk.fake.topic_messages(desk.group(), thread),
        "Hello to you",
    );
    assert_eq!(
        mirror.json["reply_to_message"]["message_id"].as_i64(),
        Some(hello_here.message_id)
    );
}

#[tokio::test]
async fn the_bots_live_location_moves_its_mirror_too() {
    use frankenstein::methods::{EditMessageLiveLocationParams, SendLocationParams};
    let (desk, user, thread, api) = open_dialog_beside_the_bot().await;
    let sent = api
        .send_location(
            &SendLocationParams::builder()
                .chat_id(user.id)
                .latitude(52.52)
                .longitude(13.40)
                .live_period(900)
                .build(),
        )
        .await
        .unwrap()
        .result;
    let group = desk.group();
    let at = |lat: f64, lon: f64| {
        move |fake: &switchboard::fake::FakeTelegram| {
            fake.topic_messages(group, thread).into_iter().find(|m| {
                m.json["location"]["latitude"].as_f64() == Some(lat)
                    && m.json["location"]["longitude"].as_f64() == Some(lon)
            })
        }
    };
    let mirror = desk
        .wait("the mirror of the location", at(52.52, 13.40))
        .await;
    api.edit_message_live_location(
        &EditMessageLiveLocationParams::builder()
            .chat_id(user.id)
            .message_id(sent.message_id)
            .latitude(52.53)
            .longitude(13.41)
            .build(),
    )
    .await
    .unwrap();
    let moved = desk.wait("the mirror moved", at(52.53, 13.41)).await;
    assert_eq!(moved.message_id, mirror.message_id);
}

/// A call of the bot's still in flight when switchboard stops is answered
/// within the HTTP server's grace, and recorded: its mirror appears once
/// switchboard runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_while_switchboard_stops_is_mirrored_after_the_restart() {
    use switchboard::fake::{Fault, FaultRule};
    let (mut desk, user, thread, api) = open_dialog_beside_the_bot().await;
    desk.fake.clear_requests();
    desk.fake.inject(FaultRule::on(
        "sendMessage",
        Fault::Delay(std::time::Duration::from_millis(300)),
    ));
    let to = user.id;
    let call = tokio::spawn(async move {
        api.send_message(
            &SendMessageParams::builder()
                .chat_id(to)
                .text("sent while stopping")
                .build(),
        )
        .await
    });
    desk.wait("the call at Telegram", |f| {
        (f.request_count("sendMessage") == 1).then_some(())
    })
    .await;
    desk.stop().await;
    call.await
        .unwrap()
        .expect("the call is answered within the grace");
    desk.launch();
    desk.wait_topic_texts(desk.group(), thread, &["hello", "sent while stopping"])
        .await;
}

/// A webhook that does not take its updates shows in `/healthz`, with the
/// error and no URL; the status stays "ok" (it is the bot's side).
#[tokio::test]
async fn a_webhook_that_refuses_updates_shows_in_healthz() {
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    let nobody = crate::util::free_port();
    desk.bots[0].config.mode = Mode::Forward(switchboard::config::Forward {
        url: format!("http://{nobody}/hook/s3cret-path"),
        secret: None,
    });
    desk.launch();
    let user = desk.fake.add_user("Ann", None);
    desk.fake.user_sends(desk.bot(), &user, "hello");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (code, health) = loop {
        let (code, health) = desk.health().await;
        if health["webhooks"]["shop"]["failures"].as_u64() >= Some(1) {
            break (code, health);
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["webhooks"]["shop"]["error"], "Connection refused");
    assert!(!health.to_string().contains("s3cret-path"), "{health}");
}
