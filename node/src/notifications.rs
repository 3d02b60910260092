//! Notifications: the outbox's events delivered to the issuer's webhook
//! (every event, signed) and by mail to earners (their badge is ready,
//! about to run out, or revoked), with retries that survive a restart.
//!
//! The store writes each event with the change it reports; here a fan-out
//! turns events into deliveries, and one loop per sink sends them and
//! removes each only once its sink took it (see `store::outbox`).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use sha2::Sha256;

use crate::metrics::Metrics;
use crate::store::{Delivery, Due, EventKind, Sink, Store, StoreError};

/// The longest wait between two attempts of one delivery.
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// Deliveries sent at once, per sink.
const CONCURRENCY: usize = 8;
/// How long a webhook receiver has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("--webhook-secret-file {path}: {reason}")]
    Secret { path: String, reason: String },
    #[error("--webhook-url: {0}")]
    WebhookUrl(String),
    #[error("--smtp-url: {0}")]
    SmtpUrl(String),
    #[error("--mail-from: {0}")]
    MailFrom(String),
}

/// The issuer's webhook: where events go and the secret that signs them.
pub struct Webhook {
    url: reqwest::Url,
    secret: Vec<u8>,
    client: reqwest::Client,
}

/// `Cairn-Signature`'s value for `body` sent at `t` (Unix seconds):
/// `t=T,v1=HEX`, HEX the HMAC-SHA256 of `T.body` under the secret. The
/// time is signed so that a receiver can refuse a replayed old request.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn new(url: &str, secret_file: &std::path::Path) -> Result<Self, NotifyError> {
        let secret_error = |reason: String| NotifyError::Secret {
            path: secret_file.display().to_string(),
            reason,
        };
        let secret = std::fs::read(secret_file).map_err(|e| secret_error(e.to_string()))?;
        let secret = secret.trim_ascii().to_vec();
        if secret.len() < 16 {
            return Err(secret_error("holds fewer than 16 bytes".into()));
        }
        let url = reqwest::Url::parse(url).map_err(|e| NotifyError::WebhookUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotifyError::WebhookUrl("expected an http(s) URL".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::WebhookUrl(e.to_string()))?;
        Ok(Self {
            url,
            secret,
            client,
        })
    }

    async fn send(&self, delivery: &Delivery) -> Result<(), Failure> {
        let body = serde_json::to_vec(&delivery.event).expect("an event serializes");
        let t = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("cairn-signature", signature(&self.secret, t, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Again(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Failure::Again(format!("answered {}", response.status())))
        }
    }
}

/// The earners' mail: an SMTP server and the sender's address.
pub struct Mail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mail {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://host:port` (TLS from the start); a user name in the URL logs in with the
    /// password from `password` (`CAIRN_SMTP_PASSWORD`), never the URL.
    pub fn new(url: &str, from: &str, password: Option<String>) -> Result<Self, NotifyError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| NotifyError::SmtpUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(NotifyError::SmtpUrl(
                "expected smtp://host:port or smtps://host:port".into(),
            ));
        }
        if parsed.password().is_some() {
            return Err(NotifyError::SmtpUrl(
                "put the password in CAIRN_SMTP_PASSWORD, not in the URL".into(),
            ));
        }
        let user = parsed.username().to_owned();
        let mut bare = parsed.clone();
        let _ = bare.set_username("");
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(bare.as_str())
            .map_err(|e| NotifyError::SmtpUrl(e.to_string()))?
            .timeout(Some(Duration::from_secs(30)));
        if !user.is_empty() {
            let password = password.ok_or_else(|| {
                NotifyError::SmtpUrl(format!(
                    "names the user {user}: its password goes in CAIRN_SMTP_PASSWORD"
                ))
            })?;
            builder = builder.credentials(
                lettre::transport::smtp::authentication::Credentials::new(user, password),
            );
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| NotifyError::MailFrom(e.to_string()))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    async fn send(&self, message: Message) -> Result<(), Failure> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::Never(e.to_string())),
            Err(e) => Err(Failure::Again(e.to_string())),
        }
    }
}

/// Why a delivery failed.
enum Failure {
    /// Try again later.
    Again(String),
    /// It can never succeed.
    Never(String),
}

/// Everything the notifier needs: the store, the sinks, and the node's
/// address for the links in mail.
pub struct Notifier {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub webhook: Option<Webhook>,
    pub mail: Option<Mail>,
    /// The node's public URL, for badge page links.
    pub base_url: String,
    /// The first retry's wait; each next one doubles, up to an hour.
    pub retry_min: Duration,
    /// How long before a credential runs out its earner and the webhook
    /// hear of it.
    pub expiry_notice: Duration,
}

impl Notifier {
    fn sinks(&self) -> Vec<Sink> {
        let mut sinks = Vec::new();
        if self.webhook.is_some() {
            sinks.push(Sink::Webhook);
        }
        if self.mail.is_some() {
            sinks.push(Sink::Mail);
        }
        sinks
    }

