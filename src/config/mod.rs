//! Configuration: `bots.toml` -> a validated [`Config`].
//!
//! This module owns everything between the bytes of the configuration file and
//! the checked values the rest of switchboard runs on. It works in three steps,
//! after ripgrep's "low-level args -> high-level args":
//!
//! 1. **Parse.** The text is parsed into a spanned TOML document. A syntax error
//!    stops here, as one [`Problem`] with its line.
//! 2. **Raw.** Unknown keys are reported (all of them, with a "did you mean"
//!    when a known key is close) and dropped, then the document is deserialized
//!    into private `Raw*` structs that mirror the file as it was typed: every
//!    value optional and wrapped in [`toml::Spanned`] so later steps know its
//!    line. The structs also `deny_unknown_fields`, as a backstop.
//! 3. **Resolve.** One fallible step checks every value, applies `[defaults]`
//!    to each bot, checks each bot's `mode` with the keys of that mode,
//!    expands `${VAR}` in tokens and `forward_secret`, reads `token_file`s
//!    and resolves relative paths. It collects *every* problem instead of stopping at the
//!    first, so `switchboard check` shows all of them at once.
//!
//! The result is either a [`Config`], whose fields are plain checked values
//! (so other modules and tests can also build one by hand), or a
//! [`ConfigError`] listing each problem as `file:line: key: message`.
//!
//! `switchboard check` is strict ([`Config::load`]): any problem fails it.
//! `switchboard run` ([`Config::load_for_run`]) lets one bad bot not stop
//! the others: each problem is recorded with the `[[bots]]` table it is
//! confined to, if any, and a bot whose table has problems is set aside as
//! an [`InvalidBot`] while the valid bots run. A problem outside the bot
//! tables still stops everything.
//!
//! Every duration and rate is bounded (`poll_timeout`, `autoclose`, and a
//! rate's COUNT and window), so an absurd value is a problem here rather
//! than an overflow later; durations go through a guard around humantime,
//! which panics on some sums near `u64::MAX` seconds.
//!
//! Bot tokens are secrets (design invariant 6): [`Token`] prints only its bot
//! id, problems never quote a token, and every message passes through a filter
//! that masks anything shaped like a token, in case one was typed into the
//! wrong key. A forward bot's `forward_secret` ([`HookSecret`]) is a secret
//! too: it prints as `***`, and no problem quotes it.
//!
//! The files, one concern each:
//!
//! - `mod.rs` (here): the checked types and the public API.
//! - `raw.rs`: the file as typed (step 2): the `Raw*` structs of the top
//!   level and `[http]`, and the lenient deserializers of durations, rates
//!   and chat ids.
//! - `settings.rs`: the per-bot settings (`welcome`, `autoclose`, the rate
//!   limits, ...), each key declared once, as a row of one table from which
//!   the raw structs of `[defaults]` and `[[bots]]`, the key lists, the
//!   resolution onto [`BotSettings`] and the lines of `check` are
//!   generated. A new per-bot key is a row there, its check, and its field
//!   in [`BotSettings`].
//! - `resolve.rs`: runs the steps; step 3, raw -> checked, collecting
//!   problems.
//! - `checks.rs`: checks of single values (durations, rates, `api_url`,
//!   `max_upload_mb`, names, group ids, modes, `forward_url`, tokens,
//!   `forward_secret`, `${VAR}` expansion).
//! - `hints.rs`: unknown keys and their "did you mean" hints, and finding
//!   the key and line a problem is about.
//! - `describe.rs`: [`Config::describe`] (the output of `check`) and
//!   [`format_duration`].
//! - `secret.rs`: [`Token`], [`HookSecret`] and the masking of anything
//!   token-shaped.

mod checks;
mod describe;
mod hints;
mod raw;
mod resolve;
mod secret;
mod settings;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use describe::format_duration;
pub(crate) use secret::mask_tokens;
pub use secret::{HookSecret, Token};

use resolve::{Found, Resolved};

