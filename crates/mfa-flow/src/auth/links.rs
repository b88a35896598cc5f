//! Links sent by mail (sign-up confirmation, password reset, email change): single use,
//! and each way a link can fail has its own answer, so the page can say plainly whether the
//! link is unknown, used, expired or replaced by a later change.

use serde::de::DeserializeOwned;

use super::*;

/// Why a mailed link did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LinkProblem {
    /// No such link (mistyped, cut short, or older than the server remembers).
    Unknown,
    /// The link was used already: links work once.
    Used,
    /// The link's time ran out.
    Expired,
    /// A later change made this link void (a newer email change, a session revocation).
    Superseded,
}

/// How long a used or expired link is remembered, so its page can say which it is.
pub(super) const LINK_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A link record as stored under the hash of its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    /// When the link stops working (Unix seconds).
    expires: u64,
    /// Whether it was used.
    used: bool,
    /// What the link carries (null once used).
    body: serde_json::Value,
}

/// The store key of the link of `kind` whose token is `token`.
pub(super) fn link_key(kind: &str, token: &str) -> String {
    flow_key(kind, &TokenHash::of(token).to_base64url())
}

/// A token as it can arrive from a link: bounded, or not a link of ours.
pub(super) fn token_shape(token: &str) -> Result<(), LoginError> {
    if token.is_empty() || token.len() > 128 {
        return Err(LoginError::Link(LinkProblem::Unknown));
    }
    Ok(())
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Stores a link's record under `key` until `expires` (and remembers it for
    /// [`LINK_MEMORY`] after, to answer a late click).
    pub(super) async fn put_link<T: Serialize>(
        &self,
        key: &str,
        body: &T,
        expires: SystemTime,
    ) -> Result<(), LoginError> {
        let envelope =
            Envelope { expires: unix(expires), used: false, body: serde_json::to_value(body)? };
        let bytes = serde_json::to_vec(&envelope)?;
        self.store.put_flow(key, &bytes, expires + LINK_MEMORY).await?;
        Ok(())
    }

    /// Uses the link under `key`: of two concurrent uses, one gets the body; afterwards the
    /// link answers [`LinkProblem::Used`].
    ///
    /// # Errors
    /// [`LoginError::Link`] with what is wrong with it.
    pub(super) async fn use_link<T: DeserializeOwned>(
        &self,
        key: &str,
        now: SystemTime,
    ) -> Result<T, LoginError> {
        let bytes =
            self.store.take_flow(key, now).await?.ok_or(LoginError::Link(LinkProblem::Unknown))?;
        let envelope: Envelope =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::Link(LinkProblem::Unknown))?;
        let problem = if envelope.used {
            Some(LinkProblem::Used)
        } else if unix(now) >= envelope.expires {
            Some(LinkProblem::Expired)
        } else {
            None
        };
        let keep_until = from_unix(envelope.expires) + LINK_MEMORY;
        let remembered = Envelope { used: true, body: serde_json::Value::Null, ..envelope.clone() };
        let remembered = if problem.is_some() { &envelope } else { &remembered };
        self.store.put_flow(key, &serde_json::to_vec(remembered)?, keep_until).await?;
        if let Some(p) = problem {
            return Err(LoginError::Link(p));
        }
        serde_json::from_value(envelope.body).map_err(|_| LoginError::Link(LinkProblem::Unknown))
    }
}
