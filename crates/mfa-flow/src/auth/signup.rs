//! Sign-up: email only, the password policy, look-alike addresses, no enumeration.

use super::*;

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Creates an account (email only: new accounts never get a username). Sign-ups are
    /// counted per client address and per target mailbox before anything else
    /// ([`crate::Policy::throttle_signup`]), whether or not the address has an account.
    ///
    /// # Errors
    /// [`LoginError::Refused`] for an invalid address or a password the policy refuses;
    /// [`LoginError::AccountExists`] if the address has an account (its owner is told by
    /// mail, at most once per [`crate::AuthConfig::notice_repeat_window`]; answer the client
    /// as for a success); [`LoginError::Throttled`]; [`LoginError::Overloaded`].
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        let email = EmailAddress::parse(email).map_err(|e| LoginError::Refused(e.to_string()))?;
        let policy = self.config.policy.throttle_signup;
        let ip = flow_key("signup-ip", &crate::client_throttle_key(&client.ip));
        let canonical = self.config.canonicalizer.canonical(&email);
        let mailbox = TokenHash::of(&format!("mfa-signup\u{0}{}", canonical.as_str()));
        let mailbox = flow_key("signup-mbox", &mailbox.to_base64url());
        // Every sign-up counts on its address and on its target mailbox.
        self.admit(&ip, policy, now).await?;
        if let Err(e) = self.admit(&mailbox, policy, now).await {
            self.refund(&[&ip], now).await?;
            return Err(e);
        }
        self.check_lookalike(&email)?;
        let hash = self.new_password_hash(password, email.as_typed(), None).await?;
        let account = Account {
            id: AccountId(self.uuid()),
            version: 1,
            canonical_email: self.config.canonicalizer.canonical(&email),
            email,
            username: None,
            password_hash: hash,
            created: unix(now),
            last_factor: None,
            profile: crate::ProfileFields::default(),
            session_epoch: 0,
            had_second_factor: false,
        };
        match self.store.create_account(&account).await {
            Ok(()) => Ok(account),
            Err(StoreError::Conflict) => {
                // The owner hears of it, once an hour at most (a sign-up loop is no mail
                // bomb); a mail that cannot be sent changes nothing in the answer, which
                // must not differ from a new account's.
                if let Some(owner) = self.store.account_by_email(&account.canonical_email).await? {
                    let notice = Notice::AccountExists {
                        product: self.config.product.clone(),
                        login_link: self.config.login_url.clone(),
                    };
                    self.notify(&owner, notice, "sign-up", now).await;
                }
                Err(LoginError::AccountExists)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn check_lookalike(&self, email: &EmailAddress) -> Result<(), LoginError> {
        if self.config.policy.refuse_lookalike_emails
            && mfa_email_identity::assess(email).is_suspicious()
        {
            return Err(LoginError::Refused(
                "the address mixes scripts or imitates another address".into(),
            ));
        }
        Ok(())
    }

    pub(super) async fn new_password_hash(
        &self,
        password: &str,
        email_local: &str,
        username: Option<&str>,
    ) -> Result<String, LoginError> {
        let pw = Password::new(password).map_err(|e| LoginError::Refused(e.to_string()))?;
        let policy =
            mfa_credentials::PasswordPolicy::new(mfa_credentials::PasswordRole::MultiFactor);
        let context = mfa_credentials::PasswordContext {
            service_name: Some(&self.config.product),
            email: Some(email_local),
            username,
        };
        policy.check(&pw, &context).map_err(|v| LoginError::Refused(v.to_string()))?;
        self.hash_password(pw).await
    }
}
