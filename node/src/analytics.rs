//! What readers do with the badges, by day, per credential and per badge
//! class: page views, verifications, downloads, shares and wallet claims.
//!
//! Counting is an increment in memory ([`Counter`]); the node writes what
//! was counted every few seconds ([`FLUSH_EVERY`]), so a crash loses at most
//! those seconds and no reader waits on a write. Nothing about the reader is
//! kept: no address, no user agent, and a reader who asks not to be tracked
//! (`DNT: 1`, `Sec-GPC: 1`) counts only for the badge class, not for the
//! credential. [`Report`] is the wire format of `GET /analytics`, which
//! `cairn analytics` reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often the node writes its counts.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// One kind of thing a reader did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    PageView,
    /// A badge page's verification ran in the reader's browser.
    VerifyInPage,
    /// `POST /credentials/verify` with one of this node's credentials.
    VerifyApi,
    DownloadPng,
    DownloadSvg,
    DownloadJson,
    DownloadBundle,
    ShareLinkedIn,
    ShareCopyLink,
    /// A credential claimed into a wallet.
    Claim,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::PageView,
        Event::VerifyInPage,
        Event::VerifyApi,
        Event::DownloadPng,
        Event::DownloadSvg,
        Event::DownloadJson,
        Event::DownloadBundle,
        Event::ShareLinkedIn,
        Event::ShareCopyLink,
        Event::Claim,
    ];

    /// Its name in reports (JSON members, CSV columns).
    pub fn name(self) -> &'static str {
        match self {
            Event::PageView => "pageViews",
            Event::VerifyInPage => "verificationsInPage",
            Event::VerifyApi => "verificationsApi",
            Event::DownloadPng => "downloadsPng",
            Event::DownloadSvg => "downloadsSvg",
            Event::DownloadJson => "downloadsJson",
            Event::DownloadBundle => "downloadsBundle",
            Event::ShareLinkedIn => "sharesLinkedIn",
            Event::ShareCopyLink => "sharesCopyLink",
            Event::Claim => "walletClaims",
        }
    }

    /// Its byte in stored keys; never renumbered.
    pub fn code(self) -> u8 {
        Event::ALL
            .iter()
            .position(|e| *e == self)
            .expect("every event is in ALL") as u8
    }

    pub fn from_code(code: u8) -> Option<Event> {
        Event::ALL.get(usize::from(code)).copied()
    }
}

/// What one count is of. `achievement` is the badge class's handle (or
/// the achievement's id for a credential not issued from a class), empty
/// for none; `credential` is empty when the reader asked not to be
/// tracked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Days since 1970-01-01 (UTC).
    pub day: i32,
    pub event: Event,
    pub achievement: String,
    pub credential: String,
}

/// The day `unix` seconds fall in.
pub fn day_of(unix: i64) -> i32 {
    unix.div_euclid(86_400) as i32
}

/// A day as `YYYY-MM-DD`.
pub fn day_name(day: i32) -> String {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `YYYY-MM-DD` as a day.
pub fn parse_day(s: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(day_of(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp()))
}

/// Counts not yet written.
#[derive(Default)]
pub struct Counter {
    pending: Mutex<HashMap<Key, u64>>,
}

impl Counter {
    /// Counts one `event` today.
    pub fn count(&self, event: Event, achievement: &str, credential: Option<&str>) {
        // A NUL would split a stored key in the wrong place.
        let text = |s: &str| s.replace('\0', "\u{fffd}");
        let key = Key {
            day: day_of(chrono::Utc::now().timestamp()),
            event,
            achievement: text(achievement),
            credential: text(credential.unwrap_or_default()),
        };
        *self
            .pending
            .lock()
            .expect("analytics lock")
            .entry(key)
            .or_default() += 1;
    }

    /// Takes what was counted, to write it.
    pub fn take(&self) -> HashMap<Key, u64> {
        std::mem::take(&mut *self.pending.lock().expect("analytics lock"))
    }

    /// Puts back counts whose write failed, to try again.
    pub fn put_back(&self, counts: HashMap<Key, u64>) {
        let mut pending = self.pending.lock().expect("analytics lock");
        for (k, n) in counts {
            *pending.entry(k).or_default() += n;
        }
    }

    /// The counts not written yet, within days `from..=to`.
    pub fn pending(&self, from: i32, to: i32) -> Vec<(Key, u64)> {
        self.pending
            .lock()
            .expect("analytics lock")
            .iter()
            .filter(|(k, _)| (from..=to).contains(&k.day))
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }
}

/// The counts of each event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub page_views: u64,
    pub verifications_in_page: u64,
    pub verifications_api: u64,
    pub downloads_png: u64,
    pub downloads_svg: u64,
    pub downloads_json: u64,
    pub downloads_bundle: u64,
    #[serde(rename = "sharesLinkedIn")]
    pub shares_linked_in: u64,
    pub shares_copy_link: u64,
    pub wallet_claims: u64,
}

