//! many: the real binary with `--bots` bots relaying at once, limits off,
//! the fake in this process (as in `scale`).
//!
//! Each bot has its own backend group and one user. switchboard starts;
//! once every bot is long-polling, each user writes once and the run waits
//! until every user has a topic and nothing is pending (read from the
//! database). Then a thread of its own sends `--rate` messages a second for
//! `--secs` seconds, round-robin over the bots: every millisecond it sends
//! as many as are due since it began (so a late wake-up is caught up, not
//! lost), and notes the time just before each. The run then waits until the
//! fake has accepted a copy of every message (or a minute has passed).
//!
//! Latency: one user per bot, and a lane keeps a user's messages in order,
//! so the k-th copy into a bot's group is the copy of the k-th message sent
//! to that bot; its latency is the time the fake accepted the copy (the
//! fake's statistics note each accepted send, its time and chat) minus the
//! time the message was sent. Printed: delivered/sent, p50/p90/p99/max
//! (nearest rank), switchboard's memory (VmHWM: the peak since its start,
//! warm-up included; VmRSS sampled during the run and at the end) and CPU
//! (by thread), and this process's CPU (the fake's work, and the sending).
//!
//! The fake runs in this process and serves every bot's calls: this
//! process's share of the CPU is printed to read the latency against.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use switchboard::fake::{FakeBot, FakeTelegram, FakeUser};
use tokio::time::Instant;

use crate::common::{samples_ms, thousands, verdict, wait_settled, wait_until_polling};
use crate::process::{
    UNLIMITED, core_percent, cpu_ticks, describe_threads, mb, own_cpu_ticks, proc_status_kb,
    spawn_switchboard, thread_ticks, ticks_between, ticks_ms, write_config,
};

/// The target from the issue; printed next to the figure, never enforced.
const TARGET_P99_MS: f64 = 50.0;
/// How long the copies may take after the last message was sent.
const DELIVERY_LIMIT: Duration = Duration::from_secs(60);
/// How often switchboard's memory is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);

/// One bot of the run, with the one user who writes to it.
struct Pair {
    bot: FakeBot,
    group: i64,
    user: FakeUser,
}

