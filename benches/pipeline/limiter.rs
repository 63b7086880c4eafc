//! limiter: a burst to distinct users (a broadcast), one bot at its default
//! limits, the fake enforcing Telegram's: achieved rate over the configured
//! one, and 429s.

use std::time::Duration;

use anyhow::{Context, bail};
use switchboard::app::Options;
use switchboard::store::Store;

use crate::common::{add_users, desk, verdict};

/// The target from the issue; printed next to the figure, never enforced.
const TARGET_UTILISATION: f64 = 0.97;

/// A burst of `sends` messages to distinct users (a broadcast), the app at its
/// default limits and the fake enforcing Telegram's. Under "at most 30 in any
/// second", N sends need at least (N - 30) / 30 s from the first to the last;
/// utilisation is that minimum over the time they took.
pub async fn limiter(sends: usize) -> anyhow::Result<()> {
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
    switchboard::testkit::enqueue_broadcast(&store, &desk.bots[0].config.name, &users, "news")?;
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
