use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::fake::{FakeBot, FakeUser};
use switchboard::testkit::FakeControl;

use crate::util::{PATIENCE, free_port, spawn_switchboard, write_bots_config};

/// `switchboard fake` as a child process, killed when dropped.
struct FakeProcess {
    child: Child,
    /// The base URL it printed on its first line.
    api_url: String,
}

impl FakeProcess {
    fn start() -> FakeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["fake", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start switchboard fake");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the first line");
        let api_url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the first line: {first:?}"))
            .to_owned();
        FakeProcess { child, api_url }
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `path` of the control API until `found` picks something out of
/// it; panics after `PATIENCE`.
async fn wait_for<T>(control: &FakeControl, path: &str, found: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = control.get(path).await.expect("the control API answers");
        if let Some(found) = found(&value) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never showed what was expected; last: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `messages` (Bot API `Message` objects) hold one with `text`.
fn shows(messages: &Value, text: &str) -> bool {
    messages
        .as_array()
        .is_some_and(|list| list.iter().any(|m| m["text"] == text))
}

#[tokio::test]
async fn switchboard_relays_through_a_fake_in_its_own_process() {
    let fake = FakeProcess::start();
    let control = FakeControl::new(&fake.api_url);
    let post = |path: String, body: Value| {
        let control = &control;
        async move { control.post(&path, &body).await.expect("a control call") }
    };
    let bot = post("bots".into(), json!({ "username": "shop_bot" })).await;
    let bot: FakeBot = serde_json::from_value(bot).expect("a bot");
    let alice = post("users".into(), json!({ "first_name": "Alice" })).await;
    let alice: FakeUser = serde_json::from_value(alice).expect("a user");
    let olga = post("users".into(), json!({ "first_name": "Olga" })).await;
    let group = json!({ "title": "Support", "bots": [bot.id] });
    let group = post("groups".into(), group).await["id"]
        .as_i64()
        .expect("a group id");

    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_bots_config(
        dir.path(),
        &fake.api_url,
        free_port(),
        &[("shop", "SHOP_TOKEN", group)],
    );
    let _switchboard = spawn_switchboard(&config, &bot);

    let chat = format!("bots/{}/chats/{}", bot.id, alice.id);
    post(chat.clone(), json!({ "text": "where is my order?" })).await;
    let topics = format!("groups/{group}/topics");
    let thread = wait_for(&control, &topics, |topics| topics[0]["thread_id"].as_i64()).await;
    let topic = format!("groups/{group}/topics/{thread}");
    let question = |messages: &Value| shows(messages, "where is my order?").then_some(());
    wait_for(&control, &topic, question).await;

    post(
        topic,
        json!({ "from": olga["id"], "text": "it ships today" }),
    )
    .await;
    let reply = |messages: &Value| shows(messages, "it ships today").then_some(());
    wait_for(&control, &chat, reply).await;
    let stats = control.get("stats").await.expect("stats");
    assert_eq!(stats["throttled"], 0, "{stats}");
}