impl Counts {
    fn slot(&mut self, event: Event) -> &mut u64 {
        match event {
            Event::PageView => &mut self.page_views,
            Event::VerifyInPage => &mut self.verifications_in_page,
            Event::VerifyApi => &mut self.verifications_api,
            Event::DownloadPng => &mut self.downloads_png,
            Event::DownloadSvg => &mut self.downloads_svg,
            Event::DownloadJson => &mut self.downloads_json,
            Event::DownloadBundle => &mut self.downloads_bundle,
            Event::ShareLinkedIn => &mut self.shares_linked_in,
            Event::ShareCopyLink => &mut self.shares_copy_link,
            Event::Claim => &mut self.wallet_claims,
        }
    }

    pub fn add(&mut self, event: Event, n: u64) {
        *self.slot(event) += n;
    }

    pub fn get(&self, event: Event) -> u64 {
        let mut copy = *self;
        *copy.slot(event)
    }

    /// Downloads of every kind.
    pub fn downloads(&self) -> u64 {
        self.downloads_png + self.downloads_svg + self.downloads_json + self.downloads_bundle
    }

    pub fn total(&self) -> u64 {
        Event::ALL.iter().map(|e| self.get(*e)).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCounts {
    pub day: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AchievementCounts {
    /// The badge class's handle, or the achievement's id.
    pub achievement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialCounts {
    pub credential: String,
    pub achievement: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// `GET /analytics`: the counts of days `from` to `to` (inclusive), of one
/// badge class or all, by day, per class and per credential (the
/// credentials most acted on first, at most [`Report::CREDENTIALS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achievement: Option<String>,
    pub totals: Counts,
    pub days: Vec<DayCounts>,
    pub achievements: Vec<AchievementCounts>,
    pub credentials: Vec<CredentialCounts>,
}

impl Report {
    /// Credentials listed at most (the CSV has every row).
    pub const CREDENTIALS: usize = 1000;

    /// The report of `rows` (every day of `from..=to` listed, counted or
    /// not); `names` gives classes' names by handle.
    pub fn new(
        from: i32,
        to: i32,
        achievement: Option<String>,
        rows: &[(Key, u64)],
        names: &HashMap<String, String>,
    ) -> Report {
        let mut totals = Counts::default();
        let mut days: BTreeMap<i32, Counts> = (from..=to).map(|d| (d, Counts::default())).collect();
        let mut classes: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut credentials: BTreeMap<(&str, &str), Counts> = BTreeMap::new();
        for (key, n) in rows {
            totals.add(key.event, *n);
            days.entry(key.day).or_default().add(key.event, *n);
            classes
                .entry(&key.achievement)
                .or_default()
                .add(key.event, *n);
            if !key.credential.is_empty() {
                credentials
                    .entry((&key.credential, &key.achievement))
                    .or_default()
                    .add(key.event, *n);
            }
        }
        let mut credentials: Vec<CredentialCounts> = credentials
            .into_iter()
            .map(|((c, a), counts)| CredentialCounts {
                credential: c.to_owned(),
                achievement: a.to_owned(),
                counts,
            })
            .collect();
        credentials.sort_by_key(|c| std::cmp::Reverse(c.counts.total()));
        credentials.truncate(Self::CREDENTIALS);
        Report {
            from: day_name(from),
            to: day_name(to),
            achievement,
            totals,
            days: days
                .into_iter()
                .map(|(d, counts)| DayCounts {
                    day: day_name(d),
                    counts,
                })
                .collect(),
            achievements: classes
                .into_iter()
                .map(|(a, counts)| AchievementCounts {
                    achievement: a.to_owned(),
                    name: names.get(a).cloned(),
                    counts,
                })
                .collect(),
            credentials,
        }
    }
}

/// The CSV of `rows`: one line per day, badge class and credential (empty
/// for readers not tracked), a column per event.
pub fn csv(rows: &[(Key, u64)]) -> String {
    let mut grouped: BTreeMap<(i32, &str, &str), Counts> = BTreeMap::new();
    for (key, n) in rows {
        grouped
            .entry((key.day, &key.achievement, &key.credential))
            .or_default()
            .add(key.event, *n);
    }
    let mut out = String::from("day,achievement,credential");
    for e in Event::ALL {
        out.push(',');
        out.push_str(e.name());
    }
    out.push('\n');
    for ((day, achievement, credential), counts) in grouped {
        out.push_str(&day_name(day));
        for cell in [achievement, credential] {
            out.push(',');
            out.push_str(&csv_cell(cell));
        }
        for e in Event::ALL {
            out.push(',');
            out.push_str(&counts.get(e).to_string());
        }
        out.push('\n');
    }
    out
}

/// A CSV cell (RFC 4180 quoting), with a leading `=`, `+`, `-`, `@`, tab
/// or carriage return behind an apostrophe, so that a spreadsheet never runs
/// it as a formula.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(day: i32, event: Event, a: &str, c: &str) -> Key {
        Key {
            day,
            event,
            achievement: a.into(),
            credential: c.into(),
        }
    }

    #[test]
    fn event_codes_round_trip_and_names_are_the_report_members() {
        for e in Event::ALL {
            assert_eq!(Event::from_code(e.code()), Some(e));
            let mut c = Counts::default();
            c.add(e, 3);
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json[e.name()], 3, "{e:?}");
        }
        assert_eq!(Event::from_code(200), None);
    }

    #[test]
    fn days_parse_and_print() {
        let d = parse_day("2026-12-02").unwrap();
        assert_eq!(day_name(d), "2026-12-02");
        assert_eq!(day_of(1_764_633_600), parse_day("2025-12-02").unwrap());
        assert!(parse_day("2026-13-01").is_none() && parse_day("yesterday").is_none());
    }

    #[test]
    fn a_report_sums_by_day_class_and_credential_and_keeps_untracked_readers_anonymous() {
        let d = parse_day("2026-12-01").unwrap();
        let rows = vec![
            (key(d, Event::PageView, "nurse", "urn:a"), 3),
            (key(d + 1, Event::PageView, "nurse", "urn:a"), 1),
            (key(d + 1, Event::PageView, "nurse", ""), 2),
            (key(d + 1, Event::DownloadPng, "midwife", "urn:b"), 5),
        ];
        let names = HashMap::from([("nurse".to_owned(), "Registered Nurse".to_owned())]);
        let r = Report::new(d, d + 2, None, &rows, &names);
        assert_eq!(r.totals.page_views, 6);
        assert_eq!(r.days.len(), 3);
        assert_eq!(r.days[1].counts.page_views, 3);
        assert_eq!(r.days[2].counts, Counts::default());
        assert_eq!(r.achievements[1].name.as_deref(), Some("Registered Nurse"));
        assert_eq!(r.achievements[1].counts.page_views, 6);
        assert_eq!(r.credentials[0].credential, "urn:b", "most acted on first");
        assert_eq!(
            r.credentials[1].counts.page_views, 4,
            "the untracked two are not here"
        );
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let text = csv(&rows);
        assert!(text.starts_with("day,achievement,credential,pageViews,"));
        assert!(text.contains("\n2026-12-02,nurse,,2,"), "{text}");
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("\t=1"), "'\t=1");
    }

    #[test]
    fn counts_put_back_after_a_failed_write_add_up() {
        let counter = Counter::default();
        counter.count(Event::PageView, "nurse", Some("urn:a"));
        counter.count(Event::PageView, "nurse", Some("urn:a"));
        let taken = counter.take();
        assert!(counter.take().is_empty());
        counter.count(Event::PageView, "nurse", Some("urn:a"));
        counter.put_back(taken);
        let today = day_of(chrono::Utc::now().timestamp());
        let pending = counter.pending(today, today);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1, 3);
        assert!(counter.pending(today + 1, today + 9).is_empty());
        counter.count(Event::Claim, "a\0b", Some("c"));
        assert!(counter.take().keys().all(|k| !k.achievement.contains('\0')));
    }
}
