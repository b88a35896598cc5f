//! The email-change ceremony, email codes and usernames, attacked: replay, expiry, wrong
//! tokens, swapped tokens, tampered state, taken addresses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_email_identity::{
    ChangeError, ChangeMode, ChangeRequest, ChangeStatus, ConfigError, EmailAddress, EmailChange,
    EmailChangeConfig, EmailChangeState, EmailCodeError, EmailCodeIssuer, IdentifierError,
    LinkTemplates, LoginIdentifier, Notice, Token, TokenHash, Username, UsernameEmailShape,
    UsernameError,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn links() -> LinkTemplates {
    LinkTemplates::new(
        "https://portal.example/email/confirm?token={token}",
        "https://portal.example/email/revert?token={token}",
        "https://portal.example/login",
    )
    .unwrap()
}

fn ceremony(mode: ChangeMode) -> EmailChange {
    EmailChange::new(EmailChangeConfig::new("Example Portal", links()).unwrap().mode(mode))
}

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

/// The token inside a notice's link (what the recipient would click).
fn token_in(notice: &Notice) -> String {
    let link = match notice {
        Notice::EmailChangedOld { revert_link: l, .. }
        | Notice::ConfirmNewAddress { confirm_link: l, .. }
        | Notice::EmailChangeRequested { cancel_link: l, .. } => l,
        other => panic!("no token link in {other:?}"),
    };
    link.split("token=").nth(1).unwrap().to_owned()
}

fn start(mode: ChangeMode, rng: &mut ChaCha20Rng) -> mfa_email_identity::ChangeStep {
    let (old, new) = (addr("ryu@example.com"), addr("Ryuko.Konaka+20231201@example.com"));
    ceremony(mode)
        .start(ChangeRequest { account: "acct-1", current: &old, new: &new }, |_| false, t0(), rng)
        .unwrap()
}

#[test]
fn immediate_switches_and_tells_both_addresses() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let step = start(ChangeMode::Immediate, &mut rng);
    assert_eq!(step.set_login_email, Some(addr("Ryuko.Konaka+20231201@example.com")));
    assert_eq!(step.deliveries.len(), 2);
    assert_eq!(step.deliveries[0].to, addr("ryu@example.com"));
    assert!(matches!(step.deliveries[0].notice, Notice::EmailChangedOld { .. }));
    assert_eq!(step.deliveries[1].to, addr("Ryuko.Konaka+20231201@example.com"));
    assert!(matches!(step.deliveries[1].notice, Notice::EmailChangedNew { .. }));
    assert!(matches!(step.state.status(), ChangeStatus::Switched { .. }));

    // The old address reverts within the window, once.
    let c = ceremony(ChangeMode::Immediate);
    let revert = token_in(&step.deliveries[0].notice);
    let back = c.revert(&step.state, &revert, t0() + Duration::from_secs(3600)).unwrap();
    assert_eq!(back.set_login_email, Some(addr("ryu@example.com")));
    assert_eq!(back.state.status(), ChangeStatus::Reverted);
    assert!(back.deliveries.iter().all(|d| d.to == addr("ryu@example.com")));
    assert_eq!(c.revert(&back.state, &revert, t0()).unwrap_err(), ChangeError::AlreadyUsed);
    assert!(back.state.is_finished(t0()));
}

#[test]
fn revert_window_expires() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let step = start(ChangeMode::Immediate, &mut rng);
    let c = ceremony(ChangeMode::Immediate);
    let revert = token_in(&step.deliveries[0].notice);
    let late = t0() + Duration::from_secs(7 * 24 * 3600);
    assert_eq!(c.revert(&step.state, &revert, late).unwrap_err(), ChangeError::Expired);
    assert!(step.state.is_finished(late));
    assert!(!step.state.is_finished(late - Duration::from_secs(1)));
}

