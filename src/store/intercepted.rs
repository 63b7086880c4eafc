//! The `intercepted_history` table: the existing bot's latest messages to
//! users who have no open dialog, so that a dialog that opens shows what the
//! bot told the user before (`intercept_history`). Ids and the mirror's
//! keyboard only; at most the configured number per user is kept.

use rusqlite::{Connection, params};

/// One remembered message of the bot's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub message_id: i64,
    /// Its `media_group_id`: an album is mirrored as one.
    pub album: Option<String>,
    /// JSON of the mirror's `outbox::Keyboard`.
    pub keyboard: Option<String>,
}

/// Remembers a message of the bot's to `user`, keeping the newest `keep`.
pub fn remember(
    conn: &Connection,
    bot: &str,
    user: i64,
    message: &Remembered,
    keep: u32,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO intercepted_history (bot, user_id, message_id, album, keyboard, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        bot,
        user,
        message.message_id,
        message.album,
        message.keyboard,
        now
    ])?;
    conn.prepare_cached(
        "DELETE FROM intercepted_history WHERE bot = ?1 AND user_id = ?2 AND message_id NOT IN (
             SELECT message_id FROM intercepted_history WHERE bot = ?1 AND user_id = ?2
             ORDER BY message_id DESC LIMIT ?3)",
    )?
    .execute(params![bot, user, keep])?;
    Ok(())
}

/// Takes the remembered messages to `user`, oldest first: they leave.
pub fn take(conn: &Connection, bot: &str, user: i64) -> rusqlite::Result<Vec<Remembered>> {
    let taken = conn
        .prepare_cached(
            "SELECT message_id, album, keyboard FROM intercepted_history
             WHERE bot = ?1 AND user_id = ?2 ORDER BY message_id",
        )?
        .query_map(params![bot, user], |row| {
            Ok(Remembered {
                message_id: row.get(0)?,
                album: row.get(1)?,
                keyboard: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.prepare_cached("DELETE FROM intercepted_history WHERE bot = ?1 AND user_id = ?2")?
        .execute(params![bot, user])?;
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    fn message(id: i64) -> Remembered {
        Remembered {
            message_id: id,
            album: None,
            keyboard: None,
        }
    }

    #[test]
    fn the_newest_are_kept_and_taken_once() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        for id in [5, 3, 9, 7] {
            remember(&conn, "shop", 1, &message(id), 3, 0).unwrap();
        }
        remember(&conn, "shop", 2, &message(1), 3, 0).unwrap();
        let ids: Vec<i64> = take(&conn, "shop", 1)
            .unwrap()
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        assert_eq!(ids, [5, 7, 9]);
        assert_eq!(take(&conn, "shop", 1).unwrap(), []);
        assert_eq!(take(&conn, "shop", 2).unwrap(), [message(1)]);
    }
}
