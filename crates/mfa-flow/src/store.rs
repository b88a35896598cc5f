//! The storage and delivery traits. Every operation that guards a security property is one
//! atomic method, so any database implements it correctly and two replicas racing cannot
//! both win; `mfa-testkit`'s conformance suite proves it for each adapter.

use core::future::Future;
use std::time::SystemTime;

use mfa_email_identity::{CanonicalEmail, EmailAddress, Notice};
use mfa_push::PushHint;

use crate::policy::ThrottleState;
use crate::{Account, AccountId, Factor, FactorId, Session, SessionId};

/// Storage failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value (email, username, id) is taken.
    #[error("already exists")]
    Conflict,
    /// A compare-and-swap lost: the record changed since it was read.
    #[error("changed concurrently")]
    Stale,
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or failed; the message is for logs.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt")]
    Corrupt,
    /// The write was made under a session epoch the account has left: its sessions were
    /// revoked since.
    #[error("the account's sessions were revoked")]
    Revoked,
    /// The removal would leave none of the factors the caller said must remain.
    #[error("the last usable factor cannot be removed")]
    LastFactor,
}

/// A change to an account's factors made on behalf of a session: applied only while the
/// account's session epoch is still the session's, atomically with that check. Exhaustive on
/// purpose: every store must handle every change.
#[derive(Debug, Clone)]
pub enum FactorChange {
    /// Adds a factor ([`StoreError::Conflict`] as for [`Store::add_factor`]: an existing id
    /// or WebAuthn credential id).
    Add(Factor),
    /// Replaces a factor if its stored version is `version - 1`.
    Update(Factor),
    /// Removes a factor; when `keep_one_of` is given, only if at least one of those other
    /// factors still exists at that moment ([`StoreError::LastFactor`] otherwise), so two
    /// concurrent removals cannot take an account's last two factors.
    Remove {
        /// The factor.
        factor: FactorId,
        /// Factors of which one must remain.
        keep_one_of: Option<Vec<FactorId>>,
    },
}

/// Result of storage operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// What the flows store. All methods are atomic; none is read-then-write in the caller.
pub trait Store: Send + Sync {
    /// Creates an account. [`StoreError::Conflict`] if the canonical email or the username
    /// is taken, or the id exists.
    fn create_account(&self, account: &Account) -> impl Future<Output = StoreResult<()>> + Send;

