//! The `seen_updates` table: which update ids each bot has stored, so that
//! an update served twice (a retried answer, a misbehaving server in between)
//! is stored, and so relayed, once.

use rusqlite::{Connection, params};

/// How long an update id is remembered: Telegram keeps an update 24 hours,
/// so a repeat cannot come later than that.
pub const REMEMBER_SECS: i64 = 2 * 24 * 60 * 60;

/// Records `update_id` as stored for `bot`; `false` if it already was.
pub fn first_sight(
    conn: &Connection,
    bot: &str,
    update_id: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO seen_updates (bot, update_id, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (bot, update_id) DO NOTHING",
        )?
        .execute(params![bot, update_id, now])?;
    Ok(inserted > 0)
}

/// Forgets update ids stored before `before` (Unix time).
pub fn prune(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM seen_updates WHERE at < ?1")?
        .execute([before])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn each_update_id_is_new_once_per_bot() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        assert!(first_sight(&conn, "a", 7, 100).unwrap());
        assert!(!first_sight(&conn, "a", 7, 200).unwrap());
        assert!(first_sight(&conn, "b", 7, 200).unwrap());
        assert_eq!(prune(&conn, 150).unwrap(), 1);
        assert!(first_sight(&conn, "a", 7, 300).unwrap(), "forgotten");
    }
}
