//! Every mfa-push decoder on attacker input — the offer URI (phone side), registration,
//! fetch, response, rotation and unenrollment (server side), the challenge (phone side): a
//! typed error, never a panic, and never an accepted message that was not signed.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_push::{
    ChallengeRecord, ChallengeRequest, DeviceRecord, EnrollmentOffer, KeyAlgorithm,
    PendingEnrollment, Purpose, PushConfig, PushServer, ServerKeys, SignInContext,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

struct Fixture {
    server: PushServer,
    pending: PendingEnrollment,
    device: DeviceRecord,
    challenge: ChallengeRecord,
    phone: EnrolledDevice,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        #[allow(clippy::disallowed_methods)]
        let sys = ring::rand::SystemRandom::new();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let server = PushServer::new(
            PushConfig::new("https://portal.example.com", "Fuzz"),
            ServerKeys::new(&[("k", [7; 32])]).unwrap(),
        )
        .unwrap();
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let (offer, pending) = server.offer("a", "a@example.com", now, &mut rng);
        let key = DeviceKey::generate(KeyAlgorithm::P256, &sys).unwrap();
        let req = registration_request(&offer, &key, "P", "t", now, &sys).unwrap();
        let reg = server.register(&pending, &req, now, &mut rng).unwrap();
        let phone = EnrolledDevice::new(&offer, key, &reg.response).unwrap();
        let mut device = reg.device;
        device.active = true;
        let request = ChallengeRequest { purpose: Purpose::Login, flow: b"f", context: SignInContext::default() };
        let challenge = server.issue(&device, request, &[], now, &mut rng).unwrap().record;
        Fixture { server, pending, device, challenge, phone }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_001);
    let _ = EnrollmentOffer::parse(input);
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    assert!(f.server.register(&f.pending, input, now, &mut rng).is_err());
    assert!(f.server.fetch(&f.device, &f.challenge, input, now).is_err());
    assert!(f.server.respond(&f.device, &f.challenge, input, now).is_err());
    assert!(f.server.rotate(&f.device, input, now).is_err());
    assert!(f.server.unenroll(&f.device, input, now).is_err());
    assert!(f.phone.verify_challenge(input, now, 30).is_err());
});
