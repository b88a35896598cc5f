//! Enrollment and verification.

use core::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::CryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::uri::{build, check_account, check_issuer};
use crate::{ImportError, Profile, TotpSecret, VerifyError};

/// How many steps either side of the current one a code may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(u8);

impl Window {
    /// ±1 step (±30 s with the default profile): RFC 6238 §5.2's recommendation for clock
    /// drift and typing time.
    pub const DEFAULT: Self = Self(1);

    /// ±`steps` steps, at most 3.
    #[must_use]
    pub const fn steps(steps: u8) -> Self {
        Self(if steps > 3 { 3 } else { steps })
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A code that verified: the time step it belongs to. Persist it as the credential's last
/// used step with a compare-and-swap that succeeds only if the stored value is still below
/// it, so that one code is accepted once even across server replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcceptedStep(pub u64);

/// An enrolled authenticator: secret and profile. Build it from the unsealed secret for each
/// verification; the last used step lives in the store.
#[derive(Clone)]
pub struct TotpCredential {
    profile: Profile,
    secret: TotpSecret,
}

impl fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpCredential")
            .field("profile", &self.profile)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A typed code after normalization: at most 8 ASCII digits, on the stack, wiped on drop.
struct Digits {
    buf: Zeroizing<[u8; 8]>,
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// Removes spaces (people type `123 456`) and maps full-width digits (typed through a
/// Japanese IME) to ASCII; refuses anything else that is not a digit.
fn normalize(code: &str, digits: u8) -> Result<Digits, VerifyError> {
    let mut out = Digits { buf: Zeroizing::new([0u8; 8]), len: 0 };
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        let d = match c {
            '0'..='9' => u32::from(c) - 0x30,
            '\u{FF10}'..='\u{FF19}' => u32::from(c) - 0xFF10,
            _ => return Err(VerifyError::NotDigits),
        };
        let slot = out.buf.get_mut(out.len).ok_or(VerifyError::WrongLength { expected: digits })?;
        *slot = b'0' + u8::try_from(d).unwrap_or(0);
        out.len += 1;
    }
    if out.len == 0 {
        return Err(VerifyError::Empty);
    }
    if out.len != usize::from(digits) {
        return Err(VerifyError::WrongLength { expected: digits });
    }
    Ok(out)
}

/// RFC 4226 §5.3 dynamic truncation of an HMAC to a 31-bit number.
fn truncate(mac: &[u8]) -> u32 {
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    mac.get(offset..offset + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_be_bytes(b) & 0x7fff_ffff)
}

impl TotpCredential {
    /// A credential from its parts (an unsealed secret and the stored profile).
    #[must_use]
    pub fn new(secret: TotpSecret, profile: Profile) -> Self {
        Self { profile, secret }
    }

    /// The profile.
    #[must_use]
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The secret, to seal for storage.
    #[must_use]
    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    /// The time step of `now`.
    #[must_use]
    pub fn step_at(&self, now: SystemTime) -> u64 {
        unix(now) / u64::from(self.profile.period())
    }

    /// The code an authenticator shows at `now` (for tests and for device-side use such as
    /// an offline code screen).
    #[must_use]
    pub fn code_at(&self, now: SystemTime) -> Zeroizing<String> {
        // totp-rs generates (an implementation independent of the verification below, which
        // the RFC 6238 vectors check against each other). Every bound it checks in `build`
        // (digits, step, algorithm) is guaranteed by `Profile`; its 128-bit secret floor
        // would refuse 80-bit secrets imported from older systems, which `TotpSecret`
        // accepts deliberately.
        let secret = self.secret.expose_secret();
        let totp = totp_rs::Builder::new()
            .with_algorithm(self.profile.algorithm().to_totp_rs())
            .with_digits(self.profile.digits())
            .with_step_duration(u64::from(self.profile.period()))
            .with_skew(0)
            .with_secret(match <[u8; 20]>::try_from(secret) {
                // The common 160-bit secret stays inline (wiped on drop by totp-rs).
                Ok(inline) => totp_rs::Secret::new_stack(inline),
                Err(_) => totp_rs::Secret::new(secret.into()),
            })
            .build_noncompliant();
        Zeroizing::new(totp.generate(unix(now)).to_string())
    }

    /// Verifies a typed code at `now` within `window`, refusing a step at or below
    /// `last_used` (the step stored after the previous success).
    ///
    /// Every step of the window is computed and compared, in constant time, whatever
    /// matches: the time taken says nothing about which step (if any) matched.
    ///
    /// # Errors
    /// [`VerifyError`]: empty, wrong length, not digits, mismatch, replayed.
    pub fn verify(
        &self,
        code: &str,
        now: SystemTime,
        window: Window,
        last_used: Option<u64>,
    ) -> Result<AcceptedStep, VerifyError> {
        if code.len() > 64 {
            return Err(VerifyError::WrongLength { expected: self.profile.digits() });
        }
        let code = normalize(code, self.profile.digits())?;
        let typed: u32 = code.as_str().parse().map_err(|_| VerifyError::NotDigits)?;
        let modulus = 10u32.pow(u32::from(self.profile.digits()));
        let period = u64::from(self.profile.period());
        let current = unix(now) / period;
        let (mut found, mut step) = (Choice::from(0), 0u64);
        let first = current.saturating_sub(u64::from(window.0));
        // The HMAC key is set up once and the keyed state cloned for each step (its inner and
        // outer pads are two hash blocks: keying once saves two of every three). The dynamic
        // truncation (RFC 4226 §5.3) is done here, so the typed code is parsed once and
        // compared as a number in constant time.
        self.each_step_mac(first, current + u64::from(window.0), |s, mac| {
            let value = truncate(mac) % modulus;
            let m = value.ct_eq(&typed);
            step = u64::conditional_select(&step, &s, m);
            found |= m;
        });
        if !bool::from(found) {
            return Err(VerifyError::Mismatch);
        }
        if last_used.is_some_and(|last| step <= last) {
            return Err(VerifyError::Replayed);
        }
        Ok(AcceptedStep(step))
    }
}

impl TotpCredential {
    /// Calls `f` with each counter of `first..=last` and its HMAC (the profile's hash, keyed
    /// with the secret).
    fn each_step_mac(&self, first: u64, last: u64, f: impl FnMut(u64, &[u8])) {
        let key = self.secret.expose_secret();
        match self.profile.algorithm() {
            crate::Algorithm::Sha1 => keyed_steps::<hmac::Hmac<sha1::Sha1>>(key, first, last, f),
            crate::Algorithm::Sha256 => {
                keyed_steps::<hmac::Hmac<sha2::Sha256>>(key, first, last, f);
            }
            crate::Algorithm::Sha512 => {
                keyed_steps::<hmac::Hmac<sha2::Sha512>>(key, first, last, f);
            }
        }
    }
}

/// HMAC of each 8-byte big-endian counter in `first..=last` under `key`, keyed once.
fn keyed_steps<M: hmac::Mac + hmac::digest::KeyInit + Clone>(
    key: &[u8],
    first: u64,
    last: u64,
    mut f: impl FnMut(u64, &[u8]),
) {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(keyed) = <M as hmac::digest::KeyInit>::new_from_slice(key) else { return };
    for s in first..=last {
        let mut mac = keyed.clone();
        mac.update(&s.to_be_bytes());
        let mut out = mac.finalize().into_bytes();
        f(s, &out);
        zeroize::Zeroize::zeroize(out.as_mut_slice());
    }
}

/// Settings for new enrollments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpConfig {
    issuer: String,
    profile: Profile,
    window: Window,
}

impl TotpConfig {
    /// The issuer shown in the app (the product name), with the default profile and window.
    ///
    /// # Errors
    /// [`ImportError::Label`] for an empty issuer or one with a colon.
    pub fn new(issuer: &str) -> Result<Self, ImportError> {
        check_issuer(issuer)?;
        Ok(Self {
            issuer: issuer.trim().to_owned(),
            profile: Profile::DEFAULT,
            window: Window::DEFAULT,
        })
    }

