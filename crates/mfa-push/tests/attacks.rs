//! The protocol attacked, one test per attack.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod common;

use common::{World, context, t, world};
use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_push::{
    ChallengeRecord, ChallengeState, Decision, EnrollmentOffer, FatigueError, KeyAlgorithm,
    Purpose, PushError,
};

fn with_state(c: &ChallengeRecord, state: ChallengeState) -> ChallengeRecord {
    let mut c = c.clone();
    c.state = state;
    c
}

#[test]
fn login_approval_with_the_right_number_is_usable_once_by_its_flow() {
    for alg in [KeyAlgorithm::P256, KeyAlgorithm::Ed25519] {
        let mut w = world(alg);
        let issued = w.issue(Purpose::Login, &[]).unwrap();
        assert!((10..=99).contains(&issued.number));
        let answer = w.approve(&issued.record, issued.number);
        let out = w.server.respond(&w.record, &issued.record, &answer, t(2)).unwrap();
        assert_eq!(out.state, ChallengeState::Approved);
        assert!(!out.activate_device);
        let approved = with_state(&issued.record, out.state);
        assert_eq!(w.server.consume(&approved, b"other-flow", t(3)), Err(PushError::NotUsable));
        assert_eq!(w.server.consume(&approved, b"flow-1", t(3)), Ok(ChallengeState::Consumed));
        let used = with_state(&approved, ChallengeState::Consumed);
        assert_eq!(w.server.consume(&used, b"flow-1", t(3)), Err(PushError::NotUsable));
    }
}

#[test]
fn replayed_response_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let answer = w.approve(&issued.record, issued.number);
    let out = w.server.respond(&w.record, &issued.record, &answer, t(2)).unwrap();
    let after = with_state(&issued.record, out.state);
    assert_eq!(w.server.respond(&w.record, &after, &answer, t(3)), Err(PushError::NotPending));
}

#[test]
fn response_to_another_challenge_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let first = w.issue(Purpose::Login, &[]).unwrap();
    let answer = w.approve(&first.record, first.number);
    let closed = with_state(&first.record, ChallengeState::Superseded);
    let second = w.issue(Purpose::Login, &[closed]).unwrap();
    // The answer names the first challenge.
    assert_eq!(
        w.server.respond(&w.record, &second.record, &answer, t(2)),
        Err(PushError::WrongChallenge)
    );
    // Relabelled to the second challenge, its signature no longer matches.
    let relabelled = answer.replace(&base64url(&first.record.id), &base64url(&second.record.id));
    assert_eq!(
        w.server.respond(&w.record, &second.record, &relabelled, t(2)),
        Err(PushError::BadSignature)
    );
}

fn base64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn swapped_device_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let other = common::world_seeded(KeyAlgorithm::P256, 10);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    // Another enrolled phone (same account or not) cannot fetch or answer this challenge.
    let fetch = other.phone.fetch_request(&issued.record.id, t(1), &other.sys).unwrap();
    assert_eq!(
        w.server.fetch(&w.record, &issued.record, &fetch, t(1)),
        Err(PushError::WrongDevice)
    );
    assert_eq!(
        w.server.fetch(&other.record, &issued.record, &fetch, t(1)),
        Err(PushError::WrongDevice)
    );
    let answer = w.approve(&issued.record, issued.number);
    assert_eq!(
        w.server.respond(&other.record, &issued.record, &answer, t(2)),
        Err(PushError::WrongDevice)
    );
    // The right device id with another device's key: the signature fails.
    let mut forged_record = w.record.clone();
    forged_record.key = other.record.key.clone();
    assert_eq!(
        w.server.respond(&forged_record, &issued.record, &answer, t(2)),
        Err(PushError::BadSignature)
    );
}

#[test]
fn expired_challenge_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let answer = w.approve(&issued.record, issued.number);
    assert_eq!(
        w.server.respond(&w.record, &issued.record, &answer, t(90)),
        Err(PushError::Expired)
    );
    assert_eq!(w.server.close(&issued.record, t(90)), Some(ChallengeState::Expired));
    assert_eq!(w.server.close(&issued.record, t(10)), Some(ChallengeState::Superseded));
    // The device refuses a stale challenge by its own clock too.
    let fetch = w.phone.fetch_request(&issued.record.id, t(1), &w.sys).unwrap();
    let msg = w.server.fetch(&w.record, &issued.record, &fetch, t(1)).unwrap();
    assert_eq!(w.phone.verify_challenge(&msg, t(200), 30).unwrap_err(), PushError::Expired);
}

