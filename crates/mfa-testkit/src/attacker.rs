//! An attacker model, checked: the owner of an account and one attacker who holds exactly
//! one stolen thing act on the real [`mfa_flow::Auth`] in any order, with time jumping across
//! every expiry and throttle boundary, and after every step the properties that must hold are
//! checked. Sequences are generated and shrunk by `proptest` (a failure prints the seed and
//! the smallest sequence found, to replay as an ordinary scenario test).
//!
//! The owner knows the password, holds an authenticator app and the recovery codes, reads the
//! mailbox (of every address it had), and has enrolled a security key or begun a push
//! enrollment when that is what was stolen. The attacker holds one of [`Stolen`] and nothing
//! else: everything else it tries is a guess.
//!
//! Checked after every step:
//! - the attacker never holds a session at AAL2 or above (a stolen session cookie is the
//!   owner's own session, not one the attacker made: it is checked by the next two instead);
//! - the attacker never changes the password, the address, the factors or the recovery codes
//!   (the account's security state moves only with the owner's own changes — and the one
//!   designed exception: an earlier address's "undo" link, read in that mailbox, gives the
//!   login back to that address, never to one the owner did not have);
//! - a session that was ended or revoked never works again;
//! - every change the owner made mailed the notice the policy promises;
//! - at the end, after the longest documented wait (15 minutes), the owner signs in with the
//!   password and the app from their own browser.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::SystemTime;

use mfa_email_identity::{ChangeMode, Notice};
use mfa_flow::{
    AccountId, Assurance, AuthConfig, ClientInfo, FactorId, FactorKind, LoginError, LoginStep,
    Session, Store,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::{TestEnv, TotpApp, at, test_auth_on};

const EMAIL: &str = "owner@example.com";
const PW: &str = "correct horse battery staple";

/// The one thing the attacker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stolen {
    /// The password (as it was when stolen).
    Password,
    /// Read access to the mailbox: every code and link mailed to the owner.
    Mailbox,
    /// The cookie of a session the owner signed in with earlier.
    OldCookie,
    /// One authenticator-app code, phished when the owner typed it into a fake page.
    PhishedCode,
    /// One recovery code.
    RecoveryCode,
    /// A photograph of the push enrollment QR code the owner used.
    PushQr,
    /// The owner's security key itself: it answers any WebAuthn challenge (no password).
    SecurityKey,
}

/// What someone may do at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Time passes (seconds).
    Wait(u64),
    /// The owner signs in with the password and the app (the next unused code).
    OwnerSignIn,
    /// The owner signs out of their current session.
    OwnerSignOut,
    /// The owner changes the password (after a fresh sign-in).
    OwnerChangePassword,
    /// The owner asks for new recovery codes (after a fresh sign-in).
    OwnerNewRecoveryCodes,
    /// The owner ends every other session.
    OwnerEndOthers,
    /// The attacker signs in with what it has (the stolen password, or a guess), from its
    /// browser (with the device token a mailed link gave it, if any).
    AttackerSignIn,
    /// The attacker types a code into its sign-in (the phished code, or a guess).
    AttackerCode,
    /// The attacker picks recovery codes on its sign-in and types one (the stolen one, or a
    /// guess).
    AttackerRecoveryCode,
    /// The attacker asks for a sign-in link for the owner's address (and, with the mailbox,
    /// opens it).
    AttackerSignInLink,
    /// The attacker starts "forgot password" for the owner (and, with the mailbox, opens the
    /// link, answers its second factor with what it has, and sets a password).
    AttackerReset,
    /// The attacker uses the stolen cookie for a change (`0`: the password, `1`: the
    /// address, `2`: remove a factor, `3`: new recovery codes, `4`: end the other sessions,
    /// `5`: enroll its own authenticator app, `6`: a step-up with a guess).
    AttackerWithCookie(u8),
    /// The attacker registers its own phone with the photographed enrollment code.
    AttackerEnrollsPhone,
    /// The attacker answers its sign-in with the security key (the stolen one, or its own).
    AttackerKey,
    /// The owner moves the account to a new address and confirms it from the new mailbox.
    OwnerChangesEmail,
    /// The attacker opens the newest address-change link in the mailbox it reads (the
    /// old address's "undo" link, or the new one's confirmation).
    AttackerOpensChangeLink,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => prop_oneof![1u64..40, 40u64..700, 700u64..4_000].prop_map(Act::Wait),
        2 => Just(Act::OwnerSignIn),
        1 => Just(Act::OwnerSignOut),
        1 => Just(Act::OwnerChangePassword),
        1 => Just(Act::OwnerNewRecoveryCodes),
        1 => Just(Act::OwnerEndOthers),
        3 => Just(Act::AttackerSignIn),
        2 => Just(Act::AttackerCode),
        2 => Just(Act::AttackerRecoveryCode),
        1 => Just(Act::AttackerSignInLink),
        2 => Just(Act::AttackerReset),
        2 => (0u8..7).prop_map(Act::AttackerWithCookie),
        1 => Just(Act::AttackerEnrollsPhone),
        1 => Just(Act::AttackerKey),
        1 => Just(Act::OwnerChangesEmail),
        1 => Just(Act::AttackerOpensChangeLink),
    ]
}

