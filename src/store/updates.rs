//! Which update ids each bot stored lately, so that an update served twice
//! (a retried answer, a misbehaving server in between) is stored, and so
//! relayed, once.
//!
//! Algorithm. Telegram numbers a bot's updates in increasing order and
//! serves them in that order, so the ids a bot stored form a few *runs*:
//! usually one, a new one only when the numbering starts again (after a week
//! without updates Telegram picks the next id at random). The runs are kept
//! in the bot's row, next to its offset, as `[first, last, at]` triples (JSON),
//! and written in the same statement as the offset: a batch costs one row,
//! not a row per update.
//!
//! - An id within a run (`first <= id <= last`) was stored: a repeat.
//! - An id above the current run (the one last extended) extends it, even
//!   across a gap: Telegram never serves an id below one it served later,
//!   and an id skipped by the numbering is never served.
//! - Any other id starts a new run.
//! - A run last extended more than [`REMEMBER_SECS`] ago is forgotten:
//!   Telegram keeps an update 24 hours, so no repeat comes later than that,
//!   and a numbering that starts again after a quiet week meets no old run.
//!   At most [`MAX_RUNS`] are kept, the oldest forgotten first.

use rusqlite::{Connection, OptionalExtension, params};

/// How long a run of update ids is remembered: Telegram keeps an update 24
/// hours, so a repeat cannot come later than that.
pub const REMEMBER_SECS: i64 = 2 * 24 * 60 * 60;
/// Runs kept at most; each new one means the numbering started again.
pub const MAX_RUNS: usize = 16;

/// One run: ids `first..=last`, last extended at `at` (Unix time).
type Run = (i64, i64, i64);

/// The update ids a bot stored lately.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Oldest first; the last is the current run.
    runs: Vec<Run>,
}

impl Stored {
    /// `bot`'s runs as stored (none for a bot never polled).
    pub fn load(conn: &Connection, bot: &str) -> anyhow::Result<Stored> {
        let text: Option<String> = conn
            .prepare_cached("SELECT stored_updates FROM bots WHERE name = ?1")?
            .query_row([bot], |row| row.get(0))
            .optional()?;
        let runs = match text {
            Some(text) => serde_json::from_str(&text).map_err(|err| {
                anyhow::anyhow!("the stored update ids of bot {bot} cannot be read: {err}")
            })?,
            None => Vec::new(),
        };
        Ok(Stored { runs })
    }

    /// Records `update_id` as stored at `now`; `false` if it already was.
    pub fn first_sight(&mut self, update_id: i64, now: i64) -> bool {
        self.runs.retain(|&(_, _, at)| at >= now - REMEMBER_SECS);
        if self
            .runs
            .iter()
            .any(|&(first, last, _)| (first..=last).contains(&update_id))
        {
            return false;
        }
        match self.runs.last_mut() {
            Some((_, last, at)) if update_id > *last => {
                *last = update_id;
                *at = now;
            }
            _ => {
                if self.runs.len() == MAX_RUNS {
                    self.runs.remove(0);
                }
                self.runs.push((update_id, update_id, now));
            }
        }
        true
    }

    /// Writes the runs and the bot's next `offset` together.
    pub fn save(&self, conn: &Connection, bot: &str, offset: i64) -> anyhow::Result<()> {
        let runs = serde_json::to_string(&self.runs)?;
        conn.prepare_cached(
            "INSERT INTO bots (name, update_offset, stored_updates) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET
                 update_offset = excluded.update_offset,
                 stored_updates = excluded.stored_updates",
        )?
        .execute(params![bot, offset, runs])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn each_update_id_is_new_once_per_bot_and_survives_a_reload() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let mut a = Stored::load(&conn, "a").unwrap();
        assert!(a.first_sight(7, 100));
        assert!(!a.first_sight(7, 200));
        a.save(&conn, "a", 8).unwrap();
        let mut b = Stored::load(&conn, "b").unwrap();
        assert!(b.first_sight(7, 200), "another bot's ids are its own");
        let mut a = Stored::load(&conn, "a").unwrap();
        assert!(!a.first_sight(7, 300), "remembered across a reload");
        assert_eq!(crate::store::bots::offset(&conn, "a").unwrap(), 8);
    }

    #[test]
    fn a_numbering_that_starts_again_is_new_and_old_runs_are_forgotten() {
        let mut stored = Stored::default();
        for id in 1_000..1_010 {
            assert!(stored.first_sight(id, 0));
        }
        // The numbering starts again below: a second run, the first kept.
        assert!(stored.first_sight(5, 60));
        assert!(stored.first_sight(6, 61));
        assert!(!stored.first_sight(5, 62));
        assert!(!stored.first_sight(1_005, 62));
        assert_eq!(stored.runs.len(), 2);
        // After a quiet week both are forgotten.
        let week = 7 * 24 * 60 * 60;
        assert!(stored.first_sight(1_005, week));
        assert!(stored.first_sight(5, week));
        assert_eq!(stored.runs, [(1_005, 1_005, week), (5, 5, week)]);
    }

    #[test]
    fn runs_are_bounded() {
        let mut stored = Stored::default();
        for start in (0..100).rev() {
            assert!(stored.first_sight(start * 10, 0));
        }
        assert_eq!(stored.runs.len(), MAX_RUNS);
    }

    proptest! {
        /// Against a set of every id: ids served in increasing order, with
        /// gaps, and any of them served again later, are new exactly once.
        #[test]
        fn agrees_with_a_set_of_every_id(
            steps in prop::collection::vec((1i64..5, prop::option::of(0usize..50)), 1..200)
        ) {
            let mut stored = Stored::default();
            let mut seen = HashSet::new();
            let mut served = Vec::new();
            let mut next = 100;
            for (now, (gap, repeat)) in (0i64..).zip(steps) {
                next += gap;
                prop_assert_eq!(stored.first_sight(next, now), seen.insert(next));
                served.push(next);
                if let Some(back) = repeat {
                    let id = served[served.len().saturating_sub(1 + back)];
                    prop_assert!(!stored.first_sight(id, now), "repeat of {}", id);
                }
            }
        }
    }
}
