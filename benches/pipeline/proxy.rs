//! proxy: the latency the Bot API proxy adds to an existing bot's calls.
//! The real binary (a process of its own) with one bot in `mode = "proxy"`,
//! limits and welcome off, serving the bot's token on `[http] listen`; the
//! fake Bot API in this process (its rate limits off, the default).
//!
//! Warm-up: a user writes to the bot; switchboard runs until the dialog has
//! a topic and nothing is pending (read from its database). Then, for each
//! of two methods, `--proxy-rate` calls a second for `--proxy-secs` seconds
//! (a) straight to the fake and then (b) through the proxy, one after the
//! other, from a keep-alive HTTP client (reqwest) on loopback:
//! - `getMe`: passed through as it is, both ways streamed;
//! - `sendMessage` to the user, whose dialog is open: the proxy reads the
//!   fake's answer and records it in the inbox (one SQLite write, through
//!   the writer) before the bot gets it; the dispatcher then mirrors it
//!   into the topic (a `copyMessage`), off the call's path.
//!
//! The calls are paced, open-loop: a thread of its own starts one every
//! 1/rate s on a fixed schedule (it sleeps until each is due and never
//! waits for an answer), each a task of its own. A call is timed in its
//! task, from just before the request is made until its whole answer is
//! read; how late it started against the schedule is printed too (the
//! client keeping up). One second of calls at the rate before each run
//! opens the connections and is not counted. Printed: p50, p99, max (nearest
//! rank) of each, the difference of the p99s (the target), the failed
//! calls, and switchboard's CPU over each run (from `/proc/<pid>/stat`), by
//! thread, with this process's (the client and the fake) and every other
//! process's (something else running shows there).
//!
//! `PIPELINE_PROXY_CSV=<dir>` writes every call of each run to
//! `<dir>/<method>-<direct|proxy>.csv` (when it was due, how late it
//! started, how long it took, and when it started on `CLOCK_MONOTONIC`, the
//! clock of `perf record -k monotonic`), to set slow calls against what
//! switchboard was doing then.
//!
//! [`ProxyDesk`] is shared with `upload`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::json;
use switchboard::fake::{FakeBot, FakeTelegram, FakeUser};

use crate::common::{samples_ms, verdict, wait_settled, wait_until_polling};
use crate::process::{
    ChildProcess, Ticks, UNLIMITED, all_processes_ticks, core_percent, cpu_ticks, describe_threads,
    own_cpu_ticks, spawn_switchboard, thread_ticks, ticks_between, ticks_ms,
};

/// The target from the issue: what the proxy may add to a forwarded call's
/// p99 at 500 calls/s; printed next to the figure, never enforced.
const TARGET_ADDED_P99_MS: f64 = 1.0;
/// Calls of each run's warm-up: this many seconds at the rate.
const WARM_UP_SECS: f64 = 1.0;
/// How long the proxy may take to answer its first call after the start.
const READY_LIMIT: Duration = Duration::from_secs(60);
/// The bot's name in bots.toml.
pub const BOT: &str = "legacy";

/// switchboard with one bot in proxy mode against a fake in this process,
/// and a user of the bot whose dialog is open.
pub struct ProxyDesk {
    pub fake: FakeTelegram,
    pub bot: FakeBot,
    pub user: FakeUser,
    pub child: ChildProcess,
    /// `http://127.0.0.1:PORT`: switchboard's `[http] listen`.
    pub proxy_url: String,
    pub database: PathBuf,
    /// Holds the database, the configuration and the log.
    _dir: tempfile::TempDir,
}

impl ProxyDesk {
    /// Starts the fake and switchboard (proxy mode, limits and welcome off,
    /// `[http] listen` on a free port of 127.0.0.1), and has a user write
    /// once, until their dialog has a topic and nothing is pending.
    pub async fn start(scenario: &str) -> anyhow::Result<ProxyDesk> {
        let fake = FakeTelegram::start().await?;
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let bot = fake.add_bot("legacy_bot");
        let group = fake.add_forum_group("legacy support", &[&bot]);
        let user = fake.add_user("Alice", Some("alice"));
        // A port that was free a moment ago: switchboard logs the one it
        // chose for port 0 only at level info.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free port")?
            .port();
        let toml = format!(
            "database = \"switchboard.db\"\napi_url = \"{}\"\npoll_timeout = \"30s\"\n\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n\n[defaults]\n{UNLIMITED}\n\
             [[bots]]\nname = \"{BOT}\"\ntoken = \"{}\"\nbackend_group = {group}\nmode = \"proxy\"\n",
            fake.api_url(),
            bot.token
        );
        let config = dir.path().join("bots.toml");
        std::fs::write(&config, toml).context("writing bots.toml")?;
        let database = dir.path().join("switchboard.db");
        let mut child = spawn_switchboard(&config, &dir.path().join("switchboard.log"))?;
        wait_until_polling(&fake, 1, &mut child).await?;
        fake.user_sends(&bot, &user, "hello");
        wait_settled(&database, 1, &mut child)
            .await
            .with_context(|| format!("{scenario} warm-up"))?;
        let desk = ProxyDesk {
            fake,
            bot,
            user,
            child,
            proxy_url: format!("http://127.0.0.1:{port}"),
            database,
            _dir: dir,
        };
        desk.wait_ready().await?;
        Ok(desk)
    }