fn stolen() -> impl Strategy<Value = Stolen> {
    prop_oneof![
        Just(Stolen::Password),
        Just(Stolen::Mailbox),
        Just(Stolen::OldCookie),
        Just(Stolen::PhishedCode),
        Just(Stolen::RecoveryCode),
        Just(Stolen::PushQr),
        Just(Stolen::SecurityKey),
    ]
}

/// A run: what was stolen, then the steps.
pub fn runs(max_steps: usize) -> impl Strategy<Value = (Stolen, Vec<Act>)> {
    (stolen(), proptest::collection::vec(act(), 1..=max_steps))
}

/// What the account looks like to whoever could take it over: changes only the owner makes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Security {
    email: String,
    password_hash: String,
    factors: Vec<(String, FactorKind, bool)>,
    recovery_codes: String,
}

struct Owner {
    /// The address the account signs in with now, and the ones it had before.
    email: String,
    earlier_emails: Vec<String>,
    /// Addresses the owner asked to move to.
    requested: Vec<String>,
    password: String,
    app: TotpApp,
    /// The last time step whose code was used (codes are single use).
    last_step: u64,
    recovery_codes: Vec<String>,
    session: Option<(Session, String)>,
    /// Every session token the owner was given.
    tokens: Vec<String>,
    device: Option<String>,
}

#[derive(Default)]
struct Attacker {
    password: Option<String>,
    phished: Option<(String, u64)>,
    recovery: Option<String>,
    cookie: Option<String>,
    offer: Option<String>,
    key: Option<SoftPasskey>,
    mailbox: bool,
    device: Option<String>,
    flow: Option<String>,
    sessions: Vec<String>,
}

struct World<S: Store> {
    e: TestEnv<S>,
    account: AccountId,
    t: u64,
    owner: Owner,
    attacker: Attacker,
    security: Security,
    revoked: Vec<String>,
}

fn owner_browser(device: Option<&String>) -> ClientInfo {
    ClientInfo {
        ip: "203.0.113.7".into(),
        browser: "Firefox on Linux".into(),
        known_device: device.cloned(),
        ..ClientInfo::default()
    }
}

fn attacker_browser(device: Option<&String>) -> ClientInfo {
    ClientInfo {
        ip: "198.51.100.66".into(),
        browser: "curl".into(),
        known_device: device.cloned(),
        ..ClientInfo::default()
    }
}