    /// Another profile (explicit: the default is what the common apps accept).
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Another verification window.
    #[must_use]
    pub fn window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// The verification window.
    #[must_use]
    pub fn verification_window(&self) -> Window {
        self.window
    }

    /// Starts an enrollment for `account` (the label the app shows, usually the email
    /// address): a fresh secret, the URI and its QR code. Nothing is enrolled until
    /// [`PendingEnrollment::confirm`] succeeds.
    ///
    /// # Errors
    /// [`ImportError::Label`] for an empty or overlong account name.
    pub fn start_enrollment<R: CryptoRng + ?Sized>(
        &self,
        account: &str,
        rng: &mut R,
    ) -> Result<PendingEnrollment, ImportError> {
        self.resume_enrollment(account, TotpSecret::generate(rng))
    }

    /// Rebuilds a pending enrollment from its secret (stored sealed between showing the QR
    /// code and the user typing the first code).
    ///
    /// # Errors
    /// [`ImportError::Label`] for an empty or overlong account name.
    pub fn resume_enrollment(
        &self,
        account: &str,
        secret: TotpSecret,
    ) -> Result<PendingEnrollment, ImportError> {
        check_account(account)?;
        let uri = build(&secret, self.profile, &self.issuer, account.trim());
        Ok(PendingEnrollment {
            credential: TotpCredential::new(secret, self.profile),
            uri,
            window: self.window,
        })
    }
}

/// An enrollment waiting for its first code. `Debug` is redacted (the URI holds the secret).
pub struct PendingEnrollment {
    credential: TotpCredential,
    uri: Zeroizing<String>,
    window: Window,
}

impl fmt::Debug for PendingEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingEnrollment")
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl PendingEnrollment {
    /// The otpauth URI (holds the secret).
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The secret, to seal while the enrollment waits, and to show as base32 for people who
    /// cannot scan.
    #[must_use]
    pub fn secret(&self) -> &TotpSecret {
        self.credential.secret()
    }

    /// The QR code of the URI as an SVG document (error correction M, black on white, with
    /// the quiet zone).
    #[must_use]
    pub fn qr_svg(&self) -> Zeroizing<String> {
        crate::qr::svg(&self.uri)
    }

    /// Confirms the enrollment with the first code the app shows. On success the credential
    /// and the step to store as last used (so this code cannot log in afterwards).
    ///
    /// # Errors
    /// [`VerifyError`] as for [`TotpCredential::verify`].
    pub fn confirm(
        self,
        code: &str,
        now: SystemTime,
    ) -> Result<(TotpCredential, AcceptedStep), (Self, VerifyError)> {
        match self.credential.verify(code, now, self.window, None) {
            Ok(step) => Ok((self.credential, step)),
            Err(e) => Err((self, e)),
        }
    }
}
