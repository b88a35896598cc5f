//! Generates enrollments for the interop check in the extended CI suite: for each, a line
//! `base32 <TAB> algorithm <TAB> digits <TAB> period <TAB> unix time <TAB> code <TAB> uri
//! <TAB> svg file`, the SVG QR code written into DIR.
//!
//! ```text
//! cargo run -p mfa-totp --example totp_interop -- COUNT SEED DIR
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use mfa_totp::{Algorithm, Profile, TotpConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let seed: u8 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = std::path::PathBuf::from(args.get(2).cloned().unwrap_or_else(|| ".".into()));
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let accounts = ["ryuko.konaka+20231201@withsecure.com", "山田 太郎@例え.jp", "a:b@example.com"];
    let issuers = ["Elements Portal", "製品ポータル", "ACME & Co."];
    for i in 0..count {
        let profile = match i % 4 {
            1 => Profile::new(Algorithm::Sha256, 8, 30).unwrap(),
            2 => Profile::new(Algorithm::Sha512, 8, 60).unwrap(),
            _ => Profile::DEFAULT,
        };
        let config = TotpConfig::new(issuers[i % 3]).unwrap().profile(profile);
        let pending = config.start_enrollment(accounts[i % 3], &mut rng).unwrap();
        let t = 1_000_000_000 + rng.next_u64() % 3_000_000_000;
        let app = mfa_totp::TotpCredential::new(pending.secret().clone(), profile);
        let code = app.code_at(UNIX_EPOCH + Duration::from_secs(t));
        let svg = dir.join(format!("qr-{i}.svg"));
        std::fs::write(&svg, pending.qr_svg().as_bytes()).unwrap();
        println!(
            "{}\t{}\t{}\t{}\t{t}\t{}\t{}\t{}",
            pending.secret().to_base32().as_str(),
            profile.algorithm().uri_name(),
            profile.digits(),
            profile.period(),
            code.as_str(),
            pending.uri(),
            svg.display()
        );
    }
}
