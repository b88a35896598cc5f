//! A command-line stand-in for the phone app (the device side of `mfa-push`).
//!
//! ```text
//! push-device enroll '<mfa-push://enroll?… URI from the QR code>'   # registers, keeps the key in ./push-device.json
//! push-device listen        # waits for a challenge, shows who signs in where, asks for the number
//! push-device approve 42    # answers the last challenge shown: approve with the number typed
//! push-device deny | report
//! push-device codes         # the offline code, for when pushes cannot reach the phone
//! ```
//! `--state FILE` chooses another key file (default `push-device.json`, written readable by
//! its owner only). The key stays in the file (a phone keeps it in
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
use mfa_push::{Decision, EnrollmentOffer, KeyAlgorithm, Purpose, SignInContext};
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

/// The default key file.
const DEFAULT_STATE: &str = "push-device.json";

/// What `--help` and a wrong command print.
const USAGE: &str = "usage: push-device [--state FILE] [--server URL] enroll <uri> [name] | listen | approve <number> | deny | report | codes
  --state FILE   the key file (default push-device.json; it holds the private key: owner-only)
  --server URL   reach the service here instead of the address in the QR code";

/// Writes the key file readable and writable by its owner only: it holds the private key and
/// the enrollment's secrets.
fn save(path: &str, state: &State) {
    let json = serde_json::to_vec_pretty(state).unwrap_or_default();
    if let Err(e) = write_private(std::path::Path::new(path), &json) {
        fail(&format!("{path}: {e}"));
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    // A new file beside it, owner-only from its creation, then renamed over the old one: the
    // key is never in a file others can read, and a failed write never loses it.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// What the phone shows about a request: who, when (local time), from where (the location only
/// when there is one), and what to type.
/// What the server said an answer did (the `state` of its reply), for the person holding
/// the phone, and whether it went as asked.
fn outcome(state: &str) -> (&'static str, bool) {
    match state {
        "approved" => ("approved: the sign-in goes on in the browser", true),
        "number_mismatch" => (
            "NOT approved: the number you chose was not the one on the screen. Nothing was approved; if you are signing in, start again and pick the number shown.",
            false,
        ),
        "denied" => ("denied: the sign-in was refused", true),
        "fraud_reported" => (
            "reported: the sign-in was refused and push approvals are paused. Change your password soon: whoever tried knows it.",
            true,
        ),
        _ => ("the server did not say what happened to the answer", false),
    }
}

fn describe(purpose: Purpose, c: &SignInContext, offset_minutes: i32) -> String {
    let local = c.time.cast_signed().saturating_add(i64::from(offset_minutes) * 60);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let (oh, om) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
    let when = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} (UTC{sign}{oh:02}:{om:02})",
        secs / 3600,
        secs % 3600 / 60
    );
    let from: Vec<&str> = [c.browser.as_str(), c.ip.as_str(), c.location.as_str()]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect();
    let (what, number) = match purpose {
        Purpose::Activation => ("activation of this phone", "the number on the enrollment page"),
        Purpose::PasswordReset => (
            "PASSWORD RESET (deny and report it if you did not ask for one)",
            "the number on the reset page",
        ),
        Purpose::StepUp => ("confirmation of a change to the account", "the number on the page"),
        Purpose::Login => ("sign-in", "the number on the login screen"),
    };
    format!(
        "{what} for {}\n  at {when}\n  from {}\napprove with `push-device approve <{number}>`, or `deny`, or `report`",
        c.application,
        from.join(", ")
    )
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's civil-from-days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (era * 400 + yoe + i64::from(m <= 2), m, d)
}

