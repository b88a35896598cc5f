//! The command line: unknown arguments refused, `--version`, and a clean exit on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portal");

#[test]
fn unknown_arguments_and_missing_values_are_refused() {
    let out = Command::new(BIN).arg("--lisen").arg("x").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument \"--lisen\""));
    let out = Command::new(BIN).arg("--listen").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen needs a value"));
    assert!(portal::Config::from_args(&["stray".into()]).is_err());
    assert!(portal::Config::from_args(&["--log".into(), "xml".into()]).is_err());
}

#[test]
fn version_is_printed() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("portal {}", env!("CARGO_PKG_VERSION"))
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = std::env::temp_dir().join(format!("portal-cli-{}", std::process::id()));
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--log", "json", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("is running"), "{first}");
    // One request, with a token in its query string.
    let second = lines.next().unwrap().unwrap();
    let addr = second.split("listening on ").nth(1).unwrap().split(';').next().unwrap().to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET /email/confirm?token=SECRET-TOKEN HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        log.lines().any(|l| l.starts_with('{') && l.contains("\"path\":\"/email/confirm\"")),
        "{log}"
    );
    assert!(!log.contains("SECRET"), "a token reached the log: {log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The operator commands through the binary: a usage error (never a panic) without their
/// operand; `import` with `--dry-run` reports and writes nothing, then imports; `usernames`
/// lists the imported legacy username.
#[test]
fn operator_commands_report_and_refuse_what_is_missing() {
    let dir = std::env::temp_dir().join(format!("portal-cli-cmd-{}", std::process::id()));
    let data = dir.display().to_string();
    for args in [
        &["reset-factors"][..],
        &["import"][..],
        &["import", "--data-dir", &data][..],
        &["reset-factors", "a@example.com", "--dry-run", "--data-dir", &data][..],
        &["usernames", "--dry-run", "--data-dir", &data][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage"), "{args:?}");
    }
    // Refused before anything was touched: no data directory was made.
    assert!(!dir.exists());
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/mfa-import/tests/fixtures/auth0-users.json"
    );
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).args(["--data-dir", &data]).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dry = run(&["import", fixture, "--dry-run"]);
    assert!(dry.starts_with("22 records: would import 6, 0 skipped"), "{dry}");
    assert!(dry.contains("record 9: refused: custom_password_hash"), "{dry}");
    assert!(run(&["usernames"]).starts_with("0 account(s)"), "the dry run wrote nothing");
    let real = run(&["import", fixture]);
    assert!(real.starts_with("22 records: imported 6, 0 skipped"), "{real}");
    let again = run(&["import", fixture]);
    assert!(again.starts_with("22 records: imported 0, 6 skipped"), "{again}");
    let names = run(&["usernames"]);
    assert!(names.starts_with("1 account(s)") && names.contains("ryu20231130"), "{names}");
    let _ = std::fs::remove_dir_all(&dir);
}
