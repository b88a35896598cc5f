//! The stored record of a registered authenticator.

use core::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs_core::proto::Credential;

use crate::NameError;

/// What the user registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A roaming authenticator: a USB/NFC/BLE key (YubiKey, Titan) or a phone over hybrid
    /// (QR). User verification preferred.
    SecurityKey,
    /// A discoverable credential with user verification (synced or device-bound).
    Passkey,
    /// A platform authenticator (Touch ID, Windows Hello, Android screen lock) with user
    /// verification: the notice's "biometric key".
    BiometricKey,
}

impl CredentialKind {
    /// Whether an assertion from this kind must carry user verification.
    #[must_use]
    pub const fn requires_user_verification(self) -> bool {
        !matches!(self, Self::SecurityKey)
    }
}

/// A registered authenticator, to store as JSON (serde). Holds a public key only: nothing in
/// it is secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct WebauthnCredential {
    pub(crate) name: String,
    pub(crate) kind: CredentialKind,
    pub(crate) user: Uuid,
    pub(crate) created: u64,
    pub(crate) last_used: Option<u64>,
    pub(crate) aaguid: Option<Uuid>,
    pub(crate) inner: Credential,
}

impl fmt::Debug for WebauthnCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebauthnCredential")
            .field("id", &self.id_base64url())
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("counter", &self.inner.counter)
            .finish_non_exhaustive()
    }
}

impl WebauthnCredential {
    /// The credential id (raw bytes).
    #[must_use]
    pub fn id(&self) -> &[u8] {
        &self.inner.cred_id
    }

    /// The credential id in unpadded base64url (as browsers show it), for an index column.
    #[must_use]
    pub fn id_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.inner.cred_id)
    }

    /// The name the user gave it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames it (same rules as at registration).
    ///
    /// # Errors
    /// [`NameError`].
    pub fn rename(&mut self, name: &str, others: &[WebauthnCredential]) -> Result<(), NameError> {
        let others: Vec<_> = others.iter().filter(|c| c.id() != self.id()).cloned().collect();
        self.name = check_name(name, &others)?;
        Ok(())
    }

    /// What kind it is.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The user it belongs to (the stable WebAuthn user handle).
    #[must_use]
    pub fn user(&self) -> Uuid {
        self.user
    }

    /// When it was registered.
    #[must_use]
    pub fn created(&self) -> SystemTime {
        crate::from_unix(self.created)
    }

    /// When it last authenticated.
    #[must_use]
    pub fn last_used(&self) -> Option<SystemTime> {
        self.last_used.map(crate::from_unix)
    }

    /// Transports the browser reported at registration (`usb`, `nfc`, `ble`, `hybrid`,
    /// `internal` …).
    #[must_use]
    pub fn transports(&self) -> Vec<String> {
        self.inner
            .transports
            .iter()
            .flatten()
            .filter_map(|t| serde_json::to_value(t).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Whether the credential may be backed up / synced (a synced passkey).
    #[must_use]
    pub fn backup_eligible(&self) -> bool {
        self.inner.backup_eligible
    }

    /// Whether it is backed up now.
    #[must_use]
    pub fn backed_up(&self) -> bool {
        self.inner.backup_state
    }

    /// The authenticator model's AAGUID, when the authenticator gave a non-zero one.
    #[must_use]
    pub fn aaguid(&self) -> Option<Uuid> {
        self.aaguid
    }

    /// The signature counter last seen (0 for authenticators that keep none).
    #[must_use]
    pub fn counter(&self) -> u32 {
        self.inner.counter
    }
}

/// Checks a credential name: trimmed, 1–64 characters, no control characters, unique among
/// `existing` (case-insensitively). Returns the trimmed name.
///
/// # Errors
/// [`NameError`].
pub fn check_name(name: &str, existing: &[WebauthnCredential]) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > 64 {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    let folded = name.to_lowercase();
    if existing.iter().any(|c| c.name.to_lowercase() == folded) {
        return Err(NameError::Taken);
    }
    Ok(name.to_owned())
}
