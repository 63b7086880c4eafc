//! Interception: the calls of the existing bot that put a message in front
//! of a user, or change one, are recorded for the dispatcher, which mirrors
//! them into the user's topic (`dispatch::mirror`).
//!
//! The proxy reads Telegram's answer to such a call (a `Message`, a list of
//! them, or the ids of copies), hands it to the [`Recorder`] and answers the
//! bot at once: a call through the proxy never waits for the disk (a
//! checkpoint's sync takes milliseconds). The recorder, one task, appends
//! what it was handed to the inbox in the order it was handed over, as many
//! at a time as are waiting, in one write; while the database refuses (a
//! full disk) it keeps them and tries again. A crash between Telegram's
//! answer and that write loses the mirror, as a crash just before the
//! answer would. The dispatcher decides the rest (whether the user has a
//! dialog, what the mirror shows), in order with the users' own updates.
//! Telegram's answer (the message) stays in the inbox only until dispatched.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::{ExistingBot, Proxy};
use crate::store::{self, Store, inbox};

/// A call of the existing bot's, as the dispatcher gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intercepted {
    /// The method, in lower case (`sendmessage`, `editmessagetext`, ...).
    pub method: String,
    /// The `chat_id` the call named, for the answers that do not say it
    /// (`copyMessage` answers with a message id only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Telegram's `result`.
    pub result: Value,
}

impl Intercepted {
    /// Whether the call changed a message rather than sent one.
    #[must_use]
    pub fn is_edit(&self) -> bool {
        self.method.starts_with("edit") || self.method == "stopmessagelivelocation"
    }
}

/// Whether calls of `method` (in lower case) are recorded: they send a
/// message, or change one.
#[must_use]
pub fn is_intercepted(method: &str) -> bool {
    (method.starts_with("send") && method != "sendchataction")
        || matches!(
            method,
            "copymessage"
                | "copymessages"
                | "forwardmessage"
                | "forwardmessages"
                | "editmessagetext"
                | "editmessagecaption"
                | "editmessagemedia"
                | "editmessagereplymarkup"
                | "editmessagelivelocation"
                | "stopmessagelivelocation"
        )
}

/// Whether the answer to `method` lacks the chat, which the request then
/// has to tell.
#[must_use]
pub fn needs_chat_id(method: &str) -> bool {
    matches!(method, "copymessage" | "copymessages" | "forwardmessages")
}

/// Records waiting for the recorder, at most: a caller waits when the
/// disk has been refusing them for that long.
const QUEUED: usize = 10_000;
/// Records written in one transaction, at most.
const BATCH: usize = 512;

/// One intercepted call, for one bot's inbox.
#[derive(Debug)]
struct Record {
    bot: String,
    payload: String,
}

/// Where the proxy hands intercepted calls (see the module's doc).
#[derive(Clone, Debug)]
pub struct Records(mpsc::Sender<Record>);

/// Writes the intercepted calls into the inbox, in order.
pub struct Recorder {
    queue: Mutex<mpsc::Receiver<Record>>,
    store: Store,
    dispatcher_wake: Arc<Notify>,
    /// The first pause after a refused write (doubling after).
    retry_base: Duration,
}

impl Recorder {
    #[must_use]
    pub fn new(
        store: Store,
        dispatcher_wake: Arc<Notify>,
        retry_base: Duration,
    ) -> (Records, Recorder) {
        let (sender, receiver) = mpsc::channel(QUEUED);
        let recorder = Recorder {
            queue: Mutex::new(receiver),
            store,
            dispatcher_wake,
            retry_base,
        };
        (Records(sender), recorder)
    }

