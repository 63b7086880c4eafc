//! The `message_links` table: for every relayed message, which message is a
//! copy of which. A user's message and its copy in the topic, an operator's
//! message and its copy in the user's chat: replies, edits, reactions and
//! mirrors are mapped through these pairs. Only ids are kept, no content.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A user's message, copied into the dialog's topic.
    ToTopic,
    /// An operator's message, copied to the dialog's user.
    ToUser,
    /// The existing bot's message to the user, mirrored into the topic.
    FromBot,
}

impl Direction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::ToTopic => "to_topic",
            Direction::ToUser => "to_user",
            Direction::FromBot => "from_bot",
        }
    }

    pub(crate) fn parse(text: &str) -> rusqlite::Result<Direction> {
        match text {
            "to_topic" => Ok(Direction::ToTopic),
            "to_user" => Ok(Direction::ToUser),
            "from_bot" => Ok(Direction::FromBot),
            other => Err(rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                Box::new(crate::outbox::UnknownValue::new("link direction", other)),
            )),
        }
    }
}

/// One message and its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub dialog: i64,
    pub direction: Direction,
    pub original_chat: i64,
    pub original_id: i64,
    pub copy_chat: i64,
    pub copy_id: i64,
}

const COLUMNS: &str = "dialog, direction, original_chat, original_id, copy_chat, copy_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Link> {
    let direction: String = row.get(1)?;
    Ok(Link {
        dialog: row.get(0)?,
        direction: Direction::parse(&direction)?,
        original_chat: row.get(2)?,
        original_id: row.get(3)?,
        copy_chat: row.get(4)?,
        copy_id: row.get(5)?,
    })
}

/// Records a link; a message copied again (a call made twice across a
/// crash) keeps its latest copy.
pub fn record(conn: &Connection, bot: &str, link: &Link, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO message_links
            (bot, original_chat, original_id, dialog, direction, copy_chat, copy_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (bot, original_chat, original_id) DO UPDATE SET
            dialog = excluded.dialog, direction = excluded.direction,
            copy_chat = excluded.copy_chat, copy_id = excluded.copy_id, at = excluded.at",
    )?
    .execute(params![
        bot,
        link.original_chat,
        link.original_id,
        link.dialog,
        link.direction.as_str(),
        link.copy_chat,
        link.copy_id,
        now
    ])?;
    Ok(())
}

/// The link of an original message.
pub fn by_original(
    conn: &Connection,
    bot: &str,
    chat: i64,
    message_id: i64,
) -> rusqlite::Result<Option<Link>> {
    find(conn, bot, "original", chat, message_id)
}

/// The link of a copy.
pub fn by_copy(
    conn: &Connection,
    bot: &str,
    chat: i64,
    message_id: i64,
) -> rusqlite::Result<Option<Link>> {
    find(conn, bot, "copy", chat, message_id)
}

/// The link whose `side` (`original` or `copy`) is the message `chat`, `message_id`.
fn find(
    conn: &Connection,
    bot: &str,
    side: &str,
    chat: i64,
    message_id: i64,
) -> rusqlite::Result<Option<Link>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM message_links WHERE bot = ?1 AND {side}_chat = ?2 AND {side}_id = ?3"
    ))?
    .query_row(params![bot, chat, message_id], from_row)
    .optional()
}

/// The counterpart in `in_chat` of the message `message_id` of `chat`: its
/// copy there, or the original it is a copy of.
pub fn counterpart(
    conn: &Connection,
    bot: &str,
    chat: i64,
    message_id: i64,
    in_chat: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT copy_id FROM message_links
             WHERE bot = ?1 AND original_chat = ?2 AND original_id = ?3 AND copy_chat = ?4
         UNION ALL
         SELECT original_id FROM message_links
             WHERE bot = ?1 AND copy_chat = ?2 AND copy_id = ?3 AND original_chat = ?4
         LIMIT 1",
    )?
    .query_row(params![bot, chat, message_id, in_chat], |row| row.get(0))
    .optional()
}

/// How long a link is kept: replies, edits and reactions to an older
/// message are not mapped (a reply arrives plain).
pub const KEEP_SECS: i64 = 90 * 24 * 3600;

