//! Brings the users of another system into `mfa-flow` accounts, from the file Auth0's bulk
//! import reads (a JSON array of user objects, or one object per line).
//!
//! ```
//! use mfa_import::{ImportOptions, import};
//!
//! async fn check_file<S: mfa_flow::Store, M: mfa_flow::Mailer, P: mfa_flow::PushSender>(
//!     auth: &mfa_flow::Auth<S, M, P>,
//!     now: std::time::SystemTime,
//!     rng: &mut impl rand_core::CryptoRng,
//! ) -> mfa_import::Report {
//!     let file = br#"[{"email": "ryu@example.com", "email_verified": true,
//!         "username": "Ryu20231130",
//!         "password_hash": "$2b$10$abcdefghijklmnopqrstuuNRVcQ3wmPTH4.aaspFIWRLWMv8qUQvO",
//!         "mfa_factors": [{"phone": {"value": "+81312345678"}}]}]"#;
//!     // Validate and report; nothing is written.
//!     let options = ImportOptions { dry_run: true, ..ImportOptions::default() };
//!     import(auth, &file[..], &options, now, rng, |_| {}).await
//! }
//! ```
//!
//! # Mapping
//! - `email` → the login address (canonical form, the look-alike policy applied);
//!   `email_verified: false` → the first sign-in confirms the address by mail first.
//! - `username` → a legacy username (the username policy's phases then apply).
//! - `password_hash` (bcrypt `$2a$`/`$2b$`) or `custom_password_hash` (`bcrypt`, `argon2`
//!   PHC; anything else is refused) → kept as it is, checked by the password hasher (absurd
//!   parameters are refused), verified and upgraded to argon2id at the first sign-in.
//! - `mfa_factors`: `totp.secret` → a sealed authenticator-app factor (weak under 112 bits);
//!   `phone.value` (E.164) → a retired SMS factor keeping only the masked number, so the user
//!   meets the retired-factor bridge; `email.value` → codes by email (off unless allowed).
//! - `given_name`, `family_name` → the profile; `blocked` → a disabled account.
//!
//! # Robustness
//! The file is streamed (one record in memory at a time, each at most
//! [`ImportOptions::max_record_bytes`]); every record is validated whole before anything is
//! written, and written all or nothing ([`mfa_flow::Store::create_account_with_factors`]); a
//! record whose address already has an account is skipped and reported, never merged, so
//! running the same file again changes nothing. Addresses and usernames repeated within the
//! file are refused after their first record. Nothing in a report holds a secret.

#![forbid(unsafe_code)]

use core::fmt;
use std::collections::HashMap;
use std::io::BufRead;
use std::time::SystemTime;

use mfa_email_identity::{EmailAddress, Username};
use mfa_flow::{
    Account, AccountId, Auth, Factor, FactorData, FactorId, FactorKind, LoginError, Mailer,
    ProfileFields, PushSender, Store, StoreError,
};
use rand_core::CryptoRng;

mod record;
mod split;

pub use record::{CustomHash, HashValue, MfaFactor, TotpFactor, UserRecord, ValueField};
pub use split::{Records, SplitError};

/// How an import runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Validate and report only; write nothing.
    pub dry_run: bool,
    /// The largest record accepted (default 64 KiB); a larger one is refused and skipped.
    pub max_record_bytes: usize,
    /// How many records the report lists by index (default 10,000); the counts hold all.
    pub max_listed: usize,
    /// The group every imported account is put in (one organization's export at a time),
    /// for rules that decide per group ([`mfa_flow::GroupTable`]).
    pub group: Option<mfa_flow::Label>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { dry_run: false, max_record_bytes: 64 * 1024, max_listed: 10_000, group: None }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Written (or, in a dry run, would be).
    Imported,
    /// Its address already has an account: skipped, nothing merged.
    Exists,
    /// Refused, with the reason (no secret in it).
    Refused(String),
}

