//! Sign-up: email only, the password policy, look-alike addresses, no enumeration, and an
//! address proven before any account exists.
//!
//! A sign-up creates no account: it stores a pending record (the account it would create,
//! with the password's hash) and mails the address a code and a link. The account exists
//! only once the code is typed in the sign-up page or the link is opened — and opening the
//! link asks for the password chosen at sign-up, so the owner of a mailbox cannot be tricked
//! into confirming an account someone else set up with their address (pre-account
//! hijacking). Unconfirmed sign-ups expire ([`crate::AuthConfig::signup_ttl`]) and hold
//! nothing back: a later sign-up that confirms first wins, and the others are void.

use super::links::{LINK_MEMORY, LinkProblem, token_shape};
use super::*;

/// Wrong codes or passwords one pending sign-up allows before its code stops working.
const CONFIRM_ATTEMPTS: u8 = 3;

/// A sign-up waiting for its address to be confirmed. The answer is the same whether or not
/// the address has an account (its owner is told by mail instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpStarted {
    /// The pending sign-up's id: the sign-up page sends it back with the code from the mail.
    pub flow: String,
    /// Until when the code works.
    pub code_expires: SystemTime,
    /// Until when the link works.
    pub expires: SystemTime,
}

/// A pending sign-up as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingSignUp {
    /// The account to create; `None` when the address already has one (no code matches).
    account: Option<Account>,
    /// The code mailed, until it is used up.
    code: Option<PendingEmailCode>,
    /// Wrong codes and passwords so far.
    failures: u8,
    /// The throttle key of code guesses: the target mailbox, for a decoy too (so the
    /// throttle tells no accounts apart).
    #[serde(default)]
    mailbox_key: String,
}

