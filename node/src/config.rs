//! The node's settings: flags, then the environment (`CAIRN_*`), then a
//! `cairn.toml` file, then defaults, in that order of precedence.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::Address;
use serde::Deserialize;

/// The settings as read from `cairn.toml`; every field optional. Names are
/// the flags' names.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileSettings {
    pub data_dir: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub batch_size: Option<usize>,
    pub batch_max_age: Option<u64>,
    pub batch_max_leaves: Option<usize>,
    pub max_anchors_in_flight: Option<usize>,
    pub rpc_url: Option<String>,
    pub contract: Option<Address>,
    pub confirmations: Option<u64>,
    pub max_fee_gwei: Option<u64>,
    pub public_url: Option<String>,
    /// Chain JSON-RPC URLs that badge pages read the registry from.
    pub public_rpc_url: Option<Vec<String>>,
    pub allow_vocab: Option<bool>,
    /// Issuer extension contexts, `URL=FILE` each.
    pub context: Option<Vec<String>>,
    pub webhook_url: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub expiry_notice_days: Option<u32>,
    pub notify_retry_ms: Option<u64>,
    /// How long a claim link works: `30d`, `12h`, `90m` or `3600s`.
    pub offer_ttl: Option<String>,
    /// Badges also carry 1EdTech's revocation list status and refresh
    /// service.
    #[serde(rename = "1edtech-status")]
    pub onedtech_status: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl FileSettings {
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| ConfigError::File {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses the text of a settings file; the error is one line.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))
    }

    /// `self` with every field it leaves unset taken from `lower`.
    pub fn or(self, lower: FileSettings) -> FileSettings {
        FileSettings {
            data_dir: self.data_dir.or(lower.data_dir),
            key: self.key.or(lower.key),
            listen: self.listen.or(lower.listen),
            batch_size: self.batch_size.or(lower.batch_size),
            batch_max_age: self.batch_max_age.or(lower.batch_max_age),
            batch_max_leaves: self.batch_max_leaves.or(lower.batch_max_leaves),
            max_anchors_in_flight: self.max_anchors_in_flight.or(lower.max_anchors_in_flight),
            rpc_url: self.rpc_url.or(lower.rpc_url),
            contract: self.contract.or(lower.contract),
            confirmations: self.confirmations.or(lower.confirmations),
            max_fee_gwei: self.max_fee_gwei.or(lower.max_fee_gwei),
            public_url: self.public_url.or(lower.public_url),
            public_rpc_url: self.public_rpc_url.or(lower.public_rpc_url),
            allow_vocab: self.allow_vocab.or(lower.allow_vocab),
            context: self.context.or(lower.context),
            webhook_url: self.webhook_url.or(lower.webhook_url),
            webhook_secret_file: self.webhook_secret_file.or(lower.webhook_secret_file),
            smtp_url: self.smtp_url.or(lower.smtp_url),
            mail_from: self.mail_from.or(lower.mail_from),
            expiry_notice_days: self.expiry_notice_days.or(lower.expiry_notice_days),
            notify_retry_ms: self.notify_retry_ms.or(lower.notify_retry_ms),
            offer_ttl: self.offer_ttl.or(lower.offer_ttl),
            onedtech_status: self.onedtech_status.or(lower.onedtech_status),
        }
    }
}

/// Which chain the node anchors on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainSetting {
    /// The embedded dev chain, kept in the data directory.
    Dev,
    /// A real chain's JSON-RPC and the registry deployed there.
    Rpc { url: String, contract: Address },
}

/// The resolved settings the node runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The issuer key file; `None`: a demo key in the data directory.
    pub key: Option<PathBuf>,
    pub listen: SocketAddr,
    /// A batch is sealed when this many credentials wait...
    pub batch_size: usize,
    /// ... or when the oldest has waited this long.
    pub batch_max_age: Duration,
    /// The most credentials one batch takes: while anchors are in flight,
    /// the queue grows and the next batch takes everything waiting, up to
    /// this.
    pub batch_max_leaves: usize,
    /// Anchors sent and not yet `confirmations` deep, at most.
    pub max_anchors_in_flight: usize,
    pub chain: ChainSetting,
    pub confirmations: u64,
    pub max_fee_per_gas: u128,
    /// The base URL under which the node is reached (for links it hands out).
    pub public_url: Option<String>,
    /// Chain JSON-RPC URLs published in badge pages, which read the
    /// registry from them in the reader's browser (never the node's own
    /// `--rpc-url`, which may carry a key). On the dev chain, the node's
    /// own `/devchain` by default.
    pub public_rpc_urls: Vec<String>,
    /// Sign credentials with terms that only VC 2.0's `@vocab` maps.
    pub allow_vocab: bool,
    /// Issuer extension contexts: the URL credentials name, and the file
    /// the node reads it from (never the network).
    pub contexts: Vec<(String, PathBuf)>,
    /// Where events go, and the file holding the secret that signs them.
    pub webhook: Option<(String, PathBuf)>,
    /// The SMTP server earners' mail goes through, and its sender.
    pub smtp: Option<(String, String)>,
    /// How long before a credential runs out its earner and the webhook
    /// hear of it.
    pub expiry_notice: Duration,
    /// The wait before a failed delivery's first retry (doubling after).
    pub notify_retry: Duration,
    /// How long an award's claim link works (`--offer-ttl`).
    pub offer_ttl: Duration,
    /// Badges also carry a `1EdTechRevocationList` status entry and a
    /// `1EdTechCredentialRefresh` service (`--1edtech-status`).
    pub onedtech_status: bool,
}

