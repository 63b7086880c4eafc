//! Raw -> checked (step 3 of the module doc), collecting every problem.
//!
//! The [`Resolver`] runs all three steps: it parses the text, drops the
//! unknown keys (each a problem, see `hints.rs`), deserializes the rest into
//! the raw structs, then checks each value and turns it into its checked
//! type. A bad value is reported and replaced by its default (or the bot
//! left incomplete), never returned early, so one run lists every problem
//! of the file.
//!
//! Each problem is recorded with the `[[bots]]` table it is confined to, if
//! any ([`Found`]): `switchboard run` sets aside the bots whose tables have
//! problems and runs the others, while a problem outside the bot tables
//! stops everything. A name or a token already used by an earlier table is
//! a problem of the later one: the first table keeps it, even when that
//! table is invalid itself.

use std::borrow::Borrow;
use std::fs;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::checks::{
    ModeName, check_api_url, check_database, check_forward_url, check_group_id, check_hook_secret,
    check_listen, check_max_upload_mb, check_mode, check_name, check_poll_timeout, check_token,
    expand_env,
};
use super::hints::{drop_unknown_keys, key_at, line_of, line_suffix};
use super::raw::{RawChatId, RawChatIds, RawConfig};
use super::secret::mask_tokens;
use super::settings::{RawBot, RawSettings};
use super::{
    BotConfig, BotSettings, Config, DEFAULT_API_URL, DEFAULT_DATABASE, DEFAULT_POLL_TIMEOUT,
    Forward, HookSecret, HttpConfig, Mode, Problem, Proxy, Token, io_message,
};

/// Resolves `text`, read from `source`: what it could (`None` when the file
/// could not even be deserialized), and every problem found, in no
/// particular order.
pub(super) fn resolve(
    text: &str,
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
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

/// A problem, and where it is confined to.
#[derive(Clone)]
pub(super) struct Found {
    /// The index of the `[[bots]]` table the problem is confined to; `None`
    /// when it concerns the file as a whole (syntax, types, top level,
    /// `[http]`, `[defaults]`), which no bot can run without.
    pub(super) table: Option<usize>,
    pub(super) problem: Problem,
}

/// What the resolver made of a file it could deserialize.
pub(super) struct Resolved {
    /// Everything but the bots: `bots` is left empty, for the caller to fill
    /// with all of them ([`Config::parse`]) or the valid ones
    /// ([`Config::parse_for_run`]).
    pub(super) config: Config,
    /// Each `[[bots]]` table, in the order of the file.
    pub(super) tables: Vec<ResolvedTable>,
}

/// What one `[[bots]]` table resolved to.
pub(super) struct ResolvedTable {
    /// See [`InvalidBot::label`](super::InvalidBot::label).
    pub(super) label: String,
    /// `None` when a required value is missing or invalid. A bot can be
    /// `Some` and still have problems (an invalid setting, a duplicate name):
    /// the problems decide whether it runs.
    pub(super) bot: Option<BotConfig>,
}

/// Checks the values of one file and records its problems.
pub(super) struct Resolver<'a> {
    text: &'a str,
    source: &'a Path,
    /// Where relative paths start: the directory of `source`.
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Found>,
    /// The `[[bots]]` table being checked, if any: the problems found
    /// meanwhile are confined to it.
    table: Option<usize>,
}

/// A bot's name or token (or a group of its list) that passed its own
/// checks, kept to find duplicates.
struct Seen<T> {
    /// The `[[bots]]` table (or the place in the list) it was first seen in.
    index: usize,
    value: T,
    line: Option<usize>,
}

/// Records `value`, seen at `index` and `line`, unless it was seen before:
/// then where it was first seen.
fn first_seen<T: PartialEq>(
    seen: &mut Vec<Seen<T>>,
    index: usize,
    value: T,
    line: Option<usize>,
) -> Option<&Seen<T>> {
    match seen.iter().position(|earlier| earlier.value == value) {
        Some(at) => Some(&seen[at]),
        None => {
            seen.push(Seen { index, value, line });
            None
        }
    }
}

/// Which of two keys that exclude each other is set (see
/// [`Resolver::one_of`]).
enum OneOf<A, B> {
    First(A),
    Second(B),
}

