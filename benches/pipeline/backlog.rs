//! backlog: the real binary (a process of its own, so that its memory is
//! its own) with `--backlog` pending broadcast jobs for one bot, limits off,
//! the fake in this process.
//!
//! 1. Warm-up: a user writes; switchboard runs until the dialog has a topic
//!    and nothing is pending (read from the database), then stops (SIGTERM).
//! 2. `--backlog` users who started the bot are made in the fake, and one
//!    broadcast job each is queued in the database, in one transaction.
//! 3. switchboard starts. Once 5,000 broadcast messages went out, an
//!    operator replies in the user's topic; timed from then until the reply
//!    is in the user's chat (the fake re-checks on every change of its
//!    state), with the broadcast messages that went out meanwhile.
//! 4. switchboard's VmRSS and VmHWM (the peak since its start) right after
//!    the reply; then 10 s more (with `--drain`: until the whole backlog is
//!    out), VmRSS sampled every second; VmHWM, VmRSS and the broadcast's
//!    rate at the end.
//!
//! The fake keeps every message it was sent, in this process: about a
//! kilobyte per message (a gigabyte for a drained million). That is not
//! what is measured.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use switchboard::fake::{FakeTelegram, FakeUser};
use switchboard::store::Store;

use crate::common::{per_sec, reply_delivered, thousands, verdict, wait_settled};
use crate::process::{
    UNLIMITED, core_percent, cpu_ticks, describe_threads, mb, proc_status_kb, spawn_switchboard,
    thread_ticks, ticks_between, write_config,
};

/// The targets from the issue; printed next to the figures, never enforced.
const TARGET_RSS_MB: f64 = 100.0;
const TARGET_REPLY_MS: f64 = 1_000.0;
/// Broadcast messages out before the operator replies.
const UNDER_WAY: usize = 5_000;
/// How long the run goes on after the reply (without `--drain`).
const AFTER_REPLY: Duration = Duration::from_secs(10);
/// Upper bounds that keep the run finite when something is stuck.
const START_LIMIT: Duration = Duration::from_secs(120);
const DRAIN_LIMIT: Duration = Duration::from_secs(3_600);
/// The bot's name in bots.toml.
const BOT: &str = "news";

