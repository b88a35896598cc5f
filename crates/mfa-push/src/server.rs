//! The server side: offers, registration, challenges, answers, fatigue limits. Pure: records
//! in, records out; the store applies each change atomically (one transition out of Pending).

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::CryptoRng;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::protocol::{
    ChallengeMessage, DevicePublicKey, EnrollmentOffer, FetchRequest, PushHint,
    RegistrationRequest, RegistrationResponse, ResponseMessage, RotateRequest, UnenrollRequest,
    VERSION, challenge_input, fetch_input, parse_json, registration_input, response_input,
    rotate_input, unenroll_input,
};
use crate::wire::{b64_bytes, sha256};
use crate::{Decision, DecodeError, FatigueError, Purpose, PushError, SignInContext};

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn random<const N: usize, R: CryptoRng + ?Sized>(rng: &mut R) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

/// The server's Ed25519 signing keys: the current one signs new enrollments; older ones keep
/// signing for the devices enrolled under them until retired.
pub struct ServerKeys {
    current: String,
    keys: Vec<(String, Ed25519KeyPair)>,
}

impl fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeys")
            .field("current", &self.current)
            .field("kids", &self.keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl ServerKeys {
    /// Keys from 32-byte Ed25519 seeds (keep them with the other server secrets). The
    /// first is the current one.
    ///
    /// # Errors
    /// [`PushError::Config`] for an empty list, an empty or duplicate key id.
    pub fn new(keys: &[(&str, [u8; 32])]) -> Result<Self, PushError> {
        let mut out: Vec<(String, Ed25519KeyPair)> = Vec::with_capacity(keys.len());
        for (kid, seed) in keys {
            if kid.is_empty() || kid.len() > 64 || out.iter().any(|(k, _)| k == kid) {
                return Err(PushError::Config);
            }
            let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| PushError::Config)?;
            out.push(((*kid).to_owned(), pair));
        }
        let current = out.first().map(|(k, _)| k.clone()).ok_or(PushError::Config)?;
        Ok(Self { current, keys: out })
    }

    fn get(&self, kid: &str) -> Option<&Ed25519KeyPair> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, p)| p)
    }

    /// The public key of `kid`.
    #[must_use]
    pub fn public_key(&self, kid: &str) -> Option<[u8; 32]> {
        self.get(kid).and_then(|p| p.public_key().as_ref().try_into().ok())
    }
}

/// Limits against push fatigue ("MFA bombing").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatiguePolicy {
    /// Pending challenges allowed at once per account (default 1).
    pub max_pending: usize,
    /// Pushes allowed per `window` (default 3 per 5 minutes).
    pub max_per_window: usize,
    /// The short window.
    pub window: Duration,
    /// Pushes allowed per 24 hours (default 10).
    pub max_per_day: usize,
    /// Consecutive denials that suspend push for the account (default 3).
    pub suspend_after_denials: usize,
    /// How long a fraud report suspends push (default 30 days; the user is steered to
    /// another method, and an administrator can lift it by clearing history).
    pub fraud_suspension: Duration,
}

