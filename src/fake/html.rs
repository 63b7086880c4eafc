//! Telegram's `parse_mode=HTML`: turns marked-up text into plain text plus
//! message entities, and rejects what Telegram rejects (unknown tags, unclosed
//! or mismatched tags), so tests catch unescaped `<`, `>` and `&` in
//! user-provided strings.
//!
//! One pass over the input: text and entity references (`&lt;`, `&gt;`,
//! `&amp;`, `&quot;`, `&#NN;`, `&#xHH;`) go to the output; a start tag opens an
//! entity at the current UTF-16 offset (the unit Telegram counts in) and pushes
//! it on a stack; an end tag must match the top of the stack and fixes the
//! entity's length. `<code>` directly inside `<pre>` only sets the `pre`'s
//! language. Empty entities are dropped, as Telegram does.

use serde_json::{Value, json};

/// Plain text and entities for `html`, or Telegram's complaint about it (the
/// part after `Bad Request: can't parse entities: `).
pub(super) fn parse(html: &str) -> Result<(String, Vec<Value>), String> {
    let mut text = String::with_capacity(html.len());
    let mut offset = 0usize; // in UTF-16 code units
    let mut entities: Vec<Value> = Vec::new();
    let mut open: Vec<OpenTag> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        let at = html.len() - rest.len();
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    return Err(format!("Unclosed start tag at byte offset {at}"));
                };
                let inner = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let Some(tag) = open.pop() else {
                        return Err(format!("Unexpected end tag at byte offset {at}"));
                    };
                    if tag.name != name {
                        return Err(format!(
                            "Unmatched end tag at byte offset {at}, expected \"</{}>\", found \"</{name}>\"",
                            tag.name
                        ));
                    }
                    if let Some(index) = tag.entity {
                        entities[index]["length"] = json!(offset - tag.offset);
                    }
                } else {
                    let (name, attrs) = split_tag(inner);
                    let entity =
                        start_entity(&name, &attrs, open.last(), &mut entities).map_err(|()| {
                            format!("Unsupported start tag \"{name}\" at byte offset {at}")
                        })?;
                    let entity = entity.map(|mut e| {
                        e["offset"] = json!(offset);
                        e["length"] = json!(0);
                        entities.push(e);
                        entities.len() - 1
                    });
                    open.push(OpenTag {
                        name,
                        offset,
                        entity,
                    });
                }
            }
            '&' => {
                let (decoded, used) = decode_reference(rest);
                text.push(decoded);
                offset += decoded.len_utf16();
                rest = &rest[used..];
            }
            _ => {
                text.push(c);
                offset += c.len_utf16();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(tag) = open.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            tag.name
        ));
    }
    entities.retain(|e| e["length"] != json!(0));
    Ok((text, entities))
}

/// A start tag waiting for its end tag.
struct OpenTag {
    /// Lowercase tag name.
    name: String,
    /// Where its content starts, in UTF-16 units.
    offset: usize,
    /// Index of its entity in the output, if it makes one.
    entity: Option<usize>,
}

/// The entity a start tag opens (without offset/length), `Ok(None)` for a tag
/// that makes none, `Err` for a tag Telegram does not support.
fn start_entity(
    name: &str,
    attrs: &[(String, String)],
    parent: Option<&OpenTag>,
    entities: &mut [Value],
) -> Result<Option<Value>, ()> {
    let attr = |key: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let simple = |kind: &str| Ok(Some(json!({ "type": kind })));
    match name {
        "b" | "strong" => simple("bold"),
        "i" | "em" => simple("italic"),
        "u" | "ins" => simple("underline"),
        "s" | "strike" | "del" => simple("strikethrough"),
        "tg-spoiler" => simple("spoiler"),
        "span" if attr("class") == Some("tg-spoiler") => simple("spoiler"),
        "a" => Ok(attr("href").map(|url| json!({ "type": "text_link", "url": url }))),
        "code" => {
            let language = attr("class").and_then(|c| c.strip_prefix("language-"));
            match parent {
                Some(OpenTag {
                    name,
                    entity: Some(index),
                    ..
                }) if name == "pre" => {
                    if let Some(language) = language {
                        entities[*index]["language"] = json!(language);
                    }
                    Ok(None)
                }
                _ => simple("code"),
            }
        }
        "pre" => simple("pre"),
        "blockquote" if attrs.iter().any(|(k, _)| k == "expandable") => {
            simple("expandable_blockquote")
        }
        "blockquote" => simple("blockquote"),
        "tg-emoji" => match attr("emoji-id") {
            Some(id) => Ok(Some(
                json!({ "type": "custom_emoji", "custom_emoji_id": id }),
            )),
            None => Err(()),
        },
        _ => Err(()),
    }
}

