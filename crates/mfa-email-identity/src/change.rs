//! The email-change ceremony: start, then confirm (when the new address must confirm) and
//! revert (from the old address), with state the embedder stores between the steps.

use core::fmt;
use std::time::{Duration, SystemTime};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::notice::Notice;
use crate::time::{deadline, from_unix, unix};
use crate::token::{Token, TokenHash};
use crate::{CanonicalEmail, Canonicalizer, EmailAddress};

/// When the switch happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChangeMode {
    /// The notice's behaviour: the login address switches on save; the old address is told it
    /// no longer logs in (with a revert link), the new address gets its login message.
    Immediate,
    /// The switch happens only when the link sent to the new address is opened, so a typo or
    /// an address the user does not own never becomes the login. The old address is told of
    /// the request at once (with a cancel link). The default.
    #[default]
    ConfirmNewAddress,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A link template does not start with `https://` (or `http://` for development).
    #[error("the {0} link is not an http(s) URL")]
    LinkScheme(&'static str),
    /// A token link template does not contain `{{token}}` exactly once.
    #[error("the {0} link must contain {{token}} exactly once")]
    LinkPlaceholder(&'static str),
    /// A time to live is zero or longer than 30 days.
    #[error("the {0} time to live must be between 1 second and 30 days")]
    Ttl(&'static str),
    /// The product name is empty.
    #[error("the product name is empty")]
    ProductName,
}

/// The links that notices carry. `{token}` in the confirm and revert templates is replaced by
/// the token (base64url, URL-safe as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplates {
    confirm: String,
    revert: String,
    login: String,
}

impl LinkTemplates {
    /// Checks and keeps the three templates.
    ///
    /// # Errors
    /// [`ConfigError::LinkScheme`] or [`ConfigError::LinkPlaceholder`].
    pub fn new(confirm: &str, revert: &str, login: &str) -> Result<Self, ConfigError> {
        for (name, link, needs_token) in
            [("confirm", confirm, true), ("revert", revert, true), ("login", login, false)]
        {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return Err(ConfigError::LinkScheme(name));
            }
            if needs_token && link.matches("{token}").count() != 1 {
                return Err(ConfigError::LinkPlaceholder(name));
            }
        }
        Ok(Self { confirm: confirm.to_owned(), revert: revert.to_owned(), login: login.to_owned() })
    }

    fn fill(template: &str, token: &Token) -> String {
        template.replace("{token}", token.expose_secret())
    }
}

/// How the ceremony runs.
#[derive(Debug, Clone)]
pub struct EmailChangeConfig {
    mode: ChangeMode,
    confirm_ttl: Duration,
    revert_ttl: Duration,
    product: String,
    links: LinkTemplates,
    canonicalizer: Canonicalizer,
}

impl EmailChangeConfig {
    /// A configuration with the default mode ([`ChangeMode::ConfirmNewAddress`]), a 24-hour
    /// confirmation window and a 7-day revert window.
    ///
    /// # Errors
    /// [`ConfigError::ProductName`] for an empty name.
    pub fn new(product: &str, links: LinkTemplates) -> Result<Self, ConfigError> {
        if product.trim().is_empty() {
            return Err(ConfigError::ProductName);
        }
        Ok(Self {
            mode: ChangeMode::default(),
            confirm_ttl: Duration::from_secs(24 * 3600),
            revert_ttl: Duration::from_secs(7 * 24 * 3600),
            product: product.trim().to_owned(),
            links,
            canonicalizer: Canonicalizer::new(),
        })
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: ChangeMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets how long the confirmation link (and the cancel link) work.
    ///
    /// # Errors
    /// [`ConfigError::Ttl`] outside 1 s – 30 days.
    pub fn confirm_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        self.confirm_ttl = check_ttl(ttl, "confirmation")?;
        Ok(self)
    }

    /// Sets how long the old address can revert a switch.
    ///
    /// # Errors
    /// [`ConfigError::Ttl`] outside 1 s – 30 days.
    pub fn revert_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        self.revert_ttl = check_ttl(ttl, "revert")?;
        Ok(self)
    }

    /// Sets how addresses are compared (must match the store's uniqueness key).
    #[must_use]
    pub fn canonicalizer(mut self, canonicalizer: Canonicalizer) -> Self {
        self.canonicalizer = canonicalizer;
        self
    }
}

fn check_ttl(ttl: Duration, name: &'static str) -> Result<Duration, ConfigError> {
    if ttl.as_secs() == 0 || ttl > Duration::from_secs(30 * 24 * 3600) {
        return Err(ConfigError::Ttl(name));
    }
    Ok(ttl)
}

/// Why a step of the ceremony was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// The new address is the current one (canonically).
    #[error("the new email address is the current one")]
    SameAddress,
    /// The embedder reports the new address as taken by another account.
    #[error("the new email address is already in use")]
    AddressTaken,
    /// The link's time ran out.
    #[error("the link has expired")]
    Expired,
    /// The token is not this state's.
    #[error("the link is not valid")]
    InvalidToken,
    /// The step does not apply in this state (confirmed, reverted or cancelled already): a
    /// token works once.
    #[error("the link has already been used")]
    AlreadyUsed,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The recipient.
    pub to: EmailAddress,
    /// The message.
    pub notice: Notice,
}

