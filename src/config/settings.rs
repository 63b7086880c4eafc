//! The per-bot settings: the keys of `[defaults]`, each of which a
//! `[[bots]]` table may override, each declared once, as a row of the table
//! below the definition of `bot_keys!`.
//!
//! A row says all there is to say about one key:
//!
//! ```text
//! key:       as typed             => onto BotSettings, checked by,      shown by;
//! autoclose: Spanned<RawDuration> => autoclose,        check_autoclose, show_autoclose;
//! ```
//!
//! - the key, as written in `bots.toml`;
//! - its type as typed, a field of the raw structs (`Spanned` to know its
//!   line);
//! - the field of [`BotSettings`] it sets;
//! - its check, `fn(resolver, key path, value as typed, &mut field)`: it
//!   sets the field to the checked value, or reports a problem through the
//!   resolver and leaves the field as it was (the value of `[defaults]`, or
//!   the built-in default), so checking can go on;
//! - how `switchboard check` shows the field, `fn(&field, &bot) -> String`.
//!
//! `bot_keys!` turns the table into everything that lists the keys: the
//! key lists for unknown-key detection ([`SETTINGS_KEYS`],
//! [`BOT_ONLY_KEYS`]), [`RawSettings`] (`[defaults]` as typed), [`RawBot`]
//! (a `[[bots]]` table as typed: its own keys, then the settings keys again,
//! since serde's `flatten` works neither with `deny_unknown_fields` nor with
//! `Spanned`), [`RawBot::take_settings`], [`RawSettings::apply`] (the
//! resolve step) and [`shown`] (the lines of `check`). The table's order is
//! the order of `check`'s lines, of the keys in "expected one of: ..." and
//! of the problems found on one line.
//!
//! A new per-bot key is therefore: a row in the table; its check and its
//! `show_` function below the table, unless existing ones fit (`set`,
//! `check_rate`, `show_rate`); its field in [`BotSettings`], with its
//! built-in default. The tests then ask for it to be documented in the
//! example `bots.toml` and in the README's configuration reference.
//!
//! The bot's own keys (`name`, `token`, `mode`, ...) are listed in the table
//! too, for [`RawBot`] and [`BOT_ONLY_KEYS`]; they depend on each other
//! (`token` or `token_file`, unique names, the keys of each `mode`), so
//! `resolve.rs` checks them by hand.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::checks::{check_telegram_html, is_off, parse_duration, parse_rate};
use super::raw::{RawChatId, RawChatIds, RawCount, RawDuration, RawRate};
use super::resolve::Resolver;
use super::{
    BotConfig, BotSettings, HideInfo, MAX_AUTOCLOSE, MAX_INTERCEPT_HISTORY, MAX_WELCOME_CHARS,
    MIN_AUTOCLOSE, Rate, format_duration,
};

/// Expands the table of a `[[bots]]` table's keys (see the module doc).
macro_rules! bot_keys {
    (
        own { $( $own:ident: $own_raw:ty, )* }
        settings { $( $key:ident: $raw:ty => $($field:ident).+, $check:expr, $show:expr; )* }
    ) => {
        /// Keys only a `[[bots]]` table has.
        pub(super) const BOT_ONLY_KEYS: &[&str] = &[$( stringify!($own) ),*];
        /// Keys of `[defaults]`, which a `[[bots]]` table may override.
        pub(super) const SETTINGS_KEYS: &[&str] = &[$( stringify!($key) ),*];

        /// `[defaults]` as typed, or the settings keys of a `[[bots]]` table.
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawSettings {
            $( $key: Option<$raw>, )*
        }

        /// A `[[bots]]` table as typed: its own keys, then the settings keys.
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawBot {
            $( pub(super) $own: Option<$own_raw>, )*
            $( $key: Option<$raw>, )*
        }

        impl RawBot {
            /// Moves the settings keys out, to be applied over `[defaults]`.
            pub(super) fn take_settings(&mut self) -> RawSettings {
                RawSettings {
                    $( $key: self.$key.take(), )*
                }
            }
        }

        impl RawSettings {
            /// Sets each key given here onto `settings` through its check.
            /// `path` is the table's (`defaults`, `bots[0]`).
            pub(super) fn apply(
                self,
                resolver: &mut Resolver<'_>,
                path: &str,
                settings: &mut BotSettings,
            ) {
                $(
                    if let Some(value) = self.$key {
                        let key = format!("{path}.{}", stringify!($key));
                        ($check)(resolver, &key, value, &mut settings.$($field).+);
                    }
                )*
            }
        }

        /// Each setting of `bot` as `switchboard check` shows it: the label
        /// (the key and a colon) and the text.
        pub(super) fn shown(bot: &BotConfig) -> Vec<(&'static str, String)> {
            vec![
                $( (concat!(stringify!($key), ":"), ($show)(&bot.settings.$($field).+, bot)), )*
            ]
        }
    };
}

