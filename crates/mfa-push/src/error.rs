//! Typed errors.

/// A message that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Over 16 KiB.
    #[error("the message is too large")]
    TooLarge,
    /// Not the JSON (or URI) shape of the message, or a field with a bad encoding.
    #[error("the message is malformed")]
    Malformed,
    /// A protocol version we do not speak.
    #[error("unsupported protocol version")]
    Version,
    /// A key of the wrong length or not on the curve.
    #[error("invalid public key")]
    Key,
}

/// Why the fatigue policy refused a new push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FatigueError {
    /// A challenge for this account is still pending.
    #[error("a push is already waiting for an answer")]
    PendingExists,
    /// Too many pushes in the short window.
    #[error("too many pushes in a short time")]
    TooManyRecent,
    /// Too many pushes today.
    #[error("too many pushes today")]
    TooManyToday,
    /// Push is suspended for the account after repeated denials.
    #[error("push is suspended after repeated denials")]
    SuspendedAfterDenials,
    /// Push is suspended for the account after a fraud report.
    #[error("push is suspended after a fraud report")]
    SuspendedAfterFraudReport,
}

/// Why a protocol step was refused. None of these change a challenge's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The message could not be read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The offer, challenge or request is past its time.
    #[error("expired")]
    Expired,
    /// The enrollment secret is not the offer's.
    #[error("wrong enrollment secret")]
    EnrollmentSecret,
    /// The enrollment offer was used already.
    #[error("the enrollment offer was used already")]
    OfferUsed,
    /// A signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// The message names another device than the record.
    #[error("wrong device")]
    WrongDevice,
    /// The message names another challenge than the record.
    #[error("wrong challenge")]
    WrongChallenge,
    /// The challenge is no longer pending (answered, expired or superseded).
    #[error("the challenge is not pending")]
    NotPending,
    /// The device has not approved its activation challenge yet.
    #[error("the device is not active")]
    InactiveDevice,
    /// The approval is not this login flow's, or was used already.
    #[error("the approval is not usable by this login")]
    NotUsable,
    /// A signed request's time is too far from the server's.
    #[error("the request time is too far from the server's")]
    ClockSkew,
    /// The server key named is unknown (device side) or retired (server side).
    #[error("unknown server key")]
    UnknownServerKey,
    /// The fatigue policy refused a new push.
    #[error(transparent)]
    Fatigue(#[from] FatigueError),
    /// A configuration value is out of range.
    #[error("invalid configuration")]
    Config,
}
