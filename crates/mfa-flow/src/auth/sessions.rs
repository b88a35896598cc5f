//! Sessions as library state: created at sign-in, found by the hash of their token, timed
//! out per assurance level, revoked by the account's session epoch; and the proof an
//! enrollment-only session must give before it may bind a factor to an account that had one.

use core::fmt;
use std::time::SystemTime;

use mfa_credentials::RecoveryCodeSet;
use mfa_email_identity::{Notice, PendingEmailCode, TokenHash};
use serde::{Deserialize, Serialize};

use super::{Assurance, Auth, LoginError, flow_key};
use crate::audit::AuditEvent;
use crate::store::{FactorChange, Mailer, PushSender, Store, StoreError};
use crate::{Account, AccountId, FactorData, FactorId, FactorKind, from_unix, unix};

/// How many factors one session may enroll (each is remembered, so step-up can refuse it).
const MAX_ENROLLED_PER_SESSION: usize = 16;
/// The longest session token accepted for a lookup (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 128;
/// `last_seen` is written at most this often (seconds): idle time is measured to this grain.
const TOUCH_EVERY: u64 = 60;
/// Longest client strings kept with a session.
const MAX_IP_LEN: usize = 64;
const MAX_BROWSER_LEN: usize = 128;

/// A session's public id: shown in the list of sessions and used to end one. It is not a
/// credential (the token is); 16 random bytes in base64url, 22 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// Reads an id sent by a client.
    ///
    /// # Errors
    /// [`LoginError::Malformed`] unless it is 22 base64url characters.
    pub fn parse(s: &str) -> Result<Self, LoginError> {
        if s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(Self(s.to_owned()))
        } else {
            Err(LoginError::Malformed)
        }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SessionId {
    type Error = LoginError;
    fn try_from(s: String) -> Result<Self, LoginError> {
        Self::parse(&s)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

/// The client a session was created for, as shown in the list of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClient {
    /// The client's IP address (at most 64 characters).
    pub ip: String,
    /// Browser and system (at most 128 characters).
    pub browser: String,
}

impl SessionClient {
    /// The client as kept with a session: bounded, control characters dropped.
    #[must_use]
    pub fn of(client: &super::ClientInfo) -> Self {
        let bounded = |s: &str, n: usize| s.chars().filter(|c| !c.is_control()).take(n).collect();
        Self {
            ip: bounded(&client.ip, MAX_IP_LEN),
            browser: bounded(&client.browser, MAX_BROWSER_LEN),
        }
    }
}

/// What an enrollment-only session must prove before it may enroll a factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EnrollmentProof {
    /// Nothing: the account never had a second factor (a new sign-up).
    NotRequired,
    /// The account has or had a factor (retired SMS, recovery codes only): a code sent to
    /// its email address, or one of its recovery codes, first.
    Required,
    /// Given.
    Proven,
}

/// A session as stored. The embedder holds only its token (in a cookie); every request
/// finds the session through [`Auth::session`], which applies the timeouts and the
/// account's revocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The public id.
    pub id: SessionId,
    /// The account.
    pub account: AccountId,
    /// The account's session epoch when the session was made.
    pub epoch: u64,
    /// Bumped by every update; updates compare-and-swap on it.
    pub version: u64,
    /// Created (Unix seconds): the sign-in.
    pub created: u64,
    /// The last request seen (Unix seconds, to a minute).
    pub last_seen: u64,
    /// The absolute end (Unix seconds), for sweeping.
    pub expires: u64,
    /// When the password was verified.
    pub password_at: u64,
    /// When a second factor that existed before this session was last verified (the
    /// sign-in's or a step-up's); `None` after a password-only or forced-enrollment sign-in.
    pub second_factor_at: Option<u64>,
    /// The factor verified then.
    pub second_factor: Option<FactorId>,
    /// The assurance of the sign-in.
    pub assurance: Assurance,
    /// The second factor of the sign-in.
    pub factor: Option<FactorKind>,
    /// True while the session may only enroll a second factor.
    pub enrollment_only: bool,
    /// The session began as a forced enrollment: within the enrollment time after its
    /// password it may go on adding factors (a key and a backup) without a step-up, since
    /// none of them ever makes it fresh.
    pub forced_enrollment: bool,
    /// What the session must prove before it enrolls.
    pub proof: EnrollmentProof,
    /// Factors enrolled in this session: they never count for this session's step-up.
    pub enrolled: Vec<FactorId>,
    /// The client that signed in.
    pub client: SessionClient,
    /// The account's facts when the session was made (a change of its group or role ends
    /// its sessions): the rules in force decide with them at each check, so a tightened
    /// table reaches live sessions. `None` for a session stored before they were recorded:
    /// the rules for no account decide.
    #[serde(default)]
    pub facts: Option<crate::AccountFacts>,
    /// The client of the request at hand, when the embedder knows it (set it after
    /// [`Auth::session`]): the audit log records who acted, which for a stolen cookie is not
    /// who signed in. Never stored.
    #[serde(skip)]
    pub acting: Option<SessionClient>,
}

