//! Messages, their JSON form and the exact bytes each signature covers (see PROTOCOL.md).

use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::DecodeError;
use crate::wire::{SigningInput, b64, b64_bytes, pct, sha256, unb64, unpct};

/// Protocol version carried by the offer and every JSON message.
pub const VERSION: u8 = 1;
/// The largest JSON message read.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

pub(crate) const TAG_REGISTER: &[u8] = b"mfa-push/v1/register\0";
pub(crate) const TAG_FETCH: &[u8] = b"mfa-push/v1/fetch\0";
pub(crate) const TAG_CHALLENGE: &[u8] = b"mfa-push/v1/challenge\0";
pub(crate) const TAG_CONTEXT: &[u8] = b"mfa-push/v1/context\0";
pub(crate) const TAG_RESPONSE: &[u8] = b"mfa-push/v1/response\0";
pub(crate) const TAG_ROTATE: &[u8] = b"mfa-push/v1/rotate\0";
pub(crate) const TAG_UNENROLL: &[u8] = b"mfa-push/v1/unenroll\0";

/// A device key's algorithm, fixed at registration; messages never name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256, DER signatures (what a Secure Enclave or StrongBox key
    /// produces). Mandatory to support.
    P256,
    /// Ed25519 (optional).
    Ed25519,
}

impl KeyAlgorithm {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::P256 => 1,
            Self::Ed25519 => 2,
        }
    }
}

/// A device's public key: P-256 as a 65-byte uncompressed SEC1 point, Ed25519 as 32 bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePublicKey {
    pub(crate) alg: KeyAlgorithm,
    #[serde(with = "b64_bytes")]
    pub(crate) bytes: Vec<u8>,
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({:?}, {})", self.alg, b64(&self.bytes))
    }
}

impl DevicePublicKey {
    /// Checks the length and, for P-256, that the point is on the curve.
    ///
    /// # Errors
    /// [`DecodeError::Key`].
    pub fn new(alg: KeyAlgorithm, bytes: &[u8]) -> Result<Self, DecodeError> {
        let ok = match alg {
            KeyAlgorithm::P256 => {
                bytes.len() == 65
                    && bytes.first() == Some(&4)
                    && p256::PublicKey::from_sec1_bytes(bytes).is_ok()
            }
            KeyAlgorithm::Ed25519 => bytes.len() == 32,
        };
        if !ok {
            return Err(DecodeError::Key);
        }
        Ok(Self { alg, bytes: bytes.to_vec() })
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// The key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let alg: &dyn ring::signature::VerificationAlgorithm = match self.alg {
            KeyAlgorithm::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::Ed25519 => &ring::signature::ED25519,
        };
        ring::signature::UnparsedPublicKey::new(alg, &self.bytes).verify(message, signature).is_ok()
    }
}

/// What the phone shows about the sign-in it is asked to approve.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SignInContext {
    /// The application or product signed in to.
    pub application: String,
    /// A coarse location ("Tokyo, JP"), or empty.
    pub location: String,
    /// The client's IP address, or empty.
    pub ip: String,
    /// Browser and operating system ("Chrome on Windows").
    pub browser: String,
    /// When the sign-in started (Unix seconds, server clock).
    pub time: u64,
}

impl SignInContext {
    /// SHA-256 of the context's canonical encoding: the value both signatures cover.
    #[must_use]
    pub fn hash(&self) -> [u8; 32] {
        sha256(
            &SigningInput::new(TAG_CONTEXT)
                .bytes(self.application.as_bytes())
                .bytes(self.location.as_bytes())
                .bytes(self.ip.as_bytes())
                .bytes(self.browser.as_bytes())
                .u64(self.time)
                .finish(),
        )
    }
}

/// Why a challenge was sent. Signed with the challenge, so the phone can tell the person
/// authentically what they are approving (a password reset they did not ask for is one to
/// deny and report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The first challenge after registration: approving it with the right number activates
    /// the device.
    Activation,
    /// A login's second factor.
    Login,
    /// The second factor of a password reset (opened by a mailed link).
    PasswordReset,
    /// A fresh second factor for a sensitive change in a signed-in session (step-up).
    StepUp,
}

impl Purpose {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Activation => 1,
            Self::Login => 2,
            Self::PasswordReset => 3,
            Self::StepUp => 4,
        }
    }

    /// A second factor for someone signing in, resetting or stepping up (anything but an
    /// activation): what the fatigue limits count and what a flow may consume.
    #[must_use]
    pub const fn is_sign_in(self) -> bool {
        !matches!(self, Self::Activation)
    }
}

/// The user's answer on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// "Approve", with the number typed.
    Approve,
    /// "Deny".
    Deny,
    /// "This wasn't me": deny and report.
    ReportFraud,
}

impl Decision {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Approve => 1,
            Self::Deny => 2,
            Self::ReportFraud => 3,
        }
    }
}

