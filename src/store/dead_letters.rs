//! The `dead_letters` table: inbox rows the dispatcher could not handle.

use rusqlite::{Connection, params};

/// Sets an inbox row aside with the error it caused.
pub fn add(
    conn: &Connection,
    bot: &str,
    kind: &str,
    payload: &str,
    error: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO dead_letters (bot, kind, payload, error, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![bot, kind, payload, error, now])?;
    Ok(())
}

/// How many rows were set aside, over all bots.
pub fn count(conn: &Connection) -> rusqlite::Result<u64> {
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM dead_letters", [], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn rows_are_counted() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        assert_eq!(count(&conn).unwrap(), 0);
        add(&conn, "a", "update", "{}", "bad id", 5).unwrap();
        add(&conn, "b", "report", "{}", "bug", 6).unwrap();
        assert_eq!(count(&conn).unwrap(), 2);
    }
}
