//! A way in when the throttle holds: a sign-in link by mail. Opening it marks the browser
//! as vouched for by the mailbox, which lets it past the identifier-wide password throttle
//! (the lever strangers could pull to keep the owner out) — and nothing else: the password,
//! a second factor, and the per-address throttles still apply.

use super::*;

/// How long a sign-in link works.
const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// A sign-in link as stored (under the hash of its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LinkRecord {
    account: AccountId,
    epoch: u64,
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Mails a sign-in link to the account `identifier` names, if there is one; answers the
    /// same either way. Counted per client address and per identifier
    /// ([`crate::Policy::throttle_signup`]).
    ///
    /// # Errors
    /// [`LoginError::Throttled`].
    pub async fn send_sign_in_link(
        &self,
        identifier: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let policy = self.config.policy.throttle_signup;
        let id = LoginIdentifier::classify(identifier);
        let (id_key, _) = self.password_keys(&id, identifier, client);
        let ip = flow_key("link-ip", &crate::client_throttle_key(&client.ip));
        let target = flow_key("link-id", &id_key);
        // Every request counts on its address and on its target (no mail bomb from one
        // address, nor from many); whoever fills the target's key mails the owner links, so
        // it cannot keep the owner from getting one.
        self.admit(&ip, policy, now).await?;
        if let Err(e) = self.admit(&target, policy, now).await {
            self.refund(&[&ip], now).await?;
            return Err(e);
        }
        let (account, _) = self.account_for(&id).await?;
        let token = self.random_id();
        let key = flow_key("signin-link", &TokenHash::of(&token).to_base64url());
        let Some(account) = account else {
            // The same store write as for an account (a record nobody can redeem: its token
            // is never sent), so the time of the answer says nothing either.
            let nobody = LinkRecord { account: AccountId(Uuid::nil()), epoch: u64::MAX };
            self.store.put_flow(&key, &serde_json::to_vec(&nobody)?, now + LINK_TTL).await?;
            return Ok(());
        };
        let record = LinkRecord { account: account.id, epoch: account.session_epoch };
        self.store.put_flow(&key, &serde_json::to_vec(&record)?, now + LINK_TTL).await?;
        let notice = Notice::SignInLink {
            product: self.config.product.clone(),
            link: format!("{}#sign-in-link={token}", self.config.login_url),
            expires: now + LINK_TTL,
        };
        // The answer is the same whether or not a mail went out.
        let _ = self.mailer.send(&account.email, &notice).await;
        Ok(())
    }

    /// Whether `token` (a known-device cookie) is one of an earlier full sign-in, still valid:
    /// such a browser should keep it rather than trade it for a link's.
    pub async fn is_signed_in_device(&self, token: &str, now: SystemTime) -> bool {
        if token.is_empty() || token.len() > 128 {
            return false;
        }
        let key = flow_key("kd", &TokenHash::of(token).to_base64url());
        let Ok(Some(bytes)) = self.store.get_flow(&key, now).await else { return false };
        let Ok(d) = serde_json::from_slice::<KnownDevice>(&bytes) else { return false };
        if d.by_mail {
            return false;
        }
        matches!(self.store.account(d.account).await, Ok(Some(a)) if a.session_epoch == d.epoch)
    }

    /// Opens a sign-in link: single use, within its lifetime, and only while the account's
    /// sessions have not been revoked since. Returns a known-device token for the browser
    /// (keep it in the same cookie as a sign-in's), which passes the identifier-wide
    /// password throttle of that account only.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`] for an unknown, used, expired or revoked link.
    pub async fn redeem_sign_in_link(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        if token.is_empty() || token.len() > 128 {
            return Err(LoginError::FlowExpired);
        }
        let key = flow_key("signin-link", &TokenHash::of(token).to_base64url());
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let record: LinkRecord =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        let account = self.store.account(record.account).await?.ok_or(LoginError::FlowExpired)?;
        if account.session_epoch != record.epoch {
            return Err(LoginError::FlowExpired);
        }
        let device = self.random_id();
        let kd = flow_key("kd", &TokenHash::of(&device).to_base64url());
        let known = KnownDevice { account: account.id, epoch: record.epoch, by_mail: true };
        self.store
            .put_flow(&kd, &serde_json::to_vec(&known)?, now + self.config.known_device_ttl)
            .await?;
        Ok(device)
    }
}