/// A record the report names: its index in the file (from 0) and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Index of the record in the file.
    pub index: usize,
    /// Skipped or refused, and why.
    pub outcome: Outcome,
}

/// Progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records handled.
    pub records: usize,
    /// Bytes of the file read.
    pub bytes: u64,
}

/// The result of an import: counts per outcome, and each skipped or refused record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Records read.
    pub records: usize,
    /// Imported (or importable, in a dry run).
    pub imported: usize,
    /// Skipped: the address has an account.
    pub existing: usize,
    /// Refused.
    pub refused: usize,
    /// The skipped and refused records, by index (at most [`ImportOptions::max_listed`]).
    pub listed: Vec<Listed>,
    /// The file's structure broke here: nothing after it was read.
    pub stopped: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would import" } else { "imported" };
        writeln!(
            f,
            "{} records: {verb} {}, {} skipped (address has an account), {} refused",
            self.records, self.imported, self.existing, self.refused
        )?;
        for l in &self.listed {
            match &l.outcome {
                Outcome::Exists => {
                    writeln!(f, "  record {}: skipped: the address has an account", l.index)?
                }
                Outcome::Refused(why) => writeln!(f, "  record {}: refused: {why}", l.index)?,
                Outcome::Imported => {}
            }
        }
        if let Some(why) = &self.stopped {
            writeln!(f, "  stopped: {why}")?;
        }
        Ok(())
    }
}

/// Imports the records of `input` into `auth`'s store at `now` (see the crate docs for the
/// mapping). `progress` is called after each record.
pub async fn import<S: Store, M: Mailer, P: PushSender>(
    auth: &Auth<S, M, P>,
    input: impl BufRead,
    options: &ImportOptions,
    now: SystemTime,
    rng: &mut (impl CryptoRng + ?Sized),
    mut progress: impl FnMut(Progress),
) -> Report {
    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let mut seen = Seen::default();
    let mut records = Records::new(input, options.max_record_bytes);
    let mut index = 0usize;
    while let Some(next) = records.next() {
        let outcome = match next {
            Ok(bytes) => one(auth, &bytes, index, options, now, &mut seen, rng).await,
            Err(e @ SplitError::TooLarge { .. }) => Outcome::Refused(e.to_string()),
            Err(e) => {
                report.stopped = Some(format!("after record {index}: {e}"));
                break;
            }
        };
        report.records += 1;
        match &outcome {
            Outcome::Imported => report.imported += 1,
            Outcome::Exists => report.existing += 1,
            Outcome::Refused(_) => report.refused += 1,
        }
        if outcome != Outcome::Imported && report.listed.len() < options.max_listed {
            report.listed.push(Listed { index, outcome });
        }
        index += 1;
        progress(Progress { records: index, bytes: records.bytes_read() });
    }
    report
}

/// The addresses and usernames met so far in the file (hashed: the report's memory stays
/// small), with the index of their first record.
#[derive(Default)]
struct Seen {
    emails: HashMap<[u8; 16], usize>,
    usernames: HashMap<[u8; 16], usize>,
}

fn key(s: &str) -> [u8; 16] {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}

/// The longest first or last name kept.
const MAX_NAME_CHARS: usize = 100;

