//! The phone side: what an authenticator app does, for apps written in Rust, for the
//! `push-device` example, and as the reference a mobile team checks against.

use core::fmt;
use std::time::SystemTime;

use ring::rand::SecureRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _, UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::protocol::{
    ChallengeMessage, DevicePublicKey, EnrollmentOffer, FetchRequest, RegistrationRequest,
    RegistrationResponse, ResponseMessage, RotateRequest, UnenrollRequest, VERSION,
    challenge_input, fetch_input, parse_json, registration_input, response_input, rotate_input,
    unenroll_input,
};
use crate::server::unix;
use crate::{Decision, DecodeError, KeyAlgorithm, Purpose, PushError, SignInContext};

enum Pair {
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A device key pair (in an app: the key lives in the Secure Enclave / StrongBox and only
/// its signatures leave it). `Debug` shows the public key only.
pub struct DeviceKey {
    pair: Pair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeviceKey").field(&self.public_key()).finish()
    }
}

impl DeviceKey {
    /// Generates a key.
    ///
    /// # Errors
    /// [`PushError::Config`] if the generator fails.
    pub fn generate(alg: KeyAlgorithm, rng: &dyn SecureRandom) -> Result<Self, PushError> {
        let pkcs8 = match alg {
            KeyAlgorithm::P256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng)
            }
            KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(rng),
        }
        .map_err(|_| PushError::Config)?;
        Self::from_pkcs8(alg, pkcs8.as_ref(), rng)
    }

    /// Loads a key from PKCS#8.
    ///
    /// # Errors
    /// [`DecodeError::Key`] if the bytes are not such a key.
    pub fn from_pkcs8(
        alg: KeyAlgorithm,
        pkcs8: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<Self, PushError> {
        let pair = match alg {
            KeyAlgorithm::P256 => Pair::P256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, rng)
                    .map_err(|_| DecodeError::Key)?,
            ),
            KeyAlgorithm::Ed25519 => Pair::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| DecodeError::Key)?,
            ),
        };
        Ok(Self { pair, pkcs8: Zeroizing::new(pkcs8.to_vec()) })
    }

    /// The PKCS#8 document, to keep in the device's secure storage.
    #[must_use]
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> DevicePublicKey {
        match &self.pair {
            Pair::P256(p) => {
                DevicePublicKey { alg: KeyAlgorithm::P256, bytes: p.public_key().as_ref().to_vec() }
            }
            Pair::Ed25519(p) => DevicePublicKey {
                alg: KeyAlgorithm::Ed25519,
                bytes: p.public_key().as_ref().to_vec(),
            },
        }
    }

    fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, PushError> {
        match &self.pair {
            Pair::P256(p) => {
                p.sign(rng, message).map(|s| s.as_ref().to_vec()).map_err(|_| PushError::Config)
            }
            Pair::Ed25519(p) => Ok(p.sign(message).as_ref().to_vec()),
        }
    }
}

/// The registration request for an offer, as JSON to POST to the server.
///
/// # Errors
/// [`PushError::Expired`] if the offer is past its time at `now`.
pub fn registration_request(
    offer: &EnrollmentOffer,
    key: &DeviceKey,
    display_name: &str,
    push_token: &str,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<String, PushError> {
    if unix(now) >= offer.expires {
        return Err(PushError::Expired);
    }
    let public_key = key.public_key();
    let input = registration_input(
        &offer.server,
        &offer.enrollment_id,
        offer.secret.as_ref(),
        &public_key,
        display_name,
        push_token,
    );
    let req = RegistrationRequest {
        v: VERSION,
        enrollment_id: offer.enrollment_id.to_vec(),
        secret: offer.secret.to_vec(),
        public_key,
        display_name: display_name.to_owned(),
        push_token: push_token.to_owned(),
        signature: key.sign(&input, rng)?,
    };
    serde_json::to_string(&req).map_err(|_| DecodeError::Malformed.into())
}

/// A challenge whose server signature verified: what the app shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChallenge {
    msg: ChallengeMessage,
}

impl VerifiedChallenge {
    /// The sign-in context to show.
    #[must_use]
    pub fn context(&self) -> &SignInContext {
        &self.msg.context
    }

    /// Why the challenge was sent.
    #[must_use]
    pub fn purpose(&self) -> Purpose {
        self.msg.purpose
    }

    /// When it expires (server clock).
    #[must_use]
    pub fn expires(&self) -> u64 {
        self.msg.expires
    }

    /// The challenge id.
    #[must_use]
    pub fn id(&self) -> &[u8] {
        &self.msg.challenge_id
    }
}

/// An enrolled device: what the app keeps per account.
#[derive(Debug)]
pub struct EnrolledDevice {
    server: String,
    kid: String,
    server_key: [u8; 32],
    device_id: Vec<u8>,
    key: DeviceKey,
    /// The offline TOTP seed (base32), if the server gave one.
    pub offline_totp_secret: Option<Zeroizing<String>>,
    /// The account label.
    pub account: String,
    /// The issuer.
    pub issuer: String,
}

