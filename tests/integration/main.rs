//! Integration tests: the real app (or the real binary) against the fake Bot
//! API, asserting what users and operators see. One test binary, one module
//! per area.

/// The harness: a fake Telegram, a configured app on it, and waiting helpers.
mod util;

/// Albums: gathered and relayed as one, each way, across batches and a kill.
mod albums;
/// What messages carry: unknown values, content Telegram cannot copy, long names and texts.
mod content;
/// Guaranteed delivery: faults, rate limits, priorities.
mod delivery;
/// Crash safety: the binary killed with SIGKILL and restarted.
mod durability;
/// Exposed surfaces: echoed tokens, idle and half-open connections, a dead stderr.
mod exposure;
/// Failures Telegram reports: blocked users, deleted topics.
mod failures;
/// `switchboard fake`: the fake Bot API in a process of its own, driven
/// over its control API, with the real binary relaying through it.
mod fake_process;
/// Every kind of content, each way.
mod kinds;
/// The parallel connection: an existing bot (a frankenstein client) through
/// the Bot API proxy.
mod proxy;
/// User <-> topic relaying, isolation between bots.
mod relay;
/// Live reload on SIGHUP: bots added, removed, changed; bad files refused.
mod reload;
/// Bad input from outside: unknown updates, bad tokens, bad configuration.
mod robustness;
/// Welcome, keywords, /new, /close, autoclose, notes, silent mode.
mod rules;
/// The database under faults: a full disk, file permissions, a foreign file.
mod storage;
