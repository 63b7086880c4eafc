//! sender: one bot's sender with limits off, switchboard (`switchboard run`)
//! and the fake (`switchboard fake`) each in a process of its own, so that
//! the CPU read from `/proc/<pid>/stat` is switchboard's alone. Both share
//! the machine's cores, as they would on a server with a local Bot API.
//!
//! 1. Jobs per second: `--jobs` users who started the bot (one control
//!    call, `POST /fake/users/batch`), one broadcast job each, queued in the
//!    database before switchboard starts. switchboard starts; the fake's
//!    `GET /fake/stats` is read every 20 ms until it has accepted every
//!    send. The rate is taken from the first accepted send to the last (the
//!    sender at work; startup is printed apart).
//! 2. CPU per relayed message: `--relay-users` users each write once and
//!    switchboard runs until each has a dialog with a topic and nothing is
//!    pending (read from the database), then stops (SIGTERM). `--relayed`
//!    messages, round-robin over those users, are queued in the fake
//!    (`POST /fake/bots/{bot}/chats/{user}`, a few calls in flight at a
//!    time); switchboard starts again and runs until the fake has accepted
//!    every copy. Its CPU ticks (utime + stime) from its start to then,
//!    startup included, divided by the messages: the whole path of one
//!    message (`getUpdates`, the inbox, the dispatcher, the outbox, the
//!    `copyMessage` call, its record).
//!
//! Printed for each: the rate, switchboard's CPU per message (and the
//! fake's, for comparison), switchboard's CPU by thread, its peak memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use switchboard::fake::{FakeBot, FakeUser};
use switchboard::store::Store;
use switchboard::testkit::FakeControl;
use tokio::task::JoinSet;

use crate::common::{per_sec, thousands, verdict, wait_settled};
use crate::process::{
    FakeProcess, Ticks, UNLIMITED, cpu_ticks, describe_threads, mb, proc_status_kb, spawn_fake,
    spawn_switchboard, thread_ticks, ticks_ms, write_config,
};

/// The targets from the issue; printed next to the figures, never enforced.
const TARGET_JOBS_PER_SEC: f64 = 10_000.0;
const TARGET_CPU_MS_PER_MESSAGE: f64 = 0.1;
/// How often the fake's statistics are read while switchboard works.
const STATS_INTERVAL: Duration = Duration::from_millis(20);
/// Upper bound on one run of switchboard.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// Control calls in flight while messages are queued in the fake.
const WRITERS: usize = 8;
/// The bot's name in bots.toml.
const BOT: &str = "news";

pub async fn sender(jobs: usize, relayed: usize, relay_users: usize) -> anyhow::Result<()> {
    println!(
        "\nsender: --jobs {jobs} --relayed {relayed} --relay-users {relay_users} (one bot, limits off, \
         welcome off; switchboard and the fake each a process of its own)"
    );
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let fake = spawn_fake(1, &dir.path().join("fake.log")).await?;
    let (bot, group) = fake.bots.first().context("the fake made no bot")?.clone();
    let table = [(BOT.to_owned(), bot.token.clone(), group)];
    let config = write_config(dir.path(), &fake.api_url, "30s", UNLIMITED, table)?;
    let paths = Paths {
        config,
        database: dir.path().join("switchboard.db"),
        log: dir.path().join("switchboard.log"),
    };

    throughput(&fake, &bot, &paths, jobs).await?;
    relay_cpu(&fake, &bot, &paths, relayed, relay_users).await?;
    fake.process.print_log("sender");
    Ok(())
}

/// Where switchboard's files are.
struct Paths {
    config: PathBuf,
    database: PathBuf,
    log: PathBuf,
}

