//! How the configuration is shown: [`Config::describe`] (the output of
//! `switchboard check`) and values written back the way `bots.toml` writes
//! them ([`format_duration`], [`Rate::describe`]), so that what `check`
//! prints reads back as the same value.

use std::fmt;
use std::time::Duration;

use super::secret::mask_tokens;
use super::settings;
use super::{Config, HttpConfig, MEGABYTE, Mode, Rate};

impl Config {
    /// The resolved settings in human-readable form, for `switchboard check`.
    /// Tokens appear masked; a `forward_secret` only as "set".
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
        line(
            "http.max_upload_mb:",
            &format_args!(
                "{} (largest request body the Bot API proxy accepts)",
                self.http.max_upload / MEGABYTE
            ),
        );
        line("bots:", &self.bots.len());
        for bot in &self.bots {
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
            match &bot.mode {
                Mode::Standalone => line("mode:", &"standalone"),
                Mode::Proxy(proxy) => {
                    line(
                        "mode:",
                        &format_args!(
                            "proxy (the existing bot's Bot API base URL: {})",
                            proxy_base_url(&self.http)
                        ),
                    );
                    let take_over = if proxy.take_over_webhook {
                        "true (a webhook set for the token is removed at start and served by switchboard)"
                    } else {
                        "false (a webhook set for the token is left alone)"
                    };
                    line("take_over_webhook:", &take_over);
                }
                Mode::Forward(forward) => {
                    line("mode:", &"forward (updates are POSTed to the existing bot)");
                    line("forward_url:", &forward.url);
                    let secret = match forward.secret {
                        Some(_) => "set (not shown)",
                        None => "not set",
                    };
                    line("forward_secret:", &secret);
                }
            }
            for (label, value) in settings::shown(bot) {
                line(label, &value);
            }
        }
        // Free text (welcome, keywords, api_url) is the user's; mask anything
        // token-shaped in it too, so `check` output is always safe to share.
        mask_tokens(&out)
    }
}

/// The URL an existing bot in proxy mode uses as its Bot API base URL: the
/// HTTP server's, with "<this host>" for an address that listens on all.
fn proxy_base_url(http: &HttpConfig) -> String {
    let listen = http.listen;
    if listen.ip().is_unspecified() {
        format!("http://<this host>:{}", listen.port())
    } else {
        format!("http://{listen}")
    }
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

/// A duration as it would be written in `bots.toml`, in hours, minutes and
/// seconds: "48h", "1h 30m", "45s" (humantime would say "2days"). Exact: a
/// fraction of a second is written in ms, us and ns, so the text reads back
/// as the same duration.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let nanos = u64::from(duration.subsec_nanos());
    let terms = [
        (total / 3600, "h"),
        (total / 60 % 60, "m"),
        (total % 60, "s"),
        (nanos / 1_000_000, "ms"),
        (nanos / 1000 % 1000, "us"),
        (nanos % 1000, "ns"),
    ];
    let parts: Vec<String> = terms
        .into_iter()
        .filter(|&(count, _)| count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_AUTOCLOSE;

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
}
