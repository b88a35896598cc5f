//! Login, first step: identifier and password, throttling, the second-factor plan, starting a method and "try another method".

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    pub(super) async fn throttle_wait(&self, key: &str, now: SystemTime) -> Result<(), LoginError> {
        let state = self.store.throttle(key).await?;
        let wait = self.config.policy.throttle.wait(state, now);
        if wait > Duration::ZERO {
            return Err(LoginError::Throttled { retry_after: wait.as_secs().max(1) });
        }
        Ok(())
    }

    pub(super) async fn fail(
        &self,
        key: &str,
        now: SystemTime,
    ) -> Result<ThrottleState, LoginError> {
        let policy = self.config.policy.throttle;
        Ok(self.store.update_throttle(key, move |s| policy.fail(s, now)).await?)
    }

    /// Step one: identifier and password.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] (unknown identifier and wrong password alike, at
    /// the same cost), [`LoginError::UsernameRefused`], [`LoginError::Throttled`].
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let ip_key = flow_key("pw-ip", &crate::client_throttle_key(&client.ip));
        if let Err(e) = self.throttle_wait(&ip_key, now).await {
            self.audit(now, AuditEvent::Throttled { account: None });
            return Err(e);
        }
        let pw = Password::new(password).map_err(|_| LoginError::InvalidCredentials);
        let id = LoginIdentifier::classify(identifier);
        let (account, username_used) = match &id {
            Ok(LoginIdentifier::Email(e)) => {
                let by_email =
                    self.store.account_by_email(&self.config.canonicalizer.canonical(e)).await?;
                match by_email {
                    Some(a) => (Some(a), false),
                    // An email-shaped legacy username of an existing account.
                    None => match id.as_ref().ok().and_then(LoginIdentifier::legacy_username) {
                        Some(u) => (self.store.account_by_username(u.normalized()).await?, true),
                        None => (None, false),
                    },
                }
            }
            Ok(LoginIdentifier::Username(u)) => {
                (self.store.account_by_username(u.normalized()).await?, true)
            }
            Err(_) => (None, false),
        };
        let mut warnings = Vec::new();
        if username_used {
            let decision = self.config.policy.usernames.decide(now);
            self.audit(
                now,
                AuditEvent::LegacyUsernameUsed {
                    account: account.as_ref().map(|a| a.id),
                    decision,
                },
            );
            match decision {
                UsernameDecision::Refuse => {
                    self.audit(
                        now,
                        AuditEvent::LoginFailed {
                            account: account.as_ref().map(|a| a.id),
                            reason: FailureReason::UsernameRefused,
                        },
                    );
                    return Err(LoginError::UsernameRefused);
                }
                UsernameDecision::AcceptWithWarning => warnings.push(Warning::UsernameDeprecated),
                _ => {}
            }
        }
        let Some(account) = account else {
            // Same work as a real verification, same answer.
            if let Ok(pw) = pw {
                let _ = self
                    .services
                    .passwords
                    .verify_unknown_account(pw)
                    .map_err(|_| LoginError::Internal)?
                    .await;
            }
            self.fail(&ip_key, now).await?;
            self.audit(
                now,
                AuditEvent::LoginFailed { account: None, reason: FailureReason::UnknownIdentifier },
            );
            return Err(LoginError::InvalidCredentials);
        };
        let account_key = flow_key("pw-acct", &account.id.to_string());
        let known = self.is_known_device(client, &account, now).await;
        if !known && let Err(e) = self.throttle_wait(&account_key, now).await {
            self.audit(now, AuditEvent::Throttled { account: Some(account.id) });
            return Err(e);
        }
        let verified = match pw {
            Ok(pw) => {
                self.services
                    .passwords
                    .verify(pw, account.password_hash.clone())
                    .map_err(|_| LoginError::Internal)?
                    .await
            }
            Err(_) => Err(mfa_credentials::Error::PasswordMismatch),
        };
        let verified = match verified {
            Ok(v) => v,
            Err(_) => {
                self.fail(&ip_key, now).await?;
                if !known {
                    self.fail(&account_key, now).await?;
                }
                self.audit_from(
                    now,
                    AuditEvent::LoginFailed {
                        account: Some(account.id),
                        reason: FailureReason::WrongPassword,
                    },
                    &SessionClient::of(client),
                );
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.store.update_throttle(&account_key, |_| ThrottleState::default()).await?;
        if verified.rehash.is_some() {
            // Upgrade the stored hash (bcrypt import, weaker parameters) on this login.
            if let Ok(hash) = self.rehash(password).await {
                let mut updated = account.clone();
                updated.password_hash = hash;
                updated.version += 1;
                let _ = self.store.update_account(&updated).await;
            }
        }
        self.after_password(&account, username_used, warnings, None, client, known, now).await
    }

    pub(super) async fn rehash(&self, password: &str) -> Result<String, LoginError> {
        let pw = Password::new(password).map_err(|_| LoginError::Internal)?;
        self.hash_password(pw).await
    }

    /// The account's factors sorted into usable (best first, the last used first of all)
    /// and unavailable.
    pub(super) async fn usable(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<(Vec<Factor>, Vec<UnavailableFactor>), LoginError> {
        let factors = self.store.factors(account.id).await?;
        let plan = plan_second_factor(&self.config.policy, account, factors, now);
        Ok((plan.usable, plan.unavailable))
    }

    /// Whether the account has, or ever had, a second factor of any kind (retired, used up,
    /// not yet activated, suspended): such an account never binds a factor after the
    /// password alone.
    pub(super) async fn ever_had_factor(&self, account: &Account) -> Result<bool, LoginError> {
        Ok(account.had_second_factor || !self.store.factors(account.id).await?.is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn after_password(
        &self,
        account: &Account,
        username_used: bool,
        warnings: Vec<Warning>,
        step_up: Option<&Session>,
        client: &ClientInfo,
        known: bool,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (mut usable, unavailable) = self.usable(account, now).await?;
        let ever_had = self.ever_had_factor(account).await?;
        if let Some(s) = step_up {
            // A step-up proves what existed before the session: never a factor it enrolled
            // or one created since.
            usable.retain(|f| !s.enrolled.contains(&f.id) && f.created < s.created);
            if !usable.iter().any(|f| f.kind != FactorKind::RecoveryCodes) {
                return Err(LoginError::MethodUnavailable);
            }
        }
        for u in &unavailable {
            if let Unavailable::Retired { reason } = u.reason {
                self.audit(
                    now,
                    AuditEvent::RetiredFactorRefused { account: account.id, kind: u.kind, reason },
                );
            }
        }
        let second_factors: Vec<&Factor> =
            usable.iter().filter(|f| f.kind != FactorKind::RecoveryCodes).collect();
        if second_factors.is_empty() {
            let created = from_unix(account.created);
            // An account that has or had a factor never gets a password-only session: the
            // password alone must not be enough to bind a new factor to it.
            if ever_had || self.config.policy.mfa.must_enroll(created, now) {
                self.audit(now, AuditEvent::EnrollmentForced { account: account.id });
                let proof =
                    if ever_had { EnrollmentProof::Required } else { EnrollmentProof::NotRequired };
                if ever_had && !known {
                    // The password of an account with a factor was used from a new browser:
                    // its owner hears of it before anything can be bound.
                    let c = SessionClient::of(client);
                    let notice = Notice::NewDeviceSignIn {
                        product: self.config.product.clone(),
                        browser: c.browser.clone(),
                        ip: c.ip.clone(),
                        at: now,
                    };
                    self.notify(account, notice, &format!("{}\u{0}{}", c.browser, c.ip), now).await;
                }
                let (session, token) = self
                    .new_session(
                        account,
                        Assurance::Aal1,
                        None,
                        unix(now),
                        true,
                        proof,
                        SessionClient::of(client),
                        now,
                    )
                    .await?;
                return Ok(LoginStep::MustEnroll {
                    session,
                    session_token: SessionToken(token),
                    unavailable,
                    enrollable: self.enrollable(now),
                    warnings,
                });
            }
            // Inside the grace period: password only, with a reminder.
            let deadline = self.config.policy.mfa.deadline(created).map_or(0, unix);
            let client = SessionClient::of(client);
            let mut auth =
                self.finish(account, None, username_used, unix(now), &client, known, now).await?;
            auth.required_actions.insert(0, RequiredAction::EnrollMfa { deadline });
            return Ok(LoginStep::Authenticated(auth));
        }
        let flow = LoginFlow {
            v: 1,
            account: account.id,
            password_at: unix(now),
            expires: unix(now) + self.config.login_ttl.as_secs(),
            username_used,
            warnings,
            active: Active::None,
            step_up: step_up.map(|s| s.id.clone()),
            client: SessionClient::of(client),
            known,
            epoch: account.session_epoch,
            view: None,
        };
        let id = self.random_id();
        // The preferred method first; one that cannot start now (push suspended or at its
        // fatigue limit, no WebAuthn options) steers the user to the next.
        for factor in &usable {
            let step = self
                .start_method(
                    account,
                    &id,
                    flow.clone(),
                    factor,
                    &usable,
                    unavailable.clone(),
                    client,
                    now,
                )
                .await;
            match step {
                Err(LoginError::MethodUnavailable) => continue,
                other => return other,
            }
        }
        Err(LoginError::MethodUnavailable)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_method(
        &self,
        account: &Account,
        id: &str,
        mut flow: LoginFlow,
        factor: &Factor,
        usable: &[Factor],
        unavailable: Vec<UnavailableFactor>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (active, prompt) = match &factor.data {
            FactorData::Totp { .. } => (Active::Totp { factor: factor.id }, Prompt::TotpCode),
            FactorData::RecoveryCodes { .. } => {
                (Active::Recovery { factor: factor.id }, Prompt::RecoveryCode)
            }
            FactorData::EmailCode => {
                let pending = self.mail_email_code(account, now).await?;
                (
                    Active::EmailCode { factor: factor.id, pending },
                    Prompt::EmailCode { sent_to: account.email.masked() },
                )
            }
            FactorData::WebAuthn(_) => {
                let creds = webauthn_of(usable);
                let (options, state) = self
                    .services
                    .webauthn
                    .start_authentication(account.id.0, &creds, now)
                    .map_err(|_| LoginError::MethodUnavailable)?;
                (
                    Active::WebAuthn { state: Box::new(state) },
                    Prompt::WebAuthn { options: options.as_json().to_owned() },
                )
            }
            FactorData::Push(device) => {
                let history = self.push_history(account.id, now).await?;
                let context = self.sign_in_context(client, now);
                let request =
                    ChallengeRequest { purpose: Purpose::Login, flow: id.as_bytes(), context };
                let issued = self
                    .with_rng(|r| self.services.push.issue(device, request, &history, now, r))
                    .map_err(|_| LoginError::MethodUnavailable)?;
                let challenge = self.record_push(account.id, &issued.record, now).await?;
                let _ = self.push_sender.send(&device.push_token, &issued.hint).await;
                (
                    Active::Push { factor: factor.id, challenge },
                    Prompt::Push { number: issued.number, device: device.display_name.clone() },
                )
            }
            FactorData::Phone { .. } => return Err(LoginError::MethodUnavailable),
        };
        let view = |f: &Factor| MethodView { factor: f.id, kind: f.kind, name: f.name.clone() };
        let view = ChallengeView {
            flow: id.to_owned(),
            method: view(factor),
            prompt,
            alternatives: usable.iter().filter(|f| f.id != factor.id).map(view).collect(),
            unavailable,
            warnings: flow.warnings.clone(),
        };
        flow.active = active;
        flow.view = Some(view.clone());
        let expires = from_unix(flow.expires);
        self.store.put_flow(&flow_key("login", id), &serde_json::to_vec(&flow)?, expires).await?;
        Ok(LoginStep::Challenge(view))
    }

    /// The login (or step-up) in progress as its page shows it: the method asked for, the
    /// alternatives, what cannot be used and why — for a page rendered after the step that
    /// started it. Reads the flow without consuming it.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`] when there is no such login in progress (or it expired).
    pub async fn pending_login(
        &self,
        flow_id: &str,
        now: SystemTime,
    ) -> Result<ChallengeView, LoginError> {
        if flow_id.is_empty() || flow_id.len() > 128 {
            return Err(LoginError::FlowExpired);
        }
        let bytes = self
            .store
            .get_flow(&flow_key("login", flow_id), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let flow: LoginFlow =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        if unix(now) >= flow.expires {
            return Err(LoginError::FlowExpired);
        }
        flow.view.ok_or(LoginError::FlowExpired)
    }

    pub(super) fn enrollable(&self, now: SystemTime) -> Vec<FactorKind> {
        [
            FactorKind::SecurityKey,
            FactorKind::Passkey,
            FactorKind::BiometricKey,
            FactorKind::Push,
            FactorKind::Totp,
            FactorKind::EmailCode,
        ]
        .into_iter()
        .filter(|k| self.config.policy.retirement.allows(*k, now))
        .collect()
    }

    pub(super) async fn take_login(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<(LoginFlow, Account), LoginError> {
        let bytes = self
            .store
            .take_flow(&flow_key("login", id), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let flow: LoginFlow =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        if unix(now) >= flow.expires {
            return Err(LoginError::FlowExpired);
        }
        let account = self.store.account(flow.account).await?.ok_or(LoginError::FlowExpired)?;
        if account.session_epoch != flow.epoch {
            // The account's sessions were revoked since the password was checked.
            return Err(LoginError::FlowExpired);
        }
        Ok((flow, account))
    }

    pub(super) async fn put_login(&self, id: &str, flow: &LoginFlow) -> Result<(), LoginError> {
        self.store
            .put_flow(&flow_key("login", id), &serde_json::to_vec(flow)?, from_unix(flow.expires))
            .await?;
        Ok(())
    }

    /// "Try another method": switches the flow to another of the user's usable factors
    /// without repeating the password.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`], [`LoginError::MethodUnavailable`].
    pub async fn select_method(
        &self,
        flow_id: &str,
        factor: FactorId,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (mut flow, account) = self.take_login(flow_id, now).await?;
        let (mut usable, unavailable) = self.usable(&account, now).await?;
        if let Some(id) = &flow.step_up {
            // A step-up never switches to a factor its session enrolled, or one created since.
            let s = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            usable.retain(|f| !s.enrolled.contains(&f.id) && f.created < s.created);
        }
        let Some(chosen) = usable.iter().find(|f| f.id == factor).cloned() else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        if let Active::Push { challenge, .. } = &flow.active {
            self.close_push(challenge, now).await?;
        }
        flow.active = Active::None;
        self.start_method(&account, flow_id, flow, &chosen, &usable, unavailable, client, now).await
    }

    pub(super) async fn second_factor_failed(
        &self,
        flow_id: &str,
        flow: &LoginFlow,
        now: SystemTime,
    ) -> Result<LoginError, LoginError> {
        let state = self.fail(&flow_key("mfa-acct", &flow.account.to_string()), now).await?;
        self.audit(
            now,
            AuditEvent::LoginFailed {
                account: Some(flow.account),
                reason: FailureReason::WrongSecondFactor,
            },
        );
        if self.config.policy.throttle.at_hard_limit(state, now) {
            self.audit(now, AuditEvent::Throttled { account: Some(flow.account) });
            return Ok(LoginError::Throttled {
                retry_after: self.config.policy.throttle.half_life.as_secs(),
            });
        }
        self.put_login(flow_id, flow).await?;
        Ok(LoginError::WrongSecondFactor)
    }

    pub(super) async fn check_mfa_throttle(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let state = self.store.throttle(&flow_key("mfa-acct", &account.to_string())).await?;
        let policy = self.config.policy.throttle;
        if policy.at_hard_limit(state, now) {
            return Err(LoginError::Throttled { retry_after: policy.half_life.as_secs() });
        }
        let wait = policy.wait(state, now);
        if wait > Duration::ZERO {
            return Err(LoginError::Throttled { retry_after: wait.as_secs().max(1) });
        }
        Ok(())
    }
}
