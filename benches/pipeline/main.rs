//! Benchmarks of the whole pipeline against the fake Bot API (see
//! `docs/BENCHMARKS.md` for what each figure means and how to read it).
//!
//! `cargo bench --bench pipeline -- <scenario|all> [sizes]` (`-- --help`
//! lists the scenarios, the sizes and their defaults). One file per
//! scenario; `common.rs` holds what several share, `process.rs` the
//! processes of their own (the real binary, `switchboard fake`) and what
//! `/proc` says about them.
//!
//! In this process, on the desk of [`switchboard::testkit`] (as in the
//! integration tests):
//! - **ingest**: updates per second from `getUpdates` to durable outbox jobs.
//! - **latency**: one user message at a time, timed from just before the fake
//!   receives it to when its copy is in the user's topic.
//! - **limiter**: a burst at the default limits, the fake enforcing
//!   Telegram's: achieved rate over the configured one, and 429s.
//! - **priority**: an operator reply while a broadcast goes out.
//! - **albums**: an album of ten photos to its topic, completed by the next
//!   message or by a second of quiet: latency and calls per album.
//!
//! The real binary (`switchboard run`) in a process of its own, so that its
//! CPU and memory are its own:
//! - **scale**: many bots long-polling, idle: memory and CPU.
//! - **sender**: one bot's sender with limits off, the fake in a process of
//!   its own too: jobs/s, and switchboard's CPU per relayed message.
//! - **many**: many bots relaying at once at a fixed rate: every message
//!   delivered, latency percentiles, memory.
//! - **backlog**: a million pending broadcast jobs: memory, and an operator
//!   reply queued behind them.
//! - **proxy**: the latency the Bot API proxy (`mode = "proxy"`) adds to an
//!   existing bot's calls at a steady rate, and its CPU.
//! - **upload**: switchboard's peak memory while a large file is uploaded
//!   through the proxy.
//!
//! Figures are printed, with the targets next to them (PASS/MISS); timing
//! never fails the run. Only errors (a stuck pipeline, a crashed child) do.

/// The allocator of the switchboard binary, for the app run in-process here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod albums;
mod backlog;
mod common;
mod ingest;
mod latency;
mod limiter;
mod many;
mod priority;
mod process;
mod proxy;
mod scale;
mod sender;
mod upload;

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

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
    /// albums of ten photos to their topics: latency from the last part,
    /// completed by the next message or by a second of quiet; calls per album
    Albums,
    /// the real binary and `switchboard fake`, each a process of its own:
    /// broadcast jobs/s, and switchboard's CPU per relayed message
    Sender,
    /// the real binary with many bots relaying at a fixed total rate:
    /// delivery, latency percentiles, memory
    Many,
    /// the real binary with a million pending broadcast jobs: memory, and
    /// the latency of an operator reply queued behind them
    Backlog,
    /// the real binary with a bot in proxy mode: what the Bot API proxy adds
    /// to a call's latency (getMe, sendMessage) at a steady rate, and its CPU
    Proxy,
    /// the real binary with a bot in proxy mode: its peak memory while a
    /// large sendDocument is streamed through the proxy
    Upload,
    /// all of them, one after the other
    All,
}

