//! The Bot API proxy: switchboard as the Bot API server of an existing bot
//! (`mode = "proxy"`), so that the bot keeps working while switchboard is
//! the only consumer of its token's updates (see "Why the proxy" in
//! DESIGN.md).
//!
//! How a request is served ([`handle`]):
//!
//! 1. The path names the token: `/bot<TOKEN>/<METHOD>` or
//!    `/file/bot<TOKEN>/<PATH>`, the token possibly percent-encoded. Any
//!    other path gets Telegram's 404. The token is compared with every
//!    proxy- and forward-mode bot's in constant time ([`subtle`]), so the comparison
//!    tells nothing about how much of a guess was right; a token that is not
//!    one of them gets Telegram's 401 and nothing is sent anywhere. The Host
//!    header plays no part: calls only ever go to `api_url`, with a
//!    configured token, so the proxy is never an open relay.
//! 2. A body longer than `[http] max_upload_mb` gets 413: at once when its
//!    `Content-Length` says so, or when the stream passes the limit.
//! 3. The methods that concern the bot's updates are answered here, from
//!    the update buffer ([`updates`]): `getUpdates` (offsets, limit,
//!    long polling, `allowed_updates`), `setWebhook`, `deleteWebhook`,
//!    `getWebhookInfo`. `logOut` and `close` are refused: they would cut
//!    switchboard's own connection. Method names are matched in any case, as
//!    Telegram matches them.
//! 4. Every other call, and every file download, is passed to `api_url`
//!    unchanged, and Telegram's answer comes back unchanged, status included
//!    (`pass.rs`). Bodies are streamed both ways, never held whole.
//!
//! What the bot is offered is decided by the dispatcher, which sees each
//! update in order with the dialogs' state: every update of a type the bot
//! asked for, but those from the backend groups (switchboard's own) and,
//! with `bot_sees_dialogs = false`, users' messages in open dialogs.

mod answer;
pub mod intercept;
mod params;
mod pass;
pub mod updates;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::Running;
use crate::config::{BotConfig, Forward, Mode, Token};
use crate::http::AppState;
use crate::store::Store;

/// Update types Telegram sends a bot that never chose (or chose an empty
/// list): all but `chat_member`, `message_reaction` and
/// `message_reaction_count`.
pub const TELEGRAM_DEFAULT_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// The update types an existing bot asked for: `None` (never chose, or an
/// empty list) is Telegram's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted(Option<Vec<String>>);

impl Wanted {
    /// From a bot's `allowed_updates`; an empty list is Telegram's default.
    #[must_use]
    pub fn from_list(list: Option<Vec<String>>) -> Wanted {
        Wanted(list.filter(|list| !list.is_empty()))
    }

    /// From the JSON stored in `existing_bots.allowed_updates`; unreadable
    /// JSON counts as the default.
    #[must_use]
    pub fn from_stored(json: Option<&str>) -> Wanted {
        Wanted::from_list(json.and_then(|json| serde_json::from_str(json).ok()))
    }

    /// The list the bot chose, if it chose one.
    #[must_use]
    pub fn list(&self) -> Option<&[String]> {
        self.0.as_deref()
    }

    /// Whether an update of `kind` is for the bot.
    #[must_use]
    pub fn wants(&self, kind: &str) -> bool {
        match &self.0 {
            Some(list) => list.iter().any(|k| k == kind),
            None => TELEGRAM_DEFAULT_UPDATES.contains(&kind),
        }
    }

    /// What to ask Telegram for so that both switchboard (`ours`) and the
    /// bot get what they need.
    #[must_use]
    pub fn with(&self, ours: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = match &self.0 {
            Some(list) => list.clone(),
            None => TELEGRAM_DEFAULT_UPDATES
                .iter()
                .map(|&k| k.to_owned())
                .collect(),
        };
        for kind in ours {
            if !all.iter().any(|k| k == kind) {
                all.push((*kind).to_owned());
            }
        }
        all
    }
}

/// The existing bot's side of a proxy- or forward-mode bot: what the proxy
/// and the dispatcher share about it while it runs. Its token is never
/// printed (`Debug` leaves it out).
pub struct ExistingBot {
    pub name: String,
    token: Token,
    /// Forward mode: where its updates are delivered (`forward_url`,
    /// `forward_secret`). It may still call the proxy, but not `getUpdates`.
    pub forward: Option<Forward>,
    /// Proxy mode's `take_over_webhook`.
    pub take_over_webhook: bool,
    /// `intercept_external`: what it sends users is recorded for mirrors.
    pub intercept: bool,
    /// Bumped when updates were offered, and by each new `getUpdates`
    /// (which ends the one before it).
    changes: watch::Sender<u64>,
    /// A reload is stopping the bot: what replaces it (if anything) is
    /// about to be published.
    retired: AtomicBool,
    /// `getUpdates` calls so far: a long poll ends when a newer one starts.
    polls: AtomicU64,
    /// The update types it asked for; the poller follows it.
    wanted: watch::Sender<Wanted>,
}

