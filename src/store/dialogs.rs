//! The `dialogs` table: one per (bot, user), shown as one topic.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// Where a dialog stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The user wrote last: waiting for support.
    UserAnswered,
    /// An operator replied last: waiting for the user (autoclose counts from here).
    SupportAnswered,
    Closed,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UserAnswered => "user_answered",
            Status::SupportAnswered => "support_answered",
            Status::Closed => "closed",
        }
    }

    /// Reads a stored status; an unknown one is an error, never a default.
    fn parse(s: &str) -> Result<Status, crate::outbox::UnknownValue> {
        match s {
            "user_answered" => Ok(Status::UserAnswered),
            "support_answered" => Ok(Status::SupportAnswered),
            "closed" => Ok(Status::Closed),
            other => Err(crate::outbox::UnknownValue::new("dialog status", other)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: i64,
    pub bot: String,
    pub user_id: i64,
    pub backend_group: i64,
    /// `None` until `createForumTopic` succeeded.
    pub topic_id: Option<i64>,
    /// The name the topic was created with (a deleted topic is recreated with it).
    pub topic_name: Option<String>,
    pub status: Status,
}

const COLUMNS: &str = "id, bot, user_id, backend_group, topic_id, topic_name, status";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Dialog> {
    let status: String = row.get(6)?;
    Ok(Dialog {
        id: row.get(0)?,
        bot: row.get(1)?,
        user_id: row.get(2)?,
        backend_group: row.get(3)?,
        topic_id: row.get(4)?,
        topic_name: row.get(5)?,
        status: Status::parse(&status).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(err))
        })?,
    })
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Dialog>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM dialogs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub fn by_user(conn: &Connection, bot: &str, user_id: i64) -> rusqlite::Result<Option<Dialog>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE bot = ?1 AND user_id = ?2"
    ))?
    .query_row(params![bot, user_id], from_row)
    .optional()
}

pub fn by_topic(
    conn: &Connection,
    bot: &str,
    backend_group: i64,
    topic_id: i64,
) -> rusqlite::Result<Option<Dialog>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE bot = ?1 AND backend_group = ?2 AND topic_id = ?3"
    ))?
    .query_row(params![bot, backend_group, topic_id], from_row)
    .optional()
}

/// Of `groups` (never empty), the one with the fewest open dialogs of `bot`;
/// the first listed among equals.
pub fn least_busy_group(conn: &Connection, bot: &str, groups: &[i64]) -> rusqlite::Result<i64> {
    if let [only] = groups {
        return Ok(*only);
    }
    // Counted in the index of open dialogs alone (`dialogs_open_by_group`):
    // a bot's closed dialogs, however many, are not read.
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM dialogs WHERE bot = ?1 AND backend_group = ?2 AND status != 'closed'",
    )?;
    let mut best: Option<(i64, i64)> = None;
    for &group in groups {
        let open: i64 = stmt.query_row(params![bot, group], |row| row.get(0))?;
        if best.is_none_or(|(_, fewest)| open < fewest) {
            best = Some((group, open));
        }
    }
    Ok(best.map_or(0, |(group, _)| group))
}

/// Creates an open dialog without a topic yet; returns it.
pub fn insert(
    conn: &Connection,
    bot: &str,
    user_id: i64,
    backend_group: i64,
    now: i64,
) -> rusqlite::Result<Dialog> {
    conn.prepare_cached(
        "INSERT INTO dialogs (bot, user_id, backend_group, status, opened_at)
         VALUES (?1, ?2, ?3, 'user_answered', ?4)",
    )?
    .execute(params![bot, user_id, backend_group, now])?;
    Ok(Dialog {
        id: conn.last_insert_rowid(),
        bot: bot.to_owned(),
        user_id,
        backend_group,
        topic_id: None,
        topic_name: None,
        status: Status::UserAnswered,
    })
}

pub fn set_status(conn: &Connection, id: i64, status: Status) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE dialogs SET status = ?2 WHERE id = ?1")?
        .execute(params![id, status.as_str()])?;
    Ok(())
}