pub async fn many(bots: usize, rate: usize, secs: Duration) -> anyhow::Result<()> {
    let total = rate.saturating_mul(usize::try_from(secs.as_secs())?);
    println!(
        "\nmany: --bots {bots} --rate {rate} --secs {} (the real binary, limits off, welcome off; \
         {total} messages round-robin over the bots, one user each)",
        secs.as_secs()
    );
    // This process holds the fake's end of about two connections per bot.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < u64::try_from(bots)? * 3 => {
            println!("many: warning: this process may open only {limit} files");
        }
        Ok(_) => {}
        Err(err) => println!("many: warning: cannot raise the open file limit: {err}"),
    }
    let fake = FakeTelegram::start().await?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let pairs: Vec<Pair> = (0..bots)
        .map(|i| {
            let bot = fake.add_bot(&format!("many{i:05}_bot"));
            let group = fake.add_forum_group(&format!("many {i} support"), &[&bot]);
            let user = fake.add_user(&format!("User{i}"), Some(&format!("user{i}")));
            Pair { bot, group, user }
        })
        .collect();
    let table = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("many{i:05}"), p.bot.token.clone(), p.group));
    let config = write_config(dir.path(), &fake.api_url(), "30s", UNLIMITED, table)?;
    let database = dir.path().join("switchboard.db");

    let started = std::time::Instant::now();
    let mut child = spawn_switchboard(&config, &dir.path().join("switchboard.log"))?;
    let pid = child.pid();
    wait_until_polling(&fake, bots, &mut child).await?;
    let polling = started.elapsed();
    for pair in &pairs {
        fake.user_sends(&pair.bot, &pair.user, "hello");
    }
    wait_settled(&database, bots, &mut child)
        .await
        .context("many warm-up")?;
    println!(
        "many: {bots} bots long-polling {:.2} s after spawn; every user has a topic {:.2} s after spawn",
        polling.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    fake.clear_stats();
    fake.clear_requests();

    let rss_warm = proc_status_kb(pid, "VmRSS")?;
    let cpu_before = cpu_ticks(pid)?;
    let threads_before = thread_ticks(pid)?;
    let own_before = own_cpu_ticks()?;
    let window = Instant::now();
    let sending = {
        let fake = fake.clone();
        let pairs: Vec<(FakeBot, FakeUser)> = pairs
            .iter()
            .map(|p| (p.bot.clone(), p.user.clone()))
            .collect();
        std::thread::spawn(move || send_at_rate(&fake, &pairs, rate, total))
    };
    let mut rss_max = 0;
    while !sending.is_finished() {
        tokio::time::sleep(SAMPLE_INTERVAL).await;
        child.ensure_running()?;
        rss_max = rss_max.max(proc_status_kb(pid, "VmRSS")?);
    }
    let sent_at = sending
        .join()
        .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?;
    let sent_in = window.elapsed();

    let groups: HashMap<i64, usize> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.group, i))
        .collect();
    let copies_in = |fake: &FakeTelegram| {
        let mut copies = vec![Vec::new(); bots];
        for send in fake.stats().sends {
            if send.method == "copyMessage" {
                if let Some(&i) = groups.get(&send.chat_id) {
                    copies[i].push(send.at);
                }
            }
        }
        copies
    };
    let delivery = Instant::now();
    let copies = loop {
        let copies = copies_in(&fake);
        let delivered: usize = copies.iter().map(Vec::len).sum();
        if delivered >= total || delivery.elapsed() > DELIVERY_LIMIT {
            break copies;
        }
        child.ensure_running()?;
        rss_max = rss_max.max(proc_status_kb(pid, "VmRSS")?);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall = window.elapsed();
    let cpu = cpu_ticks(pid)? - cpu_before;
    let own = own_cpu_ticks()? - own_before;
    let threads = ticks_between(&threads_before, &thread_ticks(pid)?);
    let rss = proc_status_kb(pid, "VmRSS")?;
    let hwm = proc_status_kb(pid, "VmHWM")?;
    let thread_count = proc_status_kb(pid, "Threads")?;
    child.kill();
    fake.shutdown();

    let mut samples = Vec::with_capacity(total);
    // The latencies by the second of the run each message was sent in: a
    // queue that grows shows as a rising median.
    let mut by_second: Vec<Vec<Duration>> = Vec::new();
    let mut extra = 0;
    for (sent, copied) in sent_at.iter().zip(&copies) {
        for (s, c) in sent.iter().zip(copied) {
            let latency = c.duration_since(*s);
            let second = usize::try_from(s.duration_since(window).as_secs())?;
            if by_second.len() <= second {
                by_second.resize(second + 1, Vec::new());
            }
            by_second[second].push(latency);
            samples.push(latency);
        }
        extra += copied.len().saturating_sub(sent.len());
    }
    let delivered = samples.len();
    samples.sort_unstable();
    let medians: Vec<String> = by_second
        .iter_mut()
        .map(|second| {
            second.sort_unstable();
            format!("{:.0}", samples_ms(second, 0.5))
        })
        .collect();
    let ms = |q: f64| samples_ms(&samples, q);
    println!(
        "many: sent {total} messages in {:.2} s ({} messages/s); delivered {delivered} of {total} \
         (target every one: {}){}",
        sent_in.as_secs_f64(),
        thousands(crate::common::per_sec(total, sent_in)),
        verdict(delivered == total),
        if extra > 0 {
            format!("; {extra} copies more than messages sent")
        } else {
            String::new()
        }
    );
    println!(
        "many: latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 <= {TARGET_P99_MS} ms: {})",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0),
        verdict(ms(0.99) <= TARGET_P99_MS)
    );
    println!(
        "many: median latency of the messages sent in each second of the run, ms: {}",
        medians.join(", ")
    );
    println!(
        "many: switchboard's memory: peak VmHWM {:.1} MB (since its start), VmRSS {:.1} MB after the \
         warm-up, at most {:.1} MB while relaying, {:.1} MB at the end; {thread_count} threads",
        mb(hwm),
        mb(rss_warm),
        mb(rss_max),
        mb(rss)
    );
    #[allow(clippy::cast_precision_loss)]
    let per_message = ticks_ms(cpu) / total.max(1) as f64;
    println!(
        "many: CPU over {:.1} s: switchboard {:.0}% of one core ({per_message:.3} ms per message; by thread, \
         user+system ticks: {}), this process (the fake, the sending) {:.0}%",
        wall.as_secs_f64(),
        core_percent(cpu, wall),
        describe_threads(&threads),
        core_percent(own, wall)
    );
    child.print_log("many");
    Ok(())
}

/// Sends `total` messages at `rate` a second, round-robin over `pairs`
/// (see the module doc); returns the times they were sent, per pair.
fn send_at_rate(
    fake: &FakeTelegram,
    pairs: &[(FakeBot, FakeUser)],
    rate: usize,
    total: usize,
) -> Vec<Vec<Instant>> {
    let mut sent_at = vec![Vec::with_capacity(total / pairs.len() + 1); pairs.len()];
    let began = std::time::Instant::now();
    let mut sent = 0;
    while sent < total {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let due = ((began.elapsed().as_secs_f64() * rate as f64) as usize + 1).min(total);
        while sent < due {
            let i = sent % pairs.len();
            let (bot, user) = &pairs[i];
            sent_at[i].push(Instant::now());
            fake.user_sends(bot, user, &format!("message {sent}"));
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sent_at
}
