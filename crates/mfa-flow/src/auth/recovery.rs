//! Account recovery: "forgot password" and the operator's support path.
//!
//! A reset starts with a link to the account's (verified) address; the answer is the same
//! whether or not the address has an account. The mailbox alone never resets an account
//! that has a second factor: after the link, one of its usable factors (or a recovery code)
//! is asked for exactly as at sign-in, with the same throttles. Only an account without any
//! factor record (never enrolled, or reset by support) is reset by the mailbox alone; one
//! whose factors are all unusable (a retired SMS number, suspensions) needs the operator.
//! A reset ends every session and known-device token and mails the owner.

use core::fmt;

use super::links::{LinkProblem, link_key, token_shape};
use super::login::DeviceClass;
use super::*;

/// How long the page has to set the new password after the second factor.
const GRANT_TTL: Duration = Duration::from_secs(15 * 60);

/// Wrong answers a reset allows before it ends (its failures do not count against the
/// factors' caps: the mailbox alone opens a reset).
pub(super) const RESET_ATTEMPTS: u8 = 5;

/// Whether a factor proves more than the reset's mailbox already did: codes by email go to
/// that very mailbox, so they never stand in for the second factor of a reset.
pub(super) const fn proves_more_than_the_mailbox(kind: FactorKind) -> bool {
    !matches!(kind, FactorKind::EmailCode)
}

/// A "forgot password" link as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResetLink {
    /// The account (the nil id for an address without one: nobody gets that link).
    account: AccountId,
    epoch: u64,
}

/// What a reset has proven, waiting for the new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grant {
    account: AccountId,
    epoch: u64,
    /// Until when (Unix seconds): a refused password puts the grant back, never longer.
    expires: u64,
}

/// Permission to set a new password: the mailbox and, where the account has one, a second
/// factor were proven. Single use, short-lived; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ResetGrant(String);

