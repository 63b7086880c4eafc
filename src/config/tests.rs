use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::checks::{BadDuration, parse_duration, parse_humantime, parse_rate};
use super::raw::{HTTP_KEYS, RawDuration, RawRate, TOP_KEYS};
use super::settings::{BOT_ONLY_KEYS, SETTINGS_KEYS};
use super::*;

/// Where each problem was found: (line, key).
fn lines_and_keys(err: &ConfigError) -> Vec<(Option<usize>, &str)> {
    err.problems
        .iter()
        .map(|p| (p.line, p.key.as_str()))
        .collect()
}

pub(super) const SHOP_TOKEN: &str = "123456:AAHshopSECRETshopSECRETshop_-1234567";
const SUPPORT_TOKEN: &str = "654321:AAHsupportSECRETsupport_-1234567890";
/// Pieces of the secrets above; none may ever appear in output.
const SECRETS: &[&str] = &["AAHshopSECRET", "AAHsupportSECRET", "SECRET"];
/// A valid `forward_secret` (also a secret: it contains "SECRET").
const HOOK_SECRET: &str = "HookSECRET_forward-123";

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
        "HOOK_SECRET" => Some(HOOK_SECRET.to_owned()),
        "BAD_HOOK_SECRET" => Some("HookSECRET with spaces!".to_owned()),
        // The commented-out bots of the example bots.toml.
        "LEGACY_BOT_TOKEN" => Some("111111:AAHlegacySECRETlegacySECRET_-123456".to_owned()),
        "ORDERS_BOT_TOKEN" => Some("222222:AAHordersSECRETordersSECRET_-123456".to_owned()),
        "ORDERS_HOOK_SECRET" => Some(HOOK_SECRET.to_owned()),
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
            .is_some_and(|w| w.starts_with("Hi {name}!"))
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
            intercept_history: 5,
            bot_sees_dialogs: true,
            status_icons: true,
            auto_info: true,
            hide_info: HideInfo::default(),
            limits: DEFAULT_LIMITS,
        }
    );
    assert_eq!(
        config.http,
        HttpConfig {
            listen: DEFAULT_LISTEN,
            max_upload: 50 * 1024 * 1024,
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
intercept_history = 0
bot_sees_dialogs = false
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
intercept_history = 100
bot_sees_dialogs = true
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
    assert_eq!(inherits.intercept_history, 0);
    assert!(!inherits.bot_sees_dialogs);
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
    assert_eq!(overrides.intercept_history, 100);
    assert!(overrides.bot_sees_dialogs);
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
        r#"unknown key "welcom" in [defaults]; did you mean "welcome"? expected one of: welcome, private_keywords, autoclose, silent_mode, intercept_external, intercept_history, bot_sees_dialogs, status_icons, auto_info, hide_info, bot_limit, chat_limit, group_limit"#,
    );
    assert_eq!(
        error(&format!("[defaults]\nwelcom = \"hi\"\n{BOT}")).to_string(),
        format!(
            "{SOURCE}:2: defaults.welcom: unknown key \"welcom\" in [defaults]; did you mean \"welcome\"? expected one of: welcome, private_keywords, autoclose, silent_mode, intercept_external, intercept_history, bot_sees_dialogs, status_icons, auto_info, hide_info, bot_limit, chat_limit, group_limit"
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
    assert!(!config.bots[0].mode.is_connected());

    let config = parse_ok(&format!("{BOT}mode = \"proxy\"\n"));
    let mode = &config.bots[0].mode;
    assert_eq!(
        *mode,
        Mode::Proxy(Proxy {
            take_over_webhook: false
        })
    );
    assert_eq!((mode.as_str(), mode.to_string()), ("proxy", "proxy".into()));
    assert!(mode.is_connected());

    let config = parse_ok(&format!(
        "{BOT}mode = \"forward\"\nforward_url = \"https://bot.example/hook\"\n"
    ));
    let mode = &config.bots[0].mode;
    assert_eq!(
        *mode,
        Mode::Forward(Forward {
            url: "https://bot.example/hook".into(),
            secret: None,
        })
    );
    assert_eq!(mode.as_str(), "forward");
    assert!(mode.is_connected());

    let p = problem(&format!("{BOT}mode = \"Standalone\"\n"));
    assert_problem(
        &p,
        6,
        "bots[0].mode",
        "unknown mode \"Standalone\": expected one of: standalone, proxy, forward",
    );
}

// --- parallel connections: proxy and forward ------------------------------

/// `BOT` in forward mode (line 6) with `forward_url` (line 7) and `more`
/// (from line 8).
fn forward_bot(url: &str, more: &str) -> String {
    format!("{BOT}mode = \"forward\"\nforward_url = {url:?}\n{more}")
}

/// The mode of the only bot of a valid `text`.
#[track_caller]
fn mode_of(text: &str) -> Mode {
    parse_ok(text).bots[0].mode.clone()
}

#[test]
fn proxy_mode_and_take_over_webhook() {
    let proxy = |take_over_webhook| Mode::Proxy(Proxy { take_over_webhook });
    assert_eq!(mode_of(&format!("{BOT}mode = \"proxy\"\n")), proxy(false));
    assert_eq!(
        mode_of(&format!(
            "{BOT}mode = \"proxy\"\ntake_over_webhook = true\n"
        )),
        proxy(true)
    );
    assert_eq!(
        mode_of(&format!(
            "{BOT}take_over_webhook = false\nmode = \"proxy\"\n"
        )),
        proxy(false)
    );

    // Only in proxy mode, whatever its value.
    let p = problem(&format!("{BOT}take_over_webhook = false\n"));
    assert_problem(
        &p,
        6,
        "bots[0].take_over_webhook",
        r#"take_over_webhook is only used with mode = "proxy" (this bot's mode is "standalone")"#,
    );
    let p = problem(&forward_bot(
        "https://bot.example/hook",
        "take_over_webhook = true\n",
    ));
    assert_problem(
        &p,
        8,
        "bots[0].take_over_webhook",
        r#"only used with mode = "proxy" (this bot's mode is "forward")"#,
    );
    let p = problem(&format!(
        "{BOT}mode = \"proxy\"\ntake_over_webhook = \"yes\"\n"
    ));
    assert_problem(
        &p,
        7,
        "bots[0].take_over_webhook",
        "invalid type: string \"yes\", expected a boolean",
    );
    let p = problem(&format!("[defaults]\ntake_over_webhook = true\n{BOT}"));
    assert_problem(
        &p,
        2,
        "defaults.take_over_webhook",
        "can only be set per bot",
    );
}

#[test]
fn forward_url_is_required_and_kept_as_written() {
    for url in [
        "https://bot.example/hook",
        "https://bot.example",
        "http://127.0.0.1:8443/tg/webhook?bot=shop&x=1",
        "https://[::1]:8443/",
        "http://[2001:db8::1]/hook",
        "http://user:pw@bot-1.example_x.org:80/a/b/",
        "http://localhost:65535",
    ] {
        let mode = mode_of(&forward_bot(url, ""));
        assert_eq!(
            mode,
            Mode::Forward(Forward {
                url: url.to_owned(),
                secret: None
            }),
            "{url}"
        );
    }

    let p = problem(&format!("{BOT}mode = \"forward\"\n"));
    assert_problem(
        &p,
        6,
        "bots[0].forward_url",
        r#"missing forward_url: mode = "forward" needs the existing bot's webhook URL, like forward_url = "https://bot.example/hook""#,
    );
}

#[test]
fn bad_forward_urls() {
    for (url, why) in [
        (
            "bot.example/hook",
            r#"invalid forward_url "bot.example/hook": expected"#,
        ),
        (
            "ftp://bot.example/hook",
            "starting with http:// or https://",
        ),
        (
            "HTTPS://bot.example/hook",
            "starting with http:// or https://",
        ),
        ("", "starting with http:// or https://"),
        ("/hook", "starting with http:// or https://"),
        ("https://", "no host"),
        ("https:///hook", "no host"),
        ("https://?x=1", "no host"),
        ("https://:8443/hook", "no host"),
        ("https://user@/hook", "no host"),
        ("https://bot example/hook", "contains whitespace"),
        ("https://bot.example/hook ", "contains whitespace"),
        ("https://bot.example/hook#top", "no fragment (#)"),
        (
            "https://bot.example:0/hook",
            "invalid port (expected 1 to 65535)",
        ),
        ("https://bot.example:65536/hook", "invalid port"),
        ("https://bot.example:+80/hook", "invalid port"),
        ("https://bot.example:/hook", "invalid port"),
        ("https://bot.example:80:81/hook", "invalid port"),
        ("https://b*t.example/hook", "invalid host"),
        ("https://böt.example/hook", "invalid host"),
        ("https://[::zz]/hook", "invalid host"),
        ("https://[::1/hook", "invalid host"),
        ("https://[::1]x/hook", "invalid host"),
        (
            "https://bot.example/${HOOK_PATH}",
            "${VAR} is not expanded in forward_url",
        ),
    ] {
        let p = problem(&forward_bot(url, ""));
        assert_problem(&p, 7, "bots[0].forward_url", why);
    }
    let p = problem(&forward_bot("https://", ""));
    assert!(
        p.message.ends_with(
            r#"expected the existing bot's webhook URL, starting with http:// or https://, like "https://bot.example/hook""#
        ),
        "{}",
        p.message
    );

    // Only in forward mode.
    let url = "forward_url = \"https://bot.example/hook\"\n";
    let p = problem(&format!("{BOT}{url}"));
    assert_problem(
        &p,
        6,
        "bots[0].forward_url",
        r#"forward_url is only used with mode = "forward" (this bot's mode is "standalone")"#,
    );
    let p = problem(&format!("{BOT}mode = \"proxy\"\n{url}"));
    assert_problem(
        &p,
        7,
        "bots[0].forward_url",
        r#"forward_url is only used with mode = "forward" (this bot's mode is "proxy")"#,
    );
    let p = problem(&format!("[defaults]\n{url}{BOT}"));
    assert_problem(&p, 2, "defaults.forward_url", "can only be set per bot");
    let p = problem(&forward_bot(
        "https://bot.example/hook",
        "forward_url2 = 1\n",
    ));
    assert_problem(
        &p,
        8,
        "bots[0].forward_url2",
        r#"did you mean "forward_url"?"#,
    );
}

#[test]
fn forward_secret_is_expanded_and_checked() {
    let url = "https://bot.example/hook";
    let secret_of = |value: &str| -> Option<String> {
        match mode_of(&forward_bot(url, &format!("forward_secret = {value:?}\n"))) {
            Mode::Forward(forward) => forward.secret.map(|s| s.expose().to_owned()),
            other => panic!("not forward mode: {other:?}"),
        }
    };
    assert_eq!(secret_of(HOOK_SECRET).as_deref(), Some(HOOK_SECRET));
    assert_eq!(secret_of("${HOOK_SECRET}").as_deref(), Some(HOOK_SECRET));
    assert_eq!(
        secret_of("x_${ID}-${HOOK_SECRET}").as_deref(),
        Some(format!("x_123456-{HOOK_SECRET}").as_str())
    );
    let longest = "a".repeat(MAX_HOOK_SECRET_CHARS);
    assert_eq!(secret_of(&longest), Some(longest.clone()));
    assert_eq!(secret_of("-"), Some("-".to_owned()));

    let with = |value: &str| forward_bot(url, &format!("forward_secret = {value:?}\n"));
    let expected = "expected 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for a webhook's secret token)";
    for (value, why) in [
        ("", "forward_secret is empty: "),
        (
            &*"b".repeat(257),
            "forward_secret is too long (257 characters): ",
        ),
        (
            "HookSECRET!",
            "forward_secret has characters other than A-Z, a-z, 0-9, _ and -: ",
        ),
        (
            "HookSECRET value",
            "forward_secret has characters other than A-Z, a-z, 0-9, _ and - (it contains whitespace): ",
        ),
        ("HookSECRETé", "forward_secret has characters other than"),
        (
            "${BAD_HOOK_SECRET}",
            "forward_secret (after ${VAR} expansion) has characters other than A-Z, a-z, 0-9, _ and - (it contains whitespace): ",
        ),
        ("${NOT_SET}", "environment variable NOT_SET is not set"),
        ("${EMPTY}", "environment variable EMPTY is empty"),
        ("${HOOK_SECRET", "unterminated"),
    ] {
        let p = problem(&with(value));
        assert_problem(&p, 8, "bots[0].forward_secret", why);
        assert!(
            why.starts_with("environment")
                || why == "unterminated"
                || p.message.ends_with(expected),
            "{}",
            p.message
        );
        // `problem` checks that no "SECRET" appears; nor does any other
        // part of the value.
        if value.len() > 1 && !value.starts_with('$') {
            assert!(!p.message.contains(value), "{}", p.message);
        }
    }

    // Only in forward mode.
    let secret = format!("forward_secret = {HOOK_SECRET:?}\n");
    let p = problem(&format!("{BOT}{secret}"));
    assert_problem(
        &p,
        6,
        "bots[0].forward_secret",
        r#"forward_secret is only used with mode = "forward" (this bot's mode is "standalone")"#,
    );
    let p = problem(&format!("{BOT}mode = \"proxy\"\n{secret}"));
    assert_problem(
        &p,
        7,
        "bots[0].forward_secret",
        r#"only used with mode = "forward" (this bot's mode is "proxy")"#,
    );
    let p = problem(&format!("[defaults]\n{secret}{BOT}"));
    assert_problem(&p, 2, "defaults.forward_secret", "can only be set per bot");
}

#[test]
fn keys_of_a_mode_are_checked_even_when_the_mode_is_not_known() {
    let err = error(&format!(
        "{BOT}mode = \"forwrd\"\nforward_url = \"bot.example\"\nforward_secret = \"a b\"\ntake_over_webhook = true\n"
    ));
    assert_eq!(
        lines_and_keys(&err),
        [
            (Some(6), "bots[0].mode"),
            (Some(7), "bots[0].forward_url"),
            (Some(8), "bots[0].forward_secret"),
        ]
    );
    // In a known mode, a key of another mode is reported, not checked.
    let err = error(&format!(
        "{BOT}mode = \"proxy\"\nforward_url = \"bot.example\"\nforward_secret = \"a b\"\n"
    ));
    let messages: Vec<&str> = err.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            r#"forward_url is only used with mode = "forward" (this bot's mode is "proxy")"#,
            r#"forward_secret is only used with mode = "forward" (this bot's mode is "proxy")"#,
        ]
    );
    // A forward bot with a bad URL and a bad secret: both reported.
    let err = error(&forward_bot("nope", "forward_secret = \"${NOT_SET}\"\n"));
    assert_eq!(
        lines_and_keys(&err),
        [
            (Some(7), "bots[0].forward_url"),
            (Some(8), "bots[0].forward_secret"),
        ]
    );
}

