//! Login, second step: codes, WebAuthn assertions (and cloned keys), push approvals; finishing a login into a session.

use super::login::DeviceClass;
use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Takes the login flow for a second-factor attempt, unless the account's second-factor
    /// throttle holds (the flow then goes back unchanged).
    async fn take_login_unthrottled(
        &self,
        flow_id: &str,
        now: SystemTime,
    ) -> Result<(LoginFlow, Account), LoginError> {
        let (flow, account) = self.take_login(flow_id, now).await?;
        let device = DeviceClass::of_flow(&flow);
        if let Err(e) = self.admit_mfa(account.id, &flow.client.ip, device, now).await {
            self.put_login(flow_id, &flow).await?;
            return Err(e);
        }
        Ok((flow, account))
    }

    /// Submits a typed code for the active method (authenticator app, email code or
    /// recovery code).
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`] (the flow stays open), [`LoginError::FlowExpired`],
    /// [`LoginError::Throttled`], [`LoginError::MethodUnavailable`].
    pub async fn submit_code(
        &self,
        flow_id: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login_unthrottled(flow_id, now).await?;
        let factor_id = match &flow.active {
            Active::Totp { factor }
            | Active::Recovery { factor }
            | Active::EmailCode { factor, .. } => *factor,
            _ => {
                self.put_login(flow_id, &flow).await?;
                return Err(LoginError::MethodUnavailable);
            }
        };
        let factor = self.store.factors(account.id).await?.into_iter().find(|f| f.id == factor_id);
        let Some(factor) =
            factor.filter(|f| self.allows(&account, f.kind, now) && f.suspended.is_none())
        else {
            // Retired or suspended since the login began: not checked.
            self.put_login(flow_id, &LoginFlow { active: Active::None, ..flow }).await?;
            return Err(LoginError::MethodUnavailable);
        };
        let ok = match (&flow.active, &factor.data) {
            (Active::Totp { .. }, FactorData::Totp { sealed_secret, profile, last_step }) => {
                let secret = self
                    .services
                    .sealer
                    .open(sealed_secret, account.id.0.as_bytes(), "totp")
                    .map_err(|_| LoginError::Internal)?;
                let secret = TotpSecret::from_bytes(secret.expose_secret())
                    .map_err(|_| LoginError::Internal)?;
                let credential = TotpCredential::new(secret, *profile);
                let window = self.services.totp.verification_window();
                match credential.verify(code, now, window, *last_step) {
                    // The atomic advance is the replay guard across requests and replicas.
                    Ok(step) => self.store.advance_totp_step(factor.id, step.0).await?,
                    Err(_) => false,
                }
            }
            (Active::EmailCode { pending, .. }, FactorData::EmailCode) => {
                let mut pending = pending.clone();
                self.services
                    .email_codes
                    .verify(&account.id.to_string(), &mut pending, code, now)
                    .is_ok()
            }
            (Active::Recovery { .. }, FactorData::RecoveryCodes { .. }) => {
                let used = self.consume_recovery_code(&account, &factor, code, now).await?;
                if used {
                    // A recovery code is the last resort of someone who lost the rest: every
                    // other session and known device of the account ends (a step-up keeps
                    // the session it steps up).
                    let keep = match &flow.step_up {
                        Some(id) => self.store.session(id).await?,
                        None => None,
                    };
                    let kept = self
                        .revoke(account.id, keep.as_ref(), RevocationReason::RecoveryCodeUsed, now)
                        .await?;
                    if flow.step_up.is_some() && kept.is_none() {
                        return Err(LoginError::NotSignedIn);
                    }
                }
                used
            }
            _ => false,
        };
        if !ok {
            return Err(self.second_factor_failed(flow_id, &flow, Some(factor.id), now).await?);
        }
        self.passed_and_finished(flow_id, &flow, &account, &factor, now).await
    }

    /// [`Self::second_factor_passed`], then a marker that this flow finished, so that another
    /// tab polling it hears that rather than "expired".
    async fn passed_and_finished(
        &self,
        flow_id: &str,
        flow: &LoginFlow,
        account: &Account,
        factor: &Factor,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let step = self.second_factor_passed(flow, account, factor, now).await?;
        let until = now + self.config.login_ttl;
        let _ = self.store.put_flow(&flow_key("login-done", flow_id), b"1", until).await;
        Ok(step)
    }

    /// Submits the browser's WebAuthn assertion.
    ///
    /// # Errors
    /// As [`Auth::submit_code`].
    pub async fn submit_webauthn(
        &self,
        flow_id: &str,
        response_json: &str,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login_unthrottled(flow_id, now).await?;
        let Active::WebAuthn { state } = &flow.active else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        let factors: Vec<Factor> = self
            .store
            .factors(account.id)
            .await?
            .into_iter()
            .filter(|f| self.allows(&account, f.kind, now) && f.suspended.is_none())
            .collect();
        let creds = webauthn_of(&factors);
        let result =
            self.services.webauthn.finish_authentication(state, response_json, &creds, now);
        let done = match result {
            Ok(done) => done,
            Err(mfa_webauthn::CeremonyError::PossibleClone) => {
                // A valid signature with a counter that went backwards: two authenticators
                // hold this key. Suspend it until the owner acts.
                self.suspend_cloned(&account, &factors, response_json, now).await?;
                return Err(self.second_factor_failed(flow_id, &flow, None, now).await?);
            }
            Err(_) => {
                // Counted against the key the assertion named, when it is one of this
                // account's.
                let named = mfa_webauthn::assertion_credential_id(response_json).ok().and_then(|id| {
                    factors.iter().find(|f| matches!(&f.data, FactorData::WebAuthn(c) if c.id() == id.as_slice())).map(|f| f.id)
                });
                return Err(self.second_factor_failed(flow_id, &flow, named, now).await?);
            }
        };
        let Some(factor) = factors
            .iter()
            .find(|f| matches!(&f.data, FactorData::WebAuthn(c) if c.id() == done.credential.id()))
        else {
            return Err(LoginError::Internal);
        };
        let mut updated = factor.clone();
        updated.data = FactorData::WebAuthn(Box::new(done.credential));
        updated.version += 1;
        // The counter only rises: a concurrent use of the same assertion loses here.
        if self.store.update_factor(&updated).await.is_err() {
            return Err(self.second_factor_failed(flow_id, &flow, None, now).await?);
        }
        self.passed_and_finished(flow_id, &flow, &account, &updated, now).await
    }

    /// Suspends the WebAuthn factor an assertion with a backwards counter named, audits it
    /// and tells the account.
    pub(super) async fn suspend_cloned(
        &self,
        account: &Account,
        factors: &[Factor],
        response_json: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let Ok(id) = mfa_webauthn::assertion_credential_id(response_json) else { return Ok(()) };
        let Some(factor) = factors
            .iter()
            .find(|f| matches!(&f.data, FactorData::WebAuthn(c) if c.id() == id.as_slice()))
        else {
            return Ok(());
        };
        // Compare-and-swap, re-read on a lost race (the clone's own sign-in may be updating
        // the counter at the same moment): the suspension must not be lost.
        let mut current = factor.clone();
        for _ in 0..8 {
            let mut suspended = current.clone();
            suspended.suspended =
                Some(Suspension { reason: SuspensionReason::PossibleClone, since: unix(now) });
            suspended.version += 1;
            match self.store.update_factor(&suspended).await {
                Ok(()) => break,
                Err(StoreError::Stale) => {
                    let fresh = self.store.factors(account.id).await?;
                    match fresh.into_iter().find(|f| f.id == factor.id) {
                        Some(f) => current = f,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Whoever signed in with the clone is signed out: every session of the account ends.
        self.revoke(account.id, None, RevocationReason::FactorSuspended, now).await?;
        self.audit(
            now,
            AuditEvent::FactorSuspended {
                account: account.id,
                kind: factor.kind,
                reason: SuspensionReason::PossibleClone,
            },
        );
        let notice = Notice::SecurityKeySuspended {
            product: self.config.product.clone(),
            name: factor.name.clone(),
            at: now,
        };
        self.notify(account, notice, &factor.id.to_string(), now).await;
        Ok(())
    }

    /// Polls a login waiting for a push approval.
    ///
    /// # Errors
    /// [`LoginError::PushDenied`], [`LoginError::FlowExpired`], [`LoginError::MethodUnavailable`].
    pub async fn poll_push(&self, flow_id: &str, now: SystemTime) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login(flow_id, now).await?;
        let Active::Push { factor, challenge } = &flow.active else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        let push_factor = *factor;
        let record = self.load_push(challenge, now).await?;
        match record.as_ref().map(|r| r.state) {
            Some(ChallengeState::Pending) => {
                self.put_login(flow_id, &flow).await?;
                Ok(LoginStep::Waiting)
            }
            Some(ChallengeState::Approved) => {
                let record = record.ok_or(LoginError::Internal)?;
                let next = self
                    .services
                    .push
                    .consume(&record, flow_id.as_bytes(), now)
                    .map_err(|_| LoginError::WrongSecondFactor)?;
                let mut used = record.clone();
                used.state = next;
                self.save_push(challenge, &used, now).await?;
                let f = self
                    .store
                    .factors(account.id)
                    .await?
                    .into_iter()
                    .find(|f| f.id == *factor)
                    .ok_or(LoginError::MethodUnavailable)?;
                if !self.allows(&account, f.kind, now) || f.suspended.is_some() {
                    return Err(LoginError::MethodUnavailable);
                }
                self.passed_and_finished(flow_id, &flow, &account, &f, now).await
            }
            Some(
                state @ (ChallengeState::FraudReported
                | ChallengeState::Denied
                | ChallengeState::NumberMismatch),
            ) => {
                if state == ChallengeState::FraudReported {
                    self.audit(now, AuditEvent::PushFraudReported { account: account.id });
                }
                self.audit(
                    now,
                    AuditEvent::LoginFailed {
                        account: Some(account.id),
                        reason: FailureReason::PushDenied,
                    },
                );
                // A denial, a wrong number or a fraud report is a failed second factor:
                // counted on the account (from the signing-in client's address) and against
                // the phone's own cap.
                let (pair, wide) = Self::mfa_keys(account.id, &flow.client.ip);
                self.fail(&pair, now).await?;
                self.fail(&wide, now).await?;
                // Each outcome named as it happened.
                let outcome = match state {
                    ChallengeState::NumberMismatch => LoginError::PushNumberMismatch,
                    ChallengeState::FraudReported => LoginError::PushReported,
                    _ => LoginError::PushDenied,
                };
                if flow.reset {
                    // The owner said no to a reset opened from the mailbox: it ends here, and
                    // counts nothing against the phone's cap.
                    return Err(outcome);
                }
                self.count_factor_failure(account.id, push_factor, now).await?;
                self.put_login(flow_id, &LoginFlow { active: Active::None, ..flow }).await?;
                Err(outcome)
            }
            // Expired, superseded, used or gone: nobody answered no. The login stays; the
            // person picks a method again (push included).
            _ => {
                self.put_login(flow_id, &LoginFlow { active: Active::None, ..flow }).await?;
                Err(LoginError::MethodUnavailable)
            }
        }
    }

    pub(super) async fn second_factor_passed(
        &self,
        flow: &LoginFlow,
        account: &Account,
        factor: &Factor,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        if flow.reset {
            // A password reset: the factor proves the owner; the answer is a grant to set a
            // new password, not a session.
            self.second_factor_succeeded(account.id, factor.id, &flow.client.ip, now).await?;
            self.mark_used(account, factor, now).await?;
            return self.grant_reset(account, now).await;
        }
        if let Some(id) = &flow.step_up {
            // Only a factor that existed before the session steps it up: never one it
            // enrolled, nor one created since (a phone that registered meanwhile).
            let session = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            if session.account != account.id {
                return Err(LoginError::NotSignedIn);
            }
            if session.enrolled.contains(&factor.id)
                || factor.created >= session.created
                || !factor.kind.reaches_aal2()
            {
                return Err(LoginError::MethodUnavailable);
            }
            self.second_factor_succeeded(account.id, factor.id, &flow.client.ip, now).await?;
            self.mark_used(account, factor, now).await?;
            let stepped = self
                .modify_session(id, |s| {
                    s.second_factor_at = Some(unix(now));
                    s.second_factor = Some(factor.id);
                    s.last_seen = unix(now);
                })
                .await?;
            let event = AuditEvent::SteppedUp { account: account.id, kind: factor.kind };
            self.audit_from(now, event, &flow.client);
            return Ok(LoginStep::SteppedUp(stepped));
        }
        self.second_factor_succeeded(account.id, factor.id, &flow.client.ip, now).await?;
        let auth = self
            .finish(
                account,
                Some(factor),
                flow.username_used,
                &flow.warnings,
                flow.password_at,
                &flow.client,
                flow.known,
                now,
            )
            .await?;
        Ok(LoginStep::Authenticated(auth))
    }

    /// Records the factor's use and makes it the preferred method.
    pub(super) async fn mark_used(
        &self,
        account: &Account,
        f: &Factor,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        // The stored record as it is now (a step may have advanced it since `f` was read).
        let stored = self.store.factors(account.id).await?.into_iter().find(|x| x.id == f.id);
        let mut used = stored.unwrap_or_else(|| f.clone());
        used.last_used = Some(unix(now));
        used.version += 1;
        let _ = self.store.update_factor(&used).await;
        if account.last_factor != Some(f.id)
            && f.kind != FactorKind::RecoveryCodes
            && let Some(mut a) = self.store.account(account.id).await?
        {
            a.last_factor = Some(f.id);
            a.version += 1;
            let _ = self.store.update_account(&a).await;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish(
        &self,
        account: &Account,
        factor: Option<&Factor>,
        username_used: bool,
        warnings: &[Warning],
        password_at: u64,
        client: &SessionClient,
        known: bool,
        now: SystemTime,
    ) -> Result<Authenticated, LoginError> {
        let mut actions = Vec::new();
        if warnings.contains(&Warning::PasswordChangeRequired) {
            actions.push(RequiredAction::ChangePassword);
        }
        if username_used {
            actions.push(RequiredAction::ConfirmEmailAsLogin);
        }
        if let Some(f) = factor
            && self.weakness(f) == Some(Weakness::ShortSecret)
        {
            actions.push(RequiredAction::ReplaceFactor { factor: f.id });
        }
        let factors = self.store.factors(account.id).await?;
        if !factors.iter().any(|f| matches!(f.kind, FactorKind::Passkey | FactorKind::BiometricKey))
        {
            actions.push(RequiredAction::OfferBiometricKey);
        }
        if let Some(FactorData::RecoveryCodes { stored: s }) =
            factors.iter().find(|f| f.kind == FactorKind::RecoveryCodes).map(|f| &f.data)
        {
            let remaining = RecoveryCodeSet::from_stored(s).map_or(0, |s| s.remaining());
            if remaining <= self.config.recovery_codes_low {
                actions.push(RequiredAction::RecoveryCodesLow { remaining });
            }
        }
        let assurance = match factor {
            Some(f) => assurance_of(f),
            None => Assurance::Aal1,
        };
        if let Some(f) = factor {
            self.mark_used(account, f, now).await?;
        }
        // The account as stored now: a recovery-code login has just moved its epoch on.
        let current = self.store.account(account.id).await?.ok_or(LoginError::FlowExpired)?;
        let (session, token) = self
            .new_session(
                &current,
                assurance,
                factor,
                password_at,
                false,
                EnrollmentProof::NotRequired,
                client.clone(),
                now,
            )
            .await?;
        let known_device = self.random_id();
        let key = flow_key("kd", &TokenHash::of(&known_device).to_base64url());
        let record =
            KnownDevice { account: account.id, epoch: current.session_epoch, by_mail: false };
        self.store
            .put_flow(&key, &serde_json::to_vec(&record)?, now + self.config.known_device_ttl)
            .await?;
        if !known {
            let notice = Notice::NewDeviceSignIn {
                product: self.config.product.clone(),
                browser: client.browser.clone(),
                ip: client.ip.clone(),
                at: now,
            };
            self.notify(&current, notice, &format!("{}\u{0}{}", client.browser, client.ip), now)
                .await;
        }
        self.audit_from(
            now,
            AuditEvent::LoginSucceeded {
                account: account.id,
                factor: factor.map(|f| f.kind),
                assurance,
            },
            client,
        );
        Ok(Authenticated {
            session,
            session_token: SessionToken(token),
            factor: factor.map(|f| MethodView { factor: f.id, kind: f.kind, name: f.name.clone() }),
            assurance,
            required_actions: actions,
            known_device,
        })
    }
}

/// The assurance of a sign-in with the password and `f` (NIST SP 800-63B-4 §2.3): AAL3 needs
/// a phishing-resistant authenticator whose key cannot leave it — a WebAuthn credential that
/// is not backup eligible (a synced passkey's is, so it is AAL2). The password is the other
/// factor, so user verification on the key is not needed for it.
pub(super) fn assurance_of(f: &Factor) -> Assurance {
    match &f.data {
        FactorData::WebAuthn(c) if f.kind.phishing_resistant() && !c.backup_eligible() => {
            Assurance::Aal3
        }
        _ if f.kind.reaches_aal2() => Assurance::Aal2,
        // Codes by email (when an embedder allows them) count below AAL2.
        _ => Assurance::Aal1,
    }
}