impl<S: Store> World<S> {
    async fn security(&self) -> Security {
        let store = self.e.auth.store();
        let a = store.account(self.account).await.unwrap().unwrap();
        let mut factors: Vec<(String, FactorKind, bool)> = store
            .factors(self.account)
            .await
            .unwrap()
            .iter()
            .map(|f| (f.id.to_string(), f.kind, f.suspended.is_some()))
            .collect();
        factors.sort();
        let codes = store
            .factors(self.account)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.kind == FactorKind::RecoveryCodes)
            .map(|f| serde_json::to_string(&f.data).unwrap())
            .unwrap_or_default();
        Security {
            email: a.email.as_typed().to_owned(),
            password_hash: a.password_hash,
            factors,
            recovery_codes: codes,
        }
    }

    /// The next unused app code at the current time (or `None` if this step's was used).
    fn owner_code(&mut self) -> Option<String> {
        let step = (at(self.t).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()) / 30;
        if step <= self.owner.last_step {
            return None;
        }
        self.owner.last_step = step;
        Some(self.owner.app.code(at(self.t)))
    }

    /// The owner signs in with the password and the app: a session, or why not.
    async fn owner_sign_in(&mut self) -> Result<(), String> {
        let client = owner_browser(self.owner.device.as_ref());
        let step = self
            .e
            .auth
            .login(&self.owner.email.clone(), &self.owner.password, &client, at(self.t))
            .await;
        let c = match step {
            Ok(LoginStep::Challenge(c)) => c,
            other => return Err(format!("the owner's password: {other:?}")),
        };
        let flow = if c.method.kind == FactorKind::Totp {
            c.flow
        } else {
            let app = c
                .alternatives
                .iter()
                .find(|m| m.kind == FactorKind::Totp)
                .ok_or_else(|| format!("no app offered: {c:?}"))?;
            match self.e.auth.select_method(&c.flow, app.factor, &client, at(self.t)).await {
                Ok(LoginStep::Challenge(c)) => c.flow,
                other => return Err(format!("selecting the app: {other:?}")),
            }
        };
        let Some(code) = self.owner_code() else {
            return Err("this step's code was used: wait".into());
        };
        match self.e.auth.submit_code(&flow, &code, at(self.t)).await {
            Ok(LoginStep::Authenticated(done)) => {
                self.owner.device = Some(done.known_device.clone());
                let token = done.session_token.expose_secret().to_owned();
                self.owner.tokens.push(token.clone());
                self.owner.session = Some((done.session, token));
                Ok(())
            }
            other => Err(format!("the owner's code: {other:?}")),
        }
    }

    /// The owner's live session, fresh for a change (signing in again if needed).
    async fn owner_fresh_session(&mut self) -> Option<Session> {
        let alive = match &self.owner.session {
            Some((_, token)) => self.e.auth.session(token, at(self.t)).await.ok(),
            None => None,
        };
        if let Some(s) = alive.filter(|s| self.e.auth.is_fresh(s, at(self.t))) {
            return Some(s);
        }
        self.owner_sign_in().await.ok()?;
        self.owner.session.as_ref().map(|(s, _)| s.clone())
    }

    fn mails_since(&self, before: usize) -> Vec<Notice> {
        self.e.outbox.sent().into_iter().skip(before).map(|(_, n)| n).collect()
    }

    /// The latest link of this kind in the mailbox (the attacker's read access).
    fn mailed_link(&self, reset: bool) -> Option<String> {
        self.e.outbox.sent().into_iter().rev().find_map(|(_, n)| match n {
            Notice::PasswordResetLink { link, .. } if reset => {
                link.rsplit_once("#token=").map(|(_, t)| t.to_owned())
            }
            Notice::SignInLink { link, .. } if !reset => {
                link.rsplit_once("#sign-in-link=").map(|(_, t)| t.to_owned())
            }
            _ => None,
        })
    }

    /// The newest address-change link mailed (to `to`, or to any of the owner's addresses):
    /// its token, and whether it is an undo (revert or cancel) rather than a confirmation.
    fn change_link(&self, to: Option<&str>) -> Option<(String, bool, String)> {
        let token = |link: &str| link.rsplit_once("token=").map(|(_, t)| t.to_owned());
        self.e.outbox.sent().into_iter().rev().find_map(|(addr, n)| {
            let addr = addr.as_typed().to_owned();
            if to.is_some_and(|to| addr != to) {
                return None;
            }
            match n {
                Notice::ConfirmNewAddress { confirm_link, .. } => {
                    token(&confirm_link).map(|t| (t, false, addr))
                }
                Notice::EmailChangedOld { revert_link, .. } => {
                    token(&revert_link).map(|t| (t, true, addr))
                }
                Notice::EmailChangeRequested { cancel_link, .. } => {
                    token(&cancel_link).map(|t| (t, true, addr))
                }
                _ => None,
            }
        })
    }

    /// A code the attacker types: the phished one while it holds it, else a guess.
    fn attacker_code(&self) -> String {
        self.attacker.phished.as_ref().map_or_else(|| "000000".to_owned(), |(c, _)| c.clone())
    }

    async fn step(&mut self, a: &Act) -> Result<(), String> {
        let now = at(self.t);
        let before = self.e.outbox.sent().len();
        let owner_acted = matches!(
            a,
            Act::OwnerSignIn
                | Act::OwnerSignOut
                | Act::OwnerChangePassword
                | Act::OwnerNewRecoveryCodes
                | Act::OwnerEndOthers
                | Act::OwnerChangesEmail
        );
        match a {
            Act::Wait(s) => self.t += s,
            Act::OwnerSignIn => {
                let _ = self.owner_sign_in().await;
            }
            Act::OwnerSignOut => {
                if let Some((s, token)) = self.owner.session.take()
                    && self.e.auth.sign_out(&s, now).await.is_ok()
                {
                    self.revoked.push(token);
                }
            }
            Act::OwnerChangePassword => {
                if let Some(s) = self.owner_fresh_session().await {
                    let next = format!("{}!", self.owner.password);
                    let now = at(self.t);
                    if let Ok(kept) =
                        self.e.auth.change_password(&s, &self.owner.password, &next, now).await
                    {
                        self.owner.password = next;
                        let mine = self.owner.session.as_ref().map(|(_, t)| t.clone());
                        // Every other session ends, the owner's earlier ones too.
                        self.sessions_end_but(mine.as_deref());
                        if let Some(token) = mine {
                            self.owner.session = Some((kept, token));
                        }
                        let told = self
                            .mails_since(before)
                            .iter()
                            .any(|n| matches!(n, Notice::PasswordChanged { .. }));
                        if !told {
                            return Err("a password change mailed no notice".into());
                        }
                    }
                }
            }
            Act::OwnerNewRecoveryCodes => {
                if let Some(s) = self.owner_fresh_session().await
                    && let Ok(codes) = self.e.auth.regenerate_recovery_codes(&s, at(self.t)).await
                {
                    self.owner.recovery_codes = codes;
                    let told = self
                        .mails_since(before)
                        .iter()
                        .any(|n| matches!(n, Notice::RecoveryCodesRegenerated { .. }));
                    if !told {
                        return Err("new recovery codes mailed no notice".into());
                    }
                }
            }
            Act::OwnerEndOthers => {
                if let Some((s, mine)) = self.owner.session.clone()
                    && self.e.auth.end_other_sessions(&s, now).await.is_ok()
                {
                    self.sessions_end_but(Some(&mine));
                }
            }
            Act::AttackerSignIn => {
                let pw = self.attacker.password.clone().unwrap_or_else(|| "a guess!".into());
                let client = attacker_browser(self.attacker.device.as_ref());
                match self.e.auth.login(&self.owner.email, &pw, &client, now).await {
                    Ok(LoginStep::Challenge(c)) => self.attacker.flow = Some(c.flow),
                    Ok(LoginStep::MustEnroll { session_token, .. }) => {
                        self.attacker.sessions.push(session_token.expose_secret().to_owned());
                    }
                    Ok(LoginStep::Authenticated(done)) => {
                        self.attacker.sessions.push(done.session_token.expose_secret().to_owned());
                    }
                    _ => {}
                }
            }
            Act::AttackerCode => {
                if let Some(flow) = self.attacker.flow.clone() {
                    let code = self.attacker_code();
                    self.attacker_finish(self.e.auth.submit_code(&flow, &code, now).await);
                }
            }
            Act::AttackerRecoveryCode => {
                if let Some(flow) = self.attacker.flow.clone() {
                    let client = attacker_browser(self.attacker.device.as_ref());
                    if let Some(factor) = self.offered(&flow, FactorKind::RecoveryCodes, now).await
                    {
                        let _ = self.e.auth.select_method(&flow, factor, &client, now).await;
                        let code = self.attacker.recovery.clone().unwrap_or_else(|| "guess".into());
                        self.attacker_finish(self.e.auth.submit_code(&flow, &code, now).await);
                    }
                }
            }
            Act::AttackerSignInLink => {
                let client = attacker_browser(self.attacker.device.as_ref());
                let _ = self.e.auth.send_sign_in_link(&self.owner.email, &client, now).await;
                if self.attacker.mailbox
                    && let Some(token) = self.mailed_link(false)
                    && let Ok(device) = self.e.auth.redeem_sign_in_link(&token, now).await
                {
                    self.attacker.device = Some(device);
                }
            }
            Act::AttackerReset => {
                let client = attacker_browser(self.attacker.device.as_ref());
                let _ = self.e.auth.begin_password_reset(&self.owner.email, &client, now).await;
                if self.attacker.mailbox
                    && let Some(token) = self.mailed_link(true)
                    && let Ok(step) = self.e.auth.redeem_password_reset(&token, &client, now).await
                {
                    let step = match step {
                        LoginStep::Challenge(c) => {
                            let code = self.attacker_code();
                            self.e.auth.submit_code(&c.flow, &code, now).await
                        }
                        other => Ok(other),
                    };
                    if let Ok(LoginStep::ResetPassword(grant)) = step {
                        let _ = self
                            .e
                            .auth
                            .complete_password_reset(
                                grant.expose_secret(),
                                "the attacker's own",
                                &client,
                                now,
                            )
                            .await;
                    }
                }
            }
            Act::AttackerWithCookie(what) => {
                if let Some(token) = self.attacker.cookie.clone()
                    && let Ok(s) = self.e.auth.session(&token, now).await
                {
                    let auth = &self.e.auth;
                    let guess = "not the password";
                    let _ = match what {
                        0 => auth
                            .change_password(&s, guess, "the attacker's own", now)
                            .await
                            .map(|_| ()),
                        1 => auth
                            .change_email(&s, guess, "attacker@evil.example", now)
                            .await
                            .map(|_| ()),
                        2 => {
                            let factors = auth.store().factors(self.account).await.unwrap();
                            match factors.first() {
                                Some(f) => auth.remove_factor(&s, f.id, now).await.map(|_| ()),
                                None => Ok(()),
                            }
                        }
                        3 => auth.regenerate_recovery_codes(&s, now).await.map(|_| ()),
                        4 => auth.end_other_sessions(&s, now).await.map(|_| ()),
                        5 => match auth.begin_totp(&s, now).await {
                            // Its own authenticator app on the owner's account.
                            Ok(en) => {
                                let app = TotpApp::scan(&en.uri).unwrap();
                                let code = app.code(now);
                                auth.confirm_totp(&s, &en.flow, &code, "Mine", now)
                                    .await
                                    .map(|_| ())
                            }
                            Err(e) => Err(e),
                        },
                        _ => {
                            let client = attacker_browser(None);
                            match auth.begin_step_up(&s, &client, now).await {
                                Ok(LoginStep::Challenge(c)) => {
                                    auth.submit_code(&c.flow, "000000", now).await.map(|_| ())
                                }
                                other => other.map(|_| ()),
                            }
                        }
                    };
                }
            }
            Act::OwnerChangesEmail => {
                if let Some(s) = self.owner_fresh_session().await {
                    let next = format!("owner+{}@example.com", self.owner.earlier_emails.len() + 1);
                    let now = at(self.t);
                    let started =
                        self.e.auth.change_email(&s, &self.owner.password, &next, now).await;
                    self.owner.requested.push(next.clone());
                    // The owner opens the confirmation in the new mailbox.
                    let confirmed = match (started, self.change_link(Some(&next))) {
                        (Ok(_), Some((token, false, _))) => {
                            self.e.auth.confirm_email_change(&token, now).await.is_ok()
                        }
                        _ => false,
                    };
                    if confirmed {
                        let old = std::mem::replace(&mut self.owner.email, next);
                        self.owner.earlier_emails.push(old);
                        // Only the session that made the change lives on.
                        self.attacker_sessions_end();
                    }
                }
            }
            Act::AttackerOpensChangeLink => {
                if self.attacker.mailbox
                    && let Some((token, undo, mailbox)) = self.change_link(None)
                {
                    let opened = if undo {
                        self.e.auth.revert_email_change(&token, now).await.map(|_| ())
                    } else {
                        self.e.auth.confirm_email_change(&token, now).await.map(|_| ())
                    };
                    if opened.is_ok() {
                        // The undo link of an earlier address gives the login back to it, by
                        // design (it is what saves an owner whose address was changed by
                        // someone else), and ends every session; a confirmation link
                        // completes the owner's own move. Never to an address the owner did
                        // not have or ask for; never the password or a factor.
                        let a = self.e.auth.store().account(self.account).await.unwrap().unwrap();
                        let restored = a.email.as_typed().to_owned();
                        if restored != self.owner.email {
                            // An undo gives the login back to an earlier address; a
                            // confirmation completes a move the owner asked for.
                            // An undo gives the login back to the very address it was mailed to;
                            // a confirmation completes a move the owner asked for.
                            let fine = if undo {
                                restored == mailbox && self.owner.earlier_emails.contains(&restored)
                            } else {
                                self.owner.requested.contains(&restored)
                            };
                            if !fine {
                                return Err(format!("a mailed link moved the login to {restored}"));
                            }
                            self.owner
                                .earlier_emails
                                .push(std::mem::replace(&mut self.owner.email, restored));
                        }
                        if undo {
                            // Every session ends: the owner's and whatever the attacker holds.
                            self.sessions_end_but(None);
                            self.owner.session = None;
                        }
                        let mut expected = self.security.clone();
                        expected.email.clone_from(&self.owner.email);
                        if self.security().await != expected {
                            return Err("a mailed link changed more than the address".into());
                        }
                        self.security = expected;
                    }
                }
            }
            Act::AttackerKey => {
                if let Some(flow) = self.attacker.flow.clone()
                    && self.attacker.key.is_some()
                    && let Some(factor) = self.offered(&flow, FactorKind::SecurityKey, now).await
                {
                    let client = attacker_browser(self.attacker.device.as_ref());
                    if let Ok(LoginStep::Challenge(c)) =
                        self.e.auth.select_method(&flow, factor, &client, now).await
                        && let mfa_flow::Prompt::WebAuthn { options } = c.prompt
                        && let Some(key) = self.attacker.key.as_mut()
                        && let Ok(assertion) = key.do_authentication(
                            url::Url::parse(crate::ORIGIN).unwrap(),
                            serde_json::from_str(&options).unwrap(),
                        )
                    {
                        let json = serde_json::to_string(&assertion).unwrap();
                        let step = self.e.auth.submit_webauthn(&flow, &json, now).await;
                        self.attacker_finish(step);
                    }
                }
            }
            Act::AttackerEnrollsPhone => {
                if let Some(uri) = self.attacker.offer.clone() {
                    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
                    let sys = ring::rand::SystemRandom::new();
                    let offer = mfa_push::EnrollmentOffer::parse(&uri).unwrap();
                    let key =
                        mfa_push::device::DeviceKey::generate(mfa_push::KeyAlgorithm::P256, &sys)
                            .unwrap();
                    // An offer past its time cannot even be signed for.
                    if let Ok(req) = mfa_push::device::registration_request(
                        &offer,
                        &key,
                        "Evil",
                        "evil-token",
                        now,
                        &sys,
                    ) {
                        let _ = self.e.auth.push_device_register(&req, now).await;
                    }
                }
            }
        }
        self.check(owner_acted.then_some(a)).await
    }

    /// The factor of `kind` the sign-in `flow` offers (as its method or an alternative).
    async fn offered(&self, flow: &str, kind: FactorKind, now: SystemTime) -> Option<FactorId> {
        let v = self.e.auth.pending_login(flow, now).await.ok()?;
        v.alternatives.iter().chain([&v.method]).find(|m| m.kind == kind).map(|m| m.factor)
    }

    /// Every session the attacker holds (its own and the stolen cookie) ends.
    fn attacker_sessions_end(&mut self) {
        self.revoked.extend(self.attacker.sessions.iter().cloned());
        self.revoked.extend(self.attacker.cookie.iter().cloned());
    }

    /// Every session ends but the owner's `keep`: the attacker's and the owner's others.
    fn sessions_end_but(&mut self, keep: Option<&str>) {
        self.attacker_sessions_end();
        let others = self.owner.tokens.iter().filter(|t| Some(t.as_str()) != keep);
        self.revoked.extend(others.cloned());
    }

    /// What the attacker's second factor answer led to.
    fn attacker_finish(&mut self, step: Result<LoginStep, LoginError>) {
        if let Ok(LoginStep::Authenticated(done)) = step {
            self.attacker.sessions.push(done.session_token.expose_secret().to_owned());
        }
    }

    async fn check(&mut self, owner_acted: Option<&Act>) -> Result<(), String> {
        let now = at(self.t);
        for token in &self.attacker.sessions {
            if let Ok(s) = self.e.auth.session(token, now).await
                && s.assurance >= Assurance::Aal2
            {
                return Err(format!("the attacker holds a session at {:?}", s.assurance));
            }
        }
        for token in &self.revoked {
            if self.e.auth.session(token, now).await.is_ok() {
                return Err("a revoked session works again".into());
            }
        }
        let security = self.security().await;
        if let Some(act) = owner_acted {
            // Each of the owner's steps changes only what it is about.
            let mut expected = self.security.clone();
            match act {
                Act::OwnerChangePassword => {
                    expected.password_hash.clone_from(&security.password_hash)
                }
                Act::OwnerNewRecoveryCodes => {
                    expected.recovery_codes.clone_from(&security.recovery_codes);
                    expected.factors.retain(|f| f.1 != FactorKind::RecoveryCodes);
                    let codes =
                        security.factors.iter().filter(|f| f.1 == FactorKind::RecoveryCodes);
                    expected.factors.extend(codes.cloned());
                    expected.factors.sort();
                }
                Act::OwnerChangesEmail => expected.email.clone_from(&self.owner.email),
                _ => {}
            }
            if security != expected {
                return Err(format!(
                    "{act:?} changed more than it is about: {expected:?} → {security:?}"
                ));
            }
            self.security = security;
        } else if security != self.security {
            return Err(format!(
                "the account changed without its owner: {:?} → {security:?}",
                self.security
            ));
        }
        Ok(())
    }

    /// The owner gets back in after the longest documented wait.
    async fn owner_gets_back_in(&mut self) -> Result<(), String> {
        self.t += 901 + 30;
        self.owner_sign_in().await.map_err(|e| format!("the owner is locked out: {e}"))?;
        // And from a browser the account never saw (the stranger-shared throttle): after
        // the next code step.
        self.owner.device = None;
        self.t += 30;
        self.owner_sign_in().await.map_err(|e| format!("locked out on a new browser: {e}"))
    }
}