#[test]
fn hook_secrets_never_leak() {
    let text = forward_bot(
        &format!("https://bot.example/{SHOP_TOKEN}"),
        "forward_secret = \"${HOOK_SECRET}\"\n",
    );
    let config = parse_ok(&text);
    let Mode::Forward(forward) = &config.bots[0].mode else {
        panic!("forward mode expected");
    };
    assert_eq!(
        forward.secret.as_ref().map(HookSecret::expose),
        Some(HOOK_SECRET)
    );
    let shown = config.describe();
    assert!(
        shown.contains("  forward_secret:     set (not shown)\n"),
        "{shown}"
    );
    // A token in the URL is masked like any other.
    assert!(
        shown.contains("  forward_url:        https://bot.example/123456:***\n"),
        "{shown}"
    );
    assert_no_secret(&shown);
    assert_no_secret(&format!("{config:?}"));
    assert_no_secret(&format!("{:?}", config.bots[0].mode));
    assert_no_secret(&format!("{forward:?}"));
    assert!(!shown.contains(HOOK_SECRET) && !format!("{config:?}").contains(HOOK_SECRET));

    // A secret in the wrong mode, or invalid, is not quoted. (Unlike a
    // token, a secret has no shape to mask it by in other keys.)
    for text in [
        format!("{BOT}forward_secret = {HOOK_SECRET:?}\n"),
        forward_bot(
            "https://x.org/",
            &format!("forward_secret = \"{HOOK_SECRET}!\"\n"),
        ),
        forward_bot(
            "https://x.org/",
            &format!("forward_secret = \"${{X}}{HOOK_SECRET}!\"\n"),
        ),
        forward_bot(
            "https://x.org/",
            &format!("forward_secret = \"{HOOK_SECRET} x\"\n"),
        ),
        forward_bot(&format!("https://x.org/{SHOP_TOKEN} x"), ""),
    ] {
        let err = error(&text);
        assert!(!err.to_string().contains("HookSECRET"), "{err}");
        let loaded = Config::parse_for_run(&format!("{text}{SUPPORT}"), Path::new(SOURCE), &env);
        for bot in loaded.expect("support runs").invalid {
            assert_no_secret(&bot.problems.to_string());
        }
    }
}

