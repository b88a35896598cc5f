//! A server, a phone and helpers shared by the tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_push::{
    ChallengeRecord, ChallengeRequest, DeviceRecord, IssuedChallenge, KeyAlgorithm, Purpose,
    PushConfig, PushServer, ServerKeys, SignInContext,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use ring::rand::SystemRandom;

pub(crate) fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

pub(crate) fn server() -> PushServer {
    PushServer::new(
        PushConfig::new("https://portal.example.com", "Example Portal"),
        ServerKeys::new(&[("2026-11", [7; 32])]).unwrap(),
    )
    .unwrap()
}

pub(crate) fn context() -> SignInContext {
    SignInContext {
        application: "Example Portal".into(),
        location: "Tokyo, JP".into(),
        ip: "203.0.113.7".into(),
        browser: "Chrome on Windows".into(),
        time: 1_800_000_000,
    }
}

pub(crate) struct World {
    pub(crate) server: PushServer,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) sys: SystemRandom,
    pub(crate) record: DeviceRecord,
    pub(crate) phone: EnrolledDevice,
}

/// A server and an enrolled, activated phone.
pub(crate) fn world(alg: KeyAlgorithm) -> World {
    world_seeded(alg, 9)
}

/// The same, with another seed (another device id).
pub(crate) fn world_seeded(alg: KeyAlgorithm, seed: u8) -> World {
    let server = server();
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let sys = SystemRandom::new();
    let (offer, pending) = server.offer("acct-1", "ryu@example.com", t(0), &mut rng);
    let key = DeviceKey::generate(alg, &sys).unwrap();
    let req = registration_request(&offer, &key, "iPhone", "token", t(0), &sys).unwrap();
    let reg = server.register(&pending, &req, t(0), &mut rng).unwrap();
    let phone = EnrolledDevice::new(&offer, key, &reg.response).unwrap();
    let mut w = World { server, rng, sys, record: reg.device, phone };
    let issued = w.issue(Purpose::Activation, &[]).unwrap();
    let answer = w.approve(&issued.record, issued.number);
    let out = w.server.respond(&w.record, &issued.record, &answer, t(1)).unwrap();
    assert!(out.activate_device);
    w.record.active = true;
    w
}

impl World {
    pub(crate) fn issue(
        &mut self,
        purpose: Purpose,
        history: &[ChallengeRecord],
    ) -> Result<IssuedChallenge, mfa_push::PushError> {
        let request = ChallengeRequest { purpose, flow: b"flow-1", context: context() };
        self.server.issue(&self.record, request, history, t(0), &mut self.rng)
    }

    /// The phone fetches, verifies and answers "approve" with `number`.
    pub(crate) fn answer(
        &self,
        challenge: &ChallengeRecord,
        decision: mfa_push::Decision,
        number: u8,
    ) -> String {
        let fetch = self.phone.fetch_request(&challenge.id, t(1), &self.sys).unwrap();
        let msg = self.server.fetch(&self.record, challenge, &fetch, t(1)).unwrap();
        let verified = self.phone.verify_challenge(&msg, t(1), 30).unwrap();
        self.phone.answer(&verified, decision, number, &self.sys).unwrap()
    }

    pub(crate) fn approve(&self, challenge: &ChallengeRecord, number: u8) -> String {
        self.answer(challenge, mfa_push::Decision::Approve, number)
    }
}