/// Database file used when `database` is not set (relative to `bots.toml`).
pub const DEFAULT_DATABASE: &str = "switchboard.db";
/// Bot API server used when `api_url` is not set.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// `getUpdates` long-poll timeout used when `poll_timeout` is not set.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest accepted `poll_timeout`: Telegram's practical maximum.
pub const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(50);
/// Address of the HTTP server when `[http] listen` is not set.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081));
/// `[http] max_upload_mb` when not set: Telegram's limit on files a bot
/// uploads (50 MB).
pub const DEFAULT_MAX_UPLOAD_MB: u64 = 50;
/// Largest accepted `[http] max_upload_mb`: a local Bot API server's upload
/// limit (2000 MB).
pub const MAX_MAX_UPLOAD_MB: u64 = 2000;
/// Bytes in one megabyte of `max_upload_mb` (a mebibyte, so the limit errs
/// on the generous side of Telegram's).
pub const MEGABYTE: u64 = 1024 * 1024;
/// Greeting sent to a user who opens a dialog, unless configured otherwise.
pub const DEFAULT_WELCOME: &str = "Hello! Please describe your question. We will answer soon.";
/// Time after the last operator reply at which a dialog closes by itself.
pub const DEFAULT_AUTOCLOSE: Duration = Duration::from_secs(48 * 60 * 60);
/// Shortest accepted `autoclose`: anything shorter would close dialogs while
/// the user is still typing.
pub const MIN_AUTOCLOSE: Duration = Duration::from_secs(60);
/// Longest accepted `autoclose`: a year, however it is written ("365d";
/// "1y" is 365.25 days and "12M" 365.3). Longer is surely a typo, and the
/// bound keeps the arithmetic on timestamps far from overflow.
pub const MAX_AUTOCLOSE: Duration = Duration::from_secs(366 * 24 * 60 * 60);
/// Shortest accepted window of a rate (`"1/1ms"`): timers have a resolution
/// of one millisecond, so a shorter window could not be kept to.
pub const MIN_RATE_WINDOW: Duration = Duration::from_millis(1);
/// Longest accepted window of a rate: a day, longer than any limit Telegram
/// publishes. The limiter adds the window to the current time, so the bound
/// also keeps that far from overflow.
pub const MAX_RATE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Largest accepted COUNT of a rate. The limiter remembers the time of each
/// send in a window, so COUNT bounds its memory; Telegram's highest limit
/// (paid broadcasts, 1000 messages per second) is far below.
pub const MAX_RATE_COUNT: u32 = 1_000_000;
/// Longest accepted `welcome` text, in characters as Telegram counts them
/// (UTF-16 code units: an emoji is two), Telegram's message limit.
pub const MAX_WELCOME_CHARS: usize = 4096;
/// Bot messages shown in a topic when a dialog opens, unless configured
/// otherwise (`intercept_history`).
pub const DEFAULT_INTERCEPT_HISTORY: u8 = 5;
/// Largest accepted `intercept_history`.
pub const MAX_INTERCEPT_HISTORY: u8 = 100;
/// Longest accepted `forward_secret`, in characters (Telegram's limit on a
/// webhook's `secret_token`).
pub const MAX_HOOK_SECRET_CHARS: usize = 256;
/// Longest accepted bot `name`, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Rate limits used when `bot_limit`, `chat_limit` and `group_limit` are not
/// set: Telegram's published limits (Bot FAQ), read strictly.
pub const DEFAULT_LIMITS: Limits = Limits {
    bot: Some(Rate {
        count: 30,
        per: Duration::from_secs(1),
    }),
    chat: Some(Rate {
        count: 3,
        per: Duration::from_secs(3),
    }),
    group: Some(Rate {
        count: 20,
        per: Duration::from_secs(60),
    }),
};

/// The whole validated configuration, as loaded from `bots.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from, as given on the command line;
    /// named in messages about the configuration.
    pub source: PathBuf,
    /// The SQLite database file, already resolved against the directory of
    /// `source` when it was written as a relative path.
    pub database: PathBuf,
    /// Base URL of the Bot API server, without a trailing slash
    /// (e.g. `https://api.telegram.org`, or a local Bot API server).
    pub api_url: String,
    /// Long-poll timeout passed to `getUpdates` (0 s to 50 s).
    pub poll_timeout: Duration,
    /// The HTTP server (health, metrics, REST API, Bot API proxy).
    pub http: HttpConfig,
    /// The connected bots; never empty, names and tokens unique.
    pub bots: Vec<BotConfig>,
}

/// Settings of the HTTP server (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// The largest request body the Bot API proxy accepts, in bytes:
    /// `max_upload_mb` × [`MEGABYTE`] (1 MB to [`MAX_MAX_UPLOAD_MB`] MB;
    /// [`DEFAULT_MAX_UPLOAD_MB`] MB when not set).
    pub max_upload: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN,
            max_upload: DEFAULT_MAX_UPLOAD_MB * MEGABYTE,
        }
    }
}