    /// Runs until aborted: announces credentials running out, fans events
    /// out, and delivers to each sink.
    pub async fn run(self: Arc<Self>) {
        let sinks = self.sinks();
        if sinks.is_empty() {
            return;
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        // Each sink's loop ends with this task (aborted at shutdown).
        let loops: Vec<_> = sinks
            .iter()
            .map(|&sink| {
                let (this, wake) = (self.clone(), wake.clone());
                AbortOnDrop(tokio::spawn(async move { this.deliver(sink, wake).await }))
            })
            .collect();
        let _loops = loops;
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            let now = chrono::Utc::now();
            if last_scan.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                let notice = self.expiry_notice.as_secs() as i64;
                if let Err(e) = self.store.announce_expiring(now.timestamp(), notice) {
                    tracing::warn!(error = %e, "cannot announce credentials running out");
                }
                last_scan = Some(std::time::Instant::now());
            }
            match self.store.fan_out(&sinks, now.timestamp_millis(), 1000) {
                Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
                Ok(_) => wake.notify_waiters(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn deliver(self: Arc<Self>, sink: Sink, wake: Arc<tokio::sync::Notify>) {
        use futures_util::StreamExt;
        loop {
            let woken = wake.notified();
            let now = chrono::Utc::now().timestamp_millis();
            let (due, next) = match self.store.due(sink, now, 64) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if due.is_empty() {
                let wait = next.map_or(Duration::from_secs(1), |at| {
                    Duration::from_millis((at - now).clamp(1, 1000) as u64)
                });
                let _ = tokio::time::timeout(wait, woken).await;
                continue;
            }
            futures_util::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |d| {
                    let this = self.clone();
                    async move { this.attempt(sink, d).await }
                })
                .await;
        }
    }

    async fn attempt(&self, sink: Sink, due: Due) {
        let outcome = match sink {
            Sink::Webhook => match &self.webhook {
                Some(w) => w.send(&due.delivery).await,
                None => return,
            },
            Sink::Mail => match (&self.mail, self.message(&due.delivery)) {
                (Some(m), Ok(Some(message))) => m.send(message).await,
                // The credential is gone (or never was): nothing to say.
                (Some(_), Ok(None)) => Ok(()),
                (Some(_), Err(e)) => Err(Failure::Again(e.to_string())),
                (None, _) => return,
            },
        };
        let label = sink.as_str();
        let recorded = match outcome {
            Ok(()) => {
                self.metrics
                    .notifications
                    .get_or_create(&vec![("sink", label), ("outcome", "delivered")])
                    .inc();
                self.store.delivered(&due)
            }
            Err(Failure::Again(reason)) => {
                self.metrics
                    .notifications
                    .get_or_create(&vec![("sink", label), ("outcome", "retried")])
                    .inc();
                let wait = backoff(self.retry_min, due.delivery.attempts);
                let said = loggable(sink, &reason);
                tracing::info!(sink = label, event = %due.delivery.event.id, attempts = due.delivery.attempts + 1,
                    retry_in_ms = wait.as_millis() as u64, reason = %said, "delivery failed; will retry");
                let at = chrono::Utc::now().timestamp_millis() + wait.as_millis() as i64;
                self.store.retry_at(&due, reason, at)
            }
            Err(Failure::Never(reason)) => {
                self.metrics
                    .notifications
                    .get_or_create(&vec![("sink", label), ("outcome", "refused")])
                    .inc();
                let said = loggable(sink, &reason);
                tracing::warn!(sink = label, event = %due.delivery.event.id, reason = %said, "delivery refused for good");
                self.store.give_up(&due, reason)
            }
        };
        if let Err(e) = recorded {
            // Left as it was: it is sent again, with the same event id.
            tracing::warn!(error = %e, "cannot record a delivery");
        }
    }

    /// The mail for a delivery, in the earner's language; `None` when its
    /// credential is not stored.
    fn message(&self, delivery: &Delivery) -> Result<Option<Message>, StoreError> {
        let (Some(to), Some(credential)) = (
            delivery.to.as_ref(),
            self.store.credential(&delivery.event.credential_id)?,
        ) else {
            return Ok(None);
        };
        let Ok(mailbox) = to.email.parse::<Mailbox>() else {
            return Ok(None);
        };
        let mail = compose(
            delivery.event.kind,
            &credential,
            to.language.as_deref(),
            &format!(
                "{}{}",
                self.base_url,
                crate::published::page_path(&self.store.share_id(&delivery.event.credential_id))
            ),
        );
        let host = reqwest::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "cairn.invalid".into());
        let message = Message::builder()
            .from(self.mail.as_ref().map_or_else(
                || "cairn@localhost".parse().expect("a valid address"),
                |m| m.from.clone(),
            ))
            .to(mailbox)
            // The event's id: a repeated delivery is the same message.
            .message_id(Some(format!("<{}@{host}>", delivery.event.id)))
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body);
        Ok(message.ok())
    }
}