    /// Writes what comes until `proxy_stopped` (the proxy takes no more
    /// calls: the HTTP server has stopped, its grace for calls in flight
    /// included), then what is left, once.
    pub async fn run(self: Arc<Self>, proxy_stopped: CancellationToken) {
        let mut queue = self.queue.lock().await;
        let mut pending: Vec<Record> = Vec::new();
        let mut failures: u32 = 0;
        loop {
            if pending.is_empty() {
                tokio::select! {
                    record = queue.recv() => match record {
                        Some(record) => pending.push(record),
                        None => return,
                    },
                    () = proxy_stopped.cancelled() => {
                        while let Ok(record) = queue.try_recv() {
                            pending.push(record);
                        }
                        if !pending.is_empty() && self.write(&pending).await.is_err() {
                            warn!(records = pending.len(),
                                "stopping with messages of existing bots not recorded; they are not mirrored");
                        }
                        return;
                    }
                }
            }
            while pending.len() < BATCH {
                match queue.try_recv() {
                    Ok(record) => pending.push(record),
                    Err(_) => break,
                }
            }
            match self.write(&pending).await {
                Ok(()) => {
                    pending.clear();
                    failures = 0;
                }
                Err(err) => {
                    if proxy_stopped.is_cancelled() {
                        // That was the last try: the process is stopping.
                        warn!(
                            records = pending.len(),
                            "stopping with messages of existing bots not recorded; they are not mirrored"
                        );
                        return;
                    }
                    if failures == 0 && !store::is_storage_error(&err) {
                        error!(cause = %format!("{err:#}"),
                            "cannot record messages existing bots sent; retrying");
                    }
                    failures += 1;
                    let pause =
                        crate::backoff::delay_from(self.retry_base, failures - 1, store::RETRY_MAX);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = proxy_stopped.cancelled() => {}
                    }
                }
            }
        }
    }

    async fn write(&self, records: &[Record]) -> anyhow::Result<()> {
        let batch: Vec<(String, String)> = records
            .iter()
            .map(|r| (r.bot.clone(), r.payload.clone()))
            .collect();
        self.store
            .write(move |tx| {
                for (bot, payload) in &batch {
                    inbox::append(tx, bot, inbox::Kind::Intercepted, payload)?;
                }
                Ok(())
            })
            .await?;
        self.dispatcher_wake.notify_one();
        Ok(())
    }
}

/// Hands a successful call to the recorder; the bot is answered right
/// after (see the module's doc).
pub async fn record(proxy: &Proxy, bot: &ExistingBot, call: Intercepted) {
    let payload = match serde_json::to_string(&call) {
        Ok(payload) => payload,
        Err(err) => {
            error!(bot = %bot.name, cause = %err, "cannot record a message the bot sent");
            return;
        }
    };
    let record = Record {
        bot: bot.name.clone(),
        payload,
    };
    if proxy.records.0.send(record).await.is_err() {
        warn!(bot = %bot.name, "switchboard is stopping: a message the bot sent is not mirrored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While the disk refuses, a recorder told to stop tries its final
    /// write once and returns (it used to retry at once, forever).
    #[tokio::test]
    async fn a_stopped_recorder_whose_disk_refuses_returns() {
        let dir = tempfile::tempdir().unwrap();
        let faults = crate::store::FaultSwitch::default();
        let store = Store::open_with(&dir.path().join("db"), faults.clone()).unwrap();
        let (records, recorder) =
            Recorder::new(store, Arc::new(Notify::new()), Duration::from_millis(1));
        faults.set_disk_full(true);
        records
            .0
            .send(Record {
                bot: "a".into(),
                payload: "{}".into(),
            })
            .await
            .unwrap();
        let stopped = CancellationToken::new();
        let run = tokio::spawn(Arc::new(recorder).run(stopped.clone()));
        while faults.refused_commits() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stopped.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(5), run).await;
        assert!(ended.is_ok(), "the recorder kept retrying after the stop");
    }

    #[test]
    fn sending_and_editing_calls_are_recorded() {
        for method in [
            "sendmessage",
            "sendphoto",
            "sendmediagroup",
            "copymessage",
            "editmessagetext",
            "editmessagereplymarkup",
        ] {
            assert!(is_intercepted(method), "{method}");
        }
        for method in [
            "sendchataction",
            "getme",
            "answercallbackquery",
            "deletemessage",
        ] {
            assert!(!is_intercepted(method), "{method}");
        }
        let edit = Intercepted {
            method: "editmessagecaption".into(),
            chat_id: None,
            result: Value::Bool(true),
        };
        assert!(edit.is_edit());
    }
}