    /// Creates an account with its factors, all or nothing (an import): nothing is written
    /// if any part conflicts ([`StoreError::Conflict`] as for [`Store::create_account`] and
    /// [`Store::add_factor`]).
    fn create_account_with_factors(
        &self,
        account: &Account,
        factors: &[Factor],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account with this id.
    fn account(&self, id: AccountId) -> impl Future<Output = StoreResult<Option<Account>>> + Send;

    /// The account whose canonical email is `email`.
    fn account_by_email(
        &self,
        email: &CanonicalEmail,
    ) -> impl Future<Output = StoreResult<Option<Account>>> + Send;

    /// The account whose normalized legacy username is `username`.
    fn account_by_username(
        &self,
        username: &str,
    ) -> impl Future<Output = StoreResult<Option<Account>>> + Send;

    /// Replaces the account if its stored version is `account.version - 1`
    /// ([`StoreError::Stale`] otherwise); [`StoreError::Conflict`] if its new canonical
    /// email or username belongs to another account.
    fn update_account(&self, account: &Account) -> impl Future<Output = StoreResult<()>> + Send;

    /// Adds a factor. [`StoreError::Conflict`] if the id exists, or if its WebAuthn credential
    /// id ([`Factor::credential_id`]) is registered already, to any account.
    fn add_factor(&self, factor: &Factor) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account's factors.
    fn factors(&self, account: AccountId) -> impl Future<Output = StoreResult<Vec<Factor>>> + Send;

    /// Replaces a factor if its stored version is `factor.version - 1`.
    fn update_factor(&self, factor: &Factor) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a factor; false if it did not exist.
    fn remove_factor(
        &self,
        account: AccountId,
        factor: FactorId,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Sets a TOTP factor's last used step to `step` if it is below `step` (or unset), and
    /// says whether it did. This is the replay guard: of two submissions of one code, one
    /// succeeds.
    fn advance_totp_step(
        &self,
        factor: FactorId,
        step: u64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Stores a flow record (opaque bytes) under `key` until `expires`.
    fn put_flow(
        &self,
        key: &str,
        value: &[u8],
        expires: SystemTime,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes and returns the flow record under `key`, if present and not expired: at most
    /// one caller gets it.
    fn take_flow(
        &self,
        key: &str,
        now: SystemTime,
    ) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// Reads the flow record under `key` without removing it (`None` if absent or expired).
    fn get_flow(
        &self,
        key: &str,
        now: SystemTime,
    ) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// Stores a flow record only if no record live at `now` exists under `key`
    /// ([`StoreError::Conflict`] otherwise): an atomic lock that expires by itself.
    fn put_flow_new(
        &self,
        key: &str,
        value: &[u8],
        expires: SystemTime,
        now: SystemTime,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Reads a throttle counter.
    fn throttle(&self, key: &str) -> impl Future<Output = StoreResult<ThrottleState>> + Send;

    /// Applies `f` to a throttle counter atomically and returns the new value.
    fn update_throttle(
        &self,
        key: &str,
        f: impl Fn(ThrottleState) -> ThrottleState + Send + Sync,
    ) -> impl Future<Output = StoreResult<ThrottleState>> + Send;

    /// Applies `change` if the account's session epoch is `epoch`
    /// ([`StoreError::Revoked`] otherwise), in one atomic step with that check.
    /// [`StoreError::NotFound`] for an unknown account or factor, [`StoreError::Stale`] for
    /// an update that lost its compare-and-swap, [`StoreError::LastFactor`] for a refused
    /// removal.
    fn change_factors(
        &self,
        account: AccountId,
        epoch: u64,
        change: &FactorChange,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Stores a new session under the hash of its token, if the account's session epoch is
    /// `session.epoch` ([`StoreError::Revoked`] otherwise; [`StoreError::NotFound`] without
    /// the account).
    fn create_session(
        &self,
        token_hash: &str,
        session: &Session,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The session whose token hashes to `token_hash`, if it exists and carries the
    /// account's current epoch.
    fn session_by_token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<Session>>> + Send;

    /// The session with this id, if it exists and carries the account's current epoch.
    fn session(&self, id: &SessionId) -> impl Future<Output = StoreResult<Option<Session>>> + Send;

    /// Replaces a session if its stored version is `session.version - 1` and the account's
    /// session epoch is `session.epoch` ([`StoreError::Stale`] for a lost swap,
    /// [`StoreError::NotFound`] for an ended or revoked session).
    fn update_session(&self, session: &Session) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account's live sessions (current epoch), oldest first.
    fn sessions(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<Session>>> + Send;

    /// Ends the account's sessions: the one with id `only` when given, otherwise every one
    /// except `keep`. Returns how many ended.
    fn end_sessions(
        &self,
        account: AccountId,
        only: Option<&SessionId>,
        keep: Option<&SessionId>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Deletes expired flow records and sessions past their absolute expiry or of an old
    /// epoch; returns how many.
    fn sweep(&self, now: SystemTime) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Sends notices by email (an `.eml` outbox, SMTP …).
///
/// Hand the message to a queue and return: the flows send inside requests whose answer must
/// not depend on whether an account exists ("forgot password", a sign-up or an email change
/// to a taken address), so a mailer that waits for the mail server would let the answer's
/// time tell.
pub trait Mailer: Send + Sync {
    /// Sends `notice` to `to`.
    fn send(
        &self,
        to: &EmailAddress,
        notice: &Notice,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Delivers push hints (APNs, FCM, a webhook, a long poll).
pub trait PushSender: Send + Sync {
    /// Delivers `hint` to the device with `push_token`.
    fn send(
        &self,
        push_token: &str,
        hint: &PushHint,
    ) -> impl Future<Output = Result<(), String>> + Send;
}
