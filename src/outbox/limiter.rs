//! The rate limiter: keeps one bot's sends within Telegram's limits.
//!
//! Algorithm. Telegram allows about 30 messages per second per bot, about one
//! per second into a private chat (with short bursts) and 20 per minute into a
//! group; what exactly it counts is not published, so every limit is read in
//! the strictest way: *at most `count` sends in any window of `per`* (a
//! sliding window, which also bounds a burst at the start of a window).
//!
//! Telegram counts a send when it arrives, somewhere between the moment it
//! left and the moment its answer came back. So a send holds a place in its
//! scopes' windows from the moment it starts (in flight) and, once answered,
//! counts from the answer's time: however the network delays it, no window at
//! Telegram's end can hold more than `count` of them. Per scope (the bot, each
//! chat) the limiter keeps the sends in flight and the answer times inside
//! the window; a send may go when both the bot's window and its chat's window
//! have room, and then takes a place in both.
//!
//! The sender asks *before* a job takes one of its in-flight slots: a lane
//! whose chat has no room waits (parked until the window frees) while lanes to
//! other chats go on, so a throttled backend group never holds up replies to
//! users; when the bot's own window is full, nothing starts.
//!
//! A restarted sender restores the windows from the answer times the last
//! run recorded (the `sends` table), so a restart does not grant a fresh
//! budget: [`Limiter::restore`]. A job that ends without making a call gives
//! its place back: [`Limiter::cancel`].
//!
//! All time arithmetic saturates: a window or `retry_after` too large for the
//! clock means "much later", never an overflow.
//!
//! Telegram's limits move, so the limiter adapts. A 429 names no scope: it is
//! charged to the chat of the refused send, which is paused for exactly
//! `retry_after` and slowed down (its window admits half as many sends, down
//! to one); each later send that goes through gives back a little (1/20 of
//! the limit), so the scope recovers gradually. When 429s hit several
//! different chats within a second, the bot as a whole is over its budget: the
//! bot's window is paused and slowed the same way.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Limits, Rate};

/// Slow-down factor after a 429, and the floor it cannot go below.
const SLOWDOWN: f64 = 0.5;
const MIN_FACTOR: f64 = 0.05;
/// What each successful send gives back.
const RECOVERY: f64 = 0.05;
/// 429s into this many different chats within `SPREAD_WINDOW` mean the bot
/// as a whole is throttled.
const SPREAD_CHATS: usize = 3;
const SPREAD_WINDOW: Duration = Duration::from_secs(1);
/// Idle chat windows are dropped after this many sends (bounds memory).
const PRUNE_EVERY: u32 = 4096;

/// One bot's rate limiter.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    bot: Option<Window>,
    /// Private chats (positive ids) and groups (negative ids).
    chats: HashMap<i64, Window>,
    /// Recent 429s: when, and into which chat.
    recent_429: VecDeque<(Instant, i64)>,
    sends_since_prune: u32,
}