#[test]
fn wrong_number_ends_the_challenge() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let wrong = if issued.number == 99 { 10 } else { issued.number + 1 };
    let answer = w.approve(&issued.record, wrong);
    let out = w.server.respond(&w.record, &issued.record, &answer, t(2)).unwrap();
    assert_eq!(out.state, ChallengeState::NumberMismatch);
    let after = with_state(&issued.record, out.state);
    assert_eq!(w.server.consume(&after, b"flow-1", t(3)), Err(PushError::NotUsable));
    // No second guess: the challenge is no longer pending.
    let retry = w
        .phone
        .answer(
            &w.phone
                .verify_challenge(
                    &w.server
                        .fetch(
                            &w.record,
                            &issued.record,
                            &w.phone.fetch_request(&issued.record.id, t(1), &w.sys).unwrap(),
                            t(1),
                        )
                        .unwrap(),
                    t(1),
                    30,
                )
                .unwrap(),
            Decision::Approve,
            issued.number,
            &w.sys,
        )
        .unwrap();
    assert_eq!(w.server.respond(&w.record, &after, &retry, t(3)), Err(PushError::NotPending));
}

#[test]
fn tampered_context_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let fetch = w.phone.fetch_request(&issued.record.id, t(1), &w.sys).unwrap();
    let msg = w.server.fetch(&w.record, &issued.record, &fetch, t(1)).unwrap();
    // A man in the middle rewrites what the phone shows: the server signature breaks.
    let shown = msg.replace("Tokyo, JP", "Osaka, JP");
    assert_eq!(w.phone.verify_challenge(&shown, t(1), 30).unwrap_err(), PushError::BadSignature);
    // And an answer signed over another context does not verify at the server, which uses
    // the context it stored.
    let mut other = issued.record.clone();
    other.context = mfa_push::SignInContext { location: "Osaka, JP".into(), ..context() };
    let answer = w.approve(&issued.record, issued.number);
    assert_eq!(w.server.respond(&w.record, &other, &answer, t(2)), Err(PushError::BadSignature));
}

#[test]
fn forged_server_signature_is_refused_on_the_device() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let fetch = w.phone.fetch_request(&issued.record.id, t(1), &w.sys).unwrap();
    let msg = w.server.fetch(&w.record, &issued.record, &fetch, t(1)).unwrap();
    // Another server key (an attacker's) signs the same challenge.
    let impostor = mfa_push::PushServer::new(
        mfa_push::PushConfig::new("https://portal.example.com", "Example Portal"),
        mfa_push::ServerKeys::new(&[("2026-11", [8; 32])]).unwrap(),
    )
    .unwrap();
    let forged = impostor.fetch(&w.record, &issued.record, &fetch, t(1)).unwrap();
    assert_ne!(forged, msg);
    assert_eq!(w.phone.verify_challenge(&forged, t(1), 30).unwrap_err(), PushError::BadSignature);
    let unknown_kid = msg.replace("\"kid\":\"2026-11\"", "\"kid\":\"other\"");
    assert_eq!(
        w.phone.verify_challenge(&unknown_kid, t(1), 30).unwrap_err(),
        PushError::UnknownServerKey
    );
}

#[test]
fn a_second_push_while_one_is_pending_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let first = w.issue(Purpose::Login, &[]).unwrap();
    assert_eq!(
        w.issue(Purpose::Login, std::slice::from_ref(&first.record)).unwrap_err(),
        PushError::Fatigue(FatigueError::PendingExists)
    );
}

#[test]
fn the_fourth_push_in_five_minutes_is_refused() {
    let mut w = world(KeyAlgorithm::P256);
    let mut history = Vec::new();
    for _ in 0..3 {
        let c = w.issue(Purpose::Login, &history).unwrap();
        history.push(with_state(&c.record, ChallengeState::Superseded));
    }
    assert_eq!(
        w.issue(Purpose::Login, &history).unwrap_err(),
        PushError::Fatigue(FatigueError::TooManyRecent)
    );
}