/// The enrollment offer the QR code carries:
/// `mfa-push://enroll?v=1&server=…&kid=…&key=…&eid=…&secret=…&issuer=…&account=…&exp=…`.
/// It holds a secret: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentOffer {
    /// The server's base URL (https): where the device sends its requests, and the server
    /// id every signature covers.
    pub server: String,
    /// The server key id.
    pub kid: String,
    /// The server's Ed25519 public key (32 bytes).
    pub server_key: [u8; 32],
    /// The enrollment id (16 random bytes).
    pub enrollment_id: [u8; 16],
    pub(crate) secret: Zeroizing<[u8; 32]>,
    /// Who issues it (the product name).
    pub issuer: String,
    /// The account label (the email address).
    pub account: String,
    /// When it stops working (Unix seconds).
    pub expires: u64,
}

impl fmt::Debug for EnrollmentOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentOffer")
            .field("server", &self.server)
            .field("enrollment_id", &b64(&self.enrollment_id))
            .field("account", &self.account)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl EnrollmentOffer {
    /// The URI for the QR code (holds the enrollment secret).
    #[must_use]
    pub fn to_uri(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "mfa-push://enroll?v={VERSION}&server={}&kid={}&key={}&eid={}&secret={}&issuer={}&account={}&exp={}",
            pct(&self.server),
            pct(&self.kid),
            b64(&self.server_key),
            b64(&self.enrollment_id),
            b64(self.secret.as_ref()),
            pct(&self.issuer),
            pct(&self.account),
            self.expires
        ))
    }

    /// Parses a scanned URI.
    ///
    /// # Errors
    /// [`DecodeError`]: not this URI, another version, a missing or malformed field.
    pub fn parse(uri: &str) -> Result<Self, DecodeError> {
        if uri.len() > 4096 {
            return Err(DecodeError::TooLarge);
        }
        let query = uri.strip_prefix("mfa-push://enroll?").ok_or(DecodeError::Malformed)?;
        let mut fields: [Option<String>; 9] = Default::default();
        const NAMES: [&str; 9] =
            ["v", "server", "kid", "key", "eid", "secret", "issuer", "account", "exp"];
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').ok_or(DecodeError::Malformed)?;
            let i = NAMES.iter().position(|n| *n == k).ok_or(DecodeError::Malformed)?;
            if fields[i].is_some() {
                return Err(DecodeError::Malformed);
            }
            fields[i] = Some(unpct(v).ok_or(DecodeError::Malformed)?);
        }
        let [v, server, kid, key, eid, secret, issuer, account, exp] =
            fields.map(|f| f.ok_or(DecodeError::Malformed));
        if v?.parse::<u8>().map_err(|_| DecodeError::Malformed)? != VERSION {
            return Err(DecodeError::Version);
        }
        let server = server?;
        if !server_url_ok(&server) {
            return Err(DecodeError::Malformed);
        }
        let fixed = |s: String| unb64(&s).ok_or(DecodeError::Malformed);
        let server_key: [u8; 32] = fixed(key?)?.try_into().map_err(|_| DecodeError::Key)?;
        let enrollment_id: [u8; 16] =
            fixed(eid?)?.try_into().map_err(|_| DecodeError::Malformed)?;
        let secret: [u8; 32] = fixed(secret?)?.try_into().map_err(|_| DecodeError::Malformed)?;
        Ok(Self {
            server,
            kid: kid?,
            server_key,
            enrollment_id,
            secret: Zeroizing::new(secret),
            issuer: issuer?,
            account: account?,
            expires: exp?.parse().map_err(|_| DecodeError::Malformed)?,
        })
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, DecodeError> {
    if json.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge);
    }
    serde_json::from_str(json).map_err(|_| DecodeError::Malformed)
}

/// Device → server: register a new device key under an enrollment offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    /// Protocol version.
    pub v: u8,
    /// The offer's enrollment id.
    #[serde(with = "b64_bytes")]
    pub enrollment_id: Vec<u8>,
    /// The offer's secret (sent once, over TLS; the server stores only its hash).
    #[serde(with = "b64_bytes")]
    pub secret: Vec<u8>,
    /// The new device key.
    pub public_key: DevicePublicKey,
    /// The device's name ("iPhone").
    pub display_name: String,
    /// Opaque token for the embedder's push transport.
    pub push_token: String,
    /// The new key's signature over [`registration_input`].
    #[serde(with = "b64_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a registration signature covers.
#[must_use]
pub fn registration_input(
    server: &str,
    enrollment_id: &[u8],
    secret: &[u8],
    key: &DevicePublicKey,
    display_name: &str,
    push_token: &str,
) -> Vec<u8> {
    SigningInput::new(TAG_REGISTER)
        .bytes(server.as_bytes())
        .bytes(enrollment_id)
        .fixed(&sha256(secret))
        .u8(key.alg.code())
        .bytes(&key.bytes)
        .bytes(display_name.as_bytes())
        .bytes(push_token.as_bytes())
        .finish()
}

/// Server → device: the registration result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationResponse {
    /// Protocol version.
    pub v: u8,
    /// The new device id (16 random bytes).
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// An offline TOTP seed (RFC 4648 base32, SHA-1/6/30) for codes when pushes cannot be
    /// delivered, if the server offers one.
    pub offline_totp_secret: Option<String>,
}

