//! Registration and authentication ceremonies.

use core::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, AuthenticatorAttachment, COSEAlgorithm,
    CredProtect, CredentialProtectionPolicy, PublicKeyCredentialHints, RegistrationState,
    RequestRegistrationExtensions, UserVerificationPolicy,
};

use crate::credential::check_name;
use crate::{
    CeremonyError, CredentialKind, RelyingParty, WebauthnCredential, from_unix, response, unix,
};

/// The user a ceremony is for. `id` is the stable WebAuthn user handle (never derived from
/// the email, which can change); `name` is what authenticators show (the email address).
#[derive(Debug, Clone, Copy)]
pub struct UserRef<'a> {
    /// Stable user handle.
    pub id: Uuid,
    /// Account name shown by authenticators (the email address).
    pub name: &'a str,
    /// Display name.
    pub display_name: &'a str,
}

/// Options to hand to the browser: JSON in the shape `navigator.credentials.create()` or
/// `.get()` takes after base64url decoding (`{"publicKey": {…}}`; decode with
/// `PublicKeyCredential.parseCreationOptionsFromJSON(json.publicKey)` /
/// `parseRequestOptionsFromJSON`, or by hand: see the crate docs).
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserOptions(String);

impl BrowserOptions {
    /// The JSON.
    #[must_use]
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrowserOptions({} bytes)", self.0.len())
    }
}

/// State of a registration between start and finish: serializable, expiring. Store it
/// server-side and *take* it (delete it atomically) before calling finish: the verifier
/// does not make it single-use by itself.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegistrationCeremony {
    v: u8,
    kind: CredentialKind,
    user: Uuid,
    expires: u64,
    inner: RegistrationState,
}

impl fmt::Debug for RegistrationCeremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationCeremony")
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl RegistrationCeremony {
    /// When the ceremony expires.
    #[must_use]
    pub fn expires(&self) -> SystemTime {
        from_unix(self.expires)
    }

    /// The kind being registered.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }
}

/// State of an authentication between start and finish; same rules as
/// [`RegistrationCeremony`].
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthenticationCeremony {
    v: u8,
    user: Uuid,
    expires: u64,
    inner: AuthenticationState,
}

impl fmt::Debug for AuthenticationCeremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationCeremony")
            .field("user", &self.user)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl AuthenticationCeremony {
    /// When the ceremony expires.
    #[must_use]
    pub fn expires(&self) -> SystemTime {
        from_unix(self.expires)
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The credential that signed, with its counter, flags and last-used time updated:
    /// store it (replace the old record).
    pub credential: WebauthnCredential,
    /// Whether the user was verified (PIN or biometrics) on the authenticator.
    pub user_verified: bool,
}

/// What the browser says about its platform authenticator, from
/// `PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformAuthenticator {
    /// The browser reports one.
    Available,
    /// It reports none, or the check could not run.
    Unavailable,
}

impl RelyingParty {
    /// Starts registering a `kind` for `user`, excluding the authenticators in `existing`
    /// (the browser refuses to register one twice).
    ///
    /// The options differ by kind: a security key allows cross-platform authenticators
    /// (USB/NFC/BLE, a phone over hybrid) with user verification *preferred* and no
    /// credProtect request (Chromium refuses credProtect "required" with UV only
    /// preferred); a passkey asks for a discoverable credential with user verification
    /// required; a biometric key adds the platform attachment.
    ///
    /// # Errors
    /// [`CeremonyError::Refused`] if the verifier cannot build the options (empty user
    /// name).
    pub fn start_registration(
        &self,
        kind: CredentialKind,
        user: UserRef<'_>,
        existing: &[WebauthnCredential],
        now: SystemTime,
    ) -> Result<(BrowserOptions, RegistrationCeremony), CeremonyError> {
        let exclude: Vec<_> = existing.iter().map(|c| c.inner.cred_id.clone()).collect();
        let builder = self
            .core
            .new_challenge_register_builder(user.id.as_bytes(), user.name, user.display_name)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(COSEAlgorithm::secure_algs())
            .reject_synchronised_authenticators(false)
            .exclude_credentials(Some(exclude));
        let uv_required_protect = Some(RequestRegistrationExtensions {
            cred_protect: Some(CredProtect {
                credential_protection_policy: CredentialProtectionPolicy::UserVerificationRequired,
                enforce_credential_protection_policy: Some(false),
            }),
            uvm: Some(true),
            cred_props: Some(true),
            min_pin_length: None,
            hmac_create_secret: None,
        });
        let builder = match kind {
            CredentialKind::SecurityKey => builder
                .user_verification_policy(UserVerificationPolicy::Preferred)
                .require_resident_key(false)
                .authenticator_attachment(Some(AuthenticatorAttachment::CrossPlatform))
                .hints(Some(vec![
                    PublicKeyCredentialHints::SecurityKey,
                    PublicKeyCredentialHints::Hybrid,
                ]))
                .extensions(Some(RequestRegistrationExtensions {
                    cred_protect: None,
                    uvm: Some(true),
                    cred_props: Some(true),
                    min_pin_length: None,
                    hmac_create_secret: None,
                })),
            CredentialKind::Passkey => builder
                .user_verification_policy(UserVerificationPolicy::Required)
                .require_resident_key(true)
                .authenticator_attachment(None)
                .hints(None)
                .extensions(uv_required_protect),
            CredentialKind::BiometricKey => builder
                .user_verification_policy(UserVerificationPolicy::Required)
                .require_resident_key(true)
                .authenticator_attachment(Some(AuthenticatorAttachment::Platform))
                .hints(Some(vec![PublicKeyCredentialHints::ClientDevice]))
                .extensions(uv_required_protect),
        };
        let (ccr, inner) = self.core.generate_challenge_register(builder)?;
        let json = serde_json::to_string(&ccr).map_err(|_| CeremonyError::Refused("options"))?;
        let state = RegistrationCeremony {
            v: 1,
            kind,
            user: user.id,
            expires: unix(now).saturating_add(self.ttl.as_secs()),
            inner,
        };
        Ok((BrowserOptions(json), state))
    }