impl Limiter {
    #[must_use]
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            bot: limits.bot.map(Window::new),
            chats: HashMap::new(),
            recent_429: VecDeque::new(),
            sends_since_prune: 0,
        }
    }

    /// `None` if the bot may send now; otherwise when it may next.
    pub fn bot_ready_at(&mut self, now: Instant) -> Option<Instant> {
        self.bot.as_mut().and_then(|w| w.ready_at(now))
    }

    /// Takes a place for one send into `chat` now, or says when to ask
    /// again (a place may also free earlier, when a send in flight is
    /// answered: see [`Limiter::finished`]).
    pub fn try_acquire(&mut self, chat: i64, now: Instant) -> Result<(), Instant> {
        if let Some(at) = self.bot_ready_at(now) {
            return Err(at);
        }
        if let Some(rate) = self.rate_for(chat) {
            let window = self.chats.entry(chat).or_insert_with(|| Window::new(rate));
            if let Some(at) = window.ready_at(now) {
                return Err(at);
            }
            window.in_flight += 1;
        }
        if let Some(bot) = self.bot.as_mut() {
            bot.in_flight += 1;
        }
        Ok(())
    }

    /// The send into `chat` was answered (whatever the answer): from now on
    /// it counts from `now`.
    pub fn finished(&mut self, chat: i64, now: Instant) {
        if let Some(window) = self.chats.get_mut(&chat) {
            window.record(now);
        }
        if let Some(bot) = self.bot.as_mut() {
            bot.record(now);
        }
        self.sends_since_prune += 1;
        if self.sends_since_prune >= PRUNE_EVERY {
            self.prune(now);
        }
    }

    /// The job that took a place for `chat` made no call after all: the
    /// place is free again and nothing is counted.
    pub fn cancel(&mut self, chat: i64) {
        if let Some(window) = self.chats.get_mut(&chat) {
            window.in_flight = window.in_flight.saturating_sub(1);
        }
        if let Some(bot) = self.bot.as_mut() {
            bot.in_flight = bot.in_flight.saturating_sub(1);
        }
    }

    /// A send into `chat` answered at `at`, by an earlier run: it counts in
    /// the windows as if this limiter had seen it. Call in order of `at`.
    pub fn restore(&mut self, chat: i64, at: Instant) {
        if let Some(rate) = self.rate_for(chat) {
            self.chats
                .entry(chat)
                .or_insert_with(|| Window::new(rate))
                .sent
                .push_back(at);
        }
        if let Some(bot) = self.bot.as_mut() {
            bot.sent.push_back(at);
        }
    }

    /// The longest window of any scope, `None` without limits: how far back
    /// [`Limiter::restore`] needs the history.
    #[must_use]
    pub fn longest_window(limits: &Limits) -> Option<Duration> {
        [limits.bot, limits.chat, limits.group]
            .into_iter()
            .flatten()
            .map(|rate| rate.per)
            .max()
    }

    /// Telegram answered 429 to a send into `chat`: pause and slow that
    /// chat, and the whole bot when 429s are spread over several chats.
    pub fn throttled(&mut self, chat: i64, retry_after: Duration, now: Instant) {
        let until = later(now, retry_after);
        if let Some(rate) = self.rate_for(chat) {
            self.chats
                .entry(chat)
                .or_insert_with(|| Window::new(rate))
                .penalize(until);
        }
        while self
            .recent_429
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > SPREAD_WINDOW)
        {
            self.recent_429.pop_front();
        }
        self.recent_429.push_back((now, chat));
        let mut chats: Vec<i64> = self.recent_429.iter().map(|(_, c)| *c).collect();
        chats.sort_unstable();
        chats.dedup();
        if chats.len() >= SPREAD_CHATS || self.rate_for(chat).is_none() {
            if let Some(bot) = self.bot.as_mut() {
                bot.penalize(until);
            }
        }
    }

    fn rate_for(&self, chat: i64) -> Option<Rate> {
        if chat < 0 {
            self.limits.group
        } else {
            self.limits.chat
        }
    }

    /// Forgets chats whose window is empty and that are not slowed or paused.
    fn prune(&mut self, now: Instant) {
        self.sends_since_prune = 0;
        self.chats.retain(|_, window| !window.is_idle(now));
    }

    #[cfg(test)]
    fn tracked_chats(&self) -> usize {
        self.chats.len()
    }
}