impl ResetGrant {
    /// The grant, for the page to send back with the new password.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetGrant([REDACTED])")
    }
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// "Forgot password": mails a reset link to the account with this address, if there is
    /// one, and answers the same either way. Counted per client address and per target
    /// mailbox ([`crate::Policy::throttle_signup`]) before anything is looked up.
    ///
    /// # Errors
    /// [`LoginError::Refused`] for text that is no email address; [`LoginError::Throttled`].
    pub async fn begin_password_reset(
        &self,
        email: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let email = EmailAddress::parse(email).map_err(|e| LoginError::Refused(e.to_string()))?;
        let canonical = self.config.canonicalizer.canonical(&email);
        let policy = self.config.policy.throttle_signup;
        let ip = flow_key("reset-ip", &crate::client_throttle_key(&client.ip));
        let mailbox = self.mailbox_key("reset-mbox", &canonical);
        self.admit(&ip, policy, now).await?;
        if let Err(e) = self.admit(&mailbox, policy, now).await {
            self.refund(&[&ip], now).await?;
            return Err(e);
        }
        let account = self.store.account_by_email(&canonical).await?;
        let token = self.random_id();
        let expires = now + self.config.password_reset_ttl;
        let record = match &account {
            Some(a) => ResetLink { account: a.id, epoch: a.session_epoch },
            None => ResetLink { account: AccountId(Uuid::nil()), epoch: u64::MAX },
        };
        // The same store write either way, so the time of the answer says nothing.
        self.put_link(&link_key("reset-link", &token), &record, expires).await?;
        let Some(account) = account else { return Ok(()) };
        self.audit_from(
            now,
            AuditEvent::PasswordResetRequested { account: account.id },
            &SessionClient::of(client),
        );
        let notice = Notice::PasswordResetLink {
            product: self.config.product.clone(),
            link: format!("{}#token={token}", self.config.password_reset_url),
            expires,
        };
        let _ = self.mailer.send(&account.email, &notice).await;
        Ok(())
    }

    /// Opens a "forgot password" link (once). For an account with factors, the answer is the
    /// second-factor challenge of a sign-in (finish it with [`Auth::submit_code`],
    /// [`Auth::submit_webauthn`], [`Auth::poll_push`], [`Auth::select_method`]): its
    /// success is [`LoginStep::ResetPassword`], never a session. An account without any
    /// factor gets [`LoginStep::ResetPassword`] at once.
    ///
    /// # Errors
    /// [`LoginError::Link`] (unknown, used, expired, or superseded by a revocation since),
    /// [`LoginError::RecoveryNeedsSupport`] when the account has factors and none can be
    /// used.
    pub async fn redeem_password_reset(
        &self,
        token: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        token_shape(token)?;
        let link: ResetLink = self.use_link(&link_key("reset-link", token), now).await?;
        let account = self
            .store
            .account(link.account)
            .await?
            .ok_or(LoginError::Link(LinkProblem::Unknown))?;
        if account.session_epoch != link.epoch {
            return Err(LoginError::Link(LinkProblem::Superseded));
        }
        if account.email_unverified {
            // An imported address nobody had confirmed: the mailbox, now proven, takes the
            // account; the imported password and factors were never shown to be its owner's.
            let grant = self.claim_by_mailbox(&account, now).await?;
            return Ok(LoginStep::ResetPassword(grant));
        }
        let factors = self.store.factors(account.id).await?;
        if factors.is_empty() {
            return self.grant_reset(&account, now).await;
        }
        let mut plan = plan_second_factor(&*self.rules, &account, factors, now);
        plan.usable.retain(|f| proves_more_than_the_mailbox(f.kind));
        if plan.usable.is_empty() {
            return Err(LoginError::RecoveryNeedsSupport);
        }
        let device = self.device_class(client, &account, now).await;
        let flow = LoginFlow {
            v: 1,
            account: account.id,
            password_at: 0,
            expires: unix(now) + self.config.login_ttl.as_secs(),
            username_used: false,
            warnings: Vec::new(),
            active: Active::None,
            step_up: None,
            client: SessionClient::of(client),
            known: device == DeviceClass::Known,
            // The mailbox vouched for this browser.
            mailed: true,
            epoch: account.session_epoch,
            view: None,
            reset: true,
            failures: 0,
            username_refused_from: None,
        };
        self.start_first_method(&account, flow, &plan.usable, plan.unavailable, client, now).await
    }

    /// The reset's second factor passed (or the account has none): a short-lived grant to
    /// set the new password.
    pub(super) async fn grant_reset(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        // The account as stored now (a recovery code has just moved its epoch on).
        let current = self.store.account(account.id).await?.ok_or(LoginError::FlowExpired)?;
        let grant = self.random_id();
        let expires = unix(now + GRANT_TTL);
        let record = Grant { account: current.id, epoch: current.session_epoch, expires };
        let key = flow_key("reset-grant", &TokenHash::of(&grant).to_base64url());
        self.store.put_flow(&key, &serde_json::to_vec(&record)?, now + GRANT_TTL).await?;
        Ok(LoginStep::ResetPassword(ResetGrant(grant)))
    }

    /// Sets the new password of a reset (under the password policy), ends every session and
    /// known-device token, and mails the owner. Sign in afterwards with the new password.
    ///
    /// # Errors
    /// [`LoginError::Refused`] for a password the policy refuses (the grant stays usable),
    /// [`LoginError::FlowExpired`] for an unknown, used or expired grant, or one a
    /// revocation has voided since.
    pub async fn complete_password_reset(
        &self,
        grant: &str,
        new_password: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        if grant.is_empty() || grant.len() > 128 {
            return Err(LoginError::FlowExpired);
        }
        let key = flow_key("reset-grant", &TokenHash::of(grant).to_base64url());
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let record: Grant = serde_json::from_slice(&bytes)?;
        if unix(now) >= record.expires {
            return Err(LoginError::FlowExpired);
        }
        let mut account =
            self.store.account(record.account).await?.ok_or(LoginError::FlowExpired)?;
        if account.session_epoch != record.epoch {
            return Err(LoginError::FlowExpired);
        }
        let username = account.username.as_ref().map(|u| u.as_typed().to_owned());
        let hash = match self
            .new_password_hash(new_password, account.email.as_typed(), username.as_deref())
            .await
        {
            Ok(h) => h,
            Err(e) => {
                // A refused password (or a busy pool): the grant stays for another try, until
                // its own expiry.
                self.store.put_flow(&key, &bytes, from_unix(record.expires)).await?;
                return Err(e);
            }
        };
        account.password_hash = hash;
        Self::bump_epoch(&mut account);
        account.version += 1;
        self.store.update_account(&account).await.map_err(|e| match e {
            StoreError::Stale => LoginError::FlowExpired,
            e => e.into(),
        })?;
        self.after_revocation(&account, None, RevocationReason::PasswordReset, now).await?;
        let event = AuditEvent::PasswordReset { account: account.id };
        self.audit_from(now, event, &SessionClient::of(client));
        let notice = Notice::PasswordReset { product: self.config.product.clone(), at: now };
        let _ = self.mailer.send(&account.email, &notice).await;
        Ok(())
    }

    /// The support path for someone who lost everything (password, every factor, every
    /// recovery code), for the operator to run after verifying the person by their own
    /// means: removes every factor (retired ones and recovery codes included), ends every
    /// session and known-device token, mails the account, and records it. The account then
    /// resets its password by mail alone (it has no factor left) and, at its next sign-in,
    /// must prove its mailbox again before it enrolls a new factor (it had one). Returns how
    /// many factors were removed.
    ///
    /// # Errors
    /// [`LoginError::Refused`] for an unknown account.
    pub async fn reset_factors_by_support(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<usize, LoginError> {
        let mut a = self
            .store
            .account(account)
            .await?
            .ok_or_else(|| LoginError::Refused("no such account".into()))?;
        let factors = self.store.factors(account).await?;
        // First the epoch (every session ends, so none can add a factor meanwhile), then the
        // factors; the account keeps the mark that it had one.
        a.had_second_factor = a.had_second_factor || !factors.is_empty();
        Self::bump_epoch(&mut a);
        a.version += 1;
        self.store.update_account(&a).await?;
        self.after_revocation(&a, None, RevocationReason::Administrator, now).await?;
        let mut removed = 0;
        for f in self.store.factors(account).await? {
            if self.store.remove_factor(account, f.id).await? {
                removed += 1;
            }
        }
        self.audit(now, AuditEvent::FactorsResetBySupport { account, removed });
        let notice =
            Notice::FactorsResetBySupport { product: self.config.product.clone(), at: now };
        let _ = self.mailer.send(&a.email, &notice).await;
        Ok(removed)
    }

    /// Puts the account in `group` with `role` (either `None`: none), for the operator: the
    /// rules may decide differently for it from now on, so every session and known-device
    /// token of the account ends (each session's decisions come from the facts it was made
    /// under) and the change is recorded. Setting what is already set changes nothing.
    ///
    /// # Errors
    /// [`LoginError::Refused`] for an unknown account; [`LoginError::Store`].
    pub async fn set_labels(
        &self,
        account: AccountId,
        group: Option<crate::Label>,
        role: Option<crate::Label>,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let mut a = self
            .store
            .account(account)
            .await?
            .ok_or_else(|| LoginError::Refused("no such account".into()))?;
        if a.group == group && a.role == role {
            return Ok(());
        }
        a.group.clone_from(&group);
        a.role.clone_from(&role);
        Self::bump_epoch(&mut a);
        a.version += 1;
        self.store.update_account(&a).await?;
        self.after_revocation(&a, None, RevocationReason::Administrator, now).await?;
        self.audit(now, AuditEvent::LabelsChanged { account, group, role });
        Ok(())
    }
}
