//! The `offered_updates` and `existing_bots` tables: the updates waiting for
//! an existing bot (proxy and forward mode), and what that bot asked for.
//!
//! An update is offered once (by the dispatcher, see
//! `dispatch::offer`) and stays until the bot has taken it, with Telegram's
//! semantics: `getUpdates` with an `offset` confirms every update below it
//! (a negative offset keeps only that many of the newest), and a webhook
//! delivery that succeeded removes the update it delivered. What nobody
//! took is pruned after [`KEEP_SECS`].

use rusqlite::{Connection, OptionalExtension, params};

/// How long an offered update waits for the bot: a day, as Telegram keeps
/// its own.
pub const KEEP_SECS: i64 = 24 * 60 * 60;

/// One update waiting for the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub update_id: i64,
    /// The update as Telegram sent it.
    pub payload: String,
}

/// Offers an update to the bot; an id offered before is not offered again.
pub fn offer(
    conn: &Connection,
    bot: &str,
    update_id: i64,
    payload: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO offered_updates (bot, update_id, payload, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![bot, update_id, payload, now])?;
    Ok(())
}

/// `getUpdates`' confirmation: with a positive `offset`, every update below
/// it is taken; with a negative one, all but the `-offset` newest. Returns
/// how many left.
pub fn confirm(conn: &Connection, bot: &str, offset: i64) -> rusqlite::Result<usize> {
    if offset > 0 {
        conn.prepare_cached("DELETE FROM offered_updates WHERE bot = ?1 AND update_id < ?2")?
            .execute(params![bot, offset])
    } else if offset < 0 {
        conn.prepare_cached(
            "DELETE FROM offered_updates WHERE bot = ?1 AND update_id < (
                 SELECT min(update_id) FROM (
                     SELECT update_id FROM offered_updates WHERE bot = ?1
                     ORDER BY update_id DESC LIMIT ?2))",
        )?
        .execute(params![bot, offset.saturating_neg()])
    } else {
        Ok(0)
    }
}

/// Up to `limit` waiting updates, oldest first.
pub fn waiting(conn: &Connection, bot: &str, limit: usize) -> rusqlite::Result<Vec<Offered>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "SELECT update_id, payload FROM offered_updates WHERE bot = ?1
         ORDER BY update_id LIMIT ?2",
    )?
    .query_map(params![bot, limit], |row| {
        Ok(Offered {
            update_id: row.get(0)?,
            payload: row.get(1)?,
        })
    })?
    .collect()
}

/// How many updates wait for the bot.
pub fn count(conn: &Connection, bot: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM offered_updates WHERE bot = ?1")?
        .query_row([bot], |row| row.get(0))
}

/// The update was delivered to the bot's webhook.
pub fn delivered(conn: &Connection, bot: &str, update_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM offered_updates WHERE bot = ?1 AND update_id = ?2")?
        .execute(params![bot, update_id])?;
    Ok(())
}

/// Every waiting update leaves (`drop_pending_updates`).
pub fn drop_all(conn: &Connection, bot: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM offered_updates WHERE bot = ?1")?
        .execute([bot])
}

/// Updates offered before `before` (unix time) that nobody took leave.
pub fn prune(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM offered_updates WHERE at < ?1")?
        .execute([before])
}

/// What an existing bot asked for, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// The update types of its last `allowed_updates`, as JSON; `None` when
    /// it never passed one (Telegram's default applies).
    pub allowed_updates: Option<String>,
    pub webhook: Option<Webhook>,
    /// The last failed webhook delivery: unix time and error.
    pub last_error: Option<(i64, String)>,
}

/// A webhook the bot set with `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub max_connections: Option<i64>,
}

pub fn asked(conn: &Connection, bot: &str) -> rusqlite::Result<Asked> {
    conn.prepare_cached(
        "SELECT allowed_updates, webhook_url, webhook_secret, max_connections,
                last_error_date, last_error_message
         FROM existing_bots WHERE bot = ?1",
    )?
    .query_row([bot], |row| {
        let url: Option<String> = row.get(1)?;
        let error_date: Option<i64> = row.get(4)?;
        let error_message: Option<String> = row.get(5)?;
        Ok(Asked {
            allowed_updates: row.get(0)?,
            webhook: match url {
                Some(url) => Some(Webhook {
                    url,
                    secret: row.get(2)?,
                    max_connections: row.get(3)?,
                }),
                None => None,
            },
            last_error: error_date.zip(error_message),
        })
    })
    .optional()
    .map(Option::unwrap_or_default)
}

