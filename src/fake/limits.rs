//! Telegram's rate limits, enforced, and the record of what got through.
//!
//! The algorithm: sliding windows over accepted sends.
//!
//! - A *send* is one message a bot posts: `sendMessage`, `sendLocation`,
//!   `copyMessage`, each message a `copyMessages` copies, `forwardMessage`,
//!   each message a `forwardMessages` forwards, `sendPhoto` and the other
//!   methods that send a file, each message of a `sendMediaGroup` album,
//!   and the service message that `createForumTopic`, `editForumTopic`, `closeForumTopic` and
//!   `reopenForumTopic` leave in the group (Telegram throttles topic management
//!   with the group's messages). No other method counts: in particular the
//!   edits (`editMessageText`, `editMessageCaption`, `editMessageMedia`,
//!   `editMessageReplyMarkup`, `editMessageLiveLocation`,
//!   `stopMessageLiveLocation`) post no message and use no budget, though
//!   each is a request like any other ([`super::FakeTelegram::requests`]);
//!   Telegram's own flood control of edits is not modelled. The methods
//!   table says this for each method ([`Posts`]).
//! - Every send falls in two *scopes*: its bot (all chats together) and its
//!   chat — the private chat of (bot, user), or (bot, group) with all topics of
//!   the group together. Budgets are per bot, as Telegram's are: two bots in
//!   one group do not share a budget.
//! - A scope limited by a [`Rate`] of `count` per `per` accepts a call of `n`
//!   sends at `now` only if its window — the sends it accepted in
//!   `(now - per, now]` — holds at most `count - n`. So no window of length
//!   `per` ever holds more than `count` accepted sends
//!   ([`FakeStats::max_in_window`] checks exactly that).
//! - The check runs under the world's lock right before the call is applied,
//!   and the sends are recorded right after it succeeded, under the same lock:
//!   concurrent calls cannot overshoot, and refused or failed calls (400, 403,
//!   injected faults) use no budget.
//! - A refused call gets 429 `Too Many Requests: retry after N` with
//!   `parameters.retry_after = N`, N the whole seconds (rounded up, at least 1)
//!   until every scope over budget has room for the call. It is counted in
//!   [`FakeStats`] against the scope that needs the longest wait (the chat's
//!   scope on a tie).
//! - Short bursts: [`Rate`] has no separate burst; Telegram's "1 message per
//!   second in a private chat, with short bursts" is modelled as 3 per 3 s.
//! - A call with more sends than a whole budget (`copyMessages` of 30 into a
//!   group allowing 20) is accepted whole once its window is empty, so it
//!   cannot be refused forever; it is the one way a window ends up over budget.
//! - Memory: a window keeps only the timestamps inside it, and a sweep once per
//!   longest window drops windows that emptied. The history of accepted sends
//!   ([`FakeStats::sends`]) grows until [`super::FakeTelegram::clear_stats`].
//!
//! [`super::FakeTelegram::set_limits`] starts every window afresh. With limits
//! off (the default) nothing is refused, and accepted sends are still recorded.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiError;
use super::params::Params;

/// At most `count` accepted sends in any window of length `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Sends allowed per window; 0 is taken as 1.
    pub count: u32,
    /// Length of the sliding window.
    pub per: Duration,
}

impl Rate {
    /// `count` sends per `per`.
    #[must_use]
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }
}

/// Which rate limits the fake enforces; `None` leaves a scope unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// One bot's sends over all its chats.
    pub per_bot: Option<Rate>,
    /// One bot's sends into one private chat.
    pub per_private_chat: Option<Rate>,
    /// One bot's sends into one group, all topics together, topic management included.
    pub per_group: Option<Rate>,
}

impl Limits {
    /// Telegram's documented limits (Bot FAQ): 30 per second per bot, 1 per
    /// second per private chat with short bursts (as 3 per 3 seconds), 20 per
    /// minute per group.
    #[must_use]
    pub fn telegram() -> Limits {
        Limits {
            per_bot: Some(Rate::new(30, Duration::from_secs(1))),
            per_private_chat: Some(Rate::new(3, Duration::from_secs(3))),
            per_group: Some(Rate::new(20, Duration::from_secs(60))),
        }
    }

