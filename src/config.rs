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
//!    to each bot, expands `${VAR}` in tokens, reads `token_file`s and resolves
//!    relative paths. It collects *every* problem instead of stopping at the
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
//! wrong key.

use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN,
        }
    }
}

/// One connected bot (`[[bots]]`), with `[defaults]` already applied.
#[derive(Debug, Clone)]
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

/// How switchboard is connected to a bot.
///
/// `proxy` and `forward` (a parallel connection beside an existing bot) are
/// planned; this version rejects them with a clear message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// switchboard owns the token and is the bot.
    Standalone,
}

impl Mode {
    /// The name used for this mode in `bots.toml`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bot's parameters: the keys of `[defaults]`, each of which a `[[bots]]`
/// table may override.
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
            limits: DEFAULT_LIMITS,
        }
    }
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

impl Rate {
    /// The rate as it would be written in `bots.toml`: "30/s", "3/3s", "20/m"
    /// (a window of exactly one second, minute or hour is written as the
    /// unit alone).
    #[must_use]
    pub fn describe(&self) -> String {
        let per = match self.per.as_nanos() {
            1_000_000_000 => "s".to_owned(),
            60_000_000_000 => "m".to_owned(),
            3_600_000_000_000 => "h".to_owned(),
            _ => format_duration(self.per),
        };
        format!("{}/{per}", self.count)
    }
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

/// A bot token. A secret: `Debug` and `Display` print only the bot id
/// (`123456:***`); [`Token::expose`] gives the real value to the one place
/// that needs it (building Bot API URLs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a token value. Does not check its shape: [`Config::parse`] does
    /// that for tokens from `bots.toml`.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    /// The real token, for calls to the Bot API. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The bot's numeric id (the part before `:`), which is not secret; empty
    /// when the token is not shaped like `<digits>:<secret>`.
    #[must_use]
    pub fn bot_id(&self) -> &str {
        match self.0.split_once(':') {
            Some((id, _)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => id,
            _ => "",
        }
    }
}

impl From<String> for Token {
    fn from(value: String) -> Self {
        Token(value)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bot_id() {
            "" => f.write_str("***"),
            id => write!(f, "{id}:***"),
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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
        Config::parse(&text, path, &|name| std::env::var(name).ok())
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
        let (resolved, found) = Resolver::check(text, source, env);
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
        Config::parse_for_run(&text, path, &|name| std::env::var(name).ok())
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
        let (resolved, found) = Resolver::check(text, source, env);
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

    /// The resolved settings in human-readable form, for `switchboard check`.
    /// Tokens appear masked.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |label: &str, value: &dyn fmt::Display| {
            out.push_str(&format!("{label:<20}{value}\n"));
        };
        line("file:", &self.source.display());
        line("database:", &self.database.display());
        line("api_url:", &self.api_url);
        line("poll_timeout:", &format_duration(self.poll_timeout));
        line("http.listen:", &self.http.listen);
        line("bots:", &self.bots.len());
        for bot in &self.bots {
            let s = &bot.settings;
            out.push_str(&format!("\nbot \"{}\"\n", bot.name));
            let mut line = |label: &str, value: &dyn fmt::Display| {
                out.push_str(&format!("  {label:<20}{value}\n"));
            };
            line("token:", &bot.token);
            match bot.backend_groups.as_slice() {
                [one] => line("backend_group:", one),
                several => {
                    let list: Vec<String> = several.iter().map(i64::to_string).collect();
                    line(
                        "backend_groups:",
                        &format_args!("{} (new dialogs go to the least busy)", list.join(", ")),
                    );
                }
            }
            line("mode:", &bot.mode);
            match &s.welcome {
                Some(text) => line("welcome:", &format_args!("{text:?}")),
                None => line("welcome:", &"off"),
            }
            if s.private_keywords.is_empty() {
                line("private_keywords:", &"(none: any message opens a dialog)");
            } else {
                let list: Vec<String> = s
                    .private_keywords
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect();
                line("private_keywords:", &list.join(", "));
            }
            match s.autoclose {
                Some(after) => line(
                    "autoclose:",
                    &format_args!("{} after the last operator reply", format_duration(after)),
                ),
                None => line("autoclose:", &"off"),
            }
            line(
                "silent_mode:",
                &if s.silent_mode {
                    "true (undelivered messages are not reported to the user)"
                } else {
                    "false (a user is told when a message could not be delivered)"
                },
            );
            let intercept_note = match bot.mode {
                Mode::Standalone => " (no effect in standalone mode)",
            };
            line(
                "intercept_external:",
                &format_args!("{}{intercept_note}", s.intercept_external),
            );
            let limits = [
                ("bot_limit:", s.limits.bot, "all chats together"),
                ("chat_limit:", s.limits.chat, "into each private chat"),
                (
                    "group_limit:",
                    s.limits.group,
                    "into each group, all topics together",
                ),
            ];
            for (label, rate, scope) in limits {
                match rate {
                    Some(rate) => line(label, &format_args!("{} ({scope})", rate.describe())),
                    None => line(label, &"off"),
                }
            }
        }
        // Free text (welcome, keywords, api_url) is the user's; mask anything
        // token-shaped in it too, so `check` output is always safe to share.
        mask_tokens(&out)
    }
}

/// A duration as it would be written in `bots.toml`, in hours, minutes and
/// seconds: "48h", "1h 30m", "45s" (humantime would say "2days"). Exact: a
/// fraction of a second is written in ms, us and ns, so the text reads back
/// as the same duration.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    let millis = duration.subsec_millis();
    let micros = duration.subsec_micros() % 1000;
    let nanos = duration.subsec_nanos() % 1000;
    let mut parts = Vec::new();
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if seconds > 0 {
        parts.push(format!("{seconds}s"));
    }
    if millis > 0 {
        parts.push(format!("{millis}ms"));
    }
    if micros > 0 {
        parts.push(format!("{micros}us"));
    }
    if nanos > 0 {
        parts.push(format!("{nanos}ns"));
    }
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

// ---------------------------------------------------------------------------
// Raw layer: the file as typed.
// ---------------------------------------------------------------------------

/// Keys of the top-level table.
const TOP_KEYS: &[&str] = &[
    "database",
    "api_url",
    "poll_timeout",
    "http",
    "defaults",
    "bots",
];
/// Keys of `[http]`.
const HTTP_KEYS: &[&str] = &["listen"];
/// Keys of `[defaults]`, which a `[[bots]]` table may override.
const SETTINGS_KEYS: &[&str] = &[
    "welcome",
    "private_keywords",
    "autoclose",
    "silent_mode",
    "intercept_external",
    "bot_limit",
    "chat_limit",
    "group_limit",
];
/// Keys only a `[[bots]]` table has.
const BOT_ONLY_KEYS: &[&str] = &[
    "name",
    "token",
    "token_file",
    "backend_group",
    "backend_groups",
    "mode",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    poll_timeout: Option<Spanned<RawDuration>>,
    http: Option<RawHttp>,
    defaults: Option<RawSettings>,
    bots: Option<Vec<Spanned<RawBot>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    welcome: Option<Spanned<String>>,
    private_keywords: Option<Vec<Spanned<String>>>,
    autoclose: Option<Spanned<RawDuration>>,
    silent_mode: Option<bool>,
    intercept_external: Option<bool>,
    bot_limit: Option<Spanned<RawRate>>,
    chat_limit: Option<Spanned<RawRate>>,
    group_limit: Option<Spanned<RawRate>>,
}

/// A `[[bots]]` table. The settings keys are repeated from [`RawSettings`]
/// because serde's `flatten` works neither with `deny_unknown_fields` nor
/// with `Spanned`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBot {
    name: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    backend_group: Option<Spanned<RawChatId>>,
    backend_groups: Option<Spanned<RawChatIds>>,
    mode: Option<Spanned<String>>,
    welcome: Option<Spanned<String>>,
    private_keywords: Option<Vec<Spanned<String>>>,
    autoclose: Option<Spanned<RawDuration>>,
    silent_mode: Option<bool>,
    intercept_external: Option<bool>,
    bot_limit: Option<Spanned<RawRate>>,
    chat_limit: Option<Spanned<RawRate>>,
    group_limit: Option<Spanned<RawRate>>,
}

impl RawBot {
    fn take_settings(&mut self) -> RawSettings {
        RawSettings {
            welcome: self.welcome.take(),
            private_keywords: self.private_keywords.take(),
            autoclose: self.autoclose.take(),
            silent_mode: self.silent_mode.take(),
            intercept_external: self.intercept_external.take(),
            bot_limit: self.bot_limit.take(),
            chat_limit: self.chat_limit.take(),
            group_limit: self.group_limit.take(),
        }
    }
}

