//! `mfa-push`: the server's work for one challenge — issue it, answer the device's signed
//! fetch with the signed challenge, verify the signed answer — beside the ring primitives it
//! cannot avoid (two P-256 verifications and one Ed25519 signature), and beside a P-256 sign
//! and verify (the floor of a design whose server key is P-256).

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_push::{
    ChallengeRecord, ChallengeRequest, DeviceRecord, KeyAlgorithm, Purpose, PushConfig, PushServer,
    ServerKeys, SignInContext,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair as _};

use crate::harness::Pair;

struct Fixture {
    server: PushServer,
    device: DeviceRecord,
    challenge: ChallengeRecord,
    fetch: String,
    answer: String,
}

fn fixture(sys: &SystemRandom) -> Option<Fixture> {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let server = PushServer::new(
        PushConfig::new("https://portal.example.com", "Bench"),
        ServerKeys::new(&[("k1", [7; 32])]).ok()?,
    )
    .ok()?;
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (offer, pending) = server.offer("acct", "a@example.com", now, &mut rng);
    let key = DeviceKey::generate(KeyAlgorithm::P256, sys).ok()?;
    let req = registration_request(&offer, &key, "Phone", "t", now, sys).ok()?;
    let reg = server.register(&pending, &req, now, &mut rng).ok()?;
    let phone = EnrolledDevice::new(&offer, key, &reg.response).ok()?;
    let mut device = reg.device;
    device.active = true;
    let request = ChallengeRequest { purpose: Purpose::Login, flow: b"f", context: context() };
    let issued = server.issue(&device, request, &[], now, &mut rng).ok()?;
    let fetch = phone.fetch_request(&issued.record.id, now, sys).ok()?;
    let msg = server.fetch(&device, &issued.record, &fetch, now).ok()?;
    let verified = phone.verify_challenge(&msg, now, 30).ok()?;
    let answer = phone.answer(&verified, mfa_push::Decision::Approve, issued.number, sys).ok()?;
    server.respond(&device, &issued.record, &answer, now).ok()?;
    Some(Fixture { server, device, challenge: issued.record, fetch, answer })
}

fn context() -> SignInContext {
    SignInContext {
        application: "Example Portal".into(),
        location: "Tokyo, JP".into(),
        ip: "203.0.113.7".into(),
        browser: "Chrome on Windows".into(),
        time: 1_800_000_000,
    }
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let sys: &'static SystemRandom = Box::leak(Box::new(SystemRandom::new()));
    let Some(f) = fixture(sys) else { return Vec::new() };
    let f: &'static Fixture = Box::leak(Box::new(f));
    let Ok(p256) =
        signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, sys)
            .and_then(|d| {
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    d.as_ref(),
                    sys,
                )
                .map_err(|_| ring::error::Unspecified)
            })
    else {
        return Vec::new();
    };
    let Ok(ed) = signature::Ed25519KeyPair::from_seed_unchecked(&[7; 32]) else {
        return Vec::new();
    };
    let p256: &'static signature::EcdsaKeyPair = Box::leak(Box::new(p256));
    let ed: &'static signature::Ed25519KeyPair = Box::leak(Box::new(ed));
    let msg = [0x5a_u8; 200];
    let Ok(sig) = p256.sign(sys, &msg) else { return Vec::new() };
    let sig: &'static [u8] = Box::leak(sig.as_ref().to_vec().into_boxed_slice());
    let verify = move || {
        let pk = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_ASN1,
            p256.public_key().as_ref(),
        );
        black_box(pk.verify(&msg, sig).is_ok());
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_001);
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let server_work = move || {
        let request = ChallengeRequest { purpose: Purpose::Login, flow: b"f", context: context() };
        black_box(f.server.issue(&f.device, request, &[], now, &mut rng).is_ok());
        black_box(f.server.fetch(&f.device, &f.challenge, &f.fetch, now).is_ok());
        black_box(f.server.respond(&f.device, &f.challenge, &f.answer, now).is_ok());
    };
    let mut rng2 = ChaCha20Rng::from_seed([2; 32]);
    let server_work_2 = move || {
        let request = ChallengeRequest { purpose: Purpose::Login, flow: b"f", context: context() };
        black_box(f.server.issue(&f.device, request, &[], now, &mut rng2).is_ok());
        black_box(f.server.fetch(&f.device, &f.challenge, &f.fetch, now).is_ok());
        black_box(f.server.respond(&f.device, &f.challenge, &f.answer, now).is_ok());
    };
    vec![
        Pair {
            name: "push: issue + fetch + verify answer (server)",
            raw_name: "ring: 2 × P-256 verify + Ed25519 sign",
            raw: Box::new(move || {
                verify();
                verify();
                black_box(ed.sign(&msg));
            }),
            lib: Box::new(server_work),
            goal: Some(1.2),
        },
        Pair {
            name: "push: issue + fetch + verify answer (server)",
            raw_name: "ring: P-256 sign + verify",
            raw: Box::new(move || {
                black_box(p256.sign(sys, &msg).is_ok());
                verify();
            }),
            lib: Box::new(server_work_2),
            goal: None,
        },
    ]
}