/// Part 1: broadcast jobs per second.
async fn throughput(
    fake: &FakeProcess,
    bot: &FakeBot,
    paths: &Paths,
    jobs: usize,
) -> anyhow::Result<()> {
    let setup = Instant::now();
    let batch = json!({ "count": jobs, "first_name": "Reader", "started": [bot.id] });
    let audience: Vec<FakeUser> = serde_json::from_value(
        fake.control
            .post("users/batch", &batch)
            .await
            .context("creating the audience")?,
    )?;
    let store = Store::open(&paths.database)?;
    switchboard::testkit::enqueue_broadcast(&store, BOT, &audience, "weekly news")?;
    drop(store);
    println!(
        "sender: {jobs} users who started the bot and {jobs} broadcast jobs made in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let run = run_until_accepted(fake, paths, jobs).await?;
    let rate = per_sec(jobs, run.sending());
    println!(
        "sender: {jobs} broadcast messages in {:.2} s after the first was accepted \
         ({:.0} ms after spawn) = {} jobs/s (target >= {}: {}); {} jobs/s from spawn",
        run.sending().as_secs_f64(),
        run.first.as_secs_f64() * 1e3,
        thousands(rate),
        thousands(TARGET_JOBS_PER_SEC),
        verdict(rate >= TARGET_JOBS_PER_SEC),
        thousands(per_sec(jobs, run.done)),
    );
    run.print_cpu("broadcast message", jobs);
    Ok(())
}

/// Part 2: switchboard's CPU per relayed message.
async fn relay_cpu(
    fake: &FakeProcess,
    bot: &FakeBot,
    paths: &Paths,
    relayed: usize,
    relay_users: usize,
) -> anyhow::Result<()> {
    let batch = json!({ "count": relay_users, "first_name": "Writer" });
    let writers: Vec<FakeUser> = serde_json::from_value(
        fake.control
            .post("users/batch", &batch)
            .await
            .context("creating the users")?,
    )?;
    // Warm-up: a dialog with a topic for every user, as on a desk that has
    // been running for a while; then a cold start with the messages waiting.
    write_messages(&fake.api_url, bot, &writers, relay_users, "hello").await?;
    let mut child = spawn_switchboard(&paths.config, &paths.log)?;
    wait_settled(&paths.database, relay_users, &mut child)
        .await
        .context("sender warm-up")?;
    child.stop().await?;

    let queueing = Instant::now();
    write_messages(&fake.api_url, bot, &writers, relayed, "message").await?;
    println!(
        "sender: {relay_users} users with a topic; {relayed} messages queued in the fake in {:.1} s",
        queueing.elapsed().as_secs_f64()
    );
    let run = run_until_accepted(fake, paths, relayed).await?;
    let per_message = ticks_ms(run.ticks) / f64::from(u32::try_from(relayed)?);
    println!(
        "sender: {relayed} messages relayed in {:.2} s from spawn ({} messages/s; first copy after {:.0} ms); \
         switchboard's CPU {:.3} ms per message, {:.2} s in all (target <= {TARGET_CPU_MS_PER_MESSAGE} ms: {})",
        run.done.as_secs_f64(),
        thousands(per_sec(relayed, run.done)),
        run.first.as_secs_f64() * 1e3,
        per_message,
        ticks_ms(run.ticks) / 1e3,
        verdict(per_message <= TARGET_CPU_MS_PER_MESSAGE),
    );
    run.print_cpu("relayed message", relayed);
    Ok(())
}

/// One run of switchboard until the fake accepted a number of sends.
struct Run {
    /// From spawn to the first accepted send seen.
    first: Duration,
    /// From spawn to the last one seen.
    done: Duration,
    /// switchboard's CPU ticks from spawn to `done`.
    ticks: u64,
    /// Those by thread name (see `process::thread_ticks`).
    threads: Vec<Ticks>,
    /// The fake's CPU ticks over the same time.
    fake_ticks: u64,
    /// switchboard's peak resident memory, kB.
    hwm_kb: u64,
}

impl Run {
    /// From the first accepted send to the last.
    fn sending(&self) -> Duration {
        self.done.saturating_sub(self.first)
    }

    fn print_cpu(&self, what: &str, n: usize) {
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        println!(
            "sender: CPU per {what}: switchboard {:.3} ms, the fake {:.3} ms; switchboard's ticks by thread (user+system): {}; \
             its peak memory (VmHWM) {:.1} MB",
            ticks_ms(self.ticks) / n,
            ticks_ms(self.fake_ticks) / n,
            describe_threads(&self.threads),
            mb(self.hwm_kb),
        );
    }
}

/// Starts switchboard (the fake's statistics cleared) and reads the fake's
/// statistics every [`STATS_INTERVAL`] until `sends` sends were accepted;
/// then reads switchboard's CPU and memory and stops it.
async fn run_until_accepted(
    fake: &FakeProcess,
    paths: &Paths,
    sends: usize,
) -> anyhow::Result<Run> {
    fake.control.delete("stats").await?;
    let fake_pid = fake.process.pid();
    let fake_before = cpu_ticks(fake_pid)?;
    let started = Instant::now();
    let mut child = spawn_switchboard(&paths.config, &paths.log)?;
    let pid = child.pid();
    let mut first = None;
    let done = loop {
        tokio::time::sleep(STATS_INTERVAL).await;
        let accepted = accepted_sends(&fake.control).await?;
        let now = started.elapsed();
        if first.is_none() && accepted > 0 {
            first = Some(now);
        }
        if accepted >= sends {
            break now;
        }
        child.ensure_running()?;
        if now > RUN_LIMIT {
            bail!("only {accepted} of {sends} sends accepted after {RUN_LIMIT:?}");
        }
    };
    let run = Run {
        first: first.unwrap_or(done),
        done,
        ticks: cpu_ticks(pid)?,
        threads: thread_ticks(pid)?,
        fake_ticks: cpu_ticks(fake_pid)? - fake_before,
        hwm_kb: proc_status_kb(pid, "VmHWM")?,
    };
    child.stop().await?;
    child.print_log("sender");
    Ok(run)
}

/// `accepted_sends` of `GET /fake/stats`.
async fn accepted_sends(control: &FakeControl) -> anyhow::Result<usize> {
    let stats = control.get("stats").await?;
    let accepted = stats["accepted_sends"]
        .as_u64()
        .context("no accepted_sends in the fake's stats")?;
    Ok(usize::try_from(accepted)?)
}

/// `messages` private messages to `bot`, round-robin over `users`, through
/// the control API with [`WRITERS`] calls in flight (each writer its own
/// client, so its own connection).
async fn write_messages(
    api_url: &str,
    bot: &FakeBot,
    users: &[FakeUser],
    messages: usize,
    text: &str,
) -> anyhow::Result<()> {
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let control = FakeControl::new(api_url);
        let chats: Vec<(usize, String)> = (writer..messages)
            .step_by(WRITERS)
            .map(|i| {
                (
                    i,
                    format!("bots/{}/chats/{}", bot.id, users[i % users.len()].id),
                )
            })
            .collect();
        let text = text.to_owned();
        writers.spawn(async move {
            for (i, chat) in chats {
                control
                    .post(&chat, &json!({ "text": format!("{text} {i}") }))
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(written) = writers.join_next().await {
        written??;
    }
    Ok(())
}
