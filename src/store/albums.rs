//! The `album_parts` table: albums (media groups) being gathered before
//! they are relayed as one `copyMessages` job. An album is known by the
//! place it was sent (chat and topic) and its `media_group_id`; its parts
//! are kept with the dialog and direction they go in, in the transaction
//! that handles each part, so a crash mid-album loses nothing.

use rusqlite::{Connection, params};

use super::links::Direction;

/// Where an album was sent, and which one it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlbumKey {
    pub bot: String,
    pub chat: i64,
    /// The topic in a group; 0 in a private chat.
    pub thread: i64,
    /// Its `media_group_id`.
    pub album: String,
}

/// One message of an album.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub message_id: i32,
    pub dialog: i64,
    pub toward: Direction,
    /// The message it replies to, in its chat.
    pub reply_to: Option<i32>,
    /// A forwarded message (relayed as a forward, showing its origin).
    pub forwarded: bool,
}

/// Adds a part to its album; returns how many parts the album has now.
pub fn add(conn: &Connection, key: &AlbumKey, part: &Part) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO album_parts
            (bot, chat, thread, album, message_id, dialog, toward, reply_to, forwarded)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        key.bot,
        key.chat,
        key.thread,
        key.album,
        part.message_id,
        part.dialog,
        part.toward.as_str(),
        part.reply_to,
        part.forwarded,
    ])?;
    conn.prepare_cached(
        "SELECT count(*) FROM album_parts
         WHERE bot = ?1 AND chat = ?2 AND thread = ?3 AND album = ?4",
    )?
    .query_row(params![key.bot, key.chat, key.thread, key.album], |row| {
        row.get::<_, i64>(0)
    })
    .map(|count| usize::try_from(count).unwrap_or(0))
}

/// The albums being gathered at `bot`'s place (`chat`, `thread`), other
/// than `except`.
pub fn others_at(
    conn: &Connection,
    bot: &str,
    chat: i64,
    thread: i64,
    except: Option<&str>,
) -> rusqlite::Result<Vec<AlbumKey>> {
    conn.prepare_cached(
        "SELECT DISTINCT album FROM album_parts
         WHERE bot = ?1 AND chat = ?2 AND thread = ?3 AND album IS NOT ?4",
    )?
    .query_map(params![bot, chat, thread, except], |row| {
        Ok(AlbumKey {
            bot: bot.to_owned(),
            chat,
            thread,
            album: row.get(0)?,
        })
    })?
    .collect()
}

/// Removes an album's parts and returns them, in message order (empty if
/// it was taken already).
pub fn take(conn: &Connection, key: &AlbumKey) -> rusqlite::Result<Vec<Part>> {
    let place = params![key.bot, key.chat, key.thread, key.album];
    let parts = conn
        .prepare_cached(
            "SELECT message_id, dialog, toward, reply_to, forwarded FROM album_parts
             WHERE bot = ?1 AND chat = ?2 AND thread = ?3 AND album = ?4
             ORDER BY message_id",
        )?
        .query_map(place, |row| {
            let toward: String = row.get(2)?;
            Ok(Part {
                message_id: row.get(0)?,
                dialog: row.get(1)?,
                toward: Direction::parse(&toward)?,
                reply_to: row.get(3)?,
                forwarded: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.prepare_cached(
        "DELETE FROM album_parts WHERE bot = ?1 AND chat = ?2 AND thread = ?3 AND album = ?4",
    )?
    .execute(place)?;
    Ok(parts)
}

/// Every album being gathered.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<AlbumKey>> {
    conn.prepare_cached("SELECT DISTINCT bot, chat, thread, album FROM album_parts")?
        .query_map([], |row| {
            Ok(AlbumKey {
                bot: row.get(0)?,
                chat: row.get(1)?,
                thread: row.get(2)?,
                album: row.get(3)?,
            })
        })?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(album: &str) -> AlbumKey {
        AlbumKey {
            bot: "a".into(),
            chat: 42,
            thread: 0,
            album: album.into(),
        }
    }

    fn part(message_id: i32) -> Part {
        Part {
            message_id,
            dialog: 1,
            toward: Direction::ToTopic,
            reply_to: None,
            forwarded: false,
        }
    }

    #[test]
    fn parts_gather_by_album_and_are_taken_in_message_order() {
        let (store, _dir) = crate::store::testing::temp_store();
        let conn = store.conn().unwrap();
        assert_eq!(add(&conn, &key("x"), &part(12)).unwrap(), 1);
        assert_eq!(add(&conn, &key("x"), &part(11)).unwrap(), 2);
        // The same message twice (an update handled again) counts once.
        assert_eq!(add(&conn, &key("x"), &part(11)).unwrap(), 2);
        assert_eq!(add(&conn, &key("y"), &part(13)).unwrap(), 1);
        assert_eq!(all(&conn).unwrap().len(), 2);
        assert_eq!(others_at(&conn, "a", 42, 0, Some("x")).unwrap(), [key("y")]);
        assert_eq!(others_at(&conn, "a", 42, 0, None).unwrap().len(), 2);
        assert!(others_at(&conn, "a", 42, 5, None).unwrap().is_empty());
        let taken: Vec<i32> = take(&conn, &key("x"))
            .unwrap()
            .iter()
            .map(|p| p.message_id)
            .collect();
        assert_eq!(taken, [11, 12]);
        assert!(take(&conn, &key("x")).unwrap().is_empty());
        assert_eq!(all(&conn).unwrap(), [key("y")]);
    }
}
