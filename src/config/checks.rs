//! Checks of single values, each on its own: what was typed in, the
//! checked value or the message for a problem out. Nothing here knows where
//! a value sits in the file; the resolver adds the key and the line.
//!
//! Durations go through [`parse_humantime`], a guard around humantime, which
//! panics on some sums near `u64::MAX` seconds: it cuts the text into terms
//! the way humantime reads it, parses each term alone (which cannot panic)
//! and adds them up with overflow checks.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::raw::{RawChatId, RawCount, RawDuration, RawRate};
use super::{
    DEFAULT_POLL_TIMEOUT, MAX_HOOK_SECRET_CHARS, MAX_MAX_UPLOAD_MB, MAX_NAME_CHARS,
    MAX_POLL_TIMEOUT, MAX_RATE_COUNT, MAX_RATE_WINDOW, MEGABYTE, MIN_RATE_WINDOW, Rate,
    format_duration,
};

/// `"off"`, in any case and with surrounding spaces.
pub(super) fn is_off(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("off")
}

/// Parses a duration; `Ok(None)` is "off" (only when `allow_off`). The
/// caller checks the bounds of its key.
pub(super) fn parse_duration(
    raw: &RawDuration,
    allow_off: bool,
) -> Result<Option<Duration>, String> {
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

/// `poll_timeout`: a duration from 0s to [`MAX_POLL_TIMEOUT`].
pub(super) fn check_poll_timeout(raw: &RawDuration) -> Result<Duration, String> {
    match parse_duration(raw, false)? {
        Some(timeout) if timeout <= MAX_POLL_TIMEOUT => Ok(timeout),
        Some(timeout) => Err(format!(
            "{} is too long: expected 0s to 50s (Telegram's practical maximum)",
            format_duration(timeout)
        )),
        // "off" is not accepted here, so `None` cannot happen.
        None => Ok(DEFAULT_POLL_TIMEOUT),
    }
}

/// Parses a rate, `"COUNT/DURATION"`; `Ok(None)` is "off". A rate that is
/// not "off" has a COUNT from 1 to [`MAX_RATE_COUNT`] and a window from
/// [`MIN_RATE_WINDOW`] to [`MAX_RATE_WINDOW`].
pub(super) fn parse_rate(raw: &RawRate) -> Result<Option<Rate>, String> {
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
pub(super) enum BadDuration {
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
pub(super) fn parse_humantime(text: &str) -> Result<Duration, BadDuration> {
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

/// `database`: the path of a file, so not empty.
/// Tags of Telegram's HTML format (`parse_mode = "HTML"`).
const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// Checks `text` as Telegram's HTML would read it: only its tags, each
/// closed in order, and `<`, `>`, `&` only as parts of a tag or of an entity
/// (`&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;`). Telegram refuses the whole
/// message otherwise, so the problem is found here, not at the first user.
pub(super) fn check_telegram_html(text: &str) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['<', '>', '&']) {
        let (mark, after) = (&rest[at..=at], &rest[at + 1..]);
        match mark {
            ">" => return Err("a \">\" outside a tag: write &gt; for a literal >".into()),
            "&" => {
                let entity = after.split_once(';').map(|(name, _)| name);
                let known = entity.is_some_and(|name| {
                    matches!(name, "lt" | "gt" | "amp" | "quot")
                        || name.strip_prefix("#x").is_some_and(|hex| {
                            !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
                        })
                        || name.strip_prefix('#').is_some_and(|digits| {
                            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
                        })
                });
                let Some(name) = entity.filter(|_| known) else {
                    return Err(
                        "an \"&\" that starts no entity: write &amp; for a literal &".into(),
                    );
                };
                rest = &after[name.len() + 1..];
            }
            _ => {
                let Some((tag, tail)) = after.split_once('>') else {
                    return Err("a \"<\" that opens no tag: write &lt; for a literal <".into());
                };
                if let Some(closing) = tag.strip_prefix('/') {
                    let name = closing.trim();
                    match open.pop() {
                        Some(last) if last == name => {}
                        Some(last) => {
                            return Err(format!(
                                "</{name}> closes <{last}>: close tags in the order they were opened"
                            ));
                        }
                        None => return Err(format!("</{name}> closes no tag")),
                    }
                } else {
                    let name = tag.split_whitespace().next().unwrap_or_default();
                    if !HTML_TAGS.contains(&name) {
                        return Err(format!(
                            "<{tag}> is not a tag of Telegram's HTML (write &lt; for a literal <); the tags are: {}",
                            HTML_TAGS.join(", ")
                        ));
                    }
                    open.push(name);
                }
                rest = tail;
            }
        }
    }
    match open.last() {
        Some(tag) => Err(format!("<{tag}> is never closed")),
        None => Ok(()),
    }
}

pub(super) fn check_database(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err(r#"empty path: expected a file name like "switchboard.db""#.to_owned());
    }
    Ok(())
}

/// `api_url`: an http(s) base URL, without the trailing slash; never one
/// with a token in it.
pub(super) fn check_api_url(url: &str) -> Result<String, String> {
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

/// `[http] listen`: an IP address and a port (no host names, which would
/// need a lookup).
pub(super) fn check_listen(address: &str) -> Result<SocketAddr, String> {
    address.parse().map_err(|_| {
        format!(
            "invalid address {address:?}: expected an IP address and port like \"127.0.0.1:8081\", \"0.0.0.0:8081\" or \"[::1]:8081\" (host names are not resolved)"
        )
    })
}

/// `[http] max_upload_mb`: 1 to [`MAX_MAX_UPLOAD_MB`] megabytes, in bytes.
pub(super) fn check_max_upload_mb(&RawCount(megabytes): &RawCount) -> Result<u64, String> {
    match u64::try_from(megabytes) {
        Ok(mb) if (1..=MAX_MAX_UPLOAD_MB).contains(&mb) => Ok(mb * MEGABYTE),
        _ => Err(format!(
            "max_upload_mb must be 1 to {MAX_MAX_UPLOAD_MB}, not {megabytes}: 50 is Telegram's upload limit for bots, {MAX_MAX_UPLOAD_MB} a local Bot API server's"
        )),
    }
}

/// A bot's `name`: short and plain, as it keys logs, metrics and rows.
pub(super) fn check_name(name: &str) -> Result<(), String> {
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
pub(super) fn check_group_id(value: &RawChatId, in_list: bool) -> Result<i64, String> {
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

/// A bot's `mode` as written, before the keys of that mode are added to
/// make a [`Mode`](super::Mode).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ModeName {
    Standalone,
    Proxy,
    Forward,
}

impl ModeName {
    /// As written in `bots.toml`.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ModeName::Standalone => "standalone",
            ModeName::Proxy => "proxy",
            ModeName::Forward => "forward",
        }
    }
}

/// A bot's `mode`.
pub(super) fn check_mode(mode: &str) -> Result<ModeName, String> {
    match mode {
        "standalone" => Ok(ModeName::Standalone),
        "proxy" => Ok(ModeName::Proxy),
        "forward" => Ok(ModeName::Forward),
        other => Err(format!(
            "unknown mode {other:?}: expected one of: standalone, proxy, forward"
        )),
    }
}

/// `forward_url`: an absolute http(s) URL with a host (and, if given, a
/// valid port), without a fragment; kept as written.
pub(super) fn check_forward_url(url: &str) -> Result<String, String> {
    const EXPECTED: &str = r#"expected the existing bot's webhook URL, starting with http:// or https://, like "https://bot.example/hook""#;
    let invalid = |why: &str| format!("invalid forward_url {url:?}: {why}{EXPECTED}");
    if url.contains("${") {
        return Err(
            "${VAR} is not expanded in forward_url: write the URL itself (only token and forward_secret read the environment)"
                .to_owned(),
        );
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(invalid(""));
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace; "));
    }
    if url.contains('#') {
        return Err(invalid("a webhook URL has no fragment (#); "));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, at)| at);
    let (host, port, bracketed) = match host_port.strip_prefix('[') {
        Some(inside) => {
            let Some((host, after)) = inside.split_once(']') else {
                return Err(invalid("invalid host; "));
            };
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => return Err(invalid("invalid host; ")),
            };
            (host, port, true)
        }
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port), false),
            None => (host_port, None, false),
        },
    };
    if host.is_empty() {
        return Err(invalid("no host; "));
    }
    let host_ok = if bracketed {
        host.parse::<Ipv6Addr>().is_ok()
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    if !host_ok {
        return Err(invalid("invalid host; "));
    }
    if let Some(port) = port {
        if !port.bytes().all(|b| b.is_ascii_digit()) || !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(invalid("invalid port (expected 1 to 65535); "));
        }
    }
    Ok(url.to_owned())
}

/// `forward_secret` (after `${VAR}` expansion): Telegram's rule for a
/// webhook's `secret_token`. The message never quotes any of it.
pub(super) fn check_hook_secret(secret: &str) -> Result<(), String> {
    let expected = format!(
        "expected 1 to {MAX_HOOK_SECRET_CHARS} characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for a webhook's secret token)"
    );
    if secret.is_empty() {
        return Err(format!("is empty: {expected}"));
    }
    let length = secret.chars().count();
    if length > MAX_HOOK_SECRET_CHARS {
        return Err(format!("is too long ({length} characters): {expected}"));
    }
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        let hint = if secret.chars().any(char::is_whitespace) {
            " (it contains whitespace)"
        } else {
            ""
        };
        return Err(format!(
            "has characters other than A-Z, a-z, 0-9, _ and -{hint}: {expected}"
        ));
    }
    Ok(())
}

/// Checks that a token looks like `<digits>:<secret>`. The message says what
/// is wrong without quoting any of it.
pub(super) fn check_token(token: &str) -> Result<(), String> {
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
pub(super) fn expand_env(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
