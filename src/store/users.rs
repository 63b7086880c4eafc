//! The `users` table: people who wrote to a bot.

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

impl User {
    /// "Alice Smith" or "Alice".
    #[must_use]
    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) if !last.is_empty() => format!("{} {last}", self.first_name),
            _ => self.first_name.clone(),
        }
    }
}

/// How stale `last_seen` may get before a message updates it: the row is
/// then rewritten at most once a minute in a lively conversation.
const LAST_SEEN_GRANULARITY: i64 = 60;

/// Records that the user wrote to the bot now: their names are kept
/// current, and writing means they have not blocked the bot (any more). The
/// row is only rewritten when something changed.
pub fn wrote(conn: &Connection, bot: &str, user: &User, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO users (bot, user_id, first_name, last_name, username, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (bot, user_id) DO UPDATE SET
            first_name = excluded.first_name, last_name = excluded.last_name,
            username = excluded.username, last_seen = excluded.last_seen, blocked = 0
         WHERE first_name IS NOT excluded.first_name OR last_name IS NOT excluded.last_name
            OR username IS NOT excluded.username OR blocked != 0
            OR last_seen <= excluded.last_seen - ?7",
    )?
    .execute(params![
        bot,
        user.user_id,
        user.first_name,
        user.last_name,
        user.username,
        now,
        LAST_SEEN_GRANULARITY
    ])?;
    Ok(())
}

/// The user's language and Premium, as Telegram last sent them.
pub fn set_profile(
    conn: &Connection,
    bot: &str,
    user_id: i64,
    language: Option<&str>,
    premium: bool,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET language = ?3, premium = ?4
         WHERE bot = ?1 AND user_id = ?2 AND (language IS NOT ?3 OR premium != ?4)",
    )?
    .execute(params![bot, user_id, language, premium])?;
    Ok(())
}

/// The `/start` payload that brought the user, kept from the first one.
pub fn set_start_payload(
    conn: &Connection,
    bot: &str,
    user_id: i64,
    payload: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET start_payload = ?3 WHERE bot = ?1 AND user_id = ?2 AND start_payload IS NULL",
    )?
    .execute(params![bot, user_id, payload])?;
    Ok(())
}

/// What the user card shows of a user beside the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub user: User,
    pub language: Option<String>,
    pub premium: bool,
    pub start_payload: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub blocked: bool,
}

pub fn profile(conn: &Connection, bot: &str, user_id: i64) -> rusqlite::Result<Option<Profile>> {
    conn.prepare_cached(
        "SELECT user_id, first_name, last_name, username, language, premium, start_payload,
                first_seen, last_seen, blocked
         FROM users WHERE bot = ?1 AND user_id = ?2",
    )?
    .query_row(params![bot, user_id], |row| {
        Ok(Profile {
            user: User {
                user_id: row.get(0)?,
                first_name: row.get(1)?,
                last_name: row.get(2)?,
                username: row.get(3)?,
            },
            language: row.get(4)?,
            premium: row.get(5)?,
            start_payload: row.get(6)?,
            first_seen: row.get(7)?,
            last_seen: row.get(8)?,
            blocked: row.get(9)?,
        })
    })
    .optional()
}

pub fn get(conn: &Connection, bot: &str, user_id: i64) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(
        "SELECT user_id, first_name, last_name, username FROM users WHERE bot = ?1 AND user_id = ?2",
    )?
    .query_row(params![bot, user_id], |row| {
        Ok(User {
            user_id: row.get(0)?,
            first_name: row.get(1)?,
            last_name: row.get(2)?,
            username: row.get(3)?,
        })
    })
    .optional()
}

/// Records whether the user blocked the bot; returns whether that changed.
pub fn set_blocked(
    conn: &Connection,
    bot: &str,
    user_id: i64,
    blocked: bool,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE users SET blocked = ?3 WHERE bot = ?1 AND user_id = ?2 AND blocked != ?3",
        )?
        .execute(params![bot, user_id, blocked])?;
    Ok(changed > 0)
}

pub fn is_blocked(conn: &Connection, bot: &str, user_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT blocked FROM users WHERE bot = ?1 AND user_id = ?2")?
        .query_row(params![bot, user_id], |row| row.get(0))
        .optional()
        .map(|blocked| blocked.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn writing_keeps_names_current_per_bot() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let mut alice = User {
            user_id: 1,
            first_name: "Alice".into(),
            last_name: None,
            username: Some("alice".into()),
        };
        wrote(&conn, "a", &alice, 10).unwrap();
        alice.last_name = Some("Smith".into());
        wrote(&conn, "a", &alice, 20).unwrap();
        let stored = get(&conn, "a", 1).unwrap().unwrap();
        assert_eq!(stored.full_name(), "Alice Smith");
        assert_eq!(get(&conn, "b", 1).unwrap(), None);
    }

    #[test]
    fn blocked_flag_reports_changes() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let alice = User {
            user_id: 1,
            first_name: "Alice".into(),
            last_name: None,
            username: None,
        };
        wrote(&conn, "a", &alice, 10).unwrap();
        assert!(!is_blocked(&conn, "a", 1).unwrap());
        assert!(set_blocked(&conn, "a", 1, true).unwrap());
        assert!(!set_blocked(&conn, "a", 1, true).unwrap(), "no change");
        assert!(is_blocked(&conn, "a", 1).unwrap());
        wrote(&conn, "a", &alice, 20).unwrap();
        assert!(
            !is_blocked(&conn, "a", 1).unwrap(),
            "writing to the bot unblocks"
        );
        assert!(!set_blocked(&conn, "a", 1, false).unwrap(), "no change");
        assert!(
            !is_blocked(&conn, "a", 2).unwrap(),
            "unknown users are not blocked"
        );
    }
}