#[test]
fn confirm_mode_switches_only_after_confirmation() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let step = start(ChangeMode::ConfirmNewAddress, &mut rng);
    assert_eq!(step.set_login_email, None);
    assert!(matches!(step.state.status(), ChangeStatus::AwaitingConfirmation { .. }));
    let confirm = token_in(&step.deliveries[0].notice);
    let cancel = token_in(&step.deliveries[1].notice);
    assert_eq!(step.deliveries[0].to, addr("Ryuko.Konaka+20231201@example.com"));
    assert_eq!(step.deliveries[1].to, addr("ryu@example.com"));
    let c = ceremony(ChangeMode::ConfirmNewAddress);

    // The cancel token (sent to the old address) cannot confirm, and a made-up one neither.
    assert_eq!(
        c.confirm(&step.state, &cancel, t0(), &mut rng).unwrap_err(),
        ChangeError::InvalidToken
    );
    assert_eq!(
        c.confirm(&step.state, "guess", t0(), &mut rng).unwrap_err(),
        ChangeError::InvalidToken
    );

    let done = c.confirm(&step.state, &confirm, t0() + Duration::from_secs(60), &mut rng).unwrap();
    assert_eq!(done.set_login_email, Some(addr("Ryuko.Konaka+20231201@example.com")));
    assert!(matches!(done.deliveries[0].notice, Notice::EmailChangedOld { .. }));
    // Replay of the confirmation link.
    assert_eq!(
        c.confirm(&done.state, &confirm, t0(), &mut rng).unwrap_err(),
        ChangeError::AlreadyUsed
    );
    // The pre-switch cancel link no longer acts; the new revert link does.
    assert_eq!(c.revert(&done.state, &cancel, t0()).unwrap_err(), ChangeError::InvalidToken);
    let revert = token_in(&done.deliveries[0].notice);
    assert_ne!(revert, cancel);
    assert!(c.revert(&done.state, &revert, t0()).is_ok());
}

#[test]
fn confirm_mode_cancel_and_expiry() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let step = start(ChangeMode::ConfirmNewAddress, &mut rng);
    let c = ceremony(ChangeMode::ConfirmNewAddress);
    let confirm = token_in(&step.deliveries[0].notice);
    let cancel = token_in(&step.deliveries[1].notice);
    let late = t0() + Duration::from_secs(24 * 3600);
    assert_eq!(c.confirm(&step.state, &confirm, late, &mut rng).unwrap_err(), ChangeError::Expired);

    let cancelled = c.revert(&step.state, &cancel, t0()).unwrap();
    assert_eq!(cancelled.state.status(), ChangeStatus::Cancelled);
    assert_eq!(cancelled.set_login_email, None);
    assert_eq!(
        c.confirm(&cancelled.state, &confirm, t0(), &mut rng).unwrap_err(),
        ChangeError::AlreadyUsed
    );
}

#[test]
fn same_or_taken_address_is_refused() {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let c = ceremony(ChangeMode::Immediate);
    let old = addr("Ryu@Example.com");
    let same = addr("ryu@EXAMPLE.com");
    let req = ChangeRequest { account: "a", current: &old, new: &same };
    assert_eq!(c.start(req, |_| false, t0(), &mut rng).unwrap_err(), ChangeError::SameAddress);
    let other = addr("other@example.com");
    let req = ChangeRequest { account: "a", current: &old, new: &other };
    let mut asked = None;
    let err = c
        .start(
            req,
            |canon| {
                asked = Some(canon.as_str().to_owned());
                true
            },
            t0(),
            &mut rng,
        )
        .unwrap_err();
    assert_eq!(err, ChangeError::AddressTaken);
    assert_eq!(asked.as_deref(), Some("other@example.com"));
}

#[test]
fn state_survives_storage_and_tampering_is_refused() {
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let step = start(ChangeMode::ConfirmNewAddress, &mut rng);
    let json = serde_json::to_string(&step.state).unwrap();
    assert!(!json.contains(&token_in(&step.deliveries[0].notice)), "a token is stored in clear");
    let back: EmailChangeState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, step.state);
    // A stored state that was damaged never loads.
    let original = step.state.token_hashes()[0].to_base64url();
    for bad in [
        json.replace(&original, "short"),
        json.replace("\"v\":1", "\"v\":\"x\""),
        json.replace("ryu@example.com", "not an address"),
        json.replace("awaiting_confirmation", "switched_forever"),
    ] {
        assert!(serde_json::from_str::<EmailChangeState>(&bad).is_err(), "{bad}");
    }
    assert_eq!(step.state.token_hashes().len(), 2);
    assert!(step.state.token_hashes().iter().all(|h| *h != &TokenHash::of("")));
}

