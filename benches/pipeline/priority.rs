//! priority: an operator reply while a broadcast goes out (one bot, limits
//! off, in this process): the reply's latency, and the broadcast's rate.

use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard::app::Options;
use switchboard::store::Store;

use crate::common::{WARM_UP_LIMIT, add_users, desk, per_sec, reply_delivered, thousands, verdict};

/// The target from the issue; printed next to the figure, never enforced.
const TARGET_REPLY_MS: f64 = 1_000.0;

/// A broadcast of `broadcast` messages is being sent (limits off) when an
/// operator replies in a dialog: the time from the reply in the topic to its
/// copy in the user's chat.
pub async fn priority(broadcast: usize) -> anyhow::Result<()> {
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
    switchboard::testkit::enqueue_broadcast(
        &store,
        &desk.bots[0].config.name,
        &audience,
        "weekly news",
    )?;
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
    let reply = reply_delivered(
        &fake,
        (&bot, &alice),
        (group, topic),
        &operator,
        "your answer",
    )
    .await?;
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