#[test]
fn intercept_history_range() {
    let history = |value: &str| -> u8 {
        parse_ok(&format!("{BOT}intercept_history = {value}\n")).bots[0]
            .settings
            .intercept_history
    };
    assert_eq!(history("0"), 0);
    assert_eq!(history("7"), 7);
    assert_eq!(history("100"), MAX_INTERCEPT_HISTORY);
    assert_eq!(parse_ok(BOT).bots[0].settings.intercept_history, 5);
    assert_eq!(
        parse_ok(&format!("[defaults]\nintercept_history = 20\n{BOT}")).bots[0]
            .settings
            .intercept_history,
        20
    );

    for bad in ["101", "-1", "256", "9223372036854775807"] {
        let p = problem(&format!("{BOT}intercept_history = {bad}\n"));
        assert_problem(
            &p,
            6,
            "bots[0].intercept_history",
            &format!("intercept_history must be 0 to 100, not {bad}: "),
        );
    }
    let p = problem(&format!("[defaults]\nintercept_history = 1000\n{BOT}"));
    assert_problem(&p, 2, "defaults.intercept_history", "must be 0 to 100");
    let p = problem(&format!("{BOT}intercept_history = \"5\"\n"));
    assert_problem(
        &p,
        6,
        "bots[0].intercept_history",
        "invalid type: string \"5\", expected a whole number, without quotes",
    );
    let p = problem(&format!("{BOT}intercept_history = 5.0\n"));
    assert_problem(
        &p,
        6,
        "bots[0].intercept_history",
        "expected a whole number",
    );
}