#[test]
fn configuration_is_checked() {
    assert_eq!(
        LinkTemplates::new("javascript:alert(1){token}", "https://x/{token}", "https://x")
            .unwrap_err(),
        ConfigError::LinkScheme("confirm")
    );
    assert_eq!(
        LinkTemplates::new("https://x/{token}", "https://x/", "https://x").unwrap_err(),
        ConfigError::LinkPlaceholder("revert")
    );
    assert_eq!(EmailChangeConfig::new("  ", links()).unwrap_err(), ConfigError::ProductName);
    let cfg = EmailChangeConfig::new("P", links()).unwrap();
    assert!(cfg.clone().confirm_ttl(Duration::ZERO).is_err());
    assert!(cfg.revert_ttl(Duration::from_secs(31 * 24 * 3600)).is_err());
}

#[test]
fn secrets_stay_out_of_debug() {
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let step = start(ChangeMode::ConfirmNewAddress, &mut rng);
    let token = token_in(&step.deliveries[0].notice);
    let dbg = format!("{step:?}");
    assert!(!dbg.contains(&token), "{dbg}");
    let (t, _) = Token::generate(&mut rng);
    assert_eq!(format!("{t:?}"), "Token([REDACTED])");
    let issuer = EmailCodeIssuer::new(&[9; 32]).unwrap();
    let (code, pending) = issuer.issue("acct", t0(), &mut rng);
    assert!(!format!("{code:?}{pending:?}{issuer:?}").contains(code.expose_secret()));
}

#[test]
fn email_codes_are_single_use_and_expire() {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let issuer = EmailCodeIssuer::new(&[9; 32]).unwrap();
    let (code, pending) = issuer.issue("acct", t0(), &mut rng);
    assert_eq!(code.expose_secret().len(), 6);

    let mut p = pending.clone();
    assert_eq!(
        issuer.verify("acct", &mut p, "12345", t0()),
        Err(EmailCodeError::Malformed { digits: 6 })
    );
    assert_eq!(
        issuer.verify("acct", &mut p, "12345a", t0()),
        Err(EmailCodeError::Malformed { digits: 6 })
    );
    assert_eq!(
        issuer.verify("acct", &mut p, "", t0()),
        Err(EmailCodeError::Malformed { digits: 6 })
    );
    let wrong = if code.expose_secret() == "000000" { "000001" } else { "000000" };
    assert_eq!(issuer.verify("acct", &mut p, wrong, t0()), Err(EmailCodeError::Mismatch));
    // Another account's pending code does not verify this account's code.
    assert_eq!(
        issuer.verify("other", &mut p, code.expose_secret(), t0()),
        Err(EmailCodeError::Mismatch)
    );
    // Full-width digits typed through a Japanese IME, with spaces, are the same code.
    let wide: String = code
        .expose_secret()
        .chars()
        .map(|c| char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap())
        .collect();
    let spaced = format!("{} {}", &wide[..9], &wide[9..]);
    assert_eq!(issuer.verify("acct", &mut p, &spaced, t0()), Ok(()));
    assert!(p.is_used());
    assert_eq!(
        issuer.verify("acct", &mut p, code.expose_secret(), t0()),
        Err(EmailCodeError::AlreadyUsed)
    );

    let mut late = pending.clone();
    let when = t0() + Duration::from_secs(600);
    assert_eq!(
        issuer.verify("acct", &mut late, code.expose_secret(), when),
        Err(EmailCodeError::Expired)
    );
    // A key that is not the issuer's does not verify.
    let other = EmailCodeIssuer::new(&[10; 32]).unwrap();
    let mut q = pending;
    assert_eq!(
        other.verify("acct", &mut q, code.expose_secret(), t0()),
        Err(EmailCodeError::Mismatch)
    );
    assert!(EmailCodeIssuer::new(&[0; 16]).is_err());
    assert!(EmailCodeIssuer::new(&[0; 32]).unwrap().digits(9).is_err());
    let eight = EmailCodeIssuer::new(&[0; 32]).unwrap().digits(8).unwrap();
    assert_eq!(eight.issue("a", t0(), &mut rng).0.expose_secret().len(), 8);
}

