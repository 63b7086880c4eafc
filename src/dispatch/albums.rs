//! Albums, gathered: the messages of one media group arrive as separate
//! messages (in one `getUpdates` batch or several), but are relayed with one
//! `copyMessages` call, so that an album stays one album.
//!
//! Each part is stored (`store::albums`) in the transaction that handles
//! it, instead of being queued. An album is complete, and queued as one
//! copy job, when
//! - a message arrives at the same place (the user's chat, or the topic)
//!   that is not part of it: handled before that message, so order holds;
//! - it has ten parts, the most Telegram puts in an album;
//! - nothing was added to it for [`QUIET`]: the dispatcher keeps a deadline
//!   per album in memory and completes it then ([`complete`]).
//!
//! Deadlines are not stored: when the dispatcher starts (and when the set
//! of running bots changes) every album being gathered gets a fresh quiet
//! time, which gives the poller the time to fetch an album's remaining
//! parts after a crash or a restart.
//!
//! An album of forwards goes as one `forwardMessages` (its origin shows);
//! an operator's album for a user who blocked the bot becomes one note.
//! `copyMessages` takes no reply: only an album of one keeps its reply.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::Transaction;

use super::{Ctx, Touched, act_as, texts};
use crate::config::BotConfig;
use crate::outbox::{Action, Purpose, Target};
use crate::store::albums::{self, AlbumKey, Part};
use crate::store::links::Direction;
use crate::store::{dialogs, users};

/// How long an album waits for its next part.
pub const QUIET: Duration = Duration::from_secs(1);

/// The most messages Telegram puts in one album.
const MOST: usize = 10;

impl Ctx<'_> {
    /// Completes the albums being gathered at (`chat`, `thread`) that a
    /// message there (of `album`, if any) is not part of.
    pub(super) fn complete_albums_at(
        &mut self,
        chat: i64,
        thread: i64,
        album: Option<&str>,
    ) -> anyhow::Result<()> {
        for key in albums::others_at(self.tx, &self.bot.name, chat, thread, album)? {
            self.complete_album(&key)?;
        }
        Ok(())
    }

    /// Adds `part` to its album (`album` at `chat`, `thread`); a tenth part
    /// completes the album.
    pub(super) fn gather(
        &mut self,
        (chat, thread): (i64, i64),
        album: &str,
        part: &Part,
    ) -> anyhow::Result<()> {
        let key = AlbumKey {
            bot: self.bot.name.clone(),
            chat,
            thread,
            album: album.to_owned(),
        };
        if albums::add(self.tx, &key, part)? >= MOST {
            self.complete_album(&key)
        } else {
            self.gathered.push(key);
            Ok(())
        }
    }

    /// Queues the album's copy (one `copyMessages`), if it is still being
    /// gathered.
    fn complete_album(&mut self, key: &AlbumKey) -> anyhow::Result<()> {
        let parts = albums::take(self.tx, key)?;
        let Some(first) = parts.first() else {
            return Ok(());
        };
        let Some(dialog) = dialogs::by_id(self.tx, first.dialog)? else {
            return Ok(());
        };
        if first.toward == Direction::ToUser
            && users::is_blocked(self.tx, &self.bot.name, dialog.user_id)?
        {
            // Telegram would refuse it (403): one note for the album.
            return self.notify_topic(&dialog, texts::BLOCKED);
        }
        let (to, purpose) = match first.toward {
            Direction::ToUser => (
                Target::User(dialog.user_id),
                Purpose::Reply {
                    dialog: dialog.id,
                    what: None,
                },
            ),
            Direction::ToTopic | Direction::FromBot => (
                Target::TopicOf(dialog.id),
                Purpose::Inbound {
                    dialog: dialog.id,
                    what: None,
                },
            ),
        };
        let copy = Action::Copy {
            to,
            from_chat: key.chat,
            message_ids: parts.iter().map(|part| part.message_id).collect(),
            keyboard: None,
            // copyMessages takes no reply: an album of one alone keeps it.
            reply_to: first.reply_to,
            forward: parts.iter().all(|part| part.forwarded),
        };
        self.queue(&dialog, purpose, copy)
    }
}

/// Completes the albums in `keys` that are still being gathered (of the
/// bots in `bots`); returns the bots that got jobs.
pub fn complete(
    tx: &Transaction<'_>,
    bots: &HashMap<String, BotConfig>,
    keys: &[AlbumKey],
    now: i64,
) -> anyhow::Result<Touched> {
    let mut touched = Touched::new();
    for key in keys {
        let Some(bot) = bots.get(&key.bot) else {
            continue;
        };
        act_as(tx, bot, now, &mut touched, |ctx| ctx.complete_album(key))?;
    }
    Ok(touched)
}
