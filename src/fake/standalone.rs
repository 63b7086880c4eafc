//! `switchboard fake`: the fake Bot API in a process of its own, for a
//! developer who points their own bot at it in local tests, and for
//! benchmarks that measure switchboard's CPU apart from the fake's.
//!
//! Another process sets it up and drives it through the control API
//! (`control.rs`, or `switchboard fake --help`). `--bots` and `--users` create
//! a setup at start, so that a script can begin at once. What a user needs is
//! printed on stdout at start, the base URL on the first line.

use std::fmt::Write as _;
use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use super::FakeTelegram;

/// What to create at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// Bots `bot1_bot`, `bot2_bot`, ..., each the admin of its own forum
    /// group `bot1 support`, ...
    pub bots: usize,
    /// Users `User1` (`@user1`), `User2`, ...
    pub users: usize,
}

/// Serves the fake on `listen` with `setup` until `shutdown`, after writing
/// to `out` what a user needs (see [`start`]). A failed write is ignored: a
/// script that read the first line and closed the pipe must not stop the fake.
///
/// # Errors
/// If `listen` cannot be bound.
pub async fn run(
    listen: SocketAddr,
    setup: Setup,
    out: &mut dyn std::io::Write,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (fake, text) = start(listen, setup).await?;
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    shutdown.cancelled().await;
    fake.shutdown();
    Ok(())
}

/// Starts the fake on `listen` and creates `setup`; returns it with the text
/// to print: the base URL on the first line (`fake Bot API listening on
/// http://...`), how to reach both APIs, and what was created, tokens
/// included.
///
/// # Errors
/// If `listen` cannot be bound.
pub async fn start(listen: SocketAddr, setup: Setup) -> anyhow::Result<(FakeTelegram, String)> {
    let fake = FakeTelegram::start_on(listen).await?;
    let url = fake.api_url();
    let mut text = format!(
        "fake Bot API listening on {url} (state in memory, until stopped)\n\
         \x20 Bot API:      {url}/bot<token>/<method>; in bots.toml: api_url = \"{url}\"\n\
         \x20 files:        {url}/file/bot<token>/<file_path> (the path from getFile)\n\
         \x20 control API:  {url}/fake/... (JSON; the routes: switchboard fake --help)\n\
         \x20 create a bot: curl -s -d '{{\"username\":\"my_bot\"}}' {url}/fake/bots\n"
    );
    for n in 1..=setup.bots {
        let bot = fake.add_bot(&format!("bot{n}_bot"));
        let group = fake.add_forum_group(&format!("bot{n} support"), &[&bot]);
        let _ = writeln!(
            text,
            "bot   @{}  id {}  token {}  backend group {group}",
            bot.username, bot.id, bot.token
        );
    }
    for n in 1..=setup.users {
        let user = fake.add_user(&format!("User{n}"), Some(&format!("user{n}")));
        let _ = writeln!(text, "user  User{n} (@user{n})  id {}", user.id);
    }
    Ok((fake, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_setup_is_created_and_printed_with_the_url_first() {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (fake, text) = start(listen, Setup { bots: 2, users: 1 }).await.unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first.split_whitespace().find(|w| w.starts_with("http://")),
            Some(fake.api_url().as_str())
        );
        let bots: Vec<FakeBotLine> = text
            .lines()
            .filter_map(|line| line.strip_prefix("bot   @"))
            .map(FakeBotLine::parse)
            .collect();
        assert_eq!(bots.len(), 2);
        for bot in &bots {
            let created = fake.general_messages(bot.group);
            assert_eq!(created.len(), 1, "group {} exists", bot.group);
            assert!(bot.token.starts_with(&format!("{}:", bot.id)));
        }
        assert_eq!(text.lines().filter(|l| l.starts_with("user  ")).count(), 1);
    }

    /// A `bot` line of the printed setup.
    struct FakeBotLine {
        id: i64,
        token: String,
        group: i64,
    }

    impl FakeBotLine {
        fn parse(line: &str) -> FakeBotLine {
            let words: Vec<&str> = line.split_whitespace().collect();
            FakeBotLine {
                id: words[2].parse().unwrap(),
                token: words[4].to_owned(),
                group: words[7].parse().unwrap(),
            }
        }
    }
}