/// The result of a step: the state to store in place of the old one (compare-and-swap it, so
/// that a token works once across replicas), the login address to set if it changes, and the
/// messages to send.
#[derive(Debug, Clone)]
#[must_use]
pub struct ChangeStep {
    /// The state after the step.
    pub state: EmailChangeState,
    /// `Some(address)`: make this the account's login address now (the store's atomic
    /// unique claim decides whether it is still free).
    pub set_login_email: Option<EmailAddress>,
    /// Messages to send.
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Phase {
    AwaitingConfirmation { confirm: TokenHash, cancel: TokenHash, expires: u64 },
    Switched { revert: TokenHash, expires: u64 },
    Reverted,
    Cancelled,
}

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeStatus {
    /// Waiting for the new address to confirm, until the given time.
    AwaitingConfirmation {
        /// When the confirmation (and cancel) links stop working.
        expires: SystemTime,
    },
    /// The new address is the login; the old one can revert until the given time.
    Switched {
        /// When the revert link stops working.
        revertible_until: SystemTime,
    },
    /// The old address took the account back.
    Reverted,
    /// The change was cancelled before the switch.
    Cancelled,
}

/// The ceremony's state between steps: serializable (serde), with token hashes only. Store
/// it keyed by the account and by [`EmailChangeState::token_hashes`], so a link can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChangeState {
    v: u8,
    account: String,
    old: EmailAddress,
    new: EmailAddress,
    phase: Phase,
}

impl EmailChangeState {
    /// The account the change belongs to.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The address before the change.
    #[must_use]
    pub fn old_address(&self) -> &EmailAddress {
        &self.old
    }

    /// The address asked for.
    #[must_use]
    pub fn new_address(&self) -> &EmailAddress {
        &self.new
    }

    /// Where the change stands.
    #[must_use]
    pub fn status(&self) -> ChangeStatus {
        match &self.phase {
            Phase::AwaitingConfirmation { expires, .. } => {
                ChangeStatus::AwaitingConfirmation { expires: from_unix(*expires) }
            }
            Phase::Switched { expires, .. } => {
                ChangeStatus::Switched { revertible_until: from_unix(*expires) }
            }
            Phase::Reverted => ChangeStatus::Reverted,
            Phase::Cancelled => ChangeStatus::Cancelled,
        }
    }

    /// The hashes of the tokens that can still act on this state (to index it by).
    #[must_use]
    pub fn token_hashes(&self) -> Vec<&TokenHash> {
        match &self.phase {
            Phase::AwaitingConfirmation { confirm, cancel, .. } => vec![confirm, cancel],
            Phase::Switched { revert, .. } => vec![revert],
            Phase::Reverted | Phase::Cancelled => Vec::new(),
        }
    }

    /// Whether no step can act on the state any more at `now` (so it can be deleted).
    #[must_use]
    pub fn is_finished(&self, now: SystemTime) -> bool {
        match &self.phase {
            Phase::AwaitingConfirmation { expires, .. } | Phase::Switched { expires, .. } => {
                unix(now) >= *expires
            }
            Phase::Reverted | Phase::Cancelled => true,
        }
    }
}

/// A request to change an account's login address.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRequest<'a> {
    /// The account's stable id (never the email).
    pub account: &'a str,
    /// The current login address.
    pub current: &'a EmailAddress,
    /// The address the user typed.
    pub new: &'a EmailAddress,
}

/// The ceremony. The caller is responsible for what comes before it (a recent second-factor
/// authentication: the step-up policy in `mfa-flow`) and for storing the state atomically.
#[derive(Clone)]
pub struct EmailChange {
    config: EmailChangeConfig,
}

impl fmt::Debug for EmailChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailChange").field("mode", &self.config.mode).finish_non_exhaustive()
    }
}

impl EmailChange {
    /// The ceremony with a configuration.
    #[must_use]
    pub fn new(config: EmailChangeConfig) -> Self {
        Self { config }
    }

    /// The configured mode.
    #[must_use]
    pub const fn current_mode(&self) -> ChangeMode {
        self.config.mode
    }

