//! The portal's push transport: hints wait in memory until the device's long poll collects
//! them. A production deployment implements `PushSender` with APNs / FCM instead; the hint
//! carries ids only, so either transport sees nothing sensitive.

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

impl PushSender for PushHub {
    async fn send(&self, push_token: &str, hint: &PushHint) -> Result<(), String> {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(push_token.to_owned())
            .or_default()
            .push(hint.clone());
        self.notify.notify_waiters();
        Ok(())
    }
}
