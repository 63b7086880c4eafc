//! The HTTP side of the fake: routes `/bot{token}/{method}`, decodes the
//! parameters, passes every request through [`admit`] (recording, faults),
//! applies it to the world (migration check, rate limits, the method), and
//! answers in the Bot API's shape. `GET /file/bot{token}/{file_path}`
//! downloads a file as Telegram's file server does (neither recorded nor
//! subject to faults). Paths under `/fake/` go to the control API
//! (`control.rs`) instead.
//!
//! A request's life: parse path, query and body -> `admit` records it and picks
//! a fault -> the fault answers, hangs, delays or cuts the connection -> the
//! method's handler from the methods table runs under the world's lock, after
//! the rate limits had their say (`getUpdates` instead waits on its bot's
//! poll counter, without the lock, and answers with the queued updates
//! themselves, shared, not copies) -> `{"ok":..}` with the HTTP status equal
//! to the error code.
//!
//! To drop a connection on purpose, every accepted TCP stream is wrapped in a
//! [`CuttableStream`] whose [`ConnectionCutter`] the handler receives as its
//! connect info; once cut, the stream fails its writes and hyper closes it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::error::ApiError;
use super::params::Params;
use super::world::{Handler, PollRequest, Update, find_method};
use super::{Core, Fault};

/// Serves until `core.shutdown` is cancelled and in-flight requests have answered.
pub(super) async fn serve(listener: TcpListener, core: Arc<Core>) {
    let shutdown = core.shutdown.clone();
    let app = Router::new()
        .merge(super::control::routes())
        .fallback(handle)
        .with_state(core)
        .into_make_service_with_connect_info::<ConnectionCutter>();
    let served = axum::serve(CuttableListener(listener), app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(err) = served {
        tracing::warn!(cause = %err, "fake Bot API server stopped with an error");
    }
}

/// Every path but the control API's lands here; anything but
/// `/bot{token}/{method}` and a file download is a 404.
async fn handle(
    State(core): State<Arc<Core>>,
    ConnectInfo(cutter): ConnectInfo<ConnectionCutter>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method == Method::GET {
        if let Some((token, file_path)) = split_file_path(parts.uri.path()) {
            return download(&core, &token, &file_path);
        }
    }
    let route = (parts.method == Method::GET || parts.method == Method::POST)
        .then(|| split_path(parts.uri.path()))
        .flatten();
    let Some((token, method_name)) = route else {
        return ApiError::not_found().into_response();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = Params::read(parts.uri.query(), content_type, body).await;
    if let Err(err) = &params {
        if err.code == 413 {
            // Refused before Telegram reads anything: not even recorded.
            return err.clone().into_response();
        }
    }
    let method = find_method(&method_name).map_or(method_name, |m| m.name.to_owned());
    let recorded = params.as_ref().map_or_else(|_| json!({}), Params::to_json);

    let (bot, fault) = admit(&core, &token, &method, recorded);
    tracing::debug!(bot = ?bot, method = %method, fault = ?fault, "fake Bot API request");
    match fault {
        // `Sometimes` is resolved by `World::take_fault`: it never gets here.
        None | Some(Fault::Sometimes { .. }) => {}
        Some(Fault::Error {
            code,
            description,
            retry_after,
            migrate_to_chat_id,
        }) => {
            let error = ApiError {
                code,
                description,
                retry_after,
                migrate_to_chat_id,
            };
            return error.into_response();
        }
        Some(Fault::Hang) => {
            core.shutdown.cancelled().await;
            return ApiError::new(503, "Service Unavailable").into_response();
        }
        Some(Fault::Delay(delay)) => {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = core.shutdown.cancelled() => {}
            }
        }
        Some(Fault::SlowAnswer(delay)) => {
            let answer = execute(&core, bot, &method, params).await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = core.shutdown.cancelled() => {}
            }
            return answer.into_response();
        }
        Some(Fault::Disconnect { after_apply }) => {
            if after_apply {
                // The effect happens; only the answer is lost.
                let _ = execute(&core, bot, &method, params).await;
            }
            cutter.cut();
            return ApiError::new(500, "connection cut by the fake").into_response();
        }
    }
    execute(&core, bot, &method, params).await.into_response()
}

/// The gate every request passes after it is decoded and before it is
/// applied: it is recorded (so tests see it even if it then fails or hangs),
/// then matched against the injected fault rules.
///
/// Rate limits are not checked here but in `World::apply`, under the same
/// lock as the send itself: only sends that take effect use budget (not those
/// an injected fault stops or a 400 refuses), a `Delay` fault's send is
/// counted when it lands, and concurrent sends cannot overshoot a window.
fn admit(core: &Core, token: &str, method: &str, params: Value) -> (Option<i64>, Option<Fault>) {
    core.mutate(|world| {
        let bot = world.bot_for_token(token);
        world.record(bot, method, params);
        let fault = world.take_fault(bot, method);
        (bot, fault)
    })
}

/// Runs one admitted request: unknown token 401, a method not in the
/// methods table 404, bad parameters 400, then the method's handler.
async fn execute(
    core: &Core,
    bot: Option<i64>,
    method: &str,
    params: Result<Params, ApiError>,
) -> Result<Reply, ApiError> {
    let bot = bot.ok_or_else(ApiError::unauthorized)?;
    let method = find_method(method).ok_or_else(ApiError::not_found)?;
    let params = params?;
    match method.handler {
        Handler::LongPoll => long_poll(core, bot, &params).await.map(Reply::Updates),
        Handler::Apply(_) => core
            .mutate(|world| world.apply(bot, method, &params))
            .map(Reply::Value),
    }
}