impl std::fmt::Debug for ExistingBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExistingBot")
            .field("name", &self.name)
            .field("forward", &self.forward)
            .finish_non_exhaustive()
    }
}

impl ExistingBot {
    /// The existing bot of a bot in proxy or forward mode; `None` in
    /// standalone mode.
    #[must_use]
    pub fn new(bot: &BotConfig) -> Option<Arc<ExistingBot>> {
        let (forward, take_over_webhook) = match &bot.mode {
            Mode::Standalone => return None,
            Mode::Proxy(proxy) => (None, proxy.take_over_webhook),
            Mode::Forward(forward) => (Some(forward.clone()), false),
        };
        Some(Arc::new(ExistingBot {
            name: bot.name.clone(),
            token: bot.token.clone(),
            forward,
            take_over_webhook,
            intercept: bot.settings.intercept_external,
            changes: watch::Sender::new(0),
            retired: AtomicBool::new(false),
            polls: AtomicU64::new(0),
            wanted: watch::Sender::new(Wanted::default()),
        }))
    }

    /// Whether `token` is this bot's, in time that does not depend on
    /// where they differ.
    fn owns(&self, token: &[u8]) -> bool {
        self.token.expose().as_bytes().ct_eq(token).into()
    }

    /// New updates were offered: waiting long polls and deliveries wake.
    pub fn offered(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The update types it wants, followed by the poller.
    #[must_use]
    pub fn wanted(&self) -> watch::Receiver<Wanted> {
        self.wanted.subscribe()
    }

    /// Sets the update types it wants (read from the database at start, or
    /// just asked for).
    pub fn set_wanted(&self, wanted: Wanted) {
        self.wanted.send_if_modified(|current| {
            let changed = *current != wanted;
            *current = wanted;
            changed
        });
    }

    /// A new `getUpdates` begins: returns its number, and wakes the one
    /// before it, which then ends.
    fn start_poll(&self) -> u64 {
        let number = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
        self.offered();
        number
    }

    fn is_latest_poll(&self, number: u64) -> bool {
        self.polls.load(Ordering::SeqCst) == number
    }

    /// The bot stops (a reload stops or restarts it): a long poll waiting
    /// here answers now, and the bot's next `getUpdates` waits for what
    /// replaces it (see [`handle`]).
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        self.start_poll();
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }
}

/// What the proxy shares across requests.
#[derive(Clone)]
pub struct Proxy {
    /// Telegram's Bot API server (`api_url`), without a trailing slash.
    pub api_url: String,
    /// For the calls passed on: no overall timeout (an upload may take
    /// long), but bounded connects and reads.
    pub http: reqwest::Client,
    /// The largest request body accepted (`[http] max_upload_mb`).
    pub max_body: u64,
    /// Long polls end (empty) when the process stops.
    pub shutdown: CancellationToken,
    /// The buffer of updates, and what the bots asked for.
    pub store: Store,
    /// Where intercepted calls go to be recorded.
    pub records: intercept::Records,
}

/// A read of Telegram's answer that stalls this long fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

impl Proxy {
    pub fn new(
        api_url: &str,
        max_body: u64,
        store: Store,
        records: intercept::Records,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Proxy> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|err| anyhow::anyhow!("cannot build the proxy's HTTP client: {err}"))?;
        Ok(Proxy {
            api_url: api_url.trim_end_matches('/').to_owned(),
            http,
            max_body,
            shutdown,
            store,
            records,
        })
    }
}

/// Where a request's path points.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// `/bot<TOKEN>/<METHOD>`
    Method { token: Vec<u8>, method: &'a str },
    /// `/file/bot<TOKEN>/<PATH>`
    File { token: Vec<u8>, path: &'a str },
}

/// Reads the path; `None` for any path the Bot API does not serve.
fn route(path: &str) -> Option<Route<'_>> {
    let decode = |token: &str| percent_encoding::percent_decode_str(token).collect::<Vec<u8>>();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        let (token, path) = rest.split_once('/')?;
        (!token.is_empty() && !path.is_empty()).then(|| Route::File {
            token: decode(token),
            path,
        })
    } else {
        let rest = path.strip_prefix("/bot")?;
        let (token, method) = rest.split_once('/')?;
        let valid = !token.is_empty()
            && !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| Route::Method {
            token: decode(token),
            method,
        })
    }
}

