//! Benchmarks of the whole pipeline against the fake Bot API (see
//! `docs/BENCHMARKS.md` for what each figure means and how to read it).
//!
//! `cargo bench --bench pipeline -- <ingest|latency|scale|limiter|priority|all> [sizes]`
//! (`-- --help` lists the sizes and their defaults). The app runs on the
//! desk of [`switchboard::testkit`], as in the integration tests.
//!
//! - **ingest**: updates per second from `getUpdates` to durable outbox jobs.
//!   Every user already has a dialog with a topic (a warm-up run creates
//!   them), then `--updates` private messages are queued in the fake before
//!   the app starts, and every outgoing call hangs so that the sender does not
//!   compete for the CPU. Timed from the start of the app until the bot's
//!   stored offset is past the last update and the inbox is empty.
//! - **latency**: one user message at a time, timed from just before the fake
//!   receives it to when its copy is in the user's topic.
//! - **scale**: the real binary with `--bots` bots long-polling the fake;
//!   resident memory and CPU over an idle window, read from `/proc`.
//!
//! Figures are printed, with the targets next to them (PASS/MISS); timing
//! never fails the run. Only errors (a stuck pipeline, a crashed child) do.

/// The allocator of the switchboard binary, for the app run in-process here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use switchboard::app::Options;
use switchboard::config::{BotSettings, Limits};
use switchboard::fake::{FakeTelegram, FakeUser, Fault, FaultRule};
use switchboard::outbox::{Action, Job, Lane, Purpose, Target};
use switchboard::store::Store;
use switchboard::testkit::Desk;

/// Targets from the issue; printed next to the figures, never enforced.
const TARGET_INGEST_PER_SEC: f64 = 20_000.0;
const TARGET_UTILISATION: f64 = 0.97;
const TARGET_REPLY_MS: f64 = 1_000.0;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_RSS_MB: f64 = 150.0;
const TARGET_IDLE_CPU_PERCENT: f64 = 3.0;

/// Upper bounds that keep every scenario finite when something is stuck.
const WARM_UP_LIMIT: Duration = Duration::from_secs(180);
const INGEST_LIMIT: Duration = Duration::from_secs(300);
const MESSAGE_LIMIT: Duration = Duration::from_secs(10);
const LATENCY_LIMIT: Duration = Duration::from_secs(600);
const STARTUP_LIMIT: Duration = Duration::from_secs(180);
const MAX_IDLE_SECS: u64 = 600;

/// How often the ingest watcher reads the database.
const WATCH_INTERVAL: Duration = Duration::from_millis(2);
/// `getUpdates` long-poll timeout of the scale run (the production default).
const SCALE_POLL_TIMEOUT: &str = "30s";

/// What to measure; see `docs/BENCHMARKS.md`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// updates/s from getUpdates to durable outbox jobs (limits off, sends hang)
    Ingest,
    /// user message -> copy in the topic, p50/p90/p99/max (limits off)
    Latency,
    /// the real binary with many bots long-polling: memory and idle CPU
    Scale,
    /// a burst to distinct users at the default limits, the fake enforcing
    /// Telegram's: achieved rate / configured rate, and 429s
    Limiter,
    /// an operator reply while a broadcast is being sent: its latency
    Priority,
    /// all of them, one after the other
    All,
}