/// Device → server: fetch a challenge's details (after a push hint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The challenge named by the hint.
    #[serde(with = "b64_bytes")]
    pub challenge_id: Vec<u8>,
    /// The device's time (Unix seconds).
    pub time: u64,
    /// The device key's signature over [`fetch_input`].
    #[serde(with = "b64_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a fetch signature covers.
#[must_use]
pub fn fetch_input(server: &str, device_id: &[u8], challenge_id: &[u8], time: u64) -> Vec<u8> {
    SigningInput::new(TAG_FETCH)
        .bytes(server.as_bytes())
        .bytes(device_id)
        .bytes(challenge_id)
        .u64(time)
        .finish()
}

/// Server → device: a challenge, signed by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeMessage {
    /// Protocol version.
    pub v: u8,
    /// The server key id that signed.
    pub kid: String,
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The challenge id (16 random bytes).
    #[serde(with = "b64_bytes")]
    pub challenge_id: Vec<u8>,
    /// A fresh nonce (16 random bytes).
    #[serde(with = "b64_bytes")]
    pub nonce: Vec<u8>,
    /// Issued (Unix seconds, server clock).
    pub issued: u64,
    /// Expires (Unix seconds, server clock).
    pub expires: u64,
    /// Why.
    pub purpose: Purpose,
    /// The sign-in context to show.
    pub context: SignInContext,
    /// The server's Ed25519 signature over [`challenge_input`].
    #[serde(with = "b64_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a challenge signature covers.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn challenge_input(
    server: &str,
    kid: &str,
    device_id: &[u8],
    challenge_id: &[u8],
    nonce: &[u8],
    issued: u64,
    expires: u64,
    purpose: Purpose,
    context_hash: &[u8; 32],
) -> Vec<u8> {
    SigningInput::new(TAG_CHALLENGE)
        .bytes(server.as_bytes())
        .bytes(kid.as_bytes())
        .bytes(device_id)
        .bytes(challenge_id)
        .bytes(nonce)
        .u64(issued)
        .u64(expires)
        .u8(purpose.code())
        .fixed(context_hash)
        .finish()
}

/// Device → server: the user's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The challenge.
    #[serde(with = "b64_bytes")]
    pub challenge_id: Vec<u8>,
    /// Approve, deny or report.
    pub decision: Decision,
    /// The number the user typed (0 when denying).
    pub number: u8,
    /// The device key's signature over [`response_input`].
    #[serde(with = "b64_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a response signature covers. The server rebuilds them from its own stored
/// values; only the decision, the number and the signature come from the message.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn response_input(
    server: &str,
    device_id: &[u8],
    challenge_id: &[u8],
    nonce: &[u8],
    issued: u64,
    expires: u64,
    context_hash: &[u8; 32],
    decision: Decision,
    number: u8,
) -> Vec<u8> {
    SigningInput::new(TAG_RESPONSE)
        .bytes(server.as_bytes())
        .bytes(device_id)
        .bytes(challenge_id)
        .bytes(nonce)
        .u64(issued)
        .u64(expires)
        .fixed(context_hash)
        .u8(decision.code())
        .u8(number)
        .finish()
}

/// Device → server: replace the device key (signed by the old key and the new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateRequest {
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The new key.
    pub new_key: DevicePublicKey,
    /// The device's time.
    pub time: u64,
    /// The old key's signature over [`rotate_input`].
    #[serde(with = "b64_bytes")]
    pub old_signature: Vec<u8>,
    /// The new key's signature over the same bytes.
    #[serde(with = "b64_bytes")]
    pub new_signature: Vec<u8>,
}

/// The bytes a rotation's two signatures cover.
#[must_use]
pub fn rotate_input(
    server: &str,
    device_id: &[u8],
    new_key: &DevicePublicKey,
    time: u64,
) -> Vec<u8> {
    SigningInput::new(TAG_ROTATE)
        .bytes(server.as_bytes())
        .bytes(device_id)
        .u8(new_key.alg.code())
        .bytes(&new_key.bytes)
        .u64(time)
        .finish()
}

/// Device → server: remove this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnenrollRequest {
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The device's time.
    pub time: u64,
    /// The device key's signature over [`unenroll_input`].
    #[serde(with = "b64_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes an unenrollment signature covers.
#[must_use]
pub fn unenroll_input(server: &str, device_id: &[u8], time: u64) -> Vec<u8> {
    SigningInput::new(TAG_UNENROLL).bytes(server.as_bytes()).bytes(device_id).u64(time).finish()
}

/// What the embedder's push transport delivers: ids only, no token, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushHint {
    /// The device.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The challenge to fetch.
    #[serde(with = "b64_bytes")]
    pub challenge_id: Vec<u8>,
}

/// Whether `url` may be a push server's base URL: https with a host, or plain http only to
/// this machine (`localhost` or a loopback address, for development) — parsed, so that
/// `http://localhost.attacker.example` or `http://localhost@attacker.example` is not taken
/// for it. No credentials, query or fragment.
pub fn server_url_ok(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else { return false };
    if !u.username().is_empty()
        || u.password().is_some()
        || u.query().is_some()
        || u.fragment().is_some()
    {
        return false;
    }
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}
