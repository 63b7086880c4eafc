//! Bot tokens are secrets (design invariant 6): this file owns how they are
//! kept and how text is cleaned of them. A forward bot's webhook secret is
//! kept the same way.
//!
//! [`Token`] prints only its bot id, [`HookSecret`] nothing of itself, and [`mask_tokens`] masks anything
//! shaped like a token in free text: every problem the configuration reports
//! and everything `switchboard check` prints passes through it, in case a
//! token was typed into the wrong key. Other modules use it for error texts
//! that come back from the network.

use std::fmt;

/// A bot token. A secret: `Debug` and `Display` print only the bot id
/// (`123456:***`); [`Token::expose`] gives the real value to the one place
/// that needs it (building Bot API URLs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a token value. Does not check its shape: [`Config::parse`] does
    /// that for tokens from `bots.toml`.
    ///
    /// [`Config::parse`]: super::Config::parse
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

/// A webhook secret (`forward_secret`): what Telegram calls a webhook's
/// `secret_token`, 1 to 256 characters of `A-Z a-z 0-9 _ -`. A secret:
/// `Debug` and `Display` print `***`; [`HookSecret::expose`] gives the real
/// value to the one place that needs it (the header of a forwarded update).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HookSecret(String);

impl HookSecret {
    /// Wraps a secret. Does not check its shape: [`Config::parse`] does
    /// that for `forward_secret` in `bots.toml`.
    ///
    /// [`Config::parse`]: super::Config::parse
    #[must_use]
    pub fn new(value: impl Into<String>) -> HookSecret {
        HookSecret(value.into())
    }

    /// The real secret, for the request header. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HookSecret(***)")
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
    use crate::config::tests::SHOP_TOKEN;

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

    #[test]
    fn hook_secret_prints_nothing_of_itself() {
        let secret = HookSecret::new("HookSECRET_value-1");
        assert_eq!(secret.to_string(), "***");
        assert_eq!(format!("{secret:?}"), "HookSecret(***)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(HookSecret(***))");
        assert_eq!(secret.expose(), "HookSECRET_value-1");
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
}