pub async fn backlog(jobs: usize, drain: bool) -> anyhow::Result<()> {
    println!(
        "\nbacklog: --backlog {jobs}{} (the real binary, one bot, limits off, welcome off)",
        if drain { " --drain" } else { "" }
    );
    let fake = FakeTelegram::start().await?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let bot = fake.add_bot("news_bot");
    let group = fake.add_forum_group("news support", &[&bot]);
    let alice = fake.add_user("Alice", Some("alice"));
    let operator = fake.add_user("Olga", None);
    let table = [(BOT.to_owned(), bot.token.clone(), group)];
    let config = write_config(dir.path(), &fake.api_url(), "30s", UNLIMITED, table)?;
    let database = dir.path().join("switchboard.db");
    let log = dir.path().join("switchboard.log");

    // 1. Warm-up: Alice's dialog with its topic.
    let mut child = spawn_switchboard(&config, &log)?;
    fake.user_sends(&bot, &alice, "question");
    wait_settled(&database, 1, &mut child)
        .await
        .context("backlog warm-up")?;
    child.stop().await?;
    let topic = fake
        .topics(group)
        .first()
        .map(|t| t.thread_id)
        .context("no topic after the warm-up")?;

    // 2. The backlog.
    let setup = Instant::now();
    let audience: Vec<FakeUser> = (0..jobs)
        .map(|i| {
            let user = fake.add_user(&format!("Reader{i}"), None);
            fake.user_started_bot(&bot, &user);
            user
        })
        .collect();
    let made = setup.elapsed();
    let store = Store::open(&database)?;
    switchboard::testkit::enqueue_broadcast(&store, BOT, &audience, "weekly news")?;
    drop(store);
    drop(audience);
    println!(
        "backlog: {jobs} users made in the fake in {:.1} s; {jobs} jobs queued in one transaction in {:.1} s",
        made.as_secs_f64(),
        (setup.elapsed() - made).as_secs_f64()
    );

    // 3. The reply, once the broadcast is under way.
    fake.clear_stats();
    fake.clear_requests();
    let started = Instant::now();
    let mut child = spawn_switchboard(&config, &log)?;
    let pid = child.pid();
    let first_out = loop {
        let out = fake.stats().sends.len();
        if out >= UNDER_WAY.min(jobs) {
            break started.elapsed();
        }
        child.ensure_running()?;
        if started.elapsed() > START_LIMIT {
            bail!("only {out} broadcast messages out after {START_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let out_before = fake.stats().sends.len();
    let reply = reply_delivered(
        &fake,
        (&bot, &alice),
        (group, topic),
        &operator,
        "your answer",
    )
    .await?;
    let out_after = fake.stats().sends.len();
    let rss_at_reply = proc_status_kb(pid, "VmRSS")?;
    let hwm_at_reply = proc_status_kb(pid, "VmHWM")?;
    let reply_ms = reply.as_secs_f64() * 1e3;
    println!(
        "backlog: {out_before} broadcast messages out {:.2} s after spawn; the reply was delivered \
         {reply_ms:.1} ms after it was written, while {} more went out (target <= {TARGET_REPLY_MS:.0} ms: {})",
        first_out.as_secs_f64(),
        // The reply is one of the sends.
        out_after.saturating_sub(out_before + 1),
        verdict(reply_ms <= TARGET_REPLY_MS)
    );
    println!(
        "backlog: switchboard's memory after the reply: VmRSS {:.1} MB, peak VmHWM {:.1} MB (target <= {TARGET_RSS_MB} MB: {})",
        mb(rss_at_reply),
        mb(hwm_at_reply),
        verdict(mb(hwm_at_reply) <= TARGET_RSS_MB)
    );

    // 4. Later: the rest of the backlog, or 10 s of it.
    let cpu_before = cpu_ticks(pid)?;
    let threads_before = thread_ticks(pid)?;
    let window = Instant::now();
    let mut rss_max = rss_at_reply;
    let out_end = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        child.ensure_running()?;
        rss_max = rss_max.max(proc_status_kb(pid, "VmRSS")?);
        // The record of requests is not needed; it would only grow.
        fake.clear_requests();
        let out = fake.stats().sends.len();
        // The reply is one of the sends.
        let all_out = out > jobs;
        if all_out || (!drain && window.elapsed() >= AFTER_REPLY) {
            break out;
        }
        if window.elapsed() > DRAIN_LIMIT {
            bail!("only {out} of {jobs} broadcast messages out after {DRAIN_LIMIT:?}");
        }
    };
    let wall = window.elapsed();
    let cpu = cpu_ticks(pid)? - cpu_before;
    let threads = ticks_between(&threads_before, &thread_ticks(pid)?);
    let rss = proc_status_kb(pid, "VmRSS")?;
    let hwm = proc_status_kb(pid, "VmHWM")?;
    child.kill();
    fake.shutdown();
    let sent = out_end - out_after;
    println!(
        "backlog: {:.1} s later: {} broadcast messages out in all ({} messages/s meanwhile); \
         VmRSS {:.1} MB (at most {:.1} MB, sampled each second), peak VmHWM {:.1} MB (target <= {TARGET_RSS_MB} MB: {})",
        wall.as_secs_f64(),
        // Less the reply.
        out_end - 1,
        thousands(per_sec(sent, wall)),
        mb(rss),
        mb(rss_max),
        mb(hwm),
        verdict(mb(hwm) <= TARGET_RSS_MB)
    );
    println!(
        "backlog: switchboard's CPU meanwhile: {:.0}% of one core (by thread, user+system ticks: {})",
        core_percent(cpu, wall),
        describe_threads(&threads)
    );
    child.print_log("backlog");
    Ok(())
}
