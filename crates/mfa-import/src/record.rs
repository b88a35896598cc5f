//! Auth0's bulk-import user object, as its documentation describes it: the fields this crate
//! maps, and every other field ignored.

use core::fmt;

use serde::Deserialize;

/// One user of the file. `Debug` shows no hash and no secret.
#[derive(Clone, Deserialize)]
pub struct UserRecord {
    /// The login address.
    pub email: Option<String>,
    /// Whether the source system had verified the address.
    #[serde(default)]
    pub email_verified: bool,
    /// A legacy username.
    pub username: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub family_name: Option<String>,
    /// Blocked in the source system.
    #[serde(default)]
    pub blocked: bool,
    /// A bcrypt hash (`$2a$` / `$2b$`).
    pub password_hash: Option<String>,
    /// Another hash, with its algorithm.
    pub custom_password_hash: Option<CustomHash>,
    /// Enrolled second factors.
    #[serde(default)]
    pub mfa_factors: Vec<MfaFactor>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("username", &self.username)
            .field("blocked", &self.blocked)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[REDACTED]"))
            .field("custom_password_hash", &self.custom_password_hash)
            .field("mfa_factors", &self.mfa_factors)
            .finish_non_exhaustive()
    }
}

/// `custom_password_hash`.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomHash {
    /// `bcrypt`, `argon2`, or another (refused).
    pub algorithm: String,
    /// The hash.
    pub hash: HashValue,
}

/// `custom_password_hash.hash`. `Debug` hides it.
#[derive(Clone, Deserialize)]
pub struct HashValue {
    /// The encoded hash (a PHC string for argon2, the modular crypt form for bcrypt).
    pub value: String,
}

/// One of `mfa_factors`: exactly one of its fields is set.
#[derive(Debug, Clone, Deserialize)]
pub struct MfaFactor {
    /// An authenticator app.
    pub totp: Option<TotpFactor>,
    /// A phone (SMS or voice).
    pub phone: Option<ValueField>,
    /// Codes by email.
    pub email: Option<ValueField>,
}

impl fmt::Debug for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashValue([REDACTED])")
    }
}

/// `mfa_factors[].totp`. `Debug` hides the secret.
#[derive(Clone, Deserialize)]
pub struct TotpFactor {
    /// The secret, unpadded base32.
    pub secret: String,
}

impl fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpFactor([REDACTED])")
    }
}

/// `{"value": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ValueField {
    /// The value.
    pub value: String,
}