async fn world<S: Store>(store: S, stolen: Stolen) -> World<S> {
    let mut config = AuthConfig::new("Example Portal");
    config.signup_confirm_url = "https://portal.example/signup/confirm".into();
    config.password_reset_url = "https://portal.example/password/reset".into();
    config.login_url = "https://portal.example/login".into();
    let e = test_auth_on(store, config, ChangeMode::ConfirmNewAddress, 33);
    let account = e.sign_up(EMAIL, PW, &owner_browser(None), at(0)).await.unwrap().id;
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(EMAIL, PW, &owner_browser(None), at(0)).await.unwrap()
    else {
        panic!("a new account enrolls")
    };
    let en = e.auth.begin_totp(&session, at(1)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let done = e.auth.confirm_totp(&session, &en.flow, &app.code(at(1)), "Phone", at(1)).await;
    let recovery_codes = done.unwrap().recovery_codes.unwrap();
    let first_step = at(1).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30;
    let mut w = World {
        e,
        account,
        t: 60,
        owner: Owner {
            email: EMAIL.into(),
            earlier_emails: Vec::new(),
            requested: Vec::new(),
            password: PW.into(),
            app,
            last_step: first_step,
            recovery_codes,
            session: None,
            tokens: Vec::new(),
            device: None,
        },
        attacker: Attacker::default(),
        security: Security {
            email: String::new(),
            password_hash: String::new(),
            factors: Vec::new(),
            recovery_codes: String::new(),
        },
        revoked: Vec::new(),
    };
    w.owner_sign_in().await.unwrap();
    match stolen {
        Stolen::Password => w.attacker.password = Some(PW.into()),
        Stolen::Mailbox => w.attacker.mailbox = true,
        Stolen::OldCookie => {
            // The owner's session of a while ago: its second factor no longer fresh.
            // The owner left that browser: its next changes come from a new sign-in.
            w.attacker.cookie = w.owner.session.take().map(|(_, t)| t);
            w.t += 700;
        }
        Stolen::PhishedCode => {
            // Typed into a fake page instead of the real one: the owner never used it.
            let code = w.owner_code().unwrap_or_else(|| w.owner.app.code(at(w.t + 30)));
            w.attacker.phished = Some((code, w.t));
        }
        Stolen::RecoveryCode => w.attacker.recovery = w.owner.recovery_codes.first().cloned(),
        Stolen::SecurityKey => {
            let s = w.owner_fresh_session().await.unwrap();
            let (flow, options) =
                w.e.auth.begin_webauthn(&s, FactorKind::SecurityKey, at(w.t)).await.unwrap();
            let mut key = SoftPasskey::new(false);
            let origin = url::Url::parse(crate::ORIGIN).unwrap();
            let reg = key.do_registration(origin, serde_json::from_str(&options).unwrap()).unwrap();
            let reg = serde_json::to_string(&reg).unwrap();
            w.e.auth.finish_webauthn(&s, &flow, &reg, "YubiKey", at(w.t)).await.unwrap();
            w.attacker.key = Some(key);
        }
        Stolen::PushQr => {
            let s = w.owner_fresh_session().await.unwrap();
            let (_, uri) = w.e.auth.begin_push(&s, at(w.t)).await.unwrap();
            w.attacker.offer = Some(uri);
        }
    }
    w.security = w.security().await;
    w
}

/// Plays one run.
///
/// # Errors
/// The property that failed, and at which step.
pub async fn play<S: Store>(store: S, stolen: Stolen, acts: &[Act]) -> Result<(), String> {
    let mut w = world(store, stolen).await;
    for (i, a) in acts.iter().enumerate() {
        if let Err(e) = w.step(a).await {
            return Err(format!("step {i} ({a:?}) with {stolen:?} stolen: {e}"));
        }
    }
    w.owner_gets_back_in().await.map_err(|e| format!("after every step with {stolen:?}: {e}"))
}

/// Runs `cases` generated runs of up to `max_steps` steps on stores from `make`, on a
/// runtime of its own; panics with the seed and the shrunk run on a failure. The seed comes
/// from `MFA_MODEL_SEED` when set (to replay), else from the system's random generator.
pub fn check<S, F, Fut>(make: F, cases: u32, max_steps: usize)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let seed: u64 =
        std::env::var("MFA_MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
            let sys = ring::rand::SystemRandom::new();
            let mut b = [0u8; 8];
            ring::rand::SecureRandom::fill(&sys, &mut b).unwrap();
            u64::from_le_bytes(b)
        });
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let result = runner.run(&runs(max_steps), |(stolen, acts)| {
        rt.block_on(async { play(make().await, stolen, &acts).await }).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (stolen, acts))) => panic!(
            "the attacker model failed (MFA_MODEL_SEED={seed}): {why}\nshrunk run: {stolen:?}, {acts:#?}"
        ),
        Err(e) => panic!("the attacker model could not run (MFA_MODEL_SEED={seed}): {e}"),
    }
}
