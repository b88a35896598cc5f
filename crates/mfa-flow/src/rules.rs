//! The account policy as traits with the account in view: pure functions of an account's
//! [`AccountFacts`] (and the time) that an embedder can replace without forking.
//!
//! [`Policy`] — one set of dates for everyone — is the default implementation and decides
//! exactly as its structs always did. [`GroupTable`] puts per-group (and per-role) overrides
//! over a default, for an operator who rolls a change out in waves: usernames refused for one
//! organization from April and for another from June, SMS retired first for a pilot group, a
//! shorter step-up for administrators.
//!
//! Throttles stay out of this on purpose: they are counted per client address and per typed
//! identifier before any account is known, and letting them depend on an account's group
//! would tell a stranger which group an identifier belongs to.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use mfa_flow::{AccountFacts, GroupTable, Label, Policy, UsernameDecision, UsernameRules};
//!
//! let table = GroupTable::from_json(
//!     Policy::default(),
//!     r#"{"groups": {"acme": {"usernames_refused_from": "2027-04-01"}}}"#,
//! )
//! .unwrap();
//! let mut acme = AccountFacts::unknown();
//! acme.group = Some(Label::new("acme").unwrap());
//! let may = UNIX_EPOCH + Duration::from_secs(1_810_000_000); // May 2027
//! assert_eq!(table.decide(&acme, may), UsernameDecision::Refuse);
//! assert_eq!(table.decide(&AccountFacts::unknown(), may), UsernameDecision::AcceptWithWarning);
//! ```

use std::{
    collections::BTreeMap,
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    Account, FactorKind, Policy, Retirement, RetirementReason, UsernameDecision, UsernamePolicy,
};

/// A group or role label: 1 to 64 characters of `a-z`, `0-9`, `.`, `_` and `-` (upper-case
/// ASCII is lower-cased on input).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

/// Why a text is no [`Label`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// Empty.
    #[error("a label cannot be empty")]
    Empty,
    /// Over [`Label::MAX_LEN`] characters.
    #[error("a label has at most 64 characters")]
    TooLong,
    /// A character outside `a-z`, `0-9`, `.`, `_`, `-`.
    #[error("a label may only hold a-z, 0-9, '.', '_' and '-'")]
    Character,
}

impl Label {
    /// The longest label, in characters.
    pub const MAX_LEN: usize = 64;

