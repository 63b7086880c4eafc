//! What several scenarios share: the in-process desk with limits off, a
//! warm-up, a broadcast queued in the database, waiting for the real binary
//! (every bot polling, nothing left to do), and how figures are printed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use switchboard::app::Options;
use switchboard::config::{BotSettings, Limits};
use switchboard::fake::{FakeBot, FakeTelegram, FakeUser};
use switchboard::store::Store;
use switchboard::testkit::Desk;

use crate::process::ChildProcess;

/// Upper bounds that keep every scenario finite when something is stuck.
pub const WARM_UP_LIMIT: Duration = Duration::from_secs(180);
pub const MESSAGE_LIMIT: Duration = Duration::from_secs(10);
pub const STARTUP_LIMIT: Duration = Duration::from_secs(180);

/// A desk with one bot `{name}_bot` and its backend group, rate limits off
/// (these scenarios measure switchboard's own cost) and `poll_timeout` 30 s.
pub async fn desk(name: &str) -> anyhow::Result<Desk> {
    let settings = BotSettings {
        limits: Limits::OFF,
        ..BotSettings::default()
    };
    let mut desk = Desk::prepare(&[(name, settings)]).await?;
    desk.poll_timeout = Duration::from_secs(30);
    Ok(desk)
}

/// Launches the app and has every one of `people` write once, until each
/// has a topic with the message relayed and nothing is pending; the app
/// stays running.
pub async fn warm_up(desk: &mut Desk, people: &[FakeUser]) -> anyhow::Result<()> {
    desk.launch(Options::default())?;
    for (i, user) in people.iter().enumerate() {
        desk.fake
            .user_sends(desk.bot(), user, &format!("hello from user {i}"));
    }
    desk.settle(WARM_UP_LIMIT).await
}

/// The topic (thread id) of each of `people` in `group`, after the warm-up.
pub fn topics_of(fake: &FakeTelegram, group: i64, people: &[FakeUser]) -> anyhow::Result<Vec<i64>> {
    let topics = fake.topics(group);
    people
        .iter()
        .map(|user| {
            let suffix = format!(" {}", user.id);
            topics
                .iter()
                .find(|t| t.name.ends_with(&suffix))
                .map(|t| t.thread_id)
                .with_context(|| format!("no topic for user {} after the warm-up", user.id))
        })
        .collect()
}

pub fn add_users(fake: &FakeTelegram, n: usize) -> Vec<FakeUser> {
    (0..n)
        .map(|i| fake.add_user(&format!("User{i}"), Some(&format!("user{i}"))))
        .collect()
}

pub fn count(store: &Store, sql: &str) -> anyhow::Result<i64> {
    Ok(store.conn()?.query_row(sql, [], |row| row.get(0))?)
}

pub fn per_sec(n: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    n / elapsed.as_secs_f64().max(1e-9)
}

pub fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// 27134.6 -> "27,100": three significant figures, with thousands separators.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return format!("{value}");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut n = value.round() as u64;
    let digits = n.checked_ilog10().unwrap_or(0) + 1;
    if digits > 3 {
        let unit = 10_u64.pow(digits - 3);
        n = (n + unit / 2) / unit * unit;
    }
    let text = n.to_string();
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// An operator writes `text` in `topic`; returns how long until the user's
/// chat shows it (the fake re-checks on every change).
pub async fn reply_delivered(
    fake: &FakeTelegram,
    (bot, user): (&FakeBot, &FakeUser),
    (group, topic): (i64, i64),
    operator: &FakeUser,
    text: &str,
) -> anyhow::Result<Duration> {
    let written = Instant::now();
    fake.operator_sends(group, Some(topic), operator, text);
    fake.wait_until(MESSAGE_LIMIT, |f| {
        let chat = f.private_chat(bot, user);
        chat.last()
            .is_some_and(|m| m.text.as_deref() == Some(text))
            .then_some(())
    })
    .await
    .context("the reply was not delivered")?;
    Ok(written.elapsed())
}

/// The `q` quantile of sorted samples in ms (nearest rank).
pub fn samples_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Waits until each of `bots` bots of `fake` (in this process) has sent a
/// `getUpdates` (distinct bot ids among the recorded requests), i.e. every
/// bot of the switchboard `child` is long-polling.
pub async fn wait_until_polling(
    fake: &FakeTelegram,
    bots: usize,
    child: &mut ChildProcess,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let polling: HashSet<i64> = fake
            .requests()
            .iter()
            .filter(|r| r.method == "getUpdates")
            .filter_map(|r| r.bot_id)
            .collect();
        if polling.len() >= bots {
            return Ok(());
        }
        child.ensure_running()?;
        if started.elapsed() > STARTUP_LIMIT {
            bail!(
                "only {} of {bots} bots polling after {STARTUP_LIMIT:?}",
                polling.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the switchboard `child` working on `database` has nothing
/// left to do after `dialogs` users wrote once each: that many dialogs have
/// a topic, the inbox is empty and no outbox job is pending, in one
/// snapshot. A job that failed for good is an error.
pub async fn wait_settled(
    database: &std::path::Path,
    dialogs: usize,
    child: &mut ChildProcess,
) -> anyhow::Result<()> {
    let store = Store::open(database)?;
    let sql = "SELECT (SELECT COUNT(*) FROM dialogs WHERE topic_id IS NOT NULL), \
               (SELECT COUNT(*) FROM inbox) + (SELECT COUNT(*) FROM outbox WHERE state = 'pending'), \
               (SELECT COUNT(*) FROM outbox WHERE state = 'failed')";
    let started = Instant::now();
    loop {
        let (topics, pending, failed): (i64, i64, i64) =
            store
                .conn()?
                .query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        if failed > 0 {
            bail!("{failed} outbox jobs failed for good during the warm-up");
        }
        if usize::try_from(topics)? >= dialogs && pending == 0 {
            return Ok(());
        }
        child.ensure_running()?;
        if started.elapsed() > WARM_UP_LIMIT {
            bail!(
                "not settled after {WARM_UP_LIMIT:?}: {topics} of {dialogs} topics, {pending} rows pending"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