/// One connected bot (`[[bots]]`), with `[defaults]` already applied. Two
/// are equal when every part is: a reload restarts a bot whose configuration
/// changed in any way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotConfig {
    /// Unique short name (1 to 32 of `A-Z a-z 0-9 _ -`): names the bot in
    /// logs and metrics and keys its rows in the database.
    pub name: String,
    /// The bot's token, already expanded or read from `token_file`.
    pub token: Token,
    /// Chat ids of the forum supergroups where operators work (each starts
    /// with -100), in the order written; never empty, no duplicates. One
    /// group has one per-group rate budget, so a busy bot spreads new dialogs
    /// over several (least busy first); a dialog stays in its group. Other
    /// bots may use the same groups.
    pub backend_groups: Vec<i64>,
    /// How switchboard is connected to the bot.
    pub mode: Mode,
    /// The bot's parameters: its own values, or else those of `[defaults]`.
    pub settings: BotSettings,
}

/// How switchboard is connected to a bot (`mode`, with the keys of that
/// mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `"standalone"`: switchboard owns the token and is the bot.
    Standalone,
    /// `"proxy"`: a parallel connection. An existing bot calls the Bot API
    /// through switchboard's proxy (its base URL set to `[http] listen`);
    /// switchboard alone takes the token's updates from Telegram.
    Proxy(Proxy),
    /// `"forward"`: a parallel connection. switchboard takes the token's
    /// updates from Telegram and POSTs each one to the existing bot's
    /// webhook.
    Forward(Forward),
}

/// The keys of proxy mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `take_over_webhook`: at start, if Telegram has a webhook set for the
    /// token, switchboard removes it there and delivers the updates to that
    /// URL itself. `false` (the default) leaves a webhook alone, and
    /// switchboard cannot take the token's updates while one is set.
    pub take_over_webhook: bool,
}

/// The keys of forward mode. `Debug` masks a token written into the URL
/// (webhook paths often hold one) and prints the secret as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Forward {
    /// `forward_url`: the existing bot's webhook, where each update is
    /// POSTed; an absolute `http://` or `https://` URL with a host, kept as
    /// written.
    pub url: String,
    /// `forward_secret`: sent with each update as Telegram sends a webhook's
    /// `secret_token` (the `X-Telegram-Bot-Api-Secret-Token` header), for
    /// the bot to tell switchboard's requests from others; `None` when not
    /// set.
    pub secret: Option<HookSecret>,
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("url", &mask_tokens(&self.url))
            .field("secret", &self.secret)
            .finish()
    }
}

impl Mode {
    /// The name used for this mode in `bots.toml`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Proxy(_) => "proxy",
            Mode::Forward(_) => "forward",
        }
    }

    /// Whether this is a parallel connection beside an existing bot (proxy
    /// or forward mode), where the settings about the existing bot
    /// (`intercept_external`, `intercept_history`, `bot_sees_dialogs`) apply.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        matches!(self, Mode::Proxy(_) | Mode::Forward(_))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bot's parameters: the keys of `[defaults]`, each of which a `[[bots]]`
/// table may override. Each key is declared in the table of `settings.rs`,
/// which says how it is checked and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSettings {
    /// Text sent to a user when a dialog opens; `None` when set to "off".
    pub welcome: Option<String>,
    /// When empty, any private message opens a dialog; otherwise only a
    /// message containing one of these (case-insensitive) does.
    pub private_keywords: Vec<String>,
    /// A dialog closes by itself this long after the last operator reply;
    /// `None` when set to "off".
    pub autoclose: Option<Duration>,
    /// `false`: a user whose message could not be delivered gets a short
    /// notice; `true`: the user is told nothing.
    pub silent_mode: bool,
    /// In proxy/forward mode, mirror what the existing bot sends into the
    /// topics. No effect in standalone mode.
    pub intercept_external: bool,
    /// In proxy/forward mode, how many of the existing bot's latest
    /// messages to the user are shown in the topic when a dialog opens (0
    /// to [`MAX_INTERCEPT_HISTORY`]; 0 shows none). No effect in standalone
    /// mode.
    pub intercept_history: u8,
    /// In proxy/forward mode, whether the existing bot still gets the
    /// user's messages while their dialog is open (`false`: they go to the
    /// operators only). No effect in standalone mode.
    pub bot_sees_dialogs: bool,
    /// The dialog's status as an icon at the start of its topic's name
    /// (🟪 the user wrote last, 🟨 an operator answered last, ⬛️ closed;
    /// 🚫 after it while the user has blocked the bot).
    pub status_icons: bool,
    /// A new topic starts with the user card (name, @username, id,
    /// language, Premium, the `/start` payload, first contact).
    pub auto_info: bool,
    /// What operators do not see of the user (`hide_info`).
    pub hide_info: HideInfo,
    /// How fast the bot may send (`bot_limit`, `chat_limit`, `group_limit`).
    pub limits: Limits,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            welcome: Some(DEFAULT_WELCOME.to_owned()),
            private_keywords: Vec::new(),
            autoclose: Some(DEFAULT_AUTOCLOSE),
            silent_mode: false,
            intercept_external: true,
            intercept_history: DEFAULT_INTERCEPT_HISTORY,
            bot_sees_dialogs: true,
            status_icons: true,
            auto_info: true,
            hide_info: HideInfo::default(),
            limits: DEFAULT_LIMITS,
        }
    }
}

