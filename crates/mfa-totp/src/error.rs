//! Typed errors.

/// Why a secret, profile, label or otpauth URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Not base32 (RFC 4648 alphabet), or a length no encoder produces.
    #[error("the secret is not valid base32")]
    Base32,
    /// Too short (under 80 bits) or too long.
    #[error("the secret has {bytes} bytes; 10 to 128 are accepted")]
    SecretLength {
        /// The decoded length.
        bytes: usize,
    },
    /// Not `otpauth://totp/…`.
    #[error("not an otpauth://totp/ URI")]
    NotTotpUri,
    /// `otpauth://hotp/…`: counter-based codes are not supported.
    #[error("HOTP (counter-based) URIs are not supported")]
    Hotp,
    /// A malformed percent-escape, or escaped bytes that are not UTF-8.
    #[error("malformed percent-encoding in the URI")]
    PercentEncoding,
    /// No `secret=` parameter.
    #[error("the URI has no secret")]
    MissingSecret,
    /// A parameter appears twice.
    #[error("a parameter appears twice in the URI")]
    DuplicateParameter,
    /// The label's issuer and the `issuer=` parameter disagree.
    #[error("the label's issuer and the issuer parameter differ")]
    IssuerMismatch,
    /// An algorithm other than SHA1, SHA256, SHA512.
    #[error("unsupported algorithm")]
    Algorithm,
    /// Digits outside 6–8.
    #[error("codes must have 6 to 8 digits")]
    Digits,
    /// A period outside 15–60 s.
    #[error("the period must be 15 to 60 seconds")]
    Period,
    /// An issuer that is empty or holds a colon (the label's separator), or an empty
    /// account name, or one longer than 256 bytes.
    #[error("the issuer or account name is empty, too long, or contains a colon")]
    Label,
}

/// Why a typed code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Nothing typed.
    #[error("no code was entered")]
    Empty,
    /// Not the configured number of digits.
    #[error("the code must be {expected} digits")]
    WrongLength {
        /// The configured number of digits.
        expected: u8,
    },
    /// A character other than a digit (spaces are removed first).
    #[error("the code must contain only digits")]
    NotDigits,
    /// No step in the window gives this code.
    #[error("the code is not correct")]
    Mismatch,
    /// The code's step was already used (or an earlier one was): a code works once.
    #[error("the code has already been used")]
    Replayed,
}