async fn one<S: Store, M: Mailer, P: PushSender>(
    auth: &Auth<S, M, P>,
    bytes: &[u8],
    index: usize,
    options: &ImportOptions,
    now: SystemTime,
    seen: &mut Seen,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Outcome {
    let record: UserRecord = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        // serde_json's message can quote a value (a hash, a secret): only its category and
        // position are reported.
        Err(e) => {
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "not JSON"
                }
                _ => "a field of the wrong type, or a missing or misplaced one",
            };
            return Outcome::Refused(format!(
                "not a user object: {what} (line {}, column {} of the record)",
                e.line(),
                e.column()
            ));
        }
    };
    let account = match build(auth, &record, options.group.as_ref(), now, rng) {
        Ok(a) => a,
        Err(why) => return Outcome::Refused(why),
    };
    let (account, factors) = account;
    // Repeated within the file: the first record wins, the others are refused.
    if let Some(first) = seen.emails.get(&key(account.canonical_email.as_str())) {
        return Outcome::Refused(format!("the address repeats record {first}"));
    }
    if let Some(u) = &account.username
        && let Some(first) = seen.usernames.get(&key(u.normalized()))
    {
        return Outcome::Refused(format!("the username repeats record {first}"));
    }
    seen.emails.insert(key(account.canonical_email.as_str()), index);
    if let Some(u) = &account.username {
        seen.usernames.insert(key(u.normalized()), index);
    }
    let store = auth.store();
    match store.account_by_email(&account.canonical_email).await {
        Ok(Some(_)) => return Outcome::Exists,
        Ok(None) => {}
        Err(e) => return Outcome::Refused(format!("storage: {e}")),
    }
    if let Some(u) = &account.username {
        match store.account_by_username(u.normalized()).await {
            Ok(Some(_)) => {
                return Outcome::Refused("the username belongs to another account".into());
            }
            Ok(None) => {}
            Err(e) => return Outcome::Refused(format!("storage: {e}")),
        }
    }
    if options.dry_run {
        return Outcome::Imported;
    }
    match auth.import_account(&account, &factors, now).await {
        Ok(()) => Outcome::Imported,
        // Taken between the check and the write (another import, a sign-up).
        Err(LoginError::Store(StoreError::Conflict)) => {
            match store.account_by_email(&account.canonical_email).await {
                Ok(Some(_)) => Outcome::Exists,
                _ => Outcome::Refused("the username or a factor belongs to another account".into()),
            }
        }
        Err(e) => Outcome::Refused(format!("storage: {e}")),
    }
}

