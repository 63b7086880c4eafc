//! The HTTP server's accept loop, made so that careless or hostile clients
//! cannot take resources the bots need, nor hold up a stop.
//!
//! How it works:
//!
//! 1. Before each `accept`, the loop takes a permit from a semaphore of
//!    [`MAX_CONNECTIONS`]. At the cap it stops accepting: new connections wait
//!    in the kernel's listen backlog (widened to [`LISTEN_BACKLOG`]) until an
//!    open one closes. Every open connection costs a file descriptor, and the
//!    pollers' and senders' outgoing calls need descriptors too; without a
//!    cap, idle clients alone could take them all and stall every bot
//!    (EMFILE). Connections in the backlog cost the process nothing.
//! 2. Each connection is served by hyper (HTTP/1.1) in its own task, with a
//!    header read timeout: a connection that does not deliver a complete
//!    request head within [`HEADER_READ_TIMEOUT`] is closed. The timer runs
//!    whenever hyper waits for a request head, so it closes new connections
//!    that send nothing, slow senders, and idle keep-alive connections alike;
//!    that is what frees the permits of step 1.
//! 3. An accept error does not end the loop. Most (EMFILE, ENFILE, ENOBUFS)
//!    mean the process or the machine is short of something that frees up
//!    later: the loop logs them at most once per [`ACCEPT_ERROR_LOG_EVERY`]
//!    and pauses [`ACCEPT_ERROR_PAUSE`] rather than spin. A connection that
//!    failed before it was accepted (reset, aborted) is just skipped.
//! 4. On shutdown the loop stops accepting and closes the listener, and every
//!    connection is asked to finish (hyper's graceful shutdown: a request in
//!    progress is answered, an idle connection closes at once). Whatever is
//!    still open after [`SHUTDOWN_GRACE`], such as a client that sent half a
//!    request and then nothing, is dropped. A stop therefore takes at most
//!    that long, whatever the clients do.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::throttle::Throttle;

/// Most connections open at once. Each costs a file descriptor; under the
/// common default of 1,024 per process, 256 leave ample room for the bots'
/// outgoing connections, the database and the log. Monitoring and the REST
/// API need a handful; clients above the cap wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to deliver a request head, counted from
/// when the server starts waiting for one (a new or an idle keep-alive
/// connection). Generous for any real client on a slow network.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop waits for open connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Connections the kernel completes and queues until the server accepts
/// them (it caps this at `net.core.somaxconn`, 4,096 by default). The 128
/// that `TcpListener::bind` asks for would, at the connection cap, make
/// further clients' connection attempts time out and retry after seconds.
pub const LISTEN_BACKLOG: i32 = 1024;
/// Pause after an accept error, so that a lasting one (EMFILE) does not spin.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Accept errors are logged at most this often; the rest are counted.
pub const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown`, then returns once every
/// connection has finished or was dropped (at most [`SHUTDOWN_GRACE`] later).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    // Listening again on a listening socket only changes its backlog.
    if let Err(err) = socket2::SockRef::from(&listener).listen(LISTEN_BACKLOG) {
        debug!(cause = %err, "cannot widen the listen backlog; keeping it");
    }
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let connections = TaskTracker::new();
    // During a lasting EMFILE, `accept` fails ten times a second.
    let mut accept_errors = Throttle::new(ACCEPT_ERROR_LOG_EVERY);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                // Only a closed semaphore fails, and this one is never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) if is_connection_error(&err) => {
                debug!(cause = %err, "a connection failed before it was accepted");
                continue;
            }
            Err(err) => {
                if let Some(unlogged) = accept_errors.allow(Instant::now()) {
                    warn!(cause = %err, similar_errors_not_logged = unlogged,
                        "the HTTP server cannot accept connections; retrying");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let builder = builder.clone();
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(&builder, stream, service, &shutdown).await;
            // Only now: the permit stands for the connection's descriptor.
            drop(permit);
        });
    }
    // Refuse new connections from now on, rather than leave them in the
    // backlog of a server that will not answer.
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Serves one connection until the client closes it, it times out, or
/// `shutdown` plus [`SHUTDOWN_GRACE`].
async fn serve_connection(
    builder: &http1::Builder,
    stream: TcpStream,
    service: TowerToHyperService<axum::Router>,
    shutdown: &CancellationToken,
) {
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                Ok(result) => result,
                Err(_) => {
                    debug!("dropped a connection that did not finish in time for the stop");
                    return;
                }
            }
        }
    };
    if let Err(err) = result {
        // The client's doing (a timeout, a reset, a malformed request): worth
        // a look when debugging, not an operator's concern.
        debug!(cause = %err, "an HTTP connection ended with an error");
    }
}

/// Errors of one connection that went away before `accept` returned it;
/// the listener itself is fine.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
