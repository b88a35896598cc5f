//! Push plumbing and the phone's endpoints: challenge records, the fatigue log, the signed fetch and answer.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    pub(super) async fn push_history(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<ChallengeRecord>, LoginError> {
        let mut out = Vec::new();
        for id in self.push_log(account, now).await? {
            if let Some(r) = self.load_push(&id, now).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub(super) async fn record_push(
        &self,
        account: AccountId,
        record: &ChallengeRecord,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let id = URL_SAFE_NO_PAD.encode(&record.id);
        // One pending push per account, atomically: the lock lives as long as the challenge.
        let lock = flow_key("pushlock", &account.to_string());
        self.store
            .put_flow_new(&lock, id.as_bytes(), from_unix(record.expires), now)
            .await
            .map_err(|e| {
                if e == StoreError::Conflict { LoginError::MethodUnavailable } else { e.into() }
            })?;
        self.save_push(&id, record, now).await?;
        let mut ids = self.push_log(account, now).await?;
        ids.push(id.clone());
        let keep = ids.len().saturating_sub(50);
        ids.drain(..keep);
        let key = flow_key("pushlog", &account.to_string());
        self.store.put_flow(&key, &serde_json::to_vec(&ids)?, now + PUSH_RECORD_TTL).await?;
        Ok(id)
    }

    /// The ids of the account's recent push challenges, oldest first.
    pub(super) async fn push_log(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        let key = flow_key("pushlog", &account.to_string());
        Ok(match self.store.get_flow(&key, now).await? {
            Some(b) => serde_json::from_slice(&b).unwrap_or_default(),
            None => Vec::new(),
        })
    }

    pub(super) async fn load_push(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<ChallengeRecord>, LoginError> {
        Ok(match self.store.get_flow(&flow_key("push", id), now).await? {
            Some(b) => Some(serde_json::from_slice(&b)?),
            None => None,
        })
    }

    pub(super) async fn save_push(
        &self,
        id: &str,
        record: &ChallengeRecord,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let keep = now + PUSH_RECORD_TTL;
        self.store.put_flow(&flow_key("push", id), &serde_json::to_vec(record)?, keep).await?;
        if record.state != ChallengeState::Pending {
            let _ = self.store.take_flow(&flow_key("pushlock", &record.account), now).await;
        }
        Ok(())
    }

    pub(super) async fn close_push(&self, id: &str, now: SystemTime) -> Result<(), LoginError> {
        if let Some(record) = self.load_push(id, now).await?
            && let Some(next) = self.services.push.close(&record, now)
        {
            let mut closed = record;
            closed.state = next;
            self.save_push(id, &closed, now).await?;
        }
        Ok(())
    }

    pub(super) async fn push_device(
        &self,
        account: &str,
        device_id: &[u8],
        now: SystemTime,
    ) -> Result<(Factor, mfa_push::DeviceRecord), LoginError> {
        let account = AccountId(Uuid::parse_str(account).map_err(|_| LoginError::Malformed)?);
        for f in self.store.factors(account).await? {
            if let FactorData::Push(d) = &f.data
                && d.id == device_id
            {
                let d = (**d).clone();
                return Ok((f, d));
            }
        }
        // A phone registered and waiting for its activation is not on the account yet.
        match self.pending_device(&URL_SAFE_NO_PAD.encode(device_id), now).await {
            Ok(f) if f.account == account => match &f.data {
                FactorData::Push(d) => {
                    let d = (**d).clone();
                    Ok((f, d))
                }
                _ => Err(LoginError::MethodUnavailable),
            },
            _ => Err(LoginError::MethodUnavailable),
        }
    }

    /// The phone's signed fetch of a challenge (after a push hint): the signed challenge.
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::MethodUnavailable`] (unknown or closed).
    pub async fn push_device_fetch(
        &self,
        request_json: &str,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let req: mfa_push::FetchRequest =
            serde_json::from_str(request_json).map_err(|_| LoginError::Malformed)?;
        let id = URL_SAFE_NO_PAD.encode(&req.challenge_id);
        let record = self.load_push(&id, now).await?.ok_or(LoginError::MethodUnavailable)?;
        let (_, device) = self.push_device(&record.account, &record.device_id, now).await?;
        self.services
            .push
            .fetch(&device, &record, request_json, now)
            .map_err(|_| LoginError::MethodUnavailable)
    }

    /// The phone's signed answer. One transition out of Pending: the challenge record is
    /// taken while it changes.
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::MethodUnavailable`], [`LoginError::WrongSecondFactor`].
    pub async fn push_device_respond(
        &self,
        response_json: &str,
        now: SystemTime,
    ) -> Result<ChallengeState, LoginError> {
        let msg: mfa_push::ResponseMessage =
            serde_json::from_str(response_json).map_err(|_| LoginError::Malformed)?;
        let id = URL_SAFE_NO_PAD.encode(&msg.challenge_id);
        let bytes = self
            .store
            .take_flow(&flow_key("push", &id), now)
            .await?
            .ok_or(LoginError::MethodUnavailable)?;
        let record: ChallengeRecord = serde_json::from_slice(&bytes)?;
        let device = self.push_device(&record.account, &record.device_id, now).await;
        let answered = device.as_ref().map_err(Clone::clone).and_then(|(_, d)| {
            self.services
                .push
                .respond(d, &record, response_json, now)
                .map_err(|_| LoginError::WrongSecondFactor)
        });
        let Ok(answered) = answered else {
            // Refused: the challenge goes back exactly as it was (and the account's pending-push
            // lock, which belongs to whichever challenge holds it, is not touched).
            let key = flow_key("push", &id);
            self.store.put_flow(&key, &bytes, now + PUSH_RECORD_TTL).await?;
            return Err(answered.err().unwrap_or(LoginError::Internal));
        };
        let mut next = record.clone();
        next.state = answered.state;
        self.save_push(&id, &next, now).await?;
        // An approved activation does not activate the device here: the enrollment does, for
        // its session (`push_enrollment_status`), so that the device is recorded as enrolled
        // in that session, the account is told, and a revoked session activates nothing.
        // A report on an activation is a phone refusing to be enrolled (it may be a stranger's
        // phone registered with a photographed code): the enrollment fails, nobody is told
        // of a sign-in that never happened.
        if answered.state == ChallengeState::FraudReported
            && record.purpose.is_sign_in()
            && let Ok(account) = Uuid::parse_str(&record.account)
        {
            let account = AccountId(account);
            self.audit(now, AuditEvent::PushFraudReported { account });
            if let Some(a) = self.store.account(account).await? {
                let notice =
                    Notice::PushFraudReported { product: self.config.product.clone(), at: now };
                self.notify(&a, notice, &id, now).await;
            }
        }
        Ok(answered.state)
    }
}