/// The account and factors a record maps to, or why it cannot be imported.
fn build<S: Store, M: Mailer, P: PushSender>(
    auth: &Auth<S, M, P>,
    r: &UserRecord,
    group: Option<&mfa_flow::Label>,
    now: SystemTime,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(Account, Vec<Factor>), String> {
    let config = auth.config();
    let email = r.email.as_deref().ok_or("email: missing")?;
    let email = EmailAddress::parse(email).map_err(|e| format!("email: {e}"))?;
    if config.policy.refuse_lookalike_emails && mfa_email_identity::assess(&email).is_suspicious() {
        return Err("email: the address mixes scripts or imitates another address".into());
    }
    let username = match &r.username {
        Some(u) => Some(Username::parse(u).map_err(|e| format!("username: {e}"))?),
        None => None,
    };
    let name = |field: &str, v: &Option<String>| -> Result<String, String> {
        let v = v.as_deref().unwrap_or("").trim();
        if v.chars().count() > MAX_NAME_CHARS {
            return Err(format!("{field}: longer than {MAX_NAME_CHARS} characters"));
        }
        if v.chars().any(char::is_control) {
            return Err(format!("{field}: control characters"));
        }
        Ok(v.to_owned())
    };
    let profile = ProfileFields {
        first_name: name("given_name", &r.given_name)?,
        last_name: name("family_name", &r.family_name)?,
        ..ProfileFields::default()
    };
    let password_hash = password_hash(auth, r)?;
    let id = AccountId(uuid(rng));
    let created = unix(now);
    let mut factors = Vec::new();
    for (i, f) in r.mfa_factors.iter().enumerate() {
        factors.push(factor(auth, id, i, f, created, rng)?);
    }
    let account = Account {
        id,
        version: 1,
        canonical_email: config.canonicalizer.canonical(&email),
        email,
        username,
        password_hash,
        created,
        last_factor: None,
        profile,
        session_epoch: 0,
        had_second_factor: !factors.is_empty(),
        disabled: r.blocked,
        email_unverified: !r.email_verified,
        group: group.cloned(),
        role: None,
        imported: true,
    };
    Ok((account, factors))
}

/// The record's password hash, checked by the hasher; an empty hash (no password) lets the
/// user in only through "forgot password".
fn password_hash<S: Store, M: Mailer, P: PushSender>(
    auth: &Auth<S, M, P>,
    r: &UserRecord,
) -> Result<String, String> {
    let hash = match (&r.password_hash, &r.custom_password_hash) {
        (Some(_), Some(_)) => {
            return Err("both password_hash and custom_password_hash: which one?".into());
        }
        (Some(h), None) => {
            if !(h.starts_with("$2a$") || h.starts_with("$2b$")) {
                return Err("password_hash: not a bcrypt hash ($2a$ or $2b$)".into());
            }
            h.clone()
        }
        (None, Some(c)) => match c.algorithm.as_str() {
            "bcrypt" | "argon2" => c.hash.value.clone(),
            other => {
                let other: String = other.chars().filter(|c| !c.is_control()).take(32).collect();
                return Err(format!(
                    "custom_password_hash: the algorithm {other:?} is not supported (bcrypt or argon2)"
                ));
            }
        },
        (None, None) => return Ok(String::new()),
    };
    if hash.len() > 1024 {
        return Err("password hash: longer than 1024 bytes".into());
    }
    match auth.services().passwords.needs_rehash(&hash) {
        Ok(_) => Ok(hash),
        // The error names the part that is wrong (parameters, salt …), never the hash.
        Err(e) => Err(format!("password hash: {e}")),
    }
}

fn factor<S: Store, M: Mailer, P: PushSender>(
    auth: &Auth<S, M, P>,
    account: AccountId,
    i: usize,
    f: &MfaFactor,
    created: u64,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Factor, String> {
    let (kind, name, data) = match (&f.totp, &f.phone, &f.email) {
        (Some(t), None, None) => {
            let secret = mfa_totp::TotpSecret::from_base32(&t.secret)
                .map_err(|e| format!("mfa_factors[{i}].totp.secret: {e}"))?;
            let sealed = auth
                .services()
                .sealer
                .seal(secret.expose_secret(), account.0.as_bytes(), "totp", rng)
                .map_err(|e| format!("mfa_factors[{i}].totp: {e}"))?;
            let data = FactorData::Totp {
                sealed_secret: sealed,
                profile: mfa_totp::Profile::DEFAULT,
                last_step: None,
            };
            (FactorKind::Totp, "Authenticator app".to_owned(), data)
        }
        (None, Some(p), None) => {
            let masked = mask_phone(&p.value).ok_or_else(|| {
                format!("mfa_factors[{i}].phone.value: not a phone number in E.164 form")
            })?;
            (FactorKind::Sms, masked.clone(), FactorData::Phone { masked_number: masked })
        }
        (None, None, Some(e)) => {
            EmailAddress::parse(&e.value)
                .map_err(|err| format!("mfa_factors[{i}].email.value: {err}"))?;
            (FactorKind::EmailCode, "Email".to_owned(), FactorData::EmailCode)
        }
        _ => return Err(format!("mfa_factors[{i}]: one of totp, phone or email")),
    };
    Ok(Factor {
        id: FactorId(uuid(rng)),
        account,
        kind,
        name,
        created,
        last_used: None,
        version: 1,
        data,
        suspended: None,
    })
}

/// `+819012345678` → `+81 •••• ••78`: the country code and the last two digits, the rest
/// never kept. `None` unless E.164 (`+`, 8 to 15 digits, no leading zero).
#[must_use]
pub fn mask_phone(value: &str) -> Option<String> {
    let digits = value.strip_prefix('+')?;
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return None;
    }
    let (country, _) = digits.split_at(2);
    let last = &digits[digits.len() - 2..];
    Some(format!("+{country} •••• ••{last}"))
}

fn uuid(rng: &mut (impl CryptoRng + ?Sized)) -> uuid::Uuid {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