/// `at + by`, or a year after `at` when that does not fit the clock.
fn later(at: Instant, by: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    at.checked_add(by)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

/// The sends of one scope within its window.
#[derive(Debug)]
struct Window {
    rate: Rate,
    /// Answer times of the sends still inside the window, oldest first.
    sent: VecDeque<Instant>,
    /// Sends on their way, not answered yet: they count in full.
    in_flight: usize,
    /// 1.0 normally; lower after 429s (the window admits fewer sends).
    factor: f64,
    paused_until: Option<Instant>,
}

impl Window {
    fn new(rate: Rate) -> Window {
        Window {
            rate,
            sent: VecDeque::new(),
            in_flight: 0,
            factor: 1.0,
            paused_until: None,
        }
    }

    /// How many sends the window admits now.
    fn capacity(&self) -> usize {
        let scaled = (f64::from(self.rate.count) * self.factor).floor();
        // In range: 1 <= scaled <= count.
        (scaled as usize).max(1)
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= self.rate.per)
        {
            self.sent.pop_front();
        }
    }

    /// `None` if a send may go now; otherwise when one may.
    fn ready_at(&mut self, now: Instant) -> Option<Instant> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(until);
            }
            self.paused_until = None;
        }
        self.forget_old(now);
        let capacity = self.capacity();
        let used = self.sent.len() + self.in_flight;
        if used < capacity {
            return None;
        }
        // The answered send that must leave the window before one more fits;
        // if every place is held by sends in flight, their answers free them
        // (and wake the sender), so ask again a window later at the latest.
        let index = used - capacity;
        Some(
            self.sent
                .get(index)
                .map_or(later(now, self.rate.per), |at| later(*at, self.rate.per)),
        )
    }

    /// A send in flight was answered at `now`.
    fn record(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.sent.push_back(now);
        self.factor = (self.factor + RECOVERY).min(1.0);
    }

    fn penalize(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.factor = (self.factor * SLOWDOWN).max(MIN_FACTOR);
    }

    fn is_idle(&mut self, now: Instant) -> bool {
        self.forget_old(now);
        self.sent.is_empty()
            && self.in_flight == 0
            && self.factor >= 1.0
            && self.paused_until.is_none_or(|until| until <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn rate(count: u32, per: Duration) -> Option<Rate> {
        Some(Rate { count, per })
    }

    fn limits(bot: Option<Rate>, chat: Option<Rate>, group: Option<Rate>) -> Limits {
        Limits { bot, chat, group }
    }

    /// Sends as fast as the limiter allows for `span`; returns the send times.
    fn drain(limiter: &mut Limiter, chats: &[i64], start: Instant, span: Duration) -> Vec<Instant> {
        let mut now = start;
        let mut sent = Vec::new();
        let mut next = 0;
        while now < start + span {
            let chat = chats[next % chats.len()];
            match limiter.try_acquire(chat, now) {
                Ok(()) => {
                    limiter.finished(chat, now);
                    sent.push(now);
                    next += 1;
                }
                Err(at) => {
                    assert!(at > now, "a wait must lie in the future");
                    now = at;
                }
            }
        }
        sent
    }

    fn max_in_any_window(times: &[Instant], window: Duration) -> usize {
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn the_bot_window_is_never_exceeded_and_fully_used() {
        let mut limiter = Limiter::new(limits(rate(30, SECOND), None, None));
        let start = Instant::now();
        let users: Vec<i64> = (1..=1000).collect();
        let sent = drain(&mut limiter, &users, start, 10 * SECOND);
        assert_eq!(sent.len(), 300, "30/s for 10 s");
        assert_eq!(max_in_any_window(&sent, SECOND), 30);
    }

    #[test]
    fn a_group_gets_its_per_minute_budget_and_private_chats_their_burst() {
        let mut limiter = Limiter::new(limits(
            rate(30, SECOND),
            rate(3, 3 * SECOND),
            rate(20, 60 * SECOND),
        ));
        let start = Instant::now();
        let group = drain(&mut limiter, &[-100_123_456], start, 120 * SECOND);
        assert_eq!(group.len(), 40);
        assert_eq!(max_in_any_window(&group, 60 * SECOND), 20);
        let chat = drain(&mut limiter, &[42], start + 200 * SECOND, 30 * SECOND);
        assert_eq!(chat.len(), 30);
        assert_eq!(max_in_any_window(&chat, 3 * SECOND), 3);
    }

    #[test]
    fn a_full_chat_does_not_block_other_chats() {
        let mut limiter = Limiter::new(limits(None, rate(1, SECOND), rate(20, 60 * SECOND)));
        let now = Instant::now();
        assert_eq!(limiter.try_acquire(7, now), Ok(()));
        limiter.finished(7, now);
        assert_eq!(limiter.try_acquire(7, now), Err(now + SECOND));
        assert_eq!(limiter.try_acquire(8, now), Ok(()));
        assert_eq!(limiter.try_acquire(-1_001, now), Ok(()));
        assert_eq!(limiter.bot_ready_at(now), None);
    }

    #[test]
    fn a_429_pauses_exactly_its_chat_for_retry_after_then_it_recovers_gradually() {
        let mut limiter = Limiter::new(limits(rate(30, SECOND), rate(10, SECOND), None));
        let now = Instant::now();
        limiter.throttled(5, 7 * SECOND, now);
        assert_eq!(
            limiter.try_acquire(5, now + 6 * SECOND),
            Err(now + 7 * SECOND)
        );
        assert_eq!(limiter.try_acquire(6, now), Ok(()), "other chats go on");
        // After the pause the chat admits half as many sends per window...
        let after = now + 7 * SECOND;
        let sent = drain(&mut limiter, &[5], after, SECOND);
        assert!(sent.len() < 10, "slowed down: {}", sent.len());
        // ...and is back to its full rate once enough sends went through.
        let later = drain(&mut limiter, &[5], after + 10 * SECOND, SECOND);
        assert_eq!(later.len(), 10);
    }

    #[test]
    fn many_429s_spread_over_several_chats_pause_the_whole_bot() {
        let mut limiter = Limiter::new(limits(rate(30, SECOND), rate(3, 3 * SECOND), None));
        let now = Instant::now();
        limiter.throttled(1, 2 * SECOND, now);
        limiter.throttled(2, 2 * SECOND, now);
        assert_eq!(limiter.bot_ready_at(now), None, "two chats: still theirs");
        limiter.throttled(3, 2 * SECOND, now);
        assert_eq!(limiter.bot_ready_at(now), Some(now + 2 * SECOND));
        assert_eq!(limiter.try_acquire(4, now), Err(now + 2 * SECOND));
    }

    #[test]
    fn a_send_counts_from_its_answer_and_holds_its_place_while_in_flight() {
        let mut limiter = Limiter::new(limits(rate(2, SECOND), None, None));
        let start = Instant::now();
        limiter.try_acquire(1, start).unwrap();
        limiter.try_acquire(2, start).unwrap();
        // Both in flight: no room, whatever the clock says.
        assert!(limiter.try_acquire(3, start + 5 * SECOND).is_err());
        // Answered 300 ms later: they count from then, not from their start.
        let answered = start + Duration::from_millis(300);
        limiter.finished(1, answered);
        limiter.finished(2, answered);
        assert_eq!(
            limiter.try_acquire(3, start + SECOND),
            Err(answered + SECOND)
        );
        assert_eq!(limiter.try_acquire(3, answered + SECOND), Ok(()));
    }

    #[test]
    fn absurd_windows_and_waits_never_overflow() {
        let huge = Duration::from_secs(10_000_000_000_000_000_000);
        let mut limiter = Limiter::new(limits(rate(1, huge), rate(1, huge), rate(1, huge)));
        let now = Instant::now();
        assert_eq!(limiter.try_acquire(5, now), Ok(()));
        limiter.finished(5, now);
        let next = limiter.try_acquire(5, now).expect_err("window full");
        assert!(next > now);
        limiter.throttled(-100, Duration::MAX, now);
        assert!(limiter.try_acquire(-100, now).is_err());
    }

    #[test]
    fn restored_sends_fill_the_window_and_cancelled_ones_free_it() {
        let mut limiter = Limiter::new(limits(None, None, rate(3, 60 * SECOND)));
        let now = Instant::now();
        limiter.restore(-100, now - 50 * SECOND);
        limiter.restore(-100, now - 10 * SECOND);
        assert_eq!(limiter.try_acquire(-100, now), Ok(()));
        limiter.cancel(-100);
        assert_eq!(limiter.try_acquire(-100, now), Ok(()));
        limiter.finished(-100, now);
        assert_eq!(
            limiter.try_acquire(-100, now),
            Err(now + 10 * SECOND),
            "the oldest restored send leaves the window first"
        );
        assert_eq!(
            Limiter::longest_window(&limits(rate(30, SECOND), None, rate(20, 60 * SECOND))),
            Some(60 * SECOND)
        );
    }

    #[test]
    fn without_limits_everything_goes_and_nothing_is_tracked() {
        let mut limiter = Limiter::new(limits(None, None, None));
        let now = Instant::now();
        for chat in 0..10_000 {
            assert_eq!(limiter.try_acquire(chat, now), Ok(()));
        }
        assert_eq!(limiter.tracked_chats(), 0);
    }

    #[test]
    fn idle_chats_are_forgotten() {
        let mut limiter = Limiter::new(limits(None, rate(1, SECOND), None));
        let chats = i64::from(PRUNE_EVERY);
        let now = Instant::now();
        for chat in 1..=chats {
            limiter.try_acquire(chat, now).unwrap();
            limiter.finished(chat, now);
        }
        assert_eq!(
            limiter.tracked_chats(),
            PRUNE_EVERY as usize,
            "all still in their window"
        );
        // Later, other chats send; the first ones have gone idle and are dropped.
        let later = now + 2 * SECOND;
        for chat in chats + 1..=2 * chats {
            limiter.try_acquire(chat, later).unwrap();
            limiter.finished(chat, later);
        }
        assert_eq!(limiter.tracked_chats(), PRUNE_EVERY as usize);
    }
}
