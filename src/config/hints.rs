//! Where a problem is, and what was probably meant.
//!
//! Unknown keys are found in the parsed document before it is deserialized:
//! each table is compared with the keys it may hold, and every key it may
//! not is reported and removed, so one typo does not hide the rest of the
//! file. The message says what was probably meant: a known key within two
//! edits ([`strsim::levenshtein`]), else a known key of another table (a
//! setting written at the top level, a top-level key written after a table
//! header), else the list of the keys the table takes.
//!
//! serde's errors carry a byte offset only; [`key_at`] turns it into the
//! path of the key there (`bots[1].backend_group`), and [`line_of`] any
//! offset into a line number.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::{HTTP_KEYS, TOP_KEYS};
use super::settings::{BOT_ONLY_KEYS, SETTINGS_KEYS};

/// Largest number of edits (Levenshtein distance) between a typed key and
/// the known key it is taken for: "welcom", "chat_limits", "listn".
const MAX_EDITS: usize = 2;

/// A problem found in the document before deserializing it; the part in
/// question has been removed.
pub(super) struct Dropped {
    /// The `[[bots]]` table it is in, if any.
    pub(super) table: Option<usize>,
    pub(super) span: Range<usize>,
    /// The path of the key, e.g. `bots[0].mood`.
    pub(super) key: String,
    pub(super) message: String,
}

/// Finds every key the format does not know and removes it, so the rest of
/// the file can still be checked; also a `[bots]` table written for
/// `[[bots]]`, which cannot be read as bots at all. Each is a problem to
/// report, in the order of the file within each table.
pub(super) fn drop_unknown_keys(root: &mut DeTable<'_>) -> Vec<Dropped> {
    let mut dropped = Vec::new();
    drop_unknown_in(root, "", "at the top level", TOP_KEYS, None, &mut dropped);
    if let Some(http) = root.get_mut("http") {
        if let DeValue::Table(table) = http.get_mut() {
            drop_unknown_in(table, "http", "in [http]", HTTP_KEYS, None, &mut dropped);
        }
    }
    if let Some(defaults) = root.get_mut("defaults") {
        if let DeValue::Table(table) = defaults.get_mut() {
            let place = "in [defaults]";
            drop_unknown_in(table, "defaults", place, SETTINGS_KEYS, None, &mut dropped);
        }
    }
    if let Some(bots) = root.get("bots") {
        if let DeValue::Table(_) = bots.get_ref() {
            dropped.push(Dropped {
                table: None,
                span: bots.span(),
                key: "bots".to_owned(),
                message: "[bots] must be an array of tables: write [[bots]] (double brackets) before each bot".to_owned(),
            });
            root.remove("bots");
        }
    }
    if let Some(bots) = root.get_mut("bots") {
        if let DeValue::Array(array) = bots.get_mut() {
            let bot_keys: Vec<&str> = BOT_ONLY_KEYS.iter().chain(SETTINGS_KEYS).copied().collect();
            for (index, bot) in array.iter_mut().enumerate() {
                if let DeValue::Table(table) = bot.get_mut() {
                    let path = format!("bots[{index}]");
                    let place = "in [[bots]]";
                    drop_unknown_in(table, &path, place, &bot_keys, Some(index), &mut dropped);
                }
            }
        }
    }
    dropped
}

/// The unknown keys of one table, at `path`, which is `place` in words.
fn drop_unknown_in(
    table: &mut DeTable<'_>,
    path: &str,
    place: &str,
    known: &[&str],
    in_table: Option<usize>,
    dropped: &mut Vec<Dropped>,
) {
    let unknown: Vec<(String, Range<usize>)> = table
        .iter()
        .filter(|(key, _)| !known.contains(&key.get_ref().as_ref()))
        .map(|(key, _)| (key.get_ref().to_string(), key.span()))
        .collect();
    for (key, span) in unknown {
        table.remove(key.as_str());
        let message = format!(
            "unknown key {key:?} {place}; {}",
            unknown_key_hint(&key, path, known)
        );
        dropped.push(Dropped {
            table: in_table,
            span,
            key: child_path(path, &key),
            message,
        });
    }
}

/// What to say after "unknown key": a likely correction when there is one,
/// else the list of valid keys.
fn unknown_key_hint(key: &str, path: &str, known: &[&str]) -> String {
    let expected = format!("expected one of: {}", known.join(", "));
    let top_level = path.is_empty();
    let in_bot = path.starts_with("bots[");
    if let Some(close) = known
        .iter()
        .find(|k| strsim::levenshtein(key, k) <= MAX_EDITS)
    {
        return format!("did you mean {close:?}? {expected}");
    }
    if top_level && SETTINGS_KEYS.contains(&key) {
        return format!("{key} belongs in [defaults] (for every bot) or in a [[bots]] table");
    }
    if top_level && BOT_ONLY_KEYS.contains(&key) {
        return format!("{key} belongs in a [[bots]] table");
    }
    if path != "http" && HTTP_KEYS.contains(&key) {
        return format!("{key} belongs in [http]");
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

/// The path of `key` in the table at `path`: `bots[0].name`, or `name` at
/// the top level.
fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The key path (`bots[1].backend_group`) of the innermost key or value
/// whose span holds `offset`; empty when none does.
pub(super) fn key_at(root: &DeTable<'_>, offset: usize) -> String {
    let mut best: Option<(usize, String)> = None;
    visit_table(root, "", offset, &mut best);
    best.map(|(_, path)| path).unwrap_or_default()
}

fn visit_table(table: &DeTable<'_>, path: &str, offset: usize, best: &mut Option<(usize, String)>) {
    for (key, value) in table.iter() {
        let child = child_path(path, key.get_ref());
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

/// Keeps `path` as the best so far when its span holds `offset` and is
/// smaller than the best's (the innermost), or as small and deeper.
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

/// 1-based line of a byte offset into `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// " (line N)", to point at an earlier value in a message; empty when the
/// line is not known.
pub(super) fn line_suffix(line: Option<usize>) -> String {
    line.map(|line| format!(" (line {line})"))
        .unwrap_or_default()
}