    /// No limits: every send is accepted (the default).
    #[must_use]
    pub fn off() -> Limits {
        Limits::default()
    }
}

/// One message a bot posted and the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedSend {
    /// When it was accepted.
    pub at: Instant,
    /// The bot that sent it.
    pub bot_id: i64,
    /// The chat it went to (a user id for a private chat, a group id).
    pub chat_id: i64,
    /// The method that posted it (`copyMessages` once per copied message).
    pub method: &'static str,
}

/// What the rate limits did, as a snapshot from [`super::FakeTelegram::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeStats {
    /// 429s answered by the rate limits, all scopes together (injected
    /// [`super::Fault::retry_after`] faults are not counted).
    pub throttled: u64,
    /// Of those, refused because the bot's own budget was spent.
    pub throttled_bot: u64,
    /// Of those, refused because a private chat's budget was spent.
    pub throttled_private_chat: u64,
    /// Of those, refused because a group's budget was spent.
    pub throttled_group: u64,
    /// Every send the fake accepted, oldest first, with limits on or off.
    pub sends: Vec<AcceptedSend>,
}

impl FakeStats {
    /// When each accepted send into `chat_id` (from any bot) was accepted, oldest first.
    #[must_use]
    pub fn accepted_sends(&self, chat_id: i64) -> Vec<Instant> {
        self.sends
            .iter()
            .filter(|s| s.chat_id == chat_id)
            .map(|s| s.at)
            .collect()
    }

    /// The most sends into `chat_id` (from any bot) accepted within any
    /// window of length `window`, i.e. in `(t - window, t]` for some `t`.
    #[must_use]
    pub fn max_in_window(&self, chat_id: i64, window: Duration) -> usize {
        max_in_window(&self.accepted_sends(chat_id), window)
    }

    /// Like [`FakeStats::max_in_window`], over all chats of one bot.
    #[must_use]
    pub fn bot_max_in_window(&self, bot_id: i64, window: Duration) -> usize {
        let times: Vec<Instant> = self
            .sends
            .iter()
            .filter(|s| s.bot_id == bot_id)
            .map(|s| s.at)
            .collect();
        max_in_window(&times, window)
    }
}

/// What one call of a method posts, as the rate limits count it; the
/// methods table (`world/methods.rs`) says it for each method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Posts {
    /// Nothing: the limits do not see the call.
    Nothing,
    /// One message (a topic method's service message included).
    OneMessage,
    /// One message per id in `message_ids` (`copyMessages`, `forwardMessages`).
    EachCopy,
    /// One message per item in `media` (`sendMediaGroup`).
    EachMedia,
}

/// A call that posts messages: who posts, where, and how many at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outgoing {
    bot: i64,
    chat_id: i64,
    messages: usize,
}

/// The sends a call that `posts` would make, or `None` for a call that posts
/// nothing (or has no usable `chat_id`, which fails with 400 anyway).
pub(super) fn outgoing(bot: i64, posts: Posts, p: &Params) -> Option<Outgoing> {
    let messages = match posts {
        Posts::Nothing => return None,
        Posts::OneMessage => 1,
        Posts::EachCopy | Posts::EachMedia => {
            let list = if posts == Posts::EachCopy {
                "message_ids"
            } else {
                "media"
            };
            p.opt_json(list)
                .ok()
                .flatten()
                .and_then(|items| items.as_array().map(Vec::len))
                .filter(|&n| n > 0)
                .unwrap_or(1)
        }
    };
    let chat_id = p.chat_id("chat_id").ok()?;
    Some(Outgoing {
        bot,
        chat_id,
        messages,
    })
}

/// How many messages a successful call that `posts` posted, from its result.
pub(super) fn posted(posts: Posts, result: &serde_json::Value) -> usize {
    match posts {
        Posts::Nothing => 0,
        Posts::OneMessage => 1,
        Posts::EachCopy | Posts::EachMedia => result.as_array().map_or(0, Vec::len),
    }
}

