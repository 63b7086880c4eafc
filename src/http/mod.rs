//! The HTTP server on `[http] listen`: `GET /healthz` for monitoring.
//!
//! `/healthz` answers 200 while no bot has stopped, 503 otherwise, with each
//! bot's polling state as JSON, e.g.
//! `{"status":"ok","bots":{"shop":{"state":"polling"}}}`.

pub mod server;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Where one bot's polling stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BotHealth {
    /// Not connected yet (`getMe` pending or being retried).
    Starting,
    Polling,
    /// The last call failed; retrying.
    Retrying {
        error: String,
    },
    /// Given up for good (e.g. the token was rejected).
    Stopped {
        reason: String,
    },
}

/// Every bot's health, shared by the pollers (writers) and the server.
#[derive(Debug, Default)]
pub struct Health {
    bots: Mutex<BTreeMap<String, BotHealth>>,
}

impl Health {
    pub fn set(&self, bot: &str, health: BotHealth) {
        self.bots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bot.to_owned(), health);
    }

    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, BotHealth> {
        self.bots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[derive(Serialize)]
struct Report {
    status: &'static str,
    bots: BTreeMap<String, BotHealth>,
}

async fn healthz(State(health): State<Arc<Health>>) -> (StatusCode, Json<Report>) {
    let bots = health.snapshot();
    let stopped = bots
        .values()
        .any(|b| matches!(b, BotHealth::Stopped { .. }));
    let (code, status) = if stopped {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    (code, Json(Report { status, bots }))
}

/// Serves until `shutdown` (see [`server`] for how connections are bounded).
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .with_state(health);
    server::serve(listener, router, shutdown).await
}
