//! Single-use link tokens: 256 random bits shown once, stored only as a hash.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A link token: 32 random bytes in unpadded base64url (43 characters, safe in a URL).
/// `Debug` is redacted and the text is wiped on drop.
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Draws a new token and returns it with the hash to store.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> (Self, TokenHash) {
        let mut raw = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(raw.as_mut());
        let token = Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())));
        let hash = TokenHash::of(token.expose_secret());
        (token, hash)
    }

    /// The token text, to put in the link and nowhere else.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

/// SHA-256 of a token: what is stored, and what a state can be looked up by. A plain hash
/// suffices because the token has 256 bits of entropy; a stolen table of hashes gives nothing
/// that opens a link.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of a presented token (surrounding whitespace ignored).
    #[must_use]
    pub fn of(presented: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, presented.trim().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// Whether `presented` is the token this hash was made from, compared in constant time.
    #[must_use]
    pub fn matches(&self, presented: &str) -> bool {
        Self::of(presented).0.ct_eq(&self.0).into()
    }

    /// The hash in unpadded base64url, for an index column.
    #[must_use]
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_base64url())
    }
}

/// A stored token hash that is not 32 bytes of base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed token hash")]
pub struct MalformedTokenHash;

impl TryFrom<String> for TokenHash {
    type Error = MalformedTokenHash;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s.as_bytes()).map_err(|_| MalformedTokenHash)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map(Self).map_err(|_| MalformedTokenHash)
    }
}

impl From<TokenHash> for String {
    fn from(h: TokenHash) -> Self {
        h.to_base64url()
    }
}