impl<'a> Resolver<'a> {
    /// Records a problem. Every message and key passes through
    /// [`mask_tokens`], so a token typed into the wrong key is never echoed.
    pub(super) fn report(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl AsRef<str>,
    ) {
        let line = span.map(|span| self.line_of(span.start));
        self.report_at_line(line, key, message);
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

    /// `check`'s verdict on `value`: the checked value, or `None` after
    /// reporting the problem at the value's line. `check` may take the value
    /// as borrowed (a `&str` for a `String`).
    pub(super) fn checked<R, Q, T>(
        &mut self,
        key: &str,
        value: &Spanned<R>,
        check: impl FnOnce(&Q) -> Result<T, String>,
    ) -> Option<T>
    where
        R: Borrow<Q>,
        Q: ?Sized,
    {
        match check(value.get_ref().borrow()) {
            Ok(checked) => Some(checked),
            Err(message) => {
                self.report(Some(value.span()), key, message);
                None
            }
        }
    }

    /// Runs `check` with the problems it reports confined to `[[bots]]`
    /// table `index` (or to none).
    fn in_table<T>(&mut self, index: Option<usize>, check: impl FnOnce(&mut Self) -> T) -> T {
        let outer = std::mem::replace(&mut self.table, index);
        let result = check(self);
        self.table = outer;
        result
    }

    /// 1-based line of a byte offset into the text.
    fn line_of(&self, offset: usize) -> usize {
        line_of(self.text, offset)
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
        for dropped in drop_unknown_keys(document.get_mut()) {
            self.in_table(dropped.table, |this| {
                this.report(Some(dropped.span), &dropped.key, dropped.message);
            });
        }
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

    /// The deserialized file: the top level, `[http]`, `[defaults]`, then
    /// each `[[bots]]` table.
    fn resolve(&mut self, raw: RawConfig) -> Resolved {
        let database = match raw.database {
            None => self.base_dir.join(DEFAULT_DATABASE),
            Some(value) => {
                // Joined even when reported: a problem keeps the whole
                // configuration from being used anyway.
                self.checked("database", &value, check_database);
                self.base_dir.join(value.get_ref())
            }
        };
        let api_url = raw
            .api_url
            .and_then(|value| self.checked("api_url", &value, check_api_url))
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let poll_timeout = raw
            .poll_timeout
            .and_then(|value| self.checked("poll_timeout", &value, check_poll_timeout))
            .unwrap_or(DEFAULT_POLL_TIMEOUT);
        let mut http = HttpConfig::default();
        let raw_http = raw.http.unwrap_or_default();
        if let Some(value) = raw_http.listen {
            if let Some(listen) = self.checked("http.listen", &value, check_listen) {
                http.listen = listen;
            }
        }
        if let Some(value) = raw_http.max_upload_mb {
            if let Some(bytes) = self.checked("http.max_upload_mb", &value, check_max_upload_mb) {
                http.max_upload = bytes;
            }
        }

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
            let table = self.in_table(Some(index), |this| {
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
                http,
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
        let settings = self.settings(defaults, raw.take_settings(), &path);

        let name_key = format!("{path}.name");
        let name = match raw.name {
            None => {
                self.report(
                    Some(span.clone()),
                    &name_key,
                    r#"missing name: every [[bots]] table needs a unique name = "..." (1 to 32 of A-Z, a-z, 0-9, _ and -)"#,
                );
                None
            }
            Some(value) => self.checked(&name_key, &value, check_name).map(|()| {
                (
                    value.get_ref().clone(),
                    Some(self.line_of(value.span().start)),
                )
            }),
        };
        // The name, once it proves valid and unique.
        let mut label = None;
        if let Some((name, line)) = &name {
            match first_seen(names, index, name.clone(), *line) {
                Some(first) => {
                    let message = format!(
                        "duplicate bot name {name:?}: already used by bots[{}]{}; names must be unique",
                        first.index,
                        line_suffix(first.line)
                    );
                    self.report_at_line(*line, &name_key, message);
                }
                None => label = Some(name.clone()),
            }
        }

        let token = self.token(&path, span.clone(), raw.token, raw.token_file);
        if let Some((token, line)) = &token {
            if let Some(first) = first_seen(tokens, index, token.clone(), *line) {
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
            }
        }

        let backend_groups =
            self.backend_groups(&path, span.clone(), raw.backend_group, raw.backend_groups);

        let mode = self.mode(
            &path,
            raw.mode,
            raw.take_over_webhook,
            raw.forward_url,
            raw.forward_secret,
        );

        let bot = match (name, token, backend_groups, mode) {
            (Some((name, _)), Some((token, _)), Some(backend_groups), Some(mode)) => {
                Some(BotConfig {
                    name,
                    token,
                    backend_groups,
                    mode,
                    settings,
                })
            }
            _ => None,
        };
        ResolvedTable {
            label: label.unwrap_or(path),
            bot,
        }
    }

    /// Resolves `mode` (standalone when not set) with the keys of that mode:
    /// `take_over_webhook` in proxy mode; `forward_url` (required) and
    /// `forward_secret` in forward mode. A key of another mode is a problem
    /// of its own. When the mode itself is invalid, the keys given are still
    /// checked, as any mode might be meant.
    fn mode(
        &mut self,
        path: &str,
        mode: Option<Spanned<String>>,
        take_over_webhook: Option<Spanned<bool>>,
        forward_url: Option<Spanned<String>>,
        forward_secret: Option<Spanned<String>>,
    ) -> Option<Mode> {
        let name = match &mode {
            None => Some(ModeName::Standalone),
            Some(value) => self.checked(&format!("{path}.mode"), value, check_mode),
        };
        let take_over_webhook = self.of_mode(
            path,
            name,
            ("take_over_webhook", ModeName::Proxy),
            take_over_webhook,
        );
        let forward_url = self.of_mode(path, name, ("forward_url", ModeName::Forward), forward_url);
        let forward_secret = self.of_mode(
            path,
            name,
            ("forward_secret", ModeName::Forward),
            forward_secret,
        );

        let url_key = format!("{path}.forward_url");
        let url = match forward_url {
            Some(value) => self.checked(&url_key, &value, check_forward_url),
            None => {
                if let (Some(ModeName::Forward), Some(mode)) = (name, &mode) {
                    self.report(
                        Some(mode.span()),
                        &url_key,
                        r#"missing forward_url: mode = "forward" needs the existing bot's webhook URL, like forward_url = "https://bot.example/hook""#,
                    );
                }
                None
            }
        };
        // `Some(None)`: a secret was given, and is invalid.
        let secret = forward_secret.map(|value| self.forward_secret(path, &value));

        match name? {
            ModeName::Standalone => Some(Mode::Standalone),
            ModeName::Proxy => Some(Mode::Proxy(Proxy {
                take_over_webhook: take_over_webhook.is_some_and(Spanned::into_inner),
            })),
            ModeName::Forward => Some(Mode::Forward(Forward {
                url: url?,
                secret: match secret {
                    None => None,
                    Some(checked) => Some(checked?),
                },
            })),
        }
    }

    /// `value` of `key`, which belongs to mode `needs`, when the bot's mode
    /// (`name`) is that one or not known; in another mode the key is
    /// reported and dropped.
    fn of_mode<T>(
        &mut self,
        path: &str,
        name: Option<ModeName>,
        (key, needs): (&str, ModeName),
        value: Option<Spanned<T>>,
    ) -> Option<Spanned<T>> {
        let value = value?;
        match name {
            Some(name) if name != needs => {
                let message = format!(
                    r#"{key} is only used with mode = "{}" (this bot's mode is "{}")"#,
                    needs.as_str(),
                    name.as_str()
                );
                self.report(Some(value.span()), &format!("{path}.{key}"), message);
                None
            }
            _ => Some(value),
        }
    }

    /// Which of two keys that exclude each other a `[[bots]]` table sets,
    /// such as `token` and `token_file`. Neither is a problem of the first
    /// key, reported at the table (`missing` says what to set); both is a
    /// problem of the second (`both_note` may say more).
    fn one_of<A, B>(
        &mut self,
        path: &str,
        table_span: Range<usize>,
        (first_key, first): (&str, Option<Spanned<A>>),
        (second_key, second): (&str, Option<Spanned<B>>),
        missing: &str,
        both_note: &str,
    ) -> Option<OneOf<Spanned<A>, Spanned<B>>> {
        match (first, second) {
            (Some(first), None) => Some(OneOf::First(first)),
            (None, Some(second)) => Some(OneOf::Second(second)),
            (Some(_), Some(second)) => {
                let message = format!(
                    "both {first_key} and {second_key} are set: keep exactly one of them{both_note}"
                );
                self.report(
                    Some(second.span()),
                    &format!("{path}.{second_key}"),
                    message,
                );
                None
            }
            (None, None) => {
                self.report(Some(table_span), &format!("{path}.{first_key}"), missing);
                None
            }
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
        let list = match self.one_of(
            path,
            bot_span,
            ("backend_group", single),
            ("backend_groups", list),
            "missing backend_group: set it to the chat id of the operators' forum supergroup, like -1001234567890 (or backend_groups = [...] to spread dialogs over several groups)",
            " (backend_groups = [...] lists every group, the first one included)",
        )? {
            OneOf::First(single) => {
                let key = format!("{path}.backend_group");
                let id = self.checked(&key, &single, |id| check_group_id(id, false))?;
                return Some(vec![id]);
            }
            OneOf::Second(list) => list,
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
            let Some(id) = self.checked(&item_key, &item, |id| check_group_id(id, true)) else {
                all_valid = false;
                continue;
            };
            let line = Some(self.line_of(item.span().start));
            if let Some(first) = first_seen(&mut seen, index, id, line) {
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
            }
        }
        all_valid.then(|| seen.into_iter().map(|s| s.value).collect())
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
        let token = self.one_of(
            path,
            bot_span,
            ("token", token),
            ("token_file", token_file),
            r#"missing token: set token = "${MY_BOT_TOKEN}" (read from the environment) or token_file = "path/to/file""#,
            "",
        )?;
        let (token, span) = match token {
            OneOf::First(value) => (self.token_value(path, &value)?, value.span()),
            OneOf::Second(file) => (self.token_file(path, &file)?, file.span()),
        };
        Some((token, Some(self.line_of(span.start))))
    }

    /// `token`: `${VAR}` expanded, then checked.
    fn token_value(&mut self, path: &str, value: &Spanned<String>) -> Option<Token> {
        let key = format!("{path}.token");
        self.secret(&key, "the token", value, check_token)
            .map(Token::new)
    }

    /// `forward_secret`: `${VAR}` expanded, then checked.
    fn forward_secret(&mut self, path: &str, value: &Spanned<String>) -> Option<HookSecret> {
        let key = format!("{path}.forward_secret");
        self.secret(&key, "forward_secret", value, check_hook_secret)
            .map(HookSecret::new)
    }

    /// A secret (a token, a webhook secret): `${VAR}` expanded, then
    /// checked. Problems name it `what` and never quote it.
    fn secret(
        &mut self,
        key: &str,
        what: &str,
        value: &Spanned<String>,
        check: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let span = value.span();
        let expanded = match expand_env(value.get_ref(), self.env) {
            Ok(expanded) => expanded,
            Err(messages) => {
                for message in messages {
                    self.report(Some(span.clone()), key, message);
                }
                return None;
            }
        };
        match check(&expanded) {
            Ok(()) => Some(expanded),
            Err(why) => {
                let origin = if value.get_ref().contains("${") {
                    format!("{what} (after ${{VAR}} expansion)")
                } else {
                    what.to_owned()
                };
                self.report(Some(span), key, format!("{origin} {why}"));
                None
            }
        }
    }

    /// `token_file`: the file read (relative to the configuration's
    /// directory), trimmed, and checked.
    fn token_file(&mut self, path: &str, file: &Spanned<String>) -> Option<Token> {
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
        let shown_path = file_path.display().to_string();
        let content = match fs::read_to_string(&file_path) {
            Ok(content) => content,
            Err(err) => {
                self.report(
                    Some(span),
                    &key,
                    format!(
                        "cannot read token file {shown_path:?}: {}",
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
                format!("token file {shown_path:?} is empty"),
            );
            return None;
        }
        match check_token(trimmed) {
            Ok(()) => Some(Token::new(trimmed)),
            Err(why) => {
                self.report(
                    Some(span),
                    &key,
                    format!("the content of token file {shown_path:?} {why}"),
                );
                None
            }
        }
    }

    /// Applies the keys set in `raw` over `base`. An invalid value is
    /// reported and the value of `base` kept, so checking can go on.
    fn settings(&mut self, base: &BotSettings, raw: RawSettings, path: &str) -> BotSettings {
        let mut settings = base.clone();
        raw.apply(self, path, &mut settings);
        settings
    }
}
