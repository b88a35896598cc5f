//! `mfa-webauthn`: finishing an authentication (parse the browser JSON, check client data,
//! RP id hash, flags, counter, verify the ES256 signature) beside the raw P-256 verification
//! of the backend webauthn-rs uses (RustCrypto `p256`, key and DER signature parsed each
//! time), and beside ring's P-256 verification for reference.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_webauthn::{CredentialKind, RelyingParty, UserRef, Uuid};
use p256::ecdsa::signature::Verifier as _;
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::harness::Pair;

/// Everything the pairs need, made once with a software authenticator.
struct Fixture {
    rp: RelyingParty,
    state: mfa_webauthn::AuthenticationCeremony,
    json: String,
    creds: Vec<mfa_webauthn::WebauthnCredential>,
    sec1: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(v.as_str()?).ok()
}

fn fixture() -> Option<Fixture> {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let origin = "https://portal.example.com";
    let rp = RelyingParty::builder("example.com", "Bench").origin(origin).build().ok()?;
    let user = UserRef { id: Uuid::from_u128(1), name: "a@example.com", display_name: "A" };
    let mut auth = SoftPasskey::new(false);
    let (options, reg_state) =
        rp.start_registration(CredentialKind::SecurityKey, user, &[], now).ok()?;
    let ccr = serde_json::from_str(options.as_json()).ok()?;
    let reg = auth.do_registration(Url::parse(origin).ok()?, ccr).ok()?;
    let cred = rp
        .finish_registration(&reg_state, &serde_json::to_string(&reg).ok()?, "k", &[], now)
        .ok()?;
    let creds = vec![cred];
    let (options, state) = rp.start_authentication(user.id, &creds, now).ok()?;
    let rcr = serde_json::from_str(options.as_json()).ok()?;
    let assertion = auth.do_authentication(Url::parse(origin).ok()?, rcr).ok()?;
    let json = serde_json::to_string(&assertion).ok()?;
    let v: Value = serde_json::from_str(&json).ok()?;
    let key = serde_json::to_value(&creds[0]).ok()?;
    let ec = &key["inner"]["cred"]["key"]["EC_EC2"];
    let mut sec1 = vec![0x04];
    sec1.extend(b64(&ec["x"])?);
    sec1.extend(b64(&ec["y"])?);
    let mut message = b64(&v["response"]["authenticatorData"])?;
    let client_data = b64(&v["response"]["clientDataJSON"])?;
    message.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &client_data).as_ref());
    let signature = b64(&v["response"]["signature"])?;
    // Time the success path: the assertion must verify.
    rp.finish_authentication(&state, &json, &creds, now).ok()?;
    Some(Fixture { rp, state, json, creds, sec1, message, signature })
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let Some(f) = fixture() else { return Vec::new() };
    let f: &'static Fixture = Box::leak(Box::new(f));
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let finish = move || {
        black_box(f.rp.finish_authentication(&f.state, &f.json, &f.creds, now).is_ok());
    };
    let rustcrypto = move || {
        let ok = p256::ecdsa::VerifyingKey::from_sec1_bytes(&f.sec1).ok().and_then(|k| {
            let sig = p256::ecdsa::Signature::from_der(&f.signature).ok()?;
            Some(k.verify(&f.message, &sig).is_ok())
        });
        black_box(ok);
    };
    let ring_verify = move || {
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &f.sec1,
        );
        black_box(key.verify(&f.message, &f.signature).is_ok());
    };
    vec![
        Pair {
            name: "webauthn: finish authentication (ES256)",
            raw_name: "p256 verify (RustCrypto, as webauthn-rs)",
            raw: Box::new(rustcrypto),
            lib: Box::new(finish),
            goal: Some(1.1),
        },
        Pair {
            name: "webauthn: finish authentication (ES256)",
            raw_name: "ring P-256 verify (reference)",
            raw: Box::new(ring_verify),
            lib: Box::new(finish),
            goal: None,
        },
    ]
}
