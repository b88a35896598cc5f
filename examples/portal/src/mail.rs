//! Mail delivery: `.eml` files in an outbox folder (the default), or SMTP through lettre.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use lettre::message::MultiPart;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mfa_email_identity::{EmailAddress, Language, Notice, NoticeFormat};
use mfa_flow::Mailer;

/// Where notices go.
#[derive(Clone)]
pub enum PortalMailer {
    /// Files in a folder, one `.eml` per message, also logged.
    Outbox {
        /// The folder.
        dir: PathBuf,
        /// Sender.
        from: String,
        /// Numbers the files.
        counter: std::sync::Arc<AtomicU64>,
    },
    /// An SMTP server (plain, for a relay on the same host; see the README for TLS).
    Smtp {
        /// The transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// Sender.
        from: String,
    },
}

impl std::fmt::Debug for PortalMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Outbox { dir, .. } => write!(f, "Outbox({})", dir.display()),
            Self::Smtp { from, .. } => write!(f, "Smtp(from {from})"),
        }
    }
}

impl PortalMailer {
    /// An SMTP mailer for `host:port`.
    ///
    /// # Errors
    /// A message for a malformed address.
    pub fn smtp(server: &str, from: &str) -> Result<Self, String> {
        let (host, port) = server.rsplit_once(':').ok_or("--smtp must be host:port")?;
        let port: u16 = port.parse().map_err(|_| "--smtp port")?;
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).build();
        Ok(Self::Smtp { transport, from: from.to_owned() })
    }

    /// An outbox mailer writing into `dir`.
    #[must_use]
    pub fn outbox(dir: PathBuf, from: &str) -> Self {
        Self::Outbox { dir, from: from.to_owned(), counter: std::sync::Arc::default() }
    }
}

/// Renders `notice` for `to` in both languages (Japanese first), the way the notice's own
/// mails are bilingual when the recipient's language is not known.
fn build(from: &str, to: &EmailAddress, notice: &Notice) -> Result<Message, String> {
    let ja = notice.render(NoticeFormat::new(Language::Japanese, 540));
    let en = notice.render(NoticeFormat::new(Language::English, 0));
    let subject = format!("{} / {}", ja.subject, en.subject);
    let text = format!("{}\n----------------------------------------\n\n{}", ja.text, en.text);
    let html = format!("{}<hr>{}", ja.html, en.html);
    Message::builder()
        .from(from.parse().map_err(|e| format!("sender: {e}"))?)
        .to(to.to_ascii_domain_form().parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| e.to_string())
}

impl Mailer for PortalMailer {
    async fn send(&self, to: &EmailAddress, notice: &Notice) -> Result<(), String> {
        match self {
            Self::Outbox { dir, from, counter } => {
                let message = build(from, to, notice)?;
                tokio::fs::create_dir_all(dir).await.map_err(|e| e.to_string())?;
                let n = counter.fetch_add(1, Ordering::SeqCst);
                #[allow(clippy::disallowed_methods)]
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let path = dir.join(format!("{now}-{n:04}-{}.eml", notice.kind()));
                tokio::fs::write(&path, message.formatted()).await.map_err(|e| e.to_string())?;
                tracing::info!(kind = notice.kind(), to = %to.masked(), path = %path.display(), "mail written");
                Ok(())
            }
            Self::Smtp { transport, from } => {
                // Handed to a task: the request does not wait for the SMTP server, so an
                // answer's timing says nothing about whether a mail went out (sign-up of an
                // address that has an account mails its owner; one that has none does not).
                let message = build(from, to, notice)?;
                let (transport, kind, masked) = (transport.clone(), notice.kind(), to.masked());
                tokio::spawn(async move {
                    match transport.send(message).await {
                        Ok(_) => tracing::info!(kind, to = %masked, "mail sent"),
                        Err(e) => tracing::warn!(kind, to = %masked, error = %e, "mail not sent"),
                    }
                });
                Ok(())
            }
        }
    }
}