    /// Checks and lower-cases `text`.
    ///
    /// # Errors
    /// [`LabelError`] for an empty, overlong or otherwise malformed text.
    pub fn new(text: &str) -> Result<Self, LabelError> {
        if text.is_empty() {
            return Err(LabelError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(LabelError::TooLong);
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(LabelError::Character);
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// The label.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({})", self.0)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Label {
    type Error = LabelError;
    fn try_from(s: String) -> Result<Self, LabelError> {
        Self::new(&s)
    }
}

impl From<Label> for String {
    fn from(l: Label) -> Self {
        l.0
    }
}

/// What a policy may know of an account — and nothing else: a policy never fetches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFacts {
    /// When the account was created.
    pub created: SystemTime,
    /// Its organization or group, if the operator set one.
    pub group: Option<Label>,
    /// Its role, if the operator set one (`admin` …).
    pub role: Option<Label>,
    /// Brought in from another system rather than signed up here.
    pub imported: bool,
}

impl AccountFacts {
    /// The facts of `account`.
    #[must_use]
    pub fn of(account: &Account) -> Self {
        Self {
            created: UNIX_EPOCH + Duration::from_secs(account.created),
            group: account.group.clone(),
            role: account.role.clone(),
            imported: account.imported,
        }
    }

    /// No account: what decides the answers an identifier nobody has gets (and so every
    /// answer given before the password is known to be right).
    #[must_use]
    pub fn unknown() -> Self {
        Self { created: UNIX_EPOCH, group: None, role: None, imported: false }
    }
}

/// The retirement of legacy usernames for an account.
pub trait UsernameRules: fmt::Debug + Send + Sync {
    /// The phases (dates) that apply to `account`.
    fn phases(&self, account: &AccountFacts) -> UsernamePolicy;

    /// The decision for a username login of `account` at `now`.
    fn decide(&self, account: &AccountFacts, now: SystemTime) -> UsernameDecision {
        self.phases(account).decide(now)
    }
}

/// Which factor kinds an account may no longer enroll or use.
pub trait RetirementRules: fmt::Debug + Send + Sync {
    /// The retirement of `kind` for `account`, whether in force yet or scheduled.
    fn scheduled(&self, account: &AccountFacts, kind: FactorKind) -> Option<Retirement>;

    /// The retirement of `kind` for `account` in force at `now`, if any.
    fn retired(
        &self,
        account: &AccountFacts,
        kind: FactorKind,
        now: SystemTime,
    ) -> Option<Retirement> {
        self.scheduled(account, kind).filter(|r| now >= r.from)
    }

    /// Whether `account` may enroll or use `kind` at `now`.
    fn allows(&self, account: &AccountFacts, kind: FactorKind, now: SystemTime) -> bool {
        self.retired(account, kind, now).is_none()
    }
}

/// Until when an account may sign in without a second factor.
pub trait EnrollmentRules: fmt::Debug + Send + Sync {
    /// The end of `account`'s grace period (`None`: no grace).
    fn deadline(&self, account: &AccountFacts) -> Option<SystemTime>;

    /// Whether `account`, without a usable second factor, must enroll at `now` (rather than
    /// be reminded).
    fn must_enroll(&self, account: &AccountFacts, now: SystemTime) -> bool {
        self.deadline(account).is_none_or(|d| now >= d)
    }
}

/// How fresh a second factor must be for `account`'s sensitive actions.
pub trait StepUpRules: fmt::Debug + Send + Sync {
    /// The longest age of the last second-factor verification.
    fn max_age(&self, account: &AccountFacts) -> Duration;
}

/// Every rule an [`crate::Auth`] asks: implement the four traits and this comes with them.
pub trait AccountPolicy: UsernameRules + RetirementRules + EnrollmentRules + StepUpRules {}

impl<T: UsernameRules + RetirementRules + EnrollmentRules + StepUpRules> AccountPolicy for T {}

impl UsernameRules for Policy {
    fn phases(&self, _: &AccountFacts) -> UsernamePolicy {
        self.usernames.clone()
    }
}

impl RetirementRules for Policy {
    fn scheduled(&self, _: &AccountFacts, kind: FactorKind) -> Option<Retirement> {
        self.retirement.scheduled(kind)
    }
}

impl EnrollmentRules for Policy {
    fn deadline(&self, account: &AccountFacts) -> Option<SystemTime> {
        self.mfa.deadline(account.created)
    }
}

impl StepUpRules for Policy {
    fn max_age(&self, _: &AccountFacts) -> Duration {
        self.step_up.max_age
    }
}

/// A group's overrides. Every field left out is the default's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRules {
    /// From when a username login succeeds with a warning.
    #[serde(default, deserialize_with = "instant")]
    pub usernames_warn_from: Option<SystemTime>,
    /// From when a username login is refused.
    #[serde(default, deserialize_with = "instant")]
    pub usernames_refused_from: Option<SystemTime>,
    /// Kinds retired for this group from a date of its own: earlier than the default's date
    /// for that kind (a later one counts only for a kind also in `allow`).
    #[serde(default)]
    pub retire: BTreeMap<FactorKind, GroupRetirement>,
    /// Kinds this group may use although the default retired them — the only way a group
    /// gets back a kind the default took away.
    #[serde(default)]
    pub allow: Vec<FactorKind>,
    /// Days after an account's creation that it may sign in without a second factor (in
    /// place of the default's grace; `0`: none).
    #[serde(default)]
    pub enrollment_grace_days: Option<u64>,
    /// The longest step-up age, in seconds.
    #[serde(default)]
    pub step_up_max_age_seconds: Option<u64>,
}

/// A kind's retirement in a [`GroupRules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRetirement {
    /// From when.
    #[serde(deserialize_with = "required_instant")]
    pub from: SystemTime,
    /// Why (shown to the user); the default's reason for the kind when left out, else
    /// [`RetirementReason::Withdrawn`].
    #[serde(default)]
    pub reason: Option<RetirementReason>,
}

