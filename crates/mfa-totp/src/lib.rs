//! Authenticator-app second factor (TOTP, RFC 6238): enrollment with an otpauth URI and its
//! QR code, confirmation by a first code, verification with a window and replay protection,
//! and import of credentials from other systems.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use mfa_totp::{Profile, TotpConfig, TotpCredential, VerifyError, Window};
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
//!
//! let config = TotpConfig::new("Example Portal")?;
//! let pending = config.start_enrollment("ryu@example.com", &mut rng)?;
//! assert!(pending.uri().starts_with("otpauth://totp/Example%20Portal:ryu%40example.com?secret="));
//! let _svg = pending.qr_svg(); // show this; the app scans it
//!
//! // The user types the code the app shows; only then is the credential created.
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! # let app = TotpCredential::new(pending.secret().clone(), Profile::DEFAULT);
//! let typed = app.code_at(now); // what the phone shows
//!
//! let (credential, step) = pending.confirm(&typed, now).map_err(|(_, e)| e)?;
//!
//! // Store `step` as the last used step; the same code never works again.
//! let later = now + Duration::from_secs(5);
//! assert_eq!(
//!     credential.verify(&typed, later, Window::DEFAULT, Some(step.0)),
//!     Err(VerifyError::Replayed)
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The secret never leaves the crate except as a [`TotpSecret`] (redacted `Debug`, wiped on
//! drop, not `Serialize`) for the embedder to seal. `totp-rs` generates codes
//! ([`TotpCredential::code_at`]); verification computes the window's HMACs with RustCrypto's
//! `hmac` (the key set up once per verification) — two implementations the RFC 6238 vectors
//! check against each other. None of their types appear in this API.

#![forbid(unsafe_code)]

mod credential;
mod error;
mod profile;
mod qr;
mod secret;
mod uri;

pub use credential::{AcceptedStep, PendingEnrollment, TotpConfig, TotpCredential, Window};
pub use error::{ImportError, VerifyError};
pub use profile::{Algorithm, MAX_PERIOD, Profile};
pub use secret::{
    MAX_SECRET_BYTES, MIN_IMPORT_BYTES, NEW_SECRET_BYTES, STRONG_SECRET_BYTES, TotpSecret,
};
pub use uri::{ImportedTotp, import_uri};