bot_keys! {
    own {
        name: Spanned<String>,
        token: Spanned<String>,
        token_file: Spanned<String>,
        backend_group: Spanned<RawChatId>,
        backend_groups: Spanned<RawChatIds>,
        mode: Spanned<String>,
        take_over_webhook: Spanned<bool>,
        forward_url: Spanned<String>,
        forward_secret: Spanned<String>,
    }
    settings {
        // key:             as typed             => onto BotSettings,   checked by,      shown by;
        welcome:            Spanned<String>      => welcome,            check_welcome,   show_welcome;
        private_keywords:   Vec<Spanned<String>> => private_keywords,   check_keywords,  show_keywords;
        autoclose:          Spanned<RawDuration> => autoclose,          check_autoclose, show_autoclose;
        silent_mode:        bool                 => silent_mode,        set,             show_silent_mode;
        intercept_external: bool                 => intercept_external, set,             show_intercept;
        intercept_history:  Spanned<RawCount>    => intercept_history,  check_history,   show_history;
        bot_sees_dialogs:   bool                 => bot_sees_dialogs,   set,             show_bot_sees_dialogs;
        status_icons:       bool                 => status_icons,       set,             show_status_icons;
        auto_info:          bool                 => auto_info,          set,             show_auto_info;
        hide_info:          Vec<Spanned<String>> => hide_info,          check_hide_info, show_hide_info;
        bot_limit:          Spanned<RawRate>     => limits.bot,         check_rate,      show_rate("all chats together");
        chat_limit:         Spanned<RawRate>     => limits.chat,        check_rate,      show_rate("into each private chat");
        group_limit:        Spanned<RawRate>     => limits.group,       check_rate,      show_rate("into each group, all topics together");
    }
}

// --- checks ------------------------------------------------------------------

/// A key any value of its type is valid for (TOML already checked the type).
fn set<T>(_: &mut Resolver<'_>, _key: &str, value: T, field: &mut T) {
    *field = value;
}