impl Default for FatiguePolicy {
    fn default() -> Self {
        Self {
            max_pending: 1,
            max_per_window: 3,
            window: Duration::from_secs(300),
            max_per_day: 10,
            suspend_after_denials: 3,
            fraud_suspension: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl FatiguePolicy {
    /// Whether a new push may go out for an account, given its recent challenges (any
    /// order; the last 24 hours and every fraud report within the suspension suffice).
    ///
    /// # Errors
    /// The [`FatigueError`] that applies.
    pub fn check(&self, history: &[ChallengeRecord], now: SystemTime) -> Result<(), FatigueError> {
        let now = unix(now);
        let fraud_since = now.saturating_sub(self.fraud_suspension.as_secs());
        // Only sign-in requests count: a device that was never activated (its activation
        // denied or reported) proves nothing about the account's sign-ins, and must not
        // let whoever holds an enrollment QR code pause push for the owner.
        let logins = || history.iter().filter(|c| c.purpose.is_sign_in());
        if logins().any(|c| c.state == ChallengeState::FraudReported && c.issued >= fraud_since) {
            return Err(FatigueError::SuspendedAfterFraudReport);
        }
        let mut answered: Vec<&ChallengeRecord> =
            logins().filter(|c| c.state.is_answered()).collect();
        answered.sort_by_key(|c| core::cmp::Reverse(c.issued));
        let denials = answered.iter().take_while(|c| c.state == ChallengeState::Denied).count();
        if self.suspend_after_denials > 0 && denials >= self.suspend_after_denials {
            return Err(FatigueError::SuspendedAfterDenials);
        }
        let pending = history
            .iter()
            .filter(|c| c.state == ChallengeState::Pending && c.expires > now)
            .count();
        if pending >= self.max_pending {
            return Err(FatigueError::PendingExists);
        }
        let window_start = now.saturating_sub(self.window.as_secs());
        if history.iter().filter(|c| c.issued > window_start).count() >= self.max_per_window {
            return Err(FatigueError::TooManyRecent);
        }
        let day_start = now.saturating_sub(24 * 3600);
        if history.iter().filter(|c| c.issued > day_start).count() >= self.max_per_day {
            return Err(FatigueError::TooManyToday);
        }
        Ok(())
    }

    /// Why no push may go out now, and until when: the first moment at which [`Self::check`]
    /// passes again with this history (every limit considered, however far over it is), or
    /// `None` when no time ends it (paused after repeated denials).
    #[must_use]
    pub fn paused(
        &self,
        history: &[ChallengeRecord],
        at: SystemTime,
    ) -> Option<(FatigueError, Option<SystemTime>)> {
        let why = self.check(history, at).err()?;
        // The moments at which a limit can lift: a pending challenge's expiry, a record
        // leaving a window, a fraud report's suspension ending. The first of them (after
        // `at`) at which the check passes is the answer.
        let mut moments: Vec<u64> = history
            .iter()
            .flat_map(|c| {
                [
                    c.expires,
                    c.issued + self.window.as_secs(),
                    c.issued + 24 * 3600,
                    // A report suspends while `issued >= now - suspension`: it lifts a second
                    // after.
                    c.issued + self.fraud_suspension.as_secs() + 1,
                ]
            })
            .filter(|t| *t > unix(at))
            .collect();
        moments.sort_unstable();
        moments.dedup();
        let until = moments.into_iter().map(from_unix).find(|t| self.check(history, *t).is_ok());
        Some((why, until))
    }
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The server's base URL (https; `http://localhost…` for development): the server id
    /// every signature covers.
    pub server: String,
    /// Issuer shown in the app (the product name).
    pub issuer: String,
    /// Offer lifetime (default 10 minutes).
    pub offer_ttl: Duration,
    /// Challenge lifetime (default 90 seconds).
    pub challenge_ttl: Duration,
    /// How far a signed request's time may be from the server's (default 5 minutes).
    pub max_skew: Duration,
    /// Give each new device an offline TOTP seed (default true).
    pub offline_totp: bool,
    /// Fatigue limits.
    pub fatigue: FatiguePolicy,
}

impl PushConfig {
    /// Defaults for a server at `server` (its base URL) named `issuer`.
    #[must_use]
    pub fn new(server: &str, issuer: &str) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            issuer: issuer.to_owned(),
            offer_ttl: Duration::from_secs(600),
            challenge_ttl: Duration::from_secs(90),
            max_skew: Duration::from_secs(300),
            offline_totp: true,
            fatigue: FatiguePolicy::default(),
        }
    }
}

/// A stored offer: only the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    /// The enrollment id.
    #[serde(with = "b64_bytes")]
    pub id: Vec<u8>,
    #[serde(with = "b64_bytes")]
    secret_hash: Vec<u8>,
    /// The account it enrolls a device for.
    pub account: String,
    /// The server key id the offer carried.
    pub kid: String,
    /// When it stops working.
    pub expires: u64,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The device id.
    #[serde(with = "b64_bytes")]
    pub id: Vec<u8>,
    /// The account.
    pub account: String,
    /// The device key (its algorithm is fixed here).
    pub key: DevicePublicKey,
    /// The server key id the device knows.
    pub kid: String,
    /// Its name ("iPhone").
    pub display_name: String,
    /// The embedder's push token.
    pub push_token: String,
    /// False until the user approves the activation challenge with the right number.
    pub active: bool,
    /// Registered at.
    pub created: u64,
}

