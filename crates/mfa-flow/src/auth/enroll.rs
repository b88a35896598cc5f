//! Enrollment of every kind (authenticator app, WebAuthn keys, email codes, push devices), what may enroll, and what every enrollment does.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// May `session` enroll a factor now? An enrollment-only session may, within the
    /// enrollment time and after the proof its account owes, and so may go on the session it
    /// became; a session of an account without a usable factor (grace period) may shortly
    /// after the password; any other needs a fresh second factor.
    pub(super) async fn may_enroll(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        let account = self.account_of(session).await?;
        Self::check_enrollment_room(session)?;
        let recent_password =
            unix(now).saturating_sub(session.password_at) <= self.config.enrollment_ttl.as_secs();
        if session.enrollment_only {
            if session.proof == EnrollmentProof::Required {
                return Err(LoginError::ProofRequired);
            }
            if !recent_password {
                return Err(LoginError::NotSignedIn);
            }
            return Ok(account);
        }
        if session.forced_enrollment && recent_password {
            return Ok(account);
        }
        let (usable, _) = self.usable(&account, now).await?;
        let has_second = usable.iter().any(|f| f.kind != FactorKind::RecoveryCodes);
        if has_second || account.had_second_factor {
            self.require_step_up(session, now)?;
        } else if !recent_password {
            return Err(LoginError::StepUpRequired);
        }
        Ok(account)
    }

    pub(super) async fn add_enrolled(
        &self,
        session: &Session,
        account: &Account,
        kind: FactorKind,
        name: &str,
        data: FactorData,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        if !self.allows(account, kind, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let factor = Factor {
            id: FactorId(self.uuid()),
            account: account.id,
            kind,
            name: factor_name(name)?,
            created: unix(now),
            last_used: Some(unix(now)),
            version: 1,
            data,
            suspended: None,
        };
        self.change_factors_for(session, FactorChange::Add(factor.clone())).await?;
        self.complete_enrollment(session, account, &factor, now).await
    }

    /// What every enrollment does once its factor is stored: remembers that the account has
    /// a second factor, records it in the session (which it does not make fresh), tells the
    /// account's address, and issues recovery codes when the account has none.
    pub(super) async fn complete_enrollment(
        &self,
        session: &Session,
        account: &Account,
        factor: &Factor,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let event = AuditEvent::FactorEnrolled { account: account.id, kind: factor.kind };
        self.audit_from(now, event, session.actor());
        // The address hears of it whatever happens to the session next.
        let notice = Notice::FactorAdded {
            product: self.config.product.clone(),
            kind: notify::label(factor.kind),
            name: factor.name.clone(),
            at: now,
        };
        self.notify(account, notice, &factor.id.to_string(), now).await;
        self.remember_second_factor(account.id).await?;
        let session = self.enrolled_in(session, factor.id).await?;
        let has_codes = self
            .store
            .factors(account.id)
            .await?
            .iter()
            .any(|f| f.kind == FactorKind::RecoveryCodes);
        let recovery_codes = if has_codes {
            None
        } else {
            Some(self.issue_recovery_codes(&session, None, now).await?)
        };
        Ok(Enrolled {
            factor: MethodView { factor: factor.id, kind: factor.kind, name: factor.name.clone() },
            recovery_codes,
            session,
        })
    }

    /// Sets the account's `had_second_factor` (compare-and-swap, retried).
    pub(super) async fn remember_second_factor(
        &self,
        account: AccountId,
    ) -> Result<(), LoginError> {
        for _ in 0..8 {
            let mut a = self.store.account(account).await?.ok_or(LoginError::NotSignedIn)?;
            if a.had_second_factor {
                return Ok(());
            }
            a.had_second_factor = true;
            a.version += 1;
            match self.store.update_account(&a).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(LoginError::Store(StoreError::Unavailable("account too contended".into())))
    }

    /// Hashes a new set's codes through the pool (all queued at once, so the workers share
    /// them), each with its own salt.
    async fn hash_recovery_codes(
        &self,
        pending: mfa_credentials::PendingSet,
    ) -> Result<RecoveryCodeSet, LoginError> {
        let key_id = pending.key_id();
        let queued = pending
            .into_inputs()
            .into_iter()
            .map(|input| self.services.passwords.hash(input, self.random_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(pool_error)?;
        let mut hashes = Vec::with_capacity(queued.len());
        for q in queued {
            hashes.push(q.await.map_err(pool_error)?);
        }
        RecoveryCodeSet::from_hashes(key_id, hashes).map_err(|_| LoginError::Internal)
    }

    pub(super) async fn issue_recovery_codes(
        &self,
        session: &Session,
        replace: Option<&Factor>,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        let (codes, pending) = self
            .with_rng(|r| self.services.recovery.generate(self.config.recovery_codes, r))
            .map_err(|_| LoginError::Internal)?;
        let set = self.hash_recovery_codes(pending).await?;
        let shown = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
        let change = match replace {
            Some(old) => {
                let mut f = old.clone();
                f.data = FactorData::RecoveryCodes { stored: set.to_stored() };
                f.version += 1;
                f.created = unix(now);
                FactorChange::Update(f)
            }
            None => FactorChange::Add(Factor {
                id: FactorId(self.uuid()),
                account: session.account,
                kind: FactorKind::RecoveryCodes,
                name: "Recovery codes".into(),
                created: unix(now),
                last_used: None,
                version: 1,
                data: FactorData::RecoveryCodes { stored: set.to_stored() },
                suspended: None,
            }),
        };
        self.change_factors_for(session, change).await?;
        self.audit_from(
            now,
            AuditEvent::RecoveryCodesIssued { account: session.account },
            session.actor(),
        );
        Ok(shown)
    }

    // ----- enrollment -----

    /// Starts an authenticator-app enrollment: the QR code to show.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`] (retired).
    pub async fn begin_totp(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<TotpEnrollment, LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.allows(&account, FactorKind::Totp, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let pending = self
            .with_rng(|r| self.services.totp.start_enrollment(account.email.as_typed(), r))
            .map_err(|_| LoginError::Internal)?;
        let sealed = self
            .with_rng(|r| {
                self.services.sealer.seal(
                    pending.secret().expose_secret(),
                    account.id.0.as_bytes(),
                    "totp",
                    r,
                )
            })
            .map_err(|_| LoginError::Internal)?;
        let flow = self.random_id();
        let state = Enrollment::Totp { account: account.id, sealed };
        self.store
            .put_flow(
                &flow_key("enroll", &flow),
                &serde_json::to_vec(&state)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(TotpEnrollment {
            flow,
            uri: pending.uri().to_owned(),
            qr_svg: pending.qr_svg().to_string(),
            secret_base32: pending.secret().to_base32().to_string(),
        })
    }

    pub(super) async fn take_enrollment(
        &self,
        session: &Session,
        flow: &str,
        now: SystemTime,
    ) -> Result<Enrollment, LoginError> {
        let bytes = self
            .store
            .take_flow(&flow_key("enroll", flow), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let e: Enrollment = serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        let owner = match &e {
            Enrollment::Totp { account, .. }
            | Enrollment::WebAuthn { account, .. }
            | Enrollment::EmailCode { account, .. }
            | Enrollment::Push { account, .. } => *account,
        };
        if owner != session.account {
            return Err(LoginError::FlowExpired);
        }
        Ok(e)
    }

    pub(super) async fn put_enrollment(
        &self,
        flow: &str,
        e: &Enrollment,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.store
            .put_flow(
                &flow_key("enroll", flow),
                &serde_json::to_vec(e)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(())
    }

    /// Confirms an authenticator-app enrollment with the first code the app shows.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`] (the enrollment stays open), [`LoginError::FlowExpired`].
    pub async fn confirm_totp(
        &self,
        session: &Session,
        flow: &str,
        code: &str,
        name: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::Totp { sealed, .. } = &e else { return Err(LoginError::FlowExpired) };
        let secret = self
            .services
            .sealer
            .open(sealed, account.id.0.as_bytes(), "totp")
            .map_err(|_| LoginError::Internal)?;
        let secret =
            TotpSecret::from_bytes(secret.expose_secret()).map_err(|_| LoginError::Internal)?;
        let pending = self
            .services
            .totp
            .resume_enrollment(account.email.as_typed(), secret)
            .map_err(|_| LoginError::Internal)?;
        match pending.confirm(code, now) {
            Ok((credential, step)) => {
                let data = FactorData::Totp {
                    sealed_secret: sealed.clone(),
                    profile: credential.profile(),
                    last_step: Some(step.0),
                };
                let name = if name.trim().is_empty() { "Authenticator app" } else { name };
                self.add_enrolled(session, &account, FactorKind::Totp, name, data, now).await
            }
            Err(_) => {
                self.put_enrollment(flow, &e, now).await?;
                Err(LoginError::WrongSecondFactor)
            }
        }
    }

    /// Starts a WebAuthn enrollment of `kind`: the options for `navigator.credentials.create()`.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_webauthn(
        &self,
        session: &Session,
        kind: FactorKind,
        now: SystemTime,
    ) -> Result<(String, String), LoginError> {
        let account = self.may_enroll(session, now).await?;
        let ck = match kind {
            FactorKind::SecurityKey => CredentialKind::SecurityKey,
            FactorKind::Passkey => CredentialKind::Passkey,
            FactorKind::BiometricKey => CredentialKind::BiometricKey,
            _ => return Err(LoginError::MethodUnavailable),
        };
        if !self.allows(&account, kind, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let existing = self.webauthn_credentials(account.id).await?;
        let user = UserRef {
            id: account.id.0,
            name: account.email.as_typed(),
            display_name: account.email.as_typed(),
        };
        let (options, state) = self
            .services
            .webauthn
            .start_registration(ck, user, &existing, now)
            .map_err(|_| LoginError::Internal)?;
        let flow = self.random_id();
        self.put_enrollment(
            &flow,
            &Enrollment::WebAuthn { account: account.id, state: Box::new(state) },
            now,
        )
        .await?;
        Ok((flow, options.as_json().to_owned()))
    }

    pub(super) async fn webauthn_credentials(
        &self,
        account: AccountId,
    ) -> Result<Vec<WebauthnCredential>, LoginError> {
        Ok(webauthn_of(&self.store.factors(account).await?))
    }

    /// Finishes a WebAuthn enrollment with the browser's response and the name the user chose.
    ///
    /// # Errors
    /// [`LoginError::Refused`] with the reason (name taken, wrong origin …), [`LoginError::FlowExpired`].
    pub async fn finish_webauthn(
        &self,
        session: &Session,
        flow: &str,
        response_json: &str,
        name: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::WebAuthn { state, .. } = &e else { return Err(LoginError::FlowExpired) };
        let existing = self.webauthn_credentials(account.id).await?;
        let credential = self
            .services
            .webauthn
            .finish_registration(state, response_json, name, &existing, now)
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        let kind = match credential.kind() {
            CredentialKind::SecurityKey => FactorKind::SecurityKey,
            CredentialKind::Passkey => FactorKind::Passkey,
            CredentialKind::BiometricKey => FactorKind::BiometricKey,
        };
        let name = credential.name().to_owned();
        self.add_enrolled(
            session,
            &account,
            kind,
            &name,
            FactorData::WebAuthn(Box::new(credential)),
            now,
        )
        .await
        .map_err(|e| match e {
            // The store keeps credential ids unique across accounts (WebAuthn §7.1 step 22).
            LoginError::Store(StoreError::Conflict) => {
                LoginError::Refused("this authenticator is already registered".into())
            }
            e => e,
        })
    }

    /// Starts an email-code enrollment: sends a code to the account's address.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_email_code(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.allows(&account, FactorKind::EmailCode, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let pending = self.mail_email_code(&account, now).await?;
        let flow = self.random_id();
        self.put_enrollment(&flow, &Enrollment::EmailCode { account: account.id, pending }, now)
            .await?;
        Ok(flow)
    }

    /// Confirms an email-code enrollment with the code received.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`], [`LoginError::FlowExpired`].
    pub async fn confirm_email_code(
        &self,
        session: &Session,
        flow: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::EmailCode { pending, .. } = &e else { return Err(LoginError::FlowExpired) };
        let mut p = pending.clone();
        if self.services.email_codes.verify(&account.id.to_string(), &mut p, code, now).is_err() {
            self.put_enrollment(flow, &e, now).await?;
            return Err(LoginError::WrongSecondFactor);
        }
        let name = account.email.masked();
        self.add_enrolled(
            session,
            &account,
            FactorKind::EmailCode,
            &name,
            FactorData::EmailCode,
            now,
        )
        .await
    }

    /// Starts a push-device enrollment: the offer URI for the QR code.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_push(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<(String, String), LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.allows(&account, FactorKind::Push, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let (offer, pending) = self.with_rng(|r| {
            self.services.push.offer(&account.id.to_string(), account.email.as_typed(), now, r)
        });
        let eid = URL_SAFE_NO_PAD.encode(offer.enrollment_id);
        self.store
            .put_flow(
                &flow_key("pushoffer", &eid),
                &serde_json::to_vec(&pending)?,
                from_unix(pending.expires),
            )
            .await?;
        let flow = self.random_id();
        self.put_enrollment(
            &flow,
            &Enrollment::Push {
                account: account.id,
                stage: PushStage::Offered { enrollment_id: eid },
            },
            now,
        )
        .await?;
        Ok((flow, offer.to_uri().to_string()))
    }

    /// The phone registers under an offer (taken once). Returns the JSON response for the
    /// phone. The device is kept aside, not on the account: it becomes a factor only when its
    /// activation is approved and the enrolling session sees it (so whoever photographs the
    /// QR code and registers first adds nothing to the account).
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::FlowExpired`] (no such offer, or used),
    /// [`LoginError::Refused`].
    pub async fn push_device_register(
        &self,
        request_json: &str,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let req: mfa_push::RegistrationRequest =
            serde_json::from_str(request_json).map_err(|_| LoginError::Malformed)?;
        let eid = URL_SAFE_NO_PAD.encode(&req.enrollment_id);
        let bytes = self
            .store
            .take_flow(&flow_key("pushoffer", &eid), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let pending: mfa_push::PendingEnrollment = serde_json::from_slice(&bytes)?;
        let registered = self
            .with_rng(|r| self.services.push.register(&pending, request_json, now, r))
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        let account =
            AccountId(Uuid::parse_str(&pending.account).map_err(|_| LoginError::Internal)?);
        let factor = Factor {
            id: FactorId(self.uuid()),
            account,
            kind: FactorKind::Push,
            name: registered.device.display_name.clone(),
            created: unix(now),
            last_used: None,
            version: 1,
            data: FactorData::Push(Box::new(registered.device.clone())),
            suspended: None,
        };
        let device_key = URL_SAFE_NO_PAD.encode(&registered.device.id);
        self.store
            .put_flow(
                &flow_key("pushdev", &device_key),
                &serde_json::to_vec(&factor)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        if let Some(seed) = &registered.offline_totp_seed {
            let sealed = self
                .with_rng(|r| {
                    self.services.sealer.seal(seed.as_ref(), account.0.as_bytes(), "totp", r)
                })
                .map_err(|_| LoginError::Internal)?;
            let totp = Factor {
                id: FactorId(self.uuid()),
                account,
                kind: FactorKind::Totp,
                name: format!("{} (offline codes)", registered.device.display_name),
                created: unix(now),
                last_used: None,
                version: 1,
                data: FactorData::Totp {
                    sealed_secret: sealed,
                    profile: mfa_totp::Profile::DEFAULT,
                    last_step: None,
                },
                suspended: None,
            };
            // Kept aside until the device is active (see push_enrollment_status).
            self.store
                .put_flow(
                    &flow_key("pushseed", &factor.id.to_string()),
                    &serde_json::to_vec(&totp)?,
                    now + self.config.enrollment_ttl,
                )
                .await?;
        }
        self.store
            .put_flow(
                &flow_key("pushreg", &eid),
                device_key.as_bytes(),
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(registered.response)
    }

    /// Where a push enrollment stands; issues the activation challenge once the phone has
    /// registered.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`].
    pub async fn push_enrollment_status(
        &self,
        session: &Session,
        flow: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<PushEnrollmentStatus, LoginError> {
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::Push { account, stage } = &e else { return Err(LoginError::FlowExpired) };
        match stage {
            PushStage::Offered { enrollment_id } => {
                let Some(fid) =
                    self.store.take_flow(&flow_key("pushreg", enrollment_id), now).await?
                else {
                    self.put_enrollment(flow, &e, now).await?;
                    return Ok(PushEnrollmentStatus::WaitingForDevice);
                };
                let device_key = String::from_utf8(fid).map_err(|_| LoginError::Internal)?;
                let factor = self.pending_device(&device_key, now).await?;
                let fid = factor.id;
                let FactorData::Push(device) = &factor.data else {
                    return Err(LoginError::Internal);
                };
                let context = self.sign_in_context(client, now);
                let request = ChallengeRequest {
                    purpose: Purpose::Activation,
                    flow: flow.as_bytes(),
                    context,
                };
                let history = self.push_history(*account, now).await?;
                let issued = self
                    .with_rng(|r| self.services.push.issue(device, request, &history, now, r))
                    .map_err(|e| LoginError::Refused(e.to_string()))?;
                let challenge = self.record_push(*account, &issued.record, now).await?;
                let _ = self.push_sender.send(&device.push_token, &issued.hint).await;
                // From now on the device is this session's making: it never steps it up.
                self.modify_session(&session.id, |s| {
                    if !s.enrolled.contains(&fid) {
                        s.enrolled.push(fid);
                    }
                })
                .await?;
                let next = Enrollment::Push {
                    account: *account,
                    stage: PushStage::Activating { factor: fid, challenge },
                };
                self.put_enrollment(flow, &next, now).await?;
                Ok(PushEnrollmentStatus::ConfirmNumber { number: issued.number })
            }
            PushStage::Activating { factor, challenge } => {
                let record =
                    self.load_push(challenge, now).await?.ok_or(LoginError::FlowExpired)?;
                match record.state {
                    ChallengeState::Pending => {
                        self.put_enrollment(flow, &e, now).await?;
                        Ok(PushEnrollmentStatus::ConfirmNumber { number: record.number })
                    }
                    ChallengeState::Approved => {
                        let account_rec = self.account_of(session).await?;
                        let device_key = URL_SAFE_NO_PAD.encode(&record.device_id);
                        let mut f = self.pending_device(&device_key, now).await?;
                        let _ =
                            self.store.take_flow(&flow_key("pushdev", &device_key), now).await?;
                        // The phone approved its activation: it joins the account, active,
                        // for this session.
                        if let FactorData::Push(device) = &mut f.data {
                            device.active = true;
                        }
                        self.change_factors_for(session, FactorChange::Add(f.clone())).await?;
                        if let Some(seed) = self
                            .store
                            .take_flow(&flow_key("pushseed", &factor.to_string()), now)
                            .await?
                        {
                            let totp: Factor = serde_json::from_slice(&seed)?;
                            self.change_factors_for(session, FactorChange::Add(totp.clone()))
                                .await?;
                            // The offline codes are a factor of this session's making too.
                            self.enrolled_in(session, totp.id).await?;
                        }
                        let enrolled =
                            self.complete_enrollment(session, &account_rec, &f, now).await?;
                        Ok(PushEnrollmentStatus::Enrolled(Box::new(enrolled)))
                    }
                    _ => {
                        // Wrong number or denied: the device is dropped.
                        let device_key = URL_SAFE_NO_PAD.encode(&record.device_id);
                        let _ = self.store.take_flow(&flow_key("pushdev", &device_key), now).await;
                        let _ = self
                            .store
                            .take_flow(&flow_key("pushseed", &factor.to_string()), now)
                            .await;
                        Err(LoginError::WrongSecondFactor)
                    }
                }
            }
        }
    }

    /// A registered phone waiting for its activation (kept aside, not on the account).
    pub(super) async fn pending_device(
        &self,
        device_key: &str,
        now: SystemTime,
    ) -> Result<Factor, LoginError> {
        let bytes = self
            .store
            .get_flow(&flow_key("pushdev", device_key), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}