/// Benchmarks of the whole pipeline against the fake Bot API.
#[derive(Parser)]
#[command(
    name = "pipeline",
    bin_name = "cargo bench --bench pipeline --",
    after_help = "RUST_LOG sets the app's log level (default: error)."
)]
struct Args {
    /// The scenario to run.
    #[arg(value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// ingest: private messages queued before the app starts
    #[arg(long, default_value_t = 50_000, value_parser = at_least_one)]
    updates: usize,
    /// ingest: users they come from, round-robin
    #[arg(long, default_value_t = 2_500, value_parser = at_least_one)]
    users: usize,
    /// latency: messages sent one at a time
    #[arg(long, default_value_t = 2_000, value_parser = at_least_one)]
    messages: usize,
    /// latency: users (each with a topic) the messages rotate over
    #[arg(long, default_value_t = 50, value_parser = at_least_one)]
    dialogs: usize,
    /// scale: bots in bots.toml, each with its own backend group
    #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
    bots: usize,
    /// scale: length of the idle window in seconds (at most 600); keep it =
    /// poll_timeout (30s) so that it holds exactly one long-poll renewal per bot
    #[arg(long, default_value_t = 30, value_parser = at_least_one)]
    idle_secs: usize,
    /// limiter: messages in the burst, one per user
    #[arg(long, default_value_t = 900, value_parser = at_least_one)]
    sends: usize,
    /// priority: broadcast messages queued before the reply
    #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
    broadcast: usize,
    /// Passed by cargo to every bench binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A whole number of at least 1; `_` may group its digits (`200_000`).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.replace('_', "").parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(number) => Ok(number),
        Err(_) => Err(format!("{text:?}: expected a positive whole number")),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        println!(
            "machine: {} cores; release build; figures depend on what else runs",
            std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
        );
        let all = args.scenario == Scenario::All;
        if all || args.scenario == Scenario::Ingest {
            ingest(args.updates, args.users).await?;
        }
        if all || args.scenario == Scenario::Latency {
            latency(args.messages, args.dialogs).await?;
        }
        if all || args.scenario == Scenario::Scale {
            let idle_secs = u64::try_from(args.idle_secs)?.min(MAX_IDLE_SECS);
            scale(args.bots, Duration::from_secs(idle_secs)).await?;
        }
        if all || args.scenario == Scenario::Limiter {
            limiter(args.sends).await?;
        }
        if all || args.scenario == Scenario::Priority {
            priority(args.broadcast).await?;
        }
        anyhow::Ok(())
    })
}

// ---- ingest -------------------------------------------------------------------

async fn ingest(updates: usize, users: usize) -> anyhow::Result<()> {
    println!(
        "ingest: --updates {updates} --users {users} (one bot, limits off, \
         every user has a topic, every outgoing call hangs)"
    );
    let mut desk = desk("ingest").await?;
    let fake = desk.fake.clone();
    let people = add_users(&fake, users);
    let store = Store::open(&desk.database)?;

    // Warm-up: a dialog with a topic for every user, as on a desk that has
    // been running for a while. Then the app stops, so that the measured run
    // starts from a cold process with the updates already waiting.
    warm_up(&mut desk, &people)
        .await
        .context("ingest warm-up")?;
    desk.stop().await?;
    let topics = fake.topics(desk.group()).len();
    ensure!(
        topics == users,
        "warm-up made {topics} topics for {users} users"
    );

    for method in ["sendMessage", "copyMessage", "createForumTopic"] {
        fake.inject(FaultRule::on(method, Fault::Hang).always());
    }
    fake.clear_requests();
    for i in 0..updates {
        fake.user_sends(desk.bot(), &people[i % users], &format!("message {i}"));
    }
    let bot_name = desk.bots[0].config.name.clone();
    let jobs_before = count(&store, "SELECT COUNT(*) FROM outbox")?;
    let offset_before = stored_offset(&store, &bot_name)?;
    let offset_after = offset_before + i64::try_from(updates)?;

    let started = Instant::now();
    desk.launch(Options::default())?;
    let watched_store = store.clone();
    let watched = tokio::task::spawn_blocking(move || {
        watch_ingest(
            &watched_store,
            &bot_name,
            offset_before,
            offset_after,
            started,
        )
    })
    .await
    .context("the ingest watcher")?;
    desk.stop().await?;
    let (first, done) = watched?;
    let jobs = count(&store, "SELECT COUNT(*) FROM outbox")? - jobs_before;

    let rate = per_sec(updates, done);
    println!(
        "ingest: first batch stored {} after start (startup: open database, getMe, first getUpdates)",
        millis(first)
    );
    println!(
        "ingest: {updates} updates in {:.2} s = {} updates/s (target >= {}: {})",
        done.as_secs_f64(),
        thousands(rate),
        thousands(TARGET_INGEST_PER_SEC),
        verdict(rate >= TARGET_INGEST_PER_SEC)
    );
    println!(
        "ingest: after the first batch: {} updates/s; outbox jobs queued: {jobs} (one copyMessage per update)",
        thousands(per_sec(updates, done.saturating_sub(first)))
    );
    Ok(())
}

