//! The control API: part of what a test does through the methods of
//! [`FakeTelegram`](super::FakeTelegram), as JSON over HTTP beside the Bot
//! API, so that another process can set up and drive a fake it did not start
//! (`switchboard fake`).
//!
//! Answers have the Bot API's shape: `{"ok":true,"result":..}`, or
//! `{"ok":false,"error_code":..,"description":..}` with the HTTP status equal
//! to the code: 400 for a body or path that does not parse, 404 for a bot,
//! user, group, topic or message the fake does not have. A body is read as
//! JSON whatever its content type (so `curl -d '{..}'` works). Ids are those
//! the fake gave out; a bot's id is also the number before the `:` of its
//! token. The requests are not recorded in
//! [`FakeTelegram::requests`](super::FakeTelegram::requests).
//!
//! | route | body | result |
//! |---|---|---|
//! | `GET /fake/methods` | | the Bot API methods the fake implements |
//! | `POST /fake/bots` | `{"username":"shop_bot"}` | the new bot: `{"id":..,"token":..,"username":..}` |
//! | `GET /fake/bots` | | every bot, as above |
//! | `POST /fake/users` | `{"first_name":"Alice","username":"alice","started":[BOT_ID]}` (`username`, `started` optional) | the new user: `{"id":..,"first_name":..,"username":..}`; it started the bots in `started` some time ago (they may write to it; no update) |
//! | `POST /fake/users/batch` | `{"count":1000,"first_name":"Reader","started":[BOT_ID]}` (`first_name` "User" and `started` empty if left out; `count` 1 to 1,000,000) | `count` new users `Reader1`, `Reader2`, .. without usernames, as a list like above; each started the bots in `started` (a broadcast's audience, in one call) |
//! | `POST /fake/groups` | `{"title":"Support","bots":[BOT_ID],"forum":true}` (`forum` true if left out) | `{"id":..}`; the bots are its admins, with `can_manage_topics` |
//! | `POST /fake/bots/{bot}/chats/{user}` | `{"text":"hi"}`, or `{"content":{..}}` with any message fields | `{"message_id":..}`: the user wrote to the bot |
//! | `GET /fake/bots/{bot}/chats/{user}` | | the private chat, both directions, as the Bot API's `Message` objects |
//! | `POST /fake/bots/{bot}/chats/{user}/buttons` | `{"message_id":..,"data":"yes"}` | `{"callback_query_id":..}`: the user pressed the inline button with that `callback_data` under the bot's message (404 if it shows none) |
//! | `POST /fake/bots/{bot}/chats/{user}/messages/{message}/reactions` | `{"emoji":"👍"}` (`null` or left out: none) | the message's reactions, as below: the user reacted to a message of their chat with the bot, or took their reaction back; the bot gets a `message_reaction` update if it asked for them (400 for an emoji Telegram does not offer or a service message) |
//! | `GET /fake/bots/{bot}/chats/{user}/messages/{message}/reactions` | | the message's reactions, in the order they were chosen: `[{"from_id":..,"emoji":"👍"}]` (the bot's too; an album's are its first message's) |
//! | `GET /fake/groups/{group}/topics` | | the topics: `{"thread_id":..,"name":..,"icon_color":..,"closed":..,"deleted":..}` |
//! | `POST /fake/groups/{group}/topics/{thread}` | `{"from":USER_ID,"text":"hi"}` (or `"content"`; `"reply_to":MESSAGE_ID` optional) | `{"message_id":..}`: an operator wrote in the topic (thread 1 is General) |
//! | `GET /fake/groups/{group}/topics/{thread}` | | the topic's messages, service messages included (thread 1 is General) |
//! | `POST /fake/groups/{group}/messages/{message}/reactions` | `{"from":USER_ID,"emoji":"👍"}` (`emoji` as above) | the message's reactions: an operator reacted to a message of the group (any topic), or took their reaction back; the group's admin bots get a `message_reaction` update if they asked for them |
//! | `GET /fake/groups/{group}/messages/{message}/reactions` | | the message's reactions, as above |
//! | `GET /fake/files/{file_id}` | | the file's bytes as they download (not JSON: `application/octet-stream`); 404 for an unknown id |
//! | `GET /fake/stats` | | `{"accepted_sends":..,"throttled":..,"throttled_bot":..,"throttled_private_chat":..,"throttled_group":..}` |
//! | `DELETE /fake/stats` | | `true`: the statistics start afresh |
//! | `PUT /fake/limits` | `"telegram"`, `"off"`, or `{"per_bot":{"count":30,"per":"1s"},"per_private_chat":..,"per_group":..}` (a scope left out is unlimited) | `true` |
//! | `GET /fake/requests?method=getUpdates` | | the recorded Bot API requests (of one method, any case, with `method`): `{"bot_id":..,"method":..,"params":..}` |
//! | `DELETE /fake/requests` | | `true`: the record starts afresh |
//! | `POST /fake/faults` | `{"method":"sendMessage","bot":BOT_ID,"times":2,"fault":{"error":{"code":502,"description":"Bad Gateway"}}}` | `true`; see below |
//! | `DELETE /fake/faults` | | `true`: every fault rule is gone |
//!
//! A fault rule ([`FaultRule`]) matches requests of `method` (any method if
//! left out) by `bot` (any bot if left out), `times` times (1 if left out;
//! `"always":true` for every one), each with chance `probability` (1 if left
//! out). Its `fault` is one of `{"error":{"code":..,"description":..,
//! "retry_after":..,"migrate_to_chat_id":..}}` (the last two optional),
//! `{"retry_after":SECONDS}`, `"hang"`, `{"delay":"2s"}` (applied after the
//! delay), `{"slow_answer":"2s"}` (applied at once, answered after the
//! delay), or `{"disconnect":{"after_apply":false}}`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::server::Answer;
use super::world::{self, World};
use super::{Core, FakeMessage, Fault, FaultRule, Limits, Rate};

