//! One try of a job: resolve where it goes, make the call, and say how it
//! ended ([`Attempt`]), including the copies it made (for message links)
//! and the topic it created.
//!
//! Where a dialog's topic is (its group and topic id) is read once and then
//! kept in a bounded cache ([`Places`]): the sender is the only one that
//! changes a topic (it records creations, deletions and group moves itself,
//! and updates the cache as it does), so the cache is only ever stale after
//! a group moved, which the next call's `migrate_to_chat_id` reveals.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use frankenstein::methods::{
    CloseForumTopicParams, CopyMessageParams, CopyMessagesParams, CreateForumTopicParams,
    ReopenForumTopicParams, SendMessageParams,
};
use frankenstein::types::ReplyParameters;
use lru::LruCache;
use tracing::{debug, info};

use super::Sender;
use crate::outbox::queue::Row;
use crate::outbox::{Action, EditKind, FailureKind, Keyboard, Target};
use crate::store::{self, dialogs};
use crate::telegram;

/// Dialogs whose place is kept in memory, per bot.
const PLACES_KEPT: usize = 10_000;

/// How one try of a job ended.
pub(super) enum Attempt {
    Done {
        created: Option<Created>,
        copied: Option<Copied>,
    },
    Retry {
        after: Duration,
        error: String,
        /// A 429: the limiter must hear of it.
        throttled: bool,
    },
    Failed {
        error: String,
        kind: FailureKind,
    },
    /// The dialog's topic `deleted` is gone (message thread not found).
    TopicDeleted {
        dialog: i64,
        deleted: i64,
    },
    /// The group `from` moved to chat id `to`: follow it and retry now.
    Migrated {
        from: i64,
        to: i64,
    },
    /// 401/404: the token is not accepted (any more).
    TokenRejected {
        error: String,
    },
}

/// A topic the sender created for a dialog.
#[derive(Debug, Clone)]
pub(super) struct Created {
    pub dialog: i64,
    /// The group it was created in.
    pub group: i64,
    pub topic: i64,
    pub name: String,
    /// The deleted topic it replaces.
    pub replaces: Option<i64>,
}

/// Messages a copy made: each original id with its copy's id.
#[derive(Debug, Clone)]
pub(super) struct Copied {
    pub from_chat: i64,
    pub to_chat: i64,
    pub pairs: Vec<(i32, i32)>,
}

/// Where a dialog's topic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    pub group: i64,
    pub topic: Option<i64>,
}

/// A bounded cache of dialogs' places (see the module doc).
pub(super) struct Places(Mutex<LruCache<i64, Place>>);

impl Default for Places {
    /// Empty, and growing only as dialogs are used: a fixed capacity would
    /// be allocated up front, per bot, for a thousand bots.
    fn default() -> Places {
        Places(Mutex::new(LruCache::unbounded()))
    }
}

impl Places {
    fn get(&self, dialog: i64) -> Option<Place> {
        self.lock().get(&dialog).copied()
    }

    pub(super) fn set(&self, dialog: i64, place: Place) {
        let mut places = self.lock();
        places.put(dialog, place);
        if places.len() > PLACES_KEPT {
            places.pop_lru();
        }
    }

    /// Forgets a dialog's place (read again next time).
    pub(super) fn forget(&self, dialog: i64) {
        self.lock().pop(&dialog);
    }

