//! Login, first step: identifier and password, throttling, the second-factor plan, starting a method and "try another method".

use std::sync::atomic::{AtomicU8, Ordering};

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    pub(super) async fn fail(
        &self,
        key: &str,
        now: SystemTime,
    ) -> Result<ThrottleState, LoginError> {
        let policy = self.config.policy.throttle;
        Ok(self.store.update_throttle(key, move |s| policy.fail(s, now)).await?)
    }

    /// Count first, then verify: records an attempt under `key` in one atomic step with the
    /// decision to let it through, so that parallel attempts cannot outrun `policy` (each is
    /// counted before any secret is checked; a success resets the key). Refused attempts are
    /// not counted.
    pub(super) async fn admit(
        &self,
        key: &str,
        policy: ThrottlePolicy,
        now: SystemTime,
    ) -> Result<ThrottleState, LoginError> {
        const ADMITTED: u8 = 0;
        const WAIT: u8 = 1;
        const CAPPED: u8 = 2;
        // The store may run the closure more than once (a lost compare-and-swap); the last
        // run is the one that was stored, and its decision is the one that holds.
        let decision = AtomicU8::new(WAIT);
        let state = self
            .store
            .update_throttle(key, |s| {
                if policy.at_hard_limit(s, now) {
                    decision.store(CAPPED, Ordering::SeqCst);
                    s
                } else if policy.wait(s, now) > Duration::ZERO {
                    decision.store(WAIT, Ordering::SeqCst);
                    s
                } else {
                    decision.store(ADMITTED, Ordering::SeqCst);
                    policy.fail(s, now)
                }
            })
            .await?;
        match decision.load(Ordering::SeqCst) {
            ADMITTED => Ok(state),
            CAPPED => Err(LoginError::Throttled { retry_after: policy.half_life.as_secs() }),
            _ => {
                Err(LoginError::Throttled { retry_after: policy.wait(state, now).as_secs().max(1) })
            }
        }
    }

    /// Takes back attempts counted by [`Self::admit`] that checked nothing after all (a
    /// later key refused, the hashing pool was at capacity) or that succeeded where only
    /// failures should stay (the address key).
    pub(super) async fn refund(&self, keys: &[&str], now: SystemTime) -> Result<(), LoginError> {
        let policy = self.config.policy.throttle;
        for key in keys {
            self.store
                .update_throttle(key, |s| ThrottleState {
                    failures: policy.effective(s, now).saturating_sub(1),
                    last_failure: unix(now),
                })
                .await?;
        }
        Ok(())
    }

    /// The account a sign-in identifier names, and whether it was found by a legacy username.
    /// An email-shaped legacy username counts as a username only when an account has it: an
    /// unknown address must meet the same answer as a known one, whatever the username
    /// policy says.
    pub(super) async fn account_for<E>(
        &self,
        id: &Result<LoginIdentifier, E>,
    ) -> Result<(Option<Account>, bool), LoginError> {
        Ok(match id {
            Ok(LoginIdentifier::Email(e)) => {
                let canonical = self.config.canonicalizer.canonical(e);
                match self.store.account_by_email(&canonical).await? {
                    Some(a) => (Some(a), false),
                    None => match id.as_ref().ok().and_then(LoginIdentifier::legacy_username) {
                        Some(u) => {
                            let a = self.store.account_by_username(u.normalized()).await?;
                            let found = a.is_some();
                            (a, found)
                        }
                        None => (None, false),
                    },
                }
            }
            Ok(LoginIdentifier::Username(u)) => {
                (self.store.account_by_username(u.normalized()).await?, true)
            }
            Err(_) => (None, false),
        })
    }

    /// Which kind of browser an attempt comes from, for the keys shared by every address.
    pub(super) async fn device_class(
        &self,
        client: &ClientInfo,
        account: &Account,
        now: SystemTime,
    ) -> DeviceClass {
        match self.known_device(client, account, now).await {
            Some(d) if d.by_mail => DeviceClass::Mailed,
            Some(_) => DeviceClass::Known,
            None => DeviceClass::Unknown,
        }
    }

    /// Admits an attempt on `strict` (this client and this target) and then on the shared
    /// key of its browser class (`wide`, `None` to skip), both counted first; on a refusal
    /// nothing stays counted. Returns the keys that counted it.
    pub(super) async fn admit_both<'k>(
        &self,
        strict: &'k str,
        wide: Option<&'k str>,
        wide_policy: ThrottlePolicy,
        now: SystemTime,
    ) -> Result<Vec<&'k str>, LoginError> {
        self.admit(strict, self.config.policy.throttle, now).await?;
        let Some(wide) = wide else { return Ok(vec![strict]) };
        if let Err(e) = self.admit(wide, wide_policy, now).await {
            self.refund(&[strict], now).await?;
            return Err(e);
        }
        Ok(vec![strict, wide])
    }

    /// The throttle keys of a password attempt: the identifier in its canonical form, hashed
    /// (the same whether or not an account has it, so the throttle tells nothing about who
    /// exists), and the same with the client's address.
    pub(super) fn password_keys<E>(
        &self,
        identifier: &Result<LoginIdentifier, E>,
        raw: &str,
        client: &ClientInfo,
    ) -> (String, String) {
        let canonical = match identifier {
            Ok(LoginIdentifier::Email(e)) => {
                format!("e:{}", self.config.canonicalizer.canonical(e).as_str())
            }
            Ok(LoginIdentifier::Username(u)) => format!("u:{}", u.normalized()),
            Err(_) => format!("x:{}", raw.trim().to_lowercase()),
        };
        let id = TokenHash::of(&format!("mfa-throttle-id\u{0}{canonical}")).to_base64url();
        let ip = crate::client_throttle_key(&client.ip);
        let pair =
            TokenHash::of(&format!("mfa-throttle-pair\u{0}{ip}\u{0}{canonical}")).to_base64url();
        (flow_key("pw-id", &id), flow_key("pw-pair", &pair))
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
        let pw = Password::new(password).map_err(|_| LoginError::InvalidCredentials);
        let id = LoginIdentifier::classify(identifier);
        let (id_key, pair_key) = self.password_keys(&id, identifier, client);
        let (account, username_used) = self.account_for(&id).await?;
        let mut warnings = Vec::new();
        // A username's decision may depend on the account's group: before the password is
        // known to be right, every answer is the one an identifier nobody has would get
        // (the rules for no account), so a refusal never tells which group — or whether any
        // account — is behind a username; the account's own decision counts only once its
        // password has verified.
        let stranger = self.rules.decide(&AccountFacts::unknown(), now);
        let own =
            account.as_ref().map_or(stranger, |a| self.rules.decide(&AccountFacts::of(a), now));
        if username_used {
            self.audit(
                now,
                AuditEvent::LegacyUsernameUsed {
                    account: account.as_ref().map(|a| a.id),
                    decision: own,
                },
            );
            if own == UsernameDecision::AcceptWithWarning {
                warnings.push(Warning::UsernameDeprecated);
            }
        }
        // Only a username-shaped identifier is refused before the password: an address that
        // happens to be some account's legacy username must answer as any other address.
        let username_shaped = matches!(id, Ok(LoginIdentifier::Username(_)));
        let refused_before_password = username_shaped && stranger == UsernameDecision::Refuse;
        let wrong = |account: Option<AccountId>| {
            let (error, reason) = if refused_before_password {
                (LoginError::UsernameRefused, FailureReason::UsernameRefused)
            } else if account.is_some() {
                (LoginError::InvalidCredentials, FailureReason::WrongPassword)
            } else {
                (LoginError::InvalidCredentials, FailureReason::UnknownIdentifier)
            };
            (error, AuditEvent::LoginFailed { account, reason })
        };
        // Counted before the password is checked, whether or not the account exists: the
        // client's address (every identifier), then the address with this identifier, then
        // the identifier from everywhere (counted only while this address is within its free
        // attempts; a known device of the account passes it, so strangers' failures never
        // lock the owner's browser out).
        // A browser of an earlier sign-in passes the identifier-wide key; one vouched for by
        // a sign-in link has a wide key of its own (what strangers fill, it does not meet;
        // what its holders fill, strangers cannot).
        let device = match &account {
            Some(a) => self.device_class(client, a, now).await,
            None => DeviceClass::Unknown,
        };
        let mailed_key = format!("{id_key}:mail");
        let wide = match device {
            DeviceClass::Known => None,
            DeviceClass::Mailed => Some(mailed_key.as_str()),
            DeviceClass::Unknown => Some(id_key.as_str()),
        };
        let throttled = |e| {
            self.audit(now, AuditEvent::Throttled { account: account.as_ref().map(|a| a.id) });
            e
        };
        // The address (every identifier) with its own generous policy — many people may sign
        // in at once behind one address — counted first and refunded on success; then the
        // address with this identifier; then the identifier from everywhere.
        self.admit(&ip_key, self.config.policy.throttle_address, now).await.map_err(throttled)?;
        let counted = match self
            .admit_both(&pair_key, wide, self.config.policy.throttle_identifier, now)
            .await
        {
            Ok(keys) => keys,
            Err(e) => {
                self.refund(&[&ip_key], now).await?;
                return Err(throttled(e));
            }
        };
        let mut counted_all: Vec<&str> = vec![&ip_key];
        counted_all.extend(counted.iter().copied());
        let Some(account) = account else {
            // Same work as a real verification, same answer.
            if let Ok(pw) = pw {
                let pending = self.services.passwords.verify_unknown_account(pw);
                let busy = match pending {
                    Ok(p) => matches!(p.await, Err(mfa_credentials::Error::Busy)),
                    Err(e) => e == mfa_credentials::Error::Busy,
                };
                if busy {
                    // At capacity: nothing was checked, nothing stays counted.
                    self.refund(&counted_all, now).await?;
                    return Err(pool_error(mfa_credentials::Error::Busy));
                }
            }
            let (error, event) = wrong(None);
            self.audit(now, event);
            return Err(error);
        };
        let verified = match pw {
            Ok(pw) => match self.services.passwords.verify(pw, account.password_hash.clone()) {
                Ok(pending) => pending.await,
                Err(e) => Err(e),
            },
            Err(_) => Err(mfa_credentials::Error::PasswordMismatch),
        };
        let verified = match verified {
            Ok(v) => v,
            // At capacity: nothing was checked, nothing stays counted.
            Err(mfa_credentials::Error::Busy) => {
                self.refund(&counted_all, now).await?;
                return Err(pool_error(mfa_credentials::Error::Busy));
            }
            Err(e) => {
                if matches!(e, mfa_credentials::Error::MalformedHash(_))
                    && let Ok(pw) = Password::new(password)
                    && let Ok(pending) = self.services.passwords.verify_unknown_account(pw)
                {
                    // No password to check (an import without one, or one reset by mail
                    // alone): the same work as a real verification, so the time of the
                    // answer says nothing about the account.
                    let _ = pending.await;
                }
                let (error, event) = wrong(Some(account.id));
                self.audit_from(now, event, &SessionClient::of(client));
                return Err(error);
            }
        };
        if username_used && own == UsernameDecision::Refuse {
            // Refused: the attempt stays counted as a failure (it signs no one in), so a
            // refused username is no second guessing budget and no sign of a right password
            // in the counters.
            let reason = FailureReason::UsernameRefused;
            let event = AuditEvent::LoginFailed { account: Some(account.id), reason };
            self.audit_from(now, event, &SessionClient::of(client));
            return Err(LoginError::UsernameRefused);
        }
        // A success: this identifier's counts start again; the address keeps its failures
        // (others behind it may be guessing), not this attempt.
        for key in &counted {
            self.store.update_throttle(key, |_| ThrottleState::default()).await?;
        }
        self.refund(&[&ip_key], now).await?;
        if account.disabled {
            let reason = FailureReason::Disabled;
            let event = AuditEvent::LoginFailed { account: Some(account.id), reason };
            self.audit_from(now, event, &SessionClient::of(client));
            return Err(LoginError::AccountDisabled);
        }
        if account.email_unverified {
            // An imported address nobody has confirmed: the mailbox answers first.
            self.send_address_confirmation(&account, now).await?;
            return Err(LoginError::AddressUnconfirmed);
        }
        if verified.rehash == Some(mfa_credentials::RehashReason::LegacyTruncated) {
            // Only the first 72 bytes were checked: keep the old hash, ask for a new password.
            warnings.push(Warning::PasswordChangeRequired);
        } else if verified.rehash.is_some() {
            // Upgrade the stored hash (bcrypt import, weaker parameters) on this login.
            if let Ok(hash) = self.rehash(password).await {
                let mut updated = account.clone();
                updated.password_hash = hash;
                updated.version += 1;
                let _ = self.store.update_account(&updated).await;
            }
        }
        self.after_password(&account, username_used, warnings, None, client, device, now).await
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
        let plan = plan_second_factor(&*self.rules, account, factors, now);
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
        device: DeviceClass,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let known = device == DeviceClass::Known;
        let username_refused_from = if warnings.contains(&Warning::UsernameDeprecated) {
            self.rules.phases(&AccountFacts::of(account)).refuse_from.map(unix)
        } else {
            None
        };
        let (mut usable, unavailable) = self.usable(account, now).await?;
        let ever_had = self.ever_had_factor(account).await?;
        if let Some(s) = step_up {
            // A step-up proves what existed before the session: never a factor it enrolled
            // or one created since.
            // Nor a code by email: it does not reach AAL2.
            usable.retain(|f| {
                !s.enrolled.contains(&f.id) && f.created < s.created && f.kind.reaches_aal2()
            });
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
            // An account that has or had a factor never gets a password-only session: the
            // password alone must not be enough to bind a new factor to it.
            if ever_had || self.rules.must_enroll(&AccountFacts::of(account), now) {
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
                    enrollable: self.enrollable(account, now),
                    warnings,
                    username_refused_from,
                });
            }
            // Inside the grace period: password only, with a reminder.
            let deadline = self.rules.deadline(&AccountFacts::of(account)).map_or(0, unix);
            let client = SessionClient::of(client);
            let mut auth = self
                .finish(account, None, username_used, &warnings, unix(now), &client, known, now)
                .await?;
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
            mailed: device == DeviceClass::Mailed,
            epoch: account.session_epoch,
            view: None,
            reset: false,
            failures: 0,
            username_refused_from,
        };
        self.start_first_method(account, flow, &usable, unavailable, client, now).await
    }

    /// Stores a new second-factor flow, starting the preferred method; one that cannot start
    /// now (push suspended or at its fatigue limit, no more codes by mail for a while)
    /// steers the flow to the next.
    pub(super) async fn start_first_method(
        &self,
        account: &Account,
        flow: LoginFlow,
        usable: &[Factor],
        unavailable: Vec<UnavailableFactor>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let id = self.random_id();
        for factor in usable {
            let step = self
                .start_method(
                    account,
                    &id,
                    flow.clone(),
                    factor,
                    usable,
                    unavailable.clone(),
                    client,
                    now,
                )
                .await;
            match step {
                Err(LoginError::MethodUnavailable | LoginError::Throttled { .. }) => continue,
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
                // The phone says what it is approving: a sign-in, a password reset, or a
                // step-up.
                let purpose = if flow.reset {
                    Purpose::PasswordReset
                } else if flow.step_up.is_some() {
                    Purpose::StepUp
                } else {
                    Purpose::Login
                };
                let request = ChallengeRequest { purpose, flow: id.as_bytes(), context };
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
        // A push that cannot be sent now is no alternative: it is listed as unavailable, with
        // why and until when.
        let mut unavailable = unavailable;
        let mut alternatives = Vec::new();
        let push_paused = if usable.iter().any(|f| f.kind == FactorKind::Push && f.id != factor.id)
        {
            let history = self.push_history(account.id, now).await?;
            self.services.push.config().fatigue.paused(&history, now)
        } else {
            None
        };
        for f in usable.iter().filter(|f| f.id != factor.id) {
            match (&push_paused, f.kind) {
                (Some((why, until)), FactorKind::Push) => unavailable.push(UnavailableFactor {
                    factor: f.id,
                    kind: f.kind,
                    name: f.name.clone(),
                    reason: Unavailable::PushPaused {
                        pause: pause_of(*why),
                        until: until.map(unix),
                    },
                }),
                _ => alternatives.push(view(f)),
            }
        }
        let view = ChallengeView {
            flow: id.to_owned(),
            method: view(factor),
            prompt,
            alternatives,
            unavailable,
            warnings: flow.warnings.clone(),
            username_refused_from: flow.username_refused_from,
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
        let bytes = self.store.get_flow(&flow_key("login", flow_id), now).await?;
        read_login(bytes, now)?.view.ok_or(LoginError::FlowExpired)
    }

    pub(super) fn enrollable(&self, account: &Account, now: SystemTime) -> Vec<FactorKind> {
        ENROLLABLE.into_iter().filter(|k| self.allows(account, *k, now)).collect()
    }

    pub(super) async fn take_login(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<(LoginFlow, Account), LoginError> {
        let taken = self.store.take_flow(&flow_key("login", id), now).await?;
        if taken.is_none() && self.store.get_flow(&flow_key("login-done", id), now).await?.is_some()
        {
            return Err(LoginError::LoginFinished);
        }
        let flow = read_login(taken, now)?;
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
        if flow.reset {
            usable.retain(|f| recovery::proves_more_than_the_mailbox(f.kind));
        }
        if let Some(id) = &flow.step_up {
            // A step-up never switches to a factor its session enrolled, one created since, or
            // a code by email.
            let s = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            usable.retain(|f| {
                !s.enrolled.contains(&f.id) && f.created < s.created && f.kind.reaches_aal2()
            });
        }
        let Some(chosen) = usable.iter().find(|f| f.id == factor).cloned() else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        // A method that cannot start (push at its limit, no more codes by mail for now)
        // leaves the login exactly as it was: the flow goes back with the method in
        // progress. A pending push is closed first only when push is chosen again (the
        // phone allows one pending request); otherwise once the new method has started.
        let original = flow.clone();
        let pending_push = match &flow.active {
            Active::Push { challenge, .. } => Some(challenge.clone()),
            _ => None,
        };
        if chosen.kind == FactorKind::Push
            && let Some(challenge) = &pending_push
        {
            self.close_push(challenge, now).await?;
        }
        flow.active = Active::None;
        match self
            .start_method(&account, flow_id, flow, &chosen, &usable, unavailable, client, now)
            .await
        {
            Ok(step) => {
                if chosen.kind != FactorKind::Push
                    && let Some(challenge) = &pending_push
                {
                    self.close_push(challenge, now).await?;
                }
                Ok(step)
            }
            Err(e) => {
                let back = if chosen.kind == FactorKind::Push && pending_push.is_some() {
                    // Its push was closed for the new one: the rest of the login stays.
                    LoginFlow { active: Active::None, ..original }
                } else {
                    original
                };
                self.put_login(flow_id, &back).await?;
                Err(e)
            }
        }
    }

    /// A failed second-factor attempt (already counted by [`Self::admit_mfa`]): audited,
    /// counted against the factor's own cap of consecutive failures — at the cap the factor is
    /// suspended and the owner mailed — and the login goes back for another try.
    pub(super) async fn second_factor_failed(
        &self,
        flow_id: &str,
        flow: &LoginFlow,
        factor: Option<FactorId>,
        now: SystemTime,
    ) -> Result<LoginError, LoginError> {
        self.audit(
            now,
            AuditEvent::LoginFailed {
                account: Some(flow.account),
                reason: FailureReason::WrongSecondFactor,
            },
        );
        if flow.reset {
            // A reset is opened with the mailbox alone: its failures do not count against
            // the factor's cap (whoever reads the mail could otherwise suspend the owner's
            // factors), and a reset ends after a few of them (a new link is throttled).
            let failures = flow.failures.saturating_add(1);
            if failures < recovery::RESET_ATTEMPTS {
                self.put_login(flow_id, &LoginFlow { failures, ..flow.clone() }).await?;
            }
            return Ok(LoginError::WrongSecondFactor);
        }
        if let Some(factor) = factor {
            self.count_factor_failure(flow.account, factor, now).await?;
        }
        self.put_login(flow_id, flow).await?;
        Ok(LoginError::WrongSecondFactor)
    }

    /// One more consecutive failure of `factor`. The count does not decay with time (NIST SP
    /// 800-63B-4 §3.2.2); at [`ThrottlePolicy::hard_limit`] the factor is suspended until the
    /// owner succeeds with another factor or a recovery code, and is mailed.
    pub(super) async fn count_factor_failure(
        &self,
        account: AccountId,
        factor: FactorId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let limit = self.config.policy.throttle.hard_limit;
        let state = self
            .store
            .update_throttle(&flow_key("mfa-cap", &factor.to_string()), |s| ThrottleState {
                failures: s.failures.saturating_add(1),
                last_failure: unix(now),
            })
            .await?;
        if state.failures < limit {
            return Ok(());
        }
        let Some(f) = self.store.factors(account).await?.into_iter().find(|f| f.id == factor)
        else {
            return Ok(());
        };
        if f.suspended.is_some() || f.kind == FactorKind::RecoveryCodes {
            // Already suspended; recovery codes are the way back in, never suspended (each
            // is single use, and the cap on the account still stops guessing).
            return Ok(());
        }
        let mut suspended = f.clone();
        suspended.suspended =
            Some(Suspension { reason: SuspensionReason::TooManyFailures, since: unix(now) });
        suspended.version += 1;
        match self.store.update_factor(&suspended).await {
            Ok(()) => {}
            // Someone else changed it meanwhile (a success, another suspension): the next
            // failure tries again.
            Err(StoreError::Stale) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.audit(
            now,
            AuditEvent::FactorSuspended {
                account,
                kind: f.kind,
                reason: SuspensionReason::TooManyFailures,
            },
        );
        if let Some(a) = self.store.account(account).await? {
            let notice = Notice::FactorLocked {
                product: self.config.product.clone(),
                kind: notify::label(f.kind),
                name: f.name.clone(),
                failures: state.failures,
                at: now,
            };
            self.notify(&a, notice, &f.id.to_string(), now).await;
        }
        Ok(())
    }

    /// After a success with `used`: its failure count starts again, and every other factor
    /// suspended for too many failures works again (the owner proved themselves another way).
    pub(super) async fn second_factor_succeeded(
        &self,
        account: AccountId,
        used: FactorId,
        ip: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let reset = |_| ThrottleState::default();
        let (pair, wide) = Self::mfa_keys(account, ip);
        let [unknown, known, mailed] =
            [DeviceClass::Unknown, DeviceClass::Known, DeviceClass::Mailed]
                .map(|d| d.mfa_key(&wide));
        for key in [pair, unknown, known, mailed, flow_key("mfa-cap", &used.to_string())] {
            self.store.update_throttle(&key, reset).await?;
        }
        // Codes by mail may go out again.
        self.store.update_throttle(&flow_key("mail-code", &account.to_string()), reset).await?;
        for f in self.store.factors(account).await? {
            let capped = f.suspended.is_some_and(|s| s.reason == SuspensionReason::TooManyFailures);
            if !capped || f.id == used {
                continue;
            }
            let mut lifted = f.clone();
            lifted.suspended = None;
            lifted.version += 1;
            if self.store.update_factor(&lifted).await.is_ok() {
                self.store.update_throttle(&flow_key("mfa-cap", &f.id.to_string()), reset).await?;
                self.audit(now, AuditEvent::FactorReinstated { account, kind: f.kind });
            }
        }
        Ok(())
    }

    /// The keys of second-factor attempts on `account` from `ip`: the account with this
    /// client's address (strict), and the account from everywhere (lenient).
    pub(super) fn mfa_keys(account: AccountId, ip: &str) -> (String, String) {
        let pair = TokenHash::of(&format!(
            "mfa-throttle-pair\u{0}{account}\u{0}{}",
            crate::client_throttle_key(ip)
        ));
        (flow_key("mfa-pair", &pair.to_base64url()), flow_key("mfa-acct", &account.to_string()))
    }

    /// Counts a second-factor attempt on `account` from `ip` before it is checked (see
    /// [`Self::admit`]): on the account with this client's address, then on the account
    /// from every address of the browser's class — one key for browsers of earlier sign-ins,
    /// one for browsers a sign-in link vouched for, one for the rest — so that someone with
    /// the password fills only the last, the owner's browsers meet their own, and parallel
    /// attempts cannot outrun any of them. At the hard limit nothing more is checked until
    /// the count decays.
    pub(super) async fn admit_mfa(
        &self,
        account: AccountId,
        ip: &str,
        device: DeviceClass,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let (pair, wide) = Self::mfa_keys(account, ip);
        let wide = device.mfa_key(&wide);
        self.admit_both(&pair, Some(&wide), self.config.policy.throttle, now).await.map(|_| ())
    }
}

/// A stored login flow, live at `now`.
/// The flows' name for a push fatigue limit.
const fn pause_of(e: mfa_push::FatigueError) -> PushPause {
    match e {
        mfa_push::FatigueError::PendingExists => PushPause::Pending,
        mfa_push::FatigueError::TooManyRecent => PushPause::TooManyRecent,
        mfa_push::FatigueError::TooManyToday => PushPause::TooManyToday,
        mfa_push::FatigueError::SuspendedAfterDenials => PushPause::AfterDenials,
        _ => PushPause::AfterFraudReport,
    }
}

fn read_login(bytes: Option<Vec<u8>>, now: SystemTime) -> Result<LoginFlow, LoginError> {
    let bytes = bytes.ok_or(LoginError::FlowExpired)?;
    let flow: LoginFlow = serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
    if unix(now) >= flow.expires {
        return Err(LoginError::FlowExpired);
    }
    Ok(flow)
}

/// Which kind of browser an attempt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeviceClass {
    /// No known-device token of the account.
    Unknown,
    /// A token from an earlier full sign-in.
    Known,
    /// A token a sign-in link made (the mailbox vouched for the browser).
    Mailed,
}

impl DeviceClass {
    /// The account-wide second-factor key of this class, from the unknown browsers' key.
    fn mfa_key(self, unknown: &str) -> String {
        match self {
            Self::Unknown => unknown.to_owned(),
            Self::Known => format!("{unknown}:known"),
            Self::Mailed => format!("{unknown}:mail"),
        }
    }

    /// The class a login flow recorded.
    pub(super) fn of_flow(flow: &LoginFlow) -> Self {
        if flow.known {
            Self::Known
        } else if flow.mailed {
            Self::Mailed
        } else {
            Self::Unknown
        }
    }
}
