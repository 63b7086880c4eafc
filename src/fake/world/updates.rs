//! Updates: one queue per bot with `getUpdates` semantics, and webhooks.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{World, content_map};
use crate::fake::error::{ApiError, CONFLICT_OTHER_POLLER};
use crate::fake::params::Params;

/// How many confirmed updates per bot are kept for [`World::repeat_confirmed`].
const CONFIRMED_KEPT: usize = 1000;
/// 409 for `getUpdates` while a webhook is set.
const CONFLICT_WEBHOOK: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const MAX_UPDATES_PER_POLL: i64 = 100;
/// Update types left out when a bot has no `allowed_updates` (or an empty one).
const NOT_DELIVERED_BY_DEFAULT: [&str; 3] =
    ["chat_member", "message_reaction", "message_reaction_count"];

/// An update as queued: shared, so that serving it copies a pointer, not
/// the update.
pub(in crate::fake) type Update = Arc<Value>;

/// A decoded `getUpdates` call.
#[derive(Debug)]
pub(in crate::fake) struct PollRequest {
    offset: i64,
    pub(in crate::fake) limit: usize,
    pub(in crate::fake) timeout: Duration,
    allowed_updates: Option<Vec<String>>,
}

impl PollRequest {
    pub(in crate::fake) fn parse(p: &Params) -> Result<PollRequest, ApiError> {
        let limit = p
            .opt_i64("limit")?
            .unwrap_or(MAX_UPDATES_PER_POLL)
            .clamp(1, MAX_UPDATES_PER_POLL);
        let timeout = p.opt_i64("timeout")?.unwrap_or(0).max(0);
        Ok(PollRequest {
            offset: p.opt_i64("offset")?.unwrap_or(0),
            limit: usize::try_from(limit).unwrap_or(100),
            timeout: Duration::from_secs(timeout.unsigned_abs()),
            allowed_updates: allowed_updates(p)?,
        })
    }
}