    /// Starts a change. `is_taken` is asked whether the new canonical address belongs to
    /// another account (a hint for a clear message; the store's unique claim is what holds).
    ///
    /// # Errors
    /// [`ChangeError::SameAddress`], [`ChangeError::AddressTaken`].
    pub fn start<R: CryptoRng + ?Sized>(
        &self,
        request: ChangeRequest<'_>,
        is_taken: impl FnOnce(&CanonicalEmail) -> bool,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<ChangeStep, ChangeError> {
        let c = &self.config.canonicalizer;
        let new_canonical = c.canonical(request.new);
        if new_canonical == c.canonical(request.current) {
            return Err(ChangeError::SameAddress);
        }
        if is_taken(&new_canonical) {
            return Err(ChangeError::AddressTaken);
        }
        let state = |phase| EmailChangeState {
            v: 1,
            account: request.account.to_owned(),
            old: request.current.clone(),
            new: request.new.clone(),
            phase,
        };
        match self.config.mode {
            ChangeMode::Immediate => Ok(self.switch(state(Phase::Cancelled), now, rng)),
            ChangeMode::ConfirmNewAddress => {
                let (confirm, confirm_hash) = Token::generate(rng);
                let (cancel, cancel_hash) = Token::generate(rng);
                let expires = deadline(now, self.config.confirm_ttl);
                let state = state(Phase::AwaitingConfirmation {
                    confirm: confirm_hash,
                    cancel: cancel_hash,
                    expires,
                });
                let product = self.config.product.clone();
                let deliveries = vec![
                    Delivery {
                        to: request.new.clone(),
                        notice: Notice::ConfirmNewAddress {
                            product: product.clone(),
                            new_address: request.new.to_string(),
                            confirm_link: LinkTemplates::fill(&self.config.links.confirm, &confirm),
                            expires: from_unix(expires),
                        },
                    },
                    Delivery {
                        to: request.current.clone(),
                        notice: Notice::EmailChangeRequested {
                            product,
                            new_address_hint: request.new.masked(),
                            cancel_link: LinkTemplates::fill(&self.config.links.revert, &cancel),
                            expires: from_unix(expires),
                        },
                    },
                ];
                Ok(ChangeStep { state, set_login_email: None, deliveries })
            }
        }
    }

    /// The new address confirms (its link was opened).
    ///
    /// # Errors
    /// [`ChangeError::AlreadyUsed`] unless awaiting confirmation, [`ChangeError::Expired`],
    /// [`ChangeError::InvalidToken`] (the cancel token does not confirm).
    pub fn confirm<R: CryptoRng + ?Sized>(
        &self,
        state: &EmailChangeState,
        token: &str,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<ChangeStep, ChangeError> {
        let Phase::AwaitingConfirmation { confirm, expires, .. } = &state.phase else {
            return Err(ChangeError::AlreadyUsed);
        };
        if !confirm.matches(token) {
            return Err(ChangeError::InvalidToken);
        }
        if unix(now) >= *expires {
            return Err(ChangeError::Expired);
        }
        Ok(self.switch(state.clone(), now, rng))
    }

    /// The old address takes the account back: before the switch this cancels the change;
    /// after it, it restores the old address. Either way the caller should end the account's
    /// other sessions: whoever asked for the change may hold one.
    ///
    /// # Errors
    /// [`ChangeError::AlreadyUsed`] when reverted or cancelled already,
    /// [`ChangeError::Expired`], [`ChangeError::InvalidToken`].
    pub fn revert(
        &self,
        state: &EmailChangeState,
        token: &str,
        now: SystemTime,
    ) -> Result<ChangeStep, ChangeError> {
        let (hash, expires, switched) = match &state.phase {
            Phase::AwaitingConfirmation { cancel, expires, .. } => (cancel, *expires, false),
            Phase::Switched { revert, expires } => (revert, *expires, true),
            Phase::Reverted | Phase::Cancelled => return Err(ChangeError::AlreadyUsed),
        };
        if !hash.matches(token) {
            return Err(ChangeError::InvalidToken);
        }
        if unix(now) >= expires {
            return Err(ChangeError::Expired);
        }
        let mut next = state.clone();
        if !switched {
            next.phase = Phase::Cancelled;
            return Ok(ChangeStep { state: next, set_login_email: None, deliveries: Vec::new() });
        }
        next.phase = Phase::Reverted;
        let deliveries = vec![Delivery {
            to: state.old.clone(),
            notice: Notice::EmailChangeReverted {
                product: self.config.product.clone(),
                restored_address: state.old.to_string(),
            },
        }];
        Ok(ChangeStep { state: next, set_login_email: Some(state.old.clone()), deliveries })
    }

    fn switch<R: CryptoRng + ?Sized>(
        &self,
        mut state: EmailChangeState,
        now: SystemTime,
        rng: &mut R,
    ) -> ChangeStep {
        let (revert, revert_hash) = Token::generate(rng);
        let expires = deadline(now, self.config.revert_ttl);
        state.phase = Phase::Switched { revert: revert_hash, expires };
        let product = self.config.product.clone();
        let deliveries = vec![
            Delivery {
                to: state.old.clone(),
                notice: Notice::EmailChangedOld {
                    product: product.clone(),
                    new_address_hint: state.new.masked(),
                    revert_link: LinkTemplates::fill(&self.config.links.revert, &revert),
                    revert_expires: from_unix(expires),
                },
            },
            Delivery {
                to: state.new.clone(),
                notice: Notice::EmailChangedNew {
                    product,
                    new_address: state.new.to_string(),
                    login_link: self.config.links.login.clone(),
                },
            },
        ];
        ChangeStep { set_login_email: Some(state.new.clone()), state, deliveries }
    }
}
