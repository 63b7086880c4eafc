//! Whether Telegram accepts a bot's token, shared by the bot's poller and
//! sender.
//!
//! A 401 (or a 404 for the token) on any call *rejects* the token: the sender
//! stops starting calls and keeps its queue as it is, and the poller probes
//! with `getMe` now and then. The first call that succeeds again *accepts*
//! it, and the sender goes on where it stopped, in order.

use std::sync::Arc;

use tokio::sync::watch;

/// One bot's token state: accepted (the start) or rejected.
#[derive(Clone, Debug)]
pub struct TokenGate(Arc<watch::Sender<bool>>);

impl Default for TokenGate {
    fn default() -> TokenGate {
        TokenGate(Arc::new(watch::Sender::new(true)))
    }
}

impl TokenGate {
    /// Telegram refused the token; `true` if it was accepted until now.
    pub fn reject(&self) -> bool {
        self.0
            .send_if_modified(|accepted| std::mem::replace(accepted, false))
    }

    /// A call with the token succeeded; `true` if it was rejected until now.
    pub fn accept(&self) -> bool {
        self.0
            .send_if_modified(|accepted| !std::mem::replace(accepted, true))
    }

    #[must_use]
    pub fn is_rejected(&self) -> bool {
        !*self.0.borrow()
    }

    /// Resolves once the token is accepted (at once if it is).
    pub async fn accepted(&self) {
        let mut state = self.0.subscribe();
        // The sender half lives in `self`, so the channel cannot close.
        let _ = state.wait_for(|accepted| *accepted).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejection_holds_until_accepted() {
        let gate = TokenGate::default();
        assert!(!gate.is_rejected());
        assert!(gate.reject());
        assert!(!gate.reject(), "already rejected");
        assert!(gate.is_rejected());
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.accepted().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(gate.accept());
        waiter.await.unwrap();
        assert!(!gate.accept(), "already accepted");
    }
}
