//! `switchboard demo`: the whole pipeline in one process against the fake Bot
//! API, with a scripted user and operator, printed as each side sees it.
//! Needs no token and no network.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::app::Options;
use crate::clock::SystemClock;
use crate::config::BotSettings;
use crate::fake::{FakeMessage, FakeTelegram};
use crate::testkit::Desk;

/// How long one step of the script may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(out: &mut dyn Write) -> anyhow::Result<()> {
    let mut desk = Desk::prepare(&[("acme_support", BotSettings::default())]).await?;
    desk.launch(Options {
        clock: Arc::new(SystemClock),
        scheduler_tick: Duration::from_secs(1),
        ..Options::default()
    })?;
    let (bot, group) = (desk.bot().clone(), desk.group());
    let fake = desk.fake.clone();
    let alice = fake.add_user("Alice", Some("alice"));
    let olga = fake.add_user("Olga", Some("olga_ops"));

    writeln!(
        out,
        "switchboard demo: one bot (@acme_support_bot), one user (Alice), one operator (Olga)."
    )?;
    writeln!(
        out,
        "Everything below went through the real pipeline against a fake Telegram.\n"
    )?;

    let topic_shows =
        |f: &FakeTelegram, thread: i64, text: &str| shows(&f.topic_messages(group, thread), text);

    fake.user_sends(&bot, &alice, "Hi! My order #1042 hasn't arrived yet.");
    let thread = fake
        .wait_until(STEP_TIMEOUT, |f| {
            f.topics(group).first().map(|t| t.thread_id)
        })
        .await
        .context("the demo got stuck waiting for the topic")?;
    until(&fake, "Alice's message in the topic", |f| {
        topic_shows(f, thread, "Hi! My order #1042 hasn't arrived yet.")
    })
    .await?;

    fake.operator_sends(
        group,
        Some(thread),
        &olga,
        "/ courier says it is stuck in the depot",
    );
    let reply = "Sorry about that, Alice! It ships today, tracking number ACME-1042.";
    fake.operator_sends(group, Some(thread), &olga, reply);
    until(&fake, "the reply in Alice's chat", |f| {
        shows(&f.private_chat(&bot, &alice), reply)
    })
    .await?;

    fake.user_sends(&bot, &alice, "Great, thank you!");
    until(&fake, "Alice's thanks in the topic", |f| {
        topic_shows(f, thread, "Great, thank you!")
    })
    .await?;
    fake.operator_sends(group, Some(thread), &olga, "/close");
    until(&fake, "the topic to close", |f| {
        f.topics(group).first().is_some_and(|t| t.closed)
    })
    .await?;

    writeln!(out, "What Alice sees in her chat with @acme_support_bot:")?;
    for message in fake.private_chat(&bot, &alice) {
        let who = if message.from_is_bot {
            "bot  "
        } else {
            "Alice"
        };
        writeln!(out, "  {who} | {}", show(&message))?;
    }
    let topic = fake.topics(group).into_iter().next().context("the topic")?;
    writeln!(
        out,
        "\nWhat operators see in the backend group, topic \"{}\":",
        topic.name
    )?;
    for message in fake.topic_messages(group, thread) {
        let who = if message.is_service {
            "     "
        } else if message.from_is_bot {
            "bot  "
        } else {
            "Olga "
        };
        writeln!(out, "  {who} | {}", show(&message))?;
    }
    writeln!(
        out,
        "\n(\"/ ...\" is a note for operators only; /close closed the dialog; Alice's next message would reopen it.)"
    )?;

    desk.stop().await
}

/// Waits for one step of the script.
async fn until(
    fake: &FakeTelegram,
    what: &str,
    mut done: impl FnMut(&FakeTelegram) -> bool,
) -> anyhow::Result<()> {
    fake.wait_until(STEP_TIMEOUT, |f| done(f).then_some(()))
        .await
        .with_context(|| format!("the demo got stuck waiting for {what}"))
}

fn shows(messages: &[FakeMessage], text: &str) -> bool {
    messages.iter().any(|m| m.text.as_deref() == Some(text))
}

fn show(message: &FakeMessage) -> String {
    if let Some(text) = message.text.as_ref().or(message.caption.as_ref()) {
        return text.clone();
    }
    let kind = message
        .json
        .as_object()
        .and_then(|m| m.keys().find(|k| k.starts_with("forum_topic_")).cloned())
        .unwrap_or_else(|| "message".into());
    format!("[{}]", kind.replace('_', " "))
}