/// The local time's offset from UTC in minutes, from the `TZ_OFFSET_MINUTES` environment
/// variable (tests, containers without zone data) or 0 (UTC, said as such).
fn local_offset_minutes() -> i32 {
    std::env::var("TZ_OFFSET_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .clamp(-1439, 1439)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let state_path = match args.iter().position(|a| a == "--state") {
        Some(i) if i + 1 < args.len() => {
            let p = args.remove(i + 1);
            args.remove(i);
            p
        }
        _ => DEFAULT_STATE.to_owned(),
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
    if let Some(url) = &server_override
        && !mfa_push::server_url_ok(url)
    {
        fail("--server: https, or http to this machine only (as the QR code's address)");
    }
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
                println!(
                    "\n{}",
                    describe(verified.purpose(), verified.context(), local_offset_minutes())
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
            let reply = post(&format!("{}/push/respond", server(&offer)), &answer)
                .unwrap_or_else(|e| fail(&e));
            let state: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
            let (said, ok) = outcome(state["state"].as_str().unwrap_or(""));
            println!("{said}");
            if !ok {
                std::process::exit(1);
            }
        }
        Some("codes") => {
            let (_, device, _) = load(&state_path);
            let Some(secret) = device.offline_totp_secret.as_deref() else {
                fail("this enrollment has no offline codes");
            };
            let secret = mfa_totp::TotpSecret::from_base32(secret)
                .unwrap_or_else(|e| fail(&format!("the offline seed: {e}")));
            let code =
                mfa_totp::TotpCredential::new(secret, mfa_totp::Profile::DEFAULT).code_at(now);
            println!(
                "offline code: {} (for the sign-in page's authenticator-app box, when pushes cannot reach this phone)",
                code.as_str()
            );
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(location: &str) -> SignInContext {
        SignInContext {
            application: "Example Portal".into(),
            location: location.into(),
            ip: "203.0.113.7".into(),
            browser: "Firefox on Linux".into(),
            // 2023-11-30 06:31 UTC.
            time: 1_701_325_860,
        }
    }

    #[test]
    fn a_request_names_the_local_time_and_a_location_only_when_there_is_one() {
        let tokyo = describe(Purpose::Login, &context("Tokyo, JP"), 540);
        assert!(tokyo.contains("at 2023-11-30 15:31 (UTC+09:00)"), "{tokyo}");
        assert!(tokyo.contains("from Firefox on Linux, 203.0.113.7, Tokyo, JP"), "{tokyo}");
        assert!(tokyo.contains("the number on the login screen"), "{tokyo}");
        let nowhere = describe(Purpose::Login, &context(""), 0);
        assert!(
            nowhere.contains("from Firefox on Linux, 203.0.113.7\n"),
            "no stray blank: {nowhere:?}"
        );
        assert!(nowhere.contains("at 2023-11-30 06:31 (UTC+00:00)"), "{nowhere}");
        let west = describe(Purpose::Login, &context(""), -300);
        assert!(west.contains("at 2023-11-30 01:31 (UTC-05:00)"), "{west}");
        let activation = describe(Purpose::Activation, &context(""), 0);
        assert!(activation.starts_with("activation of this phone"), "{activation}");
        assert!(activation.contains("the number on the enrollment page"), "{activation}");
        let reset = describe(Purpose::PasswordReset, &context(""), 0);
        assert!(reset.starts_with("PASSWORD RESET"), "{reset}");
        assert!(reset.contains("did not ask for one"), "{reset}");
        let step_up = describe(Purpose::StepUp, &context(""), 0);
        assert!(step_up.starts_with("confirmation of a change"), "{step_up}");
    }

    #[test]
    fn the_phone_says_what_its_answer_did() {
        assert!(outcome("approved").1);
        let (said, ok) = outcome("number_mismatch");
        assert!(!ok, "a wrong number is no success");
        assert!(said.starts_with("NOT approved") && said.contains("not the one"), "{said}");
        assert!(outcome("denied").0.starts_with("denied"));
        let (said, ok) = outcome("fraud_reported");
        assert!(ok && said.contains("paused") && said.contains("password"), "{said}");
        assert!(!outcome("").1, "no state: not said to have worked");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let path =
            std::env::temp_dir().join(format!("push-device-test-{}.json", std::process::id()));
        // Even a file that existed with a wider mode.
        std::fs::write(&path, b"{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"{\"pkcs8\": \"secret\"}").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"pkcs8\": \"secret\"}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_691), (2023, 11, 30));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
