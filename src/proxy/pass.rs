//! Passing a call on to Telegram, and its answer back, unchanged and
//! streamed: the request body goes out as it arrives (counted, so a body
//! past the limit fails with 413 even without a `Content-Length`), and the
//! answer comes back as Telegram sends it. Neither is ever held whole, so a
//! 50 MB upload or download costs a few buffers of memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::Response;
use futures_util::StreamExt;
use tracing::warn;

use super::intercept::{self, Intercepted};
use super::params::Params;
use super::{ExistingBot, Proxy, answer};

/// Request headers passed on: what the body is.
const REQUEST_HEADERS: &[HeaderName] = &[header::CONTENT_TYPE, header::CONTENT_LENGTH];
/// Answer headers passed back: what the body is (a file's type and name).
const ANSWER_HEADERS: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_DISPOSITION,
    header::LAST_MODIFIED,
];

/// `/bot<TOKEN>/<METHOD>`: the method is passed on as named. A call that
/// sends or changes a message has its answer read whole (a message, small)
/// and recorded for the mirrors before the bot gets it (see [`intercept`]).
pub async fn method(proxy: &Proxy, bot: &ExistingBot, method: &str, request: Request) -> Response {
    let url = format!("{}/bot{}/{method}", proxy.api_url, bot.token.expose());
    let lower = method.to_ascii_lowercase();
    if !(bot.intercept && intercept::is_intercepted(&lower)) {
        return match send(proxy, bot, url, request).await {
            Ok(answer) => streamed(answer),
            Err(response) => response,
        };
    }
    let (request, chat_id) = if intercept::needs_chat_id(&lower) {
        match read_chat_id(proxy, request).await {
            Ok(read) => read,
            Err(response) => return response,
        }
    } else {
        (request, None)
    };
    let answer = match send(proxy, bot, url, request).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let (status, headers) = (answer.status(), answer.headers().clone());
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(err) => return unreachable(bot, err),
    };
    if status.is_success() {
        if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&body) {
            if json.get("ok") == Some(&serde_json::Value::Bool(true)) {
                let result = json["result"].take();
                let call = Intercepted {
                    method: lower,
                    chat_id,
                    result,
                };
                intercept::record(proxy, bot, call).await;
            }
        }
    }
    let mut response = Response::builder().status(status);
    if let Some(to) = response.headers_mut() {
        copy(&headers, to, ANSWER_HEADERS);
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| answer::error(502, "Bad Gateway"))
}

/// Reads the `chat_id` of a request that is not a file upload, and gives
/// the request back whole.
async fn read_chat_id(proxy: &Proxy, request: Request) -> Result<(Request, Option<i64>), Response> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = usize::try_from(proxy.max_body).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| answer::too_large(proxy.max_body))?;
    let chat_id = Params::read(parts.uri.query(), content_type.as_deref(), bytes.clone())
        .await
        .ok()
        .and_then(|params| params.int("chat_id").ok().flatten());
    Ok((Request::from_parts(parts, Body::from(bytes)), chat_id))
}

/// `/file/bot<TOKEN>/<PATH>`: a file download.
pub async fn file(proxy: &Proxy, bot: &ExistingBot, path: &str, request: Request) -> Response {
    let url = format!("{}/file/bot{}/{path}", proxy.api_url, bot.token.expose());
    match send(proxy, bot, url, request).await {
        Ok(answer) => streamed(answer),
        Err(response) => response,
    }
}

/// Sends the request on to `url`, its body streamed; `Err` is the answer
/// for the bot when Telegram could not be reached or the body was too long.
async fn send(
    proxy: &Proxy,
    bot: &ExistingBot,
    mut url: String,
    request: Request,
) -> Result<reqwest::Response, Response> {
    let (parts, body) = request.into_parts();
    if let Some(query) = parts.uri.query() {
        url.push('?');
        url.push_str(query);
    }
    let too_long = Arc::new(AtomicBool::new(false));
    let body = limited(body, proxy.max_body, Arc::clone(&too_long));
    let mut call = proxy
        .http
        .request(parts.method, url)
        .body(reqwest::Body::wrap_stream(body));
    for name in REQUEST_HEADERS {
        if let Some(value) = parts.headers.get(name) {
            call = call.header(name, value);
        }
    }
    match call.send().await {
        Ok(answer) => Ok(answer),
        Err(_) if too_long.load(Ordering::SeqCst) => Err(answer::too_large(proxy.max_body)),
        Err(err) => Err(unreachable(bot, err)),
    }
}

/// Telegram's answer, streamed back as it comes.
fn streamed(answer: reqwest::Response) -> Response {
    let mut response = Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        copy(answer.headers(), headers, ANSWER_HEADERS);
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|_| answer::error(502, "Bad Gateway"))
}

/// The bot's answer when Telegram could not be reached: 502, with the
/// cause (the URL, with the token, left out).
fn unreachable(bot: &ExistingBot, err: reqwest::Error) -> Response {
    let cause = crate::config::mask_tokens(&crate::telegram::error_chain(&err.without_url()));
    warn!(bot = %bot.name, cause = %cause, "a call passed on to Telegram failed");
    answer::error(
        502,
        &format!("Bad Gateway: switchboard could not reach the Bot API: {cause}"),
    )
}

/// `body` as a stream that fails once more than `max` bytes came, and
/// says so in `too_long`.
fn limited(
    body: Body,
    max: u64,
    too_long: Arc<AtomicBool>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let mut seen: u64 = 0;
    body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > max {
            too_long.store(true, Ordering::SeqCst);
            return Err(std::io::Error::other("the request body is over the limit"));
        }
        Ok(chunk)
    })
}

/// reqwest and axum share the `http` crate's header types.
fn copy(from: &HeaderMap, to: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        if let Some(value) = from.get(name) {
            to.insert(name.clone(), value.clone());
        }
    }
}

/// Makes a call on the bot's behalf (a webhook reply), as JSON; `Err` with
/// Telegram's description (or why it could not be reached).
pub async fn call(
    proxy: &Proxy,
    bot: &ExistingBot,
    method: &str,
    params: &serde_json::Value,
) -> Result<(), String> {
    let url = format!("{}/bot{}/{method}", proxy.api_url, bot.token.expose());
    let answer = proxy
        .http
        .post(url)
        .json(params)
        .send()
        .await
        .map_err(|err| {
            crate::config::mask_tokens(&crate::telegram::error_chain(&err.without_url()))
        })?;
    let status = answer.status();
    let body: serde_json::Value = answer
        .json()
        .await
        .map_err(|_| format!("an unreadable answer ({status})"))?;
    if body.get("ok") == Some(&serde_json::Value::Bool(true)) {
        let lower = method.to_ascii_lowercase();
        if bot.intercept && intercept::is_intercepted(&lower) {
            let call = Intercepted {
                chat_id: params.get("chat_id").and_then(serde_json::Value::as_i64),
                method: lower,
                result: body["result"].clone(),
            };
            intercept::record(proxy, bot, call).await;
        }
        Ok(())
    } else {
        let description = body
            .get("description")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no description");
        Err(crate::config::mask_tokens(&format!(
            "{status}: {description}"
        )))
    }
}
