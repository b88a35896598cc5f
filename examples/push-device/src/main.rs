//! A command-line stand-in for the phone app (the device side of `mfa-push`).
//!
//! ```text
//! push-device enroll '<mfa-push://enroll?… URI from the QR code>'   # registers, keeps the key in ./push-device.json
//! push-device listen        # waits for a challenge, shows who signs in where, asks for the number
//! push-device approve 42    # answers the last challenge shown: approve with the number typed
//! push-device deny | report
//! ```
//! `--state FILE` chooses another key file. The key stays in the file (a phone keeps it in
//! its secure hardware); every request to the server is signed with it.
//!
//! The program is an application: it reads the clock and the operating system's random
//! generator itself.
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_push::{Decision, EnrollmentOffer, KeyAlgorithm};
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct State {
    offer_uri: String,
    pkcs8: String,
    push_token: String,
    response: String,
    last_challenge: Option<String>,
}

fn fail(msg: &str) -> ! {
    eprintln!("push-device: {msg}");
    std::process::exit(1)
}

fn post(url: &str, body: &str) -> Result<String, String> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut res = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
    if status.is_success() { Ok(text) } else { Err(format!("{status}: {text}")) }
}

fn load(path: &str) -> (State, EnrolledDevice, EnrollmentOffer) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|_| fail(&format!("{path}: not enrolled yet (run `enroll <uri>`)")));
    let state: State =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| fail(&format!("{path}: unreadable")));
    let offer = EnrollmentOffer::parse(&state.offer_uri).unwrap_or_else(|e| fail(&e.to_string()));
    let sys = SystemRandom::new();
    let pkcs8 = URL_SAFE_NO_PAD.decode(&state.pkcs8).unwrap_or_else(|_| fail("bad key file"));
    let key = DeviceKey::from_pkcs8(KeyAlgorithm::P256, &pkcs8, &sys)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let device =
        EnrolledDevice::new(&offer, key, &state.response).unwrap_or_else(|e| fail(&e.to_string()));
    (state, device, offer)
}

fn save(path: &str, state: &State) {
    let json = serde_json::to_vec_pretty(state).unwrap_or_default();
    if let Err(e) = std::fs::write(path, json) {
        fail(&format!("{path}: {e}"));
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let state_path = match args.iter().position(|a| a == "--state") {
        Some(i) if i + 1 < args.len() => {
            let p = args.remove(i + 1);
            args.remove(i);
            p
        }
        _ => "push-device.json".to_owned(),
    };
    // Where to reach the service, when not at the address the QR code names (a replica
    // behind a load balancer, in a test).
    let server_override = match args.iter().position(|a| a == "--server") {
        Some(i) if i + 1 < args.len() => {
            let s = args.remove(i + 1);
            args.remove(i);
            Some(s)
        }
        _ => None,
    };
    let server = |offer: &EnrollmentOffer| server_override.clone().unwrap_or(offer.server.clone());
    let sys = SystemRandom::new();
    let now = SystemTime::now();
    match args.first().map(String::as_str) {
        Some("enroll") => {
            let uri = args.get(1).unwrap_or_else(|| fail("enroll needs the URI from the QR code"));
            let offer = EnrollmentOffer::parse(uri)
                .unwrap_or_else(|e| fail(&format!("not an enrollment offer: {e}")));
            let key = DeviceKey::generate(KeyAlgorithm::P256, &sys)
                .unwrap_or_else(|e| fail(&e.to_string()));
            let mut token = [0u8; 16];
            ring::rand::SecureRandom::fill(&sys, &mut token)
                .unwrap_or_else(|_| fail("random generator"));
            let push_token = URL_SAFE_NO_PAD.encode(token);
            let name = args.get(2).cloned().unwrap_or_else(|| "push-device".into());
            let request = registration_request(&offer, &key, &name, &push_token, now, &sys)
                .unwrap_or_else(|e| fail(&e.to_string()));
            let response = post(&format!("{}/push/register", server(&offer)), &request)
                .unwrap_or_else(|e| fail(&e));
            let state = State {
                offer_uri: uri.clone(),
                pkcs8: URL_SAFE_NO_PAD.encode(key.pkcs8()),
                push_token,
                response,
                last_challenge: None,
            };
            save(&state_path, &state);
            println!(
                "enrolled for {} at {} — now run `push-device listen` and approve the number shown in the browser",
                offer.account, offer.issuer
            );
        }
        Some("listen") => {
            let (mut state, device, offer) = load(&state_path);
            println!("waiting for a sign-in to approve…");
            loop {
                let body = serde_json::json!({"token": state.push_token}).to_string();
                let reply = post(&format!("{}/push/poll", server(&offer)), &body)
                    .unwrap_or_else(|e| fail(&e));
                let hints: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
                let Some(hint) = hints["hints"].as_array().and_then(|h| h.last()).cloned() else {
                    continue;
                };
                let Some(challenge_id) =
                    hint["challenge_id"].as_str().and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                else {
                    continue;
                };
                let fetch = device
                    .fetch_request(&challenge_id, SystemTime::now(), &sys)
                    .unwrap_or_else(|e| fail(&e.to_string()));
                let msg = post(&format!("{}/push/fetch", server(&offer)), &fetch)
                    .unwrap_or_else(|e| fail(&e));
                let verified = device
                    .verify_challenge(&msg, SystemTime::now(), 30)
                    .unwrap_or_else(|e| fail(&format!("refused a challenge: {e}")));
                let c = verified.context();
                println!("\nsign-in to {} ({:?})", c.application, verified.purpose());
                println!("  from {} {} {}", c.browser, c.ip, c.location);
                println!(
                    "approve with `push-device approve <the number on the login screen>`, or `deny`, or `report`"
                );
                state.last_challenge = Some(msg);
                save(&state_path, &state);
                return;
            }
        }
        Some(cmd @ ("approve" | "deny" | "report")) => {
            let (state, device, offer) = load(&state_path);
            let msg = state
                .last_challenge
                .clone()
                .unwrap_or_else(|| fail("no challenge yet: run `listen` first"));
            let verified = device
                .verify_challenge(&msg, SystemTime::now(), 30)
                .unwrap_or_else(|e| fail(&format!("the challenge is no longer valid: {e}")));
            let (decision, number) = match cmd {
                "approve" => (
                    Decision::Approve,
                    args.get(1)
                        .and_then(|n| n.parse::<u8>().ok())
                        .unwrap_or_else(|| fail("approve needs the number from the login screen")),
                ),
                "deny" => (Decision::Deny, 0),
                _ => (Decision::ReportFraud, 0),
            };
            let answer = device
                .answer(&verified, decision, number, &sys)
                .unwrap_or_else(|e| fail(&e.to_string()));
            post(&format!("{}/push/respond", server(&offer)), &answer).unwrap_or_else(|e| fail(&e));
            println!("sent: {cmd}");
        }
        _ => {
            eprintln!(
                "usage: push-device [--state FILE] [--server URL] enroll <uri> [name] | listen | approve <number> | deny | report"
            );
            std::process::exit(2);
        }
    }
}