/// An operator replied at `now`: the dialog waits for the user.
pub fn record_operator_reply(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE dialogs SET status = 'support_answered', last_operator_reply_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// When the dialog was opened, and when an operator last answered in it.
pub fn times(conn: &Connection, id: i64) -> rusqlite::Result<(i64, Option<i64>)> {
    conn.prepare_cached("SELECT opened_at, last_operator_reply_at FROM dialogs WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
}

/// The icon the dialog's topic name should show (see `rules::status_icon`).
pub fn set_icon_wanted(conn: &Connection, id: i64, icon: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE dialogs SET icon_wanted = ?2 WHERE id = ?1")?
        .execute(params![id, icon])?;
    Ok(())
}

/// The icon the topic's name shows (or is being renamed to), and when the
/// last rename was queued.
pub fn icon_shown(conn: &Connection, id: i64) -> rusqlite::Result<(String, Option<i64>)> {
    conn.prepare_cached("SELECT icon_shown, renamed_at FROM dialogs WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
}

/// The topic shows `icon` from now on; with `at`, a rename was queued then
/// (`None`: the topic is created with it).
pub fn set_icon_shown(
    conn: &Connection,
    id: i64,
    icon: &str,
    at: Option<i64>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE dialogs SET icon_shown = ?2, renamed_at = coalesce(?3, renamed_at) WHERE id = ?1",
    )?
    .execute(params![id, icon, at])?;
    Ok(())
}

/// Dialogs with a topic whose name does not show the icon it should, and
/// that were last renamed at or before `before` (or never): with the icon.
pub fn due_renames(conn: &Connection, before: i64) -> rusqlite::Result<Vec<(Dialog, String)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, icon_wanted FROM dialogs
         WHERE icon_wanted != icon_shown AND (renamed_at IS NULL OR renamed_at <= ?1)
           AND topic_name IS NOT NULL"
    ))?;
    let rows = stmt.query_map([before], |row| Ok((from_row(row)?, row.get(7)?)))?;
    rows.collect()
}

/// Records the dialog's topic and the name it was created with; the topic
/// is no longer requested.
pub fn set_topic(conn: &Connection, id: i64, topic_id: i64, name: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE dialogs SET topic_id = ?2, topic_name = ?3, topic_requested = 0 WHERE id = ?1",
    )?
    .execute(params![id, topic_id, name])?;
    Ok(())
}

/// Marks the dialog's topic as requested (a CreateTopic job is queued);
/// `false` if it already was, so the caller queues no second one.
pub fn request_topic(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE dialogs SET topic_requested = 1 WHERE id = ?1 AND topic_requested = 0",
        )?
        .execute([id])?;
    Ok(changed > 0)
}

/// Whether a topic of one of `bot`'s dialogs in `group` is being created
/// (requested, its id not recorded yet).
pub fn creating_topic_in(conn: &Connection, bot: &str, group: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM dialogs
         WHERE bot = ?1 AND backend_group = ?2 AND topic_requested = 1)",
    )?
    .query_row(params![bot, group], |row| row.get(0))
}

/// The requested topic could not be created: a later message may ask again.
pub fn topic_request_failed(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE dialogs SET topic_requested = 0 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The topic `deleted` was deleted and is not replaced (yet); returns whether
/// it was still the dialog's.
pub fn forget_topic(conn: &Connection, id: i64, deleted: i64) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE dialogs SET topic_id = NULL WHERE id = ?1 AND topic_id = ?2")?
        .execute(params![id, deleted])?;
    Ok(changed > 0)
}