/// The link of a pending sign-up, as stored under the hash of its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignUpLink {
    flow: String,
    expires: u64,
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Starts a sign-up (email only: new accounts never get a username): checks the address
    /// and the password policy, and mails the address a code and a link that create the
    /// account ([`Auth::confirm_sign_up_code`], [`Auth::confirm_sign_up_link`]). Sign-ups
    /// are counted per client address and per target mailbox before anything else
    /// ([`crate::Policy::throttle_signup`]), whether or not the address has an account. An
    /// address that has an account gets the same answer; its owner is told by mail (at most
    /// once per [`crate::AuthConfig::notice_repeat_window`]).
    ///
    /// # Errors
    /// [`LoginError::Refused`] for an invalid address or a password the policy refuses;
    /// [`LoginError::Throttled`]; [`LoginError::Overloaded`].
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<SignUpStarted, LoginError> {
        let email = EmailAddress::parse(email).map_err(|e| LoginError::Refused(e.to_string()))?;
        let policy = self.config.policy.throttle_signup;
        let ip = flow_key("signup-ip", &crate::client_throttle_key(&client.ip));
        let canonical = self.config.canonicalizer.canonical(&email);
        let mailbox = self.mailbox_key("signup-mbox", &canonical);
        // Every sign-up counts on its address and on its target mailbox.
        self.admit(&ip, policy, now).await?;
        if let Err(e) = self.admit(&mailbox, policy, now).await {
            self.refund(&[&ip], now).await?;
            return Err(e);
        }
        self.check_lookalike(&email)?;
        let hash = self.new_password_hash(password, email.as_typed(), None).await?;
        let flow = self.random_id();
        let expires = now + self.config.signup_ttl;
        let (code, pending_code) =
            self.with_rng(|r| self.services.email_codes.issue(&flow, now, r));
        let started =
            SignUpStarted { flow: flow.clone(), code_expires: pending_code.expires(), expires };
        let owner = self.store.account_by_email(&canonical).await?;
        let account = Account {
            id: AccountId(self.uuid()),
            version: 1,
            canonical_email: canonical,
            email,
            username: None,
            password_hash: hash,
            created: unix(now),
            last_factor: None,
            profile: crate::ProfileFields::default(),
            session_epoch: 0,
            had_second_factor: false,
            disabled: false,
            email_unverified: false,
            group: None,
            role: None,
            imported: false,
        };
        let record = PendingSignUp {
            account: owner.is_none().then(|| account.clone()),
            code: Some(pending_code),
            failures: 0,
            mailbox_key: self.mailbox_key("signup-confirm", &account.canonical_email),
        };
        // The same writes either way, so the time of the answer says nothing.
        let key = flow_key("signup", &flow);
        self.store.put_flow(&key, &serde_json::to_vec(&record)?, expires).await?;
        let token = self.random_id();
        let link = SignUpLink { flow, expires: unix(expires) };
        let link_key = flow_key("signup-link", &TokenHash::of(&token).to_base64url());
        self.store.put_flow(&link_key, &serde_json::to_vec(&link)?, expires + LINK_MEMORY).await?;
        if let Some(owner) = owner {
            let notice = Notice::AccountExists {
                product: self.config.product.clone(),
                login_link: self.config.login_url.clone(),
            };
            self.notify(&owner, notice, "sign-up", now).await;
            return Ok(started);
        }
        let notice = Notice::ConfirmSignUp {
            product: self.config.product.clone(),
            code: code.expose_secret().to_owned(),
            code_expires: started.code_expires,
            link: format!("{}#token={token}", self.config.signup_confirm_url),
            expires,
        };
        // A mail that cannot be sent changes nothing in the answer.
        let _ = self.mailer.send(&account.email, &notice).await;
        Ok(started)
    }

    /// Confirms a sign-up with the code from its mail, typed in the page that signed up:
    /// creates the account. A few wrong codes use the code up (the link still works), and
    /// wrong codes are counted per mailbox across sign-ups.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`], [`LoginError::FlowExpired`] (unknown, confirmed,
    /// expired or used up), [`LoginError::AccountExists`] (the address got an account
    /// meanwhile: sign in), [`LoginError::Throttled`].
    pub async fn confirm_sign_up_code(
        &self,
        flow: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        if flow.is_empty() || flow.len() > 128 {
            return Err(LoginError::FlowExpired);
        }
        let key = flow_key("signup", flow);
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let mut record: PendingSignUp = serde_json::from_slice(&bytes)?;
        let Some(mut pending) = record.code.take() else {
            self.store.put_flow(&key, &bytes, self.pending_until(&record, now)).await?;
            return Err(LoginError::FlowExpired);
        };
        // Code guesses count on the mailbox across its sign-ups: a 6-digit code is no way to
        // claim someone else's address.
        let throttle = record.mailbox_key.clone();
        if let Err(e) = self.admit(&throttle, self.config.policy.throttle_signup, now).await {
            record.code = Some(pending);
            self.put_pending(&key, &record, now).await?;
            return Err(e);
        }
        let right = record.account.is_some()
            && self.services.email_codes.verify(flow, &mut pending, code, now).is_ok();
        if !right {
            record.failures = record.failures.saturating_add(1);
            let expired = unix(now) >= unix(pending.expires());
            if record.failures < CONFIRM_ATTEMPTS && !expired {
                record.code = Some(pending);
            }
            self.put_pending(&key, &record, now).await?;
            return Err(if expired {
                LoginError::FlowExpired
            } else {
                LoginError::WrongSecondFactor
            });
        }
        self.refund(&[&throttle], now).await?;
        self.create_confirmed(record, now).await
    }

    /// Confirms a sign-up with its mailed link and the password chosen at sign-up (someone
    /// who did not sign up does not know it, so cannot confirm an account set up in their
    /// name): creates the account.
    ///
    /// # Errors
    /// [`LoginError::Link`] (unknown, used or expired link), [`LoginError::InvalidCredentials`]
    /// (the link stays usable), [`LoginError::AccountExists`] (the address got an account
    /// meanwhile: sign in), [`LoginError::Throttled`], [`LoginError::Overloaded`].
    pub async fn confirm_sign_up_link(
        &self,
        token: &str,
        password: &str,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        token_shape(token)?;
        let link_key = flow_key("signup-link", &TokenHash::of(token).to_base64url());
        let bytes = self
            .store
            .get_flow(&link_key, now)
            .await?
            .ok_or(LoginError::Link(LinkProblem::Unknown))?;
        let link: SignUpLink =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::Link(LinkProblem::Unknown))?;
        if unix(now) >= link.expires {
            return Err(LoginError::Link(LinkProblem::Expired));
        }
        let key = flow_key("signup", &link.flow);
        let bytes =
            self.store.take_flow(&key, now).await?.ok_or(LoginError::Link(LinkProblem::Used))?;
        let mut record: PendingSignUp = serde_json::from_slice(&bytes)?;
        let Some(account) = record.account.clone() else {
            // A decoy's link is never sent.
            return Err(LoginError::Link(LinkProblem::Unknown));
        };
        // The link's token is a secret of the mailbox: its password tries count on this
        // sign-up only, so guesses at someone's codes never hold the owner's link back.
        let throttle = flow_key("signup-link-pw", &TokenHash::of(&link.flow).to_base64url());
        if let Err(e) = self.admit(&throttle, self.config.policy.throttle_signup, now).await {
            self.put_pending(&key, &record, now).await?;
            return Err(e);
        }
        let checked = match Password::new(password) {
            Ok(pw) => match self.services.passwords.verify(pw, account.password_hash.clone()) {
                Ok(pending) => pending.await,
                Err(e) => Err(e),
            },
            Err(_) => Err(mfa_credentials::Error::PasswordMismatch),
        };
        match checked {
            Ok(_) => {}
            Err(mfa_credentials::Error::Busy) => {
                self.refund(&[&throttle], now).await?;
                self.put_pending(&key, &record, now).await?;
                return Err(pool_error(mfa_credentials::Error::Busy));
            }
            Err(_) => {
                record.failures = record.failures.saturating_add(1);
                self.put_pending(&key, &record, now).await?;
                return Err(LoginError::InvalidCredentials);
            }
        }
        self.refund(&[&throttle], now).await?;
        self.create_confirmed(record, now).await
    }

    /// A throttle key naming a mailbox without storing its address.
    pub(super) fn mailbox_key(
        &self,
        prefix: &str,
        canonical: &mfa_email_identity::CanonicalEmail,
    ) -> String {
        let h = TokenHash::of(&format!("mfa-{prefix}\u{0}{}", canonical.as_str()));
        flow_key(prefix, &h.to_base64url())
    }

    fn pending_until(&self, record: &PendingSignUp, now: SystemTime) -> SystemTime {
        record
            .account
            .as_ref()
            .map_or(now, |a| from_unix(a.created) + self.config.signup_ttl)
            .max(now + Duration::from_secs(1))
    }

    async fn put_pending(
        &self,
        key: &str,
        record: &PendingSignUp,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let until = self.pending_until(record, now);
        self.store.put_flow(key, &serde_json::to_vec(record)?, until).await?;
        Ok(())
    }

    /// Creates the account of a confirmed sign-up (its grace period starts now).
    async fn create_confirmed(
        &self,
        record: PendingSignUp,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        let mut account = record.account.ok_or(LoginError::FlowExpired)?;
        account.created = unix(now);
        match self.store.create_account(&account).await {
            Ok(()) => {
                self.audit(now, AuditEvent::SignUpConfirmed { account: account.id });
                Ok(account)
            }
            // Another sign-up of this address confirmed first (or an account took it).
            Err(StoreError::Conflict) => Err(LoginError::AccountExists),
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
        let policy = mfa_credentials::PasswordPolicy {
            blocklist: Box::new(Arc::clone(&self.config.blocklist)),
            ..mfa_credentials::PasswordPolicy::new(mfa_credentials::PasswordRole::MultiFactor)
        };
        let context = mfa_credentials::PasswordContext {
            service_name: Some(&self.config.product),
            email: Some(email_local),
            username,
        };
        policy.check(&pw, &context).map_err(|v| LoginError::Refused(v.to_string()))?;
        self.hash_password(pw).await
    }
}