/// Reads the database until the offset reaches `offset_after` and the inbox is
/// empty; returns when the offset first moved and when it was all done.
fn watch_ingest(
    store: &Store,
    bot: &str,
    offset_before: i64,
    offset_after: i64,
    started: Instant,
) -> anyhow::Result<(Duration, Duration)> {
    let conn = store.conn()?;
    let mut first = None;
    loop {
        let offset: i64 = conn.query_row(
            "SELECT update_offset FROM bots WHERE name = ?1",
            [bot],
            |row| row.get(0),
        )?;
        let now = started.elapsed();
        if first.is_none() && offset > offset_before {
            first = Some(now);
        }
        if offset >= offset_after {
            let inbox_empty: bool =
                conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM inbox)", [], |row| {
                    row.get(0)
                })?;
            if inbox_empty {
                return Ok((first.unwrap_or(now), now));
            }
        }
        if now > INGEST_LIMIT {
            bail!(
                "ingest stuck: offset {offset} of {offset_after} after {}",
                millis(now)
            );
        }
        std::thread::sleep(WATCH_INTERVAL);
    }
}

// ---- latency ------------------------------------------------------------------

async fn latency(messages: usize, dialogs: usize) -> anyhow::Result<()> {
    println!(
        "latency: --messages {messages} --dialogs {dialogs} (one bot, limits off, \
         one message at a time, round-robin over the dialogs)"
    );
    let mut desk = desk("latency").await?;
    let fake = desk.fake.clone();
    let people = add_users(&fake, dialogs);
    // Warm-up: every user has a topic with one message relayed into it.
    warm_up(&mut desk, &people)
        .await
        .context("latency warm-up")?;
    let topics = fake.topics(desk.group());
    let threads = people
        .iter()
        .map(|user| {
            let suffix = format!(" {}", user.id);
            topics
                .iter()
                .find(|t| t.name.ends_with(&suffix))
                .map(|t| t.thread_id)
                .with_context(|| format!("no topic for user {} after the warm-up", user.id))
        })
        .collect::<anyhow::Result<Vec<i64>>>()?;

    let group = desk.group();
    let mut samples = Vec::with_capacity(messages);
    let started = Instant::now();
    for i in 0..messages {
        let (user, thread) = (&people[i % dialogs], threads[i % dialogs]);
        let text = format!("latency probe {i}");
        // Only this message's copy can be a copyMessage request from now on,
        // and counting a short list is cheap: the full look at the topic runs
        // only once the copy was asked for.
        fake.clear_requests();
        let sent = Instant::now();
        fake.user_sends(desk.bot(), user, &text);
        let arrived = fake
            .wait_until(MESSAGE_LIMIT, |f| {
                let copied = f.request_count("copyMessage") > 0
                    && f.topic_messages(group, thread)
                        .last()
                        .is_some_and(|m| m.text.as_deref() == Some(text.as_str()));
                copied.then_some(())
            })
            .await;
        let elapsed = sent.elapsed();
        if arrived.is_none() {
            bail!("message {i} did not reach its topic within {MESSAGE_LIMIT:?}");
        }
        samples.push(elapsed);
        if started.elapsed() > LATENCY_LIMIT {
            println!(
                "latency: stopped after {} messages ({LATENCY_LIMIT:?} limit)",
                samples.len()
            );
            break;
        }
    }
    let total = started.elapsed();
    desk.stop().await?;

    samples.sort_unstable();
    let ms = |q: f64| samples_ms(&samples, q);
    let p99 = ms(0.99);
    println!(
        "latency: {} messages in {:.2} s: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         (target p99 <= {TARGET_P99_MS} ms: {})",
        samples.len(),
        total.as_secs_f64(),
        ms(0.50),
        ms(0.90),
        p99,
        ms(1.0),
        verdict(p99 <= TARGET_P99_MS)
    );
    Ok(())
}

