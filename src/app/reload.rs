//! What a reload of `bots.toml` would change, worked out before anything
//! is touched.
//!
//! The new file has been loaded strictly, as `check` loads it. Then:
//!
//! 1. The keys outside the bot tables that a running process cannot change
//!    (`database`, `api_url`, `poll_timeout`, `[http]`) are compared
//!    with the running configuration: any difference refuses the whole
//!    reload ([`fixed_changes`]), since applying the bots alone would leave
//!    a configuration in force that is neither the old file nor the new one.
//! 2. The bots are matched by name ([`plan`]): a name only in the new file is
//!    *added*, a name only in the running configuration is *removed*, and a
//!    name in both is *changed* when anything in its [`BotConfig`] differs
//!    (token, backend groups, mode, settings; `[defaults]` are applied in
//!    them already), else *unchanged*.
//!
//! Carrying the plan out is `app`'s business: it stops the removed and
//! changed bots, waits for them, then starts the changed and added ones; the
//! unchanged bots are not touched.

use crate::config::{BotConfig, Config, HttpConfig};

/// What a reload does to the bots, each list in the order of its file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Bots to start: new names (or names whose table was invalid at start).
    pub added: Vec<String>,
    /// Bots to stop.
    pub removed: Vec<String>,
    /// Bots to stop and start again with their new configuration.
    pub changed: Vec<String>,
    /// Bots left running as they are.
    pub unchanged: Vec<String>,
}

/// Matches the running bots with those of the new file, by name.
#[must_use]
pub(super) fn plan(running: &[BotConfig], new: &[BotConfig]) -> Plan {
    let mut plan = Plan::default();
    for bot in new {
        match running.iter().find(|old| old.name == bot.name) {
            None => plan.added.push(bot.name.clone()),
            Some(old) if old == bot => plan.unchanged.push(bot.name.clone()),
            Some(_) => plan.changed.push(bot.name.clone()),
        }
    }
    for old in running {
        if !new.iter().any(|bot| bot.name == old.name) {
            plan.removed.push(old.name.clone());
        }
    }
    plan
}

/// The keys outside the bot tables whose value differs between the running
/// configuration and the new one: they take a restart to apply.
#[must_use]
pub(super) fn fixed_changes(running: &Config, new: &Config) -> Vec<&'static str> {
    // Destructured without `..`: a key added to `Config` does not compile
    // here until it is sorted into live (a bot's) or fixed.
    let Config {
        source: _,
        database,
        api_url,
        poll_timeout,
        http: HttpConfig { listen, max_upload },
        bots: _,
    } = running;
    let mut changed = Vec::new();
    if *database != new.database {
        changed.push("database");
    }
    if *api_url != new.api_url {
        changed.push("api_url");
    }
    if *poll_timeout != new.poll_timeout {
        changed.push("poll_timeout");
    }
    if *listen != new.http.listen {
        changed.push("http.listen");
    }
    if *max_upload != new.http.max_upload {
        changed.push("http.max_upload_mb");
    }
    changed
}

/// Names for a log line: "a, b", or "none".
#[must_use]
pub(super) fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::{BotSettings, Mode, Proxy, Token};

    fn bot(name: &str) -> BotConfig {
        BotConfig {
            name: name.to_owned(),
            token: Token::new(format!("{}:AAsecret", name.len())),
            backend_groups: vec![-1_001],
            mode: Mode::Standalone,
            settings: BotSettings::default(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn bots_are_sorted_into_added_removed_changed_and_unchanged() {
        let running = [bot("a"), bot("b"), bot("c"), bot("e")];
        let mut b = bot("b");
        b.settings.welcome = Some("new welcome".into());
        let mut e = bot("e");
        e.token = Token::new("99:AAother");
        let new = [b, bot("c"), bot("d"), e];
        assert_eq!(
            plan(&running, &new),
            Plan {
                added: names(&["d"]),
                removed: names(&["a"]),
                changed: names(&["b", "e"]),
                unchanged: names(&["c"]),
            }
        );
    }

    #[test]
    fn any_difference_in_a_bot_changes_it() {
        let running = [bot("a")];
        let mut groups = bot("a");
        groups.backend_groups.push(-1_002);
        let mut limits = bot("a");
        limits.settings.limits.chat = None;
        let mut silent = bot("a");
        silent.settings.silent_mode = true;
        let mut proxy = bot("a");
        proxy.mode = Mode::Proxy(Proxy {
            take_over_webhook: false,
        });
        for new in [groups, limits, silent, proxy] {
            assert_eq!(plan(&running, &[new]).changed, names(&["a"]));
        }
        assert_eq!(plan(&running, &[bot("a")]).unchanged, names(&["a"]));
    }

    #[test]
    fn keys_outside_the_bots_need_a_restart() {
        let running = Config {
            source: PathBuf::from("bots.toml"),
            database: PathBuf::from("/var/lib/switchboard/switchboard.db"),
            api_url: "https://api.telegram.org".into(),
            poll_timeout: Duration::from_secs(30),
            http: HttpConfig::default(),
            bots: vec![bot("a")],
        };
        let mut new = running.clone();
        new.bots = vec![bot("b")];
        assert!(fixed_changes(&running, &new).is_empty());
        new.database = PathBuf::from("/tmp/other.db");
        new.poll_timeout = Duration::from_secs(10);
        new.http.listen = "127.0.0.1:9999".parse().expect("an address");
        assert_eq!(
            fixed_changes(&running, &new),
            ["database", "poll_timeout", "http.listen"]
        );
        new.api_url = "http://127.0.0.1:8082".into();
        assert!(fixed_changes(&running, &new).contains(&"api_url"));
        let mut upload = running.clone();
        upload.http.max_upload *= 2;
        assert_eq!(fixed_changes(&running, &upload), ["http.max_upload_mb"]);
    }

    #[test]
    fn lists_name_each_bot_or_none() {
        assert_eq!(list(&[]), "none");
        assert_eq!(list(&names(&["a", "b"])), "a, b");
    }
}
