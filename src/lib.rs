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
//!    ([`dispatch::rules`], [`dispatch::commands`]): dialog state changes and
//!    outbox jobs, in one transaction per batch and a savepoint per row; a
//!    row that fails is set aside as a dead letter. No network I/O.
//! 3. [`outbox`]: per bot, the [`outbox::sender`] executes the jobs (one FIFO
//!    lane per dialog and direction, priorities across lanes, Telegram's rate
//!    limits kept by the [`outbox::limiter`], retries), records results (kept
//!    in memory while the disk refuses), and reports jobs that failed for
//!    good back to the dispatcher.
//! 4. [`app`] starts and stops all of it under a supervisor that restarts a
//!    failed task; its scheduler runs autoclose and prunes old records;
//!    [`http`] serves `/healthz` ([`http::server`]: timeouts, a connection
//!    cap, a bounded graceful stop).
//!
//! [`config`] loads `bots.toml`; [`fake`] is a stateful fake Bot API used by
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
pub mod store;
pub mod telegram;
pub mod testkit;
pub mod throttle;
