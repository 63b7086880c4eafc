//! ingest: updates per second from `getUpdates` to durable outbox jobs.
//!
//! Every user already has a dialog with a topic (a warm-up run creates
//! them), then `--updates` private messages are queued in the fake before
//! the app starts, and every outgoing call hangs so that the sender does not
//! compete for the CPU. Timed from the start of the app until the bot's
//! stored offset is past the last update and the inbox is empty (a watcher
//! thread reads the database every 2 ms).

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use switchboard::app::Options;
use switchboard::fake::{Fault, FaultRule};
use switchboard::store::Store;

use crate::common::{add_users, count, desk, millis, per_sec, thousands, verdict, warm_up};

/// The target from the issue; printed next to the figure, never enforced.
const TARGET_INGEST_PER_SEC: f64 = 60_000.0;
/// Upper bound that keeps the run finite when something is stuck.
const INGEST_LIMIT: Duration = Duration::from_secs(300);
/// How often the ingest watcher reads the database.
const WATCH_INTERVAL: Duration = Duration::from_millis(2);

pub async fn ingest(updates: usize, users: usize) -> anyhow::Result<()> {
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

fn stored_offset(store: &Store, bot: &str) -> anyhow::Result<i64> {
    Ok(store.conn()?.query_row(
        "SELECT update_offset FROM bots WHERE name = ?1",
        [bot],
        |row| row.get(0),
    )?)
}
