//! Prints a fresh P-256 device key as PKCS#8 hex (how the test-vector key was made).
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::unwrap_used
)]

fn main() {
    let rng = ring::rand::SystemRandom::new();
    let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .unwrap();
    let hex: String = doc.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    println!("{hex}");
}
