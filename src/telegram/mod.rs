//! The Bot API client: frankenstein's transport and types, with two things
//! added that the rest of switchboard relies on.
//!
//! * `getUpdates` is fetched as raw JSON and split into one raw update each,
//!   so that one update of a type frankenstein does not know cannot fail the
//!   whole batch; the dispatcher decodes them one by one, leniently, into
//!   switchboard's own types ([`update`]).
//! * Every failure is classified into an [`Error`] whose kind callers act on
//!   (retry after, stop the bot, mark the user blocked, ...). Tokens never
//!   appear in these errors: frankenstein strips the request URL from
//!   transport errors, this module never formats the API URL, and every
//!   text that comes from outside (which may echo the URL) is masked.

pub mod gate;

pub mod update;

use std::time::Duration;

use frankenstein::AsyncTelegramApi;
use frankenstein::client_reqwest::Bot;
use frankenstein::methods::{
    CloseForumTopicParams, CopyMessageParams, CopyMessagesParams, CreateForumTopicParams,
    ReopenForumTopicParams, SendMessageParams,
};
use frankenstein::response::{ErrorResponse, MethodResponse};
use frankenstein::types::{ForumTopic, Message, MessageId, User};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::Token;

/// A failed Bot API call, by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 429: wait exactly this long before calling again.
    #[error("rate limited by Telegram: retry after {}s", .0.as_secs())]
    RetryAfter(Duration),
    /// 401 (or 404, Telegram's answer for a token it does not know at all):
    /// the token was rejected.
    #[error("unauthorized: Telegram rejected the bot token (revoked or mistyped?)")]
    Unauthorized,
    /// 409: another consumer of this token's updates.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 403, e.g. "bot was blocked by the user".
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400 "message thread not found": the topic was deleted.
    #[error("message thread not found (the topic was deleted?)")]
    ThreadNotFound,
    /// 400 with `migrate_to_chat_id`: the group became a supergroup with a new id.
    #[error("the group moved to chat id {0}")]
    Migrated(i64),
    /// Any other 4xx: the request itself is wrong; retrying cannot help.
    #[error("rejected by Telegram ({code}): {description}")]
    Rejected { code: u64, description: String },
    /// 5xx from Telegram or a proxy in front of it.
    #[error("Telegram server error ({code}): {description}")]
    Server { code: u64, description: String },
    /// The request or its answer did not make it (connect, reset, timeout, garbled reply).
    #[error("network: {0}")]
    Network(String),
}

impl Error {
    /// Whether the same call may succeed later (after a backoff, or `retry_after`).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RetryAfter(_) | Error::Server { .. } | Error::Network(_)
        )
    }

    /// 400 TOPIC_NOT_MODIFIED or "message is not modified": the topic or
    /// message is already in the requested state.
    #[must_use]
    pub fn is_not_modified(&self) -> bool {
        matches!(self, Error::Rejected { description, .. }
            if description.contains("TOPIC_NOT_MODIFIED") || description.contains("message is not modified"))
    }

    fn from_response(response: ErrorResponse) -> Error {
        let ErrorResponse {
            description,
            error_code: code,
            parameters,
            ..
        } = response;
        if let Some(seconds) = parameters.and_then(|p| p.retry_after) {
            return Error::RetryAfter(Duration::from_secs(seconds.into()));
        }
        if let Some(chat) = parameters.and_then(|p| p.migrate_to_chat_id) {
            return Error::Migrated(chat);
        }
        match code {
            // Every method switchboard calls exists, so a 404 is about the token.
            401 | 404 => Error::Unauthorized,
            403 => Error::Forbidden(description),
            409 => Error::Conflict(description),
            // A 429 without retry_after: wait a second rather than hammer.
            429 => Error::RetryAfter(Duration::from_secs(1)),
            400 if description.contains("message thread not found") => Error::ThreadNotFound,
            500.. => Error::Server { code, description },
            _ => Error::Rejected { code, description },
        }
    }
}

