//! The audit log in the database: `mfa-flow`'s [`AuditSink`] writing to the `audit` table
//! through a bounded queue and one writer task (the flows never wait on it), and the
//! account's recent events read back for a "recent security activity" list.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use mfa_flow::{AccountId, AuditEvent, AuditSink, SessionClient, StoreError, StoreResult};
use sqlx::Row as _;
use tokio::sync::mpsc;

use crate::{SqlStore, db_error, secs};

/// Events waiting for the writer; past this many, new ones are dropped and counted.
const QUEUE: usize = 4096;

/// An account that still has a legacy username ([`SqlStore::username_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameRow {
    /// The account id.
    pub account: String,
    /// Its username, normalized.
    pub username: String,
    /// Its last sign-in by the username (Unix seconds), if the log has one.
    pub last_username_login: Option<u64>,
}

/// The accounts of one group ([`SqlStore::group_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// The group (`None`: accounts without one).
    pub group: Option<String>,
    /// Its accounts.
    pub accounts: u64,
    /// Of them, those that still have a legacy username.
    pub with_username: u64,
}

/// One stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// When (Unix seconds).
    pub at: u64,
    /// The event's name (`login_succeeded`, `password_changed` …).
    pub kind: String,
    /// The event as JSON.
    pub data: String,
    /// The client's IP address, when the flow knew it.
    pub ip: Option<String>,
    /// The client's browser, when the flow knew it.
    pub browser: Option<String>,
}

struct Entry {
    at: SystemTime,
    event: AuditEvent,
    client: Option<SessionClient>,
}

/// An [`AuditSink`] that stores events in the database. Recording never blocks: events go
/// to a bounded queue that one task drains; when the database falls behind by more than
/// 4096 events, new ones are dropped and counted ([`SqlAudit::dropped`]).
#[derive(Clone)]
pub struct SqlAudit {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for SqlAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlAudit").field("dropped", &self.dropped()).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").finish_non_exhaustive()
    }
}

impl SqlAudit {
    /// Starts the writer on the current tokio runtime.
    #[must_use]
    pub fn spawn(store: SqlStore) -> Self {
        let (tx, mut rx) = mpsc::channel::<Entry>(QUEUE);
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                // A write that fails loses that event; the flows go on either way.
                let _ = store.insert_audit(&e).await;
            }
        });
        Self { tx, dropped: Arc::new(AtomicU64::new(0)) }
    }

    /// Events dropped because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn push(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl AuditSink for SqlAudit {
    fn record(&self, at: SystemTime, event: AuditEvent) {
        self.push(Entry { at, event, client: None });
    }

    fn record_from(&self, at: SystemTime, event: AuditEvent, client: &SessionClient) {
        self.push(Entry { at, event, client: Some(client.clone()) });
    }
}

impl SqlStore {
    async fn insert_audit(&self, e: &Entry) -> StoreResult<()> {
        let data = serde_json::to_value(&e.event).map_err(|_| StoreError::Corrupt)?;
        let kind = data.get("event").and_then(|k| k.as_str()).unwrap_or("unknown").to_owned();
        let account = data.get("account").and_then(|a| a.as_str()).map(str::to_owned);
        let (ip, browser) = match &e.client {
            Some(c) => (Some(c.ip.clone()), Some(c.browser.clone())),
            None => (None, None),
        };
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO audit (at, account, kind, data, ip, browser) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(secs(e.at))
                .bind(account)
                .bind(kind)
                .bind(data.to_string())
                .bind(ip)
                .bind(browser)
                .execute(pool)
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }

    /// The accounts that still have a legacy username, each with its username and the time
    /// of its last sign-in by it (from the audit log; `None` if none is on record), oldest
    /// sign-in first: the data an operator chooses a refusal date with.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn username_report(&self) -> StoreResult<Vec<UsernameRow>> {
        let sql = "SELECT a.id, a.username, (SELECT MAX(at) FROM audit WHERE audit.account = a.id AND audit.kind = 'legacy_username_used') FROM accounts a WHERE a.username IS NOT NULL ORDER BY 3, a.username";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await.map_err(db_error)?;
            rows.iter()
                .map(|r| {
                    let last: Option<i64> = r.try_get(2).map_err(db_error)?;
                    Ok(UsernameRow {
                        account: r.try_get(0).map_err(db_error)?,
                        username: r.try_get(1).map_err(db_error)?,
                        last_username_login: last.and_then(|t| u64::try_from(t).ok()),
                    })
                })
                .collect()
        })
    }

    /// Every group with its number of accounts and of accounts that still have a username,
    /// the accounts without a group first: what a rollout by group is planned with.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database fails.
    pub async fn group_report(&self) -> StoreResult<Vec<GroupRow>> {
        let sql = "SELECT account_group, COUNT(*), COUNT(username) FROM accounts GROUP BY account_group ORDER BY account_group IS NOT NULL, account_group";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await.map_err(db_error)?;
            rows.iter()
                .map(|r| {
                    let count = |i: usize| -> StoreResult<u64> {
                        let n: i64 = r.try_get(i).map_err(db_error)?;
                        u64::try_from(n).map_err(|_| StoreError::Corrupt)
                    };
                    Ok(GroupRow {
                        group: r.try_get(0).map_err(db_error)?,
                        accounts: count(1)?,
                        with_username: count(2)?,
                    })
                })
                .collect()
        })
    }

    /// The account's most recent audit events of the given `kinds` (all kinds when empty),
    /// newest first, at most `limit` (up to 200). Filtering in the query keeps a flood of one
    /// kind (throttled attempts) from pushing the others out of a short list.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database fails.
    pub async fn audit_events(
        &self,
        account: AccountId,
        kinds: &[&str],
        limit: u32,
    ) -> StoreResult<Vec<AuditRow>> {
        let limit = i64::from(limit.min(200));
        let kinds = &kinds[..kinds.len().min(64)];
        // Placeholders only: the kinds are bound, never spliced into the text.
        let filter = if kinds.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
            format!(" AND kind IN ({})", marks.join(", "))
        };
        let sql = format!(
            "SELECT at, kind, data, ip, browser FROM audit WHERE account = $1{filter} ORDER BY at DESC, id DESC LIMIT $2"
        );
        with_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(account.to_string()).bind(limit);
            for k in kinds {
                q = q.bind(*k);
            }
            let rows = q
                .fetch_all(pool)
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|r| {
                    Ok(AuditRow {
                        at: u64::try_from(r.try_get::<i64, _>(0).map_err(db_error)?).map_err(|_| StoreError::Corrupt)?,
                        kind: r.try_get(1).map_err(db_error)?,
                        data: r.try_get(2).map_err(db_error)?,
                        ip: r.try_get(3).map_err(db_error)?,
                        browser: r.try_get(4).map_err(db_error)?,
                    })
                })
                .collect()
        })
    }
}