/// `paused` names the first moment push works again, whatever limits hold at once: ten
/// pushes spread over the day are over both the five-minute and the daily limit; the answer
/// is when the day's limit lifts, not the short window's.
#[test]
fn paused_names_the_first_moment_push_works_again() {
    let policy = mfa_push::FatiguePolicy::default();
    let mut w = world(KeyAlgorithm::P256);
    let first = w.issue(Purpose::Login, &[]).unwrap().record;
    let now = first.issued + 23 * 3600;
    let history: Vec<ChallengeRecord> = (0..10u64)
        .map(|i| {
            // Three in the last five minutes, the others earlier today.
            let issued = if i < 3 { now - 60 * (i + 1) } else { now - 3600 * (i + 1) };
            let mut c = with_state(&first, ChallengeState::Superseded);
            c.issued = issued;
            c.expires = issued + 90;
            c
        })
        .collect();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now);
    let (why, until) = policy.paused(&history, at).unwrap();
    assert_eq!(why, FatigueError::TooManyRecent);
    let until = until.unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // The oldest of the day's ten leaves the day's window at its issue + 24 h.
    let oldest = history.iter().map(|c| c.issued).min().unwrap();
    assert_eq!(until, oldest + 24 * 3600);
    assert!(
        policy
            .check(&history, std::time::UNIX_EPOCH + std::time::Duration::from_secs(until))
            .is_ok()
    );
    assert!(
        policy
            .check(&history, std::time::UNIX_EPOCH + std::time::Duration::from_secs(until - 1))
            .is_err()
    );
    assert_eq!(policy.paused(&[], at), None, "nothing holds: no pause");
}

#[test]
fn denials_and_fraud_reports_suspend_push() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let report = w.answer(&issued.record, Decision::ReportFraud, 0);
    let out = w.server.respond(&w.record, &issued.record, &report, t(2)).unwrap();
    assert_eq!(out.state, ChallengeState::FraudReported);
    let history = [with_state(&issued.record, out.state)];
    assert_eq!(
        w.issue(Purpose::Login, &history).unwrap_err(),
        PushError::Fatigue(FatigueError::SuspendedAfterFraudReport)
    );
    let policy = w.server.config().fatigue;
    let mut denied = issued.record.clone();
    denied.state = ChallengeState::Denied;
    let mut h: Vec<_> = (0..3)
        .map(|i| {
            let mut d = denied.clone();
            d.issued -= 3600 * (i + 1);
            d
        })
        .collect();
    assert_eq!(policy.check(&h, t(0)), Err(FatigueError::SuspendedAfterDenials));
    // An approval after two denials resets the count.
    h[0].state = ChallengeState::Consumed;
    assert_eq!(policy.check(&h, t(0)), Ok(()));
}

/// Whoever photographed the enrollment QR code can register a device and report its
/// activation as fraud, or deny it, as often as they like: that must not pause the owner's
/// push sign-ins. Only sign-in requests count.
#[test]
fn a_never_activated_device_reporting_fraud_suspends_nothing() {
    let mut w = world(KeyAlgorithm::P256);
    let activation = w.issue(Purpose::Activation, &[]).unwrap();
    let mut history = vec![with_state(&activation.record, ChallengeState::FraudReported)];
    for i in 1..=3u64 {
        let mut denied = with_state(&activation.record, ChallengeState::Denied);
        denied.issued -= 600 * i;
        history.push(denied);
    }
    let policy = w.server.config().fatigue;
    assert_eq!(policy.check(&history, t(10)), Ok(()));
    // The same answers to sign-in requests do suspend.
    let mut login = with_state(&activation.record, ChallengeState::FraudReported);
    login.purpose = Purpose::Login;
    assert_eq!(policy.check(&[login], t(10)), Err(FatigueError::SuspendedAfterFraudReport));
}

