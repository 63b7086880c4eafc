//! The `held_updates` table: a backend group's updates held back while a
//! topic's creation is not recorded yet. Telegram may deliver an operator's
//! message in a new topic before the sender has stored the topic's id; the
//! dispatcher then cannot tell which dialog it belongs to, so it holds the
//! update here instead of dropping it, and it goes back into the inbox,
//! in order, when a creation in that group is recorded or fails.

use rusqlite::{Connection, params};

/// Holds `payload` (an update of `chat`, as received) back.
pub fn hold(
    conn: &Connection,
    bot: &str,
    chat: i64,
    payload: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO held_updates (bot, chat, payload, held_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![bot, chat, payload, now])?;
    Ok(())
}

/// Moves the updates held for `bot` in `chat` back into the inbox, in the
/// order they came; returns how many.
pub fn release(conn: &Connection, bot: &str, chat: i64) -> rusqlite::Result<usize> {
    let moved = conn
        .prepare_cached(
            "INSERT INTO inbox (bot, kind, payload)
             SELECT bot, 'update', payload FROM held_updates
             WHERE bot = ?1 AND chat = ?2 ORDER BY id",
        )?
        .execute(params![bot, chat])?;
    if moved > 0 {
        conn.prepare_cached("DELETE FROM held_updates WHERE bot = ?1 AND chat = ?2")?
            .execute(params![bot, chat])?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::inbox;

    #[test]
    fn held_updates_go_back_into_the_inbox_in_order() {
        let (store, _dir) = crate::store::testing::temp_store();
        let conn = store.conn().unwrap();
        hold(&conn, "a", -100, "first", 1).unwrap();
        hold(&conn, "a", -200, "elsewhere", 1).unwrap();
        hold(&conn, "a", -100, "second", 2).unwrap();
        assert_eq!(release(&conn, "a", -100).unwrap(), 2);
        assert_eq!(release(&conn, "a", -100).unwrap(), 0);
        let rows = inbox::next_after(&conn, 0, 10).unwrap();
        let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
        assert_eq!(payloads, ["first", "second"]);
        assert!(rows.iter().all(|r| r.kind == Ok(inbox::Kind::Update)));
    }
}