/// `welcome`: a greeting Telegram can send, or "off".
fn check_welcome(
    resolver: &mut Resolver<'_>,
    key: &str,
    value: Spanned<String>,
    welcome: &mut Option<String>,
) {
    let checked = resolver.checked(key, &value, |text: &str| {
        let length = text.encode_utf16().count();
        if is_off(text) {
            Ok(None)
        } else if text.trim().is_empty() {
            Err(r#"empty welcome text: write welcome = "off" to send no greeting"#.to_owned())
        } else if length > MAX_WELCOME_CHARS {
            Err(format!(
                "welcome text is too long ({length} characters as Telegram counts them, an emoji as two): Telegram allows at most {MAX_WELCOME_CHARS}"
            ))
        } else {
            check_telegram_html(text)
                .map_err(|why| format!("welcome text is sent as Telegram HTML: {why}"))?;
            Ok(Some(text.to_owned()))
        }
    });
    if let Some(text) = checked {
        *welcome = text;
    }
}

/// `private_keywords`: each keyword is checked on its own. The valid ones
/// replace the list even when some are not, as any problem keeps the bot
/// from running anyway.
fn check_keywords(
    resolver: &mut Resolver<'_>,
    key: &str,
    keywords: Vec<Spanned<String>>,
    field: &mut Vec<String>,
) {
    let mut checked = Vec::with_capacity(keywords.len());
    for (index, keyword) in keywords.into_iter().enumerate() {
        if keyword.get_ref().trim().is_empty() {
            resolver.report(
                Some(keyword.span()),
                &format!("{key}[{index}]"),
                "empty keyword: every keyword needs some text (an empty list, [], lets any message open a dialog)",
            );
        } else {
            checked.push(keyword.into_inner());
        }
    }
    *field = checked;
}

/// `autoclose`: [`MIN_AUTOCLOSE`] to [`MAX_AUTOCLOSE`], or "off".
fn check_autoclose(
    resolver: &mut Resolver<'_>,
    key: &str,
    value: Spanned<RawDuration>,
    autoclose: &mut Option<Duration>,
) {
    let checked = resolver.checked(key, &value, |raw| match parse_duration(raw, true)? {
        Some(after) if after < MIN_AUTOCLOSE => Err(format!(
            r#"{} is too short: expected 1m to 366d, or "off" to never close dialogs by themselves"#,
            format_duration(after)
        )),
        Some(after) if after > MAX_AUTOCLOSE => Err(format!(
            r#"{} is too long: expected 1m to 366d (8784h), or "off" to never close dialogs by themselves"#,
            format_duration(after)
        )),
        after => Ok(after),
    });
    if let Some(after) = checked {
        *autoclose = after;
    }
}

/// `intercept_history`: 0 to [`MAX_INTERCEPT_HISTORY`] messages.
fn check_history(
    resolver: &mut Resolver<'_>,
    key: &str,
    value: Spanned<RawCount>,
    history: &mut u8,
) {
    let checked = resolver.checked(key, &value, |&RawCount(count): &RawCount| {
        u8::try_from(count)
            .ok()
            .filter(|count| *count <= MAX_INTERCEPT_HISTORY)
            .ok_or_else(|| {
                format!(
                    "intercept_history must be 0 to {MAX_INTERCEPT_HISTORY}, not {count}: the number of the bot's latest messages shown when a dialog opens (0 shows none)"
                )
            })
    });
    if let Some(count) = checked {
        *history = count;
    }
}

/// `bot_limit`, `chat_limit`, `group_limit`: a rate, or "off".
fn check_rate(
    resolver: &mut Resolver<'_>,
    key: &str,
    value: Spanned<RawRate>,
    limit: &mut Option<Rate>,
) {
    if let Some(rate) = resolver.checked(key, &value, parse_rate) {
        *limit = rate;
    }
}

// --- how `check` shows them --------------------------------------------------

fn show_welcome(welcome: &Option<String>, _: &BotConfig) -> String {
    or_off(welcome, |text| format!("{text:?}"))
}

fn show_keywords(keywords: &[String], _: &BotConfig) -> String {
    if keywords.is_empty() {
        return "(none: any message opens a dialog)".to_owned();
    }
    let list: Vec<String> = keywords.iter().map(|k| format!("{k:?}")).collect();
    list.join(", ")
}

fn show_autoclose(autoclose: &Option<Duration>, _: &BotConfig) -> String {
    or_off(autoclose, |after| {
        format!("{} after the last operator reply", format_duration(*after))
    })
}

fn show_silent_mode(silent_mode: &bool, _: &BotConfig) -> String {
    if *silent_mode {
        "true (undelivered messages are not reported to the user)"
    } else {
        "false (a user is told when a message could not be delivered)"
    }
    .to_owned()
}

fn show_intercept(intercept_external: &bool, bot: &BotConfig) -> String {
    match standalone(bot) {
        Some(note) => format!("{intercept_external}{note}"),
        None if *intercept_external => {
            "true (what the existing bot sends is shown in the topics)".to_owned()
        }
        None => "false (what the existing bot sends is not shown)".to_owned(),
    }
}

fn show_history(history: &u8, bot: &BotConfig) -> String {
    match (standalone(bot), history) {
        (Some(note), _) => format!("{history}{note}"),
        (None, 0) => {
            "0 (off: none of the bot's earlier messages are shown when a dialog opens)".to_owned()
        }
        (None, 1) => "1 (the bot's latest message is shown when a dialog opens)".to_owned(),
        (None, _) => {
            format!("{history} (the bot's latest {history} messages are shown when a dialog opens)")
        }
    }
}

fn show_bot_sees_dialogs(sees: &bool, bot: &BotConfig) -> String {
    match standalone(bot) {
        Some(note) => format!("{sees}{note}"),
        None if *sees => {
            "true (the existing bot still gets users' messages in open dialogs)".to_owned()
        }
        None => "false (users' messages in open dialogs go to the operators only)".to_owned(),
    }
}

/// `hide_info`: each item one of "name", "username", "command".
fn check_hide_info(
    resolver: &mut Resolver<'_>,
    key: &str,
    items: Vec<Spanned<String>>,
    field: &mut HideInfo,
) {
    let mut hide = HideInfo::default();
    for (index, item) in items.into_iter().enumerate() {
        match item.get_ref().as_str() {
            "name" => hide.name = true,
            "username" => hide.username = true,
            "command" => hide.command = true,
            other => resolver.report(
                Some(item.span()),
                &format!("{key}[{index}]"),
                format!(
                    "unknown item {other:?}: expected any of \"name\" (a neutral topic name, no name on the card), \"username\" (no @username or profile link), \"command\" (no /info)"
                ),
            ),
        }
    }
    *field = hide;
}

fn show_hide_info(hide: &HideInfo, _: &BotConfig) -> String {
    let items: Vec<&str> = [
        (hide.name, "name"),
        (hide.username, "username"),
        (hide.command, "command"),
    ]
    .into_iter()
    .filter_map(|(on, item)| on.then_some(item))
    .collect();
    if items.is_empty() {
        "[] (operators see the user's name, @username and /info)".to_owned()
    } else {
        format!("[{}]", items.join(", "))
    }
}

fn show_auto_info(on: &bool, _: &BotConfig) -> String {
    if *on {
        "true (a new topic starts with the user card)".to_owned()
    } else {
        "false".to_owned()
    }
}

fn show_status_icons(icons: &bool, _: &BotConfig) -> String {
    if *icons {
        "true (topic names show 🟪 the user wrote last, 🟨 an operator answered last, ⬛️ closed)"
            .to_owned()
    } else {
        "false (topic names show no status)".to_owned()
    }
}

/// The note on a setting about an existing bot, which a standalone bot has
/// not; `None` in proxy and forward mode.
fn standalone(bot: &BotConfig) -> Option<&'static str> {
    (!bot.mode.is_connected()).then_some(" (no effect in standalone mode)")
}

/// A rate limit, with what it limits (`scope`).
fn show_rate(scope: &'static str) -> impl Fn(&Option<Rate>, &BotConfig) -> String {
    move |rate, _| or_off(rate, |rate| format!("{} ({scope})", rate.describe()))
}

/// A value that may be "off" (`None`), shown by `show` when it is not.
fn or_off<T>(value: &Option<T>, show: impl FnOnce(&T) -> String) -> String {
    value.as_ref().map_or_else(|| "off".to_owned(), show)
}
