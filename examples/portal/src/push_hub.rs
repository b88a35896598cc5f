//! The portal's push transport: hints wait in memory until the device's long poll collects
//! them. On PostgreSQL, a hint goes out as a notification on the shared database and every
//! replica's listener puts it in its own memory, so a phone polling any replica hears of a
//! sign-in started on another. A production deployment implements `PushSender` with APNs /
//! FCM instead; the hint carries ids only, so no transport sees anything sensitive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mfa_flow::PushSender;
use mfa_push::PushHint;
use tokio::sync::Notify;

/// Hints per push token, bounded: a hint older than a challenge's life is dropped, a token
/// keeps its last few, and the hub holds a bounded number of tokens (on PostgreSQL every
/// replica hears every hint, and only the one a phone polls empties its queue).
#[derive(Debug, Clone, Default)]
pub struct PushHub {
    queues: Arc<Mutex<HashMap<String, Vec<Queued>>>>,
    notify: Arc<Notify>,
}

/// A hint and when it arrived.
type Queued = (std::time::Instant, PushHint);

/// How long a hint waits for its phone (a challenge lives 90 seconds).
const HINT_TTL: Duration = Duration::from_secs(120);
/// Hints kept per token.
const HINTS_PER_TOKEN: usize = 8;
/// Tokens held at most.
const MAX_TOKENS: usize = 10_000;

impl PushHub {
    /// Waits up to `timeout` for hints for `token`, and returns them.
    pub async fn poll(&self, token: &str, timeout: Duration) -> Vec<PushHint> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let taken = self.queues.lock().unwrap_or_else(PoisonError::into_inner).remove(token);
            let fresh: Vec<PushHint> = taken
                .unwrap_or_default()
                .into_iter()
                .filter(|(at, _)| at.elapsed() < HINT_TTL)
                .map(|(_, h)| h)
                .collect();
            if !fresh.is_empty() {
                return fresh;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }
}

impl PushHub {
    /// Queues a hint for `token`'s long poll.
    pub fn deliver(&self, push_token: &str, hint: &PushHint) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if queues.len() >= MAX_TOKENS && !queues.contains_key(push_token) {
            queues.retain(|_, q| {
                q.retain(|(at, _)| at.elapsed() < HINT_TTL);
                !q.is_empty()
            });
            if queues.len() >= MAX_TOKENS {
                // Full of live hints: this one is dropped (the phone's signed fetch still
                // finds its challenge).
                return;
            }
        }
        let q = queues.entry(push_token.to_owned()).or_default();
        q.retain(|(at, _)| at.elapsed() < HINT_TTL);
        if q.len() >= HINTS_PER_TOKEN {
            q.remove(0);
        }
        q.push((std::time::Instant::now(), hint.clone()));
        drop(queues);
        self.notify.notify_waiters();
    }

    /// Tokens with hints waiting (for tests and metrics).
    #[must_use]
    pub fn tokens(&self) -> usize {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl PushSender for PushHub {
    async fn send(&self, push_token: &str, hint: &PushHint) -> Result<(), String> {
        self.deliver(push_token, hint);
        Ok(())
    }
}

/// Where the flows send push hints: straight into this process's hub (one process, or
/// SQLite), or through PostgreSQL to every replica's hub.
#[derive(Debug, Clone)]
pub enum PortalPush {
    /// This process only.
    Memory(PushHub),
    /// Every replica sharing the database (each listens and fills its own hub).
    Postgres(mfa_store_sql::PgPushChannel),
}

impl PushSender for PortalPush {
    async fn send(&self, push_token: &str, hint: &PushHint) -> Result<(), String> {
        match self {
            Self::Memory(hub) => hub.send(push_token, hint).await,
            Self::Postgres(channel) => channel.send(push_token, hint).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(n: u8) -> PushHint {
        PushHint { device_id: vec![n; 16], challenge_id: vec![n; 16] }
    }

    #[tokio::test]
    async fn the_hub_stays_bounded() {
        let hub = PushHub::default();
        for n in 0..20u8 {
            hub.deliver("one", &hint(n));
        }
        let got = hub.poll("one", Duration::from_millis(10)).await;
        assert_eq!(got.len(), HINTS_PER_TOKEN, "a token keeps its last few");
        assert_eq!(got.last(), Some(&hint(19)));
        for n in 0..(MAX_TOKENS + 50) {
            hub.deliver(&format!("t{n}"), &hint(1));
        }
        assert_eq!(hub.tokens(), MAX_TOKENS, "at most so many tokens");
    }
}
