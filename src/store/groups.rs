//! The `group_migrations` table: backend groups that moved to a new chat id.

use rusqlite::{Connection, OptionalExtension, params};

/// Longest chain of moves followed (a group that moved, then moved again...).
const MAX_HOPS: usize = 8;

/// `old` moved to `new`: remember it and move the bot's dialogs along.
pub fn record_migration(conn: &Connection, bot: &str, old: i64, new: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO group_migrations (bot, old_chat, new_chat) VALUES (?1, ?2, ?3)
         ON CONFLICT (bot, old_chat) DO UPDATE SET new_chat = excluded.new_chat",
    )?
    .execute(params![bot, old, new])?;
    conn.prepare_cached(
        "UPDATE dialogs SET backend_group = ?3 WHERE bot = ?1 AND backend_group = ?2",
    )?
    .execute(params![bot, old, new])?;
    Ok(())
}

/// The id `chat` has now, after any moves.
pub fn current(conn: &Connection, bot: &str, chat: i64) -> rusqlite::Result<i64> {
    let mut stmt = conn
        .prepare_cached("SELECT new_chat FROM group_migrations WHERE bot = ?1 AND old_chat = ?2")?;
    let mut chat = chat;
    for _ in 0..MAX_HOPS {
        match stmt
            .query_row(params![bot, chat], |row| row.get(0))
            .optional()?
        {
            Some(next) if next != chat => chat = next,
            _ => break,
        }
    }
    Ok(chat)
}

/// The configured groups under the ids they have now.
pub fn current_all(conn: &Connection, bot: &str, configured: &[i64]) -> rusqlite::Result<Vec<i64>> {
    configured
        .iter()
        .map(|&group| current(conn, bot, group))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{dialogs, testing::temp_store};

    #[test]
    fn moves_are_followed_and_dialogs_move_along() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let dialog = dialogs::insert(&conn, "a", 7, -100, 0).unwrap();
        let other_bot = dialogs::insert(&conn, "b", 7, -100, 0).unwrap();
        assert_eq!(current(&conn, "a", -100).unwrap(), -100);
        record_migration(&conn, "a", -100, -200).unwrap();
        record_migration(&conn, "a", -200, -300).unwrap();
        assert_eq!(current(&conn, "a", -100).unwrap(), -300);
        assert_eq!(current_all(&conn, "a", &[-100, -5]).unwrap(), [-300, -5]);
        assert_eq!(current(&conn, "b", -100).unwrap(), -100, "per bot");
        assert_eq!(
            dialogs::by_id(&conn, dialog.id)
                .unwrap()
                .unwrap()
                .backend_group,
            -300
        );
        assert_eq!(
            dialogs::by_id(&conn, other_bot.id)
                .unwrap()
                .unwrap()
                .backend_group,
            -100
        );
    }
}
