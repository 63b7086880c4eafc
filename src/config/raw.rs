//! The file as typed (step 2 of the module doc): structs that mirror
//! `bots.toml`, every value optional and most wrapped in [`Spanned`] so the
//! resolver can name its line.
//!
//! The top level and `[http]` are here. `[defaults]` and `[[bots]]`
//! ([`RawSettings`], [`RawBot`]) are generated from the table of per-bot keys
//! in `settings.rs`.
//!
//! Where a value of the wrong type is a likely slip (a duration without
//! quotes, a chat id in quotes, one id where a list belongs), its
//! deserializer keeps what was typed instead of failing, so the resolver
//! reports it with the other problems and says how to write it. A serde
//! error would stop the whole file at the first one.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};
use toml::Spanned;

use super::settings::{RawBot, RawSettings};

/// Keys of the top-level table.
pub(super) const TOP_KEYS: &[&str] = &[
    "database",
    "api_url",
    "poll_timeout",
    "http",
    "defaults",
    "bots",
];
/// Keys of `[http]`.
pub(super) const HTTP_KEYS: &[&str] = &["listen", "max_upload_mb"];

/// The whole file; its keys are [`TOP_KEYS`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) database: Option<Spanned<String>>,
    pub(super) api_url: Option<Spanned<String>>,
    pub(super) poll_timeout: Option<Spanned<RawDuration>>,
    pub(super) http: Option<RawHttp>,
    pub(super) defaults: Option<RawSettings>,
    pub(super) bots: Option<Vec<Spanned<RawBot>>>,
}

/// `[http]`; its keys are [`HTTP_KEYS`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) max_upload_mb: Option<Spanned<RawCount>>,
}

/// A duration as typed. A bare number is kept (not a type error) so the
/// resolver can report it with the other problems and suggest a unit.
pub(super) enum RawDuration {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrNumber {
            expecting: r#"a duration like "30s", "15m" or "48h""#,
            text: RawDuration::Text,
            number: RawDuration::Number,
            floats: true,
        })
    }
}

/// A rate as typed. A bare number is kept (not a type error) so the resolver
/// can report it with the other problems and suggest a duration.
pub(super) enum RawRate {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawRate {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrNumber {
            expecting: r#"a rate like "30/s", "20/m", "3/3s", or "off""#,
            text: RawRate::Text,
            number: RawRate::Number,
            // "1.5" is no count of messages: a float stays a type error.
            floats: false,
        })
    }
}

/// Reads a string, or a number where a string belongs, into a `T` (a
/// [`RawDuration`] or a [`RawRate`]); a number is kept as it would be
/// written, for the message that suggests the quoted form.
struct TextOrNumber<T> {
    /// What the key takes, for serde's type errors.
    expecting: &'static str,
    text: fn(String) -> T,
    number: fn(String) -> T,
    /// Whether a float is kept too, or is a type error.
    floats: bool,
}

impl<T> Visitor<'_> for TextOrNumber<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.text)(v.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok((self.number)(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok((self.number)(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        if self.floats {
            Ok((self.number)(v.to_string()))
        } else {
            // What serde says for a type it does not take.
            Err(E::invalid_type(de::Unexpected::Float(v), &self))
        }
    }
}

/// A whole number as typed (`intercept_history`, `max_upload_mb`): any TOML
/// integer, for the resolver to check its range; anything else is a type
/// error that says "a whole number" (serde would say "i64").
pub(super) struct RawCount(pub(super) i64);

impl<'de> Deserialize<'de> for RawCount {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = RawCount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, without quotes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawCount, E> {
                Ok(RawCount(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawCount, E> {
                // Beyond every range checked, when it does not fit.
                Ok(RawCount(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

/// A chat id as typed. A quoted id, or a list where one id belongs, is kept
/// (not a type error) so the resolver can report it with the other problems.
pub(super) enum RawChatId {
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
pub(super) enum RawChatIds {
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
