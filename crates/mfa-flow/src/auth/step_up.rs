//! Step-up: a fresh second factor for a signed-in session, from factors that existed before it.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    pub(super) fn require_step_up(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        if !self.is_fresh(session, now) {
            self.audit(now, AuditEvent::StepUpRequired { account: session.account });
            return Err(LoginError::StepUpRequired);
        }
        Ok(())
    }

    /// Whether `session` verified a second factor recently enough, under the step-up rules
    /// for its account, for a sensitive action at `now` (never for an enrollment-only one).
    #[must_use]
    pub fn is_fresh(&self, session: &Session, now: SystemTime) -> bool {
        // The rules in force now, with the facts the session was made under.
        let unknown = AccountFacts::unknown();
        let max_age = self.rules.max_age(session.facts.as_ref().unwrap_or(&unknown));
        !session.enrollment_only
            && StepUpPolicy { max_age }.is_fresh(session.second_factor_at.map(from_unix), now)
    }

    /// Starts a step-up: a second-factor challenge for a signed-in session, without the
    /// password, over the factors that existed before the session (one it enrolled never
    /// counts). Finish it like a login: the result is [`LoginStep::SteppedUp`] with the
    /// stored session's `second_factor_at` fresh.
    ///
    /// # Errors
    /// [`LoginError::MethodUnavailable`] if no such factor is usable (sign in again),
    /// [`LoginError::NotSignedIn`] for a revoked session.
    pub async fn begin_step_up(
        &self,
        session: &Session,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        Self::require_full(session)?;
        let account = self.account_of(session).await?;
        // The stored session: what it enrolled is recorded there, not in the caller's copy.
        let session = self.stored_copy(session).await?;
        // The browser's class comes from its own known-device cookie, not from holding the
        // session: a stolen session cookie alone meets the shared key of unknown browsers.
        let device = self.device_class(client, &account, now).await;
        let step = self
            .after_password(&account, false, Vec::new(), Some(&session), client, device, now)
            .await?;
        match step {
            step @ LoginStep::Challenge(_) => Ok(step),
            _ => Err(LoginError::MethodUnavailable),
        }
    }
}
