//! Splitting a file of user records into one record at a time, without reading it whole: a
//! JSON array of objects (Auth0's bulk-import file), or one object per line. A scanner of the
//! JSON structure only (strings, escapes, nesting); each record is then parsed on its own.

use std::io::{BufRead, ErrorKind};

/// Why a record could not be cut out of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// The file's structure is broken here (an unbalanced bracket, text between records, the
    /// end of the file inside a record): nothing after it can be trusted.
    #[error("the file is not JSON records: {0}")]
    Syntax(&'static str),
    /// One record is larger than the limit; it was skipped, the rest goes on.
    #[error("the record is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

/// How deep a record may nest (Auth0's objects nest three levels).
const MAX_DEPTH: usize = 64;

/// The records of a file, one at a time (each a JSON value's bytes), with the number of
/// bytes read so far (for a progress bar).
///
/// ```
/// use mfa_import::Records;
/// let file = b"[{\"email\": \"a@example.com\"}, {\"email\": \"b]@example.com\"}]";
/// let records: Vec<_> = Records::new(&file[..], 1024).collect::<Result<_, _>>().unwrap();
/// assert_eq!(records.len(), 2);
/// let lines = b"{\"email\": \"a@example.com\"}\n{\"email\": \"b@example.com\"}\n";
/// assert_eq!(Records::new(&lines[..], 1024).count(), 2);
/// ```
pub struct Records<R> {
    input: R,
    limit: usize,
    started: bool,
    in_array: bool,
    done: bool,
    read: u64,
}

impl<R> core::fmt::Debug for Records<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Records").field("limit", &self.limit).field("read", &self.read).finish()
    }
}

impl<R: BufRead> Records<R> {
    /// Records of `input`; a record over `limit` bytes is skipped with
    /// [`SplitError::TooLarge`].
    #[must_use]
    pub fn new(input: R, limit: usize) -> Self {
        Self { input, limit, started: false, in_array: false, done: false, read: 0 }
    }

    /// Bytes read so far.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn peek(&mut self) -> Result<Option<u8>, SplitError> {
        loop {
            match self.input.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(SplitError::Io(e.to_string())),
            }
        }
    }

    fn bump(&mut self) {
        self.input.consume(1);
        self.read += 1;
    }

    /// Skips a UTF-8 byte-order mark at the start of the file (some editors write one).
    fn skip_bom(&mut self) -> Result<(), SplitError> {
        let bom = loop {
            match self.input.fill_buf() {
                Ok(b) => break b.starts_with(b"\xEF\xBB\xBF"),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(SplitError::Io(e.to_string())),
            }
        };
        if bom {
            for _ in 0..3 {
                self.bump();
            }
        }
        Ok(())
    }

    /// Skips whitespace; returns the next byte without consuming it.
    fn skip_space(&mut self) -> Result<Option<u8>, SplitError> {
        while let Some(b) = self.peek()? {
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
            self.bump();
        }
        Ok(None)
    }

    /// Reads one JSON value (object, array, string, number, literal) from here.
    fn value(&mut self) -> Result<Vec<u8>, SplitError> {
        let mut out = Vec::new();
        let mut over = false;
        // The closers expected, innermost last: `}` and `]` must each close their own kind.
        let mut open: Vec<u8> = Vec::new();
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek()? else {
                if open.is_empty() && !in_string && !out.is_empty() {
                    break;
                }
                return Err(SplitError::Syntax("the file ends inside a record"));
            };
            if !in_string
                && open.is_empty()
                && !out.is_empty()
                && matches!(b, b',' | b']' | b'\n' | b'\r' | b' ' | b'\t' | b'{' | b'[')
            {
                break;
            }
            self.bump();
            if out.len() < self.limit {
                out.push(b);
            } else {
                over = true;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if open.is_empty() {
                        break;
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    if open.len() == MAX_DEPTH {
                        return Err(SplitError::Syntax("records nested too deep"));
                    }
                    open.push(if b == b'{' { b'}' } else { b']' });
                }
                b'}' | b']' => {
                    if open.pop() != Some(b) {
                        return Err(SplitError::Syntax("an unbalanced bracket"));
                    }
                    if open.is_empty() {
                        break;
                    }
                }
                _ => {}
            }
        }
        if over {
            return Err(SplitError::TooLarge { limit: self.limit });
        }
        Ok(out)
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Vec<u8>, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = (|| -> Result<Option<Vec<u8>>, SplitError> {
            if !self.started {
                self.started = true;
                self.skip_bom()?;
                if self.skip_space()? == Some(b'[') {
                    self.bump();
                    self.in_array = true;
                    if self.skip_space()? == Some(b']') {
                        self.bump();
                        return self.end();
                    }
                    return self.value().map(Some);
                }
            } else if self.in_array {
                match self.skip_space()? {
                    Some(b',') => self.bump(),
                    Some(b']') => {
                        self.bump();
                        return self.end();
                    }
                    None => return Err(SplitError::Syntax("the array is not closed")),
                    Some(_) => {
                        return Err(SplitError::Syntax("a comma is missing between records"));
                    }
                }
                if self.skip_space()?.is_none() {
                    return Err(SplitError::Syntax("the array is not closed"));
                }
                return self.value().map(Some);
            }
            match self.skip_space()? {
                None => Ok(None),
                Some(_) => self.value().map(Some),
            }
        })();
        match step {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e @ SplitError::TooLarge { .. }) => Some(Err(e)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> Records<R> {
    /// After the array's `]`: only whitespace may follow.
    fn end(&mut self) -> Result<Option<Vec<u8>>, SplitError> {
        match self.skip_space()? {
            None => Ok(None),
            Some(_) => Err(SplitError::Syntax("text after the array")),
        }
    }
}