impl Error {
    /// Classifies a failed call. Every text in the result that came from
    /// outside (Telegram's description, an unreadable answer, a transport
    /// error) first passes through `mask`: a server at a wrong `api_url` may
    /// echo the request path, and with it the token (DESIGN invariant 6).
    fn from_frankenstein(err: frankenstein::Error, mask: impl Fn(&str) -> String) -> Error {
        match err {
            frankenstein::Error::Api(mut response) => {
                response.description = mask(&response.description);
                Error::from_response(response)
            }
            frankenstein::Error::HttpReqwest(err) if err.is_timeout() => {
                Error::Network("request timed out".into())
            }
            // frankenstein removed the URL from the error itself, but not
            // necessarily from its sources.
            frankenstein::Error::HttpReqwest(err) => Error::Network(mask(&error_chain(&err))),
            // A non-JSON answer, typically an HTML error page from a proxy.
            // Masked before it is cut short: a cut could leave a piece of
            // the token too short to be recognised.
            frankenstein::Error::JsonDecode { source, input } => Error::Network(format!(
                "unreadable answer ({}): {}",
                mask(&source.to_string()),
                mask(&input).chars().take(200).collect::<String>()
            )),
            other => Error::Network(mask(&other.to_string())),
        }
    }
}

/// `text` without `token`'s secret, nor anything else shaped like a token.
///
/// The secret (the part after `:`) is what is replaced, not the whole token:
/// it is the same in every form the token takes in an echoed URL (raw,
/// `123%3ASECRET`, `123%3aSECRET`), since none of its characters is ever
/// percent-encoded. A token without `:` (not one from `bots.toml`, which
/// checks the shape) is replaced whole.
fn mask_secret(text: &str, token: &Token) -> String {
    let token = token.expose();
    let secret = token.split_once(':').map_or(token, |(_, secret)| secret);
    let text = if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "***")
    };
    crate::config::mask_tokens(&text)
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An HTTP client whose calls give up after `timeout`. One is shared by many
/// bots: it holds the connection pool and the TLS roots, which are costly to
/// build per bot. Long polls need a timeout above `poll_timeout`.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .build()
        .map_err(|err| anyhow::anyhow!("cannot build the HTTP client: {}", error_chain(&err)))
}

/// One update as Telegram sent it, with its id read out.
#[derive(Debug)]
pub struct RawUpdate {
    pub update_id: i64,
    pub json: Box<RawValue>,
}

/// The update types switchboard asks for. Passed explicitly on every
/// `getUpdates`: Telegram otherwise keeps whatever the last caller chose.
/// An existing bot's (proxy and forward mode) are added to them.
pub const ALLOWED_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "message_reaction",
    "my_chat_member",
];

/// The update types switchboard asks for beside an existing bot: its
/// button presses too, shown in the topics (`intercept_external`).
pub const CONNECTED_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "message_reaction",
    "my_chat_member",
    "callback_query",
];

/// A webhook set at Telegram (`getWebhookInfo`), read leniently.
#[derive(Debug, Clone, Deserialize)]
pub struct TelegramWebhook {
    pub url: String,
    #[serde(default)]
    pub allowed_updates: Option<Vec<String>>,
    #[serde(default)]
    pub max_connections: Option<i64>,
}

/// A Bot API client for one bot. Deliberately not `Debug`: it holds the token.
#[derive(Clone)]
pub struct Client {
    bot: Bot,
    /// To remove from error texts (see [`mask_secret`]).
    token: Token,
}

impl Client {
    /// A client for one bot over a shared HTTP client (see [`http_client`]).
    #[must_use]
    pub fn new(http: reqwest::Client, api_url: &str, token: &Token) -> Client {
        let bot = Bot::builder()
            .api_url(format!("{api_url}/bot{}", token.expose()))
            .client(http)
            .build();
        Client {
            bot,
            token: token.clone(),
        }
    }

