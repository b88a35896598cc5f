//! `mfa-flow`: one login decision (which second factors a user may use, best first, and
//! which are retired) with the factors already loaded and no crypto, beside the crypto a
//! login normally calls next (a ±1 TOTP verification: three HMAC-SHA-1).

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use mfa_credentials::{HashParams, KeyRing, PasswordHasher, RecoveryCodes, SecretBytes};
use mfa_flow::{
    Account, AccountId, Factor, FactorData, FactorId, FactorKind, Policy, plan_second_factor,
};
use mfa_testkit::conformance;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use uuid::Uuid;

use crate::harness::Pair;

fn factor(n: u128, account: AccountId, kind: FactorKind, data: FactorData) -> Factor {
    Factor { kind, data, ..conformance::totp_factor(n, account) }
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let account = Account {
        last_factor: Some(FactorId(Uuid::from_u128(12))),
        ..conformance::account(1, "ryu@example.com", None)
    };
    let Ok(ring) = KeyRing::new(1, SecretBytes::new(vec![7u8; 32])) else { return Vec::new() };
    let Ok(hasher) = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build()
    else {
        return Vec::new();
    };
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let Ok((_, set)) = RecoveryCodes::new(&ring).generate_with(&hasher, 10, &mut rng) else {
        return Vec::new();
    };
    let totp = || FactorData::Totp {
        sealed_secret: vec![0; 60],
        profile: mfa_totp::Profile::DEFAULT,
        last_step: None,
    };
    let id = account.id;
    let factors = vec![
        factor(
            10,
            id,
            FactorKind::Sms,
            FactorData::Phone { masked_number: "+81 •••• ••12".into() },
        ),
        factor(11, id, FactorKind::Totp, totp()),
        factor(12, id, FactorKind::Totp, totp()),
        factor(13, id, FactorKind::EmailCode, FactorData::EmailCode),
        factor(
            14,
            id,
            FactorKind::RecoveryCodes,
            FactorData::RecoveryCodes { stored: set.to_stored() },
        ),
    ];
    let policy = Policy::default();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_100);
    let secret = [7u8; 20];
    vec![Pair {
        name: "flow: login decision (5 factors, SMS retired)",
        raw_name: "TOTP check: 3 × HMAC-SHA1",
        raw: Box::new(move || {
            for step in 0u64..3 {
                if let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(black_box(&secret)) {
                    mac.update(&step.to_be_bytes());
                    black_box(mac.finalize().into_bytes());
                }
            }
        }),
        lib: Box::new(move || {
            let plan = plan_second_factor(&policy, &account, factors.clone(), now);
            black_box((plan.needs_enrollment(), plan.usable.len()));
        }),
        goal: None,
    }]
}
