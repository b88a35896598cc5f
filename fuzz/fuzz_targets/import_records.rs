//! An import file of any bytes: the splitter yields records or a typed error, never a panic;
//! every record it yields is parsed and validated as an import would, on a memory store,
//! with a typed refusal or an account written; a second run imports nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_email_identity::ChangeMode;
use mfa_flow::AuthConfig;
use mfa_import::{ImportOptions, Records, SplitError, import};
use mfa_testkit::{at, seeded, test_auth};

fuzz_target!(|data: &[u8]| {
    for r in Records::new(data, 4096) {
        if let Err(e) = r {
            assert!(matches!(e, SplitError::Syntax(_) | SplitError::TooLarge { .. }));
        }
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    rt.block_on(async {
        let e = test_auth(AuthConfig::new("Fuzz"), ChangeMode::Immediate, 1);
        let options = ImportOptions { max_record_bytes: 4096, ..ImportOptions::default() };
        let report = import(&e.auth, data, &options, at(0), &mut seeded(2), |_| {}).await;
        assert_eq!(report.records, report.imported + report.existing + report.refused);
        // The same file again changes nothing: whatever was imported is now skipped.
        let again = import(&e.auth, data, &options, at(1), &mut seeded(3), |_| {}).await;
        assert_eq!(again.imported, 0);
        assert_eq!(again.existing, report.imported);
    });
});
