//! A software WebAuthn authenticator written from the specification's bytes (ES256,
//! attestation "none"), for what the kept authenticator crates cannot be told to do: keep no
//! signature counter (every assertion says 0, as synced passkeys do), present a credential id
//! of the test's choosing (the same one to two accounts), and set the backup flags (a synced
//! passkey, or a device-bound key). Its ECDSA nonces come from the system.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_cbor_2::Value as C;

/// The authenticator. `Debug` shows its id and flags only.
#[allow(clippy::disallowed_types)]
pub struct RawKey {
    key: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    id: Vec<u8>,
    user: Vec<u8>,
    flags: u8,
}

impl core::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawKey").field("id", &self.id).field("flags", &self.flags).finish()
    }
}

/// User present and user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// Backup eligible and backed up.
const BE_BS: u8 = 0x08 | 0x10;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl RawKey {
    /// A synced passkey (backup eligible and backed up) with credential id `id`.
    #[must_use]
    pub fn synced(id: Vec<u8>) -> Self {
        Self::with_flags(id, UP_UV | BE_BS)
    }

    /// A device-bound key (not backup eligible) with credential id `id`.
    #[must_use]
    pub fn device_bound(id: Vec<u8>) -> Self {
        Self::with_flags(id, UP_UV)
    }

    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    fn with_flags(id: Vec<u8>, flags: u8) -> Self {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { key, rng, id, user: Vec::new(), flags }
    }

    fn client_data(kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": kind, "challenge": challenge, "origin": crate::ORIGIN, "crossOrigin": false,
        }))
        .unwrap()
    }

    fn rp_hash() -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, crate::RP_ID.as_bytes()).as_ref().to_vec()
    }

    /// The browser's answer (JSON) to registration options (JSON).
    ///
    /// # Panics
    /// On options that are not WebAuthn creation options.
    pub fn register(&mut self, options: &str) -> String {
        use ring::signature::KeyPair as _;
        let o: serde_json::Value = serde_json::from_str(options).unwrap();
        let challenge = o["publicKey"]["challenge"].as_str().unwrap();
        let user = o["publicKey"]["user"]["id"].as_str().unwrap();
        self.user = URL_SAFE_NO_PAD.decode(user).unwrap();
        let point = self.key.public_key().as_ref();
        let cose = C::Map(
            [
                (C::Integer(1), C::Integer(2)),
                (C::Integer(3), C::Integer(-7)),
                (C::Integer(-1), C::Integer(1)),
                (C::Integer(-2), C::Bytes(point[1..33].to_vec())),
                (C::Integer(-3), C::Bytes(point[33..65].to_vec())),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = Self::rp_hash();
        auth_data.push(self.flags | 0x40);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&self.id);
        auth_data.extend_from_slice(&serde_cbor_2::to_vec(&cose).unwrap());
        let attestation = C::Map(
            [
                (C::Text("fmt".into()), C::Text("none".into())),
                (C::Text("attStmt".into()), C::Map(Default::default())),
                (C::Text("authData".into()), C::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        serde_json::json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation).unwrap()),
                "clientDataJSON": b64(&Self::client_data("webauthn.create", challenge)),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// The browser's answer (JSON) to request options (JSON), with signature counter 0.
    ///
    /// # Panics
    /// On options that are not WebAuthn request options.
    pub fn assert(&self, options: &str) -> String {
        let o: serde_json::Value = serde_json::from_str(options).unwrap();
        let challenge = o["publicKey"]["challenge"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.get", challenge);
        let mut auth_data = Self::rp_hash();
        auth_data.push(self.flags);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        let mut signed = auth_data.clone();
        signed
            .extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &client_data).as_ref());
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        serde_json::json!({
            "id": b64(&self.id), "rawId": b64(&self.id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}
