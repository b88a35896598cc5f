//! The Key URI Format (`otpauth://totp/Issuer:account?secret=…&issuer=…`), out and in.

use core::fmt::Write as _;

use zeroize::Zeroizing;

use crate::{Algorithm, ImportError, Profile, TotpSecret};

/// The longest issuer or account name, in bytes.
pub(crate) const MAX_LABEL_BYTES: usize = 256;

/// Checks an issuer: not empty, no colon (the label separator, ambiguous even encoded in
/// some apps), not too long.
pub(crate) fn check_issuer(issuer: &str) -> Result<(), ImportError> {
    if issuer.trim().is_empty() || issuer.contains(':') || issuer.len() > MAX_LABEL_BYTES {
        return Err(ImportError::Label);
    }
    Ok(())
}

pub(crate) fn check_account(account: &str) -> Result<(), ImportError> {
    if account.trim().is_empty() || account.len() > MAX_LABEL_BYTES {
        return Err(ImportError::Label);
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so space is `%20`, `@` is
/// `%40`, `:` is `%3A`, and non-ASCII goes byte by byte in UTF-8).
pub(crate) fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn decode(s: &str) -> Result<String, ImportError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(ImportError::PercentEncoding)?;
                let hex = core::str::from_utf8(hex).map_err(|_| ImportError::PercentEncoding)?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| ImportError::PercentEncoding)?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                // Form encoding of a space, which some generators use in the query.
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ImportError::PercentEncoding)
}

/// Builds the URI. The secret is in it: treat the string (and the QR code) as a secret.
pub(crate) fn build(
    secret: &TotpSecret,
    profile: Profile,
    issuer: &str,
    account: &str,
) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(128));
    s.push_str("otpauth://totp/");
    encode(issuer, &mut s);
    s.push(':');
    encode(account, &mut s);
    s.push_str("?secret=");
    s.push_str(&secret.to_base32());
    s.push_str("&issuer=");
    encode(issuer, &mut s);
    let _ = write!(
        s,
        "&algorithm={}&digits={}&period={}",
        profile.algorithm().uri_name(),
        profile.digits(),
        profile.period()
    );
    s
}

/// A credential read from another system's otpauth URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedTotp {
    /// The secret.
    pub secret: TotpSecret,
    /// Algorithm, digits, period (defaults where the URI says nothing).
    pub profile: Profile,
    /// The issuer, from the `issuer=` parameter or the label.
    pub issuer: Option<String>,
    /// The account name from the label.
    pub account: String,
}

/// Parses an `otpauth://totp/` URI (Google's Key URI Format).
///
/// # Errors
/// An [`ImportError`] naming what is wrong.
pub fn import_uri(uri: &str) -> Result<ImportedTotp, ImportError> {
    let uri = uri.trim();
    if uri.len() > 4096 {
        return Err(ImportError::NotTotpUri);
    }
    let rest = strip_prefix_ignore_case(uri, "otpauth://").ok_or(ImportError::NotTotpUri)?;
    let rest = if let Some(r) = strip_prefix_ignore_case(rest, "totp/") {
        r
    } else if strip_prefix_ignore_case(rest, "hotp/").is_some() {
        return Err(ImportError::Hotp);
    } else {
        return Err(ImportError::NotTotpUri);
    };
    let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
    let label = decode(label)?;
    let (label_issuer, account) = match label.split_once(':') {
        Some((i, a)) => (Some(i.trim().to_owned()), a.trim().to_owned()),
        None => (None, label.trim().to_owned()),
    };
    check_account(&account)?;
    let (mut secret, mut issuer, mut algorithm, mut digits, mut period) =
        (None, None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k.to_ascii_lowercase().as_str() {
            "secret" => &mut secret,
            "issuer" => &mut issuer,
            "algorithm" => &mut algorithm,
            "digits" => &mut digits,
            "period" => &mut period,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ImportError::DuplicateParameter);
        }
        *slot = Some(Zeroizing::new(decode(v)?));
    }
    let secret = TotpSecret::from_base32(&secret.ok_or(ImportError::MissingSecret)?)?;
    let issuer = match (label_issuer, issuer.map(|i| i.trim().to_owned())) {
        (Some(l), Some(p)) if l != p => return Err(ImportError::IssuerMismatch),
        (_, Some(p)) | (Some(p), None) => Some(p),
        (None, None) => None,
    };
    if let Some(i) = &issuer {
        check_issuer(i)?;
    }
    let algorithm = algorithm.map_or(Ok(Algorithm::Sha1), |a| Algorithm::from_uri_name(&a))?;
    let digits = digits.map_or(Ok(6), |d| d.parse::<u8>().map_err(|_| ImportError::Digits))?;
    let period = period.map_or(Ok(30), |p| p.parse::<u32>().map_err(|_| ImportError::Period))?;
    let profile = Profile::new(algorithm, digits, period)?;
    Ok(ImportedTotp { secret, profile, issuer, account })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}
