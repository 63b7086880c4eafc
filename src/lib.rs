//! switchboard: a self-hosted operator desk for Telegram bots.
//!
//! One process serves many bots. For each, users' private messages become
//! topics in a forum supergroup (the backend group) where operators answer.
//! Data flows through the crate in this order:
//!
//! 1. [`poller`]: one task per bot long-polls `getUpdates` through the
//!    [`telegram`] client and stores each batch, with the new offset, in the
//!    inbox ([`store`]) in one transaction; an update id stored before is not
//!    stored again. A rejected token pauses the bot ([`telegram::gate`]).
//! 2. [`dispatch`]: one shared task reads the inbox, decodes each update
//!    leniently ([`telegram::update`]) and applies the product rules
//!    ([`dispatch::rules`], [`dispatch::commands`]; a user's side, an
//!    operator's side, the sender's reports; every text in
//!    [`dispatch::texts`]): dialog state changes and outbox jobs, in one
//!    transaction per batch and a savepoint per row; a row that fails is set
//!    aside as a dead letter. Albums are gathered (`dispatch::albums`,
//!    [`store::albums`]) and queued as one job when complete; a backend
//!    group's update for a topic whose creation is not recorded yet waits in
//!    [`store::held`]. No network I/O.
//! 3. [`outbox`]: a [`outbox::Job`] is a purpose and an action, queued in a
//!    lane ([`outbox::queue`]). Per bot, the [`outbox::sender`] loads jobs a
//!    window per priority, runs one job per lane at a time (priorities across
//!    lanes, Telegram's rate limits kept by the [`outbox::limiter`], retries),
//!    and records each outcome with its message links
//!    ([`store::links`]); results are kept in memory while the disk refuses,
//!    and jobs that failed for good go back to the dispatcher.
//! 4. [`store`]: SQLite, read through a pool and written by one writer thread
//!    that commits in batches; migrations; queries grouped by table.
//! 5. [`proxy`] (proxy and forward mode): switchboard as the Bot API server
//!    of an existing bot. Its calls pass on to Telegram, streamed; what it
//!    sends users is recorded in the inbox for the dispatcher, which mirrors
//!    it into the topics (`dispatch::mirror`); the dispatcher also offers it
//!    each update it should see (`dispatch::offer`, [`store::offered`]),
//!    which the proxy serves as `getUpdates` or delivers to its webhook
//!    ([`proxy::webhook`]).
//! 6. [`app`] starts and stops all of it: each bot's tasks under a supervisor
//!    of their own (restarted when they fail; started, stopped or restarted
//!    one by one when `SIGHUP` reloads bots.toml, see `app::reload`); its
//!    scheduler runs autoclose and prunes old records;
//!    [`http`] serves `/healthz` and the proxy ([`http::server`]: timeouts,
//!    a connection cap, a bounded graceful stop).
//!
//! [`config`] loads `bots.toml` (one table declares every per-bot key); [`fake`] is a stateful fake Bot API used by
//! the tests and by `switchboard demo` ([`demo`]), and served on its own by
//! `switchboard fake` ([`fake::standalone`]); [`testkit`] is the desk the
//! integration tests and the benchmarks run the app on (the fake, bots, a
//! temporary database, waiting until the app is idle); [`cli`] is the
//! command line.

pub mod app;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod fake;
pub mod http;
pub mod outbox;
pub mod poller;
pub mod proxy;
pub mod store;
pub mod telegram;
pub mod testkit;
pub mod throttle;