/// The enforcement state (sliding windows) and the statistics.
#[derive(Debug, Default)]
pub(super) struct Limiter {
    limits: Limits,
    /// Accepted sends per limited scope, oldest first, only those still inside
    /// the scope's window (pruned when the scope is checked, and by sweeps).
    windows: HashMap<Scope, VecDeque<Instant>>,
    /// When all windows were last pruned.
    last_sweep: Option<Instant>,
    stats: FakeStats,
}

/// One budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scope {
    Bot(i64),
    PrivateChat { bot: i64, user: i64 },
    Group { bot: i64, group: i64 },
}

impl Scope {
    /// The chat scope of a send by `bot` into `chat_id`.
    fn chat(bot: i64, chat_id: i64) -> Scope {
        if chat_id > 0 {
            Scope::PrivateChat { bot, user: chat_id }
        } else {
            Scope::Group {
                bot,
                group: chat_id,
            }
        }
    }
}

impl Limiter {
    /// Replaces the limits; every window starts empty.
    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.windows.clear();
        self.last_sweep = None;
    }

    /// `Ok` if every scope of `call` has room for it at `now`; otherwise the
    /// 429 to answer (counted in the stats).
    pub(super) fn check(&mut self, call: &Outgoing, now: Instant) -> Result<(), ApiError> {
        let mut worst: Option<(Scope, Duration)> = None;
        for scope in [Scope::chat(call.bot, call.chat_id), Scope::Bot(call.bot)] {
            let Some(rate) = self.rate(scope) else {
                continue;
            };
            let window = self.windows.entry(scope).or_default();
            prune(window, rate.per, now);
            if let Some(wait) = wait_for_room(window, rate, call.messages, now) {
                if worst.is_none_or(|(_, longest)| wait > longest) {
                    worst = Some((scope, wait));
                }
            }
        }
        let Some((scope, wait)) = worst else {
            return Ok(());
        };
        self.stats.throttled += 1;
        match scope {
            Scope::Bot(_) => self.stats.throttled_bot += 1,
            Scope::PrivateChat { .. } => self.stats.throttled_private_chat += 1,
            Scope::Group { .. } => self.stats.throttled_group += 1,
        }
        Err(ApiError::too_many_requests(whole_seconds(wait)))
    }

    /// Records `messages` sends of an applied `call` at `now`.
    pub(super) fn record(
        &mut self,
        call: &Outgoing,
        method: &'static str,
        messages: usize,
        now: Instant,
    ) {
        for scope in [Scope::chat(call.bot, call.chat_id), Scope::Bot(call.bot)] {
            if self.rate(scope).is_some() {
                let window = self.windows.entry(scope).or_default();
                window.extend(std::iter::repeat_n(now, messages));
            }
        }
        let send = AcceptedSend {
            at: now,
            bot_id: call.bot,
            chat_id: call.chat_id,
            method,
        };
        self.stats.sends.extend(std::iter::repeat_n(send, messages));
        self.sweep(now);
    }

    /// A group changed its id: its budgets go with it.
    pub(super) fn move_group(&mut self, old: i64, new: i64) {
        let moved: Vec<Scope> = self
            .windows
            .keys()
            .copied()
            .filter(|scope| matches!(scope, Scope::Group { group, .. } if *group == old))
            .collect();
        for scope in moved {
            if let (Scope::Group { bot, .. }, Some(window)) = (scope, self.windows.remove(&scope)) {
                self.windows
                    .insert(Scope::Group { bot, group: new }, window);
            }
        }
    }

    pub(super) fn stats(&self) -> FakeStats {
        self.stats.clone()
    }

    pub(super) fn clear_stats(&mut self) {
        self.stats = FakeStats::default();
    }

    fn rate(&self, scope: Scope) -> Option<Rate> {
        match scope {
            Scope::Bot(_) => self.limits.per_bot,
            Scope::PrivateChat { .. } => self.limits.per_private_chat,
            Scope::Group { .. } => self.limits.per_group,
        }
    }

    /// Once per longest window, prunes every window and drops the empty ones,
    /// so chats that went quiet do not keep memory.
    fn sweep(&mut self, now: Instant) {
        let longest = [
            self.limits.per_bot,
            self.limits.per_private_chat,
            self.limits.per_group,
        ]
        .into_iter()
        .flatten()
        .map(|rate| rate.per)
        .max()
        .unwrap_or(Duration::ZERO);
        if self
            .last_sweep
            .is_some_and(|last| now.saturating_duration_since(last) < longest)
        {
            return;
        }
        self.last_sweep = Some(now);
        let limits = self.limits;
        self.windows.retain(|scope, window| {
            let rate = match scope {
                Scope::Bot(_) => limits.per_bot,
                Scope::PrivateChat { .. } => limits.per_private_chat,
                Scope::Group { .. } => limits.per_group,
            };
            match rate {
                Some(rate) => {
                    prune(window, rate.per, now);
                    !window.is_empty()
                }
                None => false,
            }
        });
    }
}