/// A method's result: a value, or a `getUpdates` batch, which is serialised
/// from the updates the world shares rather than from a copy of them.
enum Reply {
    Value(Value),
    Updates(Vec<Update>),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Value(value) => Answer(value).into_response(),
            Reply::Updates(updates) => {
                #[derive(serde::Serialize)]
                struct Batch<'a> {
                    ok: bool,
                    result: Vec<&'a Value>,
                }
                let result = updates.iter().map(|update| &**update).collect();
                Json(Batch { ok: true, result }).into_response()
            }
        }
    }
}

/// `getUpdates`: answers at once if updates are pending, otherwise waits up
/// to `timeout` for one to arrive. A newer `getUpdates` for the same bot ends
/// the wait with 409.
async fn long_poll(core: &Core, bot: i64, params: &Params) -> Result<Vec<Update>, ApiError> {
    let request = PollRequest::parse(params)?;
    let generation = core.mutate(|world| world.begin_poll(bot, &request))?;
    let deadline = super::deadline_after(request.timeout);
    // Subscribed before the first look: an update that arrives in between
    // still wakes us.
    let mut changes = core.poll_changes(bot);
    loop {
        let updates = core.read(|world| world.poll(bot, generation, request.limit))?;
        if !updates.is_empty() || request.timeout == Duration::ZERO {
            return Ok(updates);
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(Vec::new());
                }
            }
            () = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            () = core.shutdown.cancelled() => return Ok(Vec::new()),
        }
    }
}

/// The Bot API's success answer, `{"ok":true,"result":..}`; the control
/// API answers the same way.
pub(super) struct Answer(pub(super) Value);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        Json(json!({ "ok": true, "result": self.0 })).into_response()
    }
}

/// `GET /file/bot{token}/{file_path}`: the bytes of a file the bot's
/// `getFile` gave that path, or Telegram's 404 for an unknown path or a
/// token that does not own it.
fn download(core: &Core, token: &str, file_path: &str) -> Response {
    match core.read(|world| world.download(token, file_path)) {
        Some((bytes, content_type)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => ApiError::not_found().into_response(),
    }
}

/// `/bot{token}/{method}` -> (token, method), percent-decoded.
fn split_path(path: &str) -> Option<(String, String)> {
    let mut segments = path.strip_prefix('/')?.split('/');
    let token = segments.next()?.strip_prefix("bot")?;
    let method = segments.next()?;
    if segments.next().is_some() || token.is_empty() || method.is_empty() {
        return None;
    }
    Some((decode(token)?, decode(method)?))
}

/// `/file/bot{token}/{file_path}` -> (token, file path), percent-decoded
/// (python-telegram-bot sends the token's `:` as `%3A`).
fn split_file_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/file/bot")?;
    let (token, file_path) = rest.split_once('/')?;
    if token.is_empty() || file_path.is_empty() {
        return None;
    }
    Some((decode(token)?, decode(file_path)?))
}

fn decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Lets a handler drop the connection its request came on.
#[derive(Clone, Debug, Default)]
struct ConnectionCutter(Arc<AtomicBool>);

impl ConnectionCutter {
    fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for ConnectionCutter {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be cut; the "address" of each
/// connection is its cutter.
struct CuttableListener(TcpListener);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = ConnectionCutter;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    // Small request/answer pairs: don't let Nagle delay them.
                    let _ = stream.set_nodelay(true);
                    let cutter = ConnectionCutter::default();
                    let io = CuttableStream {
                        inner: stream,
                        cutter: cutter.clone(),
                    };
                    return (io, cutter);
                }
                Err(err) => {
                    // E.g. out of file descriptors: wait instead of spinning.
                    tracing::debug!(cause = %err, "fake Bot API accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnectionCutter::default())
    }
}

/// A TCP stream that fails all I/O once its cutter is cut.
struct CuttableStream {
    inner: TcpStream,
    cutter: ConnectionCutter,
}

impl CuttableStream {
    fn cut_error() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionReset, "cut by the fake Bot API")
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cutter.is_cut() {
            return Poll::Ready(Err(Self::cut_error()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cutter.is_cut() {
            return Poll::Ready(Err(Self::cut_error()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cutter.is_cut() {
            return Poll::Ready(Err(Self::cut_error()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bot_paths_route() {
        assert_eq!(
            split_path("/bot123:abc/getMe"),
            Some(("123:abc".to_owned(), "getMe".to_owned()))
        );
        assert_eq!(
            split_path("/bot123%3Aabc/sendMessage"),
            Some(("123:abc".to_owned(), "sendMessage".to_owned()))
        );
        for path in [
            "/",
            "/bot123:abc",
            "/bot/getMe",
            "/x123/getMe",
            "/bot1/a/b",
            "/bot1/",
        ] {
            assert_eq!(split_path(path), None, "{path}");
        }
    }

    #[test]
    fn file_paths_keep_their_folders_and_decode_the_token() {
        let expected = Some(("123:abc".to_owned(), "photos/file_0.jpg".to_owned()));
        assert_eq!(
            split_file_path("/file/bot123:abc/photos/file_0.jpg"),
            expected
        );
        assert_eq!(
            split_file_path("/file/bot123%3Aabc/photos/file_0.jpg"),
            expected
        );
        for path in [
            "/file/bot123:abc",
            "/file/bot123:abc/",
            "/file/bot/x",
            "/bot1/getFile",
        ] {
            assert_eq!(split_file_path(path), None, "{path}");
        }
    }
}