/// A duration as typed. A bare number is kept (not a type error) so the
/// resolver can report it with the other problems and suggest a unit.
enum RawDuration {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration like "30s", "15m" or "48h""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(v.to_string()))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// A rate as typed. A bare number is kept (not a type error) so the resolver
/// can report it with the other problems and suggest a duration.
enum RawRate {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawRate {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl Visitor<'_> for RateVisitor {
            type Value = RawRate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a rate like "30/s", "20/m", "3/3s", or "off""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRate, E> {
                Ok(RawRate::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawRate, E> {
                Ok(RawRate::Number(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawRate, E> {
                Ok(RawRate::Number(v.to_string()))
            }
        }
        deserializer.deserialize_any(RateVisitor)
    }
}

/// A chat id as typed. A quoted id, or a list where one id belongs, is kept
/// (not a type error) so the resolver can report it with the other problems.
enum RawChatId {
    Number(i64),
    Text(String),
    List,
}

impl<'de> Deserialize<'de> for RawChatId {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChatIdVisitor;
        impl<'de> Visitor<'de> for ChatIdVisitor {
            type Value = RawChatId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chat id like -1001234567890")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawChatId, E> {
                Ok(RawChatId::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawChatId, E> {
                i64::try_from(v).map(RawChatId::Number).map_err(|_| {
                    E::custom("chat id out of range: expected a chat id like -1001234567890")
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawChatId, E> {
                Ok(RawChatId::Text(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawChatId, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(RawChatId::List)
            }
        }
        deserializer.deserialize_any(ChatIdVisitor)
    }
}

/// `backend_groups` as typed: a list of chat ids, or a single value written
/// without brackets (kept so the resolver can report it with the others).
enum RawChatIds {
    List(Vec<Spanned<RawChatId>>),
    Single,
}

impl<'de> Deserialize<'de> for RawChatIds {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChatIdsVisitor;
        impl<'de> Visitor<'de> for ChatIdsVisitor {
            type Value = RawChatIds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of chat ids like [-1001234567890, -1009876543210]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawChatIds, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<Spanned<RawChatId>>()? {
                    ids.push(id);
                }
                Ok(RawChatIds::List(ids))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawChatIds, E> {
                Ok(RawChatIds::Single)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawChatIds, E> {
                Ok(RawChatIds::Single)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawChatIds, E> {
                Ok(RawChatIds::Single)
            }
        }
        deserializer.deserialize_any(ChatIdsVisitor)
    }
}

// ---------------------------------------------------------------------------
// Resolve: raw -> checked, collecting every problem.
// ---------------------------------------------------------------------------

struct Resolver<'a> {
    text: &'a str,
    source: &'a Path,
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Found>,
    /// The `[[bots]]` table being checked, if any: the problems found
    /// meanwhile are confined to it.
    table: Option<usize>,
}

/// A problem, and where it is confined to.
#[derive(Clone)]
struct Found {
    /// The index of the `[[bots]]` table the problem is confined to; `None`
    /// when it concerns the file as a whole (syntax, types, top level,
    /// `[http]`, `[defaults]`), which no bot can run without.
    table: Option<usize>,
    problem: Problem,
}

/// What the resolver made of a file it could deserialize.
struct Resolved {
    /// Everything but the bots: `bots` is left empty, for the caller to fill
    /// with all of them ([`Config::parse`]) or the valid ones
    /// ([`Config::parse_for_run`]).
    config: Config,
    /// Each `[[bots]]` table, in the order of the file.
    tables: Vec<ResolvedTable>,
}

/// What one `[[bots]]` table resolved to.
struct ResolvedTable {
    /// See [`InvalidBot::label`].
    label: String,
    /// `None` when a required value is missing or invalid. A bot can be
    /// `Some` and still have problems (an invalid setting, a duplicate name):
    /// the problems decide whether it runs.
    bot: Option<BotConfig>,
}

/// A bot's name or token that passed its own checks, kept to find duplicates.
struct Seen<T> {
    index: usize,
    value: T,
    line: Option<usize>,
}

impl<'a> Resolver<'a> {
    /// Resolves `text`: what it could (`None` when the file could not even be
    /// deserialized), and every problem found, in no particular order.
    fn check(
        text: &'a str,
        source: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> (Option<Resolved>, Vec<Found>) {
        let mut resolver = Resolver {
            text,
            source,
            base_dir: source.parent().unwrap_or_else(|| Path::new("")),
            env,
            problems: Vec::new(),
            table: None,
        };
        let resolved = resolver.run();
        (resolved, resolver.problems)
    }

    /// Runs `check` with the problems it reports confined to `[[bots]]`
    /// table `index`.
    fn in_table<T>(&mut self, index: usize, check: impl FnOnce(&mut Self) -> T) -> T {
        let outer = self.table.replace(index);
        let result = check(self);
        self.table = outer;
        result
    }

    /// Records a problem. Every message and key passes through
    /// [`mask_tokens`], so a token typed into the wrong key is never echoed.
    fn report(&mut self, span: Option<Range<usize>>, key: &str, message: impl AsRef<str>) {
        let line = span.map(|span| self.line_of(span.start));
        self.report_at_line(line, key, message);
    }

    /// 1-based line of a byte offset into the text.
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// All three steps; `None` when the file could not even be deserialized.
    fn run(&mut self) -> Option<Resolved> {
        let mut document = match DeTable::parse(self.text) {
            Ok(document) => document,
            Err(err) => {
                // Only the message, never the error's Display: that quotes the
                // offending source line, which may hold a token.
                self.report(err.span(), "", format!("invalid TOML: {}", err.message()));
                return None;
            }
        };
        self.drop_unknown_keys(document.get_mut());
        let lookup = document.get_ref().clone();
        match RawConfig::deserialize(toml::de::Deserializer::from(document)) {
            Ok(raw) => Some(self.resolve(raw)),
            Err(err) => {
                let key = err
                    .span()
                    .map(|span| key_at(&lookup, span.start))
                    .unwrap_or_default();
                self.report(err.span(), &key, err.message());
                None
            }
        }
    }

    /// Reports every key the format does not know, and removes it so the
    /// rest of the file can still be checked.
    fn drop_unknown_keys(&mut self, root: &mut DeTable<'_>) {
        self.drop_unknown_in(root, "", "at the top level", TOP_KEYS);
        if let Some(http) = root.get_mut("http") {
            if let DeValue::Table(table) = http.get_mut() {
                self.drop_unknown_in(table, "http", "in [http]", HTTP_KEYS);
            }
        }
        if let Some(defaults) = root.get_mut("defaults") {
            if let DeValue::Table(table) = defaults.get_mut() {
                self.drop_unknown_in(table, "defaults", "in [defaults]", SETTINGS_KEYS);
            }
        }
        let bots_is_single_table = matches!(
            root.get("bots").map(Spanned::get_ref),
            Some(DeValue::Table(_))
        );
        if bots_is_single_table {
            let span = root.get("bots").map(Spanned::span);
            self.report(
                span,
                "bots",
                "[bots] must be an array of tables: write [[bots]] (double brackets) before each bot",
            );
            root.remove("bots");
        }
        if let Some(bots) = root.get_mut("bots") {
            if let DeValue::Array(array) = bots.get_mut() {
                let bot_keys: Vec<&str> =
                    BOT_ONLY_KEYS.iter().chain(SETTINGS_KEYS).copied().collect();
                for (index, bot) in array.iter_mut().enumerate() {
                    if let DeValue::Table(table) = bot.get_mut() {
                        let path = format!("bots[{index}]");
                        self.in_table(index, |this| {
                            this.drop_unknown_in(table, &path, "in [[bots]]", &bot_keys);
                        });
                    }
                }
            }
        }
    }

    fn drop_unknown_in(
        &mut self,
        table: &mut DeTable<'_>,
        path: &str,
        place: &str,
        known: &[&str],
    ) {
        let unknown: Vec<(String, Range<usize>)> = table
            .iter()
            .filter(|(key, _)| !known.contains(&key.get_ref().as_ref()))
            .map(|(key, _)| (key.get_ref().to_string(), key.span()))
            .collect();
        for (key, span) in unknown {
            table.remove(key.as_str());
            let full = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let message = format!(
                "unknown key {key:?} {place}; {}",
                unknown_key_hint(&key, path, known)
            );
            self.report(Some(span), &full, message);
        }
    }

    fn resolve(&mut self, raw: RawConfig) -> Resolved {
        let database = match raw.database {
            None => self.base_dir.join(DEFAULT_DATABASE),
            Some(value) => {
                if value.get_ref().trim().is_empty() {
                    self.report(
                        Some(value.span()),
                        "database",
                        r#"empty path: expected a file name like "switchboard.db""#,
                    );
                }
                self.base_dir.join(value.get_ref())
            }
        };

        let api_url = match raw.api_url {
            None => DEFAULT_API_URL.to_owned(),
            Some(value) => match check_api_url(value.get_ref()) {
                Ok(url) => url,
                Err(message) => {
                    self.report(Some(value.span()), "api_url", message);
                    DEFAULT_API_URL.to_owned()
                }
            },
        };

        let poll_timeout = match raw.poll_timeout {
            None => DEFAULT_POLL_TIMEOUT,
            Some(value) => {
                let span = value.span();
                match parse_duration(value.get_ref(), false) {
                    Ok(Some(timeout)) if timeout <= MAX_POLL_TIMEOUT => timeout,
                    Ok(Some(timeout)) => {
                        self.report(
                            Some(span),
                            "poll_timeout",
                            format!(
                                "{} is too long: expected 0s to 50s (Telegram's practical maximum)",
                                format_duration(timeout)
                            ),
                        );
                        DEFAULT_POLL_TIMEOUT
                    }
                    // "off" is not accepted here, so `Ok(None)` cannot happen.
                    Ok(None) => DEFAULT_POLL_TIMEOUT,
                    Err(message) => {
                        self.report(Some(span), "poll_timeout", message);
                        DEFAULT_POLL_TIMEOUT
                    }
                }
            }
        };

        let listen = match raw.http.and_then(|http| http.listen) {
            None => DEFAULT_LISTEN,
            Some(value) => match value.get_ref().parse::<SocketAddr>() {
                Ok(addr) => addr,
                Err(_) => {
                    self.report(
                        Some(value.span()),
                        "http.listen",
                        format!(
                            "invalid address {:?}: expected an IP address and port like \"127.0.0.1:8081\", \"0.0.0.0:8081\" or \"[::1]:8081\" (host names are not resolved)",
                            value.get_ref()
                        ),
                    );
                    DEFAULT_LISTEN
                }
            },
        };

        let defaults = match raw.defaults {
            Some(settings) => self.settings(&BotSettings::default(), settings, "defaults"),
            None => BotSettings::default(),
        };

        let raw_bots = raw.bots.unwrap_or_default();
        // A `[bots]` written instead of `[[bots]]` was already reported.
        if raw_bots.is_empty() && !self.problems.iter().any(|f| f.problem.key == "bots") {
            self.report(
                None,
                "bots",
                "no bots configured: add at least one [[bots]] table with name, token and backend_group",
            );
        }
        let mut tables = Vec::with_capacity(raw_bots.len());
        let mut names: Vec<Seen<String>> = Vec::new();
        let mut tokens: Vec<Seen<Token>> = Vec::new();
        for (index, raw_bot) in raw_bots.into_iter().enumerate() {
            let span = raw_bot.span();
            let table = self.in_table(index, |this| {
                this.bot(
                    index,
                    span,
                    raw_bot.into_inner(),
                    &defaults,
                    &mut names,
                    &mut tokens,
                )
            });
            tables.push(table);
        }

        Resolved {
            config: Config {
                source: self.source.to_path_buf(),
                database,
                api_url,
                poll_timeout,
                http: HttpConfig { listen },
                bots: Vec::new(),
            },
            tables,
        }
    }

    /// Checks one `[[bots]]` table. A name or token already used by an
    /// earlier table is a problem of this one: the first table keeps it.
    fn bot(
        &mut self,
        index: usize,
        span: Range<usize>,
        mut raw: RawBot,
        defaults: &BotSettings,
        names: &mut Vec<Seen<String>>,
        tokens: &mut Vec<Seen<Token>>,
    ) -> ResolvedTable {
        let path = format!("bots[{index}]");
        // The name, once it proves valid and unique.
        let mut label = None;
        let raw_settings = raw.take_settings();
        let settings = self.settings(defaults, raw_settings, &path);

        let name = match raw.name {
            None => {
                self.report(
                    Some(span.clone()),
                    &format!("{path}.name"),
                    r#"missing name: every [[bots]] table needs a unique name = "..." (1 to 32 of A-Z, a-z, 0-9, _ and -)"#,
                );
                None
            }
            Some(value) => match check_name(value.get_ref()) {
                Err(message) => {
                    self.report(Some(value.span()), &format!("{path}.name"), message);
                    None
                }
                Ok(()) => {
                    let line = Some(self.line_of(value.span().start));
                    let name = value.into_inner();
                    if let Some(first) = names.iter().find(|seen| seen.value == name) {
                        let message = format!(
                            "duplicate bot name {name:?}: already used by bots[{}]{}; names must be unique",
                            first.index,
                            line_suffix(first.line)
                        );
                        self.report_at_line(line, &format!("{path}.name"), message);
                    } else {
                        names.push(Seen {
                            index,
                            value: name.clone(),
                            line,
                        });
                        label = Some(name.clone());
                    }
                    Some(name)
                }
            },
        };

        let token = self.token(&path, span.clone(), raw.token, raw.token_file);
        if let Some((token, line)) = &token {
            if let Some(first) = tokens.iter().find(|seen| seen.value == *token) {
                let first_name = names
                    .iter()
                    .find(|seen| seen.index == first.index)
                    .map(|seen| format!(" ({:?})", seen.value))
                    .unwrap_or_default();
                let message = format!(
                    "same token as bots[{}]{first_name}{}; each bot needs its own token",
                    first.index,
                    line_suffix(first.line)
                );
                self.report_at_line(*line, &format!("{path}.token"), message);
            } else {
                tokens.push(Seen {
                    index,
                    value: token.clone(),
                    line: *line,
                });
            }
        }

        let backend_groups =
            self.backend_groups(&path, span.clone(), raw.backend_group, raw.backend_groups);

        let mode = match raw.mode {
            None => Some(Mode::Standalone),
            Some(value) => match check_mode(value.get_ref()) {
                Ok(mode) => Some(mode),
                Err(message) => {
                    self.report(Some(value.span()), &format!("{path}.mode"), message);
                    None
                }
            },
        };

        let bot = match (name, token, backend_groups, mode) {
            (Some(name), Some((token, _)), Some(backend_groups), Some(mode)) => Some(BotConfig {
                name,
                token,
                backend_groups,
                mode,
                settings,
            }),
            _ => None,
        };
        ResolvedTable {
            label: label.unwrap_or(path),
            bot,
        }
    }

    /// Resolves `backend_group` / `backend_groups` (exactly one must be set)
    /// into the bot's list of groups.
    fn backend_groups(
        &mut self,
        path: &str,
        bot_span: Range<usize>,
        single: Option<Spanned<RawChatId>>,
        list: Option<Spanned<RawChatIds>>,
    ) -> Option<Vec<i64>> {
        let list = match (single, list) {
            (Some(_), Some(list)) => {
                self.report(
                    Some(list.span()),
                    &format!("{path}.backend_groups"),
                    "both backend_group and backend_groups are set: keep exactly one of them (backend_groups = [...] lists every group, the first one included)",
                );
                return None;
            }
            (None, None) => {
                self.report(
                    Some(bot_span),
                    &format!("{path}.backend_group"),
                    "missing backend_group: set it to the chat id of the operators' forum supergroup, like -1001234567890 (or backend_groups = [...] to spread dialogs over several groups)",
                );
                return None;
            }
            (Some(value), None) => {
                return match check_group_id(value.get_ref(), false) {
                    Ok(id) => Some(vec![id]),
                    Err(message) => {
                        self.report(
                            Some(value.span()),
                            &format!("{path}.backend_group"),
                            message,
                        );
                        None
                    }
                };
            }
            (None, Some(list)) => list,
        };
        let key = format!("{path}.backend_groups");
        let span = list.span();
        let items = match list.into_inner() {
            RawChatIds::Single => {
                self.report(
                    Some(span),
                    &key,
                    "backend_groups must be a list of chat ids, like [-1001234567890, -1009876543210] (for one group, backend_group = -1001234567890 works too)",
                );
                return None;
            }
            RawChatIds::List(items) if items.is_empty() => {
                self.report(
                    Some(span),
                    &key,
                    "empty list: give at least one group's chat id, like backend_groups = [-1001234567890]",
                );
                return None;
            }
            RawChatIds::List(items) => items,
        };
        let mut all_valid = true;
        let mut seen: Vec<Seen<i64>> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let item_key = format!("{key}[{index}]");
            let item_span = item.span();
            match check_group_id(item.get_ref(), true) {
                Err(message) => {
                    self.report(Some(item_span), &item_key, message);
                    all_valid = false;
                }
                Ok(id) => {
                    let line = Some(self.line_of(item_span.start));
                    if let Some(first) = seen.iter().find(|s| s.value == id) {
                        let at = if first.line == line {
                            String::new()
                        } else {
                            line_suffix(first.line)
                        };
                        let message = format!(
                            "duplicate group {id}: already listed as backend_groups[{}]{at}; list each group once",
                            first.index
                        );
                        self.report_at_line(line, &item_key, message);
                        all_valid = false;
                    } else {
                        seen.push(Seen {
                            index,
                            value: id,
                            line,
                        });
                    }
                }
            }
        }
        all_valid.then(|| seen.into_iter().map(|s| s.value).collect())
    }

    /// Like [`Resolver::report`], for a line already known.
    fn report_at_line(&mut self, line: Option<usize>, key: &str, message: impl AsRef<str>) {
        self.problems.push(Found {
            table: self.table,
            problem: Problem {
                line,
                key: mask_tokens(key),
                message: mask_tokens(message.as_ref()),
            },
        });
    }

    /// Resolves `token` / `token_file` into a checked token and the line it
    /// came from. Never puts the token's value into a message.
    fn token(
        &mut self,
        path: &str,
        bot_span: Range<usize>,
        token: Option<Spanned<String>>,
        token_file: Option<Spanned<String>>,
    ) -> Option<(Token, Option<usize>)> {
        match (token, token_file) {
            (Some(_), Some(file)) => {
                self.report(
                    Some(file.span()),
                    &format!("{path}.token_file"),
                    "both token and token_file are set: keep exactly one of them",
                );
                None
            }
            (None, None) => {
                self.report(
                    Some(bot_span),
                    &format!("{path}.token"),
                    r#"missing token: set token = "${MY_BOT_TOKEN}" (read from the environment) or token_file = "path/to/file""#,
                );
                None
            }
            (Some(value), None) => {
                let key = format!("{path}.token");
                let span = value.span();
                let expanded = match expand_env(value.get_ref(), self.env) {
                    Ok(expanded) => expanded,
                    Err(messages) => {
                        for message in messages {
                            self.report(Some(span.clone()), &key, message);
                        }
                        return None;
                    }
                };
                match check_token(&expanded) {
                    Ok(()) => Some((Token(expanded), Some(self.line_of(span.start)))),
                    Err(why) => {
                        let origin = if value.get_ref().contains("${") {
                            "the token (after ${VAR} expansion)"
                        } else {
                            "the token"
                        };
                        self.report(Some(span), &key, format!("{origin} {why}"));
                        None
                    }
                }
            }
            (None, Some(file)) => {
                let key = format!("{path}.token_file");
                let span = file.span();
                if file.get_ref().trim().is_empty() {
                    self.report(
                        Some(span),
                        &key,
                        "empty path: expected the path of a file holding the token",
                    );
                    return None;
                }
                let file_path = self.base_dir.join(file.get_ref());
                let content = match fs::read_to_string(&file_path) {
                    Ok(content) => content,
                    Err(err) => {
                        self.report(
                            Some(span),
                            &key,
                            format!(
                                "cannot read token file {:?}: {}",
                                file_path.display().to_string(),
                                io_message(&err)
                            ),
                        );
                        return None;
                    }
                };
                let trimmed = content.trim();
                if trimmed.is_empty() {
                    self.report(
                        Some(span),
                        &key,
                        format!("token file {:?} is empty", file_path.display().to_string()),
                    );
                    return None;
                }
                match check_token(trimmed) {
                    Ok(()) => Some((Token(trimmed.to_owned()), Some(self.line_of(span.start)))),
                    Err(why) => {
                        self.report(
                            Some(span),
                            &key,
                            format!(
                                "the content of token file {:?} {why}",
                                file_path.display().to_string()
                            ),
                        );
                        None
                    }
                }
            }
        }
    }

    /// Applies the keys set in `raw` over `base`. An invalid value is
    /// reported and the value of `base` kept, so checking can go on.
    fn settings(&mut self, base: &BotSettings, raw: RawSettings, path: &str) -> BotSettings {
        let mut settings = base.clone();
        if let Some(value) = raw.welcome {
            let text = value.get_ref();
            let key = format!("{path}.welcome");
            if is_off(text) {
                settings.welcome = None;
            } else if text.trim().is_empty() {
                self.report(
                    Some(value.span()),
                    &key,
                    r#"empty welcome text: write welcome = "off" to send no greeting"#,
                );
            } else if text.encode_utf16().count() > MAX_WELCOME_CHARS {
                self.report(
                    Some(value.span()),
                    &key,
                    format!(
                        "welcome text is too long ({} characters as Telegram counts them, an emoji as two): Telegram allows at most {MAX_WELCOME_CHARS}",
                        text.encode_utf16().count()
                    ),
                );
            } else {
                settings.welcome = Some(value.into_inner());
            }
        }
        if let Some(keywords) = raw.private_keywords {
            let mut checked = Vec::with_capacity(keywords.len());
            for (index, keyword) in keywords.into_iter().enumerate() {
                if keyword.get_ref().trim().is_empty() {
                    self.report(
                        Some(keyword.span()),
                        &format!("{path}.private_keywords[{index}]"),
                        "empty keyword: every keyword needs some text (an empty list, [], lets any message open a dialog)",
                    );
                } else {
                    checked.push(keyword.into_inner());
                }
            }
            settings.private_keywords = checked;
        }
        if let Some(value) = raw.autoclose {
            let key = format!("{path}.autoclose");
            match parse_duration(value.get_ref(), true) {
                Ok(None) => settings.autoclose = None,
                Ok(Some(after)) if after < MIN_AUTOCLOSE => self.report(
                    Some(value.span()),
                    &key,
                    format!(
                        r#"{} is too short: expected 1m to 366d, or "off" to never close dialogs by themselves"#,
                        format_duration(after)
                    ),
                ),
                Ok(Some(after)) if after > MAX_AUTOCLOSE => self.report(
                    Some(value.span()),
                    &key,
                    format!(
                        r#"{} is too long: expected 1m to 366d (8784h), or "off" to never close dialogs by themselves"#,
                        format_duration(after)
                    ),
                ),
                Ok(Some(after)) => settings.autoclose = Some(after),
                Err(message) => self.report(Some(value.span()), &key, message),
            }
        }
        if let Some(silent_mode) = raw.silent_mode {
            settings.silent_mode = silent_mode;
        }
        if let Some(intercept_external) = raw.intercept_external {
            settings.intercept_external = intercept_external;
        }
        let rates = [
            (raw.bot_limit, "bot_limit", &mut settings.limits.bot),
            (raw.chat_limit, "chat_limit", &mut settings.limits.chat),
            (raw.group_limit, "group_limit", &mut settings.limits.group),
        ];
        for (value, name, limit) in rates {
            if let Some(value) = value {
                match parse_rate(value.get_ref()) {
                    Ok(rate) => *limit = rate,
                    Err(message) => {
                        self.report(Some(value.span()), &format!("{path}.{name}"), message)
                    }
                }
            }
        }
        settings
    }
}

// ---------------------------------------------------------------------------
// Checks of single values. Each returns the message for a problem.
// ---------------------------------------------------------------------------

/// `"off"`, in any case and with surrounding spaces.
fn is_off(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("off")
}

/// Parses a duration; `Ok(None)` is "off" (only when `allow_off`). The
/// caller checks the bounds of its key.
fn parse_duration(raw: &RawDuration, allow_off: bool) -> Result<Option<Duration>, String> {
    let expected = if allow_off {
        r#"expected a duration like "30s", "15m", "48h", or "off""#
    } else {
        r#"expected a duration like "0s", "30s" or "50s""#
    };
    match raw {
        RawDuration::Number(number) => Err(format!(
            "a duration needs a unit and quotes: write \"{number}s\", \"{number}m\" or \"{number}h\"{}",
            if allow_off { r#", or "off""# } else { "" }
        )),
        RawDuration::Text(text) if allow_off && is_off(text) => Ok(None),
        RawDuration::Text(text) => match parse_humantime(text.trim()) {
            Ok(duration) => Ok(Some(duration)),
            Err(BadDuration::OutOfRange) => Err(format!(
                "invalid duration {text:?}: out of range; {expected}"
            )),
            Err(BadDuration::Invalid)
                if !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_digit()) =>
            {
                Err(format!(
                    "invalid duration {text:?}: add a unit, like \"{0}s\", \"{0}m\" or \"{0}h\"",
                    text.trim()
                ))
            }
            Err(BadDuration::Invalid) => Err(format!("invalid duration {text:?}: {expected}")),
        },
    }
}

/// Parses a rate, `"COUNT/DURATION"`; `Ok(None)` is "off". A rate that is
/// not "off" has a COUNT from 1 to [`MAX_RATE_COUNT`] and a window from
/// [`MIN_RATE_WINDOW`] to [`MAX_RATE_WINDOW`].
fn parse_rate(raw: &RawRate) -> Result<Option<Rate>, String> {
    const EXPECTED: &str = r#"expected COUNT/DURATION like "30/s", "20/m", "3/3s", or "off""#;
    let text = match raw {
        RawRate::Number(number) => {
            return Err(format!(
                r#"a rate needs quotes and a duration: write "{number}/s" or "{number}/m" (at most {number} messages per second or per minute), or "off""#
            ));
        }
        RawRate::Text(text) => text,
    };
    if is_off(text) {
        return Ok(None);
    }
    let invalid = || format!("invalid rate {text:?}: {EXPECTED}");
    let Some((count, per)) = text.split_once('/') else {
        return Err(invalid());
    };
    let (count, per) = (count.trim(), per.trim());
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let count = match count.parse::<u32>() {
        Ok(0) => {
            return Err(format!(
                r#"invalid rate {text:?}: the count must be at least 1 (write "off" for no limit)"#
            ));
        }
        Ok(count) if count <= MAX_RATE_COUNT => count,
        // All digits, so only too large a number fails to parse.
        _ => {
            return Err(format!(
                "invalid rate {text:?}: the count {count} is too large: expected 1 to {MAX_RATE_COUNT} messages per window"
            ));
        }
    };
    if !per.is_empty() && per.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            r#"invalid rate {text:?}: the duration needs a unit, like "{count}/{per}s" or "{count}/{per}m""#
        ));
    }
    // A unit alone ("s", "m", "h") means one of that unit.
    let parsed = if per.starts_with(|c: char| c.is_ascii_alphabetic()) {
        parse_humantime(&format!("1{per}"))
    } else {
        parse_humantime(per)
    };
    let window = || {
        format!(
            "expected {} to {}",
            format_duration(MIN_RATE_WINDOW),
            format_duration(MAX_RATE_WINDOW)
        )
    };
    let window_length = match parsed {
        Ok(length) => length,
        Err(BadDuration::Invalid) => return Err(invalid()),
        Err(BadDuration::OutOfRange) => {
            return Err(format!(
                "invalid rate {text:?}: the duration {per:?} is out of range: {}",
                window()
            ));
        }
    };
    if window_length.is_zero() {
        return Err(format!(
            r#"invalid rate {text:?}: the duration must be longer than zero (write "off" for no limit)"#
        ));
    }
    if window_length < MIN_RATE_WINDOW {
        return Err(format!(
            "invalid rate {text:?}: the duration {per:?} is too short: {}",
            window()
        ));
    }
    if window_length > MAX_RATE_WINDOW {
        return Err(format!(
            "invalid rate {text:?}: the duration {per:?} is too long: {}",
            window()
        ));
    }
    Ok(Some(Rate {
        count,
        per: window_length,
    }))
}

/// Why a text is not a duration.
enum BadDuration {
    /// It is not shaped like one.
    Invalid,
    /// It is shaped like one, but too long to represent, or with more
    /// decimals than nanoseconds allow.
    OutOfRange,
}

/// humantime's parser, without its panic.
///
/// humantime 2.4 adds up the terms of a duration ("1h 30m" is 1h + 30m) and
/// panics ("overflow in Duration::new") when the sum reaches u64::MAX seconds
/// and the nanoseconds carry one more, as in "18446744073709551615s 1000ms".
/// It cannot for a single term, which starts from zero, so each term is
/// parsed alone and the sum is checked here.
fn parse_humantime(text: &str) -> Result<Duration, BadDuration> {
    let classify = |err| match err {
        humantime::DurationError::NumberOverflow => BadDuration::OutOfRange,
        _ => BadDuration::Invalid,
    };
    let mut total = Duration::ZERO;
    for (index, term) in duration_terms(text).into_iter().enumerate() {
        // humantime reads a bare "0" as zero only when it is the whole text;
        // after a term ("1h0") it is a number without a unit.
        if index > 0 && term == "0" {
            return Err(BadDuration::Invalid);
        }
        let term = humantime::parse_duration(term).map_err(classify)?;
        total = total.checked_add(term).ok_or(BadDuration::OutOfRange)?;
    }
    Ok(total)
}

/// Cuts a duration into its terms the way humantime reads it: a term ends
/// where a digit follows a unit ("1h 30m" -> "1h ", "30m"). Spaces do not
/// end a term, since humantime reads "1 000 s" as one number and unit. A
/// text that is not a duration yields a term that is not one either.
fn duration_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut after_unit = false;
    for (at, c) in text.char_indices() {
        if c.is_ascii_digit() && after_unit {
            terms.push(&text[start..at]);
            start = at;
        }
        if !c.is_whitespace() {
            // The characters humantime takes for a unit.
            after_unit = c.is_ascii_alphabetic() || c == 'µ';
        }
    }
    terms.push(&text[start..]);
    terms
}

fn check_api_url(url: &str) -> Result<String, String> {
    let expected = r#"expected the Bot API server's base URL, starting with http:// or https://, like "https://api.telegram.org""#;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(format!("invalid api_url {url:?}: {expected}"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("invalid api_url {url:?}: no host; {expected}"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid api_url {url:?}: contains whitespace; {expected}"
        ));
    }
    if url.contains('?') || url.contains('#') {
        return Err(format!(
            "invalid api_url {url:?}: a base URL has no query (?) or fragment (#); {expected}"
        ));
    }
    if has_bot_path(rest) {
        return Err(
            "api_url must be the server's base URL without /bot<token>: switchboard adds the token itself"
                .to_owned(),
        );
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether a URL path contains `/bot<digits>:` (a token pasted into the URL).
fn has_bot_path(url: &str) -> bool {
    url.match_indices("/bot").any(|(at, _)| {
        let after = &url[at + 4..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && after.as_bytes().get(digits) == Some(&b':')
    })
}

fn check_name(name: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected 1 to 32 characters of A-Z, a-z, 0-9, _ and -";
    if name.is_empty() {
        return Err(format!("empty name: {EXPECTED}"));
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(format!(
            "name is too long ({length} characters): {EXPECTED}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "invalid character {bad:?} in name {name:?}: {EXPECTED}"
        ));
    }
    Ok(())
}

/// Checks a backend group's chat id: that of `backend_group`, or (`in_list`)
/// one element of `backend_groups`.
fn check_group_id(value: &RawChatId, in_list: bool) -> Result<i64, String> {
    const EXAMPLE: &str = "a forum supergroup's id starts with -100, like -1001234567890";
    match value {
        RawChatId::Text(text) => Err(match (text.trim().parse::<i64>(), in_list) {
            (Ok(id), false) => format!(
                "backend_group must be a number, not a string: write backend_group = {id} (without quotes)"
            ),
            (Ok(id), true) => {
                format!("a chat id must be a number, not a string: write {id} (without quotes)")
            }
            (Err(_), false) => format!("backend_group must be a number: {EXAMPLE}"),
            (Err(_), true) => format!("a chat id must be a number: {EXAMPLE}"),
        }),
        RawChatId::List if in_list => Err(
            "expected a chat id, not a list: backend_groups is one flat list, like [-1001234567890, -1009876543210]"
                .to_owned(),
        ),
        RawChatId::List => Err(
            "backend_group is one chat id: for several groups write backend_groups = [-1001234567890, -1009876543210] instead"
                .to_owned(),
        ),
        RawChatId::Number(id) if *id >= 0 => Err(format!(
            "{id} is not a group id (a positive id is a user or a bot): {EXAMPLE}"
        )),
        RawChatId::Number(id) => {
            let digits = id.to_string();
            if digits.starts_with("-100") && digits.len() > 4 {
                Ok(*id)
            } else {
                Err(format!(
                    "{id} is not a supergroup id: {EXAMPLE} (a basic group gets such an id when it becomes a supergroup, e.g. when Topics are enabled)"
                ))
            }
        }
    }
}

fn check_mode(mode: &str) -> Result<Mode, String> {
    match mode {
        "standalone" => Ok(Mode::Standalone),
        "proxy" | "forward" => Err(format!(
            "mode {mode:?} is not available in this version of switchboard: only \"standalone\" is supported for now (parallel connections beside an existing bot are planned)"
        )),
        other => Err(format!(
            "unknown mode {other:?}: expected one of: standalone, proxy, forward (only standalone is available in this version)"
        )),
    }
}

/// Checks that a token looks like `<digits>:<secret>`. The message says what
/// is wrong without quoting any of it.
fn check_token(token: &str) -> Result<(), String> {
    let Some((id, secret)) = token.split_once(':') else {
        return Err(token_shape_error(token, "it has no ':'"));
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(token_shape_error(
            token,
            "the part before ':' is not all digits",
        ));
    }
    if secret.is_empty() {
        return Err(token_shape_error(token, "nothing follows ':'"));
    }
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(token_shape_error(
            token,
            "the part after ':' has characters other than A-Z, a-z, 0-9, _ and -",
        ));
    }
    Ok(())
}

fn token_shape_error(token: &str, detail: &str) -> String {
    let hint = if token.chars().any(char::is_whitespace) {
        "; it contains whitespace"
    } else if token.starts_with("bot") {
        "; leave out the \"bot\" prefix"
    } else if token.contains('$') {
        "; to read it from the environment write ${VARIABLE}"
    } else {
        ""
    };
    format!(
        "does not look like a bot token ({detail}{hint}): expected <digits>:<secret>, as issued by @BotFather"
    )
}

/// Replaces each `${NAME}` with the value of environment variable `NAME`.
/// On failure, one message per bad reference; none quotes the string itself.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            errors.push("unterminated \"${\": write ${VARIABLE_NAME}".to_owned());
            rest = "";
            break;
        };
        let name = &after[..end];
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            errors.push(
                "invalid ${...} reference: a variable name is letters, digits and _, not starting with a digit"
                    .to_owned(),
            );
        } else {
            match env(name) {
                Some(value) if !value.is_empty() => out.push_str(&value),
                Some(_) => errors.push(format!("environment variable {name} is empty")),
                None => errors.push(format!("environment variable {name} is not set")),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What to say after "unknown key": a likely correction when there is one,
/// else the list of valid keys.
fn unknown_key_hint(key: &str, path: &str, known: &[&str]) -> String {
    let expected = format!("expected one of: {}", known.join(", "));
    let top_level = path.is_empty();
    let in_bot = path.starts_with("bots[");
    if let Some(close) = known.iter().find(|k| edit_distance(key, k) <= 2) {
        return format!("did you mean {close:?}? {expected}");
    }
    if top_level && SETTINGS_KEYS.contains(&key) {
        return format!("{key} belongs in [defaults] (for every bot) or in a [[bots]] table");
    }
    if top_level && BOT_ONLY_KEYS.contains(&key) {
        return format!("{key} belongs in a [[bots]] table");
    }
    if !top_level && key == "listen" {
        return "listen belongs in [http]".to_owned();
    }
    if !in_bot && !top_level && BOT_ONLY_KEYS.contains(&key) {
        return format!("{key} can only be set per bot, in a [[bots]] table");
    }
    if !top_level && TOP_KEYS.contains(&key) {
        return format!(
            "{key} is a top-level key: move it above the first [table] header (in TOML, keys after a header belong to that table)"
        );
    }
    expected
}

/// Levenshtein distance, for "did you mean" (inputs are short key names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The key path (`bots[1].backend_group`) of the innermost key or value
/// whose span holds `offset`; empty when none does.
fn key_at(root: &DeTable<'_>, offset: usize) -> String {
    let mut best: Option<(usize, String)> = None;
    visit_table(root, "", offset, &mut best);
    best.map(|(_, path)| path).unwrap_or_default()
}

fn visit_table(table: &DeTable<'_>, path: &str, offset: usize, best: &mut Option<(usize, String)>) {
    for (key, value) in table.iter() {
        let child = if path.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{path}.{}", key.get_ref())
        };
        consider(key.span(), &child, offset, best);
        visit_value(value, &child, offset, best);
    }
}

fn visit_value(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    offset: usize,
    best: &mut Option<(usize, String)>,
) {
    consider(value.span(), path, offset, best);
    match value.get_ref() {
        DeValue::Table(table) => visit_table(table, path, offset, best),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                visit_value(item, &format!("{path}[{index}]"), offset, best);
            }
        }
        _ => {}
    }
}

fn consider(span: Range<usize>, path: &str, offset: usize, best: &mut Option<(usize, String)>) {
    let holds = span.contains(&offset) || (span.is_empty() && span.start == offset);
    let size = span.len();
    let better = match best {
        None => true,
        Some((best_size, best_path)) => {
            size < *best_size || (size == *best_size && path.len() > best_path.len())
        }
    };
    if holds && better {
        *best = Some((size, path.to_owned()));
    }
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

fn line_suffix(line: Option<usize>) -> String {
    line.map(|line| format!(" (line {line})"))
        .unwrap_or_default()
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

/// Shortest secret part that [`mask_tokens`] treats as a token. Real secrets
/// are 35 characters; 8 keeps `10:30` or `127.0.0.1:8081` readable.
const MIN_MASKED_SECRET: usize = 8;

/// Replaces the secret of anything shaped like a bot token (`<digits>:<8 or
/// more of A-Z a-z 0-9 _ ->`) with `***`.
pub(crate) fn mask_tokens(text: &str) -> String {
    let is_secret_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_digits = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
        if !starts_digits {
            i += 1;
            continue;
        }
        let colon = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if bytes.get(colon) == Some(&b':') {
            let secret = bytes[colon + 1..]
                .iter()
                .take_while(|&&b| is_secret_byte(b))
                .count();
            if secret >= MIN_MASKED_SECRET {
                // All cut points are at ASCII bytes, so they are char boundaries.
                out.push_str(&text[copied..=colon]);
                out.push_str("***");
                copied = colon + 1 + secret;
                i = copied;
                continue;
            }
        }
        i = colon.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each problem was found: (line, key).
    fn lines_and_keys(err: &ConfigError) -> Vec<(Option<usize>, &str)> {
        err.problems
            .iter()
            .map(|p| (p.line, p.key.as_str()))
            .collect()
    }

    const SHOP_TOKEN: &str = "123456:AAHshopSECRETshopSECRETshop_-1234567";
    const SUPPORT_TOKEN: &str = "654321:AAHsupportSECRETsupport_-1234567890";
    /// Pieces of the secrets above; none may ever appear in output.
    const SECRETS: &[&str] = &["AAHshopSECRET", "AAHsupportSECRET", "SECRET"];

    const SOURCE: &str = "/etc/switchboard/bots.toml";
    const BOT: &str = r#"
[[bots]]
name = "shop"
token = "${SHOP_BOT_TOKEN}"
backend_group = -1001234567890
"#;

    fn env(name: &str) -> Option<String> {
        match name {
            "SHOP_BOT_TOKEN" => Some(SHOP_TOKEN.to_owned()),
            "SUPPORT_BOT_TOKEN" => Some(SUPPORT_TOKEN.to_owned()),
            "EMPTY" => Some(String::new()),
            "ID" => Some("123456".to_owned()),
            "SECRET_PART" => Some("AAHshopSECRETshopSECRETshop_-1234567".to_owned()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new(SOURCE), &env)
    }

    #[track_caller]
    fn parse_ok(text: &str) -> Config {
        match parse(text) {
            Ok(config) => config,
            Err(err) => panic!("expected a valid config, got:\n{err}"),
        }
    }

    #[track_caller]
    fn error(text: &str) -> ConfigError {
        match parse(text) {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(err) => {
                assert_no_secret(&err.to_string());
                assert_no_secret(&format!("{err:?}"));
                err
            }
        }
    }

    /// The only problem of an invalid `text`.
    #[track_caller]
    fn problem(text: &str) -> Problem {
        let err = error(text);
        assert_eq!(err.problems.len(), 1, "expected one problem, got:\n{err}");
        err.problems[0].clone()
    }

    #[track_caller]
    fn assert_no_secret(output: &str) {
        for secret in SECRETS {
            assert!(
                !output.contains(secret),
                "secret {secret:?} leaked in:\n{output}"
            );
        }
    }

    /// `Some(count/seconds)`, for comparing limits.
    fn rate(count: u32, seconds: u64) -> Option<Rate> {
        Some(Rate {
            count,
            per: Duration::from_secs(seconds),
        })
    }

    /// The `group_limit` of the only bot, when `[[bots]]` sets it to `value`.
    #[track_caller]
    fn group_limit(value: &str) -> Option<Rate> {
        parse_ok(&format!("{BOT}group_limit = {value}\n")).bots[0]
            .settings
            .limits
            .group
    }

    #[track_caller]
    fn assert_problem(p: &Problem, line: usize, key: &str, message_part: &str) {
        assert_eq!(p.line, Some(line), "line of {p:?}");
        assert_eq!(p.key, key, "key of {p:?}");
        assert!(
            p.message.contains(message_part),
            "{:?} does not contain {message_part:?}",
            p.message
        );
    }

    // --- valid files -----------------------------------------------------

    #[test]
    fn repository_example_parses() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bots.toml"));
        let text = fs::read_to_string(path).expect("the example bots.toml exists");
        let config = match Config::parse(&text, path, &env) {
            Ok(config) => config,
            Err(err) => panic!("the example bots.toml is invalid:\n{err}"),
        };
        assert_eq!(config.source, path);
        assert_eq!(
            config.database,
            Path::new(env!("CARGO_MANIFEST_DIR")).join("switchboard.db")
        );
        assert_eq!(config.api_url, DEFAULT_API_URL);
        assert_eq!(config.poll_timeout, DEFAULT_POLL_TIMEOUT);
        assert_eq!(config.http, HttpConfig::default());
        assert_eq!(config.bots.len(), 2);

        let shop = &config.bots[0];
        assert_eq!(shop.name, "shop");
        assert_eq!(shop.token.expose(), SHOP_TOKEN);
        assert_eq!(shop.backend_groups, [-1001234567890]);
        assert_eq!(shop.mode, Mode::Standalone);
        assert_eq!(shop.settings, BotSettings::default());

        let support = &config.bots[1];
        assert_eq!(support.name, "support");
        assert_eq!(support.token.expose(), SUPPORT_TOKEN);
        assert_eq!(support.backend_groups, [-1009876543210, -1005555555555]);
        assert!(support.backend_groups.contains(&-1005555555555));
        assert!(!support.backend_groups.contains(&-1001234567890));
        assert!(
            support
                .settings
                .welcome
                .as_deref()
                .is_some_and(|w| w.starts_with("Hi!"))
        );
        assert_eq!(
            support.settings.private_keywords,
            ["help", "support", "refund"]
        );
        assert_eq!(
            support.settings.autoclose,
            Some(Duration::from_secs(90 * 60))
        );
        assert!(support.settings.silent_mode);
        assert!(support.settings.intercept_external);
        assert_eq!(
            support.settings.limits,
            Limits {
                chat: Some(Rate {
                    count: 1,
                    per: Duration::from_secs(1)
                }),
                ..DEFAULT_LIMITS
            }
        );

        assert_no_secret(&config.describe());
        assert_no_secret(&format!("{config:?}"));
    }

    #[test]
    fn example_documents_every_key() {
        let text = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bots.toml"))
            .expect("the example bots.toml exists");
        for key in TOP_KEYS
            .iter()
            .chain(HTTP_KEYS)
            .chain(SETTINGS_KEYS)
            .chain(BOT_ONLY_KEYS)
        {
            let written = text.lines().any(|line| {
                let line = line.trim_start_matches(['#', ' ', '[']);
                line.starts_with(&format!("{key} =")) || line.starts_with(&format!("{key}]"))
            });
            assert!(written, "the example bots.toml does not show {key}");
        }
    }

    #[test]
    fn reference_documents_every_key() {
        let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md exists");
        let start = readme
            .find("## Configuration reference")
            .expect("README.md has a configuration reference");
        let text = &readme[start..];
        for key in HTTP_KEYS.iter().chain(SETTINGS_KEYS).chain(BOT_ONLY_KEYS) {
            assert!(
                text.contains(&format!("| `{key}` |")),
                "the README's configuration reference lacks a row for {key}"
            );
        }
        for key in ["database", "api_url", "poll_timeout"] {
            assert!(
                text.contains(&format!("| `{key}` |")),
                "the README's configuration reference lacks a row for {key}"
            );
        }
        for table in ["### `[http]`", "### `[defaults]`", "### `[[bots]]`"] {
            assert!(
                text.contains(table),
                "the README's configuration reference lacks {table}"
            );
        }
    }

    #[test]
    fn minimal_file_gets_all_defaults() {
        let config = parse_ok(BOT);
        assert_eq!(
            config.database,
            Path::new("/etc/switchboard/switchboard.db")
        );
        assert_eq!(config.api_url, "https://api.telegram.org");
        assert_eq!(config.poll_timeout, Duration::from_secs(30));
        assert_eq!(
            config.http.listen,
            "127.0.0.1:8081".parse::<SocketAddr>().unwrap()
        );
        let bot = &config.bots[0];
        assert_eq!(bot.mode, Mode::Standalone);
        assert_eq!(
            bot.settings,
            BotSettings {
                welcome: Some(DEFAULT_WELCOME.to_owned()),
                private_keywords: vec![],
                autoclose: Some(Duration::from_secs(48 * 3600)),
                silent_mode: false,
                intercept_external: true,
                limits: DEFAULT_LIMITS,
            }
        );
        let limits = bot.settings.limits;
        assert_eq!(limits, Limits::default());
        assert_eq!(limits.bot.map(|r| r.describe()).as_deref(), Some("30/s"));
        assert_eq!(limits.chat.map(|r| r.describe()).as_deref(), Some("3/3s"));
        assert_eq!(limits.group.map(|r| r.describe()).as_deref(), Some("20/m"));
        assert_eq!(bot.backend_groups, [-1001234567890]);
    }

    #[test]
    fn top_level_values_are_resolved() {
        let config = parse_ok(&format!(
            r#"
database = "data/desk.db"
api_url = "http://127.0.0.1:8081/"
poll_timeout = "50s"
[http]
listen = "[::1]:9000"
{BOT}"#
        ));
        assert_eq!(config.database, Path::new("/etc/switchboard/data/desk.db"));
        assert_eq!(config.api_url, "http://127.0.0.1:8081");
        assert_eq!(config.poll_timeout, MAX_POLL_TIMEOUT);
        assert_eq!(
            config.http.listen,
            "[::1]:9000".parse::<SocketAddr>().unwrap()
        );

        let absolute = parse_ok(&format!(
            "database = \"/var/lib/sb.db\"\npoll_timeout = \"0s\"\n{BOT}"
        ));
        assert_eq!(absolute.database, Path::new("/var/lib/sb.db"));
        assert_eq!(absolute.poll_timeout, Duration::ZERO);

        let bare = Config::parse(BOT, Path::new("bots.toml"), &env).unwrap();
        assert_eq!(bare.database, Path::new("switchboard.db"));
    }

    #[test]
    fn defaults_are_inherited_and_bot_values_win() {
        let config = parse_ok(
            r#"
[defaults]
welcome = "off"
private_keywords = ["Help", "order"]
autoclose = "2h"
silent_mode = true
intercept_external = false
bot_limit = "10/s"
chat_limit = "off"
group_limit = "15/m"

[[bots]]
name = "inherits"
token = "${SHOP_BOT_TOKEN}"
backend_group = -1001

[[bots]]
name = "overrides"
token = "${SUPPORT_BOT_TOKEN}"
backend_group = -1002
welcome = "Hi there"
private_keywords = []
autoclose = "OFF"
silent_mode = false
intercept_external = true
bot_limit = "off"
chat_limit = "2/5s"
group_limit = "40/2m"
"#,
        );
        let inherits = &config.bots[0].settings;
        assert_eq!(inherits.welcome, None);
        assert_eq!(inherits.private_keywords, ["Help", "order"]);
        assert_eq!(inherits.autoclose, Some(Duration::from_secs(7200)));
        assert!(inherits.silent_mode);
        assert!(!inherits.intercept_external);
        assert_eq!(
            inherits.limits,
            Limits {
                bot: rate(10, 1),
                chat: None,
                group: rate(15, 60),
            }
        );

        let overrides = &config.bots[1].settings;
        assert_eq!(overrides.welcome.as_deref(), Some("Hi there"));
        assert!(overrides.private_keywords.is_empty());
        assert_eq!(overrides.autoclose, None);
        assert!(!overrides.silent_mode);
        assert!(overrides.intercept_external);
        assert_eq!(
            overrides.limits,
            Limits {
                bot: None,
                chat: rate(2, 5),
                group: rate(40, 120),
            }
        );
    }

    #[test]
    fn partial_override_keeps_other_defaults() {
        let config = parse_ok(&format!(
            "[defaults]\nautoclose = \"1d\"\n{BOT}welcome = \"Yo\"\n"
        ));
        let settings = &config.bots[0].settings;
        assert_eq!(settings.autoclose, Some(Duration::from_secs(86400)));
        assert_eq!(settings.welcome.as_deref(), Some("Yo"));
        assert!(settings.intercept_external);

        // Each limit is its own key: setting one keeps the others.
        let config = parse_ok(&format!(
            "[defaults]\nbot_limit = \"10/s\"\n{BOT}group_limit = \"off\"\n"
        ));
        assert_eq!(
            config.bots[0].settings.limits,
            Limits {
                bot: rate(10, 1),
                chat: DEFAULT_LIMITS.chat,
                group: None,
            }
        );
    }

    // --- tokens ----------------------------------------------------------

    #[test]
    fn token_variables_are_expanded_anywhere() {
        let text = BOT.replace("${SHOP_BOT_TOKEN}", "${ID}:${SECRET_PART}");
        assert_eq!(parse_ok(&text).bots[0].token.expose(), SHOP_TOKEN);
        let text = BOT.replace("${SHOP_BOT_TOKEN}", "123456:${SECRET_PART}");
        assert_eq!(parse_ok(&text).bots[0].token.expose(), SHOP_TOKEN);
        let text = BOT.replace("${SHOP_BOT_TOKEN}", SHOP_TOKEN);
        assert_eq!(parse_ok(&text).bots[0].token.expose(), SHOP_TOKEN);
    }

    #[test]
    fn missing_or_bad_variable_is_reported() {
        let p = problem(&BOT.replace("SHOP_BOT_TOKEN", "NOT_SET"));
        assert_problem(
            &p,
            4,
            "bots[0].token",
            "environment variable NOT_SET is not set",
        );
        assert_eq!(p.message, "environment variable NOT_SET is not set");

        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "${EMPTY}"));
        assert_problem(
            &p,
            4,
            "bots[0].token",
            "environment variable EMPTY is empty",
        );

        let err = error(&BOT.replace("${SHOP_BOT_TOKEN}", "${A}:${B}"));
        let messages: Vec<&str> = err.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "environment variable A is not set",
                "environment variable B is not set"
            ]
        );

        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "${SHOP_BOT_TOKEN"));
        assert_problem(&p, 4, "bots[0].token", "unterminated");
        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "${1X}"));
        assert_problem(&p, 4, "bots[0].token", "invalid ${...} reference");
    }

    #[test]
    fn malformed_token_is_rejected_without_quoting_it() {
        for bad in [
            "AAHshopSECRETshopSECRET",
            "abc:AAHshopSECRETshop",
            "123456:",
            "123456:AAHshopSECRET shop",
            "bot123456:AAHshopSECRETshop",
            "123456:AAHshopSECRET!shop",
            "$SHOP_BOT_TOKEN",
        ] {
            let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", bad));
            assert_problem(&p, 4, "bots[0].token", "does not look like a bot token");
        }
        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "123456:AAHshopSECRET shop"));
        assert!(p.message.contains("whitespace"), "{}", p.message);
        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "$SHOP_BOT_TOKEN"));
        assert!(p.message.contains("${VARIABLE}"), "{}", p.message);
        let p = problem(&BOT.replace("${SHOP_BOT_TOKEN}", "${SECRET_PART}"));
        assert!(
            p.message.contains("after ${VAR} expansion"),
            "{}",
            p.message
        );
    }

    #[test]
    fn token_file_is_read_relative_to_the_config_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("secrets")).unwrap();
        fs::write(
            dir.path().join("secrets/shop.token"),
            format!("  {SHOP_TOKEN}\n\n"),
        )
        .unwrap();
        let text = BOT.replace(
            r#"token = "${SHOP_BOT_TOKEN}""#,
            r#"token_file = "secrets/shop.token""#,
        );
        let config = Config::parse(&text, &dir.path().join("bots.toml"), &env).unwrap();
        assert_eq!(config.bots[0].token.expose(), SHOP_TOKEN);

        let absolute = dir.path().join("secrets/shop.token");
        let text = BOT.replace(
            r#"token = "${SHOP_BOT_TOKEN}""#,
            &format!("token_file = {:?}", absolute.display().to_string()),
        );
        let config = Config::parse(&text, Path::new("/elsewhere/bots.toml"), &env).unwrap();
        assert_eq!(config.bots[0].token.expose(), SHOP_TOKEN);
    }

    #[test]
    fn token_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bots.toml");
        let with_file = |file: &str| {
            BOT.replace(
                r#"token = "${SHOP_BOT_TOKEN}""#,
                &format!("token_file = {file:?}"),
            )
        };
        let check = |text: &str| -> Problem {
            let err = Config::parse(text, &source, &env).expect_err("invalid");
            assert_no_secret(&err.to_string());
            assert_eq!(err.problems.len(), 1, "{err}");
            err.problems[0].clone()
        };

        let p = check(&with_file("missing.token"));
        assert_problem(&p, 4, "bots[0].token_file", "cannot read token file");
        assert!(
            p.message.ends_with(": No such file or directory"),
            "{}",
            p.message
        );
        assert!(
            p.message
                .contains(&dir.path().join("missing.token").display().to_string())
        );

        fs::write(dir.path().join("empty.token"), "\n  \n").unwrap();
        assert_problem(
            &check(&with_file("empty.token")),
            4,
            "bots[0].token_file",
            "is empty",
        );

        fs::write(
            dir.path().join("bad.token"),
            "AAHshopSECRETshopSECRET and more\n",
        )
        .unwrap();
        let p = check(&with_file("bad.token"));
        assert_problem(
            &p,
            4,
            "bots[0].token_file",
            "does not look like a bot token",
        );

        assert_problem(
            &check(&with_file("")),
            4,
            "bots[0].token_file",
            "empty path",
        );
    }

    #[test]
    fn exactly_one_of_token_and_token_file() {
        let p = problem(&format!("{BOT}token_file = \"shop.token\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].token_file",
            "both token and token_file are set",
        );

        let p = problem("[[bots]]\nname = \"shop\"\nbackend_group = -1001234567890\n");
        assert_problem(&p, 1, "bots[0].token", "missing token");
        assert!(p.message.contains("token_file"), "{}", p.message);
    }

    #[test]
    fn duplicate_tokens_are_rejected() {
        let text = format!(
            "{BOT}\n[[bots]]\nname = \"other\"\ntoken = \"{SHOP_TOKEN}\"\nbackend_group = -1002\n"
        );
        let p = problem(&text);
        assert_problem(
            &p,
            9,
            "bots[1].token",
            "same token as bots[0] (\"shop\") (line 4)",
        );
    }

    #[test]
    fn token_type_prints_only_the_bot_id() {
        let token = Token::new(SHOP_TOKEN);
        assert_eq!(token.to_string(), "123456:***");
        assert_eq!(format!("{token:?}"), "123456:***");
        assert_eq!(token.bot_id(), "123456");
        assert_eq!(token.expose(), SHOP_TOKEN);
        let malformed = Token::from("AAHshopSECRET:123".to_owned());
        assert_eq!(malformed.to_string(), "***");
        assert_eq!(format!("{malformed:?}"), "***");
        assert_eq!(malformed.bot_id(), "");
    }

    // --- keys and syntax ---------------------------------------------------

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let p = problem(&format!(
            "[defaults]\nsilent_mode = true\nwelcom = \"hi\"\n{BOT}"
        ));
        assert_problem(
            &p,
            3,
            "defaults.welcom",
            r#"unknown key "welcom" in [defaults]; did you mean "welcome"? expected one of: welcome, private_keywords, autoclose, silent_mode, intercept_external, bot_limit, chat_limit, group_limit"#,
        );
        assert_eq!(
            error(&format!("[defaults]\nwelcom = \"hi\"\n{BOT}")).to_string(),
            format!(
                "{SOURCE}:2: defaults.welcom: unknown key \"welcom\" in [defaults]; did you mean \"welcome\"? expected one of: welcome, private_keywords, autoclose, silent_mode, intercept_external, bot_limit, chat_limit, group_limit"
            )
        );
    }

    #[test]
    fn all_unknown_keys_are_reported_with_the_other_problems() {
        let err = error(
            r#"colour = "blue"
[http]
listn = "127.0.0.1:1"
[defaults]
[defaults.extra]
x = 1
[[bots]]
name = "shop"
token = "${SHOP_BOT_TOKEN}"
backend_group = 5
mood = "happy"
"#,
        );
        let found = lines_and_keys(&err);
        assert_eq!(
            found,
            [
                (Some(1), "colour"),
                (Some(3), "http.listn"),
                (Some(5), "defaults.extra"),
                (Some(10), "bots[0].backend_group"),
                (Some(11), "bots[0].mood"),
            ]
        );
        assert!(err.problems[4].message.contains(r#"did you mean "mode"?"#));
        assert!(
            err.problems[0]
                .message
                .contains("at the top level; expected one of: database, api_url")
        );
    }

    #[test]
    fn misplaced_keys_get_a_hint() {
        let p = problem(&format!("welcome = \"hi\"\n{BOT}"));
        assert_problem(&p, 1, "welcome", "welcome belongs in [defaults]");
        let p = problem(&format!("[defaults]\nbackend_group = -1001\n{BOT}"));
        assert_problem(&p, 2, "defaults.backend_group", "can only be set per bot");
        let p = problem(&format!("{BOT}database = \"x.db\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].database",
            "is a top-level key: move it above",
        );
        let p = problem(&format!("[defaults]\nlisten = \"127.0.0.1:1\"\n{BOT}"));
        assert_problem(&p, 2, "defaults.listen", "listen belongs in [http]");
        let p = problem("[bots]\nname = \"shop\"\n");
        assert_problem(&p, 1, "bots", "write [[bots]]");
        let p = problem(&format!("group_limit = \"20/m\"\n{BOT}"));
        assert_problem(&p, 1, "group_limit", "group_limit belongs in [defaults]");
        let p = problem(&format!("[defaults]\nbackend_groups = [-1001]\n{BOT}"));
        assert_problem(&p, 2, "defaults.backend_groups", "can only be set per bot");
        let p = problem(&format!("{BOT}chat_limits = \"3/3s\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].chat_limits",
            r#"did you mean "chat_limit"?"#,
        );
    }

    #[test]
    fn syntax_error_is_one_problem_with_a_line() {
        let p = problem(&format!(
            "{BOT}welcome = \"unterminated\nsilent_mode = true\n"
        ));
        assert_eq!(p.line, Some(6));
        assert_eq!(p.key, "");
        assert!(p.message.starts_with("invalid TOML: "), "{}", p.message);

        let p = problem(&format!("{BOT}name = \"again\"\n"));
        assert_eq!(p.line, Some(6));
        assert!(p.message.contains("duplicate key"), "{}", p.message);
    }

    #[test]
    fn type_error_names_the_key() {
        let p = problem(&format!("{BOT}silent_mode = \"yes\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].silent_mode",
            "invalid type: string \"yes\", expected a boolean",
        );
        let p = problem(&format!("[defaults]\nprivate_keywords = [\"a\", 2]\n{BOT}"));
        assert_problem(
            &p,
            2,
            "defaults.private_keywords[1]",
            "invalid type: integer",
        );
        let p = problem("[http]\nlisten = 8081\n");
        assert_problem(&p, 2, "http.listen", "invalid type: integer `8081`");
    }

    // --- single values -----------------------------------------------------

    #[test]
    fn bad_durations() {
        let err = error(&format!("{BOT}autoclose = \"4x\"\n"));
        assert_eq!(
            err.to_string(),
            format!(
                r#"{SOURCE}:6: bots[0].autoclose: invalid duration "4x": expected a duration like "30s", "15m", "48h", or "off""#
            )
        );
        let p = problem(&format!("{BOT}autoclose = 48\n"));
        assert_problem(
            &p,
            6,
            "bots[0].autoclose",
            r#"a duration needs a unit and quotes: write "48s""#,
        );
        let p = problem(&format!("{BOT}autoclose = \"48\"\n"));
        assert_problem(&p, 6, "bots[0].autoclose", r#"add a unit, like "48s""#);
        let p = problem(&format!("[defaults]\nautoclose = \"30s\"\n{BOT}"));
        assert_problem(
            &p,
            2,
            "defaults.autoclose",
            r#"30s is too short: expected 1m to 366d, or "off""#,
        );
        let p = problem(&format!("[defaults]\nautoclose = \"\"\n{BOT}"));
        assert_problem(&p, 2, "defaults.autoclose", "invalid duration \"\"");
        let config = parse_ok(&format!("[defaults]\nautoclose = \"1m\"\n{BOT}"));
        assert_eq!(config.bots[0].settings.autoclose, Some(MIN_AUTOCLOSE));
    }

    #[test]
    fn poll_timeout_range() {
        let p = problem(&format!("poll_timeout = \"51s\"\n{BOT}"));
        assert_problem(&p, 1, "poll_timeout", "51s is too long: expected 0s to 50s");
        let p = problem(&format!("poll_timeout = \"1m\"\n{BOT}"));
        assert_problem(&p, 1, "poll_timeout", "1m is too long");
        let p = problem(&format!("poll_timeout = \"off\"\n{BOT}"));
        assert_problem(
            &p,
            1,
            "poll_timeout",
            r#"invalid duration "off": expected a duration like "0s", "30s" or "50s""#,
        );
        let p = problem(&format!("poll_timeout = 30\n{BOT}"));
        assert_problem(&p, 1, "poll_timeout", r#"write "30s""#);
    }

    #[test]
    fn modes() {
        let config = parse_ok(&format!("{BOT}mode = \"standalone\"\n"));
        assert_eq!(config.bots[0].mode, Mode::Standalone);
        for planned in ["proxy", "forward"] {
            let p = problem(&format!("{BOT}mode = \"{planned}\"\n"));
            assert_problem(
                &p,
                6,
                "bots[0].mode",
                "is not available in this version of switchboard",
            );
            assert!(
                p.message.contains("only \"standalone\" is supported"),
                "{}",
                p.message
            );
        }
        let p = problem(&format!("{BOT}mode = \"Standalone\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].mode",
            "unknown mode \"Standalone\": expected one of: standalone, proxy, forward",
        );
    }

    #[test]
    fn backend_group_must_be_a_supergroup() {
        let with = |id: &str| BOT.replace("-1001234567890", id);
        let p = problem(&with("1234567890"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_group",
            "1234567890 is not a group id",
        );
        assert!(p.message.contains("starts with -100"));
        let p = problem(&with("0"));
        assert_problem(&p, 5, "bots[0].backend_group", "not a group id");
        let p = problem(&with("-123456789"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_group",
            "-123456789 is not a supergroup id",
        );
        let p = problem(&with("-100"));
        assert_problem(&p, 5, "bots[0].backend_group", "not a supergroup id");
        let p = problem(&with("\"-1001234567890\""));
        assert_problem(
            &p,
            5,
            "bots[0].backend_group",
            "write backend_group = -1001234567890 (without quotes)",
        );
        let p = problem(&with("\"the support group\""));
        assert_problem(&p, 5, "bots[0].backend_group", "must be a number");
        let p = problem("[[bots]]\nname = \"shop\"\ntoken = \"${SHOP_BOT_TOKEN}\"\n");
        assert_problem(&p, 1, "bots[0].backend_group", "missing backend_group");
    }

    #[test]
    fn several_backend_groups() {
        let text = BOT.replace(
            "backend_group = -1001234567890",
            "backend_groups = [-1003, -1001234567890, -1002]",
        );
        let bot = &parse_ok(&text).bots[0];
        assert_eq!(bot.backend_groups, [-1003, -1001234567890, -1002]);
        assert!(bot.backend_groups.contains(&-1002));
        assert!(!bot.backend_groups.contains(&-1004));

        // One group in a list is the same as backend_group.
        let text = BOT.replace(
            "backend_group = -1001234567890",
            "backend_groups = [\n  -1001234567890,\n]",
        );
        assert_eq!(parse_ok(&text).bots[0].backend_groups, [-1001234567890]);

        // Bots may share groups, in either form.
        let config = parse_ok(&format!(
            "{BOT}\n[[bots]]\nname = \"b\"\ntoken = \"${{SUPPORT_BOT_TOKEN}}\"\nbackend_groups = [-1001234567890, -1002]\n"
        ));
        assert_eq!(config.bots[0].backend_groups, [-1001234567890]);
        assert_eq!(config.bots[1].backend_groups, [-1001234567890, -1002]);
    }

    #[test]
    fn backend_group_or_backend_groups() {
        let with = |groups: &str| {
            BOT.replace(
                "backend_group = -1001234567890",
                &format!("backend_groups = {groups}"),
            )
        };

        let p = problem(&format!("{BOT}backend_groups = [-1002]\n"));
        assert_problem(
            &p,
            6,
            "bots[0].backend_groups",
            "both backend_group and backend_groups are set: keep exactly one of them",
        );

        let p = problem("[[bots]]\nname = \"shop\"\ntoken = \"${SHOP_BOT_TOKEN}\"\n");
        assert_problem(&p, 1, "bots[0].backend_group", "missing backend_group");
        assert!(
            p.message.contains("or backend_groups = [...]"),
            "{}",
            p.message
        );

        let p = problem(&with("[]"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_groups",
            "empty list: give at least one group's chat id",
        );

        let p = problem(&with("-1001234567890"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_groups",
            "backend_groups must be a list of chat ids",
        );
        let p = problem(&with("\"-1001234567890\""));
        assert_problem(&p, 5, "bots[0].backend_groups", "must be a list");

        let p = problem(&BOT.replace("-1001234567890", "[-1001, -1002]"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_group",
            "backend_group is one chat id: for several groups write backend_groups = [",
        );
    }

    #[test]
    fn backend_groups_are_checked_one_by_one() {
        let with = |groups: &str| {
            BOT.replace(
                "backend_group = -1001234567890",
                &format!("backend_groups = {groups}"),
            )
        };

        let p = problem(&with("[-1001, -1002, -1001]"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_groups[2]",
            "duplicate group -1001: already listed as backend_groups[0]; list each group once",
        );
        let p = problem(&with("[\n  -1001,\n  -1002,\n  -1001,\n]"));
        assert_problem(
            &p,
            8,
            "bots[0].backend_groups[2]",
            "already listed as backend_groups[0] (line 6)",
        );

        let err = error(&with(
            "[\n  42,\n  \"-1002\",\n  -123,\n  \"x\",\n  [-1003],\n  -1004,\n]",
        ));
        let found = lines_and_keys(&err);
        assert_eq!(
            found,
            [
                (Some(6), "bots[0].backend_groups[0]"),
                (Some(7), "bots[0].backend_groups[1]"),
                (Some(8), "bots[0].backend_groups[2]"),
                (Some(9), "bots[0].backend_groups[3]"),
                (Some(10), "bots[0].backend_groups[4]"),
            ]
        );
        let messages: Vec<&str> = err.problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages[0].starts_with("42 is not a group id"),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].starts_with(
                "a chat id must be a number, not a string: write -1002 (without quotes)"
            ),
            "{}",
            messages[1]
        );
        assert!(
            messages[2].starts_with("-123 is not a supergroup id"),
            "{}",
            messages[2]
        );
        assert!(
            messages[3].starts_with("a chat id must be a number: "),
            "{}",
            messages[3]
        );
        assert!(
            messages[4].starts_with("expected a chat id, not a list"),
            "{}",
            messages[4]
        );

        let p = problem(&with("[-1001, true]"));
        assert_problem(
            &p,
            5,
            "bots[0].backend_groups[1]",
            "invalid type: boolean `true`",
        );
    }

    // --- rate limits -------------------------------------------------------

    #[test]
    fn rates_are_parsed() {
        let ms = |count: u32, millis: u64| {
            Some(Rate {
                count,
                per: Duration::from_millis(millis),
            })
        };
        for (text, expected) in [
            ("\"30/s\"", rate(30, 1)),
            ("\"20/m\"", rate(20, 60)),
            ("\"100/h\"", rate(100, 3600)),
            ("\"3/3s\"", rate(3, 3)),
            ("\"20/1m\"", rate(20, 60)),
            ("\"5/1h 30m\"", rate(5, 5400)),
            ("\"1/500ms\"", ms(1, 500)),
            ("\" 7 / 2s \"", rate(7, 2)),
            ("\"1000000/s\"", rate(MAX_RATE_COUNT, 1)),
            ("\"1/24h\"", rate(1, 86400)),
            ("\"1/1d\"", rate(1, 86400)),
            ("\"1/ms\"", ms(1, 1)),
            ("\"2/1.5s\"", ms(2, 1500)),
            ("\"off\"", None),
            ("\" OFF \"", None),
        ] {
            assert_eq!(group_limit(text), expected, "group_limit = {text}");
        }
    }

    #[test]
    fn rate_errors_name_the_key_and_line() {
        let expected = r#"expected COUNT/DURATION like "30/s", "20/m", "3/3s", or "off""#;
        for bad in [
            "20/x", "30", "30s", "/s", "30/", "abc/s", "-1/s", "+3/s", "1.5/s", "30/s/s", "3/-3s",
            "", "of", "30/S",
        ] {
            let p = problem(&format!("{BOT}group_limit = {bad:?}\n"));
            assert_eq!(
                p.message,
                format!("invalid rate {bad:?}: {expected}"),
                "group_limit = {bad:?}"
            );
            assert_eq!((p.line, p.key.as_str()), (Some(6), "bots[0].group_limit"));
        }
        let err = error(&format!("{BOT}group_limit = \"20/x\"\n"));
        assert_eq!(
            err.to_string(),
            format!(
                r#"{SOURCE}:6: bots[0].group_limit: invalid rate "20/x": expected COUNT/DURATION like "30/s", "20/m", "3/3s", or "off""#
            )
        );

        let p = problem(&format!("[defaults]\nbot_limit = \"0/s\"\n{BOT}"));
        assert_problem(
            &p,
            2,
            "defaults.bot_limit",
            r#"invalid rate "0/s": the count must be at least 1 (write "off" for no limit)"#,
        );
        let p = problem(&format!("[defaults]\nchat_limit = \"3/0s\"\n{BOT}"));
        assert_problem(
            &p,
            2,
            "defaults.chat_limit",
            r#"invalid rate "3/0s": the duration must be longer than zero (write "off" for no limit)"#,
        );
        let p = problem(&format!("{BOT}chat_limit = \"3/0ms\"\n"));
        assert_problem(&p, 6, "bots[0].chat_limit", "longer than zero");
        let p = problem(&format!("{BOT}chat_limit = \"20/60\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].chat_limit",
            r#"invalid rate "20/60": the duration needs a unit, like "20/60s" or "20/60m""#,
        );
        let p = problem(&format!("{BOT}bot_limit = \"4294967296/s\"\n"));
        assert_problem(
            &p,
            6,
            "bots[0].bot_limit",
            "the count 4294967296 is too large",
        );
        let p = problem(&format!("{BOT}bot_limit = 30\n"));
        assert_problem(
            &p,
            6,
            "bots[0].bot_limit",
            r#"a rate needs quotes and a duration: write "30/s" or "30/m""#,
        );
        let p = problem(&format!("{BOT}bot_limit = 1.5\n"));
        assert_problem(
            &p,
            6,
            "bots[0].bot_limit",
            r#"invalid type: floating point `1.5`, expected a rate like "30/s""#,
        );
        let p = problem(&format!("{BOT}bot_limit = false\n"));
        assert_problem(&p, 6, "bots[0].bot_limit", "invalid type: boolean `false`");
    }

    #[test]
    fn an_invalid_rate_is_reported_with_the_others() {
        let err = error(&format!(
            "[defaults]\nbot_limit = \"x\"\nchat_limit = \"0/s\"\ngroup_limit = \"1/0m\"\n{BOT}bot_limit = \"y\"\n"
        ));
        let keys: Vec<(Option<usize>, &str)> = err
            .problems
            .iter()
            .map(|p| (p.line, p.key.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (Some(2), "defaults.bot_limit"),
                (Some(3), "defaults.chat_limit"),
                (Some(4), "defaults.group_limit"),
                (Some(10), "bots[0].bot_limit"),
            ]
        );
    }

    #[test]
    fn rates_are_described_as_written() {
        for (rate, text) in [
            (DEFAULT_LIMITS.bot, "30/s"),
            (DEFAULT_LIMITS.chat, "3/3s"),
            (DEFAULT_LIMITS.group, "20/m"),
            (rate(100, 3600), "100/h"),
            (rate(1, 5400), "1/1h 30m"),
            (rate(2, 120), "2/2m"),
            (rate(7, 86400), "7/24h"),
        ] {
            let rate = rate.unwrap();
            assert_eq!(rate.describe(), text);
            // What describe() prints reads back as the same rate.
            assert_eq!(group_limit(&format!("{text:?}")), Some(rate), "{text}");
        }
        let half = Rate {
            count: 1,
            per: Duration::from_millis(500),
        };
        assert_eq!(half.describe(), "1/500ms");
        assert_eq!(
            Limits::OFF,
            Limits {
                bot: None,
                chat: None,
                group: None
            }
        );
    }

    #[test]
    fn bot_names() {
        let with = |name: &str| BOT.replace("\"shop\"", name);
        let p = problem(&with("\"\""));
        assert_problem(&p, 3, "bots[0].name", "empty name");
        let p = problem(&with(&format!("\"{}\"", "a".repeat(33))));
        assert_problem(&p, 3, "bots[0].name", "name is too long (33 characters)");
        assert!(parse(&with(&format!("\"{}\"", "a".repeat(32)))).is_ok());
        let p = problem(&with("\"my shop\""));
        assert_problem(
            &p,
            3,
            "bots[0].name",
            "invalid character ' ' in name \"my shop\"",
        );
        let p = problem("[[bots]]\ntoken = \"${SHOP_BOT_TOKEN}\"\nbackend_group = -1001\n");
        assert_problem(&p, 1, "bots[0].name", "missing name");
        assert!(parse(&with("\"Shop_2-b\"")).is_ok());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let text = format!(
            "{BOT}\n[[bots]]\nname = \"shop\"\ntoken = \"${{SUPPORT_BOT_TOKEN}}\"\nbackend_group = -1002\n"
        );
        let p = problem(&text);
        assert_problem(
            &p,
            8,
            "bots[1].name",
            "duplicate bot name \"shop\": already used by bots[0] (line 3)",
        );
    }

    #[test]
    fn no_bots() {
        let err = error("database = \"x.db\"\n");
        assert_eq!(
            err.to_string(),
            format!(
                "{SOURCE}: bots: no bots configured: add at least one [[bots]] table with name, token and backend_group"
            )
        );
        let p = problem("bots = []\n");
        assert_eq!((p.line, p.key.as_str()), (None, "bots"));
        let p = problem("");
        assert_eq!(p.key, "bots");
    }

    #[test]
    fn bad_listen_address() {
        for bad in [
            "localhost:8081",
            ":8081",
            "127.0.0.1",
            "127.0.0.1:99999",
            "",
        ] {
            let p = problem(&format!("[http]\nlisten = {bad:?}\n{BOT}"));
            assert_problem(
                &p,
                2,
                "http.listen",
                &format!("invalid address {bad:?}: expected an IP address and port"),
            );
        }
    }

    #[test]
    fn bad_api_url() {
        for bad in [
            "api.telegram.org",
            "ftp://api.telegram.org",
            "https://",
            "https:///x",
            "https://api telegram.org",
            "https://x.org/?a=1",
        ] {
            let p = problem(&format!("api_url = {bad:?}\n{BOT}"));
            assert_problem(&p, 1, "api_url", "invalid api_url");
            assert!(p.message.contains("http:// or https://"), "{}", p.message);
        }
        let p = problem(&format!(
            "api_url = \"https://api.telegram.org/bot{SHOP_TOKEN}\"\n{BOT}"
        ));
        assert_problem(&p, 1, "api_url", "without /bot<token>");
        let config = parse_ok(&format!("api_url = \"https://example.org/tg///\"\n{BOT}"));
        assert_eq!(config.api_url, "https://example.org/tg");
    }

    #[test]
    fn welcome_and_keywords() {
        let p = problem(&format!("[defaults]\nwelcome = \"\"\n{BOT}"));
        assert_problem(
            &p,
            2,
            "defaults.welcome",
            r#"empty welcome text: write welcome = "off""#,
        );
        let p = problem(&format!("{BOT}welcome = \"  \\n \"\n"));
        assert_problem(&p, 6, "bots[0].welcome", "empty welcome text");
        let p = problem(&format!("{BOT}welcome = \"{}\"\n", "x".repeat(4097)));
        assert_problem(&p, 6, "bots[0].welcome", "too long (4097 characters");
        // 2,049 emoji are 4,098 UTF-16 code units: too long for Telegram.
        let p = problem(&format!("{BOT}welcome = \"{}\"\n", "😀".repeat(2049)));
        assert_problem(&p, 6, "bots[0].welcome", "too long (4098 characters");
        parse_ok(&format!("{BOT}welcome = \"{}\"\n", "😀".repeat(2048)));
        let p = problem(&format!("{BOT}private_keywords = [\"help\", \" \"]\n"));
        assert_problem(&p, 6, "bots[0].private_keywords[1]", "empty keyword");
        let config = parse_ok(&format!("{BOT}welcome = \" Off \"\n"));
        assert_eq!(config.bots[0].settings.welcome, None);
    }

    // --- the report as a whole ------------------------------------------------

    #[test]
    fn several_problems_are_reported_at_once_in_file_order() {
        let err = error(
            r#"poll_timeout = "2m"
api_url = "telegram"

[http]
listen = "nowhere"

[defaults]
welcome = ""

[[bots]]
name = "shop"
token = "${NOT_SET}"
backend_group = 42
mode = "proxy"
autoclose = "4x"

[[bots]]
name = "shop"
private_keywords = [""]
"#,
        );
        let found = lines_and_keys(&err);
        assert_eq!(
            found,
            [
                (Some(1), "poll_timeout"),
                (Some(2), "api_url"),
                (Some(5), "http.listen"),
                (Some(8), "defaults.welcome"),
                (Some(12), "bots[0].token"),
                (Some(13), "bots[0].backend_group"),
                (Some(14), "bots[0].mode"),
                (Some(15), "bots[0].autoclose"),
                (Some(17), "bots[1].token"),
                (Some(17), "bots[1].backend_group"),
                (Some(18), "bots[1].name"),
                (Some(19), "bots[1].private_keywords[0]"),
            ]
        );
        let display = err.to_string();
        assert_eq!(display.lines().count(), 12);
        assert!(
            display
                .lines()
                .all(|line| line.starts_with(&format!("{SOURCE}:")))
        );
    }

    #[test]
    fn tokens_never_leak() {
        let cases = [
            // A valid token next to other problems.
            format!("{BOT}autoclose = \"4x\"\n"),
            // Malformed tokens.
            BOT.replace("${SHOP_BOT_TOKEN}", "123456:AAHshopSECRET with spaces"),
            BOT.replace("${SHOP_BOT_TOKEN}", "AAHshopSECRETshopSECRET"),
            BOT.replace("${SHOP_BOT_TOKEN}", "bot123456:AAHshopSECRET"),
            BOT.replace("${SHOP_BOT_TOKEN}", "${ID}:AAHshopSECRET!"),
            // A token written where it does not belong.
            BOT.replace("\"shop\"", &format!("{SHOP_TOKEN:?}")),
            BOT.replace("-1001234567890", &format!("{SHOP_TOKEN:?}")),
            format!("api_url = \"https://x.org/bot{SHOP_TOKEN}\"\n{BOT}"),
            format!("api_url = \"x.org/{SHOP_TOKEN}\"\n{BOT}"),
            format!("{BOT}mode = {SHOP_TOKEN:?}\n"),
            format!("{BOT}autoclose = {SHOP_TOKEN:?}\n"),
            format!("[http]\nlisten = {SHOP_TOKEN:?}\n{BOT}"),
            format!("{BOT}{SHOP_TOKEN:?} = 1\n"),
            format!("{BOT}token_file = {SHOP_TOKEN:?}\n"),
            BOT.replace(
                r#"token = "${SHOP_BOT_TOKEN}""#,
                &format!("token_file = {SHOP_TOKEN:?}"),
            ),
            // The same token twice.
            format!(
                "{BOT}\n[[bots]]\nname = \"b\"\ntoken = \"{SHOP_TOKEN}\"\nbackend_group = -1002\n"
            ),
            // Syntax and type errors around a token.
            BOT.replace("\"${SHOP_BOT_TOKEN}\"", SHOP_TOKEN),
            BOT.replace("\"${SHOP_BOT_TOKEN}\"", &format!("\"{SHOP_TOKEN}")),
            BOT.replace("\"${SHOP_BOT_TOKEN}\"", &format!("[\"{SHOP_TOKEN}\"]")),
            BOT.replace(
                "\"${SHOP_BOT_TOKEN}\"",
                &format!("{{ value = \"{SHOP_TOKEN}\" }}"),
            ),
            format!("{BOT}silent_mode = {SHOP_TOKEN:?}\n"),
            format!("{BOT}chat_limit = {SHOP_TOKEN:?}\n"),
            format!("{BOT}chat_limit = \"3/{SHOP_TOKEN}\"\n"),
            format!("{BOT}chat_limit = \"{SHOP_TOKEN}/s\"\n"),
            BOT.replace(
                "backend_group = -1001234567890",
                &format!("backend_groups = [-1001, {SHOP_TOKEN:?}]"),
            ),
            BOT.replace(
                "backend_group = -1001234567890",
                &format!("backend_groups = {SHOP_TOKEN:?}"),
            ),
        ];
        for text in &cases {
            // `error` checks Display and Debug of the error.
            let err = error(text);
            assert!(!err.problems.is_empty());
        }

        let config = parse_ok(BOT);
        assert_no_secret(&config.describe());
        assert_no_secret(&format!("{config:?}"));
        assert_no_secret(&format!("{:?}", config.bots[0]));
        assert_no_secret(&config.bots[0].token.to_string());

        // Even a token pasted into free text is masked in `check` output.
        let config = parse_ok(&format!("{BOT}welcome = \"call {SHOP_TOKEN}\"\n"));
        assert!(config.describe().contains("call 123456:***"));
        assert_no_secret(&config.describe());
    }

    #[test]
    fn describe_shows_every_resolved_value() {
        let config = parse_ok(&format!(
            "[defaults]\nwelcome = \"off\"\nautoclose = \"1h 30m\"\n{BOT}\n[[bots]]\nname = \"support\"\ntoken = \"${{SUPPORT_BOT_TOKEN}}\"\nbackend_groups = [-1002, -1003]\nwelcome = \"Hi\\nthere\"\nprivate_keywords = [\"help\", \"order\"]\nautoclose = \"off\"\nsilent_mode = true\nbot_limit = \"off\"\nchat_limit = \"5/1h 30m\"\n"
        ));
        let text = config.describe();
        for expected in [
            "file:               /etc/switchboard/bots.toml",
            "database:           /etc/switchboard/switchboard.db",
            "api_url:            https://api.telegram.org",
            "poll_timeout:       30s",
            "http.listen:        127.0.0.1:8081",
            "bot \"shop\"",
            "  token:              123456:***",
            "  backend_group:      -1001234567890",
            "  mode:               standalone",
            "  welcome:            off",
            "  private_keywords:   (none: any message opens a dialog)",
            "  autoclose:          1h 30m after the last operator reply",
            "  silent_mode:        false",
            "  intercept_external: true (no effect in standalone mode)",
            "  bot_limit:          30/s (all chats together)",
            "  chat_limit:         3/3s (into each private chat)",
            "  group_limit:        20/m (into each group, all topics together)",
            "bot \"support\"",
            "  token:              654321:***",
            "  backend_groups:     -1002, -1003 (new dialogs go to the least busy)",
            "  welcome:            \"Hi\\nthere\"",
            "  private_keywords:   \"help\", \"order\"",
            "  autoclose:          off",
            "  silent_mode:        true",
            "  bot_limit:          off\n",
            "  chat_limit:         5/1h 30m (into each private chat)",
        ] {
            assert!(
                text.contains(expected),
                "describe() lacks {expected:?}:\n{text}"
            );
        }
        assert_no_secret(&text);
    }

    #[test]
    fn load_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bots.toml");
        fs::write(dir.path().join("shop.token"), SHOP_TOKEN).unwrap();
        fs::write(
            &path,
            BOT.replace(
                r#"token = "${SHOP_BOT_TOKEN}""#,
                r#"token_file = "shop.token""#,
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.source, path);
        assert_eq!(config.database, dir.path().join("switchboard.db"));
        assert_eq!(config.bots[0].token.expose(), SHOP_TOKEN);
    }

    #[test]
    fn load_reports_a_missing_or_unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let err = Config::load(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot read file: No such file or directory",
                path.display()
            )
        );
        assert_eq!(err.problems[0].line, None);

        fs::write(&path, b"name = \"\xff\"\n").unwrap();
        let err = Config::load(&path).unwrap_err();
        assert_eq!(
            err.problems[0].message,
            "cannot read file: not valid UTF-8 text"
        );

        let err = Config::load(dir.path()).unwrap_err();
        assert!(
            err.problems[0].message.starts_with("cannot read file: "),
            "{err}"
        );
    }

    #[test]
    fn durations_are_shown_as_written() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(DEFAULT_AUTOCLOSE), "48h");
        assert_eq!(format_duration(Duration::from_secs(7 * 86400)), "168h");
        assert_eq!(format_duration(Duration::from_secs(5430)), "1h 30m 30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s 500ms");
        for text in ["48h", "1h 30m", "1h 30m 30s", "1s 500ms", "0s"] {
            let parsed = humantime::parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
    }

    #[test]
    fn masking_keeps_ordinary_text() {
        assert_eq!(
            mask_tokens("127.0.0.1:8081 and [::1]:8081"),
            "127.0.0.1:8081 and [::1]:8081"
        );
        assert_eq!(mask_tokens("open 10:30-18:00"), "open 10:30-18:00");
        assert_eq!(mask_tokens(SHOP_TOKEN), "123456:***");
        assert_eq!(
            mask_tokens(&format!("/bot{SHOP_TOKEN}/getMe")),
            "/bot123456:***/getMe"
        );
        assert_eq!(mask_tokens("ünïcödé 1:ABCDEFGHIJ é"), "ünïcödé 1:*** é");
    }

    #[test]
    fn no_input_panics() {
        let inputs = [
            "\u{feff}",
            "[[bots]]\n[[bots]]\n",
            "bots = [1, \"x\", []]",
            "bots = [{}]",
            "http = 1\ndefaults = []",
            "[defaults]\nprivate_keywords = \"help\"",
            "[[bots]]\nbackend_group = 99999999999999999999",
            "[[bots]]\nbackend_group = 1.5",
            "poll_timeout = 1e400",
            "poll_timeout = \"99999999999999999999999y\"",
            "[[bots]]\ntoken = \"${\"\n",
            "[[bots]]\ntoken = \"${}\"\n",
            "[[bots]]\ntoken = \"}${\"\n",
            "a.b.c = 1\n[x.y]\nz = [{q = 1}]",
            "[[bots]]\nbackend_groups = [[[]], {a = 1}]",
            "[[bots]]\nbackend_groups = [99999999999999999999]",
            "[[bots]]\nbackend_group = [[1], \"x\"]",
            "[[bots]]\nbackend_groups = {}",
            "[defaults]\nbot_limit = \"1/99999999999999999999y\"",
            "[defaults]\nbot_limit = \"99999999999999999999999/s\"",
            "[defaults]\nbot_limit = \"/\"\nchat_limit = \"é/ü\"\ngroup_limit = -1",
            "[defaults]\nautoclose = \"18446744073709551615s 1000ms\"",
            "poll_timeout = \"18446744073709551615s 500ms 500ms\"",
            "[defaults]\nbot_limit = \"1/18446744073709551615s 1000ms\"",
            "[defaults]\nbot_limit = \"1/10000000000000000000s\"",
        ];
        for text in inputs {
            let _ = parse(text);
            let _ = Config::parse_for_run(text, Path::new(SOURCE), &env);
        }
    }

    // --- bounds of durations and rates ---------------------------------------

    /// Inputs on which humantime 2.4 itself panics ("overflow in
    /// Duration::new"): a sum that reaches u64::MAX seconds, plus a carry.
    const HUMANTIME_PANICS: &[&str] = &[
        "18446744073709551615s 1000ms",
        "18446744073709551615s 500ms 500ms",
        "18446744073709551615 s 1000 ms",
    ];

    #[test]
    fn bounds_are_written_as_documented() {
        let parsed = |text: &str| humantime::parse_duration(text).unwrap();
        assert_eq!(MAX_AUTOCLOSE, parsed("366d"));
        assert_eq!(format_duration(MAX_AUTOCLOSE), "8784h");
        assert!(MAX_AUTOCLOSE >= parsed("1y") && MAX_AUTOCLOSE >= parsed("12M"));
        assert_eq!(format_duration(MIN_AUTOCLOSE), "1m");
        assert_eq!(format_duration(MIN_RATE_WINDOW), "1ms");
        assert_eq!(format_duration(MAX_RATE_WINDOW), "24h");
        assert_eq!(MAX_RATE_COUNT, 1_000_000);
    }

    #[test]
    fn the_rate_that_killed_a_sender_is_a_problem() {
        let p = problem(&format!("{BOT}bot_limit = \"1/10000000000000000000s\"\n"));
        assert_eq!(p.line, Some(6));
        assert_eq!(p.key, "bots[0].bot_limit");
        assert_eq!(
            p.message,
            r#"invalid rate "1/10000000000000000000s": the duration "10000000000000000000s" is too long: expected 1ms to 24h"#
        );
        let p = problem(&format!(
            "[defaults]\nbot_limit = \"1/10000000000000000000s\"\n{BOT}"
        ));
        assert_problem(
            &p,
            2,
            "defaults.bot_limit",
            "is too long: expected 1ms to 24h",
        );
    }

    #[test]
    fn rate_windows_and_counts_are_bounded() {
        let cases = [
            (
                "1/25h",
                r#"the duration "25h" is too long: expected 1ms to 24h"#,
            ),
            ("1/24h 1ns", "is too long: expected 1ms to 24h"),
            ("1/d 1s", "is too long"),
            ("1/w", r#"the duration "w" is too long"#),
            ("1/y", "is too long"),
            (
                "1/999us",
                r#"the duration "999us" is too short: expected 1ms to 24h"#,
            ),
            ("1/1ns", "is too short"),
            ("1/0.5ms", "is too short"),
            ("1/us", r#"the duration "us" is too short"#),
            (
                "1/99999999999999999999y",
                r#"the duration "99999999999999999999y" is out of range: expected 1ms to 24h"#,
            ),
            ("1/86400000000001ns", "is too long"),
            ("1/18446744073709551615s", "is too long"),
            ("1/0.0000000001s", "is out of range"),
            (
                "1000001/s",
                "the count 1000001 is too large: expected 1 to 1000000 messages per window",
            ),
            ("4294967295/s", "the count 4294967295 is too large"),
            ("99999999999999999999999/s", "is too large"),
        ];
        for (text, message) in cases {
            let p = problem(&format!("{BOT}chat_limit = {text:?}\n"));
            assert_problem(&p, 6, "bots[0].chat_limit", message);
            assert!(
                p.message.starts_with(&format!("invalid rate {text:?}: ")),
                "{}",
                p.message
            );
        }
        for text in HUMANTIME_PANICS {
            let p = problem(&format!("{BOT}chat_limit = \"1/{text}\"\n"));
            assert_problem(&p, 6, "bots[0].chat_limit", "is out of range");
        }
        // The bounds themselves are accepted.
        assert_eq!(group_limit("\"1000000/24h\""), rate(1_000_000, 86400));
        assert_eq!(
            group_limit("\"1/1ms\""),
            Some(Rate {
                count: 1,
                per: MIN_RATE_WINDOW
            })
        );
    }

    #[test]
    fn autoclose_is_bounded() {
        for (text, expected) in [
            ("366d", MAX_AUTOCLOSE),
            ("1y", Duration::from_secs(31_557_600)),
            ("12M", Duration::from_secs(12 * 2_630_016)),
            ("52w", Duration::from_secs(52 * 7 * 86400)),
        ] {
            let config = parse_ok(&format!("{BOT}autoclose = {text:?}\n"));
            assert_eq!(config.bots[0].settings.autoclose, Some(expected), "{text}");
        }
        let p = problem(&format!("{BOT}autoclose = \"367d\"\n"));
        assert_eq!(
            p.message,
            r#"8808h is too long: expected 1m to 366d (8784h), or "off" to never close dialogs by themselves"#
        );
        for text in [
            "366d 1s",
            "2y",
            "10000000000000000000s",
            "1 000 000 000 000 s",
        ] {
            let p = problem(&format!("[defaults]\nautoclose = {text:?}\n{BOT}"));
            assert_problem(
                &p,
                2,
                "defaults.autoclose",
                "is too long: expected 1m to 366d",
            );
        }
        for text in HUMANTIME_PANICS
            .iter()
            .chain(&["99999999999999999999999y", "18446744073709551615s 1s"])
        {
            let p = problem(&format!("{BOT}autoclose = {text:?}\n"));
            assert_eq!(
                p.message,
                format!(
                    r#"invalid duration {text:?}: out of range; expected a duration like "30s", "15m", "48h", or "off""#
                )
            );
        }
        // Out of range, but not a duration anyway: said as such.
        let p = problem(&format!(
            "{BOT}autoclose = \"18446744073709551615s 1000 parsecs\"\n"
        ));
        assert_problem(&p, 6, "bots[0].autoclose", "invalid duration");
        assert!(
            p.message
                .ends_with(r#"expected a duration like "30s", "15m", "48h", or "off""#)
        );
        assert!(!p.message.contains("out of range"), "{}", p.message);
    }

    #[test]
    fn poll_timeout_overflow_is_a_problem() {
        for text in HUMANTIME_PANICS
            .iter()
            .chain(&["10000000000000000000s", "99999999999999999999999y"])
        {
            let p = problem(&format!("poll_timeout = {text:?}\n{BOT}"));
            assert_eq!((p.line, p.key.as_str()), (Some(1), "poll_timeout"));
            assert!(
                p.message.contains("out of range") || p.message.contains("is too long"),
                "{}",
                p.message
            );
        }
    }

    #[test]
    fn durations_are_cut_into_terms_as_humantime_reads_them() {
        for (text, terms) in [
            ("48h", &["48h"][..]),
            ("1h 30m", &["1h ", "30m"]),
            ("1h30m15s", &["1h", "30m", "15s"]),
            ("1 000 s", &["1 000 s"]),
            ("1.5h 2 m", &["1.5h ", "2 m"]),
            ("1µs2ns", &["1µs", "2ns"]),
            ("", &[""]),
            ("h1", &["h", "1"]),
        ] {
            assert_eq!(duration_terms(text), terms, "{text:?}");
        }
        // A bare "0" is zero only as the whole text, as in humantime.
        assert!(matches!(parse_humantime("0"), Ok(Duration::ZERO)));
        assert!(matches!(parse_humantime("1h0"), Err(BadDuration::Invalid)));
        assert!(humantime::parse_duration("1h0").is_err());
    }

    #[test]
    fn format_duration_is_exact_below_a_millisecond() {
        for text in ["1ms 500us", "1s 1ns", "1h 1ms 1us 1ns", "999us", "1ns"] {
            let parsed = humantime::parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
        let rate = Rate {
            count: 2,
            per: Duration::from_micros(1500),
        };
        assert_eq!(rate.describe(), "2/1ms 500us");
        // More digits than were typed still read back (proptest found it).
        let typed = humantime::parse_duration("4200d 100100ns").unwrap();
        assert_eq!(format_duration(typed), "100800h 100us 100ns");
        assert!(matches!(parse_humantime("100800h 100us 100ns"), Ok(d) if d == typed));
        assert_eq!(group_limit("\"2/1ms 500us\""), Some(rate));
    }

    // --- run: one bad bot does not stop the others ----------------------------

    /// A second bot, valid; appended to `BOT` it spans lines 6 to 10.
    const SUPPORT: &str = r#"
[[bots]]
name = "support"
token = "${SUPPORT_BOT_TOKEN}"
backend_group = -1009876543210
"#;

    fn parse_for_run(text: &str) -> Result<Loaded, ConfigError> {
        Config::parse_for_run(text, Path::new(SOURCE), &env)
    }

    fn names_of(config: &Config) -> Vec<&str> {
        config.bots.iter().map(|bot| bot.name.as_str()).collect()
    }

    #[track_caller]
    fn loaded(text: &str) -> Loaded {
        match parse_for_run(text) {
            Ok(loaded) => {
                for bot in &loaded.invalid {
                    assert_no_secret(&bot.problems.to_string());
                    assert_no_secret(&format!("{bot:?}"));
                }
                loaded
            }
            Err(err) => panic!("expected bots to run, got:\n{err}"),
        }
    }

    /// The error of a file `run` refuses: the same as `check`'s.
    #[track_caller]
    fn run_error(text: &str) -> ConfigError {
        match parse_for_run(text) {
            Ok(loaded) => panic!("expected run to refuse, got {loaded:?}"),
            Err(err) => {
                assert_eq!(err, error(text), "run and check report the same");
                err
            }
        }
    }

    /// With `shop` valid and `support` as given: `check` fails, `run`
    /// starts shop and sets the other bot aside with exactly the problems
    /// `check` reports.
    #[track_caller]
    fn set_aside(support: &str, label: &str) -> InvalidBot {
        let text = format!("{BOT}{support}");
        let loaded = loaded(&text);
        assert_eq!(names_of(&loaded.config), ["shop"]);
        assert_eq!(loaded.config.bots[0].token.expose(), SHOP_TOKEN);
        assert_eq!(loaded.invalid.len(), 1, "{:?}", loaded.invalid);
        let invalid = loaded.invalid[0].clone();
        assert_eq!(invalid.label, label);
        assert_eq!(invalid.problems, error(&text));
        invalid
    }

    #[test]
    fn run_starts_every_bot_of_a_valid_file() {
        let text = format!("{BOT}{SUPPORT}");
        let loaded = loaded(&text);
        assert!(loaded.invalid.is_empty());
        assert_eq!(names_of(&loaded.config), ["shop", "support"]);
        let strict = parse_ok(&text);
        assert_eq!(format!("{:?}", loaded.config), format!("{strict:?}"));
    }

    #[test]
    fn run_sets_aside_a_bot_whose_variable_is_unset() {
        let invalid = set_aside(&SUPPORT.replace("SUPPORT_BOT_TOKEN", "NOT_SET"), "support");
        assert_eq!(
            invalid.problems.to_string(),
            format!("{SOURCE}:9: bots[1].token: environment variable NOT_SET is not set")
        );
        // The first bot, or the only one, just the same.
        let text = format!("{}{SUPPORT}", BOT.replace("SHOP_BOT_TOKEN", "NOT_SET"));
        let loaded = loaded(&text);
        assert_eq!(names_of(&loaded.config), ["support"]);
        assert_eq!(loaded.invalid[0].label, "shop");
        assert_eq!(
            loaded.invalid[0].problems.to_string(),
            format!("{SOURCE}:4: bots[0].token: environment variable NOT_SET is not set")
        );
    }

    #[test]
    fn run_sets_aside_a_bot_whose_token_file_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bots.toml");
        let text = format!(
            "{BOT}{}",
            SUPPORT.replace(
                r#"token = "${SUPPORT_BOT_TOKEN}""#,
                r#"token_file = "missing.token""#
            )
        );
        let loaded = Config::parse_for_run(&text, &source, &env).unwrap();
        assert_eq!(names_of(&loaded.config), ["shop"]);
        let invalid = &loaded.invalid[0];
        assert_eq!(invalid.label, "support");
        assert_eq!(invalid.problems.source, source);
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(9), "bots[1].token_file")]
        );
        assert!(
            invalid.problems.problems[0]
                .message
                .starts_with("cannot read token file"),
            "{}",
            invalid.problems
        );
    }

    #[test]
    fn run_sets_aside_a_bot_with_a_bad_value() {
        let invalid = set_aside(&SUPPORT.replace("-1009876543210", "42"), "support");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(10), "bots[1].backend_group")]
        );
        let invalid = set_aside(&format!("{SUPPORT}mode = \"proxy\"\n"), "support");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(11), "bots[1].mode")]
        );
        // A bad setting leaves the bot complete (the default is kept while
        // checking), but it must not run with a value it did not ask for.
        let invalid = set_aside(&format!("{SUPPORT}autoclose = \"4x\"\n"), "support");
        assert_eq!(
            invalid.problems.to_string(),
            format!(
                r#"{SOURCE}:11: bots[1].autoclose: invalid duration "4x": expected a duration like "30s", "15m", "48h", or "off""#
            )
        );
        set_aside(
            &format!("{SUPPORT}chat_limit = \"1/10000000000000000000s\"\n"),
            "support",
        );
        set_aside(&format!("{SUPPORT}welcome = \"\"\n"), "support");
        // Every problem of the table is listed, in the order of the file.
        let invalid = set_aside(
            &format!(
                "{}autoclose = \"4x\"\n",
                SUPPORT.replace("SUPPORT_BOT_TOKEN", "NOT_SET")
            ),
            "support",
        );
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(9), "bots[1].token"), (Some(11), "bots[1].autoclose")]
        );
    }

    #[test]
    fn run_sets_aside_a_bot_with_an_unknown_key() {
        let invalid = set_aside(&format!("{SUPPORT}mood = \"happy\"\n"), "support");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(11), "bots[1].mood")]
        );
        // Even one shaped like a token: masked.
        let invalid = set_aside(&format!("{SUPPORT}{SHOP_TOKEN:?} = 1\n"), "support");
        assert!(invalid.problems.to_string().contains("123456:***"));
    }

    #[test]
    fn run_sets_aside_the_second_of_two_bots_with_one_name_or_token() {
        let invalid = set_aside(&SUPPORT.replace("\"support\"", "\"shop\""), "bots[1]");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(8), "bots[1].name")]
        );
        let invalid = set_aside(
            &SUPPORT.replace("SUPPORT_BOT_TOKEN", "SHOP_BOT_TOKEN"),
            "support",
        );
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(9), "bots[1].token")]
        );

        // A name stays taken by the first table that claims it, even when
        // that table is invalid itself: the second never runs in its place.
        let text = format!(
            "{}{}\n[[bots]]\nname = \"third\"\ntoken = \"123:AAHthirdtoken\"\nbackend_group = -1003\n",
            BOT.replace("SHOP_BOT_TOKEN", "NOT_SET"),
            SUPPORT.replace("\"support\"", "\"shop\""),
        );
        let loaded = loaded(&text);
        assert_eq!(names_of(&loaded.config), ["third"]);
        let labels: Vec<&str> = loaded.invalid.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["shop", "bots[1]"]);
    }

    #[test]
    fn an_invalid_name_is_labelled_by_index() {
        let invalid = set_aside(&SUPPORT.replace("\"support\"", "\"my support\""), "bots[1]");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [(Some(8), "bots[1].name")]
        );
        let invalid = set_aside("\n[[bots]]\ntoken = \"${SUPPORT_BOT_TOKEN}\"\n", "bots[1]");
        assert_eq!(
            lines_and_keys(&invalid.problems),
            [
                (Some(7), "bots[1].name"),
                (Some(7), "bots[1].backend_group")
            ]
        );
    }

    #[test]
    fn run_refuses_a_problem_outside_the_bot_tables() {
        let bots = format!("{BOT}{SUPPORT}");
        for text in [
            // Syntax.
            format!("{bots}welcome = \"unterminated\n"),
            // A value of the wrong type, even inside a bot's table: the
            // file cannot be read reliably past it.
            format!("{bots}silent_mode = \"yes\"\n"),
            format!("[defaults]\nsilent_mode = \"yes\"\n{bots}"),
            // Top level, [http], [defaults].
            format!("poll_timeout = \"51s\"\n{bots}"),
            format!("database = \"\"\n{bots}"),
            format!("api_url = \"telegram\"\n{bots}"),
            format!("colour = \"blue\"\n{bots}"),
            format!("[http]\nlisten = \"nowhere\"\n{bots}"),
            format!("[http]\nlistn = \"127.0.0.1:1\"\n{bots}"),
            format!("[defaults]\nautoclose = \"4x\"\n{bots}"),
            format!("[defaults]\nbot_limit = \"1/10000000000000000000s\"\n{bots}"),
            format!("[defaults]\nwelcom = \"hi\"\n{bots}"),
            // No bots at all, or [bots] for [[bots]].
            String::new(),
            "[bots]\nname = \"shop\"\n".to_owned(),
        ] {
            run_error(&text);
        }
        // Reported with the bots' problems too, like `check` does.
        let err = run_error(&format!(
            "poll_timeout = \"51s\"\n{BOT}{}",
            SUPPORT.replace("SUPPORT_BOT_TOKEN", "NOT_SET")
        ));
        assert_eq!(
            lines_and_keys(&err),
            [(Some(1), "poll_timeout"), (Some(10), "bots[1].token")]
        );
    }

    #[test]
    fn run_refuses_when_no_bot_is_valid() {
        let err = run_error(&BOT.replace("SHOP_BOT_TOKEN", "NOT_SET"));
        assert_eq!(lines_and_keys(&err), [(Some(4), "bots[0].token")]);
        let err = run_error(&format!(
            "{}{}",
            BOT.replace("-1001234567890", "42"),
            SUPPORT
                .replace("\"support\"", "\"shop\"")
                .replace("SUPPORT_BOT_TOKEN", "NOT_SET")
        ));
        assert_eq!(
            lines_and_keys(&err),
            [
                (Some(5), "bots[0].backend_group"),
                (Some(8), "bots[1].name"),
                (Some(9), "bots[1].token"),
            ]
        );
    }

    #[test]
    fn load_for_run_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bots.toml");
        let err = Config::load_for_run(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot read file: No such file or directory",
                path.display()
            )
        );
        fs::write(dir.path().join("shop.token"), SHOP_TOKEN).unwrap();
        let text = format!(
            "{}\n[[bots]]\nname = \"broken\"\ntoken_file = \"missing.token\"\nbackend_group = -1002\n",
            BOT.replace(
                r#"token = "${SHOP_BOT_TOKEN}""#,
                r#"token_file = "shop.token""#
            )
        );
        fs::write(&path, text).unwrap();
        let loaded = Config::load_for_run(&path).unwrap();
        assert_eq!(loaded.config.source, path);
        assert_eq!(names_of(&loaded.config), ["shop"]);
        assert_eq!(loaded.invalid[0].label, "broken");
        assert!(Config::load(&path).is_err(), "check still fails");
    }

    /// Properties over generated input: the parsers never panic, and what
    /// they accept is within the documented bounds.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Text shaped like a duration, with numbers of any size, so that
        /// humantime's arithmetic (and its overflow) is reached.
        fn duration_like() -> impl Strategy<Value = String> {
            let terms = prop::collection::vec(
                "[0-9]{1,21}(\\.[0-9]{1,12})?( ?)(ns|us|ms|s|m|h|d|w|M|y|min|hours)",
                1..4,
            )
            .prop_map(|terms| terms.join(" "));
            // Sums that end at or near u64::MAX seconds, where humantime
            // panics on its own.
            let near_max = (
                "1844674407370955161[0-5] ?s",
                prop::collection::vec("[0-9 ]{1,5}(ns|us|ms|s)", 1..3),
            )
                .prop_map(|(max, rest)| format!("{max} {}", rest.join(" ")));
            prop_oneof![terms, near_max]
        }

        /// Like [`duration_like`], with small numbers: humantime itself is
        /// safe on these (its sums stay far from u64::MAX).
        fn small_duration_like() -> impl Strategy<Value = String> {
            prop::collection::vec(
                "[0-9 ]{0,3}(\\.[0-9]{1,2})?[ .]?(ns|us|µs|ms|s|m|h|d|w|M|y|x|)[ ]{0,2}",
                1..4,
            )
            .prop_map(|terms| terms.concat())
        }

        fn rate_like() -> impl Strategy<Value = String> {
            let per = prop_oneof![
                duration_like(),
                "(ns|us|ms|s|m|h|d|w|M|y)".prop_map(String::from)
            ];
            ("[0-9]{1,12}", per).prop_map(|(count, per)| format!("{count}/{per}"))
        }

        /// `text` as a TOML string.
        fn toml_string(text: &str) -> String {
            toml::Value::String(text.to_owned()).to_string()
        }

        proptest! {
            #[test]
            fn rates_never_panic_and_stay_in_bounds(
                text in prop_oneof![any::<String>(), rate_like()]
            ) {
                if let Ok(Some(rate)) = parse_rate(&RawRate::Text(text.clone())) {
                    prop_assert!((1..=MAX_RATE_COUNT).contains(&rate.count), "{text:?}");
                    prop_assert!(
                        (MIN_RATE_WINDOW..=MAX_RATE_WINDOW).contains(&rate.per),
                        "{text:?}"
                    );
                    // What `check` shows reads back as the same rate.
                    prop_assert_eq!(parse_rate(&RawRate::Text(rate.describe())), Ok(Some(rate)));
                }
                let limit = parse(&format!("{BOT}bot_limit = {}\n", toml_string(&text)));
                if let Ok(config) = limit {
                    let rate = config.bots[0].settings.limits.bot;
                    prop_assert!(rate.is_none_or(|rate| rate.count <= MAX_RATE_COUNT
                        && (MIN_RATE_WINDOW..=MAX_RATE_WINDOW).contains(&rate.per)));
                }
            }

            #[test]
            fn durations_never_panic_and_stay_in_bounds(
                text in prop_oneof![any::<String>(), duration_like()]
            ) {
                if let Ok(Some(duration)) = parse_duration(&RawDuration::Text(text.clone()), true) {
                    // Exact: what `check` shows reads back as the same duration.
                    let shown = RawDuration::Text(format_duration(duration));
                    prop_assert_eq!(parse_duration(&shown, true), Ok(Some(duration)));
                }
                let value = toml_string(&text);
                if let Ok(config) = parse(&format!("{BOT}autoclose = {value}\n")) {
                    let autoclose = config.bots[0].settings.autoclose;
                    prop_assert!(
                        autoclose.is_none_or(|after| (MIN_AUTOCLOSE..=MAX_AUTOCLOSE).contains(&after)),
                        "{text:?}"
                    );
                }
                if let Ok(config) = parse(&format!("poll_timeout = {value}\n{BOT}")) {
                    prop_assert!(config.poll_timeout <= MAX_POLL_TIMEOUT, "{text:?}");
                }
            }

            #[test]
            fn terms_are_cut_as_humantime_reads_them(
                text in prop_oneof![any::<String>(), small_duration_like()]
            ) {
                // With few digits humantime cannot reach its panic.
                prop_assume!(text.bytes().filter(u8::is_ascii_digit).count() <= 11);
                let whole = humantime::parse_duration(&text);
                match parse_humantime(&text) {
                    Ok(duration) => prop_assert_eq!(whole, Ok(duration), "{:?}", text),
                    Err(BadDuration::OutOfRange) => prop_assert_eq!(
                        whole,
                        Err(humantime::DurationError::NumberOverflow),
                        "{:?}",
                        text
                    ),
                    Err(BadDuration::Invalid) => prop_assert!(
                        whole.is_err() && whole != Err(humantime::DurationError::NumberOverflow),
                        "{:?}: {:?}",
                        text,
                        whole
                    ),
                }
            }

            #[test]
            fn no_file_panics(text in any::<String>()) {
                let _ = parse(&text);
                let _ = parse_for_run(&format!("{BOT}{text}"));
            }
        }
    }
}