#[test]
fn enrollment_secret_reused_or_wrong_is_refused() {
    let w = world(KeyAlgorithm::P256);
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3; 32]);
    let (offer, pending) = w.server.offer("acct-1", "ryu@example.com", t(0), &mut rng);
    let key = DeviceKey::generate(KeyAlgorithm::P256, &w.sys).unwrap();
    let req = registration_request(&offer, &key, "iPad", "t", t(0), &w.sys).unwrap();
    assert!(w.server.register(&pending, &req, t(1), &mut rng).is_ok());
    // The store took the offer on first use; a second registration finds none. Against a
    // copy of the same offer, the request is still bound to this offer's id and secret:
    let (_, other_pending) = w.server.offer("acct-1", "ryu@example.com", t(0), &mut rng);
    assert_eq!(
        w.server.register(&other_pending, &req, t(1), &mut rng).unwrap_err(),
        PushError::EnrollmentSecret
    );
    // A wrong secret under the right id.
    let uri = offer.to_uri();
    let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let wrong = EnrollmentOffer::parse(&uri.replace(&secret, &"A".repeat(43))).unwrap();
    let req = registration_request(&wrong, &key, "iPad", "t", t(0), &w.sys).unwrap();
    assert_eq!(
        w.server.register(&pending, &req, t(1), &mut rng).unwrap_err(),
        PushError::EnrollmentSecret
    );
    // An expired offer.
    let req = registration_request(&offer, &key, "iPad", "t", t(0), &w.sys).unwrap();
    assert_eq!(
        w.server.register(&pending, &req, t(600), &mut rng).unwrap_err(),
        PushError::Expired
    );
}

#[test]
fn inactive_device_gets_no_login_challenge() {
    let server = common::server();
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([4; 32]);
    let sys = ring::rand::SystemRandom::new();
    let (offer, pending) = server.offer("acct-2", "a@example.com", t(0), &mut rng);
    let key = DeviceKey::generate(KeyAlgorithm::P256, &sys).unwrap();
    let req = registration_request(&offer, &key, "Pixel", "t", t(0), &sys).unwrap();
    let reg = server.register(&pending, &req, t(0), &mut rng).unwrap();
    assert!(!reg.device.active);
    assert!(reg.offline_totp_seed.is_some());
    let _phone = EnrolledDevice::new(&offer, key, &reg.response).unwrap();
    let request =
        mfa_push::ChallengeRequest { purpose: Purpose::Login, flow: b"f", context: context() };
    assert_eq!(
        server.issue(&reg.device, request, &[], t(0), &mut rng).unwrap_err(),
        PushError::InactiveDevice
    );
    // An activation approved with a wrong number does not activate.
    let mut w = World { server, rng, sys, record: reg.device, phone: _phone };
    let issued = w.issue(Purpose::Activation, &[]).unwrap();
    let wrong = if issued.number == 99 { 10 } else { issued.number + 1 };
    let answer = w.approve(&issued.record, wrong);
    let out = w.server.respond(&w.record, &issued.record, &answer, t(2)).unwrap();
    assert!(!out.activate_device);
}

#[test]
fn key_rotation_and_unenrollment() {
    let mut w = world(KeyAlgorithm::P256);
    let new_key = DeviceKey::generate(KeyAlgorithm::P256, &w.sys).unwrap();
    let req = w.phone.rotation_request(&new_key, t(0), &w.sys).unwrap();
    let rotated = w.server.rotate(&w.record, &req, t(0)).unwrap();
    assert_eq!(rotated.key, new_key.public_key());
    // Replayed against the rotated record, the old key's signature no longer matches.
    assert_eq!(w.server.rotate(&rotated, &req, t(0)).unwrap_err(), PushError::BadSignature);
    w.record = rotated;
    w.phone.use_key(new_key);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    let answer = w.approve(&issued.record, issued.number);
    assert_eq!(
        w.server.respond(&w.record, &issued.record, &answer, t(2)).unwrap().state,
        ChallengeState::Approved
    );
    let bye = w.phone.unenroll_request(t(0), &w.sys).unwrap();
    assert!(w.server.unenroll(&w.record, &bye, t(0)).is_ok());
    assert_eq!(w.server.unenroll(&w.record, &bye, t(1000)).unwrap_err(), PushError::ClockSkew);
}