#[test]
fn bot_sees_dialogs_is_a_boolean() {
    assert!(parse_ok(BOT).bots[0].settings.bot_sees_dialogs);
    let config = parse_ok(&format!(
        "[defaults]\nbot_sees_dialogs = false\n{BOT}{SUPPORT}bot_sees_dialogs = true\n"
    ));
    assert!(!config.bots[0].settings.bot_sees_dialogs);
    assert!(config.bots[1].settings.bot_sees_dialogs);
    let p = problem(&format!("{BOT}bot_sees_dialogs = 1\n"));
    assert_problem(
        &p,
        6,
        "bots[0].bot_sees_dialogs",
        "invalid type: integer `1`, expected a boolean",
    );
}

#[test]
fn max_upload_mb_bounds() {
    let max_upload = |value: &str| -> u64 {
        parse_ok(&format!("[http]\nmax_upload_mb = {value}\n{BOT}"))
            .http
            .max_upload
    };
    assert_eq!(max_upload("1"), 1024 * 1024);
    assert_eq!(max_upload("50"), 50 * MEGABYTE);
    assert_eq!(max_upload("2000"), MAX_MAX_UPLOAD_MB * MEGABYTE);
    assert_eq!(
        parse_ok(BOT).http.max_upload,
        DEFAULT_MAX_UPLOAD_MB * MEGABYTE
    );
    assert_eq!(HttpConfig::default().max_upload, 50 * 1024 * 1024);

    for bad in ["0", "2001", "-50", "9223372036854775807"] {
        let p = problem(&format!("[http]\nmax_upload_mb = {bad}\n{BOT}"));
        assert_problem(
            &p,
            2,
            "http.max_upload_mb",
            &format!(
                "max_upload_mb must be 1 to 2000, not {bad}: 50 is Telegram's upload limit for bots, 2000 a local Bot API server's"
            ),
        );
    }
    let p = problem(&format!("[http]\nmax_upload_mb = \"50\"\n{BOT}"));
    assert_problem(
        &p,
        2,
        "http.max_upload_mb",
        "invalid type: string \"50\", expected a whole number",
    );
    let p = problem(&format!("[http]\nmax_upload_mb = \"50MB\"\n{BOT}"));
    assert_problem(&p, 2, "http.max_upload_mb", "expected a whole number");
    // Misplaced.
    let p = problem(&format!("max_upload_mb = 50\n{BOT}"));
    assert_problem(&p, 1, "max_upload_mb", "max_upload_mb belongs in [http]");
    let p = problem(&format!("[defaults]\nmax_upload_mb = 50\n{BOT}"));
    assert_problem(
        &p,
        2,
        "defaults.max_upload_mb",
        "max_upload_mb belongs in [http]",
    );
    let p = problem(&format!("{BOT}max_upload_mb = 50\n"));
    assert_problem(
        &p,
        6,
        "bots[0].max_upload_mb",
        "max_upload_mb belongs in [http]",
    );
    let p = problem(&format!("[http]\nmax_uplod_mb = 50\n{BOT}"));
    assert_problem(
        &p,
        2,
        "http.max_uplod_mb",
        r#"did you mean "max_upload_mb"?"#,
    );
    // A problem of [http] stops `run` too.
    run_error(&format!("[http]\nmax_upload_mb = 0\n{BOT}"));
}

