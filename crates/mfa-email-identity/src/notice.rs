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
    /// A one-time login code sent by email (the email second factor).
    EmailOneTimeCode {
        /// The product name.
        product: String,
        /// The code, digits only.
        code: String,
        /// When it stops working.
        expires: SystemTime,
    },
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
        };
        let p = match self {
            Self::EmailChangedOld { product, .. }
            | Self::EmailChangedNew { product, .. }
            | Self::ConfirmNewAddress { product, .. }
            | Self::EmailChangeRequested { product, .. }
            | Self::EmailChangeReverted { product, .. }
            | Self::AccountExists { product, .. }
            | Self::EmailOneTimeCode { product, .. } => clean(product),
        };
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