#[test]
fn bad_messages_are_typed_errors() {
    let mut w = world(KeyAlgorithm::P256);
    let issued = w.issue(Purpose::Login, &[]).unwrap();
    for bad in ["", "{", "null", "[]", "{\"device_id\":\"!!\"}"] {
        assert_eq!(
            w.server.respond(&w.record, &issued.record, bad, t(1)),
            Err(PushError::Decode(mfa_push::DecodeError::Malformed))
        );
    }
    let huge = "x".repeat(20_000);
    assert_eq!(
        w.server.respond(&w.record, &issued.record, &huge, t(1)),
        Err(PushError::Decode(mfa_push::DecodeError::TooLarge))
    );
    for uri in ["", "https://x", "mfa-push://enroll?v=2", "mfa-push://enroll?v=1&v=1"] {
        assert!(EnrollmentOffer::parse(uri).is_err(), "{uri}");
    }
    let ok = w.server.offer("a", "b", t(0), &mut w.rng).0.to_uri();
    assert_eq!(
        EnrollmentOffer::parse(&ok.replace("v=1", "v=2")).unwrap_err(),
        mfa_push::DecodeError::Version
    );
    assert!(
        !format!("{:?}", EnrollmentOffer::parse(&ok).unwrap())
            .contains(ok.split("secret=").nth(1).unwrap().split('&').next().unwrap())
    );
}

/// Plain http only to this machine, judged on the parsed URL: a host that merely starts with
/// `localhost`, or `localhost` as a user name before another host, is refused by the server's
/// configuration and by the phone's offer parser alike.
#[test]
fn http_is_for_this_machine_only() {
    let keys = || mfa_push::ServerKeys::new(&[("k1", [8; 32])]).unwrap();
    let server = |url: &str| {
        mfa_push::PushServer::new(mfa_push::PushConfig::new(url, "Example Portal"), keys())
    };
    for good in [
        "https://portal.example.com",
        "https://portal.example.com/api",
        "http://localhost:8080",
        "http://LOCALHOST/api",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
    ] {
        assert!(server(good).is_ok(), "{good}");
    }
    for bad in [
        "http://localhost.attacker.example",
        "http://localhost@attacker.example",
        "http://localhostattacker.example",
        "http://192.0.2.1",
        "http://portal.example.com",
        "https://user:pw@portal.example.com",
        "ftp://localhost",
        "localhost:8080",
    ] {
        assert_eq!(server(bad).unwrap_err(), PushError::Config, "{bad}");
    }
    // The phone's side: an offer naming such a server is refused before anything else.
    let w = world(KeyAlgorithm::P256);
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed([5; 32]);
    let (offer, _) = w.server.offer("acct-1", "ryu@example.com", t(0), &mut rng);
    let uri = offer.to_uri().to_string();
    assert!(EnrollmentOffer::parse(&uri).is_ok());
    let start = uri.find("server=").unwrap() + "server=".len();
    let end = start + uri[start..].find('&').unwrap();
    for bad in ["http://localhost.attacker.example", "http://localhost@attacker.example"] {
        let evil = format!("{}{}{}", &uri[..start], percent(bad), &uri[end..]);
        assert_eq!(
            EnrollmentOffer::parse(&evil).unwrap_err(),
            mfa_push::DecodeError::Malformed,
            "{bad}"
        );
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A P-256 key that is not a point on the curve is refused when it arrives, not only when a
/// signature fails to verify later; a rotation keeps the algorithm the device enrolled with.
#[test]
fn device_keys_are_points_on_the_curve_and_keep_their_algorithm() {
    assert_eq!(
        mfa_push::DevicePublicKey::new(KeyAlgorithm::P256, &[4; 65]).unwrap_err(),
        mfa_push::DecodeError::Key
    );
    let w = world(KeyAlgorithm::P256);
    let good = DeviceKey::generate(KeyAlgorithm::P256, &w.sys).unwrap().public_key();
    assert!(mfa_push::DevicePublicKey::new(KeyAlgorithm::P256, good.as_bytes()).is_ok());
    // A P-256 device rotating to an Ed25519 key (signed by both keys) is refused.
    let ed = DeviceKey::generate(KeyAlgorithm::Ed25519, &w.sys).unwrap();
    let req = w.phone.rotation_request(&ed, t(0), &w.sys).unwrap();
    assert!(w.server.rotate(&w.record, &req, t(0)).is_err());
}
