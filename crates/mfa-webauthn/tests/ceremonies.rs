//! Registration and authentication with software authenticators, for all three kinds, and
//! the attacks, each its own test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_webauthn::{
    CeremonyError, ConfigError, CredentialKind, NameError, PlatformAuthenticator, RelyingParty,
    ResponseError, UserRef, Uuid, WebauthnCredential,
};
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_core::proto::{
    CreationChallengeResponse, RequestChallengeResponse, UserVerificationPolicy,
};

const ORIGIN: &str = "https://portal.example.com";

fn rp() -> RelyingParty {
    RelyingParty::builder("example.com", "Example Portal")
        .origin(ORIGIN)
        .origin("https://example.com")
        .build()
        .unwrap()
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn alice() -> UserRef<'static> {
    UserRef { id: Uuid::from_u128(1), name: "alice@example.com", display_name: "Alice" }
}

fn bob() -> UserRef<'static> {
    UserRef { id: Uuid::from_u128(2), name: "bob@example.com", display_name: "Bob" }
}

/// What a browser and a conforming authenticator make of the options. The software
/// authenticator has no platform attachment or resident-key storage and refuses options that
/// ask for them; those fields are not signed, so clearing them lets it stand in for a
/// platform authenticator or a passkey provider without changing what the server verifies.
fn creation(json: &str) -> CreationChallengeResponse {
    let mut ccr: CreationChallengeResponse = serde_json::from_str(json).unwrap();
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.authenticator_attachment = None;
        sel.require_resident_key = false;
        sel.resident_key = None;
    }
    ccr
}

fn register_with(
    rp: &RelyingParty,
    auth: &mut SoftPasskey,
    kind: CredentialKind,
    user: UserRef<'_>,
    name: &str,
    existing: &[WebauthnCredential],
) -> WebauthnCredential {
    let (options, state) = rp.start_registration(kind, user, existing, now()).unwrap();
    let reg =
        auth.do_registration(Url::parse(ORIGIN).unwrap(), creation(options.as_json())).unwrap();
    let json = serde_json::to_string(&reg).unwrap();
    rp.finish_registration(&state, &json, name, existing, now()).unwrap()
}

/// One assertion for `creds` from `auth`, as JSON, with the state it answers.
fn assertion(
    rp: &RelyingParty,
    auth: &mut SoftPasskey,
    user: Uuid,
    creds: &[WebauthnCredential],
    origin: &str,
) -> (String, mfa_webauthn::AuthenticationCeremony) {
    let (options, state) = rp.start_authentication(user, creds, now()).unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_str(options.as_json()).unwrap();
    let a = auth.do_authentication(Url::parse(origin).unwrap(), rcr).unwrap();
    (serde_json::to_string(&a).unwrap(), state)
}

#[test]
fn all_three_kinds_register_and_authenticate() {
    let rp = rp();
    for (kind, uv) in [
        (CredentialKind::SecurityKey, false),
        (CredentialKind::Passkey, true),
        (CredentialKind::BiometricKey, true),
    ] {
        let mut auth = SoftPasskey::new(uv);
        let cred = register_with(&rp, &mut auth, kind, alice(), "  My key  ", &[]);
        assert_eq!(cred.kind(), kind);
        assert_eq!(cred.name(), "My key");
        assert_eq!(cred.user(), alice().id);
        assert_eq!(cred.created(), now());
        let creds = vec![cred.clone()];
        let (json, state) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
        let ok = rp.finish_authentication(&state, &json, &creds, now()).unwrap();
        assert_eq!(ok.credential.id(), cred.id());
        assert!(ok.credential.counter() > cred.counter(), "the counter rose");
        assert_eq!(ok.credential.last_used(), Some(now()));
        assert_eq!(ok.user_verified, uv);
        // The record survives storage.
        let stored: WebauthnCredential =
            serde_json::from_str(&serde_json::to_string(&ok.credential).unwrap()).unwrap();
        assert_eq!(stored.counter(), ok.credential.counter());
    }
}