/// Benchmarks of the whole pipeline against the fake Bot API.
#[derive(Parser)]
#[command(
    name = "pipeline",
    bin_name = "cargo bench --bench pipeline --",
    after_help = "RUST_LOG sets the in-process app's log level (default: error)."
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
    /// scale, many: bots in bots.toml, each with its own backend group
    #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
    bots: usize,
    /// scale: length of the idle window in seconds (at most 600); keep it =
    /// poll_timeout (30s) so that it holds exactly one long-poll renewal per bot
    #[arg(long, default_value_t = 30, value_parser = at_least_one)]
    idle_secs: usize,
    /// limiter: messages in the burst, one per user
    #[arg(long, default_value_t = 900, value_parser = at_least_one)]
    sends: usize,
    /// albums: albums sent one at a time, for each way of completing them
    #[arg(long, default_value_t = 50, value_parser = at_least_one)]
    albums: usize,
    /// priority: broadcast messages queued before the reply
    #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
    broadcast: usize,
    /// sender: broadcast jobs queued before the start, one per user
    #[arg(long, default_value_t = 50_000, value_parser = at_least_one)]
    jobs: usize,
    /// sender: user messages queued in the fake before the start
    #[arg(long, default_value_t = 20_000, value_parser = at_least_one)]
    relayed: usize,
    /// sender: users (each with a topic) they come from, round-robin
    #[arg(long, default_value_t = 1_000, value_parser = at_least_one)]
    relay_users: usize,
    /// many: messages per second, all bots together, round-robin
    #[arg(long, default_value_t = 5_000, value_parser = at_least_one)]
    rate: usize,
    /// many: seconds of sending at that rate (at most 600)
    #[arg(long, default_value_t = 10, value_parser = at_least_one)]
    secs: usize,
    /// backlog: pending broadcast jobs at the start
    #[arg(long, default_value_t = 1_000_000, value_parser = at_least_one)]
    backlog: usize,
    /// backlog: after the reply, let the whole backlog go out (minutes),
    /// instead of stopping after 10 s more
    #[arg(long)]
    drain: bool,
    /// proxy: calls per second, paced, of each method and path
    #[arg(long, default_value_t = 500, value_parser = at_least_one)]
    proxy_rate: usize,
    /// proxy: seconds of calls at that rate, for each method and path (at most 600)
    #[arg(long, default_value_t = 20, value_parser = at_least_one)]
    proxy_secs: usize,
    /// upload: the file's size in MB (of 1,048,576 bytes; the proxy accepts 50)
    #[arg(long, default_value_t = 20, value_parser = at_least_one)]
    upload_mb: usize,
    /// upload: uploads, one after the other
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    uploads: usize,
    /// Passed by cargo to every bench binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Longest runs that `--idle-secs` and `--secs` may ask for.
const MAX_SECS: u64 = 600;

/// A whole number of at least 1; `_` may group its digits (`200_000`).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.replace('_', "").parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(number) => Ok(number),
        Err(_) => Err(format!("{text:?}: expected a positive whole number")),
    }
}

/// `secs` seconds, at most [`MAX_SECS`].
fn seconds(secs: usize) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(u64::try_from(secs)?.min(MAX_SECS)))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        println!(
            "machine: {} cores; release build; figures depend on what else runs",
            std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
        );
        let run = |scenario: Scenario| args.scenario == Scenario::All || args.scenario == scenario;
        if run(Scenario::Ingest) {
            ingest::ingest(args.updates, args.users).await?;
        }
        if run(Scenario::Latency) {
            latency::latency(args.messages, args.dialogs).await?;
        }
        if run(Scenario::Scale) {
            scale::scale(args.bots, seconds(args.idle_secs)?).await?;
        }
        if run(Scenario::Limiter) {
            limiter::limiter(args.sends).await?;
        }
        if run(Scenario::Priority) {
            priority::priority(args.broadcast).await?;
        }
        if run(Scenario::Albums) {
            albums::albums(args.albums).await?;
        }
        if run(Scenario::Sender) {
            sender::sender(args.jobs, args.relayed, args.relay_users).await?;
        }
        if run(Scenario::Many) {
            many::many(args.bots, args.rate, seconds(args.secs)?).await?;
        }
        if run(Scenario::Backlog) {
            backlog::backlog(args.backlog, args.drain).await?;
        }
        if run(Scenario::Proxy) {
            proxy::proxy(args.proxy_rate, seconds(args.proxy_secs)?).await?;
        }
        if run(Scenario::Upload) {
            upload::upload(args.upload_mb, args.uploads).await?;
        }
        anyhow::Ok(())
    })
}
