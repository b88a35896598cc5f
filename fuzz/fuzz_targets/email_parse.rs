//! Address, username and login-field parsing on arbitrary input: a value or a typed error,
//! never a panic; accepted addresses keep their limits and their canonical form is a fixed
//! point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_email_identity::{Canonicalizer, EmailAddress, LoginIdentifier, ProviderFolding, Username, assess};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let _ = Username::parse(input);
    let _ = LoginIdentifier::classify(input).map(|id| id.legacy_username());
    if let Ok(a) = EmailAddress::parse(input) {
        assert!(a.local_part().len() <= 64);
        assert!(a.local_part().len() + 1 + a.domain_ascii().len() <= 254);
        assert_eq!(EmailAddress::parse(&a.to_string()).as_ref(), Ok(&a));
        let _ = assess(&a);
        for c in [Canonicalizer::new(), Canonicalizer::new().provider_folding(ProviderFolding::GmailDots)] {
            let once = c.canonical(&a);
            let again = EmailAddress::parse(once.as_str()).map(|b| c.canonical(&b));
            assert_eq!(again.as_ref(), Ok(&once));
        }
    }
});
