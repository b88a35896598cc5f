//! PROTOCOL.md's test vectors: every computed value in the document equals what the crate
//! computes, and the document's device signature is accepted by the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("common/vectors.rs");

fn documented() -> Vec<(String, String)> {
    let doc = include_str!("../PROTOCOL.md");
    let block = doc.split("## Test vectors").nth(1).unwrap();
    let block = block.split("```text").nth(1).unwrap().split("```").next().unwrap();
    block
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

/// The vectors of PROTOCOL.md, recomputed by this crate. This checks that the document and the
/// code agree; the independent check that the document is implementable by others is the
/// Python interop suite (`.ci/interop/push.py`, PyPI `cryptography`).
#[test]
fn protocol_md_vectors_are_what_the_crate_computes() {
    let doc = documented();
    let get = |name: &str| doc.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("device_pkcs8"), DEVICE_PKCS8);
    for (name, value) in compute_vectors() {
        assert_eq!(get(name), value, "{name}");
    }
}

#[test]
fn documented_device_signature_is_accepted() {
    let doc = documented();
    let sig = doc.iter().find(|(k, _)| k == "device_signature").unwrap().1.clone();
    use base64::Engine as _;
    let response = serde_json::json!({
        "device_id": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(DEVICE_ID),
        "challenge_id": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CHALLENGE_ID),
        "decision": "approve",
        "number": NUMBER,
        "signature": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(unhex(&sig)),
    });
    let (device, challenge) = vector_records();
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ISSUED + 5);
    let out = vector_server().respond(&device, &challenge, &response.to_string(), now).unwrap();
    assert_eq!(out.state, mfa_push::ChallengeState::Approved);
    // The same signature with another number (the attacker's guess) is refused.
    let guess = response.to_string().replace("\"number\":42", "\"number\":43");
    assert_eq!(
        vector_server().respond(&device, &challenge, &guess, now).unwrap_err(),
        mfa_push::PushError::BadSignature
    );
}