#[test]
fn describe_shows_each_mode_with_its_keys() {
    let config = parse_ok(&format!(
        r#"[http]
listen = "0.0.0.0:8081"
max_upload_mb = 2000
{BOT}mode = "proxy"
take_over_webhook = true
intercept_history = 0
bot_sees_dialogs = false

[[bots]]
name = "support"
token = "${{SUPPORT_BOT_TOKEN}}"
backend_group = -1002
mode = "forward"
forward_url = "https://bot.example/hook"
forward_secret = "${{HOOK_SECRET}}"
intercept_external = false
intercept_history = 1

[[bots]]
name = "orders"
token = "${{ORDERS_BOT_TOKEN}}"
backend_group = -1003
mode = "forward"
forward_url = "http://127.0.0.1:9000/"
"#
    ));
    let text = config.describe();
    for expected in [
        "http.listen:        0.0.0.0:8081\n",
        "http.max_upload_mb: 2000 (largest request body the Bot API proxy accepts)\n",
        "bot \"shop\"\n",
        "  mode:               proxy (the existing bot's Bot API base URL: http://<this host>:8081)\n",
        "  take_over_webhook:  true (a webhook set for the token is removed at start and served by switchboard)\n",
        "  intercept_external: true (what the existing bot sends is shown in the topics)\n",
        "  intercept_history:  0 (off: none of the bot's earlier messages are shown when a dialog opens)\n",
        "  bot_sees_dialogs:   false (users' messages in open dialogs go to the operators only)\n",
        "bot \"support\"\n",
        "  mode:               forward (updates are POSTed to the existing bot)\n",
        "  forward_url:        https://bot.example/hook\n",
        "  forward_secret:     set (not shown)\n",
        "  intercept_external: false (what the existing bot sends is not shown)\n",
        "  intercept_history:  1 (the bot's latest message is shown when a dialog opens)\n",
        "  bot_sees_dialogs:   true (the existing bot still gets users' messages in open dialogs)\n",
        "bot \"orders\"\n",
        "  forward_url:        http://127.0.0.1:9000/\n",
        "  forward_secret:     not set\n",
        "  intercept_history:  5 (the bot's latest 5 messages are shown when a dialog opens)\n",
    ] {
        assert!(
            text.contains(expected),
            "describe() lacks {expected:?}:\n{text}"
        );
    }
    assert!(!text.contains("take_over_webhook:  false"), "{text}");
    assert_no_secret(&text);
    assert!(!text.contains(HOOK_SECRET));

    let config = parse_ok(&format!(
        "[http]\nlisten = \"[::1]:9000\"\n{BOT}mode = \"proxy\"\n"
    ));
    let text = config.describe();
    assert!(
        text.contains(
            "  mode:               proxy (the existing bot's Bot API base URL: http://[::1]:9000)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  take_over_webhook:  false (a webhook set for the token is left alone)\n"),
        "{text}"
    );
    let text = parse_ok(BOT).describe();
    assert!(
        text.contains("  mode:               standalone\n"),
        "{text}"
    );
    assert!(
        !text.contains("forward_") && !text.contains("take_over"),
        "{text}"
    );
}