impl Session {
    /// The client acting now: the request's when known, else the one that signed in.
    #[must_use]
    pub fn actor(&self) -> &SessionClient {
        self.acting.as_ref().unwrap_or(&self.client)
    }

    /// This session, acting from `client` (the request's).
    #[must_use]
    pub fn acting_from(mut self, client: &super::ClientInfo) -> Self {
        self.acting = Some(SessionClient::of(client));
        self
    }
}

/// A session in the list the user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The id (to end it).
    pub id: SessionId,
    /// Browser and system.
    pub browser: String,
    /// IP address.
    pub ip: String,
    /// Signed in at (Unix seconds).
    pub created: u64,
    /// Last seen at.
    pub last_seen: u64,
    /// The assurance of its sign-in.
    pub assurance: Assurance,
    /// Whether it is the session asking.
    pub current: bool,
}

/// Why an account's sessions were revoked (audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationReason {
    /// The password changed.
    PasswordChanged,
    /// The login address changed, or a change was confirmed, reverted or cancelled.
    EmailChanged,
    /// A factor was removed.
    FactorRemoved,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// The user ended their other sessions.
    UserRequest,
    /// An administrator ended every session.
    Administrator,
    /// A factor was suspended (a security key that looked cloned).
    FactorSuspended,
    /// The password was reset through recovery.
    PasswordReset,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProofFlow {
    session: SessionId,
    pending: PendingEmailCode,
    /// Wrong codes typed so far: the flow ends at [`MAX_PROOF_ATTEMPTS`].
    attempts: u8,
}

/// Wrong codes one mailbox proof accepts before a new code must be sent.
const MAX_PROOF_ATTEMPTS: u8 = 5;