/// A role's rules: they only tighten what the group (or the default) says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRules {
    /// The longest step-up age, in seconds, if shorter than the group's.
    #[serde(default)]
    pub step_up_max_age_seconds: Option<u64>,
    /// No grace period for this role: a second factor at the first sign-in.
    #[serde(default)]
    pub no_enrollment_grace: bool,
}

/// Per-group and per-role overrides over a default [`Policy`]. An account without a group
/// (or in a group the table does not name) is decided by the default; a group decides only
/// what it names; a factor kind the default retired comes back for a group only through its
/// `allow` list or a `retire` entry of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTable {
    default: Policy,
    groups: BTreeMap<Label, GroupRules>,
    roles: BTreeMap<Label, RoleRules>,
}

/// Why a group table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// Not JSON of the documented shape (the message names the place).
    #[error("policy groups: {0}")]
    Format(String),
    /// A group's usernames are refused before they are warned about.
    #[error("policy groups: group {0}: usernames_refused_from is before usernames_warn_from")]
    Order(Label),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    #[serde(default)]
    groups: BTreeMap<Label, GroupRules>,
    #[serde(default)]
    roles: BTreeMap<Label, RoleRules>,
}

impl GroupTable {
    /// A table without overrides: decides exactly as `default`.
    #[must_use]
    pub fn new(default: Policy) -> Self {
        Self { default, groups: BTreeMap::new(), roles: BTreeMap::new() }
    }

    /// Adds (or replaces) a group's overrides.
    #[must_use]
    pub fn group(mut self, group: Label, rules: GroupRules) -> Self {
        self.groups.insert(group, rules);
        self
    }

    /// Adds (or replaces) a role's rules.
    #[must_use]
    pub fn role(mut self, role: Label, rules: RoleRules) -> Self {
        self.roles.insert(role, rules);
        self
    }

    /// Reads the overrides from JSON over `default`:
    ///
    /// ```json
    /// {
    ///   "groups": {
    ///     "acme":  { "usernames_refused_from": "2027-04-01",
    ///                "retire": { "totp": { "from": "2027-09-01", "reason": "withdrawn" } } },
    ///     "pilot": { "allow": ["email_code"], "enrollment_grace_days": 0 }
    ///   },
    ///   "roles": { "admin": { "step_up_max_age_seconds": 120, "no_enrollment_grace": true } }
    /// }
    /// ```
    ///
    /// Dates are `YYYY-MM-DD` (midnight UTC), RFC 3339 (`2027-04-01T09:00:00+09:00`) or Unix
    /// seconds. Unknown fields are refused, so a typo never silently means "the default".
    ///
    /// # Errors
    /// [`TableError`] naming what is wrong.
    pub fn from_json(default: Policy, json: &str) -> Result<Self, TableError> {
        let file: TableFile =
            serde_json::from_str(json).map_err(|e| TableError::Format(e.to_string()))?;
        for (label, g) in &file.groups {
            if let (Some(w), Some(r)) = (g.usernames_warn_from, g.usernames_refused_from)
                && r < w
            {
                return Err(TableError::Order(label.clone()));
            }
            if g.enrollment_grace_days.is_some_and(|d| d > MAX_GRACE_DAYS) {
                return Err(TableError::Format(format!(
                    "group {label}: enrollment_grace_days is at most {MAX_GRACE_DAYS}"
                )));
            }
        }
        let ages = file.groups.values().filter_map(|g| g.step_up_max_age_seconds);
        let role_ages = file.roles.values().filter_map(|r| r.step_up_max_age_seconds);
        if ages.chain(role_ages).any(|a| !(1..=MAX_STEP_UP_SECONDS).contains(&a)) {
            return Err(TableError::Format(format!(
                "step_up_max_age_seconds is from 1 to {MAX_STEP_UP_SECONDS}"
            )));
        }
        Ok(Self { default, groups: file.groups, roles: file.roles })
    }

    /// The default policy.
    #[must_use]
    pub fn default_policy(&self) -> &Policy {
        &self.default
    }

    /// The groups the table names.
    pub fn groups(&self) -> impl Iterator<Item = (&Label, &GroupRules)> {
        self.groups.iter()
    }

