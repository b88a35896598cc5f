//! Golden files for every notice in both languages (`tests/golden/`), and injection attempts.
//! `UPDATE_GOLDEN=1 cargo test -p mfa-email-identity --test notices` rewrites the files; the
//! diff is then reviewed like code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use mfa_email_identity::{FactorLabel, Language, Notice, NoticeFormat};

fn samples() -> Vec<Notice> {
    // 2023-11-30 15:31 JST, the time on the notice's sample mail.
    let at = UNIX_EPOCH + Duration::from_secs(1_701_325_860);
    let product = "WithSecure™".to_owned();
    vec![
        Notice::EmailChangedOld {
            product: product.clone(),
            new_address_hint: "r•••@withsecure.com".into(),
            revert_link: "https://portal.example/email/revert?token=REVERT".into(),
            revert_expires: at,
        },
        Notice::EmailChangedNew {
            product: product.clone(),
            new_address: "ryuko.konaka+20231201@withsecure.com".into(),
            login_link: "https://portal.example/login".into(),
        },
        Notice::ConfirmNewAddress {
            product: product.clone(),
            new_address: "ryuko.konaka+20231201@withsecure.com".into(),
            confirm_link: "https://portal.example/email/confirm?token=CONFIRM".into(),
            expires: at,
        },
        Notice::EmailChangeRequested {
            product: product.clone(),
            new_address_hint: "r•••@withsecure.com".into(),
            cancel_link: "https://portal.example/email/revert?token=CANCEL".into(),
            expires: at,
        },
        Notice::EmailChangeReverted {
            product: product.clone(),
            restored_address: "ryu@withsecure.com".into(),
        },
        Notice::AccountExists {
            product: product.clone(),
            login_link: "https://portal.example/login".into(),
        },
        Notice::SignInLink {
            product: product.clone(),
            link: "https://portal.example.com/login#sign-in-link=abc".into(),
            expires: at + Duration::from_secs(900),
        },
        Notice::ConfirmSignUp {
            product: product.clone(),
            code: "123456".into(),
            code_expires: at,
            link: "https://portal.example/signup/confirm#token=CONFIRM".into(),
            expires: at + Duration::from_secs(24 * 3600),
        },
        Notice::PasswordResetLink {
            product: product.clone(),
            link: "https://portal.example/password/reset#token=RESET".into(),
            expires: at,
        },
        Notice::AddressInUse {
            product: product.clone(),
            login_link: "https://portal.example/login".into(),
        },
        Notice::EmailChangeUndone {
            product: product.clone(),
            restored_hint: "r•••@withsecure.com".into(),
            at,
        },
        Notice::FactorsResetBySupport { product: product.clone(), at },
        Notice::ConfirmAddress {
            product: product.clone(),
            link: "https://portal.example/address/confirm#token=ADDRESS".into(),
            expires: at,
        },
        Notice::UsernameRemoved { product: product.clone(), username: "Ryu20231130".into(), at },
        Notice::EmailOneTimeCode { product: product.clone(), code: "123456".into(), expires: at },
        Notice::FactorAdded {
            product: product.clone(),
            kind: FactorLabel::AuthenticatorApp,
            name: "Pixel 8".into(),
            at,
        },
        Notice::FactorRemoved {
            product: product.clone(),
            kind: FactorLabel::SecurityKey,
            name: "YubiKey 5".into(),
            at,
        },
        Notice::FactorReinstated {
            product: product.clone(),
            kind: FactorLabel::SecurityKey,
            name: "YubiKey 5".into(),
            at,
        },
        Notice::PasswordChanged { product: product.clone(), at },
        Notice::PasswordReset { product: product.clone(), at },
        Notice::RecoveryCodeUsed { product: product.clone(), remaining: 7, at },
        Notice::RecoveryCodesRegenerated { product: product.clone(), at },
        Notice::NewDeviceSignIn {
            product: product.clone(),
            browser: "Firefox on Linux".into(),
            ip: "203.0.113.7".into(),
            at,
        },
        Notice::PushFraudReported { product: product.clone(), at },
        Notice::SecurityKeySuspended { product: product.clone(), name: "YubiKey 5".into(), at },
        Notice::FactorLocked {
            product,
            kind: FactorLabel::AuthenticatorApp,
            name: "Phone".into(),
            failures: 100,
            at,
        },
    ]
}

