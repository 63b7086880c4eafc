//! The `outbox` table: outgoing Bot API calls, durable before they are sent.

use rusqlite::{Connection, params};

use crate::outbox::{Job, Priority};

/// A pending job as the sender sees it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub lane: String,
    pub priority: Priority,
    /// The chat the job sends into, for rate limiting.
    pub chat: i64,
    /// `Err` holds the decoding error of a job this version cannot read.
    pub job: Result<Job, String>,
    pub attempts: u32,
}

pub fn enqueue(
    conn: &Connection,
    bot: &str,
    lane: &str,
    priority: Priority,
    chat: i64,
    job: &Job,
    now: i64,
) -> rusqlite::Result<i64> {
    let json = serde_json::to_string(job)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    conn.prepare_cached(
        "INSERT INTO outbox (bot, lane, priority, chat, job, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![bot, lane, priority as i64, chat, json, now])?;
    Ok(conn.last_insert_rowid())
}

/// Pending jobs of `bot` with an id above `after`, oldest first.
pub fn pending_after(
    conn: &Connection,
    bot: &str,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lane, priority, chat, job, attempts FROM outbox
         WHERE bot = ?1 AND id > ?2 AND state = 'pending' ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![bot, after, limit as i64], |row| {
        let json: String = row.get(4)?;
        Ok(Row {
            id: row.get(0)?,
            lane: row.get(1)?,
            priority: Priority::from_i64(row.get(2)?),
            chat: row.get(3)?,
            job: serde_json::from_str(&json).map_err(|err| err.to_string()),
            attempts: row.get(5)?,
        })
    })?;
    rows.collect()
}

/// The job is done: it leaves the outbox.
pub fn complete(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The job failed for good; it stays, with its error, and is not retried.
pub fn fail(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
    )?
    .execute(params![id, error])?;
    Ok(())
}

/// A try failed and will be retried; `counts` is false for a 429, which
/// names its own wait and must not lengthen the backoff of later failures.
pub fn record_retry(conn: &Connection, id: i64, error: &str, counts: bool) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + ?3, last_error = ?2 WHERE id = ?1",
    )?
    .execute(params![id, error, i64::from(counts)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Target;
    use crate::store::testing::temp_store;

    #[test]
    fn pending_after_skips_done_failed_and_other_bots() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let job = |t: &str| Job::Text {
            to: Target::User(1),
            text: t.into(),
        };
        let a = enqueue(&conn, "a", "u1", Priority::Reply, 1, &job("1"), 0).unwrap();
        let b = enqueue(&conn, "a", "u1", Priority::Reply, 1, &job("2"), 0).unwrap();
        let c = enqueue(&conn, "a", "u2", Priority::Inbound, 1, &job("3"), 0).unwrap();
        enqueue(&conn, "other", "u1", Priority::Reply, 1, &job("4"), 0).unwrap();
        complete(&conn, a).unwrap();
        fail(&conn, b, "400 nope").unwrap();
        let rows = pending_after(&conn, "a", 0, 10).unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [c]);
        assert_eq!(rows[0].job.as_ref().unwrap(), &job("3"));
        assert_eq!(rows[0].priority, Priority::Inbound);
        assert_eq!(rows[0].chat, 1);
        record_retry(&conn, c, "timeout", true).unwrap();
        assert_eq!(pending_after(&conn, "a", 0, 10).unwrap()[0].attempts, 1);
        record_retry(&conn, c, "429", false).unwrap();
        assert_eq!(pending_after(&conn, "a", 0, 10).unwrap()[0].attempts, 1);
        assert!(pending_after(&conn, "a", c, 10).unwrap().is_empty());
    }

    #[test]
    fn ids_keep_growing_after_the_outbox_was_emptied() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let job = Job::Text {
            to: Target::User(1),
            text: "x".into(),
        };
        let first = enqueue(&conn, "a", "u1", Priority::Reply, 1, &job, 0).unwrap();
        complete(&conn, first).unwrap();
        let second = enqueue(&conn, "a", "u1", Priority::Reply, 1, &job, 0).unwrap();
        assert!(second > first);
        assert_eq!(pending_after(&conn, "a", first, 10).unwrap().len(), 1);
    }
}
