//! The `inbox` table: what the dispatcher has still to handle.

use rusqlite::{Connection, params, params_from_iter};

/// What an inbox row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A raw Telegram update, as received.
    Update,
    /// A report of the sender (JSON of `outbox::Report`).
    Report,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Update => "update",
            Kind::Report => "report",
        }
    }

    /// Reads a stored kind; an unknown one is kept as written (the row is
    /// then set aside as a dead letter, not guessed at).
    fn parse(text: &str) -> Result<Kind, String> {
        match text {
            "update" => Ok(Kind::Update),
            "report" => Ok(Kind::Report),
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
) -> rusqlite::Result<usize> {
    let mut insert =
        conn.prepare_cached("INSERT INTO inbox (bot, kind, payload) VALUES (?1, 'update', ?2)")?;
    let mut stored = 0;
    for (update_id, raw) in updates {
        if super::updates::first_sight(conn, bot, update_id, now)? {
            insert.execute(params![bot, raw])?;
            stored += 1;
        }
    }
    super::bots::save_offset(conn, bot, new_offset)?;
    Ok(stored)
}

pub fn append(conn: &Connection, bot: &str, kind: Kind, payload: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO inbox (bot, kind, payload) VALUES (?1, ?2, ?3)")?
        .execute(params![bot, kind.as_str(), payload])?;
    Ok(())
}

/// The oldest rows of the given bots. Rows of bots that are not configured any
/// more stay stored until such a bot comes back.
pub fn next_batch(conn: &Connection, bots: &[String], limit: usize) -> rusqlite::Result<Vec<Row>> {
    if bots.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; bots.len()].join(", ");
    let sql = format!(
        "SELECT id, bot, kind, payload FROM inbox WHERE bot IN ({placeholders}) ORDER BY id LIMIT {limit}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(bots), |row| {
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

/// Removes every row of `bots` up to `last` (a batch just handled: it held
/// all their rows up to there, in id order).
pub fn remove_through(conn: &Connection, bots: &[String], last: i64) -> rusqlite::Result<usize> {
    if bots.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; bots.len()].join(", ");
    let sql = format!("DELETE FROM inbox WHERE id <= ? AND bot IN ({placeholders})");
    let mut stmt = conn.prepare_cached(&sql)?;
    let params = std::iter::once(rusqlite::types::Value::from(last)).chain(
        bots.iter()
            .map(|bot| rusqlite::types::Value::from(bot.clone())),
    );
    stmt.execute(params_from_iter(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{bots, testing::temp_store};

    #[test]
    fn batch_is_in_arrival_order_and_only_for_given_bots() {
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

        let batch = next_batch(&conn, &["a".to_string()], 10).unwrap();
        let kinds: Vec<_> = batch
            .iter()
            .map(|r| (r.kind.clone(), r.payload.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Ok(Kind::Update), "{\"update_id\":1}"),
                (Ok(Kind::Update), "{\"update_id\":2}"),
                (Ok(Kind::Report), "{}")
            ]
        );
        let last = batch[1].id;
        assert_eq!(remove_through(&conn, &["a".to_string()], last).unwrap(), 2);
        assert_eq!(
            next_batch(&conn, &["a".to_string()], 10).unwrap()[0].id,
            batch[2].id
        );
        assert_eq!(
            next_batch(&conn, &["gone".to_string()], 10).unwrap().len(),
            1,
            "other bots' rows stay"
        );
    }
}