/// Removes the links recorded before `before` of up to `dialogs` dialogs,
/// those with ids after `after`, and adds them to their dialogs' pruned
/// counts. Each dialog's old links are one range of the index by dialog and
/// time, so no index by time alone is kept (it would cost every relayed
/// message a write). Returns the last dialog looked at (`None`: the end of
/// the table, start again from the first) and how many links it removed.
pub fn prune(
    conn: &Connection,
    before: i64,
    after: i64,
    dialogs: usize,
) -> rusqlite::Result<(Option<i64>, usize)> {
    let batch: Vec<(i64, String)> = conn
        .prepare_cached("SELECT id, bot FROM dialogs WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(
            params![after, i64::try_from(dialogs).unwrap_or(i64::MAX)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut old = conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE direction = 'to_topic'),
                count(*) FILTER (WHERE direction = 'to_user'),
                count(*)
         FROM message_links WHERE bot = ?1 AND dialog = ?2 AND at < ?3",
    )?;
    let mut counted = conn.prepare_cached(
        "UPDATE dialogs SET pruned_in = pruned_in + ?2, pruned_out = pruned_out + ?3 WHERE id = ?1",
    )?;
    let mut remove = conn
        .prepare_cached("DELETE FROM message_links WHERE bot = ?1 AND dialog = ?2 AND at < ?3")?;
    let mut removed = 0;
    for (dialog, bot) in &batch {
        let (to_topic, to_user, all): (i64, i64, i64) = old
            .query_row(params![bot, dialog, before], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        if all == 0 {
            continue;
        }
        counted.execute(params![dialog, to_topic, to_user])?;
        removed += remove.execute(params![bot, dialog, before])?;
    }
    let last = if batch.len() < dialogs {
        None
    } else {
        batch.last().map(|(id, _)| *id)
    };
    Ok((last, removed))
}

/// How many messages of a dialog were copied each way: (to the topic, to
/// the user), pruned links included.
pub fn counts(conn: &Connection, bot: &str, dialog: i64) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached(
        "SELECT pruned_in + (SELECT count(*) FROM message_links
                             WHERE bot = ?1 AND dialog = ?2 AND direction = 'to_topic'),
                pruned_out + (SELECT count(*) FROM message_links
                              WHERE bot = ?1 AND dialog = ?2 AND direction = 'to_user')
         FROM dialogs WHERE id = ?2",
    )?
    .query_row(params![bot, dialog], |row| Ok((row.get(0)?, row.get(1)?)))
    .optional()
    .map(Option::unwrap_or_default)
}

/// Every link of a dialog, oldest first.
pub fn of_dialog(conn: &Connection, bot: &str, dialog: i64) -> rusqlite::Result<Vec<Link>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM message_links WHERE bot = ?1 AND dialog = ?2 ORDER BY at, copy_id"
    ))?;
    let rows = stmt.query_map(params![bot, dialog], from_row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn links_are_found_from_either_side_and_a_recopy_keeps_the_latest() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let link = Link {
            dialog: 1,
            direction: Direction::ToTopic,
            original_chat: 42,
            original_id: 7,
            copy_chat: -100,
            copy_id: 30,
        };
        record(&conn, "a", &link, 10).unwrap();
        assert_eq!(by_original(&conn, "a", 42, 7).unwrap(), Some(link.clone()));
        assert_eq!(by_copy(&conn, "a", -100, 30).unwrap(), Some(link.clone()));
        assert_eq!(by_copy(&conn, "b", -100, 30).unwrap(), None, "per bot");
        let again = Link {
            copy_id: 31,
            ..link.clone()
        };
        record(&conn, "a", &again, 11).unwrap();
        assert_eq!(by_original(&conn, "a", 42, 7).unwrap(), Some(again.clone()));
        assert_eq!(of_dialog(&conn, "a", 1).unwrap(), [again]);
    }

    #[test]
    fn pruned_links_still_count_in_the_dialogs_figures() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        let dialog = crate::store::dialogs::insert(&conn, "a", 42, -100, 0).unwrap();
        let link = |id: i64, direction: Direction| Link {
            dialog: dialog.id,
            direction,
            original_chat: 42,
            original_id: id,
            copy_chat: -100,
            copy_id: id + 100,
        };
        record(&conn, "a", &link(1, Direction::ToTopic), 10).unwrap();
        record(&conn, "a", &link(2, Direction::ToUser), 20).unwrap();
        record(&conn, "a", &link(3, Direction::ToTopic), 30).unwrap();
        record(&conn, "a", &link(4, Direction::FromBot), 40).unwrap();
        assert_eq!(counts(&conn, "a", dialog.id).unwrap(), (2, 1));
        let other = crate::store::dialogs::insert(&conn, "a", 43, -100, 0).unwrap();
        // A dialog at a time: the first, then the second and the end.
        assert_eq!(prune(&conn, 35, 0, 1).unwrap(), (Some(dialog.id), 3));
        assert_eq!(by_original(&conn, "a", 42, 1).unwrap(), None);
        assert!(
            by_original(&conn, "a", 42, 4).unwrap().is_some(),
            "newer kept"
        );
        assert_eq!(prune(&conn, 35, dialog.id, 1).unwrap(), (Some(other.id), 0));
        assert_eq!(prune(&conn, 35, other.id, 1).unwrap(), (None, 0));
        assert_eq!(prune(&conn, 35, 0, 10).unwrap(), (None, 0), "nothing twice");
        assert_eq!(
            counts(&conn, "a", dialog.id).unwrap(),
            (2, 1),
            "counts kept"
        );
        assert_eq!(counts(&conn, "a", other.id + 1).unwrap(), (0, 0));
    }
}