/// Serves one request to the Bot API proxy (see the module's documentation).
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(route) = route(&path) else {
        return answer::not_found();
    };
    let token = match &route {
        Route::Method { token, .. } | Route::File { token, .. } => token,
    };
    let Some(mut bot) = owner(&state.running.borrow(), token) else {
        return answer::unauthorized();
    };
    let polls =
        matches!(&route, Route::Method { method, .. } if method.eq_ignore_ascii_case("getupdates"));
    if polls && bot.is_retired() {
        // A reload is replacing it: poll what replaces it, not a bot that
        // is stopping (whose poll would wait out its whole timeout).
        match replacement(&state, token).await {
            Some(next) => bot = next,
            None => return answer::unauthorized(),
        }
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > state.proxy.max_body) {
        return answer::too_large(state.proxy.max_body);
    }
    match route {
        Route::File { path, .. } => pass::file(&state.proxy, &bot, path, request).await,
        Route::Method { method, .. } => match method.to_ascii_lowercase().as_str() {
            "getupdates" => updates::get_updates(&state, &bot, request).await,
            "setwebhook" => updates::set_webhook(&state, &bot, request).await,
            "deletewebhook" => updates::delete_webhook(&state, &bot, request).await,
            "getwebhookinfo" => updates::get_webhook_info(&state, &bot).await,
            "logout" | "close" => answer::bad_request(
                "switchboard does not pass logOut or close on: they would disconnect the bot from Telegram for switchboard too",
            ),
            _ => pass::method(&state.proxy, &bot, method, request).await,
        },
    }
}

/// The existing bot of `running` whose token is `token`. Every bot is
/// compared, matched or not: the time taken tells nothing.
fn owner(running: &Running, token: &[u8]) -> Option<Arc<ExistingBot>> {
    let mut found = None;
    for bot in running.existing.values() {
        if bot.owns(token) {
            found = Some(Arc::clone(bot));
        }
    }
    found
}

/// How long a call waits for a reload to publish what replaces a bot it is
/// stopping (the reload waits that long for the bot's tasks, see `app`).
const RELOAD_WAIT: Duration = Duration::from_secs(10);

/// The existing bot that owns `token` once the reload under way publishes
/// the running set that follows it: `None` if the reload removed it (or made
/// it standalone); the stopping one still, if the reload takes longer than
/// [`RELOAD_WAIT`].
async fn replacement(state: &AppState, token: &[u8]) -> Option<Arc<ExistingBot>> {
    let mut running = state.running.clone();
    let deadline = tokio::time::Instant::now() + RELOAD_WAIT;
    loop {
        let found = owner(&running.borrow_and_update(), token);
        match found {
            Some(bot) if bot.is_retired() => {
                let changed = tokio::time::timeout_at(deadline, running.changed()).await;
                if !matches!(changed, Ok(Ok(()))) {
                    return Some(bot);
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_as_telegram_reads_them() {
        assert_eq!(
            route("/bot123:ABC/sendMessage"),
            Some(Route::Method {
                token: b"123:ABC".to_vec(),
                method: "sendMessage"
            })
        );
        assert_eq!(
            route("/file/bot123%3AABC/photos/file_1.jpg"),
            Some(Route::File {
                token: b"123:ABC".to_vec(),
                path: "photos/file_1.jpg"
            })
        );
        for other in [
            "/",
            "/healthz2",
            "/bot/sendMessage",
            "/bot123:ABC/",
            "/bot123:ABC",
            "/bot123:ABC/send/Message",
            "/file/bot123:ABC/",
            "/botx/../admin",
        ] {
            assert_eq!(route(other), None, "{other}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_path_is_read_without_a_panic(path in "\\PC*") {
            let _ = route(&path);
        }

        #[test]
        fn a_token_comes_back_as_sent_encoded_or_not(
            id in 1u64..10_000_000_000,
            secret in "[A-Za-z0-9_-]{1,46}",
            method in "[A-Za-z]{1,30}",
        ) {
            let token = format!("{id}:{secret}");
            let encoded = token.replace(':', "%3A");
            for sent in [&token, &encoded] {
                let path = format!("/bot{sent}/{method}");
                proptest::prop_assert_eq!(
                    route(&path),
                    Some(Route::Method { token: token.as_bytes().to_vec(), method: &method })
                );
            }
        }
    }

    #[test]
    fn the_wanted_updates_follow_telegram_defaults() {
        let default = Wanted::from_list(Some(Vec::new()));
        assert_eq!(default, Wanted::default());
        assert!(default.wants("message") && default.wants("callback_query"));
        assert!(!default.wants("chat_member") && !default.wants("message_reaction"));
        let chosen = Wanted::from_stored(Some(r#"["chat_member"]"#));
        assert!(chosen.wants("chat_member") && !chosen.wants("message"));
        assert_eq!(
            chosen.with(&["message", "my_chat_member"]),
            ["chat_member", "message", "my_chat_member"]
        );
        assert!(
            default
                .with(&["message_reaction"])
                .contains(&"message_reaction".to_owned())
        );
        assert_eq!(Wanted::from_stored(Some("not json")), Wanted::default());
    }

    #[test]
    fn a_token_matches_only_itself() {
        let config = BotConfig {
            name: "shop".into(),
            token: Token::new("123:ABC"),
            backend_groups: vec![-1001],
            mode: Mode::Proxy(crate::config::Proxy {
                take_over_webhook: false,
            }),
            settings: crate::config::BotSettings::default(),
        };
        let bot = ExistingBot::new(&config).unwrap();
        assert!(bot.owns(b"123:ABC"));
        assert!(!bot.owns(b"123:ABD"));
        assert!(!bot.owns(b"123:AB"));
        assert!(!bot.owns(b""));
    }
}