/// Where a challenge stands. Only one transition leaves `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeState {
    /// Waiting for the device.
    Pending,
    /// Approved with the right number; usable once by the login flow that created it.
    Approved,
    /// The approval was used.
    Consumed,
    /// Denied.
    Denied,
    /// Denied with a fraud report.
    FraudReported,
    /// Approved with a wrong number (terminal: a guess does not get a second try).
    NumberMismatch,
    /// Not answered in time.
    Expired,
    /// Replaced (the login moved to another method or was abandoned).
    Superseded,
}

impl ChallengeState {
    fn is_answered(self) -> bool {
        matches!(
            self,
            Self::Approved
                | Self::Consumed
                | Self::Denied
                | Self::FraudReported
                | Self::NumberMismatch
        )
    }
}

/// A stored challenge. `number` is what the login screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The challenge id (16 random bytes).
    #[serde(with = "b64_bytes")]
    pub id: Vec<u8>,
    #[serde(with = "b64_bytes")]
    nonce: Vec<u8>,
    /// The device asked.
    #[serde(with = "b64_bytes")]
    pub device_id: Vec<u8>,
    /// The account.
    pub account: String,
    #[serde(with = "b64_bytes")]
    flow: Vec<u8>,
    /// Issued at.
    pub issued: u64,
    /// Expires at.
    pub expires: u64,
    /// Why.
    pub purpose: Purpose,
    /// What the phone shows.
    pub context: SignInContext,
    /// The number shown on the login screen (10–99).
    pub number: u8,
    /// Where it stands.
    pub state: ChallengeState,
}

/// A new challenge: the record to store, the hint to push, the number to show.
#[derive(Debug, Clone)]
pub struct IssuedChallenge {
    /// Store this.
    pub record: ChallengeRecord,
    /// Deliver this through the push transport.
    pub hint: PushHint,
    /// Show this on the login screen; the user types it on the phone.
    pub number: u8,
}

/// A registered device: store the record (inactive until its activation challenge is
/// approved), send the response to the device, seal and store the offline seed.
#[derive(Debug)]
pub struct Registered {
    /// The new device, inactive.
    pub device: DeviceRecord,
    /// The JSON response for the device.
    pub response: String,
    /// The offline TOTP seed given to the device, if any: seal it and keep it with the
    /// account's TOTP credentials (SHA-1, 6 digits, 30 s).
    pub offline_totp_seed: Option<Zeroizing<[u8; 20]>>,
}

/// What a challenge is for.
#[derive(Debug, Clone)]
pub struct ChallengeRequest<'a> {
    /// Activation of a new device, or a login.
    pub purpose: Purpose,
    /// The opaque id of the login flow that will use the approval.
    pub flow: &'a [u8],
    /// What the phone shows.
    pub context: SignInContext,
}

/// The outcome of a valid response: the state to compare-and-swap in place of `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The new state.
    pub state: ChallengeState,
    /// An activation challenge was approved: mark the device active.
    pub activate_device: bool,
}

/// The server.
pub struct PushServer {
    config: PushConfig,
    keys: ServerKeys,
}

impl fmt::Debug for PushServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushServer")
            .field("server", &self.config.server)
            .field("keys", &self.keys)
            .finish()
    }
}

