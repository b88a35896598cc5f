//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// Variants carry no secret and no user input, so an `Error` can be logged as it is. An
/// embedder turns [`Error::PasswordMismatch`], [`Error::RecoveryCodeInvalid`] and the like
/// into *one* outward answer (see the `mfa-flow` crate); the detail is for audit logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The password does not match the stored hash (or the account does not exist, on the
    /// dummy path).
    #[error("password does not match")]
    PasswordMismatch,
    /// The password is empty.
    #[error("password is empty")]
    PasswordEmpty,
    /// The password input is longer than [`crate::Password::MAX_INPUT_BYTES`]; it was refused
    /// before any hashing or normalization.
    #[error("password input longer than {max} bytes")]
    PasswordTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The stored hash is not a well-formed PHC or bcrypt string.
    #[error("malformed stored password hash: {0}")]
    MalformedHash(HashFormatError),
    /// The stored hash names an algorithm this crate does not verify (or whose feature is off).
    #[error("unsupported password hash algorithm")]
    UnsupportedAlgorithm,
    /// The stored hash asks for parameters beyond the configured [`crate::ParamLimits`]
    /// (for example m = 4 GiB): refused rather than attempted.
    #[error("password hash parameters beyond the configured limits")]
    ParamsOutOfBounds,
    /// The stored hash was made with a pepper whose key id is not configured.
    #[error("password hash uses an unknown pepper key id")]
    UnknownPepper,
    /// Hashing parameters given to a builder are invalid.
    #[error("invalid hashing configuration")]
    InvalidConfig,
    /// The hashing pool cannot take the request in time (its queue is full, or the request
    /// waited past the pool's `max_wait`): answer "try again later" (HTTP 503).
    #[error("password hashing pool is busy")]
    Busy,
    /// The hashing pool has shut down or a worker was lost.
    #[error("password hashing pool is not running")]
    PoolClosed,
    /// A recovery code does not have the expected shape (length, alphabet).
    #[error("recovery code is malformed")]
    RecoveryCodeMalformed,
    /// A recovery code matches no unused code of the set.
    #[error("recovery code does not match")]
    RecoveryCodeInvalid,
    /// A recovery code matches a code that was already used.
    #[error("recovery code was already used")]
    RecoveryCodeUsed,
    /// A stored recovery-code set does not parse.
    #[error("malformed stored recovery code set")]
    RecoveryCodeSetMalformed,
    /// A sealed blob names a key id that is not in the key ring.
    #[error("sealed blob uses an unknown key id")]
    UnknownKeyId,
    /// A sealed blob is not in a known format (too short, unknown version).
    #[error("malformed sealed blob")]
    SealedBlobMalformed,
    /// A sealed blob failed authentication: tampered, or bound to another owner or purpose.
    #[error("sealed blob could not be opened")]
    SealOpenFailed,
    /// A key given to a key ring is unusable (wrong length, duplicate id).
    #[error("invalid key material")]
    InvalidKey,
}

/// Why a stored hash string is malformed. No part of the string is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashFormatError {
    /// Not a PHC string (`$alg$v=..$params$salt$hash`) nor a bcrypt string.
    #[error("not a PHC string")]
    Syntax,
    /// An argon2 version other than 0x10 or 0x13.
    #[error("unknown argon2 version")]
    Version,
    /// Parameters missing or not numbers.
    #[error("bad parameters")]
    Params,
    /// Salt missing or of a bad length.
    #[error("bad salt")]
    Salt,
    /// Hash output missing or of a bad length.
    #[error("bad hash output")]
    Output,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
