//! Email change in both modes, confirmation and revert.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Starts an email change: the current password and a fresh second factor are required
    /// (ASVS 7.5.1), in the ceremony's configured mode. The notices are sent; in the
    /// immediate mode the login address changes now and every other session ends.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::InvalidCredentials`] for a wrong
    /// password, [`LoginError::Refused`] (invalid, same or taken).
    pub async fn change_email(
        &self,
        session: &Session,
        current_password: &str,
        new_email: &str,
        now: SystemTime,
    ) -> Result<EmailChangeStarted, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        self.verify_current_password(&account, current_password, now).await?;
        let new = EmailAddress::parse(new_email).map_err(|e| LoginError::Refused(e.to_string()))?;
        self.check_lookalike(&new)?;
        let taken = self
            .store
            .account_by_email(&self.config.canonicalizer.canonical(&new))
            .await?
            .is_some_and(|a| a.id != account.id);
        let request = mfa_email_identity::ChangeRequest {
            account: &account.id.to_string(),
            current: &account.email,
            new: &new,
        };
        let step = self
            .with_rng(|r| self.services.email_change.start(request, |_| taken, now, r))
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        self.audit_from(
            now,
            AuditEvent::EmailChangeStarted { account: account.id },
            session.actor(),
        );
        let login_email = self.apply_email_step(&account, &step, Some(session), now).await?;
        Ok(EmailChangeStarted {
            awaiting_confirmation: step.set_login_email.is_none(),
            login_email: login_email.unwrap_or(account.email),
        })
    }

    /// Applies a step of the email-change ceremony. A switch of the login address ends
    /// every session but `keep` in the same atomic write.
    pub(super) async fn apply_email_step(
        &self,
        account: &Account,
        step: &mfa_email_identity::ChangeStep,
        keep: Option<&Session>,
        now: SystemTime,
    ) -> Result<Option<EmailAddress>, LoginError> {
        let mut changed = None;
        let mut epoch = account.session_epoch;
        if let Some(email) = &step.set_login_email {
            let mut a = self.store.account(account.id).await?.ok_or(LoginError::FlowExpired)?;
            if keep.is_some_and(|s| s.epoch != a.session_epoch) {
                return Err(LoginError::NotSignedIn);
            }
            let keep = match keep {
                Some(s) => Some(self.stored_copy(s).await?),
                None => None,
            };
            let keep = keep.as_ref();
            a.canonical_email = self.config.canonicalizer.canonical(email);
            a.email = email.clone();
            Self::bump_epoch(&mut a);
            a.version += 1;
            // The store's unique index decides whether the address is still free.
            self.store.update_account(&a).await.map_err(|e| match e {
                StoreError::Conflict => {
                    LoginError::Refused("the email address is already in use".into())
                }
                e => e.into(),
            })?;
            self.after_revocation(&a, keep, RevocationReason::EmailChanged, now).await?;
            epoch = a.session_epoch;
            changed = Some(email.clone());
        }
        self.save_email_state(&step.state, epoch, now).await?;
        for d in &step.deliveries {
            self.mailer.send(&d.to, &d.notice).await.map_err(|_| LoginError::Internal)?;
        }
        Ok(changed)
    }

    /// Stores the ceremony's state under each of its tokens, with the account's session
    /// epoch at that moment: a confirmation after a revocation (the owner changed the
    /// password, reverted, signed everyone out) is void.
    pub(super) async fn save_email_state(
        &self,
        state: &EmailChangeState,
        epoch: u64,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let bytes = serde_json::to_vec(&EmailFlow { epoch, state: state.clone() })?;
        let expires = match state.status() {
            mfa_email_identity::ChangeStatus::AwaitingConfirmation { expires } => expires,
            mfa_email_identity::ChangeStatus::Switched { revertible_until } => revertible_until,
            _ => now,
        };
        for h in state.token_hashes() {
            self.store.put_flow(&flow_key("email", &h.to_base64url()), &bytes, expires).await?;
        }
        Ok(())
    }

    pub(super) async fn take_email_state(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<(EmailChangeState, u64), LoginError> {
        let key = flow_key("email", &TokenHash::of(token).to_base64url());
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let EmailFlow { epoch, state } =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        // The state is indexed by each of its tokens: retire the others too.
        for h in state.token_hashes() {
            let _ = self.store.take_flow(&flow_key("email", &h.to_base64url()), now).await;
        }
        Ok((state, epoch))
    }

    /// The account an email change belongs to.
    async fn account_of_change(&self, state: &EmailChangeState) -> Result<Account, LoginError> {
        let id = AccountId(Uuid::parse_str(state.account()).map_err(|_| LoginError::Internal)?);
        self.store.account(id).await?.ok_or(LoginError::FlowExpired)
    }

    /// The new address confirms (the link's token).
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`] (unknown, used or expired link), [`LoginError::Refused`].
    pub async fn confirm_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (state, epoch) = self.take_email_state(token, now).await?;
        let step = self.with_rng(|r| self.services.email_change.confirm(&state, token, now, r));
        let step = match step {
            Ok(s) => s,
            Err(e) => {
                self.save_email_state(&state, epoch, now).await?;
                return Err(LoginError::Refused(e.to_string()));
            }
        };
        let account = self.account_of_change(&state).await?;
        let account_id = account.id;
        if account.session_epoch != epoch {
            // Asked for by a session that has been revoked since: the change is void (and
            // stays taken).
            return Err(LoginError::FlowExpired);
        }
        let email =
            self.apply_email_step(&account, &step, None, now).await?.ok_or(LoginError::Internal)?;
        self.audit(now, AuditEvent::EmailChanged { account: account_id });
        Ok(email)
    }

    /// The old address reverts (or cancels) a change with its link's token. Whoever started
    /// the change may hold a session: every session and known device of the account ends.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`], [`LoginError::Refused`].
    pub async fn revert_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (state, epoch) = self.take_email_state(token, now).await?;
        let step = match self.services.email_change.revert(&state, token, now) {
            Ok(s) => s,
            Err(e) => {
                self.save_email_state(&state, epoch, now).await?;
                return Err(LoginError::Refused(e.to_string()));
            }
        };
        let account = self.account_of_change(&state).await?;
        let account_id = account.id;
        if self.apply_email_step(&account, &step, None, now).await?.is_none() {
            // A cancelled change switched nothing: end the sessions all the same.
            self.revoke(account_id, None, RevocationReason::EmailChanged, now).await?;
        }
        self.audit(now, AuditEvent::EmailChangeReverted { account: account_id });
        Ok(state.old_address().clone())
    }
}
