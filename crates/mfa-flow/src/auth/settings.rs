//! Settings: the methods list, rename, re-enable, remove, recovery codes, password and profile.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// The rules that apply to `account` at `now`, with their dates: what its pages show
    /// (the username refusal date, the kinds it may add and when one is retired for it).
    #[must_use]
    pub fn rules_for(&self, account: &Account, now: SystemTime) -> RulesView {
        let facts = AccountFacts::of(account);
        let usernames = self.rules.phases(&facts);
        // What can be added, and SMS (retired, shown struck out).
        let kinds = ENROLLABLE
            .into_iter()
            .chain([FactorKind::Sms])
            .map(|kind| {
                let retired = self.rules.retired(&facts, kind, now).map(|r| r.reason);
                KindRule {
                    kind,
                    available: retired.is_none(),
                    retired,
                    retires: self.rules.scheduled(&facts, kind).map(|r| unix(r.from)),
                }
            })
            .collect();
        RulesView {
            username_warn_from: usernames.warn_from.map(unix),
            username_refused_from: usernames.refuse_from.map(unix),
            enrollment_deadline: self.rules.deadline(&facts).map(unix),
            step_up_max_age: self.rules.max_age(&facts).as_secs(),
            kinds,
        }
    }

    /// The MFA methods list: every factor with its status, retired ones (SMS) included.
    ///
    /// # Errors
    /// [`LoginError::Store`].
    pub async fn factor_list(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<FactorStatus>, LoginError> {
        let facts = match self.store.account(account).await? {
            Some(a) => AccountFacts::of(&a),
            None => return Ok(Vec::new()),
        };
        let mut out: Vec<FactorStatus> = self
            .store
            .factors(account)
            .await?
            .into_iter()
            .map(|f| FactorStatus {
                retired: self.rules.retired(&facts, f.kind, now).map(|r| r.reason),
                retires: self.rules.scheduled(&facts, f.kind).map(|r| unix(r.from)),
                suspended: f.suspended,
                created: f.created,
                last_used: f.last_used,
                weak: self.weakness(&f),
                method: MethodView { factor: f.id, kind: f.kind, name: f.name },
            })
            .collect();
        out.sort_by_key(|s| (s.method.kind.rank(), s.created));
        Ok(out)
    }

    /// Why a factor is weaker than the others, if it is.
    pub(super) fn weakness(&self, f: &Factor) -> Option<Weakness> {
        match &f.data {
            FactorData::EmailCode => Some(Weakness::BelowAal2),
            FactorData::Totp { sealed_secret, .. } => {
                let secret = self
                    .services
                    .sealer
                    .open(sealed_secret, f.account.0.as_bytes(), "totp")
                    .ok()?;
                (secret.expose_secret().len() < mfa_totp::STRONG_SECRET_BYTES)
                    .then_some(Weakness::ShortSecret)
            }
            _ => None,
        }
    }

    /// Renames a factor (step-up required).
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::Refused`] for an empty or duplicate name.
    pub async fn rename_factor(
        &self,
        session: &Session,
        factor: FactorId,
        name: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.require_step_up(session, now)?;
        self.account_of(session).await?;
        let factors = self.store.factors(session.account).await?;
        let name = factor_name(name)?;
        let name = name.as_str();
        if factors.iter().any(|f| f.id != factor && f.name.to_lowercase() == name.to_lowercase()) {
            return Err(LoginError::Refused("name taken".into()));
        }
        let mut f =
            factors.into_iter().find(|f| f.id == factor).ok_or(LoginError::MethodUnavailable)?;
        f.name = name.to_owned();
        f.version += 1;
        self.change_factors_for(session, FactorChange::Update(f)).await?;
        self.audit(now, AuditEvent::FactorRenamed { account: session.account });
        Ok(())
    }

    /// Re-enables a suspended factor (a security key suspended as a possible clone), for a
    /// session freshly stepped up with another factor. Registering the key again is the
    /// other way back.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`] for a factor that is
    /// not suspended or not the account's.
    pub async fn reinstate_factor(
        &self,
        session: &Session,
        factor: FactorId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let mut f = self
            .store
            .factors(session.account)
            .await?
            .into_iter()
            .find(|f| f.id == factor)
            .ok_or(LoginError::MethodUnavailable)?;
        let Some(suspension) = f.suspended else { return Err(LoginError::MethodUnavailable) };
        // The proof must come from another factor, verified after the suspension: a session
        // made fresh by the key itself (a clone's) cannot bring it back.
        if session.second_factor == Some(factor)
            || session.second_factor_at.is_none_or(|t| t < suspension.since)
        {
            return Err(LoginError::StepUpRequired);
        }
        f.suspended = None;
        f.version += 1;
        let (kind, name) = (f.kind, f.name.clone());
        self.change_factors_for(session, FactorChange::Update(f)).await?;
        // Its consecutive failures start again (else the next wrong code suspends it anew).
        self.store
            .update_throttle(&flow_key("mfa-cap", &factor.to_string()), |_| {
                ThrottleState::default()
            })
            .await?;
        self.audit_from(
            now,
            AuditEvent::FactorReinstated { account: session.account, kind },
            session.actor(),
        );
        let notice = Notice::FactorReinstated {
            product: self.config.product.clone(),
            kind: notify::label(kind),
            name,
            at: now,
        };
        self.tell(&account, notice).await;
        Ok(())
    }

    /// Removes a factor (step-up required); never the last usable second factor, even
    /// against a concurrent removal (the store checks it atomically). The account is told,
    /// and every other session and known device ends; the asking session goes on, and is
    /// returned as it now stands.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::LastFactor`].
    pub async fn remove_factor(
        &self,
        session: &Session,
        factor: FactorId,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let (usable, _) = self.usable(&account, now).await?;
        let factors = self.store.factors(account.id).await?;
        let target =
            factors.iter().find(|f| f.id == factor).ok_or(LoginError::MethodUnavailable)?;
        let counts =
            usable.iter().any(|f| f.id == factor) && target.kind != FactorKind::RecoveryCodes;
        let keep_one_of = counts.then(|| {
            usable
                .iter()
                .filter(|f| f.id != factor && f.kind != FactorKind::RecoveryCodes)
                .map(|f| f.id)
                .collect::<Vec<_>>()
        });
        if keep_one_of.as_ref().is_some_and(Vec::is_empty) {
            return Err(LoginError::LastFactor);
        }
        self.change_factors_for(session, FactorChange::Remove { factor, keep_one_of }).await?;
        let event = AuditEvent::FactorRemoved { account: account.id, kind: target.kind };
        self.audit_from(now, event, session.actor());
        let notice = Notice::FactorRemoved {
            product: self.config.product.clone(),
            kind: notify::label(target.kind),
            name: target.name.clone(),
            at: now,
        };
        self.notify(&account, notice, &factor.to_string(), now).await;
        self.revoke(account.id, Some(session), RevocationReason::FactorRemoved, now)
            .await?
            .ok_or(LoginError::NotSignedIn)
    }

    /// Replaces the recovery codes (step-up required); returns the new codes to show once.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`].
    pub async fn regenerate_recovery_codes(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let old = self
            .store
            .factors(session.account)
            .await?
            .into_iter()
            .find(|f| f.kind == FactorKind::RecoveryCodes);
        let codes = self.issue_recovery_codes(session, old.as_ref(), now).await?;
        let notice =
            Notice::RecoveryCodesRegenerated { product: self.config.product.clone(), at: now };
        self.tell(&account, notice).await;
        Ok(codes)
    }

    /// Checks the current password of a signed-in user (re-authentication for a sensitive
    /// change), throttled like a login.
    pub(super) async fn verify_current_password(
        &self,
        account: &Account,
        password: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let key = flow_key("pw-acct", &account.id.to_string());
        self.admit(&key, self.config.policy.throttle, now).await?;
        let pw = Password::new(password).map_err(|_| LoginError::InvalidCredentials);
        let verified = match pw {
            Ok(pw) => match self
                .services
                .passwords
                .verify(pw, account.password_hash.clone())
                .map_err(pool_error)?
                .await
            {
                Ok(_) => true,
                Err(mfa_credentials::Error::Busy) => {
                    return Err(pool_error(mfa_credentials::Error::Busy));
                }
                Err(_) => false,
            },
            Err(_) => false,
        };
        if !verified {
            self.audit(
                now,
                AuditEvent::LoginFailed {
                    account: Some(account.id),
                    reason: FailureReason::WrongPassword,
                },
            );
            return Err(LoginError::InvalidCredentials);
        }
        self.store.update_throttle(&key, |_| ThrottleState::default()).await?;
        Ok(())
    }

    /// Changes the password: the current password and a fresh second factor are required
    /// (ASVS 6.2.3), the new one must pass the password policy. Every other session and
    /// known device ends in the same atomic write; the account is told. Returns the asking
    /// session as it now stands.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::InvalidCredentials`] for a wrong
    /// current password, [`LoginError::Refused`] for a new one the policy refuses.
    pub async fn change_password(
        &self,
        session: &Session,
        current_password: &str,
        new_password: &str,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        self.require_step_up(session, now)?;
        let mut account = self.account_of(session).await?;
        self.verify_current_password(&account, current_password, now).await?;
        let username = account.username.as_ref().map(|u| u.normalized().to_owned());
        account.password_hash = self
            .new_password_hash(new_password, account.email.as_typed(), username.as_deref())
            .await?;
        let session = &self.stored_copy(session).await?;
        Self::bump_epoch(&mut account);
        account.version += 1;
        self.store.update_account(&account).await?;
        self.audit_from(now, AuditEvent::PasswordChanged { account: account.id }, session.actor());
        let notice = Notice::PasswordChanged { product: self.config.product.clone(), at: now };
        self.tell(&account, notice).await;
        self.after_revocation(&account, Some(session), RevocationReason::PasswordChanged, now)
            .await?
            .ok_or(LoginError::NotSignedIn)
    }

    /// Updates the profile fields of the settings dialog (no step-up: nothing here guards
    /// the account; an enrollment-only session may not).
    ///
    /// # Errors
    /// [`LoginError::MethodUnavailable`] while enrollment-only, [`LoginError::NotSignedIn`].
    pub async fn update_profile(
        &self,
        session: &Session,
        profile: crate::ProfileFields,
    ) -> Result<(), LoginError> {
        Self::require_full(session)?;
        let mut account = self.account_of(session).await?;
        account.profile = profile;
        account.version += 1;
        Ok(self.store.update_account(&account).await?)
    }
}
