//! Notices of security changes: sent to the account's address by the flows themselves, one
//! per distinct change, repeats of the same change to the same address held back for a
//! while.

use std::time::SystemTime;

use mfa_email_identity::{FactorLabel, Notice, TokenHash};

use super::{Auth, flow_key};
use crate::store::{Mailer, PushSender, Store, StoreError};
use crate::{Account, FactorKind};

/// How a factor kind is named in a notice.
pub(super) const fn label(kind: FactorKind) -> FactorLabel {
    match kind {
        FactorKind::SecurityKey => FactorLabel::SecurityKey,
        FactorKind::Passkey => FactorLabel::Passkey,
        FactorKind::BiometricKey => FactorLabel::BiometricKey,
        FactorKind::Push => FactorLabel::PhonePush,
        FactorKind::Totp => FactorLabel::AuthenticatorApp,
        FactorKind::EmailCode => FactorLabel::EmailCode,
        FactorKind::RecoveryCodes => FactorLabel::RecoveryCodes,
        FactorKind::Sms | FactorKind::Voice => FactorLabel::Phone,
    }
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Mails `notice` to the account's address, unless the same kind of notice about the same
    /// thing (`about`: a factor's name, a browser and address …) went there within
    /// [`crate::AuthConfig::notice_repeat_window`] (the fold is for what strangers can
    /// repeat: new-browser sign-ins, reports; a change only the account can make goes
    /// through [`Self::tell`]). A notice follows a change that has happened: a mail that
    /// cannot be sent does not undo it (the audit log has the event).
    pub(super) async fn notify(
        &self,
        account: &Account,
        notice: Notice,
        about: &str,
        now: SystemTime,
    ) {
        let id = format!(
            "{}\u{0}{}\u{0}{}\u{0}{about}",
            account.id,
            account.canonical_email.as_str(),
            notice.kind()
        );
        let key = flow_key("notice", &TokenHash::of(&id).to_base64url());
        let until = now + self.config.notice_repeat_window;
        if self.store.put_flow_new(&key, b"1", until, now).await == Err(StoreError::Conflict) {
            return;
        }
        let _ = self.mailer.send(&account.email, &notice).await;
    }

    /// Mails `notice` about a change only the account can make (the password, recovery
    /// codes …): every one is told, however close to the last, never folded into another.
    pub(super) async fn tell(&self, account: &Account, notice: Notice) {
        let _ = self.mailer.send(&account.email, &notice).await;
    }
}