#[test]
fn options_fit_each_kind() {
    let rp = rp();
    let get = |kind| {
        let (o, _) = rp.start_registration(kind, alice(), &[], now()).unwrap();
        serde_json::from_str::<Value>(o.as_json()).unwrap()
    };
    let sk = get(CredentialKind::SecurityKey);
    let sel = &sk["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["userVerification"], "preferred");
    assert_eq!(sel["authenticatorAttachment"], "cross-platform");
    // Regression (webauthn-rs #490): no credProtect "required" beside UV "preferred", which
    // Chromium refuses with "Requested protection policy is inconsistent".
    assert!(sk["publicKey"]["extensions"].get("credentialProtectionPolicy").is_none(), "{sk}");
    let pk = get(CredentialKind::Passkey);
    assert_eq!(pk["publicKey"]["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let bio = get(CredentialKind::BiometricKey);
    assert_eq!(bio["publicKey"]["authenticatorSelection"]["authenticatorAttachment"], "platform");
    assert_eq!(bio["publicKey"]["authenticatorSelection"]["residentKey"], "required");
    // The user handle is the stable id, not the email.
    assert_eq!(pk["publicKey"]["user"]["id"], URL_SAFE_NO_PAD.encode(alice().id.as_bytes()));
}

#[test]
fn existing_credentials_are_excluded_and_names_unique() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let first = register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "YubiKey", &[]);
    let existing = vec![first.clone()];
    let (options, state) =
        rp.start_registration(CredentialKind::SecurityKey, alice(), &existing, now()).unwrap();
    let v: Value = serde_json::from_str(options.as_json()).unwrap();
    assert_eq!(v["publicKey"]["excludeCredentials"][0]["id"], first.id_base64url());
    // The same name, in another case, is refused.
    let mut other = SoftPasskey::new(false);
    let reg =
        other.do_registration(Url::parse(ORIGIN).unwrap(), creation(options.as_json())).unwrap();
    let json = serde_json::to_string(&reg).unwrap();
    assert_eq!(
        rp.finish_registration(&state, &json, "yubikey", &existing, now()).unwrap_err(),
        CeremonyError::Name(NameError::Taken)
    );
    assert!(rp.finish_registration(&state, &json, "Titan", &existing, now()).is_ok());
    assert_eq!(mfa_webauthn::check_name("", &[]), Err(NameError::Empty));
    assert_eq!(mfa_webauthn::check_name(&"x".repeat(65), &[]), Err(NameError::TooLong));
    assert_eq!(mfa_webauthn::check_name("a\u{7}", &[]), Err(NameError::ControlCharacter));
}

#[test]
fn state_reused_for_registration_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let (options, state) =
        rp.start_registration(CredentialKind::SecurityKey, alice(), &[], now()).unwrap();
    let reg =
        auth.do_registration(Url::parse(ORIGIN).unwrap(), creation(options.as_json())).unwrap();
    let json = serde_json::to_string(&reg).unwrap();
    let cred = rp.finish_registration(&state, &json, "Key", &[], now()).unwrap();
    // The same state and response again: the authenticator is registered already.
    assert_eq!(
        rp.finish_registration(&state, &json, "Key 2", &[cred], now()).unwrap_err(),
        CeremonyError::AlreadyRegistered
    );
}

#[test]
fn wrong_origin_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let (options, state) =
        rp.start_registration(CredentialKind::SecurityKey, alice(), &[], now()).unwrap();
    let mut ccr = creation(options.as_json());
    ccr.public_key.rp.id = "evil.example".into();
    let reg = auth.do_registration(Url::parse("https://evil.example").unwrap(), ccr).unwrap();
    let err = rp
        .finish_registration(&state, &serde_json::to_string(&reg).unwrap(), "k", &[], now())
        .unwrap_err();
    assert_eq!(err, CeremonyError::WrongOrigin);

    let cred = register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[]);
    let creds = vec![cred];
    let (options, state) = rp.start_authentication(alice().id, &creds, now()).unwrap();
    let mut rcr: RequestChallengeResponse = serde_json::from_str(options.as_json()).unwrap();
    rcr.public_key.rp_id = "evil.example".into();
    let a = auth.do_authentication(Url::parse("https://evil.example").unwrap(), rcr).unwrap();
    let err = rp
        .finish_authentication(&state, &serde_json::to_string(&a).unwrap(), &creds, now())
        .unwrap_err();
    assert_eq!(err, CeremonyError::WrongOrigin);
}

