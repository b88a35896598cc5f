//! Legacy usernames, and the classification of what a person typed into the login field.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::canonical::fold;
use crate::{AddressError, Canonicalizer, EmailAddress};

/// Why a string is not a username we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// Nothing but whitespace.
    #[error("the username is empty")]
    Empty,
    /// Fewer characters than the rules allow.
    #[error("the username is shorter than {min} characters")]
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More characters than the rules allow.
    #[error("the username is longer than {max} characters")]
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// A character outside letters, digits and `. _ -`.
    #[error("the username contains a character that is not allowed ({0:?})")]
    InvalidCharacter(char),
    /// It contains `@` but is not a valid email address.
    #[error("the username contains @ but is not a valid email address: {0}")]
    MalformedEmail(AddressError),
}

/// Bounds for usernames. The character set is fixed: letters and digits of any script,
/// `.`, `_` and `-`; or a whole email address (the legacy-only form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsernameRules {
    min_chars: usize,
    max_chars: usize,
}

impl Default for UsernameRules {
    fn default() -> Self {
        Self::new()
    }
}

impl UsernameRules {
    /// 1 to 64 characters: loose enough to import every existing username we have seen.
    #[must_use]
    pub const fn new() -> Self {
        Self { min_chars: 1, max_chars: 64 }
    }

    /// Sets the bounds, in characters after normalization (`min` at least 1, `max` at most
    /// 254 and not below `min`).
    #[must_use]
    pub fn bounds(mut self, min: usize, max: usize) -> Self {
        self.min_chars = min.max(1);
        self.max_chars = max.clamp(self.min_chars, 254);
        self
    }
}

/// How a username relates to the account's email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameEmailShape {
    /// The username is not an email address.
    NotAnEmail,
    /// The username is the account's own email address (canonically equal).
    SameAsAccountEmail,
    /// The username is a *different* email address: a form supported only for existing
    /// users (the notice's rule); new accounts may not take it.
    DifferentEmail,
}

/// A legacy username: NFC, case-folded, from a restricted character set.
///
/// Equality compares the normalized form, so `Ryu20231130` and `ryu20231130` are one user.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username {
    typed: String,
    normalized: String,
    email: Option<EmailAddress>,
}

impl Username {
    /// Parses with the default [`UsernameRules`].
    ///
    /// # Errors
    /// The first [`UsernameError`] found.
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        Self::parse_with(input, UsernameRules::new())
    }

    /// Parses with explicit rules.
    ///
    /// # Errors
    /// The first [`UsernameError`] found.
    pub fn parse_with(input: &str, rules: UsernameRules) -> Result<Self, UsernameError> {
        let typed = input.trim();
        if typed.is_empty() {
            return Err(UsernameError::Empty);
        }
        if typed.len() > 4 * rules.max_chars.max(254) {
            return Err(UsernameError::TooLong { max: rules.max_chars });
        }
        let (normalized, email) = if typed.contains('@') {
            let address = EmailAddress::parse(typed).map_err(UsernameError::MalformedEmail)?;
            (Canonicalizer::new().canonical(&address).as_str().to_owned(), Some(address))
        } else {
            let normalized = fold(typed);
            if let Some(c) =
                normalized.chars().find(|&c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(UsernameError::InvalidCharacter(c));
            }
            (normalized, None)
        };
        let count = normalized.chars().count();
        if count < rules.min_chars {
            return Err(UsernameError::TooShort { min: rules.min_chars });
        }
        if count > rules.max_chars {
            return Err(UsernameError::TooLong { max: rules.max_chars });
        }
        Ok(Self { typed: typed.to_owned(), normalized, email })
    }

    /// The username as typed (trimmed), for display.
    #[must_use]
    pub fn as_typed(&self) -> &str {
        &self.typed
    }

    /// The normalized form: the key to store with a unique index and look up by.
    #[must_use]
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The email address this username is, if it is one.
    #[must_use]
    pub fn as_email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    /// Compares the username with the account's email address.
    #[must_use]
    pub fn email_shape(
        &self,
        account_email: &EmailAddress,
        canonicalizer: &Canonicalizer,
    ) -> UsernameEmailShape {
        match &self.email {
            None => UsernameEmailShape::NotAnEmail,
            Some(e) if canonicalizer.canonical(e) == canonicalizer.canonical(account_email) => {
                UsernameEmailShape::SameAsAccountEmail
            }
            Some(_) => UsernameEmailShape::DifferentEmail,
        }
    }
}

impl PartialEq for Username {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for Username {}

impl core::hash::Hash for Username {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.typed)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.typed).finish()
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        // A stored username loads again whatever bounds the server uses today.
        Self::parse_with(&s, UsernameRules::new().bounds(1, 254))
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.typed
    }
}

/// Why the login field's content is neither an address nor a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// It contains `@` and is not a valid address.
    #[error(transparent)]
    Email(AddressError),
    /// It has no `@` and is not a valid username.
    #[error(transparent)]
    Username(UsernameError),
}

/// What a person typed into the login field, classified. No policy decision is taken here:
/// whether a username is still accepted, with a warning or not at all, is the policy's (in
/// `mfa-flow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginIdentifier {
    /// An email address. It may also be an existing account's legacy username that is an
    /// email address: look it up as an email first, then with
    /// [`LoginIdentifier::legacy_username`].
    Email(EmailAddress),
    /// A legacy username.
    Username(Username),
}

impl LoginIdentifier {
    /// Classifies the input: anything with an `@` must be an email address; anything else
    /// must be a username.
    ///
    /// # Errors
    /// [`IdentifierError`] with the reason from the parser that applied.
    pub fn classify(input: &str) -> Result<Self, IdentifierError> {
        if input.contains('@') {
            EmailAddress::parse(input).map(Self::Email).map_err(IdentifierError::Email)
        } else {
            Username::parse_with(input, UsernameRules::new().bounds(1, 254))
                .map(Self::Username)
                .map_err(IdentifierError::Username)
        }
    }

    /// The username form of the input, for the legacy lookup: the username itself, or the
    /// email address read as an email-shaped legacy username.
    #[must_use]
    pub fn legacy_username(&self) -> Option<Username> {
        match self {
            Self::Username(u) => Some(u.clone()),
            Self::Email(e) => {
                Username::parse_with(e.as_typed(), UsernameRules::new().bounds(1, 254)).ok()
            }
        }
    }
}
