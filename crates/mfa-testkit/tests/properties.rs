//! Property tests over random sequences of login events and clock jumps.
//!
//! Invariants: a login says "authenticated" only after the password and a usable second
//! factor (or a recovery code) were verified in that same flow; a retired factor is never
//! accepted; a sensitive action never passes without a fresh step-up; an expired or used
//! flow never advances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mfa_email_identity::ChangeMode;
use mfa_flow::{
    AuthConfig, ClientInfo, Factor, FactorData, FactorId, FactorKind, LoginError, LoginStep,
    Session, Store,
};
use mfa_testkit::{TotpApp, at, test_auth};
use proptest::prelude::*;
use uuid::Uuid;

const PW: &str = "correct horse battery staple";

#[derive(Debug, Clone)]
enum Event {
    Login { right_password: bool },
    Code { right: bool, flow: usize },
    Recovery { index: usize, flow: usize },
    SelectSms { flow: usize },
    Sensitive,
    Wait(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<bool>().prop_map(|right_password| Event::Login { right_password }),
        (any::<bool>(), 0usize..4).prop_map(|(right, flow)| Event::Code { right, flow }),
        (0usize..12, 0usize..4).prop_map(|(index, flow)| Event::Recovery { index, flow }),
        (0usize..4).prop_map(|flow| Event::SelectSms { flow }),
        Just(Event::Sensitive),
        prop_oneof![Just(1u64), Just(31), Just(301), Just(700)].prop_map(Event::Wait),
    ]
}

fn client() -> ClientInfo {
    ClientInfo { ip: "203.0.113.7".into(), ..ClientInfo::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn login_invariants(events in prop::collection::vec(event(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let e = test_auth(AuthConfig::new("Example Portal"), ChangeMode::Immediate, 9);
            let account = e.sign_up("p@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
            let sms = Factor {
                id: FactorId(Uuid::from_u128(5)), account: account.id, kind: FactorKind::Sms,
                name: "sms".into(), created: mfa_testkit::T0, last_used: None, version: 1,
                data: FactorData::Phone { masked_number: "•••".into() },
                suspended: None,
            };
            e.auth.store().add_factor(&sms).await.unwrap();
            let LoginStep::MustEnroll { session, .. } = e.auth.login("p@example.com", PW, &client(), at(0)).await.unwrap() else { panic!() };
            // The account had a factor (the retired SMS): the mailbox first.
            let session = e.prove_mailbox(&session, at(0)).await.unwrap();
            let en = e.auth.begin_totp(&session, at(0)).await.unwrap();
            let app = TotpApp::scan(&en.uri).unwrap();
            let codes = e.auth.confirm_totp(&session, &en.flow, &app.code(at(0)), "app", at(0)).await.unwrap().recovery_codes.unwrap();
            let recovery_id = e.auth.factor_list(account.id, at(0)).await.unwrap().into_iter()
                .find(|f| f.method.kind == FactorKind::RecoveryCodes).unwrap().method.factor;

            let mut now = 60u64;
            // Model: open flows (id, created, password verified), used codes and steps.
            let mut flows: Vec<(String, u64)> = Vec::new();
            let mut used_steps = std::collections::HashSet::from([mfa_testkit::T0 / 30]);
            let mut used_codes = std::collections::HashSet::new();
            let mut session: Option<Session> = None;
            let mut last_second_factor: Option<u64> = None;
            for ev in events {
                match ev {
                    Event::Wait(s) => now += s,
                    Event::Login { right_password } => {
                        let pw = if right_password { PW } else { "wrong wrong wrong" };
                        match e.auth.login("p@example.com", pw, &client(), at(now)).await {
                            Ok(LoginStep::Challenge(c)) => {
                                prop_assert!(right_password, "a challenge only after the right password");
                                prop_assert!(c.alternatives.iter().all(|m| m.kind != FactorKind::Sms));
                                prop_assert!(c.method.kind != FactorKind::Sms);
                                flows.push((c.flow, now));
                            }
                            Ok(other) => prop_assert!(false, "unexpected {other:?}"),
                            Err(LoginError::InvalidCredentials) => prop_assert!(!right_password),
                            Err(LoginError::Throttled { .. }) => {}
                            Err(other) => prop_assert!(false, "unexpected {other:?}"),
                        }
                    }
                    Event::Code { right, flow } => {
                        let Some((id, created)) = flows.get(flow).cloned() else { continue };
                        let step = (mfa_testkit::T0 + now) / 30;
                        let code = if right { app.code(at(now)) } else { "000000".to_owned() };
                        let genuine = code == app.code(at(now));
                        match e.auth.submit_code(&id, &code, at(now)).await {
                            Ok(LoginStep::Authenticated(a)) => {
                                prop_assert!(now < created + 600, "an expired flow advanced");
                                prop_assert!(genuine, "authenticated with a wrong code");
                                prop_assert!(!used_steps.contains(&step), "a TOTP step was accepted twice");
                                used_steps.insert(step);
                                flows.retain(|(f, _)| *f != id);
                                last_second_factor = Some(now);
                                session = Some(a.session);
                            }
                            Ok(other) => prop_assert!(false, "unexpected {other:?}"),
                            Err(_) => {}
                        }
                    }
                    Event::Recovery { index, flow } => {
                        let Some((id, created)) = flows.get(flow).cloned() else { continue };
                        let Ok(LoginStep::Challenge(c)) = e.auth.select_method(&id, recovery_id, &client(), at(now)).await else { continue };
                        let code = codes.get(index).cloned().unwrap_or_else(|| "aaaaa-aaaaa".into());
                        match e.auth.submit_code(&c.flow, &code, at(now)).await {
                            Ok(LoginStep::Authenticated(a)) => {
                                prop_assert!(now < created + 600, "an expired flow advanced");
                                prop_assert!(index < codes.len() && !used_codes.contains(&index), "a recovery code was accepted twice or invented");
                                used_codes.insert(index);
                                flows.retain(|(f, _)| *f != id);
                                last_second_factor = Some(now);
                                session = Some(a.session);
                            }
                            Ok(other) => prop_assert!(false, "unexpected {other:?}"),
                            Err(_) => {}
                        }
                    }
                    Event::SelectSms { flow } => {
                        let Some((id, _)) = flows.get(flow).cloned() else { continue };
                        let r = e.auth.select_method(&id, FactorId(Uuid::from_u128(5)), &client(), at(now)).await;
                        prop_assert!(r.is_err(), "the retired SMS factor was selectable");
                    }
                    Event::Sensitive => {
                        let Some(s) = session.clone() else { continue };
                        let r = e.auth.regenerate_recovery_codes(&s, at(now)).await;
                        let fresh = last_second_factor.is_some_and(|t| now - t <= 600);
                        prop_assert_eq!(r.is_ok(), fresh, "step-up freshness");
                        if let Ok(new_codes) = r {
                            // Old codes are void now; keep the model in step.
                            used_codes.extend(0..codes.len());
                            let _ = new_codes;
                        }
                    }
                }
            }
            Ok(())
        })?;
    }
}