/// Drops the sends that left the window `(now - per, now]`.
fn prune(window: &mut VecDeque<Instant>, per: Duration, now: Instant) {
    while window
        .front()
        .is_some_and(|&at| now.saturating_duration_since(at) >= per)
    {
        window.pop_front();
    }
}

/// `None` if a pruned window has room for `messages` more sends at `now`,
/// otherwise how long until it has.
fn wait_for_room(
    window: &VecDeque<Instant>,
    rate: Rate,
    messages: usize,
    now: Instant,
) -> Option<Duration> {
    let budget = usize::try_from(rate.count.max(1)).unwrap_or(usize::MAX);
    // A call bigger than the whole budget waits for an empty window only.
    let needed = messages.clamp(1, budget);
    let excess = (window.len() + needed).checked_sub(budget)?;
    if excess == 0 {
        return None;
    }
    // The oldest `excess` sends must leave the window first.
    let last_to_leave = window[excess - 1];
    Some(
        last_to_leave
            .checked_add(rate.per)
            .map_or(Duration::from_secs(u64::from(u32::MAX)), |leaves| {
                leaves.saturating_duration_since(now)
            }),
    )
}

/// A wait as Telegram's `retry_after`: whole seconds, rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// The most of the sorted `times` within any window `(t - window, t]`.
fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut start = 0;
    let mut most = 0;
    for (end, &at) in times.iter().enumerate() {
        while at.saturating_duration_since(times[start]) >= window {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(bot: i64, chat_id: i64, messages: usize) -> Outgoing {
        Outgoing {
            bot,
            chat_id,
            messages,
        }
    }

    /// Checks and, if accepted, records `call` at `now`; the retry_after otherwise.
    fn send(limiter: &mut Limiter, call: &Outgoing, now: Instant) -> Result<(), u32> {
        limiter
            .check(call, now)
            .map_err(|err| err.retry_after.unwrap())?;
        limiter.record(call, "sendMessage", call.messages, now);
        Ok(())
    }

    #[test]
    fn a_full_window_refuses_until_its_oldest_send_leaves() {
        let mut limiter = Limiter::default();
        limiter.set_limits(Limits {
            per_group: Some(Rate::new(3, Duration::from_secs(10))),
            ..Limits::off()
        });
        let t0 = Instant::now();
        let group = call(1, -100, 1);
        send(&mut limiter, &group, t0).unwrap();
        send(&mut limiter, &group, t0 + ms(1500)).unwrap();
        send(&mut limiter, &group, t0 + ms(1600)).unwrap();
        // The first send leaves at t0 + 10 s: 8.5 s from here, rounded up.
        assert_eq!(send(&mut limiter, &group, t0 + ms(1500)), Err(9));
        assert_eq!(send(&mut limiter, &group, t0 + ms(9999)), Err(1));
        send(&mut limiter, &group, t0 + ms(10_000)).unwrap();
        // Two more need the 2nd and 3rd sends gone: until t0 + 11.6 s.
        let two = call(1, -100, 2);
        assert_eq!(send(&mut limiter, &two, t0 + ms(10_000)), Err(2));
        // Other groups, other bots and private chats are not limited.
        send(&mut limiter, &call(1, -200, 1), t0 + ms(10_000)).unwrap();
        send(&mut limiter, &call(2, -100, 1), t0 + ms(10_000)).unwrap();
        send(&mut limiter, &call(1, 5, 1), t0 + ms(10_000)).unwrap();

        let stats = limiter.stats();
        assert_eq!((stats.throttled, stats.throttled_group), (3, 3));
        assert_eq!(stats.max_in_window(-100, Duration::from_secs(10)), 4);
        assert_eq!(stats.bot_max_in_window(1, Duration::from_secs(10)), 5);
    }

    #[test]
    fn the_longest_wait_names_the_scope() {
        let mut limiter = Limiter::default();
        limiter.set_limits(Limits {
            per_bot: Some(Rate::new(2, Duration::from_secs(1))),
            per_private_chat: Some(Rate::new(1, Duration::from_secs(5))),
            per_group: None,
        });
        let t0 = Instant::now();
        send(&mut limiter, &call(1, 7, 1), t0).unwrap();
        assert_eq!(send(&mut limiter, &call(1, 7, 1), t0), Err(5));
        send(&mut limiter, &call(1, 8, 1), t0).unwrap();
        assert_eq!(send(&mut limiter, &call(1, 9, 1), t0 + ms(200)), Err(1));
        // Both over: the chat's 5 s wins over the bot's 1 s.
        assert_eq!(send(&mut limiter, &call(1, 8, 1), t0 + ms(200)), Err(5));
        let stats = limiter.stats();
        assert_eq!(
            (
                stats.throttled,
                stats.throttled_private_chat,
                stats.throttled_bot
            ),
            (3, 2, 1)
        );
        assert_eq!(stats.sends.len(), 2);
    }

    #[test]
    fn an_oversized_batch_waits_for_an_empty_window_then_goes_whole() {
        let mut limiter = Limiter::default();
        limiter.set_limits(Limits {
            per_group: Some(Rate::new(3, ms(100))),
            ..Limits::off()
        });
        let t0 = Instant::now();
        send(&mut limiter, &call(1, -1, 1), t0).unwrap();
        assert_eq!(send(&mut limiter, &call(1, -1, 5), t0 + ms(10)), Err(1));
        send(&mut limiter, &call(1, -1, 5), t0 + ms(100)).unwrap();
        assert_eq!(limiter.stats().sends.len(), 6);
    }

    #[test]
    fn quiet_windows_are_swept_and_limits_off_keep_none() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        for user in 1..=50 {
            send(&mut limiter, &call(1, user, 1), t0).unwrap();
        }
        assert!(
            limiter.windows.is_empty(),
            "no windows while limits are off"
        );
        limiter.set_limits(Limits::telegram());
        for user in 1..=30 {
            send(&mut limiter, &call(1, user, 1), t0).unwrap();
        }
        assert_eq!(limiter.windows.len(), 31);
        send(&mut limiter, &call(2, -5, 1), t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(limiter.windows.len(), 2, "only the new send's windows stay");
        assert_eq!(limiter.stats().sends.len(), 81);
        limiter.clear_stats();
        assert_eq!(limiter.stats(), FakeStats::default());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(ms(1)), 1);
        assert_eq!(whole_seconds(ms(1000)), 1);
        assert_eq!(whole_seconds(ms(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(60)), 60);
    }

    #[test]
    fn max_in_window_uses_half_open_windows() {
        let t0 = Instant::now();
        let times = [t0, t0 + ms(50), t0 + ms(100), t0 + ms(100), t0 + ms(300)];
        assert_eq!(max_in_window(&times, ms(100)), 3);
        assert_eq!(max_in_window(&times, ms(101)), 4);
        assert_eq!(max_in_window(&[t0, t0 + ms(100)], ms(100)), 1);
        assert_eq!(max_in_window(&[], ms(100)), 0);
    }
}
