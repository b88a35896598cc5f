//! The messages this crate's ceremonies send, as values, rendered to subject, plain text and
//! HTML in Japanese and English.

use core::fmt;
use std::time::SystemTime;

use crate::time::{civil, unix};

/// The language of a rendered notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Language {
    /// 日本語.
    Japanese,
    /// English.
    #[default]
    English,
}

impl Language {
    /// Every language, for tests and pickers.
    pub const ALL: [Self; 2] = [Self::Japanese, Self::English];

    /// The BCP 47 tag (`ja`, `en`).
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Japanese => "ja",
            Self::English => "en",
        }
    }
}

/// How times are shown: the recipient's offset from UTC, in minutes (`540` for Japan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoticeFormat {
    /// The language.
    pub language: Language,
    /// Minutes east of UTC, -1439..=1439 (clamped).
    pub utc_offset_minutes: i32,
}

impl NoticeFormat {
    /// A language and an offset from UTC in minutes.
    #[must_use]
    pub const fn new(language: Language, utc_offset_minutes: i32) -> Self {
        Self { language, utc_offset_minutes }
    }
}

/// A message to a person. Links and codes in it are secrets in transit: `Debug` shows only
/// which notice it is.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// To the old address after a switch: it no longer logs in; a revert link.
    EmailChangedOld {
        /// The product name.
        product: String,
        /// The new address, masked (see [`crate::EmailAddress::masked`]).
        new_address_hint: String,
        /// The link that restores the old address.
        revert_link: String,
        /// When the revert link stops working.
        revert_expires: SystemTime,
    },
    /// To the new address after a switch: log in with it.
    EmailChangedNew {
        /// The product name.
        product: String,
        /// The new address, in full.
        new_address: String,
        /// Where to log in.
        login_link: String,
    },
    /// To the new address, before a switch: confirm it.
    ConfirmNewAddress {
        /// The product name.
        product: String,
        /// The new address, in full.
        new_address: String,
        /// The confirmation link.
        confirm_link: String,
        /// When the link stops working.
        expires: SystemTime,
    },
    /// To the old address, before a switch: a change was asked for; a cancel link.
    EmailChangeRequested {
        /// The product name.
        product: String,
        /// The new address, masked.
        new_address_hint: String,
        /// The link that cancels the change.
        cancel_link: String,
        /// When the link stops working.
        expires: SystemTime,
    },
    /// To the restored address after a revert.
    EmailChangeReverted {
        /// The product name.
        product: String,
        /// The address that logs in again.
        restored_address: String,
    },
    /// To an address that already has an account, when someone tries to sign up with it:
    /// the sign-up page answers as for a new account (so it tells no one which addresses
    /// exist), and the owner learns of it here.
    AccountExists {
        /// The product name.
        product: String,
        /// Where to log in.
        login_link: String,
    },
    /// A sign-in link asked for on the login page (when the throttle holds for the address):
    /// opening it lets this browser past the identifier-wide throttle. The password and a
    /// second factor are still needed.
    SignInLink {
        /// The product name.
        product: String,
        /// The link (holds a single-use token).
        link: String,
        /// Until when it works.
        expires: SystemTime,
    },
    /// To the address a new account was signed up with: the code to type on the sign-up page,
    /// or the link to open. The account exists only once one of them is used.
    ConfirmSignUp {
        /// The product name.
        product: String,
        /// The code, digits only.
        code: String,
        /// When the code stops working.
        code_expires: SystemTime,
        /// The confirmation link (holds a single-use token).
        link: String,
        /// When the link stops working.
        expires: SystemTime,
    },
    /// "Forgot password": the link that starts a password reset (a second factor or a
    /// recovery code is asked for after it).
    PasswordResetLink {
        /// The product name.
        product: String,
        /// The link (holds a single-use token).
        link: String,
        /// When it stops working.
        expires: SystemTime,
    },
    /// To an address that already belongs to an account, when another account asked to make
    /// it its login: nothing changed (the requester saw the same answer as for a free
    /// address).
    AddressInUse {
        /// The product name.
        product: String,
        /// Where to log in.
        login_link: String,
    },
    /// To the address that stopped being the login because a revert link of an earlier
    /// change was used: every session ended.
    EmailChangeUndone {
        /// The product name.
        product: String,
        /// The address that logs in again, masked.
        restored_hint: String,
        /// When.
        at: SystemTime,
    },
    /// The operator reset the account's sign-in methods after verifying the person (the
    /// "lost everything" support path): every method and recovery code is gone, every
    /// session ended, and a new method must be set up at the next sign-in.
    FactorsResetBySupport {
        /// The product name.
        product: String,
        /// When.
        at: SystemTime,
    },
    /// To the address of an account brought in from another system that had not verified it:
    /// the link that confirms it (asked for at the first sign-in).
    ConfirmAddress {
        /// The product name.
        product: String,
        /// The link (holds a single-use token).
        link: String,
        /// When it stops working.
        expires: SystemTime,
    },
    /// The legacy username was removed: the email address is the only way to sign in.
    UsernameRemoved {
        /// The product name.
        product: String,
        /// The username that no longer signs in.
        username: String,
        /// When.
        at: SystemTime,
    },
    /// A one-time login code sent by email (the email second factor).
    EmailOneTimeCode {
        /// The product name.
        product: String,
        /// The code, digits only.
        code: String,
        /// When it stops working.
        expires: SystemTime,
    },
    /// A sign-in method was added to the account.
    FactorAdded {
        /// The product name.
        product: String,
        /// What kind of method.
        kind: FactorLabel,
        /// The name the user gave it.
        name: String,
        /// When.
        at: SystemTime,
    },
    /// A suspended sign-in method (a security key that looked cloned) was re-enabled.
    FactorReinstated {
        /// The product name.
        product: String,
        /// What kind of method.
        kind: FactorLabel,
        /// Its name.
        name: String,
        /// When.
        at: SystemTime,
    },
    /// A sign-in method was removed from the account.
    FactorRemoved {
        /// The product name.
        product: String,
        /// What kind of method.
        kind: FactorLabel,
        /// Its name.
        name: String,
        /// When.
        at: SystemTime,
    },
    /// The password was changed by someone signed in.
    PasswordChanged {
        /// The product name.
        product: String,
        /// When.
        at: SystemTime,
    },
    /// The password was reset through account recovery.
    PasswordReset {
        /// The product name.
        product: String,
        /// When.
        at: SystemTime,
    },
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// The product name.
        product: String,
        /// Codes left.
        remaining: usize,
        /// When.
        at: SystemTime,
    },
    /// New recovery codes were made; the old ones no longer work.
    RecoveryCodesRegenerated {
        /// The product name.
        product: String,
        /// When.
        at: SystemTime,
    },
    /// A sign-in from a browser the account had not used (or not recently).
    NewDeviceSignIn {
        /// The product name.
        product: String,
        /// Browser and system, as the server saw them ("Chrome on Windows").
        browser: String,
        /// The client's IP address.
        ip: String,
        /// When.
        at: SystemTime,
    },
    /// A push sign-in request was reported as fraud on the phone: the sign-in was refused and
    /// push requests are paused.
    PushFraudReported {
        /// The product name.
        product: String,
        /// When.
        at: SystemTime,
    },
    /// A security key answered with a signature counter that went backwards (a sign of a
    /// cloned key): it is suspended until the user re-enables or replaces it.
    SecurityKeySuspended {
        /// The product name.
        product: String,
        /// The key's name.
        name: String,
        /// When.
        at: SystemTime,
    },
    /// A sign-in method failed too many times in a row (a guessing attack, NIST SP
    /// 800-63B-4's cap of 100): it is suspended until the owner signs in with another method
    /// or a recovery code.
    FactorLocked {
        /// The product name.
        product: String,
        /// What kind of method.
        kind: FactorLabel,
        /// Its name.
        name: String,
        /// Consecutive failures.
        failures: u32,
        /// When.
        at: SystemTime,
    },
}