/// `hide_info`: what of the user operators do not see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HideInfo {
    /// `"name"`: the topic has a neutral name (stable per user) and the
    /// card shows no name.
    pub name: bool,
    /// `"username"`: no @username and no profile link.
    pub username: bool,
    /// `"command"`: `/info` is refused in the group.
    pub command: bool,
}

/// A rate limit: at most `count` messages in any window of length `per` (a
/// sliding window, so it also bounds bursts). Written `"COUNT/DURATION"` in
/// `bots.toml`, e.g. `"30/s"`, `"3/3s"`, `"20/m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Most messages in any window; at least 1 (from `bots.toml`, at most
    /// [`MAX_RATE_COUNT`]).
    pub count: u32,
    /// Length of the window; longer than zero (from `bots.toml`,
    /// [`MIN_RATE_WINDOW`] to [`MAX_RATE_WINDOW`]).
    pub per: Duration,
}

/// A bot's rate limits; `None` is "off" (no limit of that kind). Telegram's
/// 429 answers are obeyed in any case: these keep the bot from causing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `bot_limit`: all the bot's messages, over all chats together
    /// (Telegram: about 30 per second).
    pub bot: Option<Rate>,
    /// `chat_limit`: messages into one private chat (Telegram: about one per
    /// second, with short bursts).
    pub chat: Option<Rate>,
    /// `group_limit`: messages into one group, all its topics together
    /// (Telegram: 20 per minute). Each backend group has its own budget.
    pub group: Option<Rate>,
}

impl Limits {
    /// No limits at all: for a local Bot API server, or tests.
    pub const OFF: Limits = Limits {
        bot: None,
        chat: None,
        group: None,
    };
}

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// Why a configuration could not be loaded: every problem found, in the
/// order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub source: PathBuf,
    /// Never empty; sorted by line, problems without a line last.
    pub problems: Vec<Problem>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file, when the problem is tied to one.
    pub line: Option<usize>,
    /// Path of the key concerned, e.g. `bots[1].autoclose`, `http.listen`;
    /// empty for problems with the file as a whole (unreadable, bad syntax).
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// One problem per line: `{file}:{line}: {key}: {message}`, leaving out
    /// the line and the key when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.source.display())?;
            if let Some(line) = problem.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
            if !problem.key.is_empty() {
                write!(f, "{}: ", problem.key)?;
            }
            f.write_str(&problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// What `switchboard run` starts with: the valid bots, and the bots whose
/// `[[bots]]` table has problems (see [`Config::load_for_run`]).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration with the valid bots only; `bots` is never empty.
    pub config: Config,
    /// The bots set aside, in the order of the file; to be reported in the
    /// log and in `/healthz`.
    pub invalid: Vec<InvalidBot>,
}

impl From<Config> for Loaded {
    /// A configuration without invalid bots (built by hand, or strictly loaded).
    fn from(config: Config) -> Loaded {
        Loaded {
            config,
            invalid: Vec::new(),
        }
    }
}

/// A `[[bots]]` table that cannot be used; the other bots can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBot {
    /// The bot's name when it has a valid, unique one; otherwise
    /// `bots[INDEX]` (a name never contains `[`, so labels do not clash).
    pub label: String,
    /// Its problems, formatted like any [`ConfigError`] (`file:line: key:
    /// message`), tokens masked; never empty.
    pub problems: ConfigError,
}

