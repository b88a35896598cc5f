//! Push hints across server replicas on PostgreSQL: a hint sent by one replica is a
//! `NOTIFY` on the shared database, and every replica's listener hands it to its own local
//! delivery (the long poll a phone is waiting on, or an APNs/FCM client). The hint carries
//! ids only. A listener that loses its connection reconnects and listens again; a hint sent
//! meanwhile is lost, which costs nothing but time: the device's signed fetch still finds its
//! pending challenges.

use std::time::Duration;

use mfa_flow::PushSender;
use mfa_push::PushHint;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// The notification channel.
const CHANNEL: &str = "mfa_push";

/// A hint on the wire: the device's push token and the hint (ids only).
#[derive(Serialize, Deserialize)]
struct Wire {
    token: String,
    hint: PushHint,
}

/// Sends push hints as PostgreSQL notifications; [`PgPushChannel::listen`] receives them on
/// every replica.
#[derive(Debug, Clone)]
pub struct PgPushChannel {
    pool: PgPool,
}

impl PgPushChannel {
    /// A channel on the store's database.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Listens for hints (from every replica, this one included) and hands each to
    /// `deliver`, for as long as the runtime runs; reconnects after a lost connection.
    pub fn listen(
        &self,
        deliver: impl Fn(String, PushHint) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if listener.listen(CHANNEL).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // `try_recv` answers `None` when the connection was lost: listen anew.
                while let Ok(Some(n)) = listener.try_recv().await {
                    if let Ok(w) = serde_json::from_str::<Wire>(n.payload()) {
                        deliver(w.token, w.hint);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }
}

impl PushSender for PgPushChannel {
    async fn send(&self, push_token: &str, hint: &PushHint) -> Result<(), String> {
        let payload =
            serde_json::to_string(&Wire { token: push_token.to_owned(), hint: hint.clone() })
                .map_err(|e| e.to_string())?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
