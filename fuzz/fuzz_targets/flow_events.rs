//! Random sequences of login events against the orchestrator on the memory store: never a
//! panic, and "authenticated" only after the right password and a genuine second factor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_email_identity::ChangeMode;
use mfa_flow::{AuthConfig, ClientInfo, LoginStep};
use mfa_testkit::{TotpApp, at, test_auth};

const PW: &str = "correct horse battery staple";

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    rt.block_on(async {
        let e = test_auth(AuthConfig::new("Fuzz"), ChangeMode::Immediate, 1);
        let client = ClientInfo::default();
        e.sign_up("f@example.com", PW, &mfa_flow::ClientInfo::default(), at(0)).await.unwrap();
        let Ok(LoginStep::MustEnroll { session, .. }) = e.auth.login("f@example.com", PW, &client, at(0)).await else { panic!() };
        let en = e.auth.begin_totp(&session, at(0)).await.unwrap();
        let app = TotpApp::scan(&en.uri).unwrap();
        let enrolled = e.auth.confirm_totp(&session, &en.flow, &app.code(at(0)), "app", at(0)).await.unwrap();
        let session = enrolled.session;
        let mut now = 60u64;
        let mut flows: Vec<String> = Vec::new();
        for chunk in data.chunks(8).take(24) {
            let op = chunk[0] % 7;
            let arg = chunk.get(1..).unwrap_or_default();
            let text = String::from_utf8_lossy(arg).into_owned();
            match op {
                0 => {
                    let right = arg.first().is_some_and(|b| b % 2 == 0);
                    let pw = if right { PW } else { text.as_str() };
                    if let Ok(LoginStep::Challenge(c)) = e.auth.login("f@example.com", pw, &client, at(now)).await {
                        assert!(pw == PW);
                        flows.push(c.flow);
                    }
                }
                1 | 2 => {
                    let Some(flow) = flows.get(usize::from(arg.first().copied().unwrap_or(0)) % flows.len().max(1)).cloned() else { continue };
                    let code = if op == 1 { app.code(at(now)) } else { text.clone() };
                    if let Ok(LoginStep::Authenticated(_)) = e.auth.submit_code(&flow, &code, at(now)).await {
                        // Only a code of a step in the window (spaces and full-width digits
                        // normalized) authenticates.
                        let typed: String = code
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .map(|c| char::from_u32(u32::from(c).wrapping_sub(0xFF10 - 0x30)).filter(|_| ('\u{FF10}'..='\u{FF19}').contains(&c)).unwrap_or(c))
                            .collect();
                        let window = [app.code(at(now.saturating_sub(30))), app.code(at(now)), app.code(at(now + 30))];
                        assert!(window.contains(&typed), "authenticated with {code:?}");
                    }
                }
                3 => now += u64::from(arg.first().copied().unwrap_or(1)) * 7,
                4 => {
                    if let Some(flow) = flows.first().cloned() {
                        let _ = e.auth.poll_push(&flow, at(now)).await;
                        let _ = e.auth.submit_webauthn(&flow, &text, at(now)).await;
                    }
                }
                5 => {
                    // Session tokens and ids from the network: a typed refusal, never a panic,
                    // and never someone's session.
                    assert!(e.auth.session(&text, at(now)).await.is_err());
                    if let Ok(id) = mfa_flow::SessionId::parse(&text) {
                        assert_eq!(id.as_str(), text);
                        let _ = e.auth.end_session(&session, &id, at(now)).await;
                    }
                    let _ = e.auth.confirm_enrollment_proof(&session, &text, &text, at(now)).await;
                    let _ = e.auth.prove_with_recovery_code(&session, &text, at(now)).await;
                }
                _ => {
                    let _ = e.auth.push_device_respond(&text, at(now)).await;
                    let _ = e.auth.push_device_fetch(&text, at(now)).await;
                    let _ = e.auth.confirm_email_change(&text, at(now)).await;
                }
            }
        }
    });
});
