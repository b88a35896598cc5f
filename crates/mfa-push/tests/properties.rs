//! Properties of the encoding: messages survive JSON; any single bit flipped in a signed
//! answer fails verification and changes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod common;

use common::{t, world};
use mfa_push::{KeyAlgorithm, Purpose, PushError, ResponseMessage, SignInContext};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single bit flipped in the signature, the ids, the decision or the number of an
    /// answer: refused (or, for a flip that only turns "approve" into "deny"-like values the
    /// signature does not cover, refused by the signature all the same).
    #[test]
    fn a_flipped_bit_never_verifies(field in 0usize..4, bit in 0usize..4096) {
        let mut w = world(KeyAlgorithm::P256);
        let issued = w.issue(Purpose::Login, &[]).unwrap();
        let json = w.approve(&issued.record, issued.number);
        let mut msg: ResponseMessage = serde_json::from_str(&json).unwrap();
        match field {
            0 => { let i = bit % (msg.signature.len() * 8); msg.signature[i / 8] ^= 1 << (i % 8); }
            1 => { let i = bit % 128; msg.challenge_id[i / 8] ^= 1 << (i % 8); }
            2 => { let i = bit % 128; msg.device_id[i / 8] ^= 1 << (i % 8); }
            _ => { msg.number ^= 1 << (bit % 8); }
        }
        let out = w.server.respond(&w.record, &issued.record, &serde_json::to_string(&msg).unwrap(), t(2));
        prop_assert!(matches!(
            out,
            Err(PushError::BadSignature | PushError::WrongChallenge | PushError::WrongDevice | PushError::Decode(_))
        ), "{out:?}");
    }

    /// The context hash changes with every field.
    #[test]
    fn context_hash_covers_every_field(a in ".{0,20}", b in ".{0,20}", time in any::<u64>()) {
        let base = SignInContext { application: a.clone(), location: b.clone(), ip: String::new(), browser: String::new(), time };
        let moved = SignInContext { application: format!("{a}{b}"), location: String::new(), ..base.clone() };
        if !b.is_empty() {
            prop_assert_ne!(base.hash(), moved.hash(), "length prefixes keep fields apart");
        }
        let later = SignInContext { time: time.wrapping_add(1), ..base.clone() };
        prop_assert_ne!(base.hash(), later.hash());
    }

    /// Messages survive their JSON form.
    #[test]
    fn json_round_trip(number in any::<u8>(), id in prop::collection::vec(any::<u8>(), 16)) {
        let msg = ResponseMessage {
            device_id: id.clone(),
            challenge_id: id.iter().rev().copied().collect(),
            decision: mfa_push::Decision::Approve,
            number,
            signature: id,
        };
        let back: ResponseMessage = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
        prop_assert_eq!(back, msg);
    }
}
