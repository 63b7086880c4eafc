//! The `bots` table: per-bot polling position and identity.

use rusqlite::{Connection, OptionalExtension, params};

/// The `offset` to pass to the next `getUpdates` (0 for a bot never polled);
/// written with the batch it follows ([`super::updates::Stored::save`]).
pub fn offset(conn: &Connection, bot: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT update_offset FROM bots WHERE name = ?1")?
        .query_row([bot], |row| row.get(0))
        .optional()
        .map(|offset| offset.unwrap_or(0))
}

/// Remembers the bot's @username (from `getMe`).
pub fn save_username(conn: &Connection, bot: &str, username: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO bots (name, username) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET username = excluded.username",
    )?
    .execute(params![bot, username])?;
    Ok(())
}

pub fn username(conn: &Connection, bot: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT username FROM bots WHERE name = ?1")?
        .query_row([bot], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn offset_and_username_are_independent() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        assert_eq!(offset(&conn, "shop").unwrap(), 0);
        assert_eq!(username(&conn, "shop").unwrap(), None);
        save_username(&conn, "shop", "shop_bot").unwrap();
        let stored = crate::store::updates::Stored::default();
        stored.save(&conn, "shop", 7).unwrap();
        stored.save(&conn, "shop", 9).unwrap();
        assert_eq!(offset(&conn, "shop").unwrap(), 9);
        assert_eq!(
            username(&conn, "shop").unwrap().as_deref(),
            Some("shop_bot")
        );
        assert_eq!(offset(&conn, "other").unwrap(), 0);
    }
}