/// The routes in brief, for `switchboard fake --help`; the module doc of
/// `src/fake/control.rs` has the details.
pub const CONTROL_HELP: &str = "\
Control API (JSON in and out, answers shaped like the Bot API's):
  GET    /fake/methods                       the Bot API methods the fake implements
  POST   /fake/bots                          {\"username\":\"shop_bot\"} -> {\"id\",\"token\",\"username\"}
  GET    /fake/bots                          every bot, with its token
  POST   /fake/users                         {\"first_name\":\"Alice\",\"username\":\"alice\"} -> {\"id\",..}
                                             (\"started\":[BOT_ID]: the user started these bots, no update)
  POST   /fake/users/batch                   {\"count\":1000,\"started\":[BOT_ID]} -> [{\"id\",..},..] (User1, User2, ..)
  POST   /fake/groups                        {\"title\":\"Support\",\"bots\":[BOT_ID]} -> {\"id\"} (a forum; the bots are admins)
  POST   /fake/bots/BOT/chats/USER           {\"text\":\"hi\"}: the user writes to the bot
  GET    /fake/bots/BOT/chats/USER           the private chat's messages, both directions
  POST   /fake/bots/BOT/chats/USER/buttons   {\"message_id\":7,\"data\":\"yes\"}: the user presses an inline button
  POST   /fake/bots/BOT/chats/USER/messages/MESSAGE/reactions
                                             {\"emoji\":\"👍\"} (or null): the user reacts; GET: the message's reactions
  GET    /fake/groups/GROUP/topics           the group's topics
  POST   /fake/groups/GROUP/topics/THREAD    {\"from\":USER,\"text\":\"hi\"}: an operator writes (thread 1 is General)
  GET    /fake/groups/GROUP/topics/THREAD    the topic's messages
  POST   /fake/groups/GROUP/messages/MESSAGE/reactions
                                             {\"from\":USER,\"emoji\":\"👍\"} (or null): an operator reacts; GET: the reactions
  GET    /fake/files/FILE_ID                 a file's bytes (uploaded, or made up for a person's file)
  GET    /fake/stats, DELETE /fake/stats     accepted sends and 429s; forget them
  PUT    /fake/limits                        \"telegram\", \"off\" or {\"per_bot\":{\"count\":30,\"per\":\"1s\"},..}
  GET    /fake/requests[?method=M], DELETE   the recorded Bot API requests; forget them
  POST   /fake/faults, DELETE /fake/faults   {\"method\":\"sendMessage\",\"times\":2,\"fault\":\"hang\"}; remove all";

/// The control API's routes, served beside the Bot API.
pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route("/fake/methods", get(methods))
        .route("/fake/bots", get(bots).post(add_bot))
        .route("/fake/users", post(add_user))
        .route("/fake/users/batch", post(add_users))
        .route("/fake/groups", post(add_group))
        .route(
            "/fake/bots/{bot}/chats/{user}",
            get(private_chat).post(user_writes),
        )
        .route(
            "/fake/bots/{bot}/chats/{user}/buttons",
            post(user_presses_button),
        )
        .route(
            "/fake/bots/{bot}/chats/{user}/messages/{message}/reactions",
            get(private_reactions).post(user_reacts),
        )
        .route("/fake/groups/{group}/topics", get(topics))
        .route(
            "/fake/groups/{group}/topics/{thread}",
            get(topic_messages).post(operator_writes),
        )
        .route(
            "/fake/groups/{group}/messages/{message}/reactions",
            get(group_reactions).post(operator_reacts),
        )
        .route("/fake/files/{file_id}", get(file_bytes))
        .route("/fake/stats", get(stats).delete(clear_stats))
        .route("/fake/limits", put(set_limits))
        .route("/fake/requests", get(requests).delete(clear_requests))
        .route("/fake/faults", post(inject).delete(clear_faults))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, "Method Not Allowed")
}

/// What a control handler answers: a result, or a Bot API-shaped error.
type Answered = Result<Answer, ApiError>;

async fn methods() -> Answer {
    Answer(json!(world::method_names().collect::<Vec<_>>()))
}

async fn bots(State(core): State<Arc<Core>>) -> Answered {
    to_answer(&core.read(World::bot_profiles))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBot {
    username: String,
}

async fn add_bot(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let NewBot { username } = parse_body(&body)?;
    to_answer(&core.mutate(|w| w.add_bot(&username)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    first_name: String,
    username: Option<String>,
    /// Bots the user started some time ago, by id.
    #[serde(default)]
    started: Vec<i64>,
}

async fn add_user(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let NewUser {
        first_name,
        username,
        started,
    } = parse_body(&body)?;
    core.mutate(|w| {
        for &bot in &started {
            w.require_bot(bot)?;
        }
        let user = w.add_user(&first_name, username.as_deref());
        for &bot in &started {
            w.start_bot(bot, user.id);
        }
        to_answer(&user)
    })
}

/// The most users one batch creates.
const MAX_BATCH_USERS: usize = 1_000_000;

/// Many users at once, numbered: creating a broadcast's audience one call
/// at a time would take longer than what a benchmark measures.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUsers {
    count: usize,
    /// The first name's stem: `User` gives `User1`, `User2`, ..
    first_name: Option<String>,
    /// Bots every one of them started some time ago, by id.
    #[serde(default)]
    started: Vec<i64>,
}

async fn add_users(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let NewUsers {
        count,
        first_name,
        started,
    } = parse_body(&body)?;
    if !(1..=MAX_BATCH_USERS).contains(&count) {
        return Err(ApiError::bad_request(&format!(
            "count is 1 to {MAX_BATCH_USERS}"
        )));
    }
    let stem = first_name.as_deref().unwrap_or("User");
    core.mutate(|w| {
        for &bot in &started {
            w.require_bot(bot)?;
        }
        let users: Vec<_> = (1..=count)
            .map(|n| {
                let user = w.add_user(&format!("{stem}{n}"), None);
                for &bot in &started {
                    w.start_bot(bot, user.id);
                }
                user
            })
            .collect();
        to_answer(&users)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    title: String,
    /// The admins, by id.
    #[serde(default)]
    bots: Vec<i64>,
    #[serde(default = "yes")]
    forum: bool,
}

fn yes() -> bool {
    true
}

async fn add_group(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let NewGroup { title, bots, forum } = parse_body(&body)?;
    core.mutate(|w| {
        for &bot in &bots {
            w.require_bot(bot)?;
        }
        Ok(Answer(json!({ "id": w.add_group(&title, forum, &bots) })))
    })
}

/// What a person writes: a text, or message fields (a photo, a contact, ..).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Writing {
    text: Option<String>,
    content: Option<Map<String, Value>>,
    /// Who writes in a group; a user id.
    from: Option<i64>,
    /// The message of the group this one replies to.
    reply_to: Option<i64>,
}

impl Writing {
    /// The message fields: exactly one of `text` and a non-empty `content`.
    fn content(&mut self) -> Result<Map<String, Value>, ApiError> {
        match (self.text.take(), self.content.take()) {
            (Some(text), None) => Ok(Map::from_iter([("text".to_owned(), text.into())])),
            (None, Some(content)) if !content.is_empty() => Ok(content),
            _ => Err(ApiError::bad_request(
                "give the message as {\"text\":..} or as {\"content\":{..message fields..}}",
            )),
        }
    }
}

async fn user_writes(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64)>,
    body: Bytes,
) -> Answered {
    let (bot, user) = ids;
    let mut writing: Writing = parse_body(&body)?;
    if writing.from.is_some() || writing.reply_to.is_some() {
        return Err(ApiError::bad_request(
            "the user is in the path; `from` and `reply_to` are for groups",
        ));
    }
    let content = writing.content()?;
    core.mutate(|w| {
        w.require_bot(bot)?;
        w.require_user(user)?;
        Ok(Answer(
            json!({ "message_id": w.user_sends(bot, user, content) }),
        ))
    })
}

/// A button press: which message, which button.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Press {
    message_id: i64,
    data: String,
}

async fn user_presses_button(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64)>,
    body: Bytes,
) -> Answered {
    let (bot, user) = ids;
    let press: Press = parse_body(&body)?;
    core.mutate(|w| {
        w.require_bot(bot)?;
        w.require_user(user)?;
        let id = w.user_presses_button(bot, user, press.message_id, &press.data)?;
        Ok(Answer(json!({ "callback_query_id": id })))
    })
}

/// A reaction: which emoji (none takes the reaction back), and who reacts
/// in a group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reacting {
    emoji: Option<String>,
    /// Who reacts in a group; a user id.
    from: Option<i64>,
}

async fn user_reacts(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64, i64)>,
    body: Bytes,
) -> Answered {
    let (bot, user, message) = ids;
    let reacting: Reacting = parse_body(&body)?;
    if reacting.from.is_some() {
        return Err(ApiError::bad_request(
            "the user is in the path; `from` is for groups",
        ));
    }
    core.mutate(|w| {
        w.require_bot(bot)?;
        w.require_user(user)?;
        let held = w.user_reacts(bot, user, message, reacting.emoji.as_deref())?;
        to_answer(&w.private_reactions(bot, user, held)?)
    })
}

async fn private_reactions(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64, i64)>,
) -> Answered {
    let (bot, user, message) = ids;
    core.read(|w| {
        w.require_bot(bot)?;
        w.require_user(user)?;
        to_answer(&w.private_reactions(bot, user, message)?)
    })
}

async fn operator_reacts(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64)>,
    body: Bytes,
) -> Answered {
    let (group, message) = ids;
    let reacting: Reacting = parse_body(&body)?;
    let from = reacting
        .from
        .ok_or_else(|| ApiError::bad_request("`from` (the operator's user id) is missing"))?;
    core.mutate(|w| {
        w.require_group(group)?;
        w.require_user(from)?;
        let held = w.operator_reacts(group, from, message, reacting.emoji.as_deref())?;
        to_answer(&w.group_reactions(group, held)?)
    })
}

async fn group_reactions(State(core): State<Arc<Core>>, Ids(ids): Ids<(i64, i64)>) -> Answered {
    let (group, message) = ids;
    core.read(|w| {
        w.require_group(group)?;
        to_answer(&w.group_reactions(group, message)?)
    })
}

async fn private_chat(State(core): State<Arc<Core>>, Ids(ids): Ids<(i64, i64)>) -> Answered {
    let (bot, user) = ids;
    core.read(|w| {
        w.require_bot(bot)?;
        w.require_user(user)?;
        Ok(messages_answer(w.private_chat(bot, user)))
    })
}

async fn topics(State(core): State<Arc<Core>>, Ids(group): Ids<i64>) -> Answered {
    core.read(|w| {
        w.require_group(group)?;
        to_answer(&w.topics(group))
    })
}

async fn operator_writes(
    State(core): State<Arc<Core>>,
    Ids(ids): Ids<(i64, i64)>,
    body: Bytes,
) -> Answered {
    let (group, thread) = ids;
    let mut writing: Writing = parse_body(&body)?;
    let from = writing
        .from
        .ok_or_else(|| ApiError::bad_request("`from` (the operator's user id) is missing"))?;
    let content = writing.content()?;
    core.mutate(|w| {
        w.require_topic(group, thread, true)?;
        w.require_user(from)?;
        if let Some(reply_to) = writing.reply_to {
            w.require_group_message(group, reply_to)?;
        }
        let sent = w.operator_sends(group, Some(thread), from, writing.reply_to, content);
        Ok(Answer(json!({ "message_id": sent })))
    })
}

async fn topic_messages(State(core): State<Arc<Core>>, Ids(ids): Ids<(i64, i64)>) -> Answered {
    let (group, thread) = ids;
    core.read(|w| {
        w.require_topic(group, thread, false)?;
        let in_thread =
            |m: &Value| world::thread_of(m).unwrap_or(world::GENERAL_THREAD_ID) == thread;
        Ok(messages_answer(w.group_messages(group, in_thread)))
    })
}

/// A file's bytes, raw: the one answer that is not JSON.
async fn file_bytes(
    State(core): State<Arc<Core>>,
    Ids(file_id): Ids<String>,
) -> Result<Response, ApiError> {
    let bytes = core
        .read(|w| w.file_content(&file_id))
        .ok_or_else(|| ApiError::new(404, "Not Found: no file with that file_id"))?;
    let octets = [(header::CONTENT_TYPE, "application/octet-stream")];
    Ok((octets, bytes).into_response())
}

async fn stats(State(core): State<Arc<Core>>) -> Answer {
    let stats = core.read(World::stats);
    Answer(json!({
        "accepted_sends": stats.sends.len(),
        "throttled": stats.throttled,
        "throttled_bot": stats.throttled_bot,
        "throttled_private_chat": stats.throttled_private_chat,
        "throttled_group": stats.throttled_group,
    }))
}

async fn clear_stats(State(core): State<Arc<Core>>) -> Answer {
    done(&core, World::clear_stats)
}

/// `"telegram"`, `"off"`, or a rate per scope.
#[derive(Deserialize)]
#[serde(untagged)]
enum LimitsBody {
    Named(NamedLimits),
    Rates(RatesBody),
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum NamedLimits {
    Telegram,
    Off,
}

/// A rate per scope; a scope left out is unlimited.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesBody {
    per_bot: Option<RateBody>,
    per_private_chat: Option<RateBody>,
    per_group: Option<RateBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    count: u32,
    /// The window, as `"1s"`, `"3s"`, `"1m"`.
    per: String,
}

impl RateBody {
    fn rate(&self) -> Result<Rate, ApiError> {
        let per = duration(&self.per)?;
        Ok(Rate::new(self.count, per))
    }
}

async fn set_limits(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let body: LimitsBody = parse_body(&body).map_err(|_| {
        ApiError::bad_request(
            "limits are \"telegram\", \"off\" or {\"per_bot\":{\"count\":30,\"per\":\"1s\"},\"per_private_chat\":..,\"per_group\":..}",
        )
    })?;
    let rate = |body: Option<RateBody>| body.as_ref().map(RateBody::rate).transpose();
    let limits = match body {
        LimitsBody::Named(NamedLimits::Telegram) => Limits::telegram(),
        LimitsBody::Named(NamedLimits::Off) => Limits::off(),
        LimitsBody::Rates(RatesBody {
            per_bot,
            per_private_chat,
            per_group,
        }) => Limits {
            per_bot: rate(per_bot)?,
            per_private_chat: rate(per_private_chat)?,
            per_group: rate(per_group)?,
        },
    };
    Ok(done(&core, |w| w.set_limits(limits)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFilter {
    /// Only requests of this method, in any case.
    method: Option<String>,
}

async fn requests(
    State(core): State<Arc<Core>>,
    query: Result<Query<RequestFilter>, QueryRejection>,
) -> Answered {
    let Query(filter) = query.map_err(|err| ApiError::bad_request(&err.body_text()))?;
    let wanted = |method: &str| {
        filter
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
    };
    core.read(|w| {
        let requests: Vec<_> = w.requests().iter().filter(|r| wanted(&r.method)).collect();
        to_answer(&requests)
    })
}

async fn clear_requests(State(core): State<Arc<Core>>) -> Answer {
    done(&core, World::clear_requests)
}

/// A [`FaultRule`] as JSON; see the module doc.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    method: Option<String>,
    bot: Option<i64>,
    times: Option<usize>,
    #[serde(default)]
    always: bool,
    probability: Option<f64>,
    fault: FaultKind,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum FaultKind {
    Error {
        code: u16,
        description: String,
        retry_after: Option<u32>,
        migrate_to_chat_id: Option<i64>,
    },
    RetryAfter(u32),
    Hang,
    /// As `"2s"`, `"500ms"`.
    Delay(String),
    /// As `"2s"`, `"500ms"`.
    SlowAnswer(String),
    Disconnect {
        after_apply: bool,
    },
}

impl FaultKind {
    fn fault(self) -> Result<Fault, ApiError> {
        Ok(match self {
            FaultKind::Error {
                code,
                description,
                retry_after,
                migrate_to_chat_id,
            } => {
                if !(400..=599).contains(&code) {
                    return Err(ApiError::bad_request("an error's code is 400 to 599"));
                }
                Fault::Error {
                    code,
                    description,
                    retry_after,
                    migrate_to_chat_id,
                }
            }
            FaultKind::RetryAfter(secs) => Fault::retry_after(secs),
            FaultKind::Hang => Fault::Hang,
            FaultKind::Delay(delay) => Fault::Delay(duration(&delay)?),
            FaultKind::SlowAnswer(delay) => Fault::SlowAnswer(duration(&delay)?),
            FaultKind::Disconnect { after_apply } => Fault::Disconnect { after_apply },
        })
    }
}

async fn inject(State(core): State<Arc<Core>>, body: Bytes) -> Answered {
    let body: FaultBody = parse_body(&body)?;
    let mut rule = FaultRule {
        method: body.method,
        bot_id: body.bot,
        times: body.times.unwrap_or(1),
        fault: body.fault.fault()?,
    };
    if body.always {
        rule = rule.always();
    }
    if let Some(probability) = body.probability {
        if !(0.0..=1.0).contains(&probability) {
            return Err(ApiError::bad_request("probability is 0 to 1"));
        }
        rule = rule.with_probability(probability);
    }
    Ok(done(&core, |w| w.inject(rule)))
}

async fn clear_faults(State(core): State<Arc<Core>>) -> Answer {
    done(&core, World::clear_faults)
}

/// Makes `change` and answers `true`, as the Bot API answers a change.
fn done(core: &Core, change: impl FnOnce(&mut World)) -> Answer {
    core.mutate(change);
    Answer(json!(true))
}

/// A JSON body as `T`, or 400 saying why not.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(&format!("can't parse the JSON body: {err}")))
}

/// Ids from the path; a path that does not parse is a 400 in the Bot API's
/// shape (axum's own rejection would be plain text).
struct Ids<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids<T>, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(ids)) => Ok(Ids(ids)),
            Err(rejection) => Err(ApiError::bad_request(&rejection.body_text())),
        }
    }
}

/// `"2s"`, `"500ms"`, .. as a duration, or 400.
fn duration(text: &str) -> Result<Duration, ApiError> {
    humantime::parse_duration(text)
        .map_err(|err| ApiError::bad_request(&format!("{text:?} is no duration: {err}")))
}

fn to_answer(value: &impl serde::Serialize) -> Answered {
    serde_json::to_value(value)
        .map(Answer)
        .map_err(|err| ApiError::new(500, &format!("Internal Server Error: {err}")))
}

/// Messages as the Bot API's `Message` objects.
fn messages_answer(messages: Vec<FakeMessage>) -> Answer {
    Answer(Value::Array(messages.into_iter().map(|m| m.json).collect()))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::{Value, json};

    use crate::fake::{FakeBot, FakeTelegram, FakeUser};
    use crate::testkit::FakeControl;

    /// A Bot API call that must succeed; returns its `result`.
    async fn bot_api(fake: &FakeTelegram, bot: &FakeBot, method: &str, params: Value) -> Value {
        let url = format!("{}/bot{}/{method}", fake.api_url(), bot.token);
        let request = reqwest::Client::new().post(url).json(&params);
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert_eq!(answer["ok"], true, "{method}: {answer}");
        answer["result"].clone()
    }

    #[tokio::test]
    async fn another_process_can_set_up_and_drive_a_dialog() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let post = |path: String, body: Value| {
            let control = &control;
            async move { control.post(&path, &body).await.unwrap() }
        };
        let get = |path: String| {
            let control = &control;
            async move { control.get(&path).await.unwrap() }
        };
        let bot = post("bots".into(), json!({ "username": "shop_bot" })).await;
        let bot: FakeBot = serde_json::from_value(bot).unwrap();
        let alice = post("users".into(), json!({ "first_name": "Alice" })).await;
        let alice: FakeUser = serde_json::from_value(alice).unwrap();
        let olga = post("users".into(), json!({ "first_name": "Olga" })).await;
        let group = json!({ "title": "Support", "bots": [bot.id] });
        let group = post("groups".into(), group).await["id"].as_i64().unwrap();
        assert_eq!(get("bots".into()).await, json!([bot]));

        let chat = format!("bots/{}/chats/{}", bot.id, alice.id);
        let written = post(chat.clone(), json!({ "text": "hello" })).await;
        let updates = bot_api(&fake, &bot, "getUpdates", json!({})).await;
        assert_eq!(updates[0]["message"]["text"], "hello");
        assert_eq!(updates[0]["message"]["message_id"], written["message_id"]);

        // The bot does what switchboard does: a topic, and the copy in it.
        let topic = json!({ "chat_id": group, "name": "Alice" });
        let topic = bot_api(&fake, &bot, "createForumTopic", topic).await;
        let thread = topic["message_thread_id"].as_i64().unwrap();
        let copy = json!({ "chat_id": group, "message_thread_id": thread,
                           "from_chat_id": alice.id, "message_id": written["message_id"] });
        bot_api(&fake, &bot, "copyMessage", copy).await;
        assert_eq!(
            get(format!("groups/{group}/topics")).await[0]["name"],
            "Alice"
        );
        let shown = get(format!("groups/{group}/topics/{thread}")).await;
        let texts: Vec<&Value> = shown
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["text"])
            .collect();
        assert_eq!(
            texts,
            [&Value::Null, &json!("hello")],
            "the service message, then the copy"
        );

        // An operator answers in the topic, and says hi in General.
        let answer = json!({ "from": olga["id"], "text": "how can we help?" });
        post(format!("groups/{group}/topics/{thread}"), answer).await;
        let hi = json!({ "from": olga["id"], "content": { "text": "hi all" } });
        post(format!("groups/{group}/topics/1"), hi).await;
        let general = fake.general_messages(group);
        assert_eq!(general.last().unwrap().text.as_deref(), Some("hi all"));
        let next = json!({ "offset": updates[0]["update_id"].as_i64().unwrap() + 1 });
        let updates = bot_api(&fake, &bot, "getUpdates", next).await;
        assert_eq!(updates[0]["message"]["text"], "how can we help?");
        assert_eq!(updates[0]["message"]["message_thread_id"], thread);

        let chat_shown = get(chat).await;
        assert_eq!(chat_shown.as_array().unwrap().len(), 1);
        assert_eq!(fake.private_chat(&bot, &alice)[0].json, chat_shown[0]);
        let methods: Vec<String> = fake.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(
            methods,
            [
                "getUpdates",
                "createForumTopic",
                "copyMessage",
                "getUpdates"
            ],
            "only Bot API calls are recorded"
        );
    }

    #[tokio::test]
    async fn a_user_presses_a_button_over_http() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let bot = fake.add_bot("shop_bot");
        let alice = fake.add_user("Alice", None);
        fake.user_sends(&bot, &alice, "/start");
        let keyboard =
            json!({ "inline_keyboard": [[ { "text": "Yes", "callback_data": "yes" } ]] });
        let sent = json!({ "chat_id": alice.id, "text": "Sure?", "reply_markup": keyboard });
        let sent = bot_api(&fake, &bot, "sendMessage", sent).await;
        let buttons = format!("bots/{}/chats/{}/buttons", bot.id, alice.id);

        let press = json!({ "message_id": sent["message_id"], "data": "yes" });
        let pressed = control.post(&buttons, &press).await.unwrap();
        let updates = bot_api(&fake, &bot, "getUpdates", json!({ "offset": 2 })).await;
        assert_eq!(
            updates[0]["callback_query"]["id"],
            pressed["callback_query_id"]
        );
        assert_eq!(updates[0]["callback_query"]["data"], "yes");

        for press in [
            json!({ "message_id": sent["message_id"], "data": "no" }),
            json!({ "message_id": 1, "data": "yes" }),
        ] {
            let (status, body) = control
                .call(Method::POST, &buttons, Some(&press))
                .await
                .unwrap();
            assert_eq!(status, 404, "{press}: {body}");
        }
    }

    #[tokio::test]
    async fn people_react_over_http() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let bot = fake.add_bot("shop_bot");
        let alice = fake.add_user("Alice", None);
        let olga = fake.add_user("Olga", None);
        let group = fake.add_forum_group("Support", &[&bot]);
        let hello = fake.user_sends(&bot, &alice, "hello");
        let said = fake.operator_sends(group, None, &olga, "hi all");
        let asked = json!({ "allowed_updates": ["message_reaction"] });
        bot_api(&fake, &bot, "getUpdates", asked).await;
        bot_api(&fake, &bot, "getUpdates", json!({ "offset": 3 })).await;

        let private = format!(
            "bots/{}/chats/{}/messages/{hello}/reactions",
            bot.id, alice.id
        );
        let shown = control
            .post(&private, &json!({ "emoji": "👍" }))
            .await
            .unwrap();
        assert_eq!(shown, json!([{ "from_id": alice.id, "emoji": "👍" }]));
        let in_group = format!("groups/{group}/messages/{said}/reactions");
        let olga_reacts = json!({ "from": olga.id, "emoji": "🔥" });
        control.post(&in_group, &olga_reacts).await.unwrap();
        let by_bot = json!({ "chat_id": group, "message_id": said,
                             "reaction": [{ "type": "emoji", "emoji": "👀" }] });
        bot_api(&fake, &bot, "setMessageReaction", by_bot).await;
        assert_eq!(
            control.get(&in_group).await.unwrap(),
            json!([{ "from_id": olga.id, "emoji": "🔥" }, { "from_id": bot.id, "emoji": "👀" }])
        );
        let updates = bot_api(&fake, &bot, "getUpdates", json!({ "offset": 3 })).await;
        let kinds: Vec<&Value> = updates
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["message_reaction"]["chat"]["id"])
            .collect();
        assert_eq!(kinds, [&json!(alice.id), &json!(group)]);

        let removed = control
            .post(&private, &json!({ "emoji": null }))
            .await
            .unwrap();
        assert_eq!(removed, json!([]));
        assert_eq!(control.get(&private).await.unwrap(), json!([]));
        let chat = format!("bots/{}/chats/{}", bot.id, alice.id);
        for (method, path, body, code) in [
            (Method::POST, private.clone(), json!({ "emoji": "✅" }), 400),
            (
                Method::POST,
                private.clone(),
                json!({ "emoji": "👍", "from": olga.id }),
                400,
            ),
            (
                Method::POST,
                format!("{chat}/messages/9/reactions"),
                json!({}),
                404,
            ),
            (
                Method::GET,
                format!("{chat}/messages/9/reactions"),
                Value::Null,
                404,
            ),
            (
                Method::POST,
                in_group.clone(),
                json!({ "emoji": "👍" }),
                400,
            ),
            (
                Method::POST,
                format!("groups/{group}/messages/1/reactions"),
                json!({ "from": olga.id, "emoji": "👍" }),
                400,
            ),
            (
                Method::GET,
                "groups/-5/messages/1/reactions".to_owned(),
                Value::Null,
                404,
            ),
        ] {
            let body = (!body.is_null()).then_some(&body);
            let (status, answer) = control.call(method.clone(), &path, body).await.unwrap();
            assert_eq!(status, code, "{method} {path} {body:?}: {answer}");
        }
    }

    #[tokio::test]
    async fn a_file_is_read_raw() {
        let fake = FakeTelegram::start().await.unwrap();
        let bot = fake.add_bot("shop_bot");
        let alice = fake.add_user("Alice", None);
        fake.user_sends(&bot, &alice, "/start");
        let by_url = json!({ "chat_id": alice.id, "document": "https://example.com/a.pdf" });
        let sent = bot_api(&fake, &bot, "sendDocument", by_url).await;
        let file_id = sent["document"]["file_id"].as_str().unwrap();

        let url = |id: &str| format!("{}/fake/files/{id}", fake.api_url());
        let response = reqwest::get(url(file_id)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let bytes = response.bytes().await.unwrap();
        assert_eq!(Some(bytes.to_vec()), fake.file_bytes(file_id));
        assert_eq!(
            Some(bytes.len() as u64),
            sent["document"]["file_size"].as_u64()
        );
        let unknown = reqwest::get(url("BQACnope")).await.unwrap();
        assert_eq!(unknown.status().as_u16(), 404);
        let body: Value = unknown.json().await.unwrap();
        assert_eq!(body["error_code"], 404);
    }

    #[tokio::test]
    async fn bad_control_calls_get_bot_api_shaped_errors() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let bot = fake.add_bot("shop_bot");
        let user = fake.add_user("Alice", None);
        let group = fake.add_forum_group("Support", &[&bot]);
        let chat = format!("bots/{}/chats/{}", bot.id, user.id);
        let general = format!("groups/{group}/topics/1");
        let bad_error = json!({ "fault": { "error": { "code": 200, "description": "fine" } } });
        let cases = [
            ("POST", "bots".to_owned(), json!({ "name": "x" }), 400),
            ("POST", "bots".to_owned(), json!("shop_bot"), 400),
            (
                "POST",
                "groups".to_owned(),
                json!({ "title": "G", "bots": [1] }),
                404,
            ),
            (
                "POST",
                chat.clone(),
                json!({ "text": "a", "content": { "text": "b" } }),
                400,
            ),
            ("POST", chat.clone(), json!({ "content": {} }), 400),
            (
                "POST",
                chat.clone(),
                json!({ "text": "a", "from": user.id }),
                400,
            ),
            (
                "POST",
                format!("bots/{0}/chats/{0}", bot.id),
                json!({ "text": "a" }),
                404,
            ),
            ("GET", format!("bots/x/chats/{}", user.id), Value::Null, 400),
            ("GET", "groups/-5/topics".to_owned(), Value::Null, 404),
            ("GET", format!("groups/{group}/topics/2"), Value::Null, 404),
            ("POST", general.clone(), json!({ "text": "no sender" }), 400),
            (
                "POST",
                general,
                json!({ "from": user.id, "text": "a", "reply_to": 9 }),
                404,
            ),
            ("PUT", "limits".to_owned(), json!({ "per_bott": null }), 400),
            (
                "PUT",
                "limits".to_owned(),
                json!({ "per_bot": { "count": 1, "per": "soon" } }),
                400,
            ),
            (
                "POST",
                "faults".to_owned(),
                json!({ "fault": "explode" }),
                400,
            ),
            ("POST", "faults".to_owned(), bad_error, 400),
            (
                "POST",
                "faults".to_owned(),
                json!({ "fault": "hang", "probability": 2.0 }),
                400,
            ),
            ("PATCH", "faults".to_owned(), Value::Null, 405),
            ("GET", "nothing".to_owned(), Value::Null, 404),
        ];
        for (method, path, body, code) in cases {
            let body = (!body.is_null()).then_some(&body);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, answer) = control.call(method.clone(), &path, body).await.unwrap();
            assert_eq!(status, code, "{method} {path} {body:?}: {answer}");
            assert_eq!(
                (&answer["ok"], &answer["error_code"]),
                (&json!(false), &json!(code))
            );
            assert!(answer["description"].is_string(), "{answer}");
        }
        assert!(
            fake.private_chat(&bot, &user).is_empty(),
            "nothing was written"
        );
        assert!(fake.requests().is_empty(), "nothing reached the Bot API");
    }

    #[tokio::test]
    async fn a_broadcast_audience_is_made_in_one_call() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let bot = fake.add_bot("news_bot");
        let other = fake.add_bot("other_bot");
        let batch = json!({ "count": 3, "first_name": "Reader", "started": [bot.id] });
        let readers = control.post("users/batch", &batch).await.unwrap();
        let readers: Vec<FakeUser> = serde_json::from_value(readers).unwrap();
        let names: Vec<&str> = readers.iter().map(|u| u.first_name.as_str()).collect();
        assert_eq!(names, ["Reader1", "Reader2", "Reader3"]);
        assert!(readers.iter().all(|u| u.username.is_none()));
        let single = json!({ "first_name": "Alice", "started": [bot.id] });
        let alice = control.post("users", &single).await.unwrap();
        let alice: FakeUser = serde_json::from_value(alice).unwrap();

        let send = |bot: &FakeBot, user: &FakeUser| {
            let url = format!("{}/bot{}/sendMessage", fake.api_url(), bot.token);
            let request = reqwest::Client::new()
                .post(url)
                .json(&json!({ "chat_id": user.id, "text": "news" }));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        for user in readers.iter().chain([&alice]) {
            assert_eq!(send(&bot, user).await, 200, "{} started the bot", user.id);
            assert_eq!(send(&other, user).await, 403, "but not the other bot");
        }
        assert_eq!(
            fake.pending_update_count(&bot),
            0,
            "starting made no update"
        );

        let unknown_bot = json!({ "count": 2, "started": [bot.id, 5] });
        for (body, code) in [
            (json!({ "count": 0 }), 400),
            (json!({ "count": 1_000_001 }), 400),
            (json!({ "count": 1, "username": "x" }), 400),
            (unknown_bot, 404),
            (json!({ "first_name": "Bob", "started": [5] }), 404),
        ] {
            let path = if body.get("count").is_some() {
                "users/batch"
            } else {
                "users"
            };
            let (status, answer) = control.call(Method::POST, path, Some(&body)).await.unwrap();
            assert_eq!(status, code, "{body}: {answer}");
        }
        let next = control
            .post("users", &json!({ "first_name": "Carol" }))
            .await
            .unwrap();
        assert_eq!(
            next["id"].as_i64(),
            Some(alice.id + 1),
            "refused batches created nobody"
        );
    }

    #[tokio::test]
    async fn limits_faults_stats_and_requests_are_driven_over_http() {
        let fake = FakeTelegram::start().await.unwrap();
        let control = FakeControl::new(&fake.api_url());
        let bot = fake.add_bot("shop_bot");
        let user = fake.add_user("Alice", None);
        fake.user_started_bot(&bot, &user);
        let send = |text: &str| {
            let url = format!("{}/bot{}/sendMessage", fake.api_url(), bot.token);
            let request = reqwest::Client::new()
                .post(url)
                .json(&json!({ "chat_id": user.id, "text": text }));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        let limits = json!({ "per_private_chat": { "count": 1, "per": "1m" } });
        control.put("limits", &limits).await.unwrap();
        assert_eq!(send("first").await, 200);
        assert_eq!(send("second").await, 429);
        let stats = control.get("stats").await.unwrap();
        assert_eq!(stats["accepted_sends"], 1);
        assert_eq!(
            (&stats["throttled"], &stats["throttled_private_chat"]),
            (&json!(1), &json!(1))
        );
        control.delete("stats").await.unwrap();
        assert_eq!(fake.stats().throttled, 0);
        control.put("limits", &json!("off")).await.unwrap();
        assert_eq!(send("third").await, 200);

        let retry = json!({ "method": "sendmessage", "bot": bot.id, "times": 2,
                            "fault": { "retry_after": 7 } });
        control.post("faults", &retry).await.unwrap();
        assert_eq!(send("fourth").await, 429);
        assert_eq!(send("fifth").await, 429);
        assert_eq!(send("sixth").await, 200);
        let down = json!({ "always": true,
                           "fault": { "error": { "code": 502, "description": "Bad Gateway" } } });
        control.post("faults", &down).await.unwrap();
        assert_eq!(send("seventh").await, 502);
        control.delete("faults").await.unwrap();
        assert_eq!(send("eighth").await, 200);

        let sent = control.get("requests?method=SENDMESSAGE").await.unwrap();
        assert_eq!(sent.as_array().unwrap().len(), 8);
        let first = json!({ "chat_id": user.id, "text": "first" });
        assert_eq!(
            sent[0],
            json!({ "bot_id": bot.id, "method": "sendMessage", "params": first })
        );
        control.delete("requests").await.unwrap();
        assert_eq!(control.get("requests").await.unwrap(), json!([]));
        let chat = fake.private_chat(&bot, &user);
        let shown: Vec<String> = chat.into_iter().filter_map(|m| m.text).collect();
        assert_eq!(shown, ["first", "third", "sixth", "eighth"]);
    }
}
