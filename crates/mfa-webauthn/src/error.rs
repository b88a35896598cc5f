//! Typed errors.

/// Why a relying-party configuration was refused (when it is built, not at login).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The RP id is empty, has a scheme, port or path, is an IP address, or is not a
    /// lower-case domain.
    #[error("the RP id must be a lower-case domain name such as example.com")]
    RpId,
    /// The RP name is empty.
    #[error("the RP name is empty")]
    RpName,
    /// No origin was given.
    #[error("at least one origin is required")]
    NoOrigin,
    /// An origin does not parse as a URL.
    #[error("the origin {0} is not a URL")]
    OriginUnparsable(String),
    /// An origin is neither `https://…` nor `http://localhost[:port]`.
    #[error("the origin {0} must be https (or http://localhost for development)")]
    OriginScheme(String),
    /// An origin's host is an IP address (browsers refuse WebAuthn there).
    #[error("the origin {0} is an IP address; use a domain (http://localhost for development)")]
    OriginIsIp(String),
    /// An origin's host is neither the RP id nor a subdomain of it.
    #[error("the origin {0} is not under the RP id")]
    OriginNotUnderRpId(String),
    /// An origin has a path, query or fragment.
    #[error("the origin {0} must be scheme, host and port only")]
    OriginHasPath(String),
    /// A ceremony lifetime of zero or over 30 minutes.
    #[error("the ceremony lifetime must be between 1 second and 30 minutes")]
    Ttl,
}

/// Why a credential name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty after trimming.
    #[error("the name is empty")]
    Empty,
    /// Over 64 characters.
    #[error("the name is longer than 64 characters")]
    TooLong,
    /// A control character.
    #[error("the name contains a control character")]
    ControlCharacter,
    /// Another credential of the user has this name (compared case-insensitively).
    #[error("another key already has this name")]
    Taken,
}

/// Why a browser response could not even be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Over 64 KiB.
    #[error("the response is too large")]
    TooLarge,
    /// Not JSON, or not the shape of a WebAuthn response (missing or mistyped field, bad
    /// base64url).
    #[error("the response is not a valid WebAuthn credential")]
    Malformed,
}

/// Why a ceremony step was refused. Each refusal has its own variant for logs and audit; a
/// login page should show one message for all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The browser response could not be read.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The state's time ran out.
    #[error("the ceremony expired")]
    Expired,
    /// The state is for another kind of ceremony (registration vs authentication).
    #[error("the state belongs to another ceremony")]
    WrongState,
    /// The user has no WebAuthn credential to authenticate with.
    #[error("no credentials to authenticate with")]
    NoCredentials,
    /// The client data's origin is not one of ours.
    #[error("wrong origin")]
    WrongOrigin,
    /// The authenticator data is for another RP id.
    #[error("wrong RP id")]
    WrongRpId,
    /// The challenge is not this ceremony's.
    #[error("the challenge does not match this ceremony")]
    ChallengeMismatch,
    /// The client data is not `webauthn.create` / `webauthn.get` as expected.
    #[error("wrong client data type")]
    WrongClientDataType,
    /// The credential is not one of this user's (or is another user's).
    #[error("unknown credential")]
    UnknownCredential,
    /// The user handle in the assertion is not this user's.
    #[error("the credential belongs to another user")]
    WrongUser,
    /// The credential is registered already.
    #[error("this authenticator is already registered")]
    AlreadyRegistered,
    /// User presence was not asserted.
    #[error("user presence missing")]
    UserNotPresent,
    /// User verification (PIN, biometrics) was required and not done.
    #[error("user verification missing")]
    UserVerificationMissing,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A non-zero signature counter did not rise: the credential may have been cloned.
    #[error("the signature counter did not rise: possible cloned authenticator")]
    PossibleClone,
    /// The credential name was refused.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Anything else the verifier refused (malformed authenticator data, unsupported key
    /// type, bad attestation …), with its name for logs.
    #[error("refused by the verifier: {0}")]
    Refused(&'static str),
}

impl From<webauthn_rs_core::error::WebauthnError> for CeremonyError {
    fn from(e: webauthn_rs_core::error::WebauthnError) -> Self {
        use webauthn_rs_core::error::WebauthnError as W;
        match e {
            W::InvalidRPOrigin | W::CredentialCrossOrigin => Self::WrongOrigin,
            W::InvalidRPIDHash => Self::WrongRpId,
            W::MismatchedChallenge | W::ChallengeNotFound => Self::ChallengeMismatch,
            W::InvalidClientDataType => Self::WrongClientDataType,
            W::CredentialNotFound => Self::UnknownCredential,
            W::CredentialAlreadyExists | W::CredentialExcludedFromRequest => {
                Self::AlreadyRegistered
            }
            W::UserNotPresent => Self::UserNotPresent,
            W::UserNotVerified => Self::UserVerificationMissing,
            W::AuthenticationFailure | W::SignatureInvalid => Self::BadSignature,
            W::CredentialPossibleCompromise => Self::PossibleClone,
            W::ParseCBORFailure(_)
            | W::ParseJSONFailure(_)
            | W::ParseNOMFailure
            | W::ParseInsufficientBytesAvailable => Self::Response(ResponseError::Malformed),
            other => Self::Refused(refusal_name(&other)),
        }
    }
}

fn refusal_name(e: &webauthn_rs_core::error::WebauthnError) -> &'static str {
    use webauthn_rs_core::error::WebauthnError as W;
    match e {
        W::MissingAttestationCredentialData => "missing attested credential data",
        W::CredentialAlteredAlgFromRequest | W::COSEKeyInvalidAlgorithm => "algorithm not offered",
        W::CredentialInsecureCryptography => "insecure cryptography",
        W::InconsistentUserVerificationPolicy => "inconsistent user verification policy",
        W::CredentialBackupEligibilityInconsistent => "backup eligibility changed",
        W::COSEKeyInvalidCBORValue
        | W::COSEKeyInvalidType
        | W::COSEKeyECDSAXYInvalid
        | W::COSEKeyECDSAInvalidCurve
        | W::COSEKeyEDUnsupported
        | W::COSEKeyEDDSAXInvalid
        | W::COSEKeyEDDSAInvalidCurve
        | W::COSEKeyRSANEInvalid
        | W::EcdsaPointInvalid => "invalid public key",
        _ => "other",
    }
}