    /// Forgets every place in `group` (it moved to a new id).
    pub(super) fn forget_group(&self, group: i64) {
        let mut places = self.lock();
        let stale: Vec<i64> = places
            .iter()
            .filter(|(_, place)| place.group == group)
            .map(|(dialog, _)| *dialog)
            .collect();
        for dialog in stale {
            places.pop(&dialog);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<i64, Place>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a call went, for what its failure means.
#[derive(Default)]
struct Used {
    chat: Option<i64>,
    topic: Option<i64>,
}

enum Failure {
    Telegram(telegram::Error),
    /// The job's dialog has no topic (its creation failed for good).
    NoTopic,
    Store(anyhow::Error),
}

impl From<telegram::Error> for Failure {
    fn from(err: telegram::Error) -> Failure {
        Failure::Telegram(err)
    }
}

impl Sender {
    /// One try of `row`'s job; the flag says whether a call was made.
    pub(super) async fn attempt(&self, row: &Row) -> (Attempt, bool) {
        let job = &row.job;
        let mut used = Used::default();
        let result = self.execute(&job.action, &mut used).await;
        let called = used.chat.is_some();
        let attempt = match result {
            Ok((created, copied)) => Attempt::Done { created, copied },
            Err(Failure::Telegram(err)) if err.is_not_modified() => Attempt::Done {
                created: None,
                copied: None,
            },
            Err(Failure::Telegram(telegram::Error::ThreadNotFound)) => {
                match (job.topic_dialog(), used.topic) {
                    (Some(dialog), Some(deleted)) => Attempt::TopicDeleted { dialog, deleted },
                    _ => Attempt::Failed {
                        error: telegram::Error::ThreadNotFound.to_string(),
                        kind: FailureKind::Other,
                    },
                }
            }
            Err(Failure::Telegram(telegram::Error::RetryAfter(after))) => Attempt::Retry {
                after,
                error: format!("429: retry after {}s", after.as_secs()),
                throttled: true,
            },
            Err(Failure::Telegram(telegram::Error::Migrated(to)))
                if used.chat.is_some_and(|from| from != to) =>
            {
                Attempt::Migrated {
                    from: used.chat.unwrap_or_default(),
                    to,
                }
            }
            Err(Failure::Telegram(err @ telegram::Error::Unauthorized)) => Attempt::TokenRejected {
                error: err.to_string(),
            },
            Err(Failure::Telegram(err)) if err.is_transient() => Attempt::Retry {
                after: self.retry_delay(row.attempts),
                error: err.to_string(),
                throttled: false,
            },
            Err(Failure::Telegram(err)) => Attempt::Failed {
                kind: match &err {
                    telegram::Error::Forbidden(description) if description.contains("blocked") => {
                        FailureKind::Blocked
                    }
                    _ => FailureKind::Other,
                },
                error: err.to_string(),
            },
            Err(Failure::NoTopic) => Attempt::Failed {
                error: "the dialog has no topic: creating it failed".into(),
                kind: FailureKind::Other,
            },
            // A read failed before any call: try again later.
            Err(Failure::Store(err)) => Attempt::Retry {
                after: self.database_retry_delay(row.attempts),
                error: format!("database: {err:#}"),
                throttled: false,
            },
        };
        (attempt, called)
    }

    /// Makes the call; `used` tells where it went (nothing set: no call).
    async fn execute(
        &self,
        action: &Action,
        used: &mut Used,
    ) -> Result<(Option<Created>, Option<Copied>), Failure> {
        match action {
            Action::CreateTopic {
                dialog,
                name,
                replaces,
            } => {
                let place = self.place(*dialog).await?;
                if place.topic.is_some() {
                    return Ok((None, None));
                }
                used.chat = Some(place.group);
                let params = CreateForumTopicParams::builder()
                    .chat_id(place.group)
                    .name(name.clone())
                    .build();
                let topic = self.client.create_forum_topic(&params).await?;
                info!(bot = %self.bot, dialog, topic = topic.message_thread_id, "topic created");
                let created = Created {
                    dialog: *dialog,
                    group: place.group,
                    topic: i64::from(topic.message_thread_id),
                    name: name.clone(),
                    replaces: *replaces,
                };
                Ok((Some(created), None))
            }
            Action::Copy {
                to,
                from_chat,
                message_ids,
                keyboard,
                reply_to,
                forward,
            } => {
                let (chat, thread) = self.resolve(to).await?;
                let reply = match reply_to {
                    Some(id) if message_ids.len() == 1 => {
                        self.counterpart(*from_chat, *id, chat).await?
                    }
                    _ => None,
                };
                *used = Used {
                    chat: Some(chat),
                    topic: thread.map(i64::from),
                };
                let copies = match message_ids.as_slice() {
                    _ if *forward => self.forward(chat, thread, *from_chat, message_ids).await?,
                    [one] => {
                        let params = CopyMessageParams::builder()
                            .chat_id(chat)
                            .maybe_message_thread_id(thread)
                            .from_chat_id(*from_chat)
                            .message_id(*one)
                            .maybe_reply_markup(keyboard.as_ref().map(inline_keyboard))
                            .maybe_reply_parameters(reply.map(reply_parameters))
                            .build();
                        vec![self.client.copy_message(&params).await?.message_id]
                    }
                    several => {
                        let params = CopyMessagesParams::builder()
                            .chat_id(chat)
                            .maybe_message_thread_id(thread)
                            .from_chat_id(*from_chat)
                            .message_ids(several.to_vec())
                            .build();
                        let copies = self.client.copy_messages(&params).await?;
                        copies.into_iter().map(|m| m.message_id).collect()
                    }
                };
                let copied = Copied {
                    from_chat: *from_chat,
                    to_chat: chat,
                    pairs: message_ids.iter().copied().zip(copies).collect(),
                };
                Ok((None, Some(copied)))
            }
            Action::SendText {
                to,
                text,
                html,
                reply_to,
            } => {
                let (chat, thread) = self.resolve(to).await?;
                *used = Used {
                    chat: Some(chat),
                    topic: thread.map(i64::from),
                };
                let params = SendMessageParams::builder()
                    .chat_id(chat)
                    .maybe_message_thread_id(thread)
                    .text(text.clone())
                    .maybe_parse_mode(html.then_some(frankenstein::ParseMode::Html))
                    .maybe_reply_parameters(
                        reply_to
                            .and_then(|id| i32::try_from(id).ok())
                            .map(reply_parameters),
                    )
                    .build();
                self.client.send_message(&params).await?;
                Ok((None, None))
            }
            Action::EditCopy {
                chat,
                original_chat,
                original_id,
                change,
                params,
            } => {
                let copy = match i32::try_from(*original_id) {
                    Ok(id) => self.counterpart(*original_chat, id, *chat).await?,
                    Err(_) => None,
                };
                let Some(copy) = copy else {
                    debug!(bot = %self.bot, original = original_id,
                        "an edit of a message that was not copied: nothing to do");
                    return Ok((None, None));
                };
                *used = Used {
                    chat: Some(*chat),
                    topic: None,
                };
                self.edit(*chat, i64::from(copy), *change, params, None)
                    .await?;
                Ok((None, None))
            }
            Action::Edit {
                chat,
                message_id,
                change,
                params,
                keyboard,
            } => {
                *used = Used {
                    chat: Some(*chat),
                    topic: None,
                };
                self.edit(*chat, *message_id, *change, params, keyboard.as_ref())
                    .await?;
                Ok((None, None))
            }
            Action::React {
                chat,
                message_id,
                reaction,
            } => {
                *used = Used {
                    chat: Some(*chat),
                    topic: None,
                };
                let params = serde_json::json!({
                    "chat_id": chat,
                    "message_id": message_id,
                    "reaction": reaction,
                });
                self.client.call_json("setMessageReaction", &params).await?;
                Ok((None, None))
            }
            Action::RenameTopic { dialog, name } => {
                let Some((chat, thread)) = self.topic_of(*dialog).await? else {
                    return Ok((None, None));
                };
                *used = Used {
                    chat: Some(chat),
                    topic: Some(i64::from(thread)),
                };
                let params = serde_json::json!({
                    "chat_id": chat,
                    "message_thread_id": thread,
                    "name": name,
                });
                self.client.call_json("editForumTopic", &params).await?;
                Ok((None, None))
            }
            Action::CloseTopic { dialog } | Action::ReopenTopic { dialog } => {
                let Some((chat, thread)) = self.topic_of(*dialog).await? else {
                    return Ok((None, None));
                };
                *used = Used {
                    chat: Some(chat),
                    topic: Some(i64::from(thread)),
                };
                if matches!(action, Action::CloseTopic { .. }) {
                    let params = CloseForumTopicParams::builder()
                        .chat_id(chat)
                        .message_thread_id(thread)
                        .build();
                    self.client.close_forum_topic(&params).await?;
                } else {
                    let params = ReopenForumTopicParams::builder()
                        .chat_id(chat)
                        .message_thread_id(thread)
                        .build();
                    self.client.reopen_forum_topic(&params).await?;
                }
                Ok((None, None))
            }
        }
    }

    /// Makes edit `change` (with `params`, and `keyboard` shown) of message
    /// `message_id` of `chat`.
    async fn edit(
        &self,
        chat: i64,
        message_id: i64,
        change: EditKind,
        params: &serde_json::Value,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), Failure> {
        let mut call = match params {
            serde_json::Value::Object(params) => params.clone(),
            _ => serde_json::Map::new(),
        };
        call.insert("chat_id".into(), chat.into());
        call.insert("message_id".into(), message_id.into());
        if let Some(keyboard) = keyboard {
            // Plain data: serialising it cannot fail.
            let markup =
                serde_json::to_value(inline_keyboard(keyboard)).unwrap_or(serde_json::Value::Null);
            call.insert("reply_markup".into(), markup);
        }
        self.client
            .call_json(change.method(), &serde_json::Value::Object(call))
            .await?;
        Ok(())
    }

    /// Forwards `message_ids` of `from_chat` to `chat` (`forwardMessage`,
    /// or `forwardMessages` for several); returns the new ids, in order.
    async fn forward(
        &self,
        chat: i64,
        thread: Option<i32>,
        from_chat: i64,
        message_ids: &[i32],
    ) -> Result<Vec<i32>, Failure> {
        let mut params = serde_json::json!({"chat_id": chat, "from_chat_id": from_chat});
        if let Some(thread) = thread {
            params["message_thread_id"] = thread.into();
        }
        let answer = if let [one] = message_ids {
            params["message_id"] = (*one).into();
            let message = self.client.call_json("forwardMessage", &params).await?;
            vec![message]
        } else {
            params["message_ids"] = message_ids.into();
            let ids = self.client.call_json("forwardMessages", &params).await?;
            ids.as_array().cloned().unwrap_or_default()
        };
        Ok(answer
            .iter()
            .filter_map(|m| m.get("message_id")?.as_i64())
            .filter_map(|id| i32::try_from(id).ok())
            .collect())
    }

    /// Where the dialog's topic is, from the cache or the database.
    async fn place(&self, dialog: i64) -> Result<Place, Failure> {
        if let Some(place) = self.places.get(dialog) {
            return Ok(place);
        }
        let found = self
            .store
            .run(move |conn| Ok(dialogs::by_id(conn, dialog)?))
            .await
            .map_err(Failure::Store)?
            .ok_or(Failure::NoTopic)?;
        let place = Place {
            group: found.backend_group,
            topic: found.topic_id,
        };
        self.places.set(dialog, place);
        Ok(place)
    }

    /// The counterpart in `in_chat` of message `id` of `chat`, through the
    /// message links (a reply's target on the other side).
    async fn counterpart(&self, chat: i64, id: i32, in_chat: i64) -> Result<Option<i32>, Failure> {
        let bot = self.bot.clone();
        let found = self
            .store
            .run(move |conn| {
                Ok(store::links::counterpart(
                    conn,
                    &bot,
                    chat,
                    i64::from(id),
                    in_chat,
                )?)
            })
            .await
            .map_err(Failure::Store)?;
        Ok(found.and_then(|id| i32::try_from(id).ok()))
    }

    /// The dialog's (group, topic), if it has a topic.
    async fn topic_of(&self, dialog: i64) -> Result<Option<(i64, i32)>, Failure> {
        let place = self.place(dialog).await?;
        Ok(place
            .topic
            .and_then(|topic| i32::try_from(topic).ok())
            .map(|topic| (place.group, topic)))
    }

    /// The chat and thread a target stands for now.
    async fn resolve(&self, target: &Target) -> Result<(i64, Option<i32>), Failure> {
        match target {
            Target::User(user) => Ok((*user, None)),
            Target::General(group) => {
                let (bot, group) = (self.bot.clone(), *group);
                let current = self
                    .store
                    .run(move |conn| Ok(store::groups::current(conn, &bot, group)?))
                    .await
                    .map_err(Failure::Store)?;
                Ok((current, None))
            }
            Target::TopicOf(dialog) => match self.topic_of(*dialog).await? {
                Some((group, topic)) => Ok((group, Some(topic))),
                None => Err(Failure::NoTopic),
            },
        }
    }
}

/// A mirror's keyboard as Telegram takes it.
/// A reply to message `id` of the target chat, sent plain if that message
/// is gone.
fn reply_parameters(id: i32) -> ReplyParameters {
    ReplyParameters::builder()
        .message_id(id)
        .allow_sending_without_reply(true)
        .build()
}

fn inline_keyboard(keyboard: &Keyboard) -> frankenstein::types::ReplyMarkup {
    use frankenstein::types::{InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};
    let rows = keyboard
        .0
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| {
                    let built = InlineKeyboardButton::builder().text(button.text.clone());
                    match &button.url {
                        Some(url) => built.url(url.clone()).build(),
                        None => built.callback_data(Keyboard::INERT).build(),
                    }
                })
                .collect()
        })
        .collect();
    ReplyMarkup::InlineKeyboardMarkup(
        InlineKeyboardMarkup::builder()
            .inline_keyboard(rows)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_and_forget_the_least_recently_used() {
        let places = Places::default();
        let place = |group| Place { group, topic: None };
        let kept = i64::try_from(PLACES_KEPT).unwrap();
        for dialog in 0..kept {
            places.set(dialog, place(-1));
        }
        assert_eq!(places.get(0), Some(place(-1)), "used: now the most recent");
        places.set(kept, place(-2));
        assert_eq!(places.lock().len(), PLACES_KEPT);
        assert_eq!(places.get(1), None, "the least recently used went");
        assert_eq!(places.get(0), Some(place(-1)));
        places.forget_group(-2);
        assert_eq!(places.get(kept), None);
        places.forget(0);
        assert_eq!(places.get(0), None);
    }
}