#[test]
fn usernames_and_classification() {
    let u = Username::parse(" Ryu20231130 ").unwrap();
    assert_eq!(u.normalized(), "ryu20231130");
    assert_eq!(u.as_typed(), "Ryu20231130");
    assert_eq!(u, Username::parse("RYU20231130").unwrap());
    assert_eq!(Username::parse("山田.太郎").unwrap().normalized(), "山田.太郎");
    assert_eq!(Username::parse("").unwrap_err(), UsernameError::Empty);
    assert_eq!(Username::parse("ryu!").unwrap_err(), UsernameError::InvalidCharacter('!'));
    assert_eq!(Username::parse("ry u").unwrap_err(), UsernameError::InvalidCharacter(' '));
    assert!(matches!(Username::parse("a@b@c").unwrap_err(), UsernameError::MalformedEmail(_)));
    assert_eq!(Username::parse(&"x".repeat(65)).unwrap_err(), UsernameError::TooLong { max: 64 });
    assert_eq!(
        Username::parse_with("ab", mfa_email_identity::UsernameRules::new().bounds(3, 20))
            .unwrap_err(),
        UsernameError::TooShort { min: 3 }
    );

    // The notice's rule: a username that is a *different* email address is legacy-only.
    let account = addr("ryu@example.com");
    let canon = mfa_email_identity::Canonicalizer::new();
    let same = Username::parse("RYU@example.com").unwrap();
    let different = Username::parse("old-address@example.org").unwrap();
    assert_eq!(
        Username::parse("ryu").unwrap().email_shape(&account, &canon),
        UsernameEmailShape::NotAnEmail
    );
    assert_eq!(same.email_shape(&account, &canon), UsernameEmailShape::SameAsAccountEmail);
    assert_eq!(different.email_shape(&account, &canon), UsernameEmailShape::DifferentEmail);

    match LoginIdentifier::classify(" ryu@example.com ").unwrap() {
        LoginIdentifier::Email(e) => assert_eq!(e, addr("ryu@example.com")),
        other => panic!("{other:?}"),
    }
    let legacy = LoginIdentifier::classify("Ryu20231130").unwrap();
    assert_eq!(legacy, LoginIdentifier::Username(u.clone()));
    assert_eq!(legacy.legacy_username(), Some(u));
    let email_shaped = LoginIdentifier::classify("old-address@example.org").unwrap();
    assert_eq!(email_shaped.legacy_username(), Some(different));
    assert!(matches!(LoginIdentifier::classify("a@"), Err(IdentifierError::Email(_))));
    assert!(matches!(LoginIdentifier::classify("a b"), Err(IdentifierError::Username(_))));
    assert!(matches!(
        LoginIdentifier::classify(""),
        Err(IdentifierError::Username(UsernameError::Empty))
    ));
}

proptest! {
    /// A token verifies against its own hash only, and a state's link works once.
    #[test]
    fn tokens_are_single_use(seed in any::<[u8; 32]>(), other in "[A-Za-z0-9_-]{0,50}") {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (token, hash) = Token::generate(&mut rng);
        prop_assert!(hash.matches(token.expose_secret()));
        prop_assert_eq!(hash.matches(&other), other == token.expose_secret());
        let step = start(ChangeMode::ConfirmNewAddress, &mut rng);
        let c = ceremony(ChangeMode::ConfirmNewAddress);
        let confirm = token_in(&step.deliveries[0].notice);
        let done = c.confirm(&step.state, &confirm, t0(), &mut rng).unwrap();
        prop_assert_eq!(c.confirm(&done.state, &confirm, t0(), &mut rng).unwrap_err(), ChangeError::AlreadyUsed);
        let revert = token_in(&done.deliveries[0].notice);
        let back = c.revert(&done.state, &revert, t0()).unwrap();
        prop_assert_eq!(c.revert(&back.state, &revert, t0()).unwrap_err(), ChangeError::AlreadyUsed);
    }

    /// Codes are always the configured length and verify exactly once.
    #[test]
    fn codes_verify_once(seed in any::<[u8; 32]>(), digits in 6u8..=8) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let issuer = EmailCodeIssuer::new(&seed).unwrap().digits(digits).unwrap();
        let (code, mut pending) = issuer.issue("acct", t0(), &mut rng);
        prop_assert_eq!(code.expose_secret().len(), usize::from(digits));
        prop_assert_eq!(issuer.verify("acct", &mut pending, code.expose_secret(), t0()), Ok(()));
        prop_assert_eq!(issuer.verify("acct", &mut pending, code.expose_secret(), t0()), Err(EmailCodeError::AlreadyUsed));
    }
}
