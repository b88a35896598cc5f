//! Email change in both modes, confirmation and revert.
//!
//! A change is stored once, under its own id (`email-change:{id}`); each of its links points
//! to that id. Every step takes the change record atomically, so confirm and cancel of one
//! change cannot both succeed, even on two replicas. A step applies only while the account's
//! address is still the one the step starts from, and a revert only while its change is the
//! account's latest switch: a later change voids earlier links. While a switch can still be
//! reverted, no new change starts (so nobody can void the old address's link by changing
//! twice).

use super::links::{LINK_MEMORY, LinkProblem, token_shape};
use super::*;

/// A link of an email change, as stored under the hash of its token: which change.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChangePointer {
    change: String,
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Starts an email change: the current password and a fresh second factor are required
    /// (ASVS 7.5.1), in the ceremony's configured mode. The notices are sent; in the
    /// immediate mode the login address changes now and every other session ends.
    ///
    /// In the confirming mode (the default), an address that belongs to another account
    /// answers exactly as a free one: the current address gets its usual cancel link, and the
    /// other account's owner is told instead of being asked to confirm, so the form cannot
    /// test which addresses have accounts. In the immediate mode, which switches at once, a
    /// taken address is refused.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::InvalidCredentials`] for a wrong
    /// password, [`LoginError::Refused`] (invalid, same, or taken in the immediate mode).
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
        // While the last switch can still be turned back, no other change starts: a second
        // change would void the previous address's revert link (someone who took over the
        // account could change twice to keep its owner out).
        let latest = flow_key("email-latest", &account.id.to_string());
        if self.store.get_flow(&latest, now).await?.is_some() {
            return Err(LoginError::Refused(
                "the previous email change can still be turned back; change again once its revert link has expired"
                    .into(),
            ));
        }
        let owner = self
            .store
            .account_by_email(&self.config.canonicalizer.canonical(&new))
            .await?
            .filter(|a| a.id != account.id);
        let immediate =
            self.services.email_change.current_mode() == mfa_email_identity::ChangeMode::Immediate;
        let request = mfa_email_identity::ChangeRequest {
            account: &account.id.to_string(),
            current: &account.email,
            new: &new,
        };
        let taken = owner.is_some();
        let mut step = self
            .with_rng(|r| self.services.email_change.start(request, |_| taken && immediate, now, r))
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        if let Some(owner) = &owner {
            // The confirmation link never goes out (the store's unique address would refuse
            // it anyway); the owner of the address hears that someone tried.
            step.deliveries.retain(|d| !matches!(d.notice, Notice::ConfirmNewAddress { .. }));
            let notice = Notice::AddressInUse {
                product: self.config.product.clone(),
                login_link: self.config.login_url.clone(),
            };
            self.notify(owner, notice, "email-change", now).await;
        }
        self.audit_from(
            now,
            AuditEvent::EmailChangeStarted { account: account.id },
            session.actor(),
        );
        let id = self.random_id();
        let login_email =
            self.apply_email_step(&id, &account, &step, None, Some(session), now).await?;
        Ok(EmailChangeStarted {
            awaiting_confirmation: step.set_login_email.is_none(),
            login_email: login_email.unwrap_or(account.email),
        })
    }

    /// Applies a step of the email-change ceremony. A switch of the login address happens
    /// only if the account's address is still `from` (when given), and ends every session but
    /// `keep` in the same atomic write.
    pub(super) async fn apply_email_step(
        &self,
        change: &str,
        account: &Account,
        step: &mfa_email_identity::ChangeStep,
        from: Option<&EmailAddress>,
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
            let canonical = |e: &EmailAddress| self.config.canonicalizer.canonical(e);
            if from.is_some_and(|f| canonical(f) != a.canonical_email) {
                return Err(LoginError::Link(LinkProblem::Superseded));
            }
            let keep = match keep {
                Some(s) => Some(self.stored_copy(s).await?),
                None => None,
            };
            let keep = keep.as_ref();
            a.canonical_email = canonical(email);
            a.email = email.clone();
            Self::bump_epoch(&mut a);
            a.version += 1;
            // The store's unique index decides whether the address is still free; the
            // version's compare-and-swap, that nothing changed the address since it was read.
            self.store.update_account(&a).await.map_err(|e| match e {
                StoreError::Conflict => {
                    LoginError::Refused("the email address is already in use".into())
                }
                StoreError::Stale => LoginError::Link(LinkProblem::Superseded),
                e => e.into(),
            })?;
            self.after_revocation(&a, keep, RevocationReason::EmailChanged, now).await?;
            epoch = a.session_epoch;
            changed = Some(email.clone());
            if let mfa_email_identity::ChangeStatus::Switched { revertible_until } =
                step.state.status()
            {
                // This change is now the account's latest: earlier revert links are void.
                let latest = flow_key("email-latest", &account.id.to_string());
                self.store.put_flow(&latest, change.as_bytes(), revertible_until).await?;
            }
        }
        self.save_email_state(change, &step.state, epoch, now).await?;
        // The step is stored: a mail that cannot be sent does not undo it.
        for d in &step.deliveries {
            let _ = self.mailer.send(&d.to, &d.notice).await;
        }
        Ok(changed)
    }

    /// Stores the ceremony's state under its id, with the account's session epoch at that
    /// moment (a confirmation after a revocation is void), and a pointer to it under each of
    /// its live tokens. A finished change is remembered a while, so its links can answer
    /// "already used".
    async fn save_email_state(
        &self,
        change: &str,
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
        let keep_until = expires + LINK_MEMORY;
        self.store.put_flow(&flow_key("email-change", change), &bytes, keep_until).await?;
        let pointer = serde_json::to_vec(&ChangePointer { change: change.to_owned() })?;
        for h in state.token_hashes() {
            let key = flow_key("email", &h.to_base64url());
            self.store.put_flow(&key, &pointer, keep_until).await?;
        }
        Ok(())
    }

    /// Takes the change a link belongs to: at most one caller gets it at a time.
    async fn take_email_state(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<(String, EmailChangeState, u64), LoginError> {
        token_shape(token)?;
        let pointer = flow_key("email", &TokenHash::of(token).to_base64url());
        let bytes = self
            .store
            .get_flow(&pointer, now)
            .await?
            .ok_or(LoginError::Link(LinkProblem::Unknown))?;
        let ChangePointer { change } =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::Link(LinkProblem::Unknown))?;
        let bytes = self
            .store
            .take_flow(&flow_key("email-change", &change), now)
            .await?
            .ok_or(LoginError::Link(LinkProblem::Used))?;
        let EmailFlow { epoch, state } =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::Link(LinkProblem::Unknown))?;
        Ok((change, state, epoch))
    }

    /// Puts a change back as it was and answers `e`.
    async fn untouched<T>(
        &self,
        change: &str,
        state: &EmailChangeState,
        epoch: u64,
        now: SystemTime,
        e: LoginError,
    ) -> Result<T, LoginError> {
        self.save_email_state(change, state, epoch, now).await?;
        Err(e)
    }

    /// The account an email change belongs to.
    async fn account_of_change(&self, state: &EmailChangeState) -> Result<Account, LoginError> {
        let id = AccountId(Uuid::parse_str(state.account()).map_err(|_| LoginError::Internal)?);
        self.store.account(id).await?.ok_or(LoginError::FlowExpired)
    }

    /// The new address confirms (the link's token). It applies only while the account's
    /// address is still the one the change started from, and no session revocation happened
    /// since the change was asked for.
    ///
    /// # Errors
    /// [`LoginError::Link`] (unknown, used, expired or superseded link),
    /// [`LoginError::Refused`] (the address was taken meanwhile).
    pub async fn confirm_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (id, state, epoch) = self.take_email_state(token, now).await?;
        let step = self.with_rng(|r| self.services.email_change.confirm(&state, token, now, r));
        let step = match step {
            Ok(s) => s,
            Err(e) => return self.untouched(&id, &state, epoch, now, change_error(e)).await,
        };
        let account = self.account_of_change(&state).await?;
        if account.session_epoch != epoch {
            // Asked for by a session that has been revoked since: the change is void.
            let void = LoginError::Link(LinkProblem::Superseded);
            return self.untouched(&id, &state, epoch, now, void).await;
        }
        let applied =
            self.apply_email_step(&id, &account, &step, Some(state.old_address()), None, now).await;
        let email = match applied {
            Ok(e) => e.ok_or(LoginError::Internal)?,
            Err(e) => return self.untouched(&id, &state, epoch, now, e).await,
        };
        self.audit(now, AuditEvent::EmailChanged { account: account.id });
        Ok(email)
    }

    /// The old address reverts (or cancels) a change with its link's token. Whoever started
    /// the change may hold a session: every session and known device of the account ends.
    /// A revert applies only while the change is the account's latest switch and the account
    /// still logs in with its new address; the address that loses the login is told too.
    /// Whoever changed it may know the password: lead the user to reset it.
    ///
    /// # Errors
    /// [`LoginError::Link`] (unknown, used, expired or superseded link),
    /// [`LoginError::Refused`] (the old address was taken meanwhile).
    pub async fn revert_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (id, state, epoch) = self.take_email_state(token, now).await?;
        let step = match self.services.email_change.revert(&state, token, now) {
            Ok(s) => s,
            Err(e) => return self.untouched(&id, &state, epoch, now, change_error(e)).await,
        };
        let account = self.account_of_change(&state).await?;
        let account_id = account.id;
        if step.set_login_email.is_some() {
            let latest = flow_key("email-latest", &account_id.to_string());
            let is_latest =
                self.store.get_flow(&latest, now).await?.as_deref() == Some(id.as_bytes());
            if !is_latest {
                let void = LoginError::Link(LinkProblem::Superseded);
                return self.untouched(&id, &state, epoch, now, void).await;
            }
            let applied = self
                .apply_email_step(&id, &account, &step, Some(state.new_address()), None, now)
                .await;
            if let Err(e) = applied {
                return self.untouched(&id, &state, epoch, now, e).await;
            }
            let _ = self.store.take_flow(&latest, now).await;
            // The address that just lost the login hears of it (it may be the owner's, and
            // the revert link a stale one in someone else's hands).
            let notice = Notice::EmailChangeUndone {
                product: self.config.product.clone(),
                restored_hint: state.old_address().masked(),
                at: now,
            };
            let _ = self.mailer.send(state.new_address(), &notice).await;
        } else {
            self.apply_email_step(&id, &account, &step, None, None, now).await?;
            // A cancelled change switched nothing: end the sessions all the same.
            self.revoke(account_id, None, RevocationReason::EmailChanged, now).await?;
        }
        self.audit(now, AuditEvent::EmailChangeReverted { account: account_id });
        Ok(state.old_address().clone())
    }
}

/// A ceremony refusal of a link as the flows answer it.
fn change_error(e: mfa_email_identity::ChangeError) -> LoginError {
    use mfa_email_identity::ChangeError as E;
    match e {
        E::AlreadyUsed => LoginError::Link(LinkProblem::Used),
        E::Expired => LoginError::Link(LinkProblem::Expired),
        E::InvalidToken => LoginError::Link(LinkProblem::Unknown),
        e => LoginError::Refused(e.to_string()),
    }
}