/// The update types the bot asked for last (a JSON array), if it ever did:
/// what the dispatcher needs for each update it offers.
pub fn allowed_updates(conn: &Connection, bot: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT allowed_updates FROM existing_bots WHERE bot = ?1")?
        .query_row([bot], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}

/// The bot passed `allowed_updates` (a JSON array).
pub fn save_allowed_updates(conn: &Connection, bot: &str, json: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO existing_bots (bot, allowed_updates) VALUES (?1, ?2)
         ON CONFLICT (bot) DO UPDATE SET allowed_updates = excluded.allowed_updates",
    )?
    .execute(params![bot, json])?;
    Ok(())
}

/// `setWebhook` (`Some`) or `deleteWebhook` (`None`); the last error is
/// forgotten with the old webhook.
pub fn save_webhook(
    conn: &Connection,
    bot: &str,
    webhook: Option<&Webhook>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO existing_bots (bot, webhook_url, webhook_secret, max_connections)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (bot) DO UPDATE SET webhook_url = excluded.webhook_url,
             webhook_secret = excluded.webhook_secret,
             max_connections = excluded.max_connections,
             last_error_date = NULL, last_error_message = NULL",
    )?
    .execute(params![
        bot,
        webhook.map(|w| &w.url),
        webhook.and_then(|w| w.secret.as_ref()),
        webhook.and_then(|w| w.max_connections),
    ])?;
    Ok(())
}

/// A webhook delivery failed at `at` with `message`.
pub fn save_delivery_error(
    conn: &Connection,
    bot: &str,
    at: i64,
    message: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO existing_bots (bot, last_error_date, last_error_message) VALUES (?1, ?2, ?3)
         ON CONFLICT (bot) DO UPDATE SET last_error_date = excluded.last_error_date,
             last_error_message = excluded.last_error_message",
    )?
    .execute(params![bot, at, message])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    fn ids(conn: &Connection, bot: &str) -> Vec<i64> {
        waiting(conn, bot, 100)
            .unwrap()
            .into_iter()
            .map(|o| o.update_id)
            .collect()
    }

    #[test]
    fn offsets_confirm_as_telegram_does() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        for id in [10, 11, 12, 13, 14] {
            offer(&conn, "shop", id, &format!("{{\"update_id\":{id}}}"), 100).unwrap();
        }
        offer(&conn, "shop", 12, "again", 100).unwrap();
        offer(&conn, "other", 1, "{}", 100).unwrap();
        assert_eq!(ids(&conn, "shop"), [10, 11, 12, 13, 14]);
        assert_eq!(
            waiting(&conn, "shop", 2).unwrap()[1].payload,
            "{\"update_id\":11}"
        );
        assert_eq!(
            confirm(&conn, "shop", 0).unwrap(),
            0,
            "no offset takes nothing"
        );
        assert_eq!(confirm(&conn, "shop", 12).unwrap(), 2);
        assert_eq!(ids(&conn, "shop"), [12, 13, 14]);
        assert_eq!(confirm(&conn, "shop", -1).unwrap(), 2, "keeps the newest");
        assert_eq!(ids(&conn, "shop"), [14]);
        assert_eq!(count(&conn, "shop").unwrap(), 1);
        delivered(&conn, "shop", 14).unwrap();
        assert_eq!(ids(&conn, "shop"), Vec::<i64>::new());
        assert_eq!(ids(&conn, "other"), [1], "each bot has its own");
        assert_eq!(prune(&conn, 101).unwrap(), 1);
    }

    #[test]
    fn what_the_bot_asked_for_is_kept_apart() {
        let (store, _dir) = temp_store();
        let conn = store.conn().unwrap();
        assert_eq!(asked(&conn, "shop").unwrap(), Asked::default());
        save_allowed_updates(&conn, "shop", "[\"message\"]").unwrap();
        let hook = Webhook {
            url: "https://bot.example/hook".into(),
            secret: Some("s3cret".into()),
            max_connections: Some(40),
        };
        save_webhook(&conn, "shop", Some(&hook)).unwrap();
        save_delivery_error(&conn, "shop", 7, "Wrong response from the webhook: 500").unwrap();
        let asked_now = asked(&conn, "shop").unwrap();
        assert_eq!(asked_now.allowed_updates.as_deref(), Some("[\"message\"]"));
        assert_eq!(
            allowed_updates(&conn, "shop").unwrap(),
            asked_now.allowed_updates
        );
        assert_eq!(allowed_updates(&conn, "other").unwrap(), None);
        assert_eq!(asked_now.webhook, Some(hook));
        assert_eq!(asked_now.last_error.unwrap().0, 7);
        save_webhook(&conn, "shop", None).unwrap();
        let deleted = asked(&conn, "shop").unwrap();
        assert_eq!(deleted.webhook, None);
        assert_eq!(deleted.last_error, None);
        assert_eq!(deleted.allowed_updates.as_deref(), Some("[\"message\"]"));
    }
}
