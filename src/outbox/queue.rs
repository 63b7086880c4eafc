//! The `outbox` table: outgoing Bot API calls, durable before they are sent.
//! Its rows hold a [`Job`] as JSON, with the lane, the priority and the chat
//! in columns for the sender's windows and the rate limiter.

use rusqlite::{Connection, params};

use super::{Job, Lane, Priority};

/// A pending job as the sender sees it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub lane: Lane,
    pub priority: Priority,
    /// The chat the job sends into, for rate limiting.
    pub chat: i64,
    pub job: Job,
    pub attempts: u32,
}

/// A pending row this version cannot read (a newer version wrote it, or the
/// database is damaged): it is failed with this error, never guessed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub id: i64,
    pub error: String,
}

/// Queues `job` in `lane` (its priority is the lane's); returns its id.
pub fn enqueue(
    conn: &Connection,
    bot: &str,
    lane: &Lane,
    chat: i64,
    job: &Job,
    now: i64,
) -> rusqlite::Result<i64> {
    let json = serde_json::to_string(job)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    conn.prepare_cached(
        "INSERT INTO outbox (bot, lane, priority, chat, job, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        bot,
        lane.key(),
        lane.priority() as i64,
        chat,
        json,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Up to `limit` pending jobs of `bot` with `priority` and an id above
/// `after`, oldest first.
pub fn pending_window(
    conn: &Connection,
    bot: &str,
    priority: Priority,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Result<Row, Unreadable>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lane, priority, chat, job, attempts FROM outbox
         WHERE bot = ?1 AND priority = ?2 AND id > ?3 AND state = 'pending' ORDER BY id LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![
            bot,
            priority as i64,
            after,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |row| {
            let id: i64 = row.get(0)?;
            let lane: String = row.get(1)?;
            let priority: i64 = row.get(2)?;
            let json: String = row.get(4)?;
            let decoded = (|| {
                let lane = Lane::parse(&lane).map_err(|err| err.to_string())?;
                let priority = Priority::try_from(priority).map_err(|err| err.to_string())?;
                let job: Job = serde_json::from_str(&json)
                    .map_err(|err| format!("this version cannot read the job: {err}"))?;
                Ok((lane, priority, job))
            })();
            Ok(match decoded {
                Ok((lane, priority, job)) => Ok(Row {
                    id,
                    lane,
                    priority,
                    chat: row.get(3)?,
                    job,
                    attempts: row.get(5)?,
                }),
                Err(error) => Err(Unreadable { id, error }),
            })
        },
    )?;
    rows.collect()
}

/// The job is done: it leaves the outbox.
pub fn complete(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Removes the edits of message `message_id` of `chat` still waiting in
/// `lane` (not yet tried): a newer edit of it replaces them. The message is
/// the one edited: a mirror (`edit`) or a relayed original (`edit_copy`).
pub fn drop_waiting_edits(
    conn: &Connection,
    bot: &str,
    lane: &Lane,
    chat: i64,
    message_id: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM outbox
         WHERE bot = ?1 AND priority = ?2 AND state = 'pending' AND lane = ?3 AND attempts = 0
           AND ((json_extract(job, '$.action.kind') = 'edit'
                 AND json_extract(job, '$.action.chat') = ?4
                 AND json_extract(job, '$.action.message_id') = ?5)
             OR (json_extract(job, '$.action.kind') = 'edit_copy'
                 AND json_extract(job, '$.action.original_chat') = ?4
                 AND json_extract(job, '$.action.original_id') = ?5))",
    )?
    .execute(params![
        bot,
        lane.priority() as i64,
        lane.key(),
        chat,
        message_id
    ])
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
    use crate::outbox::{Action, Purpose, Target};
    use crate::store::testing::temp_store;

    fn text(t: &str) -> Job {
        Job {
            purpose: Purpose::UserNotice { dialog: 1 },
            action: Action::SendText {
                to: Target::User(1),
                text: t.into(),
                html: false,
                reply_to: None,
            },
        }
    }

    fn ids(rows: &[Result<Row, Unreadable>]) -> Vec<i64> {
        rows.iter()
            .map(|r| r.as_ref().map_or_else(|u| u.id, |r| r.id))
            .collect()
    }

    #[test]
    fn windows_hold_one_priority_skip_done_failed_and_other_bots() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let user = Lane::User(1);
        let a = enqueue(&conn, "a", &user, 1, &text("1"), 0).unwrap();
        let b = enqueue(&conn, "a", &user, 1, &text("2"), 0).unwrap();
        let c = enqueue(&conn, "a", &user, 1, &text("3"), 0).unwrap();
        let topic = enqueue(&conn, "a", &Lane::Topic(1), -100, &text("4"), 0).unwrap();
        enqueue(&conn, "other", &user, 1, &text("5"), 0).unwrap();
        complete(&conn, a).unwrap();
        fail(&conn, b, "400 nope").unwrap();
        let rows = pending_window(&conn, "a", Priority::Reply, 0, 10).unwrap();
        assert_eq!(ids(&rows), [c]);
        let row = rows[0].as_ref().unwrap();
        assert_eq!(
            (row.lane.clone(), row.priority, row.chat),
            (user, Priority::Reply, 1)
        );
        assert_eq!(row.job, text("3"));
        assert_eq!(
            ids(&pending_window(&conn, "a", Priority::Inbound, 0, 10).unwrap()),
            [topic]
        );
        record_retry(&conn, c, "timeout", true).unwrap();
        record_retry(&conn, c, "429", false).unwrap();
        let rows = pending_window(&conn, "a", Priority::Reply, 0, 10).unwrap();
        assert_eq!(rows[0].as_ref().unwrap().attempts, 1);
        assert!(
            pending_window(&conn, "a", Priority::Reply, c, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            pending_window(&conn, "a", Priority::Reply, 0, 0)
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn rows_this_version_cannot_read_are_reported_not_guessed() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let id = enqueue(&conn, "a", &Lane::User(1), 1, &text("x"), 0).unwrap();
        conn.execute(
            "UPDATE outbox SET job = '{\"from\":\"the future\"}' WHERE id = ?1",
            [id],
        )
        .unwrap();
        let bad_lane = enqueue(&conn, "a", &Lane::User(1), 1, &text("y"), 0).unwrap();
        conn.execute("UPDATE outbox SET lane = 'z9' WHERE id = ?1", [bad_lane])
            .unwrap();
        let rows = pending_window(&conn, "a", Priority::Reply, 0, 10).unwrap();
        let errors: Vec<&Unreadable> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].error.contains("cannot read the job"));
        assert!(errors[1].error.contains("unknown lane"));
    }

    #[test]
    fn ids_keep_growing_after_the_outbox_was_emptied() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let first = enqueue(&conn, "a", &Lane::User(1), 1, &text("x"), 0).unwrap();
        complete(&conn, first).unwrap();
        let second = enqueue(&conn, "a", &Lane::User(1), 1, &text("x"), 0).unwrap();
        assert!(second > first);
    }
}