    /// `{base}/bot<TOKEN>/{method}`.
    pub fn method_url(&self, base: &str, method: &str) -> String {
        format!("{base}/bot{}/{method}", self.bot.token)
    }

    /// Until a `getMe` through the proxy is answered 200.
    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = self.method_url(&self.proxy_url, "getMe");
        let started = Instant::now();
        loop {
            if let Ok(answer) = client.get(&url).send().await {
                if answer.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_LIMIT {
                bail!("the proxy did not answer getMe within {READY_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// One call of a paced run.
#[derive(Clone, Copy)]
struct Call {
    /// When it was due, from the start of the run.
    due: Duration,
    /// How late it started against the schedule.
    lag: Duration,
    /// From just before the request to the end of the answer.
    took: Duration,
    /// Answered 200 with `"ok": true`.
    ok: bool,
}

/// What a paced run gave, and what it cost.
struct Run {
    /// Times of the calls that succeeded, sorted.
    took: Vec<Duration>,
    /// Start lags of every call, sorted.
    lag: Vec<Duration>,
    /// Every call, in the order they were due.
    calls: Vec<Call>,
    /// `CLOCK_MONOTONIC` at the start of the schedule, in seconds (what
    /// `perf record -k monotonic` stamps events with), for the CSV.
    monotonic_start: f64,
    failed: usize,
    wall: Duration,
    /// switchboard's CPU ticks over the run, and by thread.
    cpu: u64,
    threads: Vec<Ticks>,
    /// This process's CPU ticks (the client, the fake).
    own: u64,
    /// Every other process's (all of them less these two).
    others: u64,
}

impl Run {
    fn ms(&self, q: f64) -> f64 {
        samples_ms(&self.took, q)
    }

    /// Every call as `due_ms,lag_ms,took_ms,ok,start_s` (`PIPELINE_PROXY_CSV`;
    /// `start_s`: when it started, on `CLOCK_MONOTONIC`).
    fn write_csv(&self, file: &std::path::Path) -> anyhow::Result<()> {
        let mut text = String::from("due_ms,lag_ms,took_ms,ok,start_s\n");
        for c in &self.calls {
            text.push_str(&format!(
                "{:.3},{:.3},{:.3},{},{:.6}\n",
                c.due.as_secs_f64() * 1e3,
                c.lag.as_secs_f64() * 1e3,
                c.took.as_secs_f64() * 1e3,
                u8::from(c.ok),
                self.monotonic_start + (c.due + c.lag).as_secs_f64()
            ));
        }
        std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))
    }

    fn line(&self, rate: usize) -> String {
        #[allow(clippy::cast_precision_loss)]
        let per_call = ticks_ms(self.cpu) / self.took.len().max(1) as f64;
        format!(
            "{} calls in {:.1} s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} failed; start lag p99 {:.2} ms, \
             max {:.2} ms; CPU at {rate}/s: switchboard {:.1}% of one core ({per_call:.3} ms a call; \
             by thread, user+system ticks: {}), this process (client, fake) {:.0}%, \
             every other process {:.0}%",
            self.took.len() + self.failed,
            self.wall.as_secs_f64(),
            self.ms(0.5),
            self.ms(0.99),
            self.ms(1.0),
            self.failed,
            samples_ms(&self.lag, 0.99),
            samples_ms(&self.lag, 1.0),
            core_percent(self.cpu, self.wall),
            describe_threads(&self.threads),
            core_percent(self.own, self.wall),
            core_percent(self.others, self.wall),
        )
    }
}

pub async fn proxy(rate: usize, secs: Duration) -> anyhow::Result<()> {
    let calls = usize::try_from(secs.as_secs())?.saturating_mul(rate);
    println!(
        "\nproxy: --proxy-rate {rate} --proxy-secs {} (the real binary, one bot in proxy mode, limits \
         off; the fake in this process; a keep-alive client on loopback, {calls} calls paced \
         open-loop, straight to the fake and then through the proxy)",
        secs.as_secs()
    );
    let mut desk = ProxyDesk::start("proxy").await?;
    let client = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let fake_url = desk.fake.api_url();
    let methods = [
        ("getMe", json!({})),
        (
            "sendMessage",
            json!({"chat_id": desk.user.id, "text": "An answer of the existing bot's"}),
        ),
    ];
    for (method, params) in methods {
        let body = Bytes::from(serde_json::to_vec(&params)?);
        let mut runs = Vec::with_capacity(2);
        for (path, base) in [
            ("straight to the fake", fake_url.as_str()),
            ("through the proxy", desk.proxy_url.as_str()),
        ] {
            let url = desk.method_url(base, method);
            desk.fake.clear_requests();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let warm = ((rate as f64 * WARM_UP_SECS) as usize).max(1);
            paced(&client, &url, &body, rate, warm, desk.pid()).await?;
            let run = paced(&client, &url, &body, rate, calls, desk.pid()).await?;
            desk.child.ensure_running()?;
            println!("proxy: {method} {path}: {}", run.line(rate));
            if let Some(dir) = std::env::var_os("PIPELINE_PROXY_CSV") {
                let via = if base == fake_url { "direct" } else { "proxy" };
                let file = std::path::Path::new(&dir).join(format!("{method}-{via}.csv"));
                run.write_csv(&file)?;
            }
            if run.failed * 100 > calls {
                bail!("{} of {calls} {method} calls {path} failed", run.failed);
            }
            if method == "sendMessage" && path == "through the proxy" {
                // Every call intercepted is mirrored into the topic.
                let settling = Instant::now();
                wait_settled(&desk.database, 1, &mut desk.child)
                    .await
                    .context("mirroring the bot's messages")?;
                let mirrors = desk.fake.request_count("copyMessage");
                println!(
                    "proxy: {method}: {mirrors} mirrors copied into the topic (calls intercepted, \
                     warm-up included: {}); nothing pending {:.2} s after the last call",
                    warm + calls - run.failed,
                    settling.elapsed().as_secs_f64()
                );
            }
            runs.push(run);
        }
        let [direct, proxied] = &runs[..] else {
            unreachable!("two runs per method");
        };
        let added = |q: f64| proxied.ms(q) - direct.ms(q);
        println!(
            "proxy: {method}: the proxy adds {:.2} ms at p50, {:.2} ms at p99 (target <= \
             {TARGET_ADDED_P99_MS} ms at p99: {})",
            added(0.5),
            added(0.99),
            verdict(added(0.99) <= TARGET_ADDED_P99_MS),
        );
    }
    desk.child.kill();
    desk.fake.shutdown();
    desk.child.print_log("proxy");
    Ok(())
}

/// Makes `total` POSTs of `body` (JSON) to `url`, `rate` a second on a
/// fixed schedule (see the module doc), and waits for every answer; reads
/// the CPU of `pid` (switchboard) and of this process around it.
async fn paced(
    client: &reqwest::Client,
    url: &str,
    body: &Bytes,
    rate: usize,
    total: usize,
    pid: u32,
) -> anyhow::Result<Run> {
    let cpu_before = cpu_ticks(pid)?;
    let threads_before = thread_ticks(pid)?;
    let own_before = own_cpu_ticks()?;
    let everything_before = all_processes_ticks()?;
    let began = Instant::now();
    let runtime = tokio::runtime::Handle::current();
    let (client, url, body) = (client.clone(), Arc::<str>::from(url), body.clone());
    #[allow(clippy::cast_precision_loss)]
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let (tasks, monotonic_start) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let monotonic_start = monotonic_secs();
        let mut tasks = Vec::with_capacity(total);
        for i in 0..total {
            let due = start + interval.mul_f64(i as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let (client, url, body) = (client.clone(), Arc::clone(&url), body.clone());
            tasks.push(runtime.spawn(async move { call(&client, &url, body, start, due).await }));
        }
        (tasks, monotonic_start)
    })
    .await?;
    let mut took = Vec::with_capacity(total);
    let mut lag = Vec::with_capacity(total);
    let mut failed = 0;
    let mut calls = Vec::with_capacity(total);
    for task in tasks {
        let call = task.await?;
        calls.push(call);
        lag.push(call.lag);
        if call.ok {
            took.push(call.took);
        } else {
            failed += 1;
        }
    }
    let wall = began.elapsed();
    took.sort_unstable();
    lag.sort_unstable();
    let cpu = cpu_ticks(pid)? - cpu_before;
    let own = own_cpu_ticks()? - own_before;
    let everything = all_processes_ticks()? - everything_before;
    Ok(Run {
        took,
        lag,
        calls,
        monotonic_start,
        failed,
        wall,
        cpu,
        threads: ticks_between(&threads_before, &thread_ticks(pid)?),
        own,
        others: everything.saturating_sub(cpu + own),
    })
}

/// One call, timed from just before the request to the end of the answer.
async fn call(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
    began: Instant,
    due: Instant,
) -> Call {
    let start = Instant::now();
    let answer = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let (status_ok, read) = match answer {
        Ok(answer) => (answer.status().is_success(), answer.bytes().await.ok()),
        Err(_) => (false, None),
    };
    let took = start.elapsed();
    let ok = status_ok
        && read
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .is_some_and(|json| json["ok"] == true);
    Call {
        due: due - began,
        lag: start.saturating_duration_since(due),
        took,
        ok,
    }
}

/// `CLOCK_MONOTONIC` now, in seconds.
fn monotonic_secs() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    #[allow(clippy::cast_precision_loss)]
    let secs = now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9;
    secs
}
