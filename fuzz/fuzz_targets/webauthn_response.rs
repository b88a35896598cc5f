//! Browser responses (registration and assertion JSON) from an attacker: a typed error,
//! never a panic, and never a success for bytes the authenticator did not sign.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mfa_webauthn::{
    AuthenticationCeremony, CredentialKind, RegistrationCeremony, RelyingParty, UserRef, Uuid,
    WebauthnCredential,
};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

struct Fixture {
    rp: RelyingParty,
    reg: RegistrationCeremony,
    auth: AuthenticationCeremony,
    creds: Vec<WebauthnCredential>,
    genuine: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let origin = Url::parse("https://portal.example.com").unwrap();
        let rp = RelyingParty::builder("example.com", "Fuzz").origin(origin.as_str()).build().unwrap();
        let user = UserRef { id: Uuid::from_u128(1), name: "a@example.com", display_name: "A" };
        let mut key = SoftPasskey::new(false);
        let (options, state) = rp.start_registration(CredentialKind::SecurityKey, user, &[], now).unwrap();
        let reg = key.do_registration(origin.clone(), serde_json::from_str(options.as_json()).unwrap()).unwrap();
        let cred = rp.finish_registration(&state, &serde_json::to_string(&reg).unwrap(), "k", &[], now).unwrap();
        let creds = vec![cred];
        let (reg_options, reg) = rp.start_registration(CredentialKind::SecurityKey, user, &creds, now).unwrap();
        let _ = reg_options;
        let (options, auth) = rp.start_authentication(user.id, &creds, now).unwrap();
        let a = key.do_authentication(origin, serde_json::from_str(options.as_json()).unwrap()).unwrap();
        let genuine = serde_json::to_string(&a).unwrap();
        Fixture { rp, reg, auth, creds, genuine }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_001);
    let _ = f.rp.finish_registration(&f.reg, input, "n", &f.creds, now);
    if f.rp.finish_authentication(&f.auth, input, &f.creds, now).is_ok() {
        // Only the genuine assertion (re-serialized in some equivalent JSON form) verifies.
        let a: serde_json::Value = serde_json::from_str(input).unwrap();
        let g: serde_json::Value = serde_json::from_str(&f.genuine).unwrap();
        assert_eq!(a["response"]["signature"], g["response"]["signature"]);
    }
});