/// The kind of sign-in method a notice names, in words the recipient reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FactorLabel {
    /// A roaming security key.
    SecurityKey,
    /// A passkey.
    Passkey,
    /// A platform (biometric) key on a device.
    BiometricKey,
    /// Push approval on a phone.
    PhonePush,
    /// An authenticator app.
    AuthenticatorApp,
    /// Codes by email.
    EmailCode,
    /// Recovery codes.
    RecoveryCodes,
    /// A phone number (SMS or voice).
    Phone,
}

impl FactorLabel {
    /// The label in `language`.
    #[must_use]
    pub const fn text(self, language: Language) -> &'static str {
        let ja = matches!(language, Language::Japanese);
        match self {
            Self::SecurityKey => {
                if ja {
                    "セキュリティキー"
                } else {
                    "security key"
                }
            }
            Self::Passkey => {
                if ja {
                    "パスキー"
                } else {
                    "passkey"
                }
            }
            Self::BiometricKey => {
                if ja {
                    "生体認証キー"
                } else {
                    "biometric key"
                }
            }
            Self::PhonePush => {
                if ja {
                    "スマートフォンのプッシュ通知"
                } else {
                    "push approval on a phone"
                }
            }
            Self::AuthenticatorApp => {
                if ja {
                    "認証アプリ"
                } else {
                    "authenticator app"
                }
            }
            Self::EmailCode => {
                if ja {
                    "メールで届くコード"
                } else {
                    "codes by email"
                }
            }
            Self::RecoveryCodes => {
                if ja {
                    "リカバリーコード"
                } else {
                    "recovery codes"
                }
            }
            Self::Phone => {
                if ja {
                    "電話番号（SMS）"
                } else {
                    "phone number (SMS)"
                }
            }
        }
    }
}

