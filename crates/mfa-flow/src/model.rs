//! Accounts and factors as stored.

use core::fmt;

use mfa_email_identity::{CanonicalEmail, EmailAddress, Username};
use mfa_push::DeviceRecord;
use mfa_totp::Profile;
use mfa_webauthn::WebauthnCredential;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An account id: stable, random, never derived from the email (which can change). It is
/// also the WebAuthn user handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A factor id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactorId(pub Uuid);

impl fmt::Display for FactorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Profile fields of the settings dialog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileFields {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// `ja` or `en`.
    pub language: String,
    /// An IANA zone name, e.g. `Etc/UTC`.
    pub time_zone: String,
    /// Anonymous UI analytics consent.
    pub analytics_consent: bool,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The id.
    pub id: AccountId,
    /// Bumped by every update; updates compare-and-swap on it.
    pub version: u64,
    /// The login address as typed.
    pub email: EmailAddress,
    /// Its canonical form: unique across accounts.
    pub canonical_email: CanonicalEmail,
    /// A legacy username (existing accounts only), unique when present.
    pub username: Option<Username>,
    /// The password hash (PHC string, or an imported bcrypt hash).
    pub password_hash: String,
    /// Created at (Unix seconds).
    pub created: u64,
    /// The factor used at the last successful login (the preferred method).
    pub last_factor: Option<FactorId>,
    /// Profile fields.
    pub profile: ProfileFields,
    /// The session epoch: a session or known-device token is valid only while it carries the
    /// account's current epoch. Bumping it (a password change, an email change, a factor
    /// removal, a recovery-code login, an administrator's reset) ends every session and
    /// known-device token at once, atomically with the account update that bumps it.
    #[serde(default)]
    pub session_epoch: u64,
    /// Whether the account has ever had a second factor (retired ones included). Such an
    /// account never again enrolls a factor after the password alone: it must first prove
    /// possession of its mailbox or a recovery code.
    #[serde(default)]
    pub had_second_factor: bool,
    /// Blocked by an operator (an imported `blocked` user): the correct password signs no
    /// one in.
    #[serde(default)]
    pub disabled: bool,
    /// The address has not been confirmed (an import whose source had not verified it): the
    /// first sign-in confirms it by mail before anything else.
    #[serde(default)]
    pub email_unverified: bool,
    /// The organization or group the operator put the account in: policies may decide per
    /// group ([`crate::GroupTable`]).
    #[serde(default)]
    pub group: Option<crate::Label>,
    /// The account's role (`admin` …), set by the operator: policies may decide per role.
    #[serde(default)]
    pub role: Option<crate::Label>,
    /// Brought in by an import rather than signed up here.
    #[serde(default)]
    pub imported: bool,
}

/// Kinds of second factor. The order of the variants is not the offer order; see
/// [`FactorKind::rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FactorKind {
    /// A roaming security key (WebAuthn).
    SecurityKey,
    /// A passkey (WebAuthn, discoverable, user-verifying).
    Passkey,
    /// A platform authenticator (WebAuthn).
    BiometricKey,
    /// Push approval on a phone (mfa-push).
    Push,
    /// An authenticator app (TOTP).
    Totp,
    /// A code sent to the account's email address.
    EmailCode,
    /// Recovery codes (last resort).
    RecoveryCodes,
    /// SMS one-time code (importable, retired by default).
    Sms,
    /// Voice call (importable, retired by default).
    Voice,
}

impl FactorKind {
    /// The default offer order: phishing-resistant first (security key, passkey, biometric
    /// key), then push, authenticator app, email code; recovery codes last.
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            Self::SecurityKey => 0,
            Self::Passkey => 1,
            Self::BiometricKey => 2,
            Self::Push => 3,
            Self::Totp => 4,
            Self::EmailCode => 5,
            Self::Sms => 6,
            Self::Voice => 7,
            Self::RecoveryCodes => 8,
        }
    }

    /// Whether the kind resists phishing (binds the origin).
    #[must_use]
    pub const fn phishing_resistant(self) -> bool {
        matches!(self, Self::SecurityKey | Self::Passkey | Self::BiometricKey)
    }

    /// Whether a sign-in with it reaches AAL2 (and so may step a session up for sensitive
    /// changes): not codes by email, which prove the mailbox, not a device (NIST SP
    /// 800-63B-4 §3.1.3.1), nor the retired phone kinds.
    #[must_use]
    pub const fn reaches_aal2(self) -> bool {
        !matches!(self, Self::EmailCode | Self::Sms | Self::Voice)
    }
}

/// What a factor holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FactorData {
    /// A TOTP secret, sealed (`mfa-credentials`' `Sealer`, purpose `totp`), its profile and
    /// the last step accepted.
    Totp {
        /// The sealed secret.
        sealed_secret: Vec<u8>,
        /// Algorithm, digits, period.
        profile: Profile,
        /// The last step accepted (advanced by compare-and-swap).
        last_step: Option<u64>,
    },
    /// A WebAuthn credential.
    WebAuthn(Box<WebauthnCredential>),
    /// A push device.
    Push(Box<DeviceRecord>),
    /// Codes by email to the account's address.
    EmailCode,
    /// The stored recovery-code set (`rc1$…`).
    RecoveryCodes {
        /// The set's stored form.
        stored: String,
    },
    /// An imported phone factor (SMS or voice), masked: shown, never accepted while retired.
    Phone {
        /// The number, masked (`+81 •••• ••12`).
        masked_number: String,
    },
}

/// A second factor of an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Factor {
    /// The id.
    pub id: FactorId,
    /// Its account.
    pub account: AccountId,
    /// The kind.
    pub kind: FactorKind,
    /// The name the user gave it (or a default).
    pub name: String,
    /// Created at (Unix seconds).
    pub created: u64,
    /// Last used at.
    pub last_used: Option<u64>,
    /// Bumped by every update; updates compare-and-swap on it.
    pub version: u64,
    /// What it holds.
    pub data: FactorData,
    /// Set while the factor may not be used (a security key that looked cloned).
    #[serde(default)]
    pub suspended: Option<Suspension>,
}

impl Factor {
    /// A WebAuthn factor's credential id (unpadded base64url): unique across every account
    /// (WebAuthn §7.1 step 22), so one authenticator's credential can never stand for two
    /// users. `None` for other kinds.
    #[must_use]
    pub fn credential_id(&self) -> Option<String> {
        match &self.data {
            FactorData::WebAuthn(c) => Some(c.id_base64url()),
            _ => None,
        }
    }
}

/// Why a factor is suspended, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// Why.
    pub reason: SuspensionReason,
    /// Since (Unix seconds).
    pub since: u64,
}

/// Why a factor was suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SuspensionReason {
    /// A WebAuthn signature counter went backwards: the key may have been cloned. It stays
    /// suspended until the user, signed in freshly with another factor, re-enables it, or
    /// registers it again.
    PossibleClone,
    /// The factor failed [`crate::ThrottlePolicy::hard_limit`] times in a row (NIST SP
    /// 800-63B-4 §3.2.2: at most 100 consecutive failures). It works again once the user
    /// signs in with another factor or a recovery code.
    TooManyFailures,
}
