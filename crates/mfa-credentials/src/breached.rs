//! A blocklist read from the published breach corpus format: one `SHA1HEX:COUNT` line per
//! password (upper-case hex, the count of breaches it was seen in), sorted by hash — the
//! format of the "Pwned Passwords" downloads. The file is searched where it lies (a binary
//! search over byte offsets, a few reads of one line each), never loaded: the full corpus is
//! tens of gigabytes.

use core::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ring::digest;

use crate::Blocklist;

/// Why a breach-corpus file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreachFileError {
    /// It could not be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// It is empty, or a line at its start or end is not `SHA1HEX:COUNT`.
    #[error("{path} is not a breach corpus (SHA1HEX:COUNT lines, sorted): {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// Passwords found in breaches, from a sorted `SHA1HEX:COUNT` file. A password is listed when
/// its SHA-1 (of the NFKC-normalized password as typed, and of its lower-case form) is in the
/// file with at least [`BreachedPasswords::min_count`] breaches.
///
/// A read that fails during a lookup (the file vanished, a disk error) lists nothing: the
/// check fails open, and [`BreachedPasswords::open`] has already verified the file's shape.
///
/// ```
/// use mfa_credentials::{Blocklist, BreachedPasswords};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = std::env::temp_dir().join(format!("breach-doc-{}.txt", std::process::id()));
/// // SHA-1("password") and SHA-1("hunter2"), sorted.
/// std::fs::write(&path, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n\
///                        F3BBBD66A63D4BF1747940578EC3D0103530E21D:17043\r\n")?;
/// let list = BreachedPasswords::open(&path)?;
/// assert!(list.contains_password("hunter2", "hunter2"));
/// assert!(!list.contains_password("glacier tulip 42 orbit", "glacier tulip 42 orbit"));
/// # std::fs::remove_file(&path)?; Ok(()) }
/// ```
#[derive(Clone)]
pub struct BreachedPasswords {
    path: PathBuf,
    file: Arc<Mutex<File>>,
    len: u64,
    min_count: u64,
}

impl fmt::Debug for BreachedPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachedPasswords")
            .field("path", &self.path)
            .field("bytes", &self.len)
            .field("min_count", &self.min_count)
            .finish()
    }
}

/// Longest line accepted: 40 hex digits, a colon, a 20-digit count, CR LF.
const MAX_LINE: usize = 64;

impl BreachedPasswords {
    /// Opens a corpus file and checks its first and last lines.
    ///
    /// # Errors
    /// [`BreachFileError`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BreachFileError> {
        let path = path.as_ref().to_path_buf();
        let io =
            |e: std::io::Error| BreachFileError::Io { path: path.clone(), reason: e.to_string() };
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let list = Self { path: path.clone(), file: Arc::new(Mutex::new(file)), len, min_count: 1 };
        let format =
            |reason: &str| BreachFileError::Format { path: path.clone(), reason: reason.into() };
        if len == 0 {
            return Err(format("the file is empty"));
        }
        let first = list.line_at(0).map_err(io)?.ok_or_else(|| format("no first line"))?;
        if parse_line(&first.1).is_none() {
            return Err(format("the first line is not SHA1HEX:COUNT"));
        }
        let last_start = list.line_start_before(len).map_err(io)?;
        let last = list.line_at(last_start).map_err(io)?.ok_or_else(|| format("no last line"))?;
        match (parse_line(&first.1), parse_line(&last.1)) {
            (Some((a, _)), Some((b, _))) if a <= b => Ok(list),
            (_, None) => Err(format("the last line is not SHA1HEX:COUNT")),
            _ => Err(format("the lines are not sorted by hash")),
        }
    }

    /// Lists only passwords seen in at least `n` breaches (default 1: every one).
    #[must_use]
    pub fn min_count(mut self, n: u64) -> Self {
        self.min_count = n.max(1);
        self
    }

    /// Whether the SHA-1 `hash` is in the file with enough breaches.
    fn lookup(&self, hash: &[u8; 20]) -> std::io::Result<bool> {
        // Invariant: every line starting before `lo` has a smaller hash; every line starting
        // at or after `hi` has a larger one.
        let (mut lo, mut hi) = (0u64, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let start = if mid == 0 { 0 } else { self.next_line_start(mid)? };
            if start >= hi {
                // No line starts in [mid, hi): look in the lower half (the line holding `mid`
                // started before it).
                hi = mid;
                continue;
            }
            let Some((end, line)) = self.line_at(start)? else { return Ok(false) };
            let Some((h, count)) = parse_line(&line) else { return Ok(false) };
            match h.cmp(hash) {
                core::cmp::Ordering::Less => lo = end,
                core::cmp::Ordering::Greater => hi = start,
                core::cmp::Ordering::Equal => return Ok(count >= self.min_count),
            }
        }
        Ok(false)
    }

    /// The first line start at or after `pos` (the byte after the next newline at or after
    /// `pos - 1`), or the file's length.
    fn next_line_start(&self, pos: u64) -> std::io::Result<u64> {
        let mut at = pos - 1;
        loop {
            let chunk = self.read(at, MAX_LINE)?;
            if chunk.is_empty() {
                return Ok(self.len);
            }
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                return Ok(at + i as u64 + 1);
            }
            at += chunk.len() as u64;
        }
    }

    /// The start of the last line that begins before `end`.
    fn line_start_before(&self, end: u64) -> std::io::Result<u64> {
        let from = end.saturating_sub(MAX_LINE as u64 * 2);
        let chunk = self.read(from, usize::try_from(end - from).unwrap_or(0))?;
        // Skip the final newline(s), then find the one before.
        let body = chunk.iter().rposition(|&b| b != b'\n' && b != b'\r').map_or(0, |i| i + 1);
        Ok(chunk[..body].iter().rposition(|&b| b == b'\n').map_or(from, |i| from + i as u64 + 1))
    }

    /// The line starting at `start`: where the next one starts, and its text (without the
    /// line end).
    fn line_at(&self, start: u64) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        let chunk = self.read(start, MAX_LINE)?;
        if chunk.is_empty() {
            return Ok(None);
        }
        let (line, next) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], start + i as u64 + 1),
            None => (&chunk[..], start + chunk.len() as u64),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(Some((next, line.to_vec())))
    }

    fn read(&self, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(at))?;
        let mut buf = Vec::with_capacity(n);
        file.by_ref().take(n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// `SHA1HEX:COUNT` → the hash and the count.
fn parse_line(line: &[u8]) -> Option<([u8; 20], u64)> {
    let (hex, count) = line.split_at_checked(40)?;
    let count = count.strip_prefix(b":")?;
    if count.is_empty() || count.len() > 20 || !count.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let count: u64 = std::str::from_utf8(count).ok()?.parse().ok()?;
    let mut hash = [0u8; 20];
    for (out, pair) in hash.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'A'..=b'F' => Some(c - b'A' + 10),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *out = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some((hash, count))
}

fn sha1(s: &str) -> [u8; 20] {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

impl Blocklist for BreachedPasswords {
    fn contains(&self, normalized_lower: &str) -> bool {
        self.lookup(&sha1(normalized_lower)).unwrap_or(false)
    }

    fn contains_password(&self, normalized: &str, normalized_lower: &str) -> bool {
        self.lookup(&sha1(normalized)).unwrap_or(false)
            || (normalized != normalized_lower && self.contains(normalized_lower))
    }
}