impl PushServer {
    /// A server with its configuration and keys.
    ///
    /// # Errors
    /// [`PushError::Config`] for a server URL that is not https (or http://localhost), or a
    /// lifetime of zero.
    pub fn new(config: PushConfig, keys: ServerKeys) -> Result<Self, PushError> {
        let url_ok = crate::protocol::server_url_ok(&config.server);
        if !url_ok || config.offer_ttl.is_zero() || config.challenge_ttl.is_zero() {
            return Err(PushError::Config);
        }
        Ok(Self { config, keys })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &PushConfig {
        &self.config
    }

    /// Makes an enrollment offer for `account` labelled `label` (the email address).
    pub fn offer<R: CryptoRng + ?Sized>(
        &self,
        account: &str,
        label: &str,
        now: SystemTime,
        rng: &mut R,
    ) -> (EnrollmentOffer, PendingEnrollment) {
        let enrollment_id = random::<16, R>(rng);
        let secret = Zeroizing::new(random::<32, R>(rng));
        let expires = unix(now).saturating_add(self.config.offer_ttl.as_secs());
        let kid = self.keys.current.clone();
        let offer = EnrollmentOffer {
            server: self.config.server.clone(),
            server_key: self.keys.public_key(&kid).unwrap_or([0; 32]),
            kid: kid.clone(),
            enrollment_id,
            secret: secret.clone(),
            issuer: self.config.issuer.clone(),
            account: label.to_owned(),
            expires,
        };
        let pending = PendingEnrollment {
            id: enrollment_id.to_vec(),
            secret_hash: sha256(secret.as_ref()).to_vec(),
            account: account.to_owned(),
            kid,
            expires,
        };
        (offer, pending)
    }

    /// Registers a device under an offer the store has *taken* (so it works once). Returns
    /// the inactive device record, the response for the device, and the offline TOTP seed
    /// (raw bytes) to seal and store.
    ///
    /// # Errors
    /// [`PushError`]: malformed, expired, wrong id or secret, bad signature.
    pub fn register<R: CryptoRng + ?Sized>(
        &self,
        pending: &PendingEnrollment,
        request_json: &str,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<Registered, PushError> {
        let req: RegistrationRequest = parse_json(request_json)?;
        if req.v != VERSION {
            return Err(DecodeError::Version.into());
        }
        if unix(now) >= pending.expires {
            return Err(PushError::Expired);
        }
        if !bool::from(req.enrollment_id.ct_eq(&pending.id)) {
            return Err(PushError::EnrollmentSecret);
        }
        if !bool::from(sha256(&req.secret).ct_eq(pending.secret_hash.as_slice())) {
            return Err(PushError::EnrollmentSecret);
        }
        if req.display_name.len() > 128 || req.push_token.len() > 4096 {
            return Err(DecodeError::Malformed.into());
        }
        let key = DevicePublicKey::new(req.public_key.alg, &req.public_key.bytes)?;
        let signed = registration_input(
            &self.config.server,
            &req.enrollment_id,
            &req.secret,
            &key,
            &req.display_name,
            &req.push_token,
        );
        if !key.verify(&signed, &req.signature) {
            return Err(PushError::BadSignature);
        }
        let device = DeviceRecord {
            id: random::<16, R>(rng).to_vec(),
            account: pending.account.clone(),
            key,
            kid: pending.kid.clone(),
            display_name: req.display_name.trim().to_owned(),
            push_token: req.push_token,
            active: false,
            created: unix(now),
        };
        let seed = self.config.offline_totp.then(|| Zeroizing::new(random::<20, R>(rng)));
        let response = RegistrationResponse {
            v: VERSION,
            device_id: device.id.clone(),
            offline_totp_secret: seed.as_ref().map(|s| base32(s.as_ref())),
        };
        let response = serde_json::to_string(&response).map_err(|_| DecodeError::Malformed)?;
        Ok(Registered { device, response, offline_totp_seed: seed })
    }

    /// Issues a challenge to `device` for the login flow `flow` (an opaque id the flow
    /// keeps), after the fatigue check over the account's recent challenges.
    ///
    /// # Errors
    /// [`PushError::InactiveDevice`] for a login challenge to a device not yet activated;
    /// [`PushError::Fatigue`].
    pub fn issue<R: CryptoRng + ?Sized>(
        &self,
        device: &DeviceRecord,
        request: ChallengeRequest<'_>,
        history: &[ChallengeRecord],
        now: SystemTime,
        rng: &mut R,
    ) -> Result<IssuedChallenge, PushError> {
        let ChallengeRequest { purpose, flow, context } = request;
        if purpose.is_sign_in() && !device.active {
            return Err(PushError::InactiveDevice);
        }
        self.config.fatigue.check(history, now)?;
        let number = loop {
            let b = random::<1, R>(rng)[0];
            if b < 180 {
                break 10 + b % 90;
            }
        };
        let record = ChallengeRecord {
            id: random::<16, R>(rng).to_vec(),
            nonce: random::<16, R>(rng).to_vec(),
            device_id: device.id.clone(),
            account: device.account.clone(),
            flow: flow.to_vec(),
            issued: unix(now),
            expires: unix(now).saturating_add(self.config.challenge_ttl.as_secs()),
            purpose,
            context,
            number,
            state: ChallengeState::Pending,
        };
        let hint = PushHint { device_id: device.id.clone(), challenge_id: record.id.clone() };
        Ok(IssuedChallenge { record, hint, number })
    }

    /// Answers a device's signed fetch with the server-signed challenge.
    ///
    /// # Errors
    /// [`PushError`]: malformed, wrong device or challenge, bad signature, clock skew, not
    /// pending, expired, retired server key.
    pub fn fetch(
        &self,
        device: &DeviceRecord,
        challenge: &ChallengeRecord,
        request_json: &str,
        now: SystemTime,
    ) -> Result<String, PushError> {
        let req: FetchRequest = parse_json(request_json)?;
        if req.device_id != device.id || challenge.device_id != device.id {
            return Err(PushError::WrongDevice);
        }
        if req.challenge_id != challenge.id {
            return Err(PushError::WrongChallenge);
        }
        if !device.key.verify(
            &fetch_input(&self.config.server, &req.device_id, &req.challenge_id, req.time),
            &req.signature,
        ) {
            return Err(PushError::BadSignature);
        }
        if unix(now).abs_diff(req.time) > self.config.max_skew.as_secs() {
            return Err(PushError::ClockSkew);
        }
        if challenge.state != ChallengeState::Pending {
            return Err(PushError::NotPending);
        }
        if unix(now) >= challenge.expires {
            return Err(PushError::Expired);
        }
        let msg = self.sign_challenge(device, challenge)?;
        serde_json::to_string(&msg).map_err(|_| DecodeError::Malformed.into())
    }

    fn sign_challenge(
        &self,
        device: &DeviceRecord,
        c: &ChallengeRecord,
    ) -> Result<ChallengeMessage, PushError> {
        let key = self.keys.get(&device.kid).ok_or(PushError::UnknownServerKey)?;
        let input = challenge_input(
            &self.config.server,
            &device.kid,
            &c.device_id,
            &c.id,
            &c.nonce,
            c.issued,
            c.expires,
            c.purpose,
            &c.context.hash(),
        );
        Ok(ChallengeMessage {
            v: VERSION,
            kid: device.kid.clone(),
            device_id: c.device_id.clone(),
            challenge_id: c.id.clone(),
            nonce: c.nonce.clone(),
            issued: c.issued,
            expires: c.expires,
            purpose: c.purpose,
            context: c.context.clone(),
            signature: key.sign(&input).as_ref().to_vec(),
        })
    }

    /// Verifies a device's answer against the stored challenge, rebuilding the signed bytes
    /// from the stored values. On success, the state to compare-and-swap in place of
    /// `Pending`; on any error the challenge is left as it is.
    ///
    /// # Errors
    /// [`PushError`]: malformed, wrong device or challenge, bad signature, not pending,
    /// expired.
    pub fn respond(
        &self,
        device: &DeviceRecord,
        challenge: &ChallengeRecord,
        response_json: &str,
        now: SystemTime,
    ) -> Result<Answered, PushError> {
        let msg: ResponseMessage = parse_json(response_json)?;
        if msg.device_id != device.id || challenge.device_id != device.id {
            return Err(PushError::WrongDevice);
        }
        if msg.challenge_id != challenge.id {
            return Err(PushError::WrongChallenge);
        }
        let input = response_input(
            &self.config.server,
            &device.id,
            &challenge.id,
            &challenge.nonce,
            challenge.issued,
            challenge.expires,
            &challenge.context.hash(),
            msg.decision,
            msg.number,
        );
        if !device.key.verify(&input, &msg.signature) {
            return Err(PushError::BadSignature);
        }
        if challenge.state != ChallengeState::Pending {
            return Err(PushError::NotPending);
        }
        if unix(now) >= challenge.expires {
            return Err(PushError::Expired);
        }
        let state = match msg.decision {
            Decision::Approve if bool::from(msg.number.ct_eq(&challenge.number)) => {
                ChallengeState::Approved
            }
            Decision::Approve => ChallengeState::NumberMismatch,
            Decision::Deny => ChallengeState::Denied,
            Decision::ReportFraud => ChallengeState::FraudReported,
        };
        let activate_device =
            state == ChallengeState::Approved && challenge.purpose == Purpose::Activation;
        Ok(Answered { state, activate_device })
    }

    /// The login flow `flow` uses an approval: the state to compare-and-swap in place of
    /// `Approved` (so it is used once).
    ///
    /// # Errors
    /// [`PushError::NotUsable`] unless approved, for this flow, a login, and not expired.
    pub fn consume(
        &self,
        challenge: &ChallengeRecord,
        flow: &[u8],
        now: SystemTime,
    ) -> Result<ChallengeState, PushError> {
        let same_flow = bool::from(challenge.flow.as_slice().ct_eq(flow));
        if challenge.state != ChallengeState::Approved
            || !same_flow
            || !challenge.purpose.is_sign_in()
            || unix(now) >= challenge.expires.saturating_add(self.config.challenge_ttl.as_secs())
        {
            return Err(PushError::NotUsable);
        }
        Ok(ChallengeState::Consumed)
    }

    /// The state a pending challenge takes when its time is up or the login moves on
    /// (`Expired` or `Superseded`), or `None` if it is not pending.
    #[must_use]
    pub fn close(&self, challenge: &ChallengeRecord, now: SystemTime) -> Option<ChallengeState> {
        (challenge.state == ChallengeState::Pending).then(|| {
            if unix(now) >= challenge.expires {
                ChallengeState::Expired
            } else {
                ChallengeState::Superseded
            }
        })
    }

    /// Replaces a device's key after a request signed by the old key and the new one.
    ///
    /// # Errors
    /// [`PushError`]: malformed, wrong device, bad signature, clock skew.
    pub fn rotate(
        &self,
        device: &DeviceRecord,
        request_json: &str,
        now: SystemTime,
    ) -> Result<DeviceRecord, PushError> {
        let req: RotateRequest = parse_json(request_json)?;
        if req.device_id != device.id {
            return Err(PushError::WrongDevice);
        }
        // The algorithm is fixed at enrollment (PROTOCOL.md): a rotation changes the key only.
        if req.new_key.alg != device.key.alg {
            return Err(DecodeError::Key.into());
        }
        let new_key = DevicePublicKey::new(req.new_key.alg, &req.new_key.bytes)?;
        let input = rotate_input(&self.config.server, &device.id, &new_key, req.time);
        if !device.key.verify(&input, &req.old_signature)
            || !new_key.verify(&input, &req.new_signature)
        {
            return Err(PushError::BadSignature);
        }
        if unix(now).abs_diff(req.time) > self.config.max_skew.as_secs() {
            return Err(PushError::ClockSkew);
        }
        let mut next = device.clone();
        next.key = new_key;
        Ok(next)
    }

    /// Checks a device's signed request to remove itself; on success delete the record.
    ///
    /// # Errors
    /// [`PushError`]: malformed, wrong device, bad signature, clock skew.
    pub fn unenroll(
        &self,
        device: &DeviceRecord,
        request_json: &str,
        now: SystemTime,
    ) -> Result<(), PushError> {
        let req: UnenrollRequest = parse_json(request_json)?;
        if req.device_id != device.id {
            return Err(PushError::WrongDevice);
        }
        if !device
            .key
            .verify(&unenroll_input(&self.config.server, &device.id, req.time), &req.signature)
        {
            return Err(PushError::BadSignature);
        }
        if unix(now).abs_diff(req.time) > self.config.max_skew.as_secs() {
            return Err(PushError::ClockSkew);
        }
        Ok(())
    }
}

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}