impl fmt::Debug for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notice::{} {{ .. }}", self.kind())
    }
}

/// A notice rendered for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// One line, no control characters (safe as a mail header value).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body; every parameter is escaped.
    pub html: String,
}

impl fmt::Debug for RenderedNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedNotice").field("subject", &self.subject).finish_non_exhaustive()
    }
}

enum Block {
    Para(String),
    Link(String),
    Code(String),
}

impl Notice {
    /// A stable name for the kind of notice (for logs and golden files).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::EmailChangedOld { .. } => "email-changed-old",
            Self::EmailChangedNew { .. } => "email-changed-new",
            Self::ConfirmNewAddress { .. } => "confirm-new-address",
            Self::EmailChangeRequested { .. } => "email-change-requested",
            Self::EmailChangeReverted { .. } => "email-change-reverted",
            Self::EmailOneTimeCode { .. } => "email-one-time-code",
            Self::AccountExists { .. } => "account-exists",
            Self::SignInLink { .. } => "sign-in-link",
            Self::ConfirmSignUp { .. } => "confirm-sign-up",
            Self::PasswordResetLink { .. } => "password-reset-link",
            Self::AddressInUse { .. } => "address-in-use",
            Self::EmailChangeUndone { .. } => "email-change-undone",
            Self::FactorsResetBySupport { .. } => "factors-reset-by-support",
            Self::ConfirmAddress { .. } => "confirm-address",
            Self::UsernameRemoved { .. } => "username-removed",
            Self::FactorAdded { .. } => "factor-added",
            Self::FactorRemoved { .. } => "factor-removed",
            Self::FactorReinstated { .. } => "factor-reinstated",
            Self::PasswordChanged { .. } => "password-changed",
            Self::PasswordReset { .. } => "password-reset",
            Self::RecoveryCodeUsed { .. } => "recovery-code-used",
            Self::RecoveryCodesRegenerated { .. } => "recovery-codes-regenerated",
            Self::NewDeviceSignIn { .. } => "new-device-sign-in",
            Self::PushFraudReported { .. } => "push-fraud-reported",
            Self::SecurityKeySuspended { .. } => "security-key-suspended",
            Self::FactorLocked { .. } => "factor-locked",
        }
    }

    /// The product name the notice is sent for.
    #[must_use]
    pub fn product(&self) -> &str {
        match self {
            Self::EmailChangedOld { product, .. }
            | Self::EmailChangedNew { product, .. }
            | Self::ConfirmNewAddress { product, .. }
            | Self::EmailChangeRequested { product, .. }
            | Self::EmailChangeReverted { product, .. }
            | Self::AccountExists { product, .. }
            | Self::SignInLink { product, .. }
            | Self::ConfirmSignUp { product, .. }
            | Self::PasswordResetLink { product, .. }
            | Self::AddressInUse { product, .. }
            | Self::EmailChangeUndone { product, .. }
            | Self::FactorsResetBySupport { product, .. }
            | Self::ConfirmAddress { product, .. }
            | Self::UsernameRemoved { product, .. }
            | Self::EmailOneTimeCode { product, .. }
            | Self::FactorAdded { product, .. }
            | Self::FactorRemoved { product, .. }
            | Self::FactorReinstated { product, .. }
            | Self::PasswordChanged { product, .. }
            | Self::PasswordReset { product, .. }
            | Self::RecoveryCodeUsed { product, .. }
            | Self::RecoveryCodesRegenerated { product, .. }
            | Self::NewDeviceSignIn { product, .. }
            | Self::PushFraudReported { product, .. }
            | Self::SecurityKeySuspended { product, .. }
            | Self::FactorLocked { product, .. } => product,
        }
    }

    /// Renders the notice. Every parameter is stripped of control characters (so none can
    /// add a header line) and HTML-escaped in the HTML body.
    #[must_use]
    pub fn render(&self, format: NoticeFormat) -> RenderedNotice {
        let ja = format.language == Language::Japanese;
        let at = |t: &SystemTime| when(*t, format);
        let (subject, mut blocks) = match self {
            Self::EmailChangedOld { product, new_address_hint, revert_link, revert_expires } => {
                let (p, hint) = (clean(product), clean(new_address_hint));
                if ja {
                    (
                        format!("{p}メールアドレスを変更しました。"),
                        vec![
                            Block::Para(format!(
                                "このメールアドレスを使用して{p}にログインすることはできなくなりました。\n新しいメールアドレス（{hint}）にログイン方法を送信します。"
                            )),
                            Block::Para(format!(
                                "この変更に心当たりがない場合は、{}までに次のリンクからメールアドレスを元に戻し、パスワードを変更してください:",
                                at(revert_expires)
                            )),
                            Block::Link(clean(revert_link)),
                        ],
                    )
                } else {
                    (
                        format!("{p}: your email address was changed"),
                        vec![
                            Block::Para(format!(
                                "You can no longer log in to {p} with this email address.\nWe will send the login method to your new address ({hint})."
                            )),
                            Block::Para(format!(
                                "If you did not make this change, restore this address with the link below before {}, then change your password:",
                                at(revert_expires)
                            )),
                            Block::Link(clean(revert_link)),
                        ],
                    )
                }
            }
            Self::EmailChangedNew { product, new_address, login_link } => {
                let (p, a) = (clean(product), clean(new_address));
                if ja {
                    (
                        format!("{p}アカウントのメールアドレスを変更しました。"),
                        vec![
                            Block::Para(format!(
                                "次の資格情報を使用して{p}アカウントにログインしてください:"
                            )),
                            Block::Para(format!("新しいメールアドレス: {a}")),
                            Block::Link(clean(login_link)),
                        ],
                    )
                } else {
                    (
                        format!("{p}: log in with your new email address"),
                        vec![
                            Block::Para(format!(
                                "Please log in to your {p} account with the following credentials:"
                            )),
                            Block::Para(format!("New email address: {a}")),
                            Block::Link(clean(login_link)),
                        ],
                    )
                }
            }
            Self::ConfirmNewAddress { product, new_address, confirm_link, expires } => {
                let (p, a) = (clean(product), clean(new_address));
                if ja {
                    (
                        format!("{p}新しいメールアドレスの確認"),
                        vec![
                            Block::Para(format!(
                                "{a} を{p}のログインに使用するには、{}までに次のリンクから確認してください:",
                                at(expires)
                            )),
                            Block::Link(clean(confirm_link)),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。変更は行われません。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: confirm your new email address"),
                        vec![
                            Block::Para(format!(
                                "To log in to {p} with {a}, confirm this address with the link below before {}:",
                                at(expires)
                            )),
                            Block::Link(clean(confirm_link)),
                            Block::Para(
                                "If you did not ask for this, ignore this message: nothing will change."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::EmailChangeRequested { product, new_address_hint, cancel_link, expires } => {
                let (p, hint) = (clean(product), clean(new_address_hint));
                if ja {
                    (
                        format!("{p}メールアドレス変更のリクエストを受け付けました。"),
                        vec![
                            Block::Para(format!(
                                "{p}アカウントのメールアドレスを {hint} に変更するリクエストを受け付けました。新しいメールアドレスが確認されると変更されます。"
                            )),
                            Block::Para(format!(
                                "お心当たりがない場合は、{}までに次のリンクから取り消し、パスワードを変更してください:",
                                at(expires)
                            )),
                            Block::Link(clean(cancel_link)),
                        ],
                    )
                } else {
                    (
                        format!("{p}: a change of your email address was requested"),
                        vec![
                            Block::Para(format!(
                                "Someone signed in to your {p} account asked to change its email address to {hint}. The change takes effect once the new address is confirmed."
                            )),
                            Block::Para(format!(
                                "If this was not you, cancel it with the link below before {}, then change your password:",
                                at(expires)
                            )),
                            Block::Link(clean(cancel_link)),
                        ],
                    )
                }
            }
            Self::EmailChangeReverted { product, restored_address } => {
                let (p, a) = (clean(product), clean(restored_address));
                if ja {
                    (
                        format!("{p}メールアドレスを元に戻しました。"),
                        vec![
                            Block::Para(format!(
                                "{p}アカウントのログイン用メールアドレスを {a} に戻しました。"
                            )),
                            Block::Para(
                                "ご自身で操作していない場合は、すぐにパスワードを変更してください。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: your email address was restored"),
                        vec![
                            Block::Para(format!(
                                "The login email address of your {p} account is {a} again."
                            )),
                            Block::Para(
                                "If you did not do this yourself, change your password now."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::AccountExists { product, login_link } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}アカウントは既に存在します"),
                        vec![
                            Block::Para(format!(
                                "このメールアドレスで{p}アカウントの作成が試みられましたが、このメールアドレスのアカウントは既に存在します。次のリンクからログインしてください:"
                            )),
                            Block::Link(clean(login_link)),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。アカウントは変更されていません。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: you already have an account"),
                        vec![
                            Block::Para(format!(
                                "Someone tried to create a {p} account with this email address, which already has one. Log in here:"
                            )),
                            Block::Link(clean(login_link)),
                            Block::Para(
                                "If this was not you, ignore this message: your account has not changed."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::SignInLink { product, link, expires } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}ログイン用リンク"),
                        vec![
                            Block::Para(format!(
                                "{p}のログインページで、このアカウントへのログイン用リンクが求められました。ログインしたいブラウザで次のリンクを開いてください。その後、パスワードと認証方法でログインできます:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("有効期限: {}", at(expires))),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。リンクだけではログインできません。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: your sign-in link"),
                        vec![
                            Block::Para(format!(
                                "A sign-in link for your {p} account was asked for on the login page. Open it in the browser you want to sign in with; then sign in with your password and your sign-in method:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("It works until {}.", at(expires))),
                            Block::Para(
                                "If this was not you, ignore this message: the link alone signs no one in."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::EmailOneTimeCode { product, code, expires } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}ログイン用の確認コード"),
                        vec![
                            Block::Para("ログイン用のワンタイムコードは次のとおりです:".to_owned()),
                            Block::Code(clean(code)),
                            Block::Para(format!(
                                "有効期限は{}です。このコードを他人に教えないでください。{p}からコードをお尋ねすることはありません。",
                                at(expires)
                            )),
                        ],
                    )
                } else {
                    (
                        format!("{p}: your login code"),
                        vec![
                            Block::Para("Your one-time login code is:".to_owned()),
                            Block::Code(clean(code)),
                            Block::Para(format!(
                                "It expires at {}. Never share it with anyone: {p} will never ask you for it.",
                                at(expires)
                            )),
                        ],
                    )
                }
            }
            Self::ConfirmSignUp { product, code, code_expires, link, expires } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}メールアドレスの確認"),
                        vec![
                            Block::Para(format!(
                                "{p}アカウントの作成を完了するには、{}までに登録ページで次のコードを入力してください:",
                                at(code_expires)
                            )),
                            Block::Code(clean(code)),
                            Block::Para(format!(
                                "または、{}までに次のリンクを開き、登録時に設定したパスワードを入力してください:",
                                at(expires)
                            )),
                            Block::Link(clean(link)),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。アカウントは作成されません。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: confirm your email address"),
                        vec![
                            Block::Para(format!(
                                "To finish creating your {p} account, type this code on the sign-up page before {}:",
                                at(code_expires)
                            )),
                            Block::Code(clean(code)),
                            Block::Para(format!(
                                "or open this link before {} and enter the password you chose:",
                                at(expires)
                            )),
                            Block::Link(clean(link)),
                            Block::Para(
                                "If you did not sign up, ignore this message: no account will be created."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::PasswordResetLink { product, link, expires } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}パスワードの再設定"),
                        vec![
                            Block::Para(format!(
                                "{p}アカウントのパスワードの再設定が求められました。次のリンクを開いて新しいパスワードを設定してください。ログイン方法（またはリカバリーコード）による確認も必要です:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("{}まで、一度だけ使用できます。", at(expires))),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。パスワードは変更されていません。"
                                    .to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: reset your password"),
                        vec![
                            Block::Para(format!(
                                "Someone asked to reset the password of your {p} account. Open this link to choose a new one; your sign-in method (or a recovery code) is asked for too:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("It works once, until {}.", at(expires))),
                            Block::Para(
                                "If this was not you, ignore this message: your password has not changed."
                                    .to_owned(),
                            ),
                        ],
                    )
                }
            }
            Self::AddressInUse { product, login_link } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}メールアドレスの使用が試みられました"),
                        vec![
                            Block::Para(format!(
                                "{p}の別のアカウントで、このメールアドレスをログインに使用する変更が求められました。このメールアドレスは既にあなたのアカウントで使用されているため、何も変更されていません。"
                            )),
                            Block::Link(clean(login_link)),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。".to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: someone tried to use your email address"),
                        vec![
                            Block::Para(format!(
                                "Someone signed in to another {p} account asked to make this address its login. The address already belongs to your account, so nothing changed."
                            )),
                            Block::Link(clean(login_link)),
                            Block::Para("If this was not you, ignore this message.".to_owned()),
                        ],
                    )
                }
            }
            Self::ConfirmAddress { product, link, expires } => {
                let p = clean(product);
                if ja {
                    (
                        format!("{p}メールアドレスの確認"),
                        vec![
                            Block::Para(format!(
                                "{p}にログインするには、このメールアドレスがご自身のものであることを確認してください。次のリンクを開き、新しいパスワードを設定してください。移行前のパスワードと認証方法は使えなくなり、次回ログイン時に認証方法を設定します:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("{}まで、一度だけ使用できます。", at(expires))),
                            Block::Para(
                                "お心当たりがない場合は、このメールを無視してください。".to_owned(),
                            ),
                        ],
                    )
                } else {
                    (
                        format!("{p}: confirm your email address"),
                        vec![
                            Block::Para(format!(
                                "To sign in to {p}, confirm that this address is yours: open this link and choose a new password. The password and sign-in methods brought over from before stop working; you set up a sign-in method at your next sign-in:"
                            )),
                            Block::Link(clean(link)),
                            Block::Para(format!("It works once, until {}.", at(expires))),
                            Block::Para("If this was not you, ignore this message.".to_owned()),
                        ],
                    )
                }
            }
            Self::FactorAdded { .. }
            | Self::UsernameRemoved { .. }
            | Self::FactorRemoved { .. }
            | Self::EmailChangeUndone { .. }
            | Self::FactorsResetBySupport { .. }
            | Self::FactorReinstated { .. }
            | Self::PasswordChanged { .. }
            | Self::PasswordReset { .. }
            | Self::RecoveryCodeUsed { .. }
            | Self::RecoveryCodesRegenerated { .. }
            | Self::NewDeviceSignIn { .. }
            | Self::PushFraudReported { .. }
            | Self::SecurityKeySuspended { .. }
            | Self::FactorLocked { .. } => security_notice(self, format),
        };
        let p = clean(self.product());
        let (hello, regards, no_reply) = if ja {
            ("こんにちは!", "敬具,", "本メールに返信しないでください。")
        } else {
            ("Hello,", "Regards,", "Please do not reply to this message.")
        };
        blocks.insert(0, Block::Para(hello.to_owned()));
        blocks.push(Block::Para(format!("{regards}\n{p}")));
        blocks.push(Block::Para(no_reply.to_owned()));
        RenderedNotice {
            text: text_body(&blocks),
            html: html_body(&subject, &blocks, format.language),
            subject,
        }
    }
}

/// The subject and blocks of the security-change notices: what happened, when, and what to do
/// if it was not the recipient.
fn security_notice(notice: &Notice, format: NoticeFormat) -> (String, Vec<Block>) {
    let ja = format.language == Language::Japanese;
    let lang = format.language;
    let p = clean(notice.product());
    let (subject, what, when_at) = match notice {
        Notice::FactorAdded { kind, name, at, .. } => {
            let (k, n) = (kind.text(lang), clean(name));
            if ja {
                (
                    format!("{p}ログイン方法が追加されました"),
                    format!("{p}アカウントにログイン方法「{n}」（{k}）が追加されました。"),
                    at,
                )
            } else {
                (
                    format!("{p}: a sign-in method was added"),
                    format!("A sign-in method, \"{n}\" ({k}), was added to your {p} account."),
                    at,
                )
            }
        }
        Notice::FactorRemoved { kind, name, at, .. } => {
            let (k, n) = (kind.text(lang), clean(name));
            if ja {
                (
                    format!("{p}ログイン方法が削除されました"),
                    format!("{p}アカウントからログイン方法「{n}」（{k}）が削除されました。"),
                    at,
                )
            } else {
                (
                    format!("{p}: a sign-in method was removed"),
                    format!("A sign-in method, \"{n}\" ({k}), was removed from your {p} account."),
                    at,
                )
            }
        }
        Notice::FactorReinstated { kind, name, at, .. } => {
            let (k, n) = (kind.text(lang), clean(name));
            if ja {
                (
                    format!("{p}ログイン方法が再度有効になりました"),
                    format!("停止していたログイン方法「{n}」（{k}）が再度有効になりました。"),
                    at,
                )
            } else {
                (
                    format!("{p}: a suspended sign-in method was re-enabled"),
                    format!("The suspended sign-in method \"{n}\" ({k}) was re-enabled."),
                    at,
                )
            }
        }
        Notice::PasswordChanged { at, .. } => {
            if ja {
                (
                    format!("{p}パスワードが変更されました"),
                    format!(
                        "{p}アカウントのパスワードが変更されました。ほかのブラウザーや端末のログインはすべて終了しました。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: your password was changed"),
                    format!(
                        "The password of your {p} account was changed. Every other signed-in browser and device was signed out."
                    ),
                    at,
                )
            }
        }
        Notice::EmailChangeUndone { restored_hint, at, .. } => {
            let h = clean(restored_hint);
            if ja {
                (
                    format!("{p}このメールアドレスではログインできなくなりました"),
                    format!(
                        "以前のメールアドレスに送られたリンクにより、{p}アカウントのログイン用メールアドレスが {h} に戻されました。このメールアドレスではログインできなくなり、すべてのログインは終了しました。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: this address no longer logs in"),
                    format!(
                        "The link sent to the previous address of your {p} account changed its login back to {h}. This address no longer logs in, and every signed-in browser and device was signed out."
                    ),
                    at,
                )
            }
        }
        Notice::UsernameRemoved { username, at, .. } => {
            let u = clean(username);
            if ja {
                (
                    format!("{p}ユーザー名でのログインを終了しました"),
                    format!(
                        "{p}アカウントのユーザー名「{u}」を削除しました。今後はメールアドレスでログインしてください。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: your username no longer signs in"),
                    format!(
                        "The username \"{u}\" was removed from your {p} account. Sign in with your email address from now on."
                    ),
                    at,
                )
            }
        }
        Notice::FactorsResetBySupport { at, .. } => {
            if ja {
                (
                    format!("{p}ログイン方法がサポートによりリセットされました"),
                    format!(
                        "ご本人確認のうえ、サポートが{p}アカウントのログイン方法とリカバリーコードをすべて削除しました。すべてのログインは終了しました。次回ログイン時に、メールアドレスを確認してから新しいログイン方法を設定してください。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: your sign-in methods were reset by support"),
                    format!(
                        "After verifying your identity, support removed every sign-in method and recovery code of your {p} account. Every signed-in browser and device was signed out. At your next sign-in, confirm your email address, then set up a new sign-in method."
                    ),
                    at,
                )
            }
        }
        Notice::PasswordReset { at, .. } => {
            if ja {
                (
                    format!("{p}パスワードがリセットされました"),
                    format!(
                        "アカウントの復旧により{p}アカウントのパスワードがリセットされました。すべてのログインは終了しました。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: your password was reset"),
                    format!(
                        "The password of your {p} account was reset through account recovery. Every signed-in browser and device was signed out."
                    ),
                    at,
                )
            }
        }
        Notice::RecoveryCodeUsed { remaining, at, .. } => {
            if ja {
                (
                    format!("{p}リカバリーコードが使用されました"),
                    format!(
                        "{p}アカウントへのログインにリカバリーコードが使用されました。残りは{remaining}個です。ほかのログインはすべて終了しました。残りが少なくなったら、セキュリティ設定で新しいコードを発行してください。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: a recovery code was used"),
                    format!(
                        "A recovery code was used to sign in to your {p} account; {remaining} remain. Every other signed-in browser and device was signed out. When few remain, make a new set in your security settings."
                    ),
                    at,
                )
            }
        }
        Notice::RecoveryCodesRegenerated { at, .. } => {
            if ja {
                (
                    format!("{p}新しいリカバリーコードが発行されました"),
                    format!(
                        "{p}アカウントの新しいリカバリーコードが発行されました。以前のコードは使用できなくなりました。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: new recovery codes were made"),
                    format!(
                        "New recovery codes were made for your {p} account. The old codes no longer work."
                    ),
                    at,
                )
            }
        }
        Notice::NewDeviceSignIn { browser, ip, at, .. } => {
            let (b, i) = (clean(browser), clean(ip));
            if ja {
                (
                    format!("{p}新しい端末からのログイン"),
                    format!(
                        "{p}アカウントに新しい端末からログインがありました。\nブラウザー: {b}\nIP アドレス: {i}"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: a sign-in from a new device"),
                    format!(
                        "Your {p} account was signed in to from a new device.\nBrowser: {b}\nIP address: {i}"
                    ),
                    at,
                )
            }
        }
        Notice::PushFraudReported { at, .. } => {
            if ja {
                (
                    format!("{p}不正なログイン要求が報告されました"),
                    format!(
                        "{p}のログイン要求がスマートフォンで不正として報告されました。このログインは拒否され、プッシュ通知による承認は一時停止されています。パスワードを知っている第三者がログインを試みた可能性があります。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: a sign-in request was reported as fraud"),
                    format!(
                        "A {p} sign-in request was reported as fraud on your phone. That sign-in was refused and push approvals are paused. Someone who knows your password may have tried to sign in."
                    ),
                    at,
                )
            }
        }
        Notice::SecurityKeySuspended { name, at, .. } => {
            let n = clean(name);
            if ja {
                (
                    format!("{p}セキュリティキーを停止しました"),
                    format!(
                        "セキュリティキー「{n}」の署名カウンターが戻りました。キーが複製された可能性があるため、このキーは停止しました。ほかの方法でログインしてから、キーを再度有効にするか登録し直してください。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: a security key was suspended"),
                    format!(
                        "The security key \"{n}\" answered with a signature counter that went backwards, a sign that it may have been copied. It is suspended: sign in with another method, then re-enable or re-register it."
                    ),
                    at,
                )
            }
        }
        Notice::FactorLocked { kind, name, failures, at, .. } => {
            let (k, n) = (kind.text(lang), clean(name));
            if ja {
                (
                    format!("{p}ログイン方法を一時停止しました"),
                    format!(
                        "ログイン方法「{n}」（{k}）で {failures} 回続けて認証に失敗したため、この方法を停止しました。第三者がパスワードを知っていて、コードを推測している可能性があります。ほかの方法かリカバリーコードでログインすると、この方法は再び使えるようになります。"
                    ),
                    at,
                )
            } else {
                (
                    format!("{p}: a sign-in method was suspended"),
                    format!(
                        "The sign-in method \"{n}\" ({k}) failed {failures} times in a row, so it is suspended. Someone who knows your password may be guessing codes. Sign in with another method or a recovery code and it works again."
                    ),
                    at,
                )
            }
        }
        // `render` sends only the variants above here.
        _ => (String::new(), String::new(), &SystemTime::UNIX_EPOCH),
    };
    let advice = match (notice, ja) {
        (Notice::PushFraudReported { .. }, true) => {
            "パスワードをすぐに変更してください。ご自身の操作だった場合は、パスワードを変更したうえで、設定からプッシュ通知を再開してください。"
        }
        (Notice::PushFraudReported { .. }, false) => {
            "Change your password now. If it was you after all, change your password anyway, then resume push approvals in your settings."
        }
        (_, true) => {
            "お心当たりがない場合は、パスワードをすぐに変更し、設定画面でログイン方法とログイン中の端末を確認してください。"
        }
        (_, false) => {
            "If this was not you, change your password now and review your sign-in methods and signed-in devices in your settings."
        }
    };
    let time = if ja {
        format!("日時: {}", when(*when_at, format))
    } else {
        format!("Time: {}", when(*when_at, format))
    };
    (subject, vec![Block::Para(what), Block::Para(time), Block::Para(advice.to_owned())])
}

fn when(t: SystemTime, format: NoticeFormat) -> String {
    let off = format.utc_offset_minutes.clamp(-1439, 1439);
    let (y, mo, d, h, mi) = civil(unix(t), off);
    let sign = if off < 0 { '-' } else { '+' };
    let (oh, om) = (off.abs() / 60, off.abs() % 60);
    match format.language {
        Language::Japanese => format!("{y}年{mo}月{d}日 {h:02}:{mi:02} (UTC{sign}{oh:02}:{om:02})"),
        Language::English => {
            format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02} (UTC{sign}{oh:02}:{om:02})")
        }
    }
}

/// Drops control characters (CR and LF included) and the line/paragraph separators, so a
/// parameter can neither start a header nor break a line it was not meant to.
fn clean(s: &str) -> String {
    s.chars().filter(|&c| !c.is_control() && c != '\u{2028}' && c != '\u{2029}').collect()
}

fn text_body(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Para(s) | Block::Link(s) => out.push_str(s),
            Block::Code(s) => {
                out.push_str("    ");
                out.push_str(s);
            }
        }
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn html_body(subject: &str, blocks: &[Block], language: Language) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n",
        language.tag(),
        escape(subject)
    );
    for b in blocks {
        match b {
            Block::Para(s) => {
                out.push_str("<p>");
                out.push_str(&escape(s).replace('\n', "<br>\n"));
                out.push_str("</p>\n");
            }
            Block::Link(url) if url.starts_with("https://") || url.starts_with("http://") => {
                let u = escape(url);
                out.push_str(&format!("<p><a href=\"{u}\">{u}</a></p>\n"));
            }
            Block::Link(other) => out.push_str(&format!("<p>{}</p>\n", escape(other))),
            Block::Code(c) => out.push_str(&format!(
                "<p style=\"font-size:1.6em;letter-spacing:0.2em\"><strong>{}</strong></p>\n",
                escape(c)
            )),
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// HTML-escapes text for element content and double-quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