#[test]
fn example_parallel_bots_work_when_uncommented() {
    let text = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bots.toml"))
        .expect("the example bots.toml exists");
    let start = text
        .find("# --- Beside an existing bot")
        .expect("the example shows the parallel modes");
    let is_toml = |line: &str| {
        line.starts_with("[[bots]]")
            || line.split_once(" = ").is_some_and(|(key, _)| {
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
    };
    let uncommented: String = text[start..]
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if is_toml(rest) => format!("{rest}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    let config = parse_ok(&format!("{}{uncommented}", &text[..start]));
    assert_eq!(names_of(&config), ["shop", "support", "legacy", "orders"]);
    assert_eq!(
        config.bots[2].mode,
        Mode::Proxy(Proxy {
            take_over_webhook: true
        })
    );
    assert_eq!(
        config.bots[3].mode,
        Mode::Forward(Forward {
            url: "https://orders.example.com/telegram/webhook".to_owned(),
            secret: Some(HookSecret::new(HOOK_SECRET)),
        })
    );
    assert_no_secret(&config.describe());
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
        messages[1]
            .starts_with("a chat id must be a number, not a string: write -1002 (without quotes)"),
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
        "20/x", "30", "30s", "/s", "30/", "abc/s", "-1/s", "+3/s", "1.5/s", "30/s/s", "3/-3s", "",
        "of", "30/S",
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
mode = "proxi"
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
        format!("{BOT}\n[[bots]]\nname = \"b\"\ntoken = \"{SHOP_TOKEN}\"\nbackend_group = -1002\n"),
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
        "http.max_upload_mb: 50 (largest request body the Bot API proxy accepts)",
        "bot \"shop\"",
        "  token:              123456:***",
        "  backend_group:      -1001234567890",
        "  mode:               standalone",
        "  welcome:            off",
        "  private_keywords:   (none: any message opens a dialog)",
        "  autoclose:          1h 30m after the last operator reply",
        "  silent_mode:        false",
        "  intercept_external: true (no effect in standalone mode)",
        "  intercept_history:  5 (no effect in standalone mode)",
        "  bot_sees_dialogs:   true (no effect in standalone mode)",
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
        "[http]\nmax_upload_mb = 99999999999999999999",
        "[http]\nmax_upload_mb = -9223372036854775808",
        "[defaults]\nintercept_history = -9223372036854775808",
        "[[bots]]\nmode = \"forward\"\nforward_url = \"https://[\"\n",
        "[[bots]]\nmode = \"forward\"\nforward_url = \"http://[::1\"\n",
        "[[bots]]\nmode = \"forward\"\nforward_url = \"http://é@:/\"\n",
        "[[bots]]\nforward_secret = \"${\"\ntake_over_webhook = 1\n",
        "[[bots]]\nmode = 1\nforward_url = []\n",
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
    let invalid = set_aside(&format!("{SUPPORT}mode = \"proxi\"\n"), "support");
    assert_eq!(
        lines_and_keys(&invalid.problems),
        [(Some(11), "bots[1].mode")]
    );
    // A forward bot without its URL, or with an unset secret.
    let invalid = set_aside(&format!("{SUPPORT}mode = \"forward\"\n"), "support");
    assert_eq!(
        lines_and_keys(&invalid.problems),
        [(Some(11), "bots[1].forward_url")]
    );
    let invalid = set_aside(
        &format!(
            "{SUPPORT}mode = \"forward\"\nforward_url = \"https://x.org/\"\nforward_secret = \"${{NOT_SET}}\"\n"
        ),
        "support",
    );
    assert_eq!(
        lines_and_keys(&invalid.problems),
        [(Some(13), "bots[1].forward_secret")]
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

#[test]
fn welcome_is_telegram_html_checked_at_load() {
    for good in [
        "Hello, <b>{name}</b>! See <a href=\"https://shop.example\">our hours</a>.",
        "Tom &amp; Jerry &lt;3 &#128512; &#x1F600;",
        "<blockquote expandable>quoted</blockquote> <span class=\"tg-spoiler\">x</span>",
        "<pre><code class=\"language-rust\">fn main() {}</code></pre>",
    ] {
        let config = parse_ok(&format!("{BOT}welcome = {good:?}\n"));
        assert_eq!(config.bots[0].settings.welcome.as_deref(), Some(good));
    }
    for (bad, why) in [
        ("I <3 you", "a \"<\" that opens no tag"),
        ("a > b", "a \">\" outside a tag"),
        ("Tom & Jerry", "an \"&\" that starts no entity"),
        ("<b>bold", "<b> is never closed"),
        ("<b><i>x</b></i>", "</b> closes <i>"),
        (
            "<blink>x</blink>",
            "<blink> is not a tag of Telegram's HTML",
        ),
        ("x</b>", "</b> closes no tag"),
    ] {
        let p = problem(&format!("{BOT}welcome = {bad:?}\n"));
        assert!(
            p.message
                .starts_with("welcome text is sent as Telegram HTML: ")
                && p.message.contains(why),
            "{bad}: {}",
            p.message
        );
    }
}

#[test]
fn hide_info_takes_its_three_items_and_names_a_wrong_one() {
    let config = parse_ok(&format!(
        "{BOT}hide_info = [\"name\", \"command\"]\nauto_info = false\n"
    ));
    let settings = &config.bots[0].settings;
    assert_eq!(
        settings.hide_info,
        HideInfo {
            name: true,
            username: false,
            command: true,
        }
    );
    assert!(!settings.auto_info);
    let p = problem(&format!("{BOT}hide_info = [\"phone\"]\n"));
    assert!(
        p.message
            .starts_with("unknown item \"phone\": expected any of \"name\""),
        "{}",
        p.message
    );
}