/// Tag name (lowercase) and attributes of the text between `<` and `>`.
fn split_tag(inner: &str) -> (String, Vec<(String, String)>) {
    let inner = inner.trim().trim_end_matches('/');
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            let (raw, remaining) = match after_eq.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after_eq[1..];
                    let close = body.find(quote).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                    (&after_eq[..end], &after_eq[end..])
                }
            };
            value = decode_all(raw);
            rest = remaining.trim_start();
        }
        if !key.is_empty() {
            attrs.push((key, value));
        }
    }
    (name, attrs)
}

/// Decodes every entity reference in an attribute value.
fn decode_all(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if c == '&' {
            let (decoded, used) = decode_reference(rest);
            out.push(decoded);
            rest = &rest[used..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Decodes the entity reference at the start of `s` (which starts with `&`):
/// the character and how many bytes it used. Anything unrecognised is a
/// literal `&`.
fn decode_reference(s: &str) -> (char, usize) {
    let Some(semicolon) = s.get(..12.min(s.len())).and_then(|head| head.find(';')) else {
        return ('&', 1);
    };
    let name = &s[1..semicolon];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .map(|hex| u32::from_str_radix(hex, 16))
            .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
            .and_then(Result::ok)
            .and_then(char::from_u32),
    };
    match decoded {
        Some(c) => (c, semicolon + 1),
        None => ('&', 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_entities_in_utf16_units() {
        let (text, entities) =
            parse("😀 <b>bold <i>both</i></b> &lt;tag&gt; &amp; <a href=\"https://x.y/?a=1&amp;b=2\">link</a>")
                .unwrap();
        assert_eq!(text, "😀 bold both <tag> & link");
        assert_eq!(
            entities,
            vec![
                json!({"type": "bold", "offset": 3, "length": 9}),
                json!({"type": "italic", "offset": 8, "length": 4}),
                json!({"type": "text_link", "url": "https://x.y/?a=1&b=2", "offset": 21, "length": 4}),
            ]
        );
    }

    #[test]
    fn pre_with_code_sets_the_language() {
        let (text, entities) =
            parse("<pre><code class=\"language-rust\">fn main() {}</code></pre>").unwrap();
        assert_eq!(text, "fn main() {}");
        assert_eq!(
            entities,
            vec![json!({"type": "pre", "language": "rust", "offset": 0, "length": 12})]
        );
    }

    #[test]
    fn bad_markup_is_rejected() {
        assert!(
            parse("1 < 2 > 0")
                .unwrap_err()
                .starts_with("Unsupported start tag")
        );
        assert!(
            parse("a < b")
                .unwrap_err()
                .starts_with("Unclosed start tag")
        );
        assert!(
            parse("<b>open")
                .unwrap_err()
                .starts_with("Can't find end tag")
        );
        assert!(
            parse("<b>x</i>")
                .unwrap_err()
                .starts_with("Unmatched end tag")
        );
        assert!(
            parse("x</b>")
                .unwrap_err()
                .starts_with("Unexpected end tag")
        );
        assert_eq!(
            parse("fish & chips &unknown;").unwrap().0,
            "fish & chips &unknown;"
        );
    }
}
