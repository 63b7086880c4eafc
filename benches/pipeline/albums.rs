//! albums: albums of photos from users with a topic, one at a time (one
//! bot, limits off), timed from just before the fake receives the album's
//! last part to when the whole album is in the user's topic; and the calls
//! each album took. An album is complete at its tenth part, when the next
//! message arrives, or after a second of quiet; each is measured in turn:
//! albums of ten; of five followed by a text; of five alone. The first two
//! figures are the relay's own latency, the third that second plus it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use switchboard::fake::photo_content;

use crate::common::{MESSAGE_LIMIT, add_users, desk, samples_ms, topics_of, verdict, warm_up};

/// The ways an album is completed, measured in turn: its parts, whether a
/// text follows it, and in words.
const RUNS: [(usize, bool, &str); 3] = [
    (10, false, "at its tenth part"),
    (5, true, "by the next message"),
    (5, false, "by a second of quiet"),
];
/// Users the albums rotate over.
const USERS: usize = 10;
/// The target: the relay's p99 (issue 9), for albums completed without
/// waiting; printed next to the figure, never enforced.
const TARGET_P99_MS: f64 = 10.0;

pub async fn albums(albums: usize) -> anyhow::Result<()> {
    println!(
        "albums: --albums {albums} (one bot, limits off, photos, one album at a time, \
         round-robin over {USERS} dialogs)"
    );
    let mut desk = desk("albums").await?;
    let fake = desk.fake.clone();
    let people = add_users(&fake, USERS);
    warm_up(&mut desk, &people)
        .await
        .context("albums warm-up")?;
    let threads = topics_of(&fake, desk.group(), &people)?;
    let group = desk.group();

    for (parts, followed, how) in RUNS {
        let mut samples = Vec::with_capacity(albums);
        let mut calls = 0;
        for i in 0..albums {
            let (user, thread) = (&people[i % USERS], threads[i % USERS]);
            let caption = format!("album {i} {how}");
            let mut items: Vec<serde_json::Value> =
                (0..parts).map(|_| photo_content(None)).collect();
            items[0]["caption"] = caption.clone().into();
            let (first, last) = items.split_at(parts - 1);
            fake.clear_requests();
            fake.user_sends_album(desk.bot(), user, first.to_vec());
            // The album's parts share one media_group_id: send the last one
            // with it.
            let album = fake
                .private_chat(desk.bot(), user)
                .last()
                .and_then(|m| m.media_group_id().map(str::to_owned))
                .context("the album's first parts")?;
            let mut last = last[0].clone();
            last["media_group_id"] = album.into();
            let sent = Instant::now();
            fake.user_sends_content(desk.bot(), user, last);
            if followed {
                fake.user_sends(desk.bot(), user, "and one more thing");
            }
            let arrived = fake
                .wait_until(MESSAGE_LIMIT, |f| {
                    let copied = f.request_count("copyMessages") > 0
                        && f.topic_messages(group, thread)
                            .iter()
                            .any(|m| m.caption.as_deref() == Some(caption.as_str()));
                    copied.then_some(())
                })
                .await;
            let elapsed = sent.elapsed();
            if arrived.is_none() {
                bail!("album {i} did not reach its topic within {MESSAGE_LIMIT:?}");
            }
            samples.push(elapsed);
            calls += fake.request_count("copyMessages");
            if followed {
                // The text after it, before the next album starts.
                fake.wait_until(MESSAGE_LIMIT, |f| {
                    (f.request_count("copyMessage") > 0).then_some(())
                })
                .await
                .context("the message after the album")?;
            }
            calls += fake
                .request_count("copyMessage")
                .saturating_sub(usize::from(followed));
        }
        samples.sort_unstable();
        let ms = |q: f64| samples_ms(&samples, q);
        let calls_per_album = calls as f64 / albums as f64;
        let at_once = followed || parts == 10;
        let expected = if at_once {
            format!(
                "target p99 <= {TARGET_P99_MS} ms: {}",
                verdict(ms(0.99) <= TARGET_P99_MS)
            )
        } else {
            format!("expected about {} ms", Duration::from_secs(1).as_millis())
        };
        println!(
            "albums: {parts} photos, completed {how}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
             ({expected}); calls per album {calls_per_album:.2}",
            ms(0.50),
            ms(0.99),
            ms(1.0),
        );
    }
    desk.stop().await?;
    Ok(())
}
