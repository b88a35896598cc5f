//! PROTOCOL.md's test vectors, for an independent implementation to check against.
//!
//! ```text
//! cargo run -p mfa-push --example push_vectors -- print      # the computed vectors
//! cargo run -p mfa-push --example push_vectors -- respond    # a response JSON on stdin →
//!                                                            # the state the server gives it
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

include!("../tests/common/vectors.rs");

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("print") => {
            for (name, value) in compute_vectors() {
                println!("{name}: {value}");
            }
        }
        Some("respond") => {
            let mut json = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut json).unwrap();
            let (device, challenge) = vector_records();
            let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ISSUED + 5);
            match vector_server().respond(&device, &challenge, json.trim(), now) {
                Ok(answered) => println!("{:?}", answered.state),
                Err(e) => println!("refused: {e:?}"),
            }
        }
        _ => eprintln!("usage: push_vectors print | respond"),
    }
}