#[test]
fn wrong_rp_id_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let cred = register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[]);
    let creds = vec![cred];
    let (options, state) = rp.start_authentication(alice().id, &creds, now()).unwrap();
    let mut rcr: RequestChallengeResponse = serde_json::from_str(options.as_json()).unwrap();
    // The page is ours, but the authenticator is asked to sign for a parent domain.
    rcr.public_key.rp_id = "portal.example.com".into();
    let a = auth.do_authentication(Url::parse(ORIGIN).unwrap(), rcr).unwrap();
    let err = rp
        .finish_authentication(&state, &serde_json::to_string(&a).unwrap(), &creds, now())
        .unwrap_err();
    assert_eq!(err, CeremonyError::WrongRpId);
}

#[test]
fn challenge_from_another_ceremony_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let creds = vec![register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[])];
    let (json_a, _state_a) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
    let (_options_b, state_b) = rp.start_authentication(alice().id, &creds, now()).unwrap();
    assert_eq!(
        rp.finish_authentication(&state_b, &json_a, &creds, now()).unwrap_err(),
        CeremonyError::ChallengeMismatch
    );
}

#[test]
fn replayed_assertion_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let creds = vec![register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[])];
    let (json, state) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
    let ok = rp.finish_authentication(&state, &json, &creds, now()).unwrap();
    let stored = vec![ok.credential];
    // The same assertion again (a reused state): its counter no longer rises.
    assert_eq!(
        rp.finish_authentication(&state, &json, &stored, now()).unwrap_err(),
        CeremonyError::PossibleClone
    );
}

#[test]
fn counter_regression_is_a_possible_clone() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let cred = register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[]);
    let creds = vec![cred];
    let (json, state) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
    // The stored counter is ahead of what this authenticator signs: a clone was used.
    let mut ahead: Value = serde_json::to_value(&creds[0]).unwrap();
    ahead["inner"]["counter"] = Value::from(1_000_000u32);
    let ahead: WebauthnCredential = serde_json::from_value(ahead).unwrap();
    assert_eq!(
        rp.finish_authentication(&state, &json, &[ahead], now()).unwrap_err(),
        CeremonyError::PossibleClone
    );
}

#[test]
fn a_refused_assertion_names_its_credential() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let creds = vec![register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[])];
    let (json, _) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
    assert_eq!(mfa_webauthn::assertion_credential_id(&json).unwrap(), creds[0].id());
    assert!(mfa_webauthn::assertion_credential_id("{}").is_err());
    assert!(mfa_webauthn::assertion_credential_id(&"x".repeat(70_000)).is_err());
}

#[test]
fn another_users_credential_is_refused() {
    let rp = rp();
    let mut alice_key = SoftPasskey::new(false);
    let mut bob_key = SoftPasskey::new(false);
    let a =
        vec![register_with(&rp, &mut alice_key, CredentialKind::SecurityKey, alice(), "a", &[])];
    let b = vec![register_with(&rp, &mut bob_key, CredentialKind::SecurityKey, bob(), "b", &[])];
    // Bob answers his own challenge, and the answer is presented to Alice's ceremony.
    let (bob_json, _) = assertion(&rp, &mut bob_key, bob().id, &b, ORIGIN);
    let (_, alice_state) = rp.start_authentication(alice().id, &a, now()).unwrap();
    assert_eq!(
        rp.finish_authentication(&alice_state, &bob_json, &a, now()).unwrap_err(),
        CeremonyError::UnknownCredential
    );
    // Even if the caller mixed Bob's record into Alice's list.
    let mixed = [a[0].clone(), b[0].clone()];
    assert_eq!(
        rp.finish_authentication(&alice_state, &bob_json, &mixed, now()).unwrap_err(),
        CeremonyError::WrongUser
    );
    assert_eq!(
        rp.start_authentication(alice().id, &mixed, now()).unwrap_err(),
        CeremonyError::WrongUser
    );
}

