//! Accounts brought in from another system: addresses their source had not verified, and
//! legacy usernames retired by their owners ("use my email address as the user name").

use super::links::{LinkProblem, link_key, token_shape};
use super::*;

/// How long an address-confirmation link works.
const ADDRESS_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// An address-confirmation link as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AddressLink {
    account: AccountId,
    epoch: u64,
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Writes an account brought in from another system with its factors, all or nothing,
    /// and records it (`mfa-import` builds and validates them).
    ///
    /// # Errors
    /// [`LoginError::Store`] (`Conflict` when the address, username or a factor is taken).
    pub async fn import_account(
        &self,
        account: &Account,
        factors: &[Factor],
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.store
            .create_account_with_factors(account, factors)
            .await
            .map_err(LoginError::Store)?;
        self.audit(now, AuditEvent::AccountImported { account: account.id });
        Ok(())
    }

    /// Mails the account a link that confirms its address (at most a few a while: counted on
    /// the account's mail key).
    pub(super) async fn send_address_confirmation(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let key = flow_key("mail-code", &account.id.to_string());
        self.admit(&key, self.config.policy.throttle_signup, now).await?;
        let token = self.random_id();
        let expires = now + ADDRESS_LINK_TTL;
        let record = AddressLink { account: account.id, epoch: account.session_epoch };
        self.put_link(&link_key("address-link", &token), &record, expires).await?;
        let notice = Notice::ConfirmAddress {
            product: self.config.product.clone(),
            link: format!("{}#token={token}", self.config.address_confirm_url),
            expires,
        };
        let _ = self.mailer.send(&account.email, &notice).await;
        Ok(())
    }

    /// Confirms an imported account's address with its mailed link (once) — and with it, hands
    /// the account to the mailbox: whoever set the imported password and factors may not be
    /// the address's owner (anyone could sign up elsewhere with an address they do not hold),
    /// so both are dropped, every session ends, and the answer is a grant to choose a password
    /// ([`Auth::complete_password_reset`]); a factor is set up at the next sign-in.
    ///
    /// # Errors
    /// [`LoginError::Link`] for an unknown, used, expired or superseded link.
    pub async fn confirm_address(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<ResetGrant, LoginError> {
        token_shape(token)?;
        let link: AddressLink = self.use_link(&link_key("address-link", token), now).await?;
        let account = self
            .store
            .account(link.account)
            .await?
            .ok_or(LoginError::Link(LinkProblem::Unknown))?;
        if account.session_epoch != link.epoch {
            return Err(LoginError::Link(LinkProblem::Superseded));
        }
        if !account.email_unverified {
            return Err(LoginError::Link(LinkProblem::Used));
        }
        self.claim_by_mailbox(&account, now).await
    }

    /// The mailbox takes an unverified imported account: its imported password and factors
    /// are dropped, its sessions end, and the mailbox holder gets a grant to set a password.
    pub(super) async fn claim_by_mailbox(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<ResetGrant, LoginError> {
        let mut a = account.clone();
        a.email_unverified = false;
        a.password_hash = String::new();
        a.had_second_factor = false;
        a.last_factor = None;
        Self::bump_epoch(&mut a);
        a.version += 1;
        self.store.update_account(&a).await.map_err(|e| match e {
            StoreError::Stale => LoginError::Link(LinkProblem::Superseded),
            e => e.into(),
        })?;
        self.after_revocation(&a, None, RevocationReason::Administrator, now).await?;
        for f in self.store.factors(a.id).await? {
            self.store.remove_factor(a.id, f.id).await?;
        }
        self.audit(now, AuditEvent::AddressConfirmed { account: a.id });
        match self.grant_reset(&a, now).await? {
            LoginStep::ResetPassword(grant) => Ok(grant),
            _ => Err(LoginError::Internal),
        }
    }

    /// "Use my email address as the user name": removes the account's legacy username, after a
    /// fresh second factor. Sign-in by that username stops at once; the owner is mailed.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::Refused`] when the account has no
    /// username.
    pub async fn remove_username(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.require_step_up(session, now)?;
        for _ in 0..8 {
            let mut a = self.account_of(session).await?;
            let Some(old) = a.username.take() else {
                return Err(LoginError::Refused("the account has no username".into()));
            };
            a.version += 1;
            match self.store.update_account(&a).await {
                Ok(()) => {
                    self.audit_from(
                        now,
                        AuditEvent::UsernameRemoved { account: a.id },
                        session.actor(),
                    );
                    let notice = Notice::UsernameRemoved {
                        product: self.config.product.clone(),
                        username: old.as_typed().to_owned(),
                        at: now,
                    };
                    self.notify(&a, notice, "username", now).await;
                    return Ok(());
                }
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(LoginError::Store(StoreError::Unavailable("account too contended".into())))
    }
}
