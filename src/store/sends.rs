//! The `sends` table: when each bot's recent calls were answered, by chat,
//! so that a restarted sender's rate limiter starts from where the last run
//! left its windows.

use rusqlite::{Connection, params};

/// Records that a call into `chat` was answered at `at_ms` (Unix ms).
pub fn record(conn: &Connection, bot: &str, chat: i64, at_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO sends (bot, chat, at_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![bot, chat, at_ms])?;
    Ok(())
}

/// The bot's calls answered at `since_ms` or later, oldest first.
pub fn since(conn: &Connection, bot: &str, since_ms: i64) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT chat, at_ms FROM sends WHERE bot = ?1 AND at_ms >= ?2 ORDER BY at_ms",
    )?;
    let rows = stmt.query_map(params![bot, since_ms], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Forgets every bot's calls answered before `before_ms` (bots no longer
/// configured included).
pub fn prune(conn: &Connection, before_ms: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM sends WHERE at_ms < ?1")?
        .execute([before_ms])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn recent_sends_per_bot_oldest_first_and_pruned() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        record(&conn, "a", -100, 2_000).unwrap();
        record(&conn, "a", 7, 1_000).unwrap();
        record(&conn, "b", 7, 1_500).unwrap();
        assert_eq!(since(&conn, "a", 0).unwrap(), [(7, 1_000), (-100, 2_000)]);
        assert_eq!(since(&conn, "a", 1_001).unwrap(), [(-100, 2_000)]);
        assert_eq!(prune(&conn, 1_500).unwrap(), 1);
        assert_eq!(since(&conn, "a", 0).unwrap(), [(-100, 2_000)]);
        assert_eq!(since(&conn, "b", 0).unwrap().len(), 1);
        assert_eq!(prune(&conn, 3_000).unwrap(), 2);
    }
}
