//! An open push-approval protocol with number matching, specified to the byte in
//! `PROTOCOL.md`: the enrollment offer (a QR code), device registration, server-signed
//! challenges carrying the sign-in context, device-signed answers covering what the user
//! saw and the number they typed, the server's state machine and fatigue limits — and the
//! device side (feature `device`).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use mfa_push::{
//!     ChallengeRequest, Decision, KeyAlgorithm, Purpose, PushConfig, PushServer, ServerKeys,
//!     SignInContext,
//! };
//! use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
//! # use rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//! # #[allow(clippy::disallowed_methods)]
//! let sys = ring::rand::SystemRandom::new(); // device-side signing randomness
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//!
//! let server = PushServer::new(
//!     PushConfig::new("https://portal.example.com", "Example Portal"),
//!     ServerKeys::new(&[("2026-11", [7; 32])])?,
//! )?;
//! let (offer, pending) = server.offer("acct-1", "ryu@example.com", now, &mut rng);
//!
//! // The phone scans offer.to_uri(), makes a key, registers.
//! let scanned = mfa_push::EnrollmentOffer::parse(&offer.to_uri())?;
//! let key = DeviceKey::generate(KeyAlgorithm::P256, &sys)?;
//! let request = registration_request(&scanned, &key, "iPhone", "apns-token", now, &sys)?;
//! let registered = server.register(&pending, &request, now, &mut rng)?;
//! let mut record = registered.device;
//! let phone = EnrolledDevice::new(&scanned, key, &registered.response)?;
//!
//! // Activation: the first challenge must be approved with the number on the screen.
//! let ctx = SignInContext { application: "Example Portal".into(), ..Default::default() };
//! let request = ChallengeRequest { purpose: Purpose::Activation, flow: b"flow-1", context: ctx };
//! let issued = server.issue(&record, request, &[], now, &mut rng)?;
//! let fetch = phone.fetch_request(&issued.hint.challenge_id, now, &sys)?;
//! let challenge = phone.verify_challenge(&server.fetch(&record, &issued.record, &fetch, now)?, now, 30)?;
//! let answer = phone.answer(&challenge, Decision::Approve, issued.number, &sys)?;
//! let outcome = server.respond(&record, &issued.record, &answer, now)?;
//! assert!(outcome.activate_device);
//! record.active = true;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The server side is pure: records in, records and messages out. The store applies each
//! state change with a compare-and-swap (one transition out of `Pending`); the embedder's
//! transport delivers [`PushHint`]s, which carry ids only.

#![forbid(unsafe_code)]

#[cfg(feature = "device")]
pub mod device;
mod error;
mod protocol;
mod server;
mod wire;

pub use error::{DecodeError, FatigueError, PushError};
pub use protocol::{
    ChallengeMessage, Decision, DevicePublicKey, EnrollmentOffer, FetchRequest, KeyAlgorithm,
    MAX_MESSAGE_BYTES, Purpose, PushHint, RegistrationRequest, RegistrationResponse,
    ResponseMessage, RotateRequest, SignInContext, UnenrollRequest, VERSION, challenge_input,
    fetch_input, registration_input, response_input, rotate_input, server_url_ok, unenroll_input,
};
pub use server::{
    Answered, ChallengeRecord, ChallengeRequest, ChallengeState, DeviceRecord, FatiguePolicy,
    IssuedChallenge, PendingEnrollment, PushConfig, PushServer, Registered, ServerKeys,
};