/// Known-device tokens record the epoch they were issued under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct KnownDevice {
    pub(super) account: AccountId,
    pub(super) epoch: u64,
    /// Made by opening a sign-in link (the mailbox, not an earlier sign-in, vouches for
    /// this browser): it passes the identifier-wide throttle only.
    #[serde(default)]
    pub(super) by_mail: bool,
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Makes and stores a new session for `account` (read fresh: its epoch is the one
    /// stored); returns it and its token (for the cookie; shown once, stored hashed).
    /// `factor` is the second factor the sign-in verified (fresh at `now`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn new_session(
        &self,
        account: &Account,
        assurance: Assurance,
        factor: Option<&crate::Factor>,
        password_at: u64,
        enrollment_only: bool,
        proof: EnrollmentProof,
        client: SessionClient,
        now: SystemTime,
    ) -> Result<(Session, String), LoginError> {
        let limits = self.config.policy.sessions.limits(assurance, enrollment_only);
        let token = self.random_id();
        let id = SessionId(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            self.random_bytes::<16>(),
        ));
        let session = Session {
            id,
            account: account.id,
            epoch: account.session_epoch,
            version: 1,
            created: unix(now),
            last_seen: unix(now),
            expires: unix(now).saturating_add(limits.absolute.as_secs()),
            password_at,
            // A code by email signs in but never makes the session fresh for sensitive
            // changes: it does not reach AAL2.
            second_factor_at: factor.filter(|f| f.kind.reaches_aal2()).map(|_| unix(now)),
            second_factor: factor.map(|f| f.id),
            assurance,
            factor: factor.map(|f| f.kind),
            enrollment_only,
            forced_enrollment: enrollment_only,
            proof,
            enrolled: Vec::new(),
            client,
            facts: Some(crate::AccountFacts::of(account)),
            acting: None,
        };
        self.store.create_session(&TokenHash::of(&token).to_base64url(), &session).await?;
        Ok((session, token))
    }

    /// The session a request's token names, if it is alive: not ended, not revoked by the
    /// account's epoch, within its absolute and idle limits. A live session's `last_seen`
    /// moves on (at most once a minute); its absolute end never does.
    ///
    /// # Errors
    /// [`LoginError::NotSignedIn`] for an unknown, ended, revoked or timed-out session (a
    /// timed-out one is deleted).
    pub async fn session(&self, token: &str, now: SystemTime) -> Result<Session, LoginError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(LoginError::NotSignedIn);
        }
        let hash = TokenHash::of(token).to_base64url();
        let mut s = self.store.session_by_token(&hash).await?.ok_or(LoginError::NotSignedIn)?;
        let alive = self.config.policy.sessions.alive(
            s.assurance,
            s.enrollment_only,
            from_unix(s.created),
            from_unix(s.last_seen),
            now,
        );
        if !alive {
            self.store.end_sessions(s.account, Some(&s.id), None).await?;
            self.audit(now, AuditEvent::SessionEnded { account: s.account, timed_out: true });
            return Err(LoginError::NotSignedIn);
        }
        if unix(now).saturating_sub(s.last_seen) >= TOUCH_EVERY {
            s.last_seen = unix(now);
            s.version += 1;
            match self.store.update_session(&s).await {
                // Another request touched it first: this one's copy is as good.
                Ok(()) | Err(StoreError::Stale) => {}
                Err(StoreError::NotFound) => return Err(LoginError::NotSignedIn),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(s)
    }

    /// Applies `f` to the stored session `id` (compare-and-swap, retried).
    pub(super) async fn modify_session(
        &self,
        id: &SessionId,
        f: impl Fn(&mut Session),
    ) -> Result<Session, LoginError> {
        for _ in 0..8 {
            let mut s = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            f(&mut s);
            s.version += 1;
            match self.store.update_session(&s).await {
                Ok(()) => return Ok(s),
                Err(StoreError::Stale) => {}
                Err(StoreError::NotFound) => return Err(LoginError::NotSignedIn),
                Err(e) => return Err(e.into()),
            }
        }
        Err(LoginError::Store(StoreError::Unavailable("session too contended".into())))
    }

    /// The account of `session`, read now; [`LoginError::NotSignedIn`] if its sessions were
    /// revoked since the session was made.
    pub(super) async fn account_of(&self, session: &Session) -> Result<Account, LoginError> {
        let account = self.store.account(session.account).await?.ok_or(LoginError::NotSignedIn)?;
        if account.session_epoch != session.epoch {
            return Err(LoginError::NotSignedIn);
        }
        Ok(account)
    }

    /// The stored copy of `session` (its latest version), read before a revocation that keeps
    /// it: afterwards its old epoch hides it.
    pub(super) async fn stored_copy(&self, session: &Session) -> Result<Session, LoginError> {
        let mut stored = self.store.session(&session.id).await?.ok_or(LoginError::NotSignedIn)?;
        stored.acting.clone_from(&session.acting);
        Ok(stored)
    }

    /// Bumps `account`'s session epoch in the update the caller is about to write, so the
    /// change and the revocation are one atomic step.
    pub(super) fn bump_epoch(account: &mut Account) {
        account.session_epoch += 1;
    }

    /// After an account update that bumped the epoch: deletes the other sessions' rows and
    /// carries `keep` (the session that made the change) over to the new epoch.
    pub(super) async fn after_revocation(
        &self,
        account: &Account,
        keep: Option<&Session>,
        reason: RevocationReason,
        now: SystemTime,
    ) -> Result<Option<Session>, LoginError> {
        let kept = match keep.filter(|s| s.epoch + 1 == account.session_epoch) {
            Some(s) => {
                let mut next = s.clone();
                next.epoch = account.session_epoch;
                next.version += 1;
                match self.store.update_session(&next).await {
                    Ok(()) => Some(next),
                    Err(StoreError::NotFound | StoreError::Stale) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        };
        let ended = self.store.end_sessions(account.id, None, kept.as_ref().map(|s| &s.id)).await?;
        let event = AuditEvent::SessionsRevoked { account: account.id, reason, ended };
        match &kept {
            Some(s) => self.audit_from(now, event, s.actor()),
            None => self.audit(now, event),
        }
        Ok(kept)
    }

    /// Revokes every session and known-device token of `account` but `keep`, atomically
    /// (one compare-and-swap on the account's epoch, retried), then deletes their rows.
    pub(super) async fn revoke(
        &self,
        account: AccountId,
        keep: Option<&Session>,
        reason: RevocationReason,
        now: SystemTime,
    ) -> Result<Option<Session>, LoginError> {
        for _ in 0..8 {
            let keep = match keep {
                Some(s) => Some(self.stored_copy(s).await?),
                None => None,
            };
            let mut a = self.store.account(account).await?.ok_or(LoginError::NotSignedIn)?;
            // Only a session of the epoch being left is carried over.
            let keep = keep.filter(|s| s.epoch == a.session_epoch);
            Self::bump_epoch(&mut a);
            a.version += 1;
            match self.store.update_account(&a).await {
                Ok(()) => return self.after_revocation(&a, keep.as_ref(), reason, now).await,
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(LoginError::Store(StoreError::Unavailable("account too contended".into())))
    }

    /// The account's live sessions, the asking one marked.
    ///
    /// # Errors
    /// [`LoginError::NotSignedIn`] for a revoked session, [`LoginError::MethodUnavailable`]
    /// for an enrollment-only one (a password alone does not show where the owner is).
    pub async fn sessions(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<Vec<SessionView>, LoginError> {
        Self::require_full(session)?;
        self.account_of(session).await?;
        let policy = &self.config.policy.sessions;
        Ok(self
            .store
            .sessions(session.account)
            .await?
            .into_iter()
            .filter(|s| {
                policy.alive(
                    s.assurance,
                    s.enrollment_only,
                    from_unix(s.created),
                    from_unix(s.last_seen),
                    now,
                )
            })
            .map(|s| SessionView {
                current: s.id == session.id,
                id: s.id,
                browser: s.client.browser,
                ip: s.client.ip,
                created: s.created,
                last_seen: s.last_seen,
                assurance: s.assurance,
            })
            .collect())
    }

    /// Ends one of the account's sessions (its own id signs out). Ending another needs a
    /// fresh second factor.
    ///
    /// # Errors
    /// [`LoginError::NotSignedIn`]; [`LoginError::StepUpRequired`] for another session
    /// without a fresh second factor (an enrollment-only session may end only itself).
    pub async fn end_session(
        &self,
        session: &Session,
        id: &SessionId,
        now: SystemTime,
    ) -> Result<bool, LoginError> {
        if *id != session.id {
            // Ending another browser is a security change: a stolen cookie must not throw
            // the owner out. A fresh second factor is needed.
            self.require_step_up(session, now)?;
            self.account_of(session).await?;
        }
        let ended = self.store.end_sessions(session.account, Some(id), None).await? > 0;
        if ended {
            self.audit(
                now,
                AuditEvent::SessionEnded { account: session.account, timed_out: false },
            );
        }
        Ok(ended)
    }

    /// Signs out: ends the asking session.
    ///
    /// # Errors
    /// [`LoginError::Store`].
    pub async fn sign_out(&self, session: &Session, now: SystemTime) -> Result<(), LoginError> {
        self.end_session(session, &session.id, now).await.map(|_| ())
    }

    /// Ends every other session and every known-device token of the account; the asking
    /// session goes on. Returns it as it now stands (new epoch).
    ///
    /// # Errors
    /// [`LoginError::NotSignedIn`], [`LoginError::StepUpRequired`] without a fresh second
    /// factor.
    pub async fn end_other_sessions(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        self.require_step_up(session, now)?;
        self.account_of(session).await?;
        self.revoke(session.account, Some(session), RevocationReason::UserRequest, now)
            .await?
            .ok_or(LoginError::NotSignedIn)
    }

    /// For operators: ends every session and known-device token of `account`.
    ///
    /// # Errors
    /// [`LoginError::NotSignedIn`] for an unknown account, [`LoginError::Store`].
    pub async fn end_all_sessions(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.revoke(account, None, RevocationReason::Administrator, now).await.map(|_| ())
    }

    pub(super) fn require_full(session: &Session) -> Result<(), LoginError> {
        if session.enrollment_only {
            return Err(LoginError::MethodUnavailable);
        }
        Ok(())
    }

    /// Sends a code to the account's address, for an enrollment-only session that must prove
    /// the mailbox before it enrolls (the account had a second factor). Returns the flow id.
    ///
    /// # Errors
    /// [`LoginError::MethodUnavailable`] when no proof is due, [`LoginError::Throttled`] when
    /// a code went out less than a minute ago, [`LoginError::NotSignedIn`].
    pub async fn begin_enrollment_proof(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        if session.proof != EnrollmentProof::Required {
            return Err(LoginError::MethodUnavailable);
        }
        let account = self.account_of(session).await?;
        // One mail a minute per account: the mailbox is not a lever for flooding it.
        let lock = flow_key("proofmail", &account.id.to_string());
        if self.store.put_flow_new(&lock, b"1", now + std::time::Duration::from_secs(60), now).await
            == Err(StoreError::Conflict)
        {
            return Err(LoginError::Throttled { retry_after: 60 });
        }
        let pending = self.mail_email_code(&account, now).await?;
        let flow = self.random_id();
        let state = ProofFlow { session: session.id.clone(), pending, attempts: 0 };
        self.store
            .put_flow(
                &flow_key("proof", &flow),
                &serde_json::to_vec(&state)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(flow)
    }

    /// Confirms the mailbox with the code sent by [`Auth::begin_enrollment_proof`]: the
    /// session may then enroll.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`] (the flow stays open until the code's attempts run
    /// out), [`LoginError::FlowExpired`], [`LoginError::Throttled`].
    pub async fn confirm_enrollment_proof(
        &self,
        session: &Session,
        flow: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        let key = flow_key("proof", flow);
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let mut state: ProofFlow =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        if state.session != session.id {
            return Err(LoginError::FlowExpired);
        }
        let (ip, device) = (&session.actor().ip, super::login::DeviceClass::Unknown);
        if let Err(e) = self.admit_mfa(session.account, ip, device, now).await {
            // Not checked: the flow stays as it was.
            let expires = now + self.config.enrollment_ttl;
            self.store.put_flow(&key, &serde_json::to_vec(&state)?, expires).await?;
            return Err(e);
        }
        let verified = self.services.email_codes.verify(
            &session.account.to_string(),
            &mut state.pending,
            code,
            now,
        );
        if verified.is_err() {
            state.attempts += 1;
            if state.attempts < MAX_PROOF_ATTEMPTS {
                let expires = now + self.config.enrollment_ttl;
                self.store.put_flow(&key, &serde_json::to_vec(&state)?, expires).await?;
            }
            return Err(LoginError::WrongSecondFactor);
        }
        self.proven(session, now).await
    }

    /// Proves possession with one of the account's recovery codes instead of the mailbox.
    /// The code is used up, the account is told, and every other session ends.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`], [`LoginError::MethodUnavailable`] when no proof is
    /// due or no codes remain, [`LoginError::Throttled`].
    pub async fn prove_with_recovery_code(
        &self,
        session: &Session,
        code: &str,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        if session.proof != EnrollmentProof::Required {
            return Err(LoginError::MethodUnavailable);
        }
        let account = self.account_of(session).await?;
        self.admit_mfa(account.id, &session.actor().ip, super::login::DeviceClass::Unknown, now)
            .await?;
        let factor = self
            .store
            .factors(account.id)
            .await?
            .into_iter()
            .find(|f| f.kind == FactorKind::RecoveryCodes)
            .ok_or(LoginError::MethodUnavailable)?;
        if !self.consume_recovery_code(&account, &factor, code, now).await? {
            return Err(LoginError::WrongSecondFactor);
        }
        // The owner proved themselves: factors suspended for failures work again.
        self.second_factor_succeeded(account.id, factor.id, &session.actor().ip, now).await?;
        let kept = self
            .revoke(account.id, Some(session), RevocationReason::RecoveryCodeUsed, now)
            .await?
            .ok_or(LoginError::NotSignedIn)?;
        self.proven(&kept, now).await
    }

    async fn proven(&self, session: &Session, now: SystemTime) -> Result<Session, LoginError> {
        self.audit(now, AuditEvent::EnrollmentProofGiven { account: session.account });
        self.modify_session(&session.id, |s| s.proof = EnrollmentProof::Proven).await
    }

    /// Consumes `code` from the recovery-code factor `factor` (compare-and-swap); on success
    /// records it and mails the account how many remain.
    pub(super) async fn consume_recovery_code(
        &self,
        account: &Account,
        factor: &crate::Factor,
        code: &str,
        now: SystemTime,
    ) -> Result<bool, LoginError> {
        let FactorData::RecoveryCodes { stored } = &factor.data else { return Ok(false) };
        let mut set = RecoveryCodeSet::from_stored(stored).map_err(|_| LoginError::Internal)?;
        // The code's slot character names the one hash to verify (through the pool).
        let index = match self.services.recovery.check(&set, code) {
            Ok(mfa_credentials::Check::Matched { index }) => index,
            Ok(mfa_credentials::Check::Verify { index, input, stored }) => {
                let verified = match self.services.passwords.verify(input, stored) {
                    Ok(pending) => pending.await,
                    Err(e) => Err(e),
                };
                match verified {
                    Ok(_) => index,
                    Err(mfa_credentials::Error::PasswordMismatch) => return Ok(false),
                    // A busy pool, or a key or pepper the server no longer has: not the
                    // user's wrong code (nothing is counted against the factor).
                    Err(e) => return Err(super::pool_error(e)),
                }
            }
            Err(
                mfa_credentials::Error::RecoveryCodeMalformed
                | mfa_credentials::Error::RecoveryCodeUsed
                | mfa_credentials::Error::RecoveryCodeInvalid,
            ) => return Ok(false),
            Ok(_) | Err(_) => return Err(LoginError::Internal),
        };
        let Ok(consumed) = set.mark_used(index) else {
            return Ok(false);
        };
        let mut updated = factor.clone();
        updated.data = FactorData::RecoveryCodes { stored: set.to_stored() };
        updated.version += 1;
        match self.store.update_factor(&updated).await {
            Ok(()) => {}
            Err(StoreError::Stale) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.audit(
            now,
            AuditEvent::RecoveryCodeUsed { account: account.id, remaining: consumed.remaining },
        );
        let notice = Notice::RecoveryCodeUsed {
            product: self.config.product.clone(),
            remaining: consumed.remaining,
            at: now,
        };
        self.tell(account, notice).await;
        Ok(true)
    }

    /// Records that `session` enrolled `factor`, turning an enrollment-only session into a
    /// signed-in one (without making it fresh: the new factor does not count for its
    /// step-up).
    pub(super) async fn enrolled_in(
        &self,
        session: &Session,
        factor: FactorId,
    ) -> Result<Session, LoginError> {
        self.modify_session(&session.id, |s| {
            s.enrollment_only = false;
            if !s.enrolled.contains(&factor) {
                s.enrolled.push(factor);
            }
        })
        .await
    }

    pub(super) fn check_enrollment_room(session: &Session) -> Result<(), LoginError> {
        if session.enrolled.len() >= MAX_ENROLLED_PER_SESSION {
            return Err(LoginError::Refused(
                "too many sign-in methods added in one session".into(),
            ));
        }
        Ok(())
    }

    /// The known-device record `client`'s token names for `account` under its current
    /// epoch, if any.
    pub(super) async fn known_device(
        &self,
        client: &super::ClientInfo,
        account: &Account,
        now: SystemTime,
    ) -> Option<KnownDevice> {
        let token = client.known_device.as_ref()?;
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let key = flow_key("kd", &TokenHash::of(token).to_base64url());
        match self.store.get_flow(&key, now).await {
            Ok(Some(v)) => serde_json::from_slice::<KnownDevice>(&v)
                .ok()
                .filter(|d| d.account == account.id && d.epoch == account.session_epoch),
            _ => None,
        }
    }

    /// Applies a factor change made for `session` under its epoch.
    pub(super) async fn change_factors_for(
        &self,
        session: &Session,
        change: FactorChange,
    ) -> Result<(), LoginError> {
        self.store.change_factors(session.account, session.epoch, &change).await.map_err(
            |e| match e {
                StoreError::Revoked => LoginError::NotSignedIn,
                StoreError::LastFactor => LoginError::LastFactor,
                e => e.into(),
            },
        )
    }
}
