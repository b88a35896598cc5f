//! Security keys, passkeys and platform ("biometric") keys as a second factor: WebAuthn
//! registration and authentication ceremonies with expiring, serializable state, credential
//! records with names, and the browser-side JSON.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use mfa_webauthn::{CredentialKind, RelyingParty, UserRef};
//!
//! let rp = RelyingParty::builder("example.com", "Example Portal")
//!     .origin("https://portal.example.com")
//!     .build()?;
//! let user = UserRef { id: mfa_webauthn::Uuid::from_u128(7), name: "ryu@example.com", display_name: "Ryu" };
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let (options, state) = rp.start_registration(CredentialKind::SecurityKey, user, &[], now)?;
//! assert!(options.as_json().starts_with("{\"publicKey\":"));
//! // Store `state` server-side; send `options` to the browser; when the response comes back:
//! // let credential = rp.finish_registration(&state, &response_json, "YubiKey", &[], now)?;
//! # let _ = state;
//! // An origin outside the RP id is refused when the configuration is built:
//! assert!(RelyingParty::builder("example.com", "X").origin("https://evil.test").build().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## In the browser
//!
//! ```js
//! // Registration: `options` is the JSON from start_registration.
//! const pk = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
//! const cred = await navigator.credentials.create({ publicKey: pk, signal: AbortSignal.timeout(120000) });
//! await fetch("/webauthn/register", { method: "POST", body: JSON.stringify(cred.toJSON()) });
//!
//! // Authentication: `options` is the JSON from start_authentication.
//! const rq = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
//! const assertion = await navigator.credentials.get({ publicKey: rq, signal: AbortSignal.timeout(120000) });
//! await fetch("/webauthn/login", { method: "POST", body: JSON.stringify(assertion.toJSON()) });
//!
//! // May this browser register a biometric key?
//! const platform = await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable();
//! ```
//!
//! Browsers without `parse…FromJSON` need the base64url fields (`challenge`, `user.id`, the
//! ids in `excludeCredentials` / `allowCredentials`) decoded to `ArrayBuffer`s by hand, and
//! the response's `ArrayBuffer`s encoded back the same way.
//!
//! ## State
//!
//! Ceremony state is single-use only if the store makes it so: *take* it (delete and
//! return, atomically) before `finish_*`. The verifier underneath (webauthn-rs) would accept
//! the same state and response twice. Expiry is checked here.
//!
//! The verifier draws its challenges from the operating system's generator itself; that is
//! the one place this crate does not take randomness as a parameter.

#![forbid(unsafe_code)]

mod ceremony;
mod config;
mod credential;
mod error;
mod response;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use ceremony::{
    Authenticated, AuthenticationCeremony, BrowserOptions, PlatformAuthenticator,
    RegistrationCeremony, UserRef,
};
pub use config::{RelyingParty, RelyingPartyBuilder};
pub use credential::{CredentialKind, WebauthnCredential, check_name};
pub use error::{CeremonyError, ConfigError, NameError, ResponseError};
pub use response::{MAX_RESPONSE_BYTES, assertion_credential_id};
pub use uuid::Uuid;

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