impl EnrolledDevice {
    /// Completes the enrollment with the server's registration response.
    ///
    /// # Errors
    /// [`PushError::Decode`] for a malformed response.
    pub fn new(
        offer: &EnrollmentOffer,
        key: DeviceKey,
        response_json: &str,
    ) -> Result<Self, PushError> {
        let r: RegistrationResponse = parse_json(response_json)?;
        if r.v != VERSION {
            return Err(DecodeError::Version.into());
        }
        if r.device_id.len() != 16 {
            return Err(DecodeError::Malformed.into());
        }
        Ok(Self {
            server: offer.server.clone(),
            kid: offer.kid.clone(),
            server_key: offer.server_key,
            device_id: r.device_id,
            key,
            offline_totp_secret: r.offline_totp_secret.map(Zeroizing::new),
            account: offer.account.clone(),
            issuer: offer.issuer.clone(),
        })
    }

    /// The device id.
    #[must_use]
    pub fn device_id(&self) -> &[u8] {
        &self.device_id
    }

    /// The signed request for a challenge's details (after a push hint), as JSON.
    ///
    /// # Errors
    /// [`PushError::Config`] if signing fails.
    pub fn fetch_request(
        &self,
        challenge_id: &[u8],
        now: SystemTime,
        rng: &dyn SecureRandom,
    ) -> Result<String, PushError> {
        let time = unix(now);
        let signature =
            self.key.sign(&fetch_input(&self.server, &self.device_id, challenge_id, time), rng)?;
        let req = FetchRequest {
            device_id: self.device_id.clone(),
            challenge_id: challenge_id.to_vec(),
            time,
            signature,
        };
        serde_json::to_string(&req).map_err(|_| DecodeError::Malformed.into())
    }

    /// Verifies a challenge from the server: its signature by the key from the offer, that
    /// it is for this device, and that it has not expired by the device's clock (allowing
    /// `skew` seconds).
    ///
    /// # Errors
    /// [`PushError`]: malformed, unknown server key, forged, another device's, expired.
    pub fn verify_challenge(
        &self,
        json: &str,
        now: SystemTime,
        skew: u64,
    ) -> Result<VerifiedChallenge, PushError> {
        let msg: ChallengeMessage = parse_json(json)?;
        if msg.v != VERSION {
            return Err(DecodeError::Version.into());
        }
        if msg.kid != self.kid {
            return Err(PushError::UnknownServerKey);
        }
        let input = challenge_input(
            &self.server,
            &msg.kid,
            &msg.device_id,
            &msg.challenge_id,
            &msg.nonce,
            msg.issued,
            msg.expires,
            msg.purpose,
            &msg.context.hash(),
        );
        UnparsedPublicKey::new(&ring::signature::ED25519, &self.server_key)
            .verify(&input, &msg.signature)
            .map_err(|_| PushError::BadSignature)?;
        if msg.device_id != self.device_id {
            return Err(PushError::WrongDevice);
        }
        if unix(now) >= msg.expires.saturating_add(skew) {
            return Err(PushError::Expired);
        }
        Ok(VerifiedChallenge { msg })
    }

    /// The signed answer, as JSON. `number` is what the user typed (ignored on deny).
    ///
    /// # Errors
    /// [`PushError::Config`] if signing fails.
    pub fn answer(
        &self,
        challenge: &VerifiedChallenge,
        decision: Decision,
        number: u8,
        rng: &dyn SecureRandom,
    ) -> Result<String, PushError> {
        let number = if decision == Decision::Approve { number } else { 0 };
        let m = &challenge.msg;
        let input = response_input(
            &self.server,
            &self.device_id,
            &m.challenge_id,
            &m.nonce,
            m.issued,
            m.expires,
            &m.context.hash(),
            decision,
            number,
        );
        let msg = ResponseMessage {
            device_id: self.device_id.clone(),
            challenge_id: m.challenge_id.clone(),
            decision,
            number,
            signature: self.key.sign(&input, rng)?,
        };
        serde_json::to_string(&msg).map_err(|_| DecodeError::Malformed.into())
    }

    /// A key rotation request signed by the current key and `new_key`; after the server
    /// accepts it, call [`EnrolledDevice::use_key`].
    ///
    /// # Errors
    /// [`PushError::Config`] if signing fails.
    pub fn rotation_request(
        &self,
        new_key: &DeviceKey,
        now: SystemTime,
        rng: &dyn SecureRandom,
    ) -> Result<String, PushError> {
        let time = unix(now);
        let new_public = new_key.public_key();
        let input = rotate_input(&self.server, &self.device_id, &new_public, time);
        let req = RotateRequest {
            device_id: self.device_id.clone(),
            new_key: new_public,
            time,
            old_signature: self.key.sign(&input, rng)?,
            new_signature: new_key.sign(&input, rng)?,
        };
        serde_json::to_string(&req).map_err(|_| DecodeError::Malformed.into())
    }

    /// Switches to the rotated key.
    pub fn use_key(&mut self, key: DeviceKey) {
        self.key = key;
    }

    /// A signed request to remove this device, as JSON.
    ///
    /// # Errors
    /// [`PushError::Config`] if signing fails.
    pub fn unenroll_request(
        &self,
        now: SystemTime,
        rng: &dyn SecureRandom,
    ) -> Result<String, PushError> {
        let time = unix(now);
        let signature = self.key.sign(&unenroll_input(&self.server, &self.device_id, time), rng)?;
        serde_json::to_string(&UnenrollRequest {
            device_id: self.device_id.clone(),
            time,
            signature,
        })
        .map_err(|_| DecodeError::Malformed.into())
    }
}

/// Verifies a P-256 DER signature (for tests of other implementations' output).
#[must_use]
pub fn verify_p256(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key).verify(message, signature).is_ok()
}
