//! The command line: `--help` names the default key file; a wrong command prints the usage.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_push-device");

#[test]
fn help_names_the_default_key_file_and_a_wrong_command_the_usage() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("push-device.json") && help.contains("codes"), "{help}");
    let out = Command::new(BIN).arg("dance").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("usage:"));
    let dir = std::env::temp_dir().join(format!("push-device-cli-{}", std::process::id()));
    let state = dir.join("none.json");
    let out =
        Command::new(BIN).args(["--state", state.to_str().unwrap(), "codes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not enrolled yet"));
    // The service is reached over https, or plain http on this machine only.
    let out = Command::new(BIN)
        .args(["--server", "http://attacker.example/api", "codes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server"));
}