    /// Finishes a registration with the browser's response and the name the user chose.
    /// `existing` are the user's current credentials (for the name's uniqueness and to
    /// refuse an authenticator registered already).
    ///
    /// # Errors
    /// [`CeremonyError`]: expired, malformed, wrong origin / RP id / challenge, user
    /// verification missing where the kind requires it, already registered, bad name.
    pub fn finish_registration(
        &self,
        state: &RegistrationCeremony,
        response_json: &str,
        name: &str,
        existing: &[WebauthnCredential],
        now: SystemTime,
    ) -> Result<WebauthnCredential, CeremonyError> {
        if unix(now) >= state.expires {
            return Err(CeremonyError::Expired);
        }
        let name = check_name(name, existing)?;
        let reg = response::registration(response_json)?;
        let inner = self.core.register_credential(&reg, &state.inner, None)?;
        if existing.iter().any(|c| c.inner.cred_id == inner.cred_id) {
            return Err(CeremonyError::AlreadyRegistered);
        }
        if state.kind.requires_user_verification() && !inner.user_verified {
            return Err(CeremonyError::UserVerificationMissing);
        }
        Ok(WebauthnCredential {
            name,
            kind: state.kind,
            user: state.user,
            created: unix(now),
            last_used: None,
            aaguid: response::aaguid(reg.response.attestation_object.as_ref()),
            inner,
        })
    }

    /// Starts a second-factor authentication over all of the user's WebAuthn credentials
    /// (any kind). User verification is *preferred* when a security key is among them and
    /// required otherwise; [`RelyingParty::finish_authentication`] then requires it for
    /// each credential whose kind needs it.
    ///
    /// # Errors
    /// [`CeremonyError::NoCredentials`] for an empty list (the verifier would otherwise send
    /// an empty allow-list, which lets any discoverable credential answer);
    /// [`CeremonyError::WrongUser`] if a credential belongs to someone else.
    pub fn start_authentication(
        &self,
        user: Uuid,
        credentials: &[WebauthnCredential],
        now: SystemTime,
    ) -> Result<(BrowserOptions, AuthenticationCeremony), CeremonyError> {
        if credentials.is_empty() {
            return Err(CeremonyError::NoCredentials);
        }
        if credentials.iter().any(|c| c.user != user) {
            return Err(CeremonyError::WrongUser);
        }
        let policy = if credentials.iter().all(|c| c.kind.requires_user_verification()) {
            UserVerificationPolicy::Required
        } else {
            UserVerificationPolicy::Preferred
        };
        let creds = credentials.iter().map(|c| c.inner.clone()).collect();
        let builder = self
            .core
            .new_challenge_authenticate_builder(creds, Some(policy))?
            .allow_backup_eligible_upgrade(true);
        let (rcr, inner) = self.core.generate_challenge_authenticate(builder)?;
        let json = serde_json::to_string(&rcr).map_err(|_| CeremonyError::Refused("options"))?;
        let state = AuthenticationCeremony {
            v: 1,
            user,
            expires: unix(now).saturating_add(self.ttl.as_secs()),
            inner,
        };
        Ok((BrowserOptions(json), state))
    }

    /// Finishes an authentication. `credentials` are the user's stored records (the same
    /// ones the ceremony started with, as stored now).
    ///
    /// # Errors
    /// [`CeremonyError`]: expired, malformed, wrong origin / RP id / challenge, unknown
    /// credential or another user's, bad signature, user verification missing where
    /// required, counter that did not rise.
    pub fn finish_authentication(
        &self,
        state: &AuthenticationCeremony,
        response_json: &str,
        credentials: &[WebauthnCredential],
        now: SystemTime,
    ) -> Result<Authenticated, CeremonyError> {
        if unix(now) >= state.expires {
            return Err(CeremonyError::Expired);
        }
        let rsp = response::assertion(response_json)?;
        if rsp.get_user_unique_id().is_some_and(|h| h != state.user.as_bytes()) {
            return Err(CeremonyError::WrongUser);
        }
        let stored = credentials
            .iter()
            .find(|c| c.inner.cred_id == rsp.raw_id)
            .ok_or(CeremonyError::UnknownCredential)?;
        if stored.user != state.user {
            return Err(CeremonyError::WrongUser);
        }
        // Verify against the record as stored now (its counter), not the copy in the state.
        let result = self.core.authenticate_single_credential(&rsp, &state.inner, &stored.inner)?;
        if stored.kind.requires_user_verification() && !result.user_verified() {
            return Err(CeremonyError::UserVerificationMissing);
        }
        let mut credential = stored.clone();
        credential.inner.counter = credential.inner.counter.max(result.counter());
        credential.inner.backup_state = result.backup_state();
        credential.inner.backup_eligible = result.backup_eligible();
        credential.last_used = Some(unix(now));
        Ok(Authenticated { credential, user_verified: result.user_verified() })
    }

    /// Whether to offer "register a biometric key on this device" after a login: the
    /// browser has a platform authenticator and the user has no biometric key or passkey
    /// yet.
    #[must_use]
    pub fn offer_biometric_key(
        &self,
        browser: PlatformAuthenticator,
        credentials: &[WebauthnCredential],
    ) -> bool {
        browser == PlatformAuthenticator::Available
            && !credentials.iter().any(|c| c.kind != CredentialKind::SecurityKey)
    }
}