#[test]
fn missing_user_verification_is_refused_where_required() {
    let rp = rp();
    // Registration: a passkey needs UV; an authenticator that does not verify is refused.
    let mut no_uv = SoftPasskey::new(false);
    let (options, state) =
        rp.start_registration(CredentialKind::Passkey, alice(), &[], now()).unwrap();
    let mut ccr = creation(options.as_json());
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.user_verification = UserVerificationPolicy::Preferred;
    }
    let reg = no_uv.do_registration(Url::parse(ORIGIN).unwrap(), ccr).unwrap();
    let err = rp
        .finish_registration(&state, &serde_json::to_string(&reg).unwrap(), "p", &[], now())
        .unwrap_err();
    assert_eq!(err, CeremonyError::UserVerificationMissing);

    // Authentication: a passkey and a security key together make the request "preferred";
    // an assertion from the passkey without UV is still refused.
    let mut sk = SoftPasskey::new(false);
    let mut pk = SoftPasskey::new(true);
    let key = register_with(&rp, &mut sk, CredentialKind::SecurityKey, alice(), "key", &[]);
    let passkey = register_with(
        &rp,
        &mut pk,
        CredentialKind::Passkey,
        alice(),
        "passkey",
        std::slice::from_ref(&key),
    );
    let creds = vec![key, passkey];
    let (options, state) = rp.start_authentication(alice().id, &creds, now()).unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_str(options.as_json()).unwrap();
    assert_eq!(rcr.public_key.user_verification, UserVerificationPolicy::Preferred);
    // With UV only preferred, this authenticator signs without verifying the user.
    let a = pk.do_authentication(Url::parse(ORIGIN).unwrap(), rcr).unwrap();
    let err = rp
        .finish_authentication(&state, &serde_json::to_string(&a).unwrap(), &creds, now())
        .unwrap_err();
    assert_eq!(err, CeremonyError::UserVerificationMissing);
}

/// Flips one byte of a base64url field of the response.
fn tamper(json: &str, field: &str, at: usize) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    let s = v["response"][field].as_str().unwrap().to_owned();
    let mut bytes = URL_SAFE_NO_PAD.decode(s).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    v["response"][field] = Value::from(URL_SAFE_NO_PAD.encode(bytes));
    v.to_string()
}

#[test]
fn tampering_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let creds = vec![register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[])];
    for (field, at) in [
        ("clientDataJSON", 20),
        ("authenticatorData", 33), // the counter
        ("authenticatorData", 5),  // the RP id hash
        ("signature", 40),
    ] {
        let (json, state) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
        let err =
            rp.finish_authentication(&state, &tamper(&json, field, at), &creds, now()).unwrap_err();
        assert!(
            matches!(
                err,
                CeremonyError::BadSignature
                    | CeremonyError::WrongRpId
                    | CeremonyError::Response(ResponseError::Malformed)
                    | CeremonyError::ChallengeMismatch
                    | CeremonyError::WrongClientDataType
            ),
            "{field}@{at}: {err:?}"
        );
        // And the untouched response still verifies (the refusal was the tampering's).
        assert!(rp.finish_authentication(&state, &json, &creds, now()).is_ok());
    }
}

#[test]
fn expired_state_is_refused() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let (options, state) =
        rp.start_registration(CredentialKind::SecurityKey, alice(), &[], now()).unwrap();
    let reg =
        auth.do_registration(Url::parse(ORIGIN).unwrap(), creation(options.as_json())).unwrap();
    let late = now() + Duration::from_secs(300);
    let err = rp
        .finish_registration(&state, &serde_json::to_string(&reg).unwrap(), "k", &[], late)
        .unwrap_err();
    assert_eq!(err, CeremonyError::Expired);
    assert_eq!(state.expires(), late);
}