#[test]
fn golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for notice in samples() {
        for (language, offset) in [(Language::Japanese, 540), (Language::English, 0)] {
            let r = notice.render(NoticeFormat::new(language, offset));
            let text = format!("Subject: {}\n\n{}", r.subject, r.text);
            for (ext, body) in [("txt", text), ("html", r.html)] {
                let path = dir.join(format!("{}.{}.{ext}", notice.kind(), language.tag()));
                if update {
                    std::fs::write(&path, &body).unwrap();
                } else {
                    let want = std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    if want != body {
                        mismatches.push(path.display().to_string());
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "differs from golden: {mismatches:?}");
}

#[test]
fn the_japanese_texts_follow_the_notice() {
    let s = samples();
    let ja = NoticeFormat::new(Language::Japanese, 540);
    let old = s[0].render(ja);
    assert_eq!(old.subject, "WithSecure™メールアドレスを変更しました。");
    assert!(old.text.contains(
        "このメールアドレスを使用してWithSecure™にログインすることはできなくなりました。"
    ));
    assert!(old.text.contains("2023年11月30日 15:31 (UTC+09:00)"));
    let new = s[1].render(ja);
    assert!(
        new.text.contains("次の資格情報を使用してWithSecure™アカウントにログインしてください:")
    );
    assert!(new.text.contains("新しいメールアドレス: ryuko.konaka+20231201@withsecure.com"));
    assert!(new.text.contains("本メールに返信しないでください。"));
}

#[test]
fn parameters_cannot_inject_markup_or_headers() {
    let evil = Notice::EmailChangedNew {
        product: "Evil\r\nBcc: victim@example.com".into(),
        new_address: "<script>alert(1)</script>\"@x".into(),
        login_link: "javascript:alert(1)".into(),
    };
    for language in Language::ALL {
        let r = evil.render(NoticeFormat::new(language, 0));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'), "{}", r.subject);
        assert!(!r.text.contains("\nBcc:"));
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.html.contains("href=\"javascript:"), "{}", r.html);
    }
    assert_eq!(format!("{evil:?}"), "Notice::email-changed-new { .. }");
    let code = Notice::EmailOneTimeCode {
        product: "P".into(),
        code: "987654".into(),
        expires: UNIX_EPOCH,
    };
    assert!(!format!("{code:?}").contains("987654"));
    assert!(!format!("{:?}", code.render(NoticeFormat::default())).contains("987654"));
}

#[test]
fn every_security_notice_says_what_to_do_if_it_was_not_you() {
    // The ceremony mails (links, codes, the address-in-use answer) carry their own advice;
    // every notice of a change made to the account says what to do if it was not you.
    let ceremony = [
        "email-changed-old",
        "email-changed-new",
        "confirm-new-address",
        "email-change-requested",
        "email-change-reverted",
        "account-exists",
        "sign-in-link",
        "confirm-sign-up",
        "password-reset-link",
        "address-in-use",
        "confirm-address",
        "email-one-time-code",
    ];
    let security: Vec<_> =
        samples().into_iter().filter(|n| !ceremony.contains(&n.kind())).collect();
    assert_eq!(security.len(), samples().len() - ceremony.len());
    for notice in security {
        for language in Language::ALL {
            let r = notice.render(NoticeFormat::new(language, 540));
            let advice = match language {
                Language::Japanese => "パスワードをすぐに変更",
                _ => "change your password now",
            };
            assert!(
                r.text.to_lowercase().contains(&advice.to_lowercase()),
                "{} ({}): {}",
                notice.kind(),
                language.tag(),
                r.text
            );
            assert!(r.text.contains("2023"), "{} names the time", notice.kind());
        }
    }
}

#[test]
fn names_in_security_notices_cannot_inject() {
    let evil = Notice::FactorAdded {
        product: "P".into(),
        kind: FactorLabel::SecurityKey,
        name: "<img src=x>\r\nBcc: a@b".into(),
        at: UNIX_EPOCH,
    };
    for language in Language::ALL {
        let r = evil.render(NoticeFormat::new(language, 0));
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(!r.text.contains("\nBcc:"));
        assert!(!r.subject.contains('\n'));
    }
}