/// The `q` quantile of sorted samples in ms (nearest rank).
fn samples_ms(sorted: &[Duration], q: f64) -> f64 {
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

// ---- scale --------------------------------------------------------------------

async fn scale(bots: usize, idle: Duration) -> anyhow::Result<()> {
    println!(
        "scale: --bots {bots} --idle-secs {} (the real binary, poll_timeout = {SCALE_POLL_TIMEOUT}, \
         one backend group per bot)",
        idle.as_secs()
    );
    let fake = FakeTelegram::start().await?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut toml = format!(
        "database = \"switchboard.db\"\napi_url = \"{}\"\npoll_timeout = \"{SCALE_POLL_TIMEOUT}\"\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
        fake.api_url()
    );
    for i in 0..bots {
        let bot = fake.add_bot(&format!("scale{i:05}_bot"));
        let group = fake.add_forum_group(&format!("scale {i} support"), &[&bot]);
        // Literal tokens of fake bots: a temporary file is fine for a benchmark.
        write!(
            toml,
            "\n[[bots]]\nname = \"scale{i:05}\"\ntoken = \"{}\"\nbackend_group = {group}\n",
            bot.token
        )?;
    }
    let config = dir.path().join("bots.toml");
    std::fs::write(&config, toml).context("writing bots.toml")?;
    let log = dir.path().join("switchboard.log");

    let started = Instant::now();
    let mut child = spawn_switchboard(&config, &log)?;
    let pid = child.0.id();
    // Every bot is long-polling once each has sent a getUpdates.
    loop {
        let polling: HashSet<i64> = fake
            .requests()
            .iter()
            .filter(|r| r.method == "getUpdates")
            .filter_map(|r| r.bot_id)
            .collect();
        if polling.len() >= bots {
            break;
        }
        child.ensure_running(&log)?;
        if started.elapsed() > STARTUP_LIMIT {
            bail!(
                "only {} of {bots} bots polling after {STARTUP_LIMIT:?}",
                polling.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let startup = started.elapsed();
    let rss_at_start = proc_status_kb(pid, "VmRSS")?;

    let ticks_per_sec = clock_ticks_per_sec();
    let cpu_before = cpu_ticks(pid)?;
    let polls_before = fake.request_count("getUpdates");
    let window = Instant::now();
    let mut rss_max = rss_at_start;
    while window.elapsed() < idle {
        let left = idle.saturating_sub(window.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        child.ensure_running(&log)?;
        rss_max = rss_max.max(proc_status_kb(pid, "VmRSS")?);
    }
    let cpu_after = cpu_ticks(pid)?;
    let wall = window.elapsed();
    let rss = proc_status_kb(pid, "VmRSS")?;
    let hwm = proc_status_kb(pid, "VmHWM")?;
    let threads = proc_status_kb(pid, "Threads")?;
    let polls = fake.request_count("getUpdates") - polls_before;
    let requests_total = fake.requests().len();
    child.kill();
    fake.shutdown();

    #[allow(clippy::cast_precision_loss)]
    let cpu_percent =
        (cpu_after - cpu_before) as f64 / ticks_per_sec as f64 / wall.as_secs_f64() * 100.0;
    #[allow(clippy::cast_precision_loss)]
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "scale: {bots} bots long-polling {:.2} s after spawn ({requests_total} requests to the fake in all)",
        startup.as_secs_f64()
    );
    println!(
        "scale: resident memory {:.1} MB at the end of the idle window (max seen {:.1} MB, \
         peak VmHWM {:.1} MB; {threads} threads) (target <= {TARGET_RSS_MB} MB: {})",
        mb(rss),
        mb(rss_max),
        mb(hwm),
        verdict(mb(hwm) <= TARGET_RSS_MB)
    );
    println!(
        "scale: idle CPU {cpu_percent:.2}% of one core over {:.1} s ({} ticks at {ticks_per_sec}/s; \
         {polls} getUpdates renewals in the window) (target <= {TARGET_IDLE_CPU_PERCENT}%: {})",
        wall.as_secs_f64(),
        cpu_after - cpu_before,
        verdict(cpu_percent <= TARGET_IDLE_CPU_PERCENT)
    );
    let warnings = std::fs::read_to_string(&log).unwrap_or_default();
    let lines = warnings.lines().count();
    if lines > 0 {
        println!("scale: the app logged {lines} warning/error lines; the first:");
        for line in warnings.lines().take(3) {
            println!("scale:   {}", strip_ansi(line));
        }
    }
    Ok(())
}

/// A child switchboard process, killed (SIGKILL) when dropped, so that an
/// error or a panic in the benchmark leaves no process behind.
struct Switchboard(Child);

impl Switchboard {
    fn ensure_running(&mut self, log: &Path) -> anyhow::Result<()> {
        if let Some(status) = self.0.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            bail!(
                "switchboard exited early ({status}); last log lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Switchboard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_switchboard(config: &Path, log: &Path) -> anyhow::Result<Switchboard> {
    let log = File::create(log).context("creating the log file")?;
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting switchboard")?;
    Ok(Switchboard(child))
}

/// The line without terminal colour codes (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `Key:   value kB` field of `/proc/<pid>/status`, as a number (kB for sizes).
fn proc_status_kb(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// utime + stime of the process, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        // fields[0] is field 3 (state).
        Ok(fields
            .get(n - 3)
            .context("short /proc/<pid>/stat")?
            .parse()?)
    };
    Ok(field(14)? + field(15)?)
}

/// `getconf CLK_TCK`, or 100 (the usual value) if that fails.
fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

// ---- limiter ------------------------------------------------------------------

/// A burst of `sends` messages to distinct users (a broadcast), the app at its
/// default limits and the fake enforcing Telegram's. Under "at most 30 in any
/// second", N sends need at least (N - 30) / 30 s from the first to the last;
/// utilisation is that minimum over the time they took.
async fn limiter(sends: usize) -> anyhow::Result<()> {
    println!("\nlimiter: {sends} messages to distinct users at the default limits");
    let mut desk = desk("news").await?;
    let fake = desk.fake.clone();
    fake.set_limits(switchboard::fake::Limits::telegram());
    desk.bots[0].config.settings.limits = switchboard::config::DEFAULT_LIMITS;
    let users = add_users(&fake, sends);
    for user in &users {
        fake.user_started_bot(desk.bot(), user);
    }
    let store = Store::open(&desk.database)?;
    enqueue_broadcast(&store, &desk.bots[0].config.name, &users, "news")?;
    desk.launch(Options::default())?;
    let limit = Duration::from_secs(60) + Duration::from_secs(u64::try_from(sends / 25)?);
    let done = fake
        .wait_until(limit, |f| (f.stats().sends.len() >= sends).then_some(()))
        .await;
    desk.stop().await?;
    done.with_context(|| format!("the burst did not finish within {limit:?}"))?;
    let stats = fake.stats();
    let times: Vec<_> = stats.sends.iter().map(|s| s.at).collect();
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
        bail!("no sends recorded");
    };
    let took = last.duration_since(*first);
    let bot_rate = switchboard::config::DEFAULT_LIMITS
        .bot
        .context("a default bot limit")?;
    let per = bot_rate.per.as_secs_f64();
    let count = f64::from(bot_rate.count);
    #[allow(clippy::cast_precision_loss)]
    let minimum = ((sends as f64 - count) / count * per).max(0.0);
    let utilisation = minimum / took.as_secs_f64();
    println!(
        "limiter: {sends} sends in {:.2} s (minimum {minimum:.2} s at {}/{}s): utilisation {:.1}% (target >= {:.0}%: {})",
        took.as_secs_f64(),
        bot_rate.count,
        per,
        utilisation * 100.0,
        TARGET_UTILISATION * 100.0,
        verdict(utilisation >= TARGET_UTILISATION)
    );
    println!(
        "limiter: 429 answers: {} (target 0: {}); most sends in any 1 s: {}",
        stats.throttled,
        verdict(stats.throttled == 0),
        stats.bot_max_in_window(desk.bot().id, bot_rate.per)
    );
    Ok(())
}

// ---- priority -----------------------------------------------------------------

/// A broadcast of `broadcast` messages is being sent (limits off) when an
/// operator replies in a dialog: the time from the reply in the topic to its
/// copy in the user's chat.
async fn priority(broadcast: usize) -> anyhow::Result<()> {
    println!(
        "\npriority: an operator reply while {broadcast} broadcast messages are sent (limits off)"
    );
    let mut desk = desk("shop").await?;
    let (fake, bot, group) = (desk.fake.clone(), desk.bot().clone(), desk.group());
    let alice = fake.add_user("Alice", None);
    let operator = fake.add_user("Olga", None);
    desk.launch(Options::default())?;
    fake.user_sends(&bot, &alice, "question");
    let topic = fake
        .wait_until(WARM_UP_LIMIT, |f| {
            let topic = f.topics(group).first()?.thread_id;
            (f.topic_messages(group, topic).len() > 1).then_some(topic)
        })
        .await
        .context("the warm-up dialog")?;
    desk.settle(WARM_UP_LIMIT).await?;
    desk.stop().await?;

    let audience = add_users(&fake, broadcast);
    for user in &audience {
        fake.user_started_bot(&bot, user);
    }
    let store = Store::open(&desk.database)?;
    enqueue_broadcast(&store, &desk.bots[0].config.name, &audience, "weekly news")?;
    fake.clear_stats();
    desk.launch(Options::default())?;
    // Reply once the broadcast is under way.
    let under_way = fake
        .wait_until(WARM_UP_LIMIT, |f| {
            (f.stats().sends.len() >= 500).then_some(())
        })
        .await;
    under_way.context("the broadcast did not start")?;
    let started = Instant::now();
    fake.operator_sends(group, Some(topic), &operator, "your answer");
    let delivered = fake
        .wait_until(MESSAGE_LIMIT, |f| {
            let chat = f.private_chat(&bot, &alice);
            chat.last()
                .is_some_and(|m| m.text.as_deref() == Some("your answer"))
                .then_some(())
        })
        .await;
    let reply = started.elapsed();
    delivered.context("the reply was not delivered")?;
    let sent_before = fake.stats().sends.len();
    let finished = fake
        .wait_until(Duration::from_secs(600), |f| {
            (f.stats().sends.len() > broadcast).then_some(())
        })
        .await;
    let total = started.elapsed();
    desk.stop().await?;
    finished.context("the broadcast did not finish")?;
    #[allow(clippy::cast_precision_loss)]
    let reply_ms = reply.as_secs_f64() * 1000.0;
    println!(
        "priority: reply delivered {reply_ms:.1} ms after it was written, with {} of {broadcast} broadcast messages out (target <= {TARGET_REPLY_MS:.0} ms: {})",
        sent_before.saturating_sub(1),
        verdict(reply_ms <= TARGET_REPLY_MS)
    );
    println!(
        "priority: the broadcast finished {:.2} s later: {} messages/s with limits off",
        total.as_secs_f64(),
        thousands(per_sec(broadcast, total))
    );
    Ok(())
}

/// Queues a broadcast the way a broadcast feature would: one job per user at
/// the lowest priority.
fn enqueue_broadcast(
    store: &Store,
    bot: &str,
    users: &[FakeUser],
    text: &str,
) -> anyhow::Result<()> {
    let mut conn = store.conn()?;
    let tx = conn.transaction()?;
    for user in users {
        let job = Job {
            purpose: Purpose::Broadcast,
            action: Action::SendText {
                to: Target::User(user.id),
                text: text.into(),
            },
        };
        switchboard::outbox::queue::enqueue(&tx, bot, &Lane::Broadcast(user.id), user.id, &job, 0)?;
    }
    tx.commit()?;
    Ok(())
}

// ---- shared -------------------------------------------------------------------

/// A desk with one bot `{name}_bot` and its backend group, rate limits off
/// (these scenarios measure switchboard's own cost) and `poll_timeout` 30 s.
async fn desk(name: &str) -> anyhow::Result<Desk> {
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
async fn warm_up(desk: &mut Desk, people: &[FakeUser]) -> anyhow::Result<()> {
    desk.launch(Options::default())?;
    for (i, user) in people.iter().enumerate() {
        desk.fake
            .user_sends(desk.bot(), user, &format!("hello from user {i}"));
    }
    desk.settle(WARM_UP_LIMIT).await
}

fn add_users(fake: &FakeTelegram, n: usize) -> Vec<FakeUser> {
    (0..n)
        .map(|i| fake.add_user(&format!("User{i}"), Some(&format!("user{i}"))))
        .collect()
}

fn count(store: &Store, sql: &str) -> anyhow::Result<i64> {
    Ok(store.conn()?.query_row(sql, [], |row| row.get(0))?)
}

fn stored_offset(store: &Store, bot: &str) -> anyhow::Result<i64> {
    Ok(store.conn()?.query_row(
        "SELECT update_offset FROM bots WHERE name = ?1",
        [bot],
        |row| row.get(0),
    )?)
}

fn per_sec(n: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    n / elapsed.as_secs_f64().max(1e-9)
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// 27134.6 -> "27,100": three significant figures, with thousands separators.
fn thousands(value: f64) -> String {
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

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
