//! latency: one user message at a time, timed from just before the fake
//! receives it to when its copy is in the user's topic (one bot, limits off).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::common::{MESSAGE_LIMIT, add_users, desk, samples_ms, topics_of, verdict, warm_up};

/// The target from the issue; printed next to the figure, never enforced.
const TARGET_P99_MS: f64 = 10.0;
/// Upper bound that keeps the run finite.
const LATENCY_LIMIT: Duration = Duration::from_secs(600);

pub async fn latency(messages: usize, dialogs: usize) -> anyhow::Result<()> {
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
    let threads = topics_of(&fake, desk.group(), &people)?;

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