/// `--offer-ttl` by default, in days.
pub const DEFAULT_OFFER_TTL_DAYS: u64 = 30;

/// A duration as `--offer-ttl` takes it: a number and a unit (`d`, `h`,
/// `m` or `s`), from a minute to a year.
fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let seconds = n.checked_mul(match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    })?;
    (60..=366 * 86_400)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

/// `--expiry-notice-days` by default.
pub const DEFAULT_EXPIRY_NOTICE_DAYS: u32 = 30;

/// The queue length at which an idle anchorer seals a batch early.
pub const DEFAULT_BATCH_SIZE: usize = 10_000;
/// The limit on `--batch-size` and `--batch-max-leaves`: a seal is one
/// write held in memory, about 1 KB per leaf.
pub const MAX_BATCH_SIZE: usize = 1_000_000;
/// `--max-anchors-in-flight` by default: with 12 s blocks and 12
/// confirmations, a new batch every block for the first four blocks of a
/// burst, then one per block as the oldest reaches its depth.
pub const DEFAULT_ANCHORS_IN_FLIGHT: usize = 4;
/// Anchors in flight at most: each holds a nonce and is followed on its own.
pub const MAX_ANCHORS_IN_FLIGHT: usize = 64;

impl Settings {
    /// Resolves merged settings, applying defaults. The defaults depend on
    /// the chain: a real chain waits for ten minutes of issuance (a board
    /// issuing thousands a day pays for about 150 anchors a day at most) and
    /// 12 confirmations; the dev chain seals every 5 seconds and needs one.
    pub fn resolve(s: FileSettings) -> Result<Self, ConfigError> {
        let data_dir = s
            .data_dir
            .ok_or_else(|| ConfigError::Invalid("--data-dir is required".into()))?;
        let chain = match (s.rpc_url, s.contract) {
            (None, None) => ChainSetting::Dev,
            (Some(url), Some(contract)) => ChainSetting::Rpc { url, contract },
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "--rpc-url needs --contract (deploy one with `cairn contract deploy`)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid("--contract needs --rpc-url".into()))
            }
        };
        let dev = chain == ChainSetting::Dev;
        let batch_size = s.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 || batch_size > MAX_BATCH_SIZE {
            return Err(ConfigError::Invalid(format!(
                "--batch-size must be between 1 and {MAX_BATCH_SIZE}"
            )));
        }
        let batch_max_leaves = s.batch_max_leaves.unwrap_or(MAX_BATCH_SIZE);
        if batch_max_leaves < batch_size || batch_max_leaves > MAX_BATCH_SIZE {
            return Err(ConfigError::Invalid(format!(
                "--batch-max-leaves must be between --batch-size ({batch_size}) and {MAX_BATCH_SIZE}"
            )));
        }
        let max_anchors_in_flight = s.max_anchors_in_flight.unwrap_or(DEFAULT_ANCHORS_IN_FLIGHT);
        if !(1..=MAX_ANCHORS_IN_FLIGHT).contains(&max_anchors_in_flight) {
            return Err(ConfigError::Invalid(format!(
                "--max-anchors-in-flight must be between 1 and {MAX_ANCHORS_IN_FLIGHT}"
            )));
        }
        let batch_max_age = s.batch_max_age.unwrap_or(if dev { 5 } else { 600 });
        if batch_max_age == 0 {
            return Err(ConfigError::Invalid(
                "--batch-max-age must be at least 1 second".into(),
            ));
        }
        let confirmations = s.confirmations.unwrap_or(if dev { 1 } else { 12 });
        if confirmations == 0 {
            return Err(ConfigError::Invalid(
                "--confirmations must be at least 1".into(),
            ));
        }
        let public_rpc_urls = s.public_rpc_url.unwrap_or_default();
        if let Some(bad) = public_rpc_urls.iter().find(|u| {
            !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/'))
        }) {
            return Err(ConfigError::Invalid(format!(
                "--public-rpc-url `{bad}`: expected an http(s) URL (or a path on the node)"
            )));
        }
        let contexts = s
            .context
            .unwrap_or_default()
            .into_iter()
            .map(|spec| match spec.rsplit_once('=') {
                Some((url, file)) if !url.is_empty() && !file.is_empty() => {
                    Ok((url.to_owned(), PathBuf::from(file)))
                }
                _ => Err(ConfigError::Invalid(format!(
                    "--context `{spec}`: expected URL=FILE"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let webhook =
            match (s.webhook_url, s.webhook_secret_file) {
                (None, None) => None,
                (Some(url), Some(file)) => Some((url, file)),
                (Some(_), None) => return Err(ConfigError::Invalid(
                    "--webhook-url needs --webhook-secret-file (the secret that signs each event)"
                        .into(),
                )),
                (None, Some(_)) => {
                    return Err(ConfigError::Invalid(
                        "--webhook-secret-file needs --webhook-url".into(),
                    ))
                }
            };
        let smtp = match (s.smtp_url, s.mail_from) {
            (None, None) => None,
            (Some(url), Some(from)) => Some((url, from)),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "--smtp-url needs --mail-from (the sender of earners' mail)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid("--mail-from needs --smtp-url".into()))
            }
        };
        let notice_days = s.expiry_notice_days.unwrap_or(DEFAULT_EXPIRY_NOTICE_DAYS);
        if notice_days > 3650 {
            return Err(ConfigError::Invalid(
                "--expiry-notice-days must be at most 3650".into(),
            ));
        }
        let retry = s.notify_retry_ms.unwrap_or(10_000);
        if !(10..=3_600_000).contains(&retry) {
            return Err(ConfigError::Invalid(
                "--notify-retry-ms must be between 10 and 3600000".into(),
            ));
        }
        let offer_ttl = match s.offer_ttl.as_deref() {
            None => Duration::from_secs(DEFAULT_OFFER_TTL_DAYS * 86_400),
            Some(text) => parse_ttl(text).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "--offer-ttl `{text}`: expected a duration such as 30d, 12h, 90m or 3600s, from 1 minute to 1 year"
                ))
            })?,
        };
        Ok(Settings {
            offer_ttl,
            webhook,
            smtp,
            expiry_notice: Duration::from_secs(u64::from(notice_days) * 86_400),
            notify_retry: Duration::from_millis(retry),
            onedtech_status: s.onedtech_status.unwrap_or(false),
            data_dir,
            key: s.key,
            listen: s
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            batch_size,
            batch_max_age: Duration::from_secs(batch_max_age),
            batch_max_leaves,
            max_anchors_in_flight,
            chain,
            confirmations,
            max_fee_per_gas: u128::from(s.max_fee_gwei.unwrap_or(200)) * 1_000_000_000,
            public_url: s.public_url,
            public_rpc_urls,
            allow_vocab: s.allow_vocab.unwrap_or(false),
            contexts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_ttls_take_a_unit_and_stay_within_a_year() {
        assert_eq!(parse_ttl("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_ttl("12h"), Some(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_ttl("90m"), Some(Duration::from_secs(90 * 60)));
        assert_eq!(parse_ttl("3600s"), Some(Duration::from_secs(3_600)));
        for bad in [
            "",
            "30",
            "d",
            "30 d",
            "30w",
            "-1d",
            "59s",
            "367d",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_follow_the_chain() {
        let file: FileSettings = toml::from_str(
            "data-dir = \"/var/lib/cairn\"\nbatch-size = 500\nlisten = \"0.0.0.0:9000\"\n",
        )
        .unwrap();
        let flags = FileSettings {
            batch_size: Some(20),
            ..Default::default()
        };
        let s = Settings::resolve(flags.or(file)).unwrap();
        assert_eq!(s.batch_size, 20);
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.chain, ChainSetting::Dev);
        assert_eq!((s.confirmations, s.batch_max_age.as_secs()), (1, 5));
        assert_eq!(
            (s.batch_max_leaves, s.max_anchors_in_flight),
            (1_000_000, 4)
        );

        let real = FileSettings {
            data_dir: Some("d".into()),
            rpc_url: Some("http://127.0.0.1:8545".into()),
            contract: Some(Address::repeat_byte(1)),
            ..Default::default()
        };
        let s = Settings::resolve(real.clone()).unwrap();
        assert_eq!((s.confirmations, s.batch_max_age.as_secs()), (12, 600));
        let err = Settings::resolve(FileSettings {
            public_rpc_url: Some(vec!["ftp://x".into()]),
            ..real.clone()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--public-rpc-url"), "{err}");
        let err = Settings::resolve(FileSettings {
            contract: None,
            ..real
        })
        .unwrap_err();
        assert!(err.to_string().contains("--contract"), "{err}");
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "batch-size = \"many\"\n").unwrap();
        let err = FileSettings::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("batch-size") || err.contains("invalid type"),
            "{err}"
        );
        std::fs::write(&path, "batchsize = 3\n").unwrap();
        let err = FileSettings::read(&path).unwrap_err().to_string();
        assert!(err.contains("batchsize"), "{err}");
        let zero = FileSettings {
            data_dir: Some("d".into()),
            batch_size: Some(0),
            ..Default::default()
        };
        assert!(Settings::resolve(zero).is_err());
        let fewer = FileSettings {
            data_dir: Some("d".into()),
            batch_size: Some(100),
            batch_max_leaves: Some(99),
            ..Default::default()
        };
        let err = Settings::resolve(fewer).unwrap_err().to_string();
        assert!(err.contains("--batch-max-leaves"), "{err}");
        let none = FileSettings {
            data_dir: Some("d".into()),
            max_anchors_in_flight: Some(0),
            ..Default::default()
        };
        let err = Settings::resolve(none).unwrap_err().to_string();
        assert!(err.contains("--max-anchors-in-flight"), "{err}");
    }
}
