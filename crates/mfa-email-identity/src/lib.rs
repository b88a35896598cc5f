//! Email addresses as the only login identifier: parsing and canonical form, look-alike
//! detection, legacy usernames, the email-change ceremony, its notices in Japanese and
//! English, and one-time codes sent by email.
//!
//! ```
//! use mfa_email_identity::{Canonicalizer, EmailAddress, LoginIdentifier, assess};
//!
//! let typed = EmailAddress::parse("  Ryuko.Konaka+20231201@Example.COM ")?;
//! assert_eq!(typed.as_typed(), "Ryuko.Konaka+20231201@Example.COM");
//! let key = Canonicalizer::new().canonical(&typed);
//! assert_eq!(key.as_str(), "ryuko.konaka+20231201@example.com");
//!
//! // An internationalized domain goes to its A-label form.
//! let idn = EmailAddress::parse("山田@例え.jp")?;
//! assert_eq!(idn.domain_ascii(), "xn--r8jz45g.jp");
//!
//! // `аpple.com` with a Cyrillic `а` is reported, for the policy to refuse.
//! let spoof = EmailAddress::parse("billing@\u{430}pple.com")?;
//! assert!(assess(&spoof).is_suspicious());
//!
//! // What the login field holds, classified without a policy decision.
//! assert!(matches!(LoginIdentifier::classify("Ryu20231130"), Ok(LoginIdentifier::Username(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate does no I/O: time is a parameter, randomness is injected, and messages come
//! back as values for the embedder to send. Which identifiers are accepted when (the phased
//! retirement of usernames) is decided by the policy in `mfa-flow`, not here.

#![forbid(unsafe_code)]

mod address;
mod canonical;
mod change;
mod code;
mod lookalike;
mod notice;
mod time;
mod token;
mod username;

pub use address::{AddressError, EmailAddress, MAX_ADDRESS_OCTETS, MAX_LOCAL_OCTETS, ParseOptions};
pub use canonical::{CanonicalEmail, Canonicalizer, LocalPartCase, ProviderFolding};
pub use change::{
    ChangeError, ChangeMode, ChangeRequest, ChangeStatus, ChangeStep, ConfigError, Delivery,
    EmailChange, EmailChangeConfig, EmailChangeState, LinkTemplates,
};
pub use code::{
    EmailCode, EmailCodeConfigError, EmailCodeError, EmailCodeIssuer, PendingEmailCode,
};
pub use lookalike::{AddressPart, LookalikeFinding, LookalikeReport, RestrictionLevel, assess};
pub use notice::{FactorLabel, Language, Notice, NoticeFormat, RenderedNotice};
pub use token::{MalformedTokenHash, Token, TokenHash};
pub use username::{
    IdentifierError, LoginIdentifier, Username, UsernameEmailShape, UsernameError, UsernameRules,
};