/// What a failure says, fit for the log: a mail server's reply often
/// quotes the earner's address, so only its words without an `@` are kept.
fn loggable(sink: Sink, reason: &str) -> String {
    match sink {
        Sink::Webhook => reason.to_owned(),
        Sink::Mail => reason
            .split_whitespace()
            .filter(|w| !w.contains('@'))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The wait before attempt `attempts + 1`: `min`, doubled per failure, at
/// most an hour, with a tenth of jitter so that retries spread out.
fn backoff(min: Duration, attempts: u32) -> Duration {
    let base = min.saturating_mul(1u32 << attempts.min(20)).min(MAX_RETRY);
    let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=base.as_millis() as u64 / 10);
    base + Duration::from_millis(jitter)
}

/// A mail's subject and text.
pub struct Composed {
    pub subject: String,
    pub body: String,
}

/// The languages mail is written in; others get English.
const MAIL_LANGUAGES: [(&str, &str); 2] = [
    ("en", include_str!("../templates/mail/en.txt")),
    ("fr", include_str!("../templates/mail/fr.txt")),
];

/// Writes the mail about `kind` for `credential`, in `language` (its
/// primary subtag; English when there is no template for it).
pub fn compose(
    kind: EventKind,
    credential: &Value,
    language: Option<&str>,
    page: &str,
) -> Composed {
    let primary = language
        .and_then(|l| l.split('-').next())
        .map(str::to_ascii_lowercase);
    let (lang, template) = MAIL_LANGUAGES
        .iter()
        .find(|(l, _)| Some(*l) == primary.as_deref())
        .unwrap_or(&MAIL_LANGUAGES[0]);
    let achievement = text_in(
        &credential["credentialSubject"]["achievement"]["name"],
        lang,
    );
    let issuer = match &credential["issuer"] {
        Value::String(s) => s.clone(),
        other => {
            let name = text_in(&other["name"], lang);
            if name.is_empty() {
                other["id"].as_str().unwrap_or_default().to_owned()
            } else {
                name
            }
        }
    };
    let until = credential["validUntil"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let env = minijinja::Environment::new();
    let rendered = env
        .render_str(
            template,
            minijinja::context! {
                kind => kind.as_str(),
                achievement => achievement,
                issuer => issuer,
                until => until,
                page => page,
            },
        )
        .expect("the mail templates are compiled in and render");
    let (subject, body) = rendered
        .trim_start()
        .split_once('\n')
        .unwrap_or((rendered.as_str(), ""));
    Composed {
        subject: subject
            .trim()
            .trim_start_matches("Subject:")
            .trim()
            .to_owned(),
        body: body.trim_start_matches('\n').to_owned(),
    }
}

/// A name as a credential gives it: a string, or language values, the one
/// in `lang` first.
fn text_in(value: &Value, lang: &str) -> String {
    crate::published::text_in(value, lang).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_signature_is_hmac_of_time_dot_body() {
        // RFC 4231 case 2's key, over "1700000000.{}".
        let sig = signature(b"Jefe", 1_700_000_000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=1700000000,v1={expected}"));
        assert_ne!(sig, signature(b"Jefe", 1_700_000_001, b"{}"));
    }

    #[test]
    fn mail_is_written_in_the_earners_language() {
        let credential = json!({
            "issuer": {"id": "did:key:z6Mk", "name": "Board of Nursing"},
            "validUntil": "2029-03-01T00:00:00Z",
            "credentialSubject": {"achievement": {"name": [
                {"@value": "Registered Nurse", "@language": "en"},
                {"@value": "Infirmière diplômée", "@language": "fr"}]}}
        });
        let page = "https://board.example/b/abc";
        let en = compose(EventKind::Expiring, &credential, Some("en-GB"), page);
        assert!(en.subject.contains("Registered Nurse"), "{}", en.subject);
        assert!(
            en.body.contains("2029-03-01") && en.body.contains(page),
            "{}",
            en.body
        );
        let fr = compose(EventKind::Anchored, &credential, Some("fr"), page);
        assert!(fr.subject.contains("Infirmière diplômée"), "{}", fr.subject);
        assert!(fr.body.contains("Board of Nursing") && fr.body.contains(page));
        let revoked = compose(EventKind::Revoked, &credential, Some("de"), page);
        assert!(revoked.subject.contains("revoked"), "{}", revoked.subject);
    }

    #[test]
    fn no_address_reaches_the_log() {
        let reply = "550 5.1.1 <ana@example.org>: Recipient address rejected";
        assert_eq!(
            loggable(Sink::Mail, reply),
            "550 5.1.1 Recipient address rejected"
        );
        assert_eq!(loggable(Sink::Webhook, "answered 503"), "answered 503");
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        let min = Duration::from_millis(100);
        let first = backoff(min, 0);
        assert!(first >= min && first <= Duration::from_millis(110));
        let fifth = backoff(min, 4);
        assert!(fifth >= Duration::from_millis(1600) && fifth <= Duration::from_millis(1760));
        assert!(backoff(min, 40) <= MAX_RETRY + MAX_RETRY / 10);
    }
}