    /// `err` classified, with this bot's token and any other masked.
    fn error(&self, err: frankenstein::Error) -> Error {
        Error::from_frankenstein(err, |text| mask_secret(text, &self.token))
    }

    pub async fn get_me(&self) -> Result<User, Error> {
        self.call(self.bot.get_me()).await
    }

    /// Long-polls for updates of the `allowed` types from `offset` on, each
    /// kept as raw JSON.
    pub async fn get_updates(
        &self,
        offset: i64,
        timeout: Duration,
        allowed: &[String],
    ) -> Result<Vec<RawUpdate>, Error> {
        // Types as text: an existing bot may ask for one frankenstein does
        // not know yet.
        #[derive(Debug, serde::Serialize)]
        struct GetUpdates<'a> {
            offset: i64,
            limit: u32,
            timeout: u32,
            allowed_updates: &'a [String],
        }
        let params = GetUpdates {
            offset,
            limit: 100,
            timeout: u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX),
            allowed_updates: allowed,
        };
        let response: MethodResponse<Vec<Box<RawValue>>> = self
            .bot
            .request("getUpdates", Some(params))
            .await
            .map_err(|e| self.error(e))?;
        let mut updates = Vec::with_capacity(response.result.len());
        for json in response.result {
            #[derive(Deserialize)]
            struct Id {
                update_id: i64,
            }
            match serde_json::from_str::<Id>(json.get()) {
                Ok(Id { update_id }) => updates.push(RawUpdate { update_id, json }),
                Err(err) => tracing::warn!(cause = %err, "skipping an update without update_id"),
            }
        }
        Ok(updates)
    }

    /// Any method, with JSON parameters and a JSON result.
    pub async fn call_json(
        &self,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let response: MethodResponse<serde_json::Value> = self
            .bot
            .request(method, Some(params))
            .await
            .map_err(|e| self.error(e))?;
        Ok(response.result)
    }

    /// The webhook Telegram has for this token, if any.
    pub async fn webhook(&self) -> Result<Option<TelegramWebhook>, Error> {
        let response: MethodResponse<TelegramWebhook> = self
            .bot
            .request("getWebhookInfo", None::<()>)
            .await
            .map_err(|e| self.error(e))?;
        let info = response.result;
        Ok((!info.url.is_empty()).then_some(info))
    }

    /// Removes the token's webhook at Telegram, keeping its pending updates.
    pub async fn delete_webhook(&self) -> Result<(), Error> {
        #[derive(Debug, serde::Serialize)]
        struct DeleteWebhook {
            drop_pending_updates: bool,
        }
        let params = DeleteWebhook {
            drop_pending_updates: false,
        };
        let _: MethodResponse<bool> = self
            .bot
            .request("deleteWebhook", Some(params))
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Awaits a call, classifying (and masking) its failure.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<MethodResponse<T>, frankenstein::Error>>,
    ) -> Result<T, Error> {
        Ok(call.await.map_err(|e| self.error(e))?.result)
    }

    pub async fn send_message(&self, params: &SendMessageParams) -> Result<Message, Error> {
        self.call(self.bot.send_message(params)).await
    }

    pub async fn copy_message(&self, params: &CopyMessageParams) -> Result<MessageId, Error> {
        self.call(self.bot.copy_message(params)).await
    }

    /// Copies several messages at once (an album stays an album); the new
    /// ids come back in the order of the originals.
    pub async fn copy_messages(
        &self,
        params: &CopyMessagesParams,
    ) -> Result<Vec<MessageId>, Error> {
        self.call(self.bot.copy_messages(params)).await
    }

    pub async fn create_forum_topic(
        &self,
        params: &CreateForumTopicParams,
    ) -> Result<ForumTopic, Error> {
        self.call(self.bot.create_forum_topic(params)).await
    }

    pub async fn close_forum_topic(&self, params: &CloseForumTopicParams) -> Result<(), Error> {
        self.call(self.bot.close_forum_topic(params))
            .await
            .map(drop)
    }

    pub async fn reopen_forum_topic(&self, params: &ReopenForumTopicParams) -> Result<(), Error> {
        self.call(self.bot.reopen_forum_topic(params))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frankenstein::response::ResponseParameters;

    fn response(code: u64, description: &str, parameters: Option<ResponseParameters>) -> Error {
        Error::from_response(ErrorResponse {
            ok: false,
            description: description.into(),
            error_code: code,
            parameters,
        })
    }

    #[test]
    fn classifies_errors_by_what_to_do() {
        let retry = response(
            429,
            "Too Many Requests: retry after 7",
            Some(ResponseParameters {
                migrate_to_chat_id: None,
                retry_after: Some(7),
            }),
        );
        assert_eq!(retry, Error::RetryAfter(Duration::from_secs(7)));
        assert!(retry.is_transient());
        assert_eq!(response(401, "Unauthorized", None), Error::Unauthorized);
        // Telegram answers 404 to a token it does not know at all.
        assert_eq!(response(404, "Not Found", None), Error::Unauthorized);
        assert!(!response(401, "Unauthorized", None).is_transient());
        assert_eq!(
            response(400, "Bad Request: message thread not found", None),
            Error::ThreadNotFound
        );
        assert!(
            matches!(response(403, "Forbidden: bot was blocked by the user", None), Error::Forbidden(d) if d.contains("blocked"))
        );
        assert!(response(502, "Bad Gateway", None).is_transient());
        assert!(!response(400, "Bad Request: chat not found", None).is_transient());
        assert!(response(400, "Bad Request: TOPIC_NOT_MODIFIED", None).is_not_modified());
        let migrated = response(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            Some(ResponseParameters {
                migrate_to_chat_id: Some(-1009),
                retry_after: None,
            }),
        );
        assert_eq!(migrated, Error::Migrated(-1009));
    }

    const TOKEN: &str = "123456789:AAHownSecretOwnSecretOwnSecret_-123";

    fn masked(err: frankenstein::Error) -> String {
        let token = Token::new(TOKEN);
        Error::from_frankenstein(err, |text| mask_secret(text, &token)).to_string()
    }

    #[test]
    fn the_own_token_is_masked_in_every_form_and_any_other_token_too() {
        let text = format!(
            "Cannot POST /bot{TOKEN}/getMe; /bot{}/x; /bot{}/y; 987654321:AAHsomeoneElsesSecret_42",
            TOKEN.replace(':', "%3A"),
            TOKEN.replace(':', "%3a"),
        );
        let masked = mask_secret(&text, &Token::new(TOKEN));
        assert_eq!(
            masked,
            "Cannot POST /bot123456789:***/getMe; /bot123456789%3A***/x; /bot123456789%3a***/y; 987654321:***"
        );
    }

    #[test]
    fn errors_built_from_outside_text_are_masked() {
        let description = masked(frankenstein::Error::Api(ErrorResponse {
            ok: false,
            description: format!("Bad Request: no route /bot{TOKEN}/getMe"),
            error_code: 400,
            parameters: None,
        }));
        assert_eq!(
            description,
            "rejected by Telegram (400): Bad Request: no route /bot123456789:***/getMe"
        );

        // An HTML page whose 200th character falls inside the token: masked
        // first, so no piece of the secret survives the cut.
        let input = format!(
            "{}<pre>Cannot POST /bot{TOKEN}/getMe</pre>",
            "x".repeat(166)
        );
        let Err(source) = serde_json::from_str::<serde_json::Value>(&input) else {
            panic!("HTML is not JSON");
        };
        let unreadable = masked(frankenstein::Error::JsonDecode { source, input });
        assert!(
            unreadable.ends_with("Cannot POST /bot123456789:***"),
            "{unreadable}"
        );
        assert!(!unreadable.contains("AAH"), "{unreadable}");
    }
}
