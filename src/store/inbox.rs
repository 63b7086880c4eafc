//! The `inbox` table: what the dispatcher has still to handle.

use rusqlite::{Connection, params};

/// What an inbox row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A raw Telegram update, as received.
    Update,
    /// A report of the sender (JSON of `outbox::Report`).
    Report,
    /// A call of an existing bot's that sent or changed a message (JSON of
    /// `proxy::intercept::Intercepted`).
    Intercepted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Update => "update",
            Kind::Report => "report",
            Kind::Intercepted => "intercepted",
        }
    }

    /// Reads a stored kind; an unknown one is kept as written (the row is
    /// then set aside as a dead letter, not guessed at).
    fn parse(text: &str) -> Result<Kind, String> {
        match text {
            "update" => Ok(Kind::Update),
            "report" => Ok(Kind::Report),
            "intercepted" => Ok(Kind::Intercepted),
            other => Err(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub bot: String,
    /// `Err` holds a kind this version does not know, as stored.
    pub kind: Result<Kind, String>,
    pub payload: String,
}

/// Stores a batch of raw updates, given as (update_id, JSON), and the bot's
/// new offset together: the offset only moves past updates that are durably
/// stored (DESIGN invariant 1). An update id stored before (within
/// [`super::updates::REMEMBER_SECS`]) is skipped. Returns how many were stored.
pub fn append_updates<'a>(
    conn: &Connection,
    bot: &str,
    updates: impl IntoIterator<Item = (i64, &'a str)>,
    new_offset: i64,
    now: i64,
) -> anyhow::Result<usize> {
    let mut insert =
        conn.prepare_cached("INSERT INTO inbox (bot, kind, payload) VALUES (?1, 'update', ?2)")?;
    let mut seen = super::updates::Stored::load(conn, bot)?;
    let mut stored = 0;
    for (update_id, raw) in updates {
        if seen.first_sight(update_id, now) {
            insert.execute(params![bot, raw])?;
            stored += 1;
        }
    }
    seen.save(conn, bot, new_offset)?;
    Ok(stored)
}

pub fn append(conn: &Connection, bot: &str, kind: Kind, payload: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO inbox (bot, kind, payload) VALUES (?1, ?2, ?3)")?
        .execute(params![bot, kind.as_str(), payload])?;
    Ok(())
}

/// Up to `limit` rows with an id above `after`, oldest first, of every bot:
/// the dispatcher skips the rows of bots that are not running (they stay
/// until such a bot comes back) and moves its cursor past them.
pub fn next_after(conn: &Connection, after: i64, limit: usize) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, bot, kind, payload FROM inbox WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![after, limit], |row| {
        let kind: String = row.get(2)?;
        Ok(Row {
            id: row.get(0)?,
            bot: row.get(1)?,
            kind: Kind::parse(&kind),
            payload: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// Every row with an id in `(after, through]` was handled: they leave.
pub fn remove_range(conn: &Connection, after: i64, through: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM inbox WHERE id > ?1 AND id <= ?2")?
        .execute([after, through])
}

/// The row was handled (or set aside): it leaves the inbox.
pub fn remove(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM inbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{bots, testing::temp_store};

    #[test]
    fn rows_come_in_arrival_order_after_a_cursor() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let stored = append_updates(
            &conn,
            "a",
            [
                (1, "{\"update_id\":1}"),
                (2, "{\"update_id\":2}"),
                (1, "{\"update_id\":1}"),
            ],
            3,
            0,
        )
        .unwrap();
        assert_eq!(stored, 2, "the repeated update is stored once");
        append_updates(&conn, "gone", [(5, "{\"update_id\":5}")], 6, 0).unwrap();
        assert_eq!(
            append_updates(&conn, "a", [(2, "{\"update_id\":2}")], 3, 0).unwrap(),
            0,
            "nor is one served again in a later batch"
        );
        append(&conn, "a", Kind::Report, "{}").unwrap();
        assert_eq!(bots::offset(&conn, "a").unwrap(), 3);

        let batch = next_after(&conn, 0, 10).unwrap();
        let rows: Vec<_> = batch
            .iter()
            .map(|r| (r.bot.as_str(), r.kind.clone(), r.payload.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("a", Ok(Kind::Update), "{\"update_id\":1}"),
                ("a", Ok(Kind::Update), "{\"update_id\":2}"),
                ("gone", Ok(Kind::Update), "{\"update_id\":5}"),
                ("a", Ok(Kind::Report), "{}"),
            ]
        );
        assert_eq!(
            next_after(&conn, batch[1].id, 1).unwrap()[0].id,
            batch[2].id
        );
        remove(&conn, batch[0].id).unwrap();
        assert_eq!(next_after(&conn, 0, 10).unwrap()[0].id, batch[1].id);
        assert_eq!(remove_range(&conn, batch[1].id, batch[3].id).unwrap(), 2);
        assert_eq!(next_after(&conn, 0, 10).unwrap().len(), 1);
    }
}
