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
    fn as_str(self) -> &'static str {
        match self {
            Kind::Update => "update",
            Kind::Report => "report",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub bot: String,
    pub kind: Kind,
    pub payload: String,
}

/// Stores a batch of raw updates and the bot's new offset together: the offset
/// only moves past updates that are durably stored (DESIGN invariant 1).
pub fn append_updates<'a>(
    conn: &Connection,
    bot: &str,
    updates: impl IntoIterator<Item = &'a str>,
    new_offset: i64,
) -> rusqlite::Result<()> {
    let mut insert =
        conn.prepare_cached("INSERT INTO inbox (bot, kind, payload) VALUES (?1, 'update', ?2)")?;
    for raw in updates {
        insert.execute(params![bot, raw])?;
    }
    super::bots::save_offset(conn, bot, new_offset)
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
            kind: if kind == "report" {
                Kind::Report
            } else {
                Kind::Update
            },
            payload: row.get(3)?,
        })
    })?;
    rows.collect()
}

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
    fn batch_is_in_arrival_order_and_only_for_given_bots() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        append_updates(&conn, "a", ["{\"update_id\":1}", "{\"update_id\":2}"], 3).unwrap();
        append_updates(&conn, "gone", ["{\"update_id\":5}"], 6).unwrap();
        append(&conn, "a", Kind::Report, "{}").unwrap();
        assert_eq!(bots::offset(&conn, "a").unwrap(), 3);

        let batch = next_batch(&conn, &["a".to_string()], 10).unwrap();
        let kinds: Vec<_> = batch.iter().map(|r| (r.kind, r.payload.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Update, "{\"update_id\":1}"),
                (Kind::Update, "{\"update_id\":2}"),
                (Kind::Report, "{}")
            ]
        );
        remove(&conn, batch[0].id).unwrap();
        assert_eq!(
            next_batch(&conn, &["a".to_string()], 1).unwrap()[0].id,
            batch[1].id
        );
        assert_eq!(
            next_batch(&conn, &["gone".to_string()], 10).unwrap().len(),
            1
        );
    }
}
