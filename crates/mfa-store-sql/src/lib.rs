//! `mfa-flow`'s [`Store`] on SQLite (feature `sqlite`, the default: one file, nothing to
//! install) and PostgreSQL (feature `postgres`: many stateless server replicas sharing one
//! database), with sqlx.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mfa_flow::StoreError> {
//! // Creates the file if needed and applies the migrations.
//! let store = mfa_store_sql::SqlStore::connect("sqlite://portal.db?mode=rwc").await?;
//! # let _ = store;
//! # Ok(()) }
//! ```
//!
//! Every security operation is one SQL statement whose condition makes it atomic — a unique
//! index for email claims, `UPDATE … WHERE version = …` for compare-and-swap,
//! `UPDATE … WHERE totp_last_step < …` for the TOTP replay guard, `DELETE … RETURNING` to
//! take a flow once, `INSERT … ON CONFLICT … WHERE expires <= now` for locks — never a read
//! followed by a write in Rust. TOTP secrets arrive sealed (`mfa-credentials`) inside the
//! factor data and are stored as such.
//!
//! The schema lives in `migrations/sqlite` and `migrations/postgres` (the two differ only in
//! column types) and is applied by [`SqlStore::connect`]; embedders who run migrations
//! themselves apply those files and use [`SqlStore::from_sqlite_pool`] /
//! [`SqlStore::from_pg_pool`] with `migrate: false`. Expired flow records are ignored as
//! soon as they expire; [`Store::sweep`] deletes them.

#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_email_identity::CanonicalEmail;
use mfa_flow::{
    Account, AccountId, Factor, FactorChange, FactorData, FactorId, Session, SessionId, Store,
    StoreError, StoreResult, ThrottleState,
};
#[cfg(feature = "postgres")]
use sqlx::PgPool;
use sqlx::Row as _;
#[cfg(feature = "sqlite")]
use sqlx::SqlitePool;

/// The store: a pool on one of the two databases. Clones share the pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlStore {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds (the SQL text is the
/// same for both databases: `$N` placeholders, numbered in order of first use).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres($pool) => $body,
        }
    };
}

mod audit;
#[cfg(feature = "postgres")]
mod push;

pub use audit::{AuditRow, GroupRow, SqlAudit, UsernameRow};
#[cfg(feature = "postgres")]
pub use push::PgPushChannel;

/// The advisory-lock key of the sweep on PostgreSQL ("mfaswp" in ASCII).
#[cfg(feature = "postgres")]
pub const SWEEP_LOCK: i64 = 0x6d66_6173_7770;

/// How long audit events are kept: 400 days (a year of history and a margin), then swept.
pub const AUDIT_RETENTION_SECS: i64 = 400 * 24 * 3600;

fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
            StoreError::Conflict
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt,
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn secs(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())).unwrap_or(i64::MAX)
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt)
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt)
}

fn account_from(data: &str, version: i64) -> StoreResult<Account> {
    let mut a: Account = serde_json::from_str(data).map_err(|_| StoreError::Corrupt)?;
    a.version = u64::try_from(version).map_err(|_| StoreError::Corrupt)?;
    Ok(a)
}

fn factor_from(data: &str, version: i64, last_step: Option<i64>) -> StoreResult<Factor> {
    let mut f: Factor = serde_json::from_str(data).map_err(|_| StoreError::Corrupt)?;
    f.version = u64::try_from(version).map_err(|_| StoreError::Corrupt)?;
    if let FactorData::Totp { last_step: s, .. } = &mut f.data {
        // The column is authoritative: it is what the replay guard advances.
        *s = last_step.map(u64::try_from).transpose().map_err(|_| StoreError::Corrupt)?;
    }
    Ok(f)
}

fn session_from(data: &str, version: i64, epoch: i64) -> StoreResult<Session> {
    let mut s: Session = serde_json::from_str(data).map_err(|_| StoreError::Corrupt)?;
    s.version = u64::try_from(version).map_err(|_| StoreError::Corrupt)?;
    s.epoch = u64::try_from(epoch).map_err(|_| StoreError::Corrupt)?;
    Ok(s)
}

/// Opens a transaction that writes from its first statement: SQLite takes the database's
/// write lock at once (`BEGIN IMMEDIATE`, waiting its busy timeout), so a transaction never
/// has to upgrade a read lock and fail; PostgreSQL's row locks do the same per row.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

#[cfg(feature = "sqlite")]
impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

