// Shared by `tests/vectors.rs` and `examples/push_vectors.rs` (included, not a module):
// the fixed inputs of PROTOCOL.md's test vectors and the values computed from them.

/// The device key of the vectors (P-256, PKCS#8), made once with `push_keygen`.
const DEVICE_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104208d92908c7bc4f299d10bca895eb154ea243fdb7c12d518abea2f2420ad3b0306a1440342000416f26a9588ae7ab18152312ea762ca1d79fba3ed895500d136e1cec64a55aa5eac9cfa8e08cf18ce092c051a5601d300c82105a1b177cab5e2305c7086de76b7";
const SERVER: &str = "https://portal.example.com";
const KID: &str = "2026-11";
const SERVER_SEED: [u8; 32] = [7; 32];
const ENROLLMENT_ID: [u8; 16] = [0x44; 16];
const ENROLLMENT_SECRET: [u8; 32] = [0x55; 32];
const DEVICE_ID: [u8; 16] = [0x11; 16];
const CHALLENGE_ID: [u8; 16] = [0x22; 16];
const NONCE: [u8; 16] = [0x33; 16];
const ISSUED: u64 = 1_800_000_000;
const EXPIRES: u64 = 1_800_000_090;
const NUMBER: u8 = 42;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn vector_context() -> mfa_push::SignInContext {
    mfa_push::SignInContext {
        application: "Example Portal".into(),
        location: "Tokyo, JP".into(),
        ip: "203.0.113.7".into(),
        browser: "Chrome on Windows".into(),
        time: ISSUED,
    }
}

fn device_public_key() -> Vec<u8> {
    use ring::signature::KeyPair as _;
    // Loading a PKCS#8 key needs a generator in ring's API; it draws nothing from it here.
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    let rng = ring::rand::SystemRandom::new();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &unhex(DEVICE_PKCS8),
        &rng,
    )
    .unwrap();
    pair.public_key().as_ref().to_vec()
}

/// Every computed vector, by name, in PROTOCOL.md's order.
fn compute_vectors() -> Vec<(&'static str, String)> {
    use ring::signature::KeyPair as _;
    let server_key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SERVER_SEED).unwrap();
    let device_key =
        mfa_push::DevicePublicKey::new(mfa_push::KeyAlgorithm::P256, &device_public_key()).unwrap();
    let registration = mfa_push::registration_input(
        SERVER,
        &ENROLLMENT_ID,
        &ENROLLMENT_SECRET,
        &device_key,
        "iPhone",
        "push-token-1",
    );
    let ctx = vector_context();
    let challenge = mfa_push::challenge_input(
        SERVER,
        KID,
        &DEVICE_ID,
        &CHALLENGE_ID,
        &NONCE,
        ISSUED,
        EXPIRES,
        mfa_push::Purpose::Login,
        &ctx.hash(),
    );
    // The same challenge sent for a password reset: only the purpose byte differs.
    let reset = mfa_push::challenge_input(
        SERVER,
        KID,
        &DEVICE_ID,
        &CHALLENGE_ID,
        &NONCE,
        ISSUED,
        EXPIRES,
        mfa_push::Purpose::PasswordReset,
        &ctx.hash(),
    );
    let response = mfa_push::response_input(
        SERVER,
        &DEVICE_ID,
        &CHALLENGE_ID,
        &NONCE,
        ISSUED,
        EXPIRES,
        &ctx.hash(),
        mfa_push::Decision::Approve,
        NUMBER,
    );
    vec![
        ("server_public_key", hex(server_key.public_key().as_ref())),
        ("device_public_key", hex(device_key.as_bytes())),
        ("registration_input", hex(&registration)),
        ("context_hash", hex(&ctx.hash())),
        ("challenge_input", hex(&challenge)),
        ("challenge_signature", hex(server_key.sign(&challenge).as_ref())),
        ("challenge_input_password_reset", hex(&reset)),
        ("challenge_signature_password_reset", hex(server_key.sign(&reset).as_ref())),
        ("response_input", hex(&response)),
    ]
}

/// The server-side records of the vectors, as a store would hold them.
fn vector_records() -> (mfa_push::DeviceRecord, mfa_push::ChallengeRecord) {
    use base64::Engine as _;
    let b = |x: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
    let device = serde_json::json!({
        "id": b(&DEVICE_ID), "account": "acct-1",
        "key": {"alg": "p256", "bytes": b(&device_public_key())},
        "kid": KID, "display_name": "iPhone", "push_token": "push-token-1",
        "active": true, "created": ISSUED,
    });
    let challenge = serde_json::json!({
        "id": b(&CHALLENGE_ID), "nonce": b(&NONCE), "device_id": b(&DEVICE_ID),
        "account": "acct-1", "flow": b(b"flow-1"), "issued": ISSUED, "expires": EXPIRES,
        "purpose": "login", "context": serde_json::to_value(vector_context()).unwrap(),
        "number": NUMBER, "state": "pending",
    });
    (serde_json::from_value(device).unwrap(), serde_json::from_value(challenge).unwrap())
}

fn vector_server() -> mfa_push::PushServer {
    mfa_push::PushServer::new(
        mfa_push::PushConfig::new(SERVER, "Example Portal"),
        mfa_push::ServerKeys::new(&[(KID, SERVER_SEED)]).unwrap(),
    )
    .unwrap()
}