    fn group_of(&self, account: &AccountFacts) -> Option<&GroupRules> {
        account.group.as_ref().and_then(|g| self.groups.get(g))
    }

    fn role_of(&self, account: &AccountFacts) -> Option<&RoleRules> {
        account.role.as_ref().and_then(|r| self.roles.get(r))
    }
}

impl UsernameRules for GroupTable {
    fn phases(&self, account: &AccountFacts) -> UsernamePolicy {
        let d = &self.default.usernames;
        match self.group_of(account) {
            None => d.clone(),
            Some(g) => UsernamePolicy {
                warn_from: g.usernames_warn_from.or(d.warn_from),
                refuse_from: g.usernames_refused_from.or(d.refuse_from),
            },
        }
    }
}

impl RetirementRules for GroupTable {
    fn scheduled(&self, account: &AccountFacts, kind: FactorKind) -> Option<Retirement> {
        let default = self.default.retirement.scheduled(kind);
        let Some(g) = self.group_of(account) else { return default };
        let allowed = g.allow.contains(&kind);
        match (g.retire.get(&kind), default) {
            // A group may retire a kind earlier than the default, never later — unless its
            // `allow` list gives the kind back explicitly.
            (Some(r), Some(d)) if !allowed && d.from < r.from => Some(d),
            (Some(r), d) => {
                let reason =
                    r.reason.or(d.map(|d| d.reason)).unwrap_or(RetirementReason::Withdrawn);
                Some(Retirement { kind, from: r.from, reason })
            }
            (None, _) if allowed => None,
            (None, d) => d,
        }
    }
}

impl EnrollmentRules for GroupTable {
    fn deadline(&self, account: &AccountFacts) -> Option<SystemTime> {
        if self.role_of(account).is_some_and(|r| r.no_enrollment_grace) {
            return None;
        }
        match self.group_of(account).and_then(|g| g.enrollment_grace_days) {
            Some(0) => None,
            Some(days) => {
                account.created.checked_add(Duration::from_secs(days.saturating_mul(86_400)))
            }
            None => self.default.mfa.deadline(account.created),
        }
    }
}

impl StepUpRules for GroupTable {
    fn max_age(&self, account: &AccountFacts) -> Duration {
        let group = self
            .group_of(account)
            .and_then(|g| g.step_up_max_age_seconds)
            .map_or(self.default.step_up.max_age, Duration::from_secs);
        let role = self.role_of(account).and_then(|r| r.step_up_max_age_seconds);
        role.map_or(group, |r| group.min(Duration::from_secs(r)))
    }
}

/// The longest grace a table may give (ten years).
const MAX_GRACE_DAYS: u64 = 3_650;
/// The longest step-up age a table may give (a day).
const MAX_STEP_UP_SECONDS: u64 = 86_400;
/// The last second a table's date may name (9999-12-31T23:59:59Z).
const MAX_UNIX: u64 = 253_402_300_799;

/// A date in a table: `YYYY-MM-DD` (midnight UTC), RFC 3339, or Unix seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateText {
    Seconds(u64),
    Text(String),
}

fn parse_instant(d: DateText) -> Result<SystemTime, String> {
    match d {
        DateText::Seconds(s) if s <= MAX_UNIX => Ok(UNIX_EPOCH + Duration::from_secs(s)),
        DateText::Seconds(s) => Err(format!("{s} is after the year 9999")),
        DateText::Text(t) => {
            let full = if t.len() == 10 { format!("{t}T00:00:00Z") } else { t.clone() };
            let parsed =
                time::OffsetDateTime::parse(&full, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        format!("{t:?} is no date (YYYY-MM-DD, RFC 3339 or Unix seconds)")
                    })?;
            u64::try_from(parsed.unix_timestamp())
                .map(|s| UNIX_EPOCH + Duration::from_secs(s))
                .map_err(|_| format!("{t:?} is before 1970"))
        }
    }
}

fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    Option::<DateText>::deserialize(d)?
        .map(parse_instant)
        .transpose()
        .map_err(serde::de::Error::custom)
}

fn required_instant<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    parse_instant(DateText::deserialize(d)?).map_err(serde::de::Error::custom)
}
