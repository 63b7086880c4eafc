//! The HTTP server on `[http] listen`: `GET /healthz` for monitoring, and
//! the Bot API proxy for existing bots ([`crate::proxy`]) on every other path.
//!
//! `/healthz` answers 200 while everything works, 503 (`"status":
//! "degraded"`) while a bot has stopped (a rejected token, an invalid table
//! in bots.toml), the database cannot be written (a full disk), or a task
//! that failed waits to be restarted. The body shows each bot's polling
//! state, the storage state, the dead letters (inbox rows set aside) and the
//! tasks that had to be restarted, e.g.
//! `{"status":"ok","bots":{"shop":{"state":"polling"}},"storage":{"state":"ok"},"dead_letters":0,"tasks":{}}`.

pub mod server;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::Running;
use crate::store::Store;

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
    /// Not working until someone acts: the token was rejected (it is
    /// probed now and then), or the bot's table in bots.toml is invalid.
    Stopped {
        reason: String,
    },
}

/// A task that failed (panicked) at least once and was restarted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskHealth {
    pub restarts: u64,
    pub last_failure: String,
    /// `false` while it waits to be restarted.
    pub running: bool,
}

/// An existing bot's webhook (proxy or forward mode) that does not take
/// its updates: switchboard keeps them and tries again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookHealth {
    /// What the last delivery got, as `getWebhookInfo` says it (no URL).
    pub error: String,
    /// Unix time of the first failed delivery in a row.
    pub since: i64,
    pub failures: u64,
}

/// What `/healthz` reports, shared by the tasks (writers) and the server.
#[derive(Debug, Default)]
pub struct Health {
    bots: Mutex<BTreeMap<String, BotHealth>>,
    tasks: Mutex<BTreeMap<String, TaskHealth>>,
    /// Only the webhooks failing now.
    webhooks: Mutex<BTreeMap<String, WebhookHealth>>,
    dead_letters: AtomicU64,
}

impl Health {
    pub fn set(&self, bot: &str, health: BotHealth) {
        lock(&self.bots).insert(bot.to_owned(), health);
    }

    /// Forgets a bot (it was removed from the configuration).
    pub fn remove(&self, bot: &str) {
        lock(&self.bots).remove(bot);
        lock(&self.webhooks).remove(bot);
    }

    /// A delivery to `bot`'s webhook failed with `error` at `now`.
    pub fn webhook_failed(&self, bot: &str, error: &str, now: i64) {
        let mut webhooks = lock(&self.webhooks);
        let webhook = webhooks.entry(bot.to_owned()).or_insert(WebhookHealth {
            error: String::new(),
            since: now,
            failures: 0,
        });
        error.clone_into(&mut webhook.error);
        webhook.failures += 1;
    }

    /// `bot`'s webhook took an update (or has none waiting).
    pub fn webhook_delivered(&self, bot: &str) {
        lock(&self.webhooks).remove(bot);
    }

    #[must_use]
    pub fn webhooks(&self) -> BTreeMap<String, WebhookHealth> {
        lock(&self.webhooks).clone()
    }

    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, BotHealth> {
        lock(&self.bots).clone()
    }

    /// `count` more inbox rows were set aside.
    pub fn add_dead_letters(&self, count: u64) {
        self.dead_letters.fetch_add(count, Ordering::Relaxed);
    }

    #[must_use]
    pub fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// The task `name` failed with `cause`; it is restarted after a pause.
    pub fn task_failed(&self, name: &str, cause: &str) {
        let mut tasks = lock(&self.tasks);
        let task = tasks.entry(name.to_owned()).or_insert(TaskHealth {
            restarts: 0,
            last_failure: String::new(),
            running: false,
        });
        cause.clone_into(&mut task.last_failure);
        task.running = false;
    }

    /// Forgets the task `name` (it was stopped: its bot was removed or
    /// restarted by a reload).
    pub fn forget_task(&self, name: &str) {
        lock(&self.tasks).remove(name);
    }

    /// The task `name` runs again after a failure.
    pub fn task_restarted(&self, name: &str) {
        if let Some(task) = lock(&self.tasks).get_mut(name) {
            task.restarts += 1;
            task.running = true;
        }
    }

    #[must_use]
    pub fn tasks(&self) -> BTreeMap<String, TaskHealth> {
        lock(&self.tasks).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The storage part of the report.
#[derive(Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum StorageReport {
    Ok,
    /// Writes fail (disk full, read-only, I/O errors): work waits.
    Failing {
        error: String,
        /// Unix time of the first failed write.
        since: i64,
        failures: u64,
    },
}

#[derive(Serialize)]
struct HealthReport {
    status: &'static str,
    bots: BTreeMap<String, BotHealth>,
    storage: StorageReport,
    dead_letters: u64,
    tasks: BTreeMap<String, TaskHealth>,
    /// Existing bots' webhooks that do not take their updates now (not
    /// switchboard's own fault: the status stays "ok").
    webhooks: BTreeMap<String, WebhookHealth>,
}

/// The application's state, shared by the HTTP handlers: `/healthz` now,
/// the REST API and metrics to come.
#[derive(Clone)]
pub struct AppState {
    /// What the tasks report about themselves.
    pub health: Arc<Health>,
    pub store: Store,
    /// The configuration in force and the running bots, with their senders'
    /// wakes; follows reloads.
    pub running: watch::Receiver<Arc<Running>>,
    /// The Bot API proxy, served on every path but `/healthz`.
    pub proxy: crate::proxy::Proxy,
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let bots = state.health.snapshot();
    let tasks = state.health.tasks();
    let storage = match state.store.problem() {
        None => StorageReport::Ok,
        Some(problem) => StorageReport::Failing {
            error: problem.error,
            since: problem.since,
            failures: problem.failures,
        },
    };
    let degraded = bots
        .values()
        .any(|b| matches!(b, BotHealth::Stopped { .. }))
        || matches!(storage, StorageReport::Failing { .. })
        || tasks.values().any(|t| !t.running);
    let (code, status) = if degraded {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    let report = HealthReport {
        status,
        bots,
        storage,
        dead_letters: state.health.dead_letters(),
        tasks,
        webhooks: state.health.webhooks(),
    };
    (code, Json(report))
}

/// Serves until `shutdown` (see [`server`] for how connections are bounded).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .fallback(crate::proxy::handle)
        .with_state(state);
    server::serve(listener, router, shutdown).await
}