#[test]
fn bad_input_is_typed() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let creds = vec![register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[])];
    let (json, state) = assertion(&rp, &mut auth, alice().id, &creds, ORIGIN);
    let malformed = CeremonyError::Response(ResponseError::Malformed);
    for bad in [
        String::new(),
        "{".into(),
        "null".into(),
        "[]".into(),
        json[..json.len() / 2].to_owned(),
        json.replace("\"rawId\":\"", "\"rawId\":\"!!"),
        json.replace("\"type\":\"public-key\"", "\"type\":7"),
    ] {
        assert_eq!(
            rp.finish_authentication(&state, &bad, &creds, now()).unwrap_err(),
            malformed,
            "{bad}"
        );
    }
    let huge = format!("{{\"id\":\"{}\"}}", "A".repeat(1 << 20));
    assert_eq!(
        rp.finish_authentication(&state, &huge, &creds, now()).unwrap_err(),
        CeremonyError::Response(ResponseError::TooLarge)
    );
    // Both extension field names (toJSON's and the older one) are accepted together.
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["clientExtensionResults"] = serde_json::json!({});
    v["extensions"] = serde_json::json!({});
    assert!(rp.finish_authentication(&state, &v.to_string(), &creds, now()).is_ok());
    assert_eq!(
        rp.start_authentication(alice().id, &[], now()).unwrap_err(),
        CeremonyError::NoCredentials
    );
}

#[test]
fn configuration_is_checked_when_built() {
    let b = |rp_id: &str, origin: &str| {
        RelyingParty::builder(rp_id, "X").origin(origin).build().map(|_| ())
    };
    assert_eq!(
        b("example.com", "https://evil.test"),
        Err(ConfigError::OriginNotUnderRpId("https://evil.test".into()))
    );
    assert_eq!(
        b("example.com", "https://notexample.com"),
        Err(ConfigError::OriginNotUnderRpId("https://notexample.com".into()))
    );
    assert_eq!(
        b("example.com", "http://portal.example.com"),
        Err(ConfigError::OriginScheme("http://portal.example.com".into()))
    );
    assert_eq!(
        b("localhost", "http://127.0.0.1:8080"),
        Err(ConfigError::OriginIsIp("http://127.0.0.1:8080".into()))
    );
    assert_eq!(b("127.0.0.1", "https://127.0.0.1"), Err(ConfigError::RpId));
    assert_eq!(b("https://example.com", "https://example.com"), Err(ConfigError::RpId));
    assert_eq!(b("Example.com", "https://example.com"), Err(ConfigError::RpId));
    assert_eq!(
        b("example.com", "https://example.com/login"),
        Err(ConfigError::OriginHasPath("https://example.com/login".into()))
    );
    assert_eq!(
        b("example.com", "not a url"),
        Err(ConfigError::OriginUnparsable("not a url".into()))
    );
    assert!(b("localhost", "http://localhost:8080").is_ok());
    assert!(b("example.com", "https://example.com").is_ok());
    assert_eq!(
        RelyingParty::builder("example.com", "X").build().map(|_| ()),
        Err(ConfigError::NoOrigin)
    );
    assert_eq!(
        RelyingParty::builder("example.com", " ").origin("https://example.com").build().map(|_| ()),
        Err(ConfigError::RpName)
    );
}

#[test]
fn biometric_offer() {
    let rp = rp();
    let mut auth = SoftPasskey::new(false);
    let key = register_with(&rp, &mut auth, CredentialKind::SecurityKey, alice(), "k", &[]);
    assert!(rp.offer_biometric_key(PlatformAuthenticator::Available, std::slice::from_ref(&key)));
    assert!(
        !rp.offer_biometric_key(PlatformAuthenticator::Unavailable, std::slice::from_ref(&key))
    );
    let mut pk = SoftPasskey::new(true);
    let bio = register_with(
        &rp,
        &mut pk,
        CredentialKind::BiometricKey,
        alice(),
        "Touch ID",
        std::slice::from_ref(&key),
    );
    assert!(!rp.offer_biometric_key(PlatformAuthenticator::Available, &[key, bio]));
}
