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

/// Hints per push token.
#[derive(Debug, Clone, Default)]
pub struct PushHub {
    queues: Arc<Mutex<HashMap<String, Vec<PushHint>>>>,
    notify: Arc<Notify>,
}

impl PushHub {
    /// Waits up to `timeout` for hints for `token`, and returns them.
    pub async fn poll(&self, token: &str, timeout: Duration) -> Vec<PushHint> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let taken = self.queues.lock().unwrap_or_else(PoisonError::into_inner).remove(token);
            if let Some(hints) = taken.filter(|h| !h.is_empty()) {
                return hints;
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
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(push_token.to_owned())
            .or_default()
            .push(hint.clone());
        self.notify.notify_waiters();
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