/// Dialogs of every bot waiting for the user since `cutoff` or earlier,
/// with the time of the operator's last reply: one query for all bots, which
/// the caller narrows to each bot's own cutoff.
pub fn waiting_since(conn: &Connection, cutoff: i64) -> rusqlite::Result<Vec<(Dialog, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, last_operator_reply_at FROM dialogs
         WHERE status = 'support_answered' AND last_operator_reply_at <= ?1"
    ))?;
    let rows = stmt.query_map([cutoff], |row| Ok((from_row(row)?, row.get(7)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn open_dialogs_are_counted_in_their_own_index() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM dialogs \
                 WHERE bot = 'a' AND backend_group = -1 AND status != 'closed'",
            )
            .unwrap()
            .query_map([], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("COVERING INDEX dialogs_open_by_group")),
            "{plan:?}"
        );
    }

    #[test]
    fn new_dialogs_go_to_the_least_busy_group() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let groups = [-1001, -1002];
        assert_eq!(
            least_busy_group(&conn, "a", &groups).unwrap(),
            -1001,
            "first among equals"
        );
        insert(&conn, "a", 1, -1001, 0).unwrap();
        assert_eq!(least_busy_group(&conn, "a", &groups).unwrap(), -1002);
        let second = insert(&conn, "a", 2, -1002, 0).unwrap();
        insert(&conn, "b", 3, -1002, 0).unwrap();
        assert_eq!(
            least_busy_group(&conn, "a", &groups).unwrap(),
            -1001,
            "other bots do not count"
        );
        insert(&conn, "a", 4, -1001, 0).unwrap();
        set_status(&conn, second.id, Status::Closed).unwrap();
        assert_eq!(
            least_busy_group(&conn, "a", &groups).unwrap(),
            -1002,
            "closed dialogs do not count"
        );
    }

    #[test]
    fn lifecycle_and_lookups() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let d = insert(&conn, "a", 7, -100, 1).unwrap();
        assert_eq!(by_user(&conn, "a", 7).unwrap().unwrap(), d);
        assert_eq!(by_topic(&conn, "a", -100, 5).unwrap(), None);
        set_topic(&conn, d.id, 5, "Alice 7").unwrap();
        assert_eq!(by_topic(&conn, "a", -100, 5).unwrap().unwrap().id, d.id);
        assert_eq!(
            by_id(&conn, d.id).unwrap().unwrap().topic_name.as_deref(),
            Some("Alice 7")
        );
        assert!(!forget_topic(&conn, d.id, 4).unwrap(), "not its topic");
        assert_eq!(by_id(&conn, d.id).unwrap().unwrap().topic_id, Some(5));
        assert!(forget_topic(&conn, d.id, 5).unwrap());
        assert_eq!(by_id(&conn, d.id).unwrap().unwrap().topic_id, None);
        assert!(request_topic(&conn, d.id).unwrap());
        assert!(
            !request_topic(&conn, d.id).unwrap(),
            "one request at a time"
        );
        topic_request_failed(&conn, d.id).unwrap();
        assert!(request_topic(&conn, d.id).unwrap());
        set_topic(&conn, d.id, 9, "Alice 7").unwrap();
        assert!(
            request_topic(&conn, d.id).unwrap(),
            "set_topic ends the request"
        );
        set_topic(&conn, d.id, 5, "Alice 7").unwrap();
        assert_eq!(by_topic(&conn, "b", -100, 5).unwrap(), None);

        assert!(waiting_since(&conn, 100).unwrap().is_empty());
        record_operator_reply(&conn, d.id, 50).unwrap();
        assert!(waiting_since(&conn, 49).unwrap().is_empty());
        let waiting = waiting_since(&conn, 50).unwrap();
        assert_eq!((waiting[0].0.id, waiting[0].1), (d.id, 50));
        set_status(&conn, d.id, Status::Closed).unwrap();
        assert!(waiting_since(&conn, 100).unwrap().is_empty());
        assert_eq!(by_id(&conn, d.id).unwrap().unwrap().status, Status::Closed);
        conn.execute(
            "UPDATE dialogs SET status = 'snoozed' WHERE id = ?1",
            [d.id],
        )
        .unwrap();
        let err = by_id(&conn, d.id).unwrap_err().to_string();
        assert!(err.contains("unknown dialog status \"snoozed\""), "{err}");
    }
}
