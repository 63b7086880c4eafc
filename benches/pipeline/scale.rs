//! scale: the real binary with `--bots` bots long-polling the fake (in this
//! process), idle: resident memory and CPU over an idle window, read from
//! `/proc`. Default settings (rate limits on), `poll_timeout` 30 s.

use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard::fake::FakeTelegram;

use crate::common::{verdict, wait_until_polling};
use crate::process::{
    clock_ticks_per_sec, core_percent, cpu_ticks, mb, proc_status_kb, spawn_switchboard,
    write_config,
};

/// The targets from the issue; printed next to the figures, never enforced.
const TARGET_RSS_MB: f64 = 150.0;
const TARGET_IDLE_CPU_PERCENT: f64 = 3.0;
/// `getUpdates` long-poll timeout of the run (the production default).
const SCALE_POLL_TIMEOUT: &str = "30s";

pub async fn scale(bots: usize, idle: Duration) -> anyhow::Result<()> {
    println!(
        "\nscale: --bots {bots} --idle-secs {} (the real binary, poll_timeout = {SCALE_POLL_TIMEOUT}, \
         one backend group per bot)",
        idle.as_secs()
    );
    let fake = FakeTelegram::start().await?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let table: Vec<(String, String, i64)> = (0..bots)
        .map(|i| {
            let bot = fake.add_bot(&format!("scale{i:05}_bot"));
            let group = fake.add_forum_group(&format!("scale {i} support"), &[&bot]);
            (format!("scale{i:05}"), bot.token, group)
        })
        .collect();
    let config = write_config(dir.path(), &fake.api_url(), SCALE_POLL_TIMEOUT, "", table)?;

    let started = Instant::now();
    let mut child = spawn_switchboard(&config, &dir.path().join("switchboard.log"))?;
    let pid = child.pid();
    wait_until_polling(&fake, bots, &mut child).await?;
    let startup = started.elapsed();
    let rss_at_start = proc_status_kb(pid, "VmRSS")?;

    let cpu_before = cpu_ticks(pid)?;
    let polls_before = fake.request_count("getUpdates");
    let window = Instant::now();
    let mut rss_max = rss_at_start;
    while window.elapsed() < idle {
        let left = idle.saturating_sub(window.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        child.ensure_running()?;
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

    let cpu_percent = core_percent(cpu_after - cpu_before, wall);
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
        "scale: idle CPU {cpu_percent:.2}% of one core over {:.1} s ({} ticks at {}/s; \
         {polls} getUpdates renewals in the window) (target <= {TARGET_IDLE_CPU_PERCENT}%: {})",
        wall.as_secs_f64(),
        cpu_after - cpu_before,
        clock_ticks_per_sec(),
        verdict(cpu_percent <= TARGET_IDLE_CPU_PERCENT)
    );
    child.print_log("scale");
    Ok(())
}