#[cfg(feature = "postgres")]
impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// The statement that inserts an account, bound and ready to run on a pool or in a
/// transaction (both dialects). Evaluates to a `sqlx` query; `?` leaves the enclosing function.
macro_rules! insert_account {
    ($a:expr) => {
        sqlx::query("INSERT INTO accounts (id, version, canonical_email, username, data, session_epoch, account_group, account_role) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind($a.id.to_string())
            .bind(to_i64($a.version)?)
            .bind($a.canonical_email.as_str())
            .bind($a.username.as_ref().map(|u| u.normalized().to_owned()))
            .bind(json($a)?)
            .bind(to_i64($a.session_epoch)?)
            .bind($a.group.as_ref().map(|g| g.as_str().to_owned()))
            .bind($a.role.as_ref().map(|r| r.as_str().to_owned()))
    };
}

/// The statement that inserts a factor (with its WebAuthn credential id), as
/// [`insert_account`].
macro_rules! insert_factor {
    ($f:expr) => {
        sqlx::query("INSERT INTO factors (id, account, version, created, totp_last_step, data, credential_id) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind($f.id.to_string())
            .bind($f.account.to_string())
            .bind(to_i64($f.version)?)
            .bind(to_i64($f.created)?)
            .bind(totp_step($f)?)
            .bind(json($f)?)
            .bind($f.credential_id())
    };
}

/// Runs the statements of a guarded factor change inside `$tx` (a write transaction whose
/// first statement locked the account row at the expected epoch).
macro_rules! factor_change {
    ($tx:ident, $account:expr, $change:expr) => {{
        match $change {
            FactorChange::Add(f) => {
                if f.account != $account {
                    return Err(StoreError::NotFound);
                }
                insert_factor!(f).execute(&mut *$tx).await.map_err(db_error)?;
            }
            FactorChange::Update(f) => {
                let previous = to_i64(f.version.checked_sub(1).ok_or(StoreError::Stale)?)?;
                let n = sqlx::query("UPDATE factors SET version = $1, totp_last_step = $2, data = $3 WHERE id = $4 AND account = $5 AND version = $6")
                    .bind(to_i64(f.version)?)
                    .bind(totp_step(f)?)
                    .bind(json(f)?)
                    .bind(f.id.to_string())
                    .bind($account.to_string())
                    .bind(previous)
                    .execute(&mut *$tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                if n != 1 {
                    let exists = sqlx::query("SELECT 1 FROM factors WHERE id = $1 AND account = $2")
                        .bind(f.id.to_string())
                        .bind($account.to_string())
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err(db_error)?
                        .is_some();
                    return Err(if exists { StoreError::Stale } else { StoreError::NotFound });
                }
            }
            FactorChange::Remove { factor, keep_one_of } => {
                if let Some(keep) = keep_one_of {
                    let keep: Vec<String> =
                        keep.iter().filter(|k| *k != factor).map(ToString::to_string).collect();
                    let mut remaining = 0i64;
                    // One lookup per id (an account has a handful of factors): no dynamic SQL.
                    for k in &keep {
                        let row = sqlx::query("SELECT 1 FROM factors WHERE id = $1 AND account = $2")
                            .bind(k)
                            .bind($account.to_string())
                            .fetch_optional(&mut *$tx)
                            .await
                            .map_err(db_error)?;
                        remaining += i64::from(row.is_some());
                    }
                    if remaining == 0 {
                        return Err(StoreError::LastFactor);
                    }
                }
                let n = sqlx::query("DELETE FROM factors WHERE id = $1 AND account = $2")
                    .bind(factor.to_string())
                    .bind($account.to_string())
                    .execute(&mut *$tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                if n != 1 {
                    return Err(StoreError::NotFound);
                }
            }
        }
    }};
}

fn totp_step(f: &Factor) -> StoreResult<Option<i64>> {
    match &f.data {
        FactorData::Totp { last_step: Some(s), .. } => Ok(Some(to_i64(*s)?)),
        _ => Ok(None),
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://file.db?mode=rwc`, `sqlite::memory:` is refused —
    /// use a file — or `postgres://user@host/db`) and applies the migrations.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the database cannot be reached or migrated.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") {
                return Err(StoreError::Unavailable("use a file: memory databases vanish".into()));
            }
            let options: sqlx::sqlite::SqliteConnectOptions =
                url.parse().map_err(|e: sqlx::Error| StoreError::Unavailable(e.to_string()))?;
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(db_error)?;
            return Self::from_sqlite_pool(pool, true).await;
        }
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await
                .map_err(db_error)?;
            return Self::from_pg_pool(pool, true).await;
        }
        Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme (enabled: {})",
            [
                cfg!(feature = "sqlite").then_some("sqlite"),
                cfg!(feature = "postgres").then_some("postgres")
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        )))
    }

    /// Wraps an existing SQLite pool, applying the migrations if `migrate`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if a migration fails.
    #[cfg(feature = "sqlite")]
    pub async fn from_sqlite_pool(pool: SqlitePool, migrate: bool) -> StoreResult<Self> {
        if migrate {
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let store = Self::Sqlite(pool);
        store.fill_credential_ids().await?;
        Ok(store)
    }

    /// Wraps an existing PostgreSQL pool, applying the migrations if `migrate`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if a migration fails.
    #[cfg(feature = "postgres")]
    pub async fn from_pg_pool(pool: PgPool, migrate: bool) -> StoreResult<Self> {
        if migrate {
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let store = Self::Postgres(pool);
        store.fill_credential_ids().await?;
        Ok(store)
    }

    /// Deletes expired rows ([`Store::sweep`]) unless another replica is doing it right now:
    /// on PostgreSQL a session-level advisory lock makes one sweep run at a time across every
    /// replica (`None` when another holds it); SQLite has one writer anyway.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    pub async fn sweep_once(&self, now: SystemTime) -> StoreResult<Option<u64>> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => self.sweep(now).await.map(Some),
            #[cfg(feature = "postgres")]
            Self::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(db_error)?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(SWEEP_LOCK)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_error)?;
                if !got {
                    return Ok(None);
                }
                let swept = self.sweep(now).await;
                let unlocked: Result<(bool,), _> = sqlx::query_as("SELECT pg_advisory_unlock($1)")
                    .bind(SWEEP_LOCK)
                    .fetch_one(&mut *conn)
                    .await;
                if !matches!(unlocked, Ok((true,))) {
                    // Never hand a connection that may still hold the lock back to the pool:
                    // closing it releases the lock.
                    let _ = conn.close().await;
                }
                swept.map(Some)
            }
        }
    }

    /// Fills in the credential-id column of WebAuthn factors stored before it existed
    /// (schema version 4). Of two rows that share a credential id (possible before), the
    /// older one gets it; the newer stays unindexed.
    async fn fill_credential_ids(&self) -> StoreResult<()> {
        let rows: Vec<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, data FROM factors WHERE credential_id IS NULL AND data LIKE '%\"web_authn\"%' ORDER BY created, id")
                .fetch_all(pool)
                .await
                .map_err(db_error)?
        });
        for (id, data) in rows {
            let Some(cred) =
                serde_json::from_str::<Factor>(&data).ok().and_then(|f| f.credential_id())
            else {
                continue;
            };
            let r = with_pool!(self, pool => {
                sqlx::query("UPDATE factors SET credential_id = $1 WHERE id = $2")
                    .bind(&cred)
                    .bind(&id)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            });
            match r.map_err(db_error) {
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }

    async fn exists(&self, table_query: &'static str, id: &str) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let row = sqlx::query(table_query).bind(id).fetch_optional(pool).await.map_err(db_error)?;
            Ok(row.is_some())
        })
    }

    /// The error for a compare-and-swap that changed no row: the row changed meanwhile
    /// ([`StoreError::Stale`]) or never existed ([`StoreError::NotFound`]).
    async fn lost_swap(&self, table_query: &'static str, id: &str) -> StoreResult<()> {
        if self.exists(table_query, id).await? {
            Err(StoreError::Stale)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The session `query` finds for `key` (its columns: data, version, epoch).
    async fn session_where(&self, query: &'static str, key: &str) -> StoreResult<Option<Session>> {
        with_pool!(self, pool => {
            let row = sqlx::query(query).bind(key).fetch_optional(pool).await.map_err(db_error)?;
            row.map(|r| session_from(&r.try_get::<String, _>(0).map_err(db_error)?, r.try_get(1).map_err(db_error)?, r.try_get(2).map_err(db_error)?)).transpose()
        })
    }

    /// The account whose column in `query` equals `key`.
    async fn account_where(&self, query: &'static str, key: &str) -> StoreResult<Option<Account>> {
        with_pool!(self, pool => {
            let row = sqlx::query(query).bind(key).fetch_optional(pool).await.map_err(db_error)?;
            row.map(|r| account_from(&r.try_get::<String, _>(0).map_err(db_error)?, r.try_get(1).map_err(db_error)?)).transpose()
        })
    }
}

impl Store for SqlStore {
    async fn create_account(&self, a: &Account) -> StoreResult<()> {
        with_pool!(self, pool => {
            insert_account!(a).execute(pool).await.map_err(db_error)?;
            Ok(())
        })
    }

    async fn create_account_with_factors(
        &self,
        a: &Account,
        factors: &[Factor],
    ) -> StoreResult<()> {
        if factors.iter().any(|f| f.account != a.id) {
            return Err(StoreError::NotFound);
        }
        with_pool!(self, pool => {
            // One transaction: the account and every factor, or nothing.
            let mut tx = pool.begin().await.map_err(db_error)?;
            insert_account!(a).execute(&mut *tx).await.map_err(db_error)?;
            for f in factors {
                insert_factor!(f).execute(&mut *tx).await.map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
            Ok(())
        })
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.account_where("SELECT data, version FROM accounts WHERE id = $1", &id.to_string())
            .await
    }

    async fn account_by_email(&self, email: &CanonicalEmail) -> StoreResult<Option<Account>> {
        self.account_where(
            "SELECT data, version FROM accounts WHERE canonical_email = $1",
            email.as_str(),
        )
        .await
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        self.account_where("SELECT data, version FROM accounts WHERE username = $1", username).await
    }

    async fn update_account(&self, a: &Account) -> StoreResult<()> {
        let data = json(a)?;
        let username = a.username.as_ref().map(|u| u.normalized().to_owned());
        let previous = to_i64(a.version.checked_sub(1).ok_or(StoreError::Stale)?)?;
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE accounts SET version = $1, canonical_email = $2, username = $3, data = $4, session_epoch = $7, account_group = $8, account_role = $9 WHERE id = $5 AND version = $6")
                .bind(to_i64(a.version)?)
                .bind(a.canonical_email.as_str())
                .bind(username)
                .bind(data)
                .bind(a.id.to_string())
                .bind(previous)
                .bind(to_i64(a.session_epoch)?)
                .bind(a.group.as_ref().map(|g| g.as_str().to_owned()))
                .bind(a.role.as_ref().map(|r| r.as_str().to_owned()))
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 {
            return Ok(());
        }
        self.lost_swap("SELECT 1 FROM accounts WHERE id = $1", &a.id.to_string()).await
    }

    async fn add_factor(&self, f: &Factor) -> StoreResult<()> {
        let result = with_pool!(self, pool => {
            insert_factor!(f).execute(pool).await.map(|r| r.rows_affected())
        });
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn factors(&self, account: AccountId) -> StoreResult<Vec<Factor>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT data, version, totp_last_step FROM factors WHERE account = $1 ORDER BY created, id")
                .bind(account.to_string())
                .fetch_all(pool)
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|r| factor_from(&r.try_get::<String, _>(0).map_err(db_error)?, r.try_get(1).map_err(db_error)?, r.try_get(2).map_err(db_error)?))
                .collect()
        })
    }

    async fn update_factor(&self, f: &Factor) -> StoreResult<()> {
        let data = json(f)?;
        let step = totp_step(f)?;
        let previous = to_i64(f.version.checked_sub(1).ok_or(StoreError::Stale)?)?;
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE factors SET version = $1, totp_last_step = $2, data = $3 WHERE id = $4 AND account = $5 AND version = $6")
                .bind(to_i64(f.version)?)
                .bind(step)
                .bind(data)
                .bind(f.id.to_string())
                .bind(f.account.to_string())
                .bind(previous)
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 {
            return Ok(());
        }
        self.lost_swap("SELECT 1 FROM factors WHERE id = $1", &f.id.to_string()).await
    }

    async fn remove_factor(&self, account: AccountId, factor: FactorId) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let n = sqlx::query("DELETE FROM factors WHERE id = $1 AND account = $2")
                .bind(factor.to_string())
                .bind(account.to_string())
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn advance_totp_step(&self, factor: FactorId, step: u64) -> StoreResult<bool> {
        let step = to_i64(step)?;
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE factors SET totp_last_step = $1, version = version + 1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
                .bind(step)
                .bind(factor.to_string())
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 {
            return Ok(true);
        }
        if self.exists("SELECT 1 FROM factors WHERE id = $1", &factor.to_string()).await? {
            Ok(false)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn put_flow(&self, key: &str, value: &[u8], expires: SystemTime) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO flows (key, value, expires) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires")
                .bind(key)
                .bind(value)
                .bind(secs(expires))
                .execute(pool)
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }

    async fn put_flow_new(
        &self,
        key: &str,
        value: &[u8],
        expires: SystemTime,
        now: SystemTime,
    ) -> StoreResult<()> {
        let done = with_pool!(self, pool => {
            sqlx::query("INSERT INTO flows (key, value, expires) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires WHERE flows.expires <= $4")
                .bind(key)
                .bind(value)
                .bind(secs(expires))
                .bind(secs(now))
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn take_flow(&self, key: &str, now: SystemTime) -> StoreResult<Option<Vec<u8>>> {
        with_pool!(self, pool => {
            let row = sqlx::query("DELETE FROM flows WHERE key = $1 AND expires > $2 RETURNING value")
                .bind(key)
                .bind(secs(now))
                .fetch_optional(pool)
                .await
                .map_err(db_error)?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0).map_err(db_error)).transpose()
        })
    }

    async fn get_flow(&self, key: &str, now: SystemTime) -> StoreResult<Option<Vec<u8>>> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT value FROM flows WHERE key = $1 AND expires > $2")
                .bind(key)
                .bind(secs(now))
                .fetch_optional(pool)
                .await
                .map_err(db_error)?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0).map_err(db_error)).transpose()
        })
    }

    async fn throttle(&self, key: &str) -> StoreResult<ThrottleState> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT failures, last_failure FROM throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(db_error)?;
            match row {
                None => Ok(ThrottleState::default()),
                Some(r) => Ok(ThrottleState {
                    failures: u32::try_from(r.try_get::<i64, _>(0).map_err(db_error)?).map_err(|_| StoreError::Corrupt)?,
                    last_failure: u64::try_from(r.try_get::<i64, _>(1).map_err(db_error)?).map_err(|_| StoreError::Corrupt)?,
                }),
            }
        })
    }

    async fn update_throttle(
        &self,
        key: &str,
        f: impl Fn(ThrottleState) -> ThrottleState + Send + Sync,
    ) -> StoreResult<ThrottleState> {
        // One write transaction with the row locked (SQLite: the database's write lock from
        // `BEGIN IMMEDIATE`; PostgreSQL: the row lock of the no-op update), so a burst of
        // attempts on one key queues instead of failing a compare-and-swap: `f` runs once,
        // on the value no one else can change until the commit.
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db_error)?;
            // Creates the row or locks it, and reads it, in one statement.
            let row = sqlx::query("INSERT INTO throttle (key, failures, last_failure) VALUES ($1, 0, 0) ON CONFLICT (key) DO UPDATE SET failures = throttle.failures RETURNING failures, last_failure")
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            let current = ThrottleState {
                failures: u32::try_from(row.try_get::<i64, _>(0).map_err(db_error)?)
                    .map_err(|_| StoreError::Corrupt)?,
                last_failure: u64::try_from(row.try_get::<i64, _>(1).map_err(db_error)?)
                    .map_err(|_| StoreError::Corrupt)?,
            };
            let next = f(current);
            sqlx::query("UPDATE throttle SET failures = $1, last_failure = $2 WHERE key = $3")
                .bind(i64::from(next.failures))
                .bind(to_i64(next.last_failure)?)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(next)
        })
    }

    async fn change_factors(
        &self,
        account: AccountId,
        epoch: u64,
        change: &FactorChange,
    ) -> StoreResult<()> {
        let epoch = to_i64(epoch)?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db_error)?;
            // Lock the account row at the expected epoch: a concurrent epoch bump or another
            // guarded change waits for this transaction, or this one for it.
            let locked = sqlx::query("UPDATE accounts SET session_epoch = session_epoch WHERE id = $1 AND session_epoch = $2")
                .bind(account.to_string())
                .bind(epoch)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            if locked != 1 {
                let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
                    .bind(account.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .is_some();
                return Err(if exists { StoreError::Revoked } else { StoreError::NotFound });
            }
            factor_change!(tx, account, change);
            tx.commit().await.map_err(db_error)?;
            Ok(())
        })
    }

    async fn create_session(&self, token_hash: &str, s: &Session) -> StoreResult<()> {
        let data = json(s)?;
        let done = with_pool!(self, pool => {
            sqlx::query("INSERT INTO sessions (id, token_hash, account, epoch, version, expires, data) SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $3 AND session_epoch = $4)")
                .bind(s.id.as_str())
                .bind(token_hash)
                .bind(s.account.to_string())
                .bind(to_i64(s.epoch)?)
                .bind(to_i64(s.version)?)
                .bind(to_i64(s.expires)?)
                .bind(data)
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 {
            return Ok(());
        }
        if self.exists("SELECT 1 FROM accounts WHERE id = $1", &s.account.to_string()).await? {
            Err(StoreError::Revoked)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        self.session_where("SELECT s.data, s.version, s.epoch FROM sessions s JOIN accounts a ON a.id = s.account WHERE s.token_hash = $1 AND s.epoch = a.session_epoch", token_hash).await
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        self.session_where("SELECT s.data, s.version, s.epoch FROM sessions s JOIN accounts a ON a.id = s.account WHERE s.id = $1 AND s.epoch = a.session_epoch", id.as_str()).await
    }

    async fn update_session(&self, s: &Session) -> StoreResult<()> {
        let data = json(s)?;
        let previous = to_i64(s.version.checked_sub(1).ok_or(StoreError::Stale)?)?;
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE sessions SET version = $1, epoch = $2, expires = $3, data = $4 WHERE id = $5 AND account = $6 AND version = $7 AND EXISTS (SELECT 1 FROM accounts WHERE accounts.id = $6 AND accounts.session_epoch = $2)")
                .bind(to_i64(s.version)?)
                .bind(to_i64(s.epoch)?)
                .bind(to_i64(s.expires)?)
                .bind(data)
                .bind(s.id.as_str())
                .bind(s.account.to_string())
                .bind(previous)
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected()
        });
        if done == 1 {
            return Ok(());
        }
        // A lost swap (the row exists and the epoch holds) or a session that is gone.
        let epoch_holds =
            self.account(s.account).await?.is_some_and(|a| a.session_epoch == s.epoch);
        if epoch_holds && self.exists("SELECT 1 FROM sessions WHERE id = $1", s.id.as_str()).await?
        {
            Err(StoreError::Stale)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn sessions(&self, account: AccountId) -> StoreResult<Vec<Session>> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT s.data, s.version, s.epoch FROM sessions s JOIN accounts a ON a.id = s.account WHERE s.account = $1 AND s.epoch = a.session_epoch ORDER BY s.id")
                .bind(account.to_string())
                .fetch_all(pool)
                .await
                .map_err(db_error)?;
            let mut out = rows.iter()
                .map(|r| session_from(&r.try_get::<String, _>(0).map_err(db_error)?, r.try_get(1).map_err(db_error)?, r.try_get(2).map_err(db_error)?))
                .collect::<StoreResult<Vec<Session>>>()?;
            out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
            Ok(out)
        })
    }

    async fn end_sessions(
        &self,
        account: AccountId,
        only: Option<&SessionId>,
        keep: Option<&SessionId>,
    ) -> StoreResult<u64> {
        let (query, id) = match (only, keep) {
            (Some(id), _) => ("DELETE FROM sessions WHERE account = $1 AND id = $2", id.as_str()),
            (None, Some(id)) => {
                ("DELETE FROM sessions WHERE account = $1 AND id <> $2", id.as_str())
            }
            // No session id has this form: the condition holds for every row.
            (None, None) => ("DELETE FROM sessions WHERE account = $1 AND id <> $2", ""),
        };
        with_pool!(self, pool => {
            Ok(sqlx::query(query)
                .bind(account.to_string())
                .bind(id)
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected())
        })
    }

    async fn sweep(&self, now: SystemTime) -> StoreResult<u64> {
        with_pool!(self, pool => {
            let flows = sqlx::query("DELETE FROM flows WHERE expires <= $1")
                .bind(secs(now))
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected();
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires <= $1 OR epoch <> (SELECT session_epoch FROM accounts WHERE accounts.id = sessions.account)")
                .bind(secs(now))
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected();
            let audit = sqlx::query("DELETE FROM audit WHERE at < $1")
                .bind(secs(now).saturating_sub(AUDIT_RETENTION_SECS))
                .execute(pool)
                .await
                .map_err(db_error)?
                .rows_affected();
            Ok(flows + sessions + audit)
        })
    }
}