impl World {
    /// Starts a `getUpdates` call: checks for a webhook, stores the filter,
    /// forgets confirmed updates, and supersedes any call still waiting.
    /// Returns this call's generation for [`World::poll`].
    pub(in crate::fake) fn begin_poll(
        &mut self,
        bot: i64,
        request: &PollRequest,
    ) -> Result<u64, ApiError> {
        let account = self.bot_mut(bot);
        if account.webhook_url.is_some() {
            return Err(ApiError::new(409, CONFLICT_WEBHOOK));
        }
        if let Some(allowed) = &request.allowed_updates {
            account.allowed_updates = Some(allowed.clone());
        }
        account.serving = std::mem::take(&mut account.repeats);
        if request.offset > 0 {
            while account
                .updates
                .front()
                .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < request.offset)
            {
                if let Some(update) = account.updates.pop_front() {
                    if account.confirmed.len() == CONFIRMED_KEPT {
                        account.confirmed.pop_front();
                    }
                    account.confirmed.push_back(update);
                }
            }
        } else if request.offset < 0 {
            let keep = usize::try_from(request.offset.unsigned_abs()).unwrap_or(usize::MAX);
            while account.updates.len() > keep {
                account.updates.pop_front();
            }
        }
        account.poll_generation += 1;
        let generation = account.poll_generation;
        self.polls_changed.insert(bot);
        Ok(generation)
    }

    /// The updates a waiting `getUpdates` call would answer now (maybe none),
    /// or 409 if a newer call or a webhook superseded it.
    pub(in crate::fake) fn poll(
        &self,
        bot: i64,
        generation: u64,
        limit: usize,
    ) -> Result<Vec<Update>, ApiError> {
        let account = self.bot(bot);
        if account.webhook_url.is_some() {
            return Err(ApiError::new(409, CONFLICT_WEBHOOK));
        }
        if account.poll_generation != generation {
            return Err(ApiError::new(409, CONFLICT_OTHER_POLLER));
        }
        Ok(account
            .serving
            .iter()
            .chain(&account.updates)
            .take(limit)
            .cloned()
            .collect())
    }

    /// The next `getUpdates` of `bot` serves its last `n` confirmed updates
    /// again, with their ids, before the pending ones.
    pub(in crate::fake) fn repeat_confirmed(&mut self, bot: i64, n: usize) {
        let account = self.bot_mut(bot);
        let skip = account.confirmed.len().saturating_sub(n);
        account.repeats = account.confirmed.iter().skip(skip).cloned().collect();
        self.polls_changed.insert(bot);
    }

    pub(in crate::fake) fn push_raw_update(&mut self, bot: i64, update: Value) -> i64 {
        let mut update = content_map(update);
        let account = self.bot_mut(bot);
        let id = account.next_update_id;
        account.next_update_id += 1;
        update.insert("update_id".into(), id.into());
        account.updates.push_back(Arc::new(Value::Object(update)));
        self.polls_changed.insert(bot);
        id
    }

    /// The bots whose waiting `getUpdates` must look again since the last call.
    pub(in crate::fake) fn take_polls_changed(&mut self) -> BTreeSet<i64> {
        std::mem::take(&mut self.polls_changed)
    }

    pub(in crate::fake) fn pending_update_count(&self, bot: i64) -> usize {
        self.bots
            .get(&bot)
            .map_or(0, |b| b.updates.len() + b.repeats.len())
    }

    /// Queues an update of type `kind` for `bot` if its filter lets it through.
    pub(super) fn enqueue(&mut self, bot: i64, kind: &str, payload: Value) {
        let Some(account) = self.bots.get_mut(&bot) else {
            return;
        };
        let allowed = match account.allowed_updates.as_deref() {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => !NOT_DELIVERED_BY_DEFAULT.contains(&kind),
        };
        if !allowed {
            return;
        }
        let mut update = Map::new();
        update.insert("update_id".into(), account.next_update_id.into());
        update.insert(kind.into(), payload);
        account.next_update_id += 1;
        account.updates.push_back(Arc::new(Value::Object(update)));
        self.polls_changed.insert(bot);
    }

    /// A human's message in a group goes to every bot there.
    pub(super) fn fan_out_to_group(&mut self, group: i64, message: &Value) {
        let bots: Vec<i64> = self.group(group).bots.keys().copied().collect();
        for bot in bots {
            self.enqueue(bot, "message", message.clone());
        }
    }

    pub(super) fn set_webhook(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let url = p.opt_str("url")?.unwrap_or_default();
        let allowed = allowed_updates(p)?;
        let drop_pending = p.opt_bool("drop_pending_updates")?.unwrap_or(false);
        let account = self.bot_mut(bot);
        if let Some(allowed) = allowed {
            account.allowed_updates = Some(allowed);
        }
        if drop_pending {
            account.updates.clear();
        }
        account.webhook_url = (!url.is_empty()).then_some(url);
        account.poll_generation += 1;
        self.polls_changed.insert(bot);
        Ok(true.into())
    }

    pub(super) fn delete_webhook(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let drop_pending = p.opt_bool("drop_pending_updates")?.unwrap_or(false);
        let account = self.bot_mut(bot);
        if drop_pending {
            account.updates.clear();
        }
        account.webhook_url = None;
        self.polls_changed.insert(bot);
        Ok(true.into())
    }

    pub(super) fn get_webhook_info(&self, bot: i64) -> Value {
        let account = self.bot(bot);
        let mut info = json!({
            "url": account.webhook_url.clone().unwrap_or_default(),
            "has_custom_certificate": false,
            "pending_update_count": account.updates.len(),
        });
        if let Some(allowed) = account.allowed_updates.as_ref().filter(|a| !a.is_empty()) {
            info["allowed_updates"] = json!(allowed);
        }
        info
    }
}

fn allowed_updates(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
    match p.opt_json("allowed_updates")? {
        None => Ok(None),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("can't parse allowed_updates")),
        Some(_) => Err(ApiError::bad_request("can't parse allowed_updates")),
    }
}