impl Config {
    /// Reads and validates the configuration file at `path`, taking `${VAR}`
    /// values from the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] with one problem if the file cannot be read, else
    /// as for [`Config::parse`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_config_file(path)?;
        Config::parse(&text, path, &process_env)
    }

    /// Validates configuration `text` that was read from `source`. Relative
    /// paths (`database`, `token_file`) are resolved against the directory of
    /// `source`, and `${VAR}` in tokens is looked up with `env`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] listing every problem found: one for a TOML syntax
    /// or type error, else each invalid, missing or unknown value.
    pub fn parse(
        text: &str,
        source: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (resolved, found) = resolve::resolve(text, source, env);
        match resolved {
            Some(Resolved { mut config, tables }) if found.is_empty() => {
                // No problem, so every table resolved.
                config.bots = tables.into_iter().filter_map(|table| table.bot).collect();
                Ok(config)
            }
            _ => Err(config_error(source, found)),
        }
    }

    /// Like [`Config::load`], but a problem confined to one `[[bots]]` table
    /// only sets that bot aside: one bad bot does not stop the others.
    ///
    /// # Errors
    ///
    /// As for [`Config::parse_for_run`].
    pub fn load_for_run(path: &Path) -> Result<Loaded, ConfigError> {
        let text = read_config_file(path)?;
        Config::parse_for_run(&text, path, &process_env)
    }

    /// Like [`Config::parse`], but a problem confined to one `[[bots]]` table
    /// (a missing `${VAR}`, an unreadable `token_file`, a bad value or an
    /// unknown key in that table, a name or token already used by an earlier
    /// table) only sets that bot aside, as an [`InvalidBot`].
    ///
    /// # Errors
    ///
    /// The same [`ConfigError`] as [`Config::parse`], listing every problem,
    /// when a problem is outside the bot tables (TOML syntax, a value of the
    /// wrong type anywhere, the top level, `[http]`, `[defaults]`), since
    /// then no bot can be trusted to run as meant, or when no bot is valid.
    pub fn parse_for_run(
        text: &str,
        source: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigError> {
        let (resolved, found) = resolve::resolve(text, source, env);
        let Some(Resolved { mut config, tables }) = resolved else {
            return Err(config_error(source, found));
        };
        let global = found
            .iter()
            .any(|f| f.table.is_none_or(|index| index >= tables.len()));
        if global {
            return Err(config_error(source, found));
        }
        let mut invalid = Vec::new();
        for (index, table) in tables.into_iter().enumerate() {
            let mut problems: Vec<Found> = found
                .iter()
                .filter(|f| f.table == Some(index))
                .cloned()
                .collect();
            match table.bot {
                Some(bot) if problems.is_empty() => config.bots.push(bot),
                _ => {
                    if problems.is_empty() {
                        // Not reached: a table resolves to no bot only after
                        // reporting why. Keeps `problems` never empty anyway.
                        problems.push(Found {
                            table: Some(index),
                            problem: Problem {
                                line: None,
                                key: format!("bots[{index}]"),
                                message: "this bot could not be resolved".to_owned(),
                            },
                        });
                    }
                    invalid.push(InvalidBot {
                        label: table.label,
                        problems: config_error(source, problems),
                    });
                }
            }
        }
        if config.bots.is_empty() {
            return Err(config_error(source, found));
        }
        Ok(Loaded { config, invalid })
    }
}

/// `${VAR}` for [`Config::load`] and [`Config::load_for_run`]: this
/// process's environment.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The text of the configuration file, or the one problem of not reading it.
fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|err| ConfigError {
        source: path.to_path_buf(),
        problems: vec![Problem {
            line: None,
            key: String::new(),
            message: format!("cannot read file: {}", io_message(&err)),
        }],
    })
}

/// The error listing `found`, in the order of the file.
fn config_error(source: &Path, found: Vec<Found>) -> ConfigError {
    let mut problems: Vec<Problem> = found.into_iter().map(|f| f.problem).collect();
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    ConfigError {
        source: source.to_path_buf(),
        problems,
    }
}

/// An I/O error without the " (os error N)" tail, e.g. "No such file or directory".
fn io_message(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::InvalidData {
        return "not valid UTF-8 text".to_owned();
    }
    let text = err.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
