//! A roster: a class list as CSV, its columns mapped to what a credential
//! from a badge class needs, and every row checked before anything is
//! issued, each bad one with its line and reason. Rules only, no I/O: the
//! console reads the upload and issues the good rows.

use cairn_verifier::credential::{fmt_time, parse_time, Recipient};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The largest roster file.
pub const MAX_BYTES: usize = 2 << 20;
/// Rows in one roster at most.
pub const MAX_ROWS: usize = 10_000;

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The earner: an email address or a DID.
    Recipient,
    /// The earner's name, shown on the badge.
    Name,
    /// Where the earner's mail goes (when the recipient is a DID, or to
    /// mail an emailed recipient).
    Email,
    ValidFrom,
    ValidUntil,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Recipient,
        Field::Name,
        Field::Email,
        Field::ValidFrom,
        Field::ValidUntil,
    ];

    /// Its name in forms and result files.
    pub fn name(self) -> &'static str {
        match self {
            Field::Recipient => "recipient",
            Field::Name => "name",
            Field::Email => "email",
            Field::ValidFrom => "validFrom",
            Field::ValidUntil => "validUntil",
        }
    }

    /// Header names (lower case, without spaces, `-` or `_`) that mean it.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Recipient => &["recipient", "did", "earner", "identifier"],
            Field::Name => &["name", "fullname", "earnername", "recipientname"],
            Field::Email => &["email", "emailaddress", "mail", "recipientemail"],
            Field::ValidFrom => &["validfrom", "issued", "awarded", "from", "start"],
            Field::ValidUntil => &["validuntil", "expires", "expiry", "until", "end"],
        }
    }
}

/// An uploaded roster: its header and its rows, each with its line.
#[derive(Debug, Clone)]
pub struct Roster {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Which column (by index) holds each field, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping(pub [Option<usize>; 5]);

impl Mapping {
    pub fn get(&self, field: Field) -> Option<usize> {
        self.0[field as usize]
    }

    pub fn set(&mut self, field: Field, column: Option<usize>) {
        self.0[field as usize] = column;
    }
}

/// One good row, ready to issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub recipient: Recipient,
    pub name: Option<String>,
    pub email: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A row that cannot be issued, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// Reads a roster (UTF-8 CSV with a header line; a byte-order mark is
/// allowed), refusing one over [`MAX_BYTES`] or [`MAX_ROWS`].
pub fn parse(bytes: &[u8]) -> Result<Roster, String> {
    read(bytes, MAX_BYTES, MAX_ROWS)
}

/// [`parse`] with limits of the caller's (`cairn issue --csv` sends up to
/// a bulk request's items).
pub fn read(bytes: &[u8], max_bytes: usize, max_rows: usize) -> Result<Roster, String> {
    if bytes.len() > max_bytes {
        return Err(format!(
            "the file is over {} MB; split the roster",
            max_bytes >> 20
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header line: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("the file has no header line naming its columns".into());
    }
    let mut rows = Vec::new();
    // The csv crate's line numbers miss blank lines before a record: count
    // them from its byte offsets, going forward only.
    let mut lines = Lines {
        bytes,
        at: 0,
        line: 1,
    };
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {e}", lines.of(p.byte())),
            None => e.to_string(),
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == max_rows {
            return Err(format!("more than {max_rows} rows; split the roster"));
        }
        let line = record.position().map_or(0, |p| lines.of(p.byte()));
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    if rows.is_empty() {
        return Err("the file has a header line and no rows".into());
    }
    Ok(Roster { headers, rows })
}

/// Line numbers of byte offsets, asked in increasing order.
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line of the first character at or after `byte` that is not a
    /// line break (where a record's text starts).
    fn of(&mut self, byte: u64) -> u64 {
        let mut end = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while end < self.bytes.len() && matches!(self.bytes[end], b'\n' | b'\r') {
            end += 1;
        }
        if end > self.at {
            self.line += self.bytes[self.at..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.at = end;
        }
        self.line
    }
}

/// The columns whose headers name a field.
pub fn guess(headers: &[String]) -> Mapping {
    let mut mapping = Mapping::default();
    for field in Field::ALL {
        let found = headers.iter().position(|h| {
            let plain: String = h
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '_'))
                .collect::<String>()
                .to_lowercase();
            field.aliases().contains(&plain.as_str())
        });
        mapping.set(field, found);
    }
    // A roster of addresses alone: they are the recipients.
    if mapping.get(Field::Recipient).is_none() {
        mapping.set(Field::Recipient, mapping.get(Field::Email));
    }
    mapping
}

/// Checks every row against `mapping`: the good ones to issue and the bad
/// ones with their reasons. A mapping without a recipient column makes
/// every row bad.
pub fn check(roster: &Roster, mapping: &Mapping) -> (Vec<Row>, Vec<BadRow>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (line, cells) in &roster.rows {
        match row(*line, cells, mapping) {
            Ok(r) => good.push(r),
            Err(reason) => bad.push(BadRow {
                line: *line,
                reason,
            }),
        }
    }
    (good, bad)
}

fn row(line: u64, cells: &[String], mapping: &Mapping) -> Result<Row, String> {
    let cell = |f: Field| {
        mapping
            .get(f)
            .and_then(|i| cells.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let recipient_text = cell(Field::Recipient).ok_or("recipient: empty")?;
    let recipient: Recipient = recipient_text
        .parse()
        .map_err(|e: cairn_verifier::credential::FieldError| format!("recipient: {}", e.reason))?;
    let email = match cell(Field::Email) {
        None => None,
        Some(e) => {
            if e.len() > 254 || !matches!(e.parse(), Ok(Recipient::Email(_))) || !mailable(e) {
                return Err(format!("email: `{e}` is not an email address"));
            }
            Some(e.to_owned())
        }
    };
    if let (Recipient::Email(r), Some(e)) = (&recipient, &email) {
        if !r.eq_ignore_ascii_case(e) {
            return Err(format!(
                "email: `{e}` is not the recipient's address `{r}`; mail goes only to the recipient"
            ));
        }
    }
    let name = cell(Field::Name).map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err("name: longer than 200 characters".into());
    }
    let time = |f: Field, end_of_day: bool| {
        cell(f)
            .map(|s| parse_time(s, end_of_day).map_err(|e| format!("{}: {e}", f.name())))
            .transpose()
    };
    let valid_from = time(Field::ValidFrom, false)?;
    let valid_until = time(Field::ValidUntil, true)?;
    if let (Some(f), Some(u)) = (valid_from, valid_until) {
        if u <= f {
            return Err(format!(
                "validUntil: {} is not after validFrom {}",
                fmt_time(u),
                fmt_time(f)
            ));
        }
    }
    Ok(Row {
        line,
        email: email.or_else(|| match &recipient {
            Recipient::Email(e) => Some(e.clone()),
            Recipient::Did(_) => None,
        }),
        recipient,
        name,
        valid_from,
        valid_until,
    })
}

/// Whether mail can go to `address` (the mailer's own rule; without the
/// server, which mails nothing, any address the credential takes).
#[cfg(feature = "server")]
fn mailable(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

#[cfg(not(feature = "server"))]
fn mailable(address: &str) -> bool {
    !address.is_empty()
}

impl Row {
    /// The recipient's part of a credential from a badge class (what
    /// `POST /credentials/issue` takes with `options.achievement`).
    pub fn credential(&self) -> Value {
        let mut subject = self.recipient.subject();
        if let Some(name) = &self.name {
            subject.insert("name".into(), json!(name));
        }
        let mut credential = json!({ "credentialSubject": subject });
        if let Some(f) = self.valid_from {
            credential["validFrom"] = json!(fmt_time(f));
        }
        if let Some(u) = self.valid_until {
            credential["validUntil"] = json!(fmt_time(u));
        }
        credential
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the bytes, reading and checking a roster ends, and
        /// every row read comes out either good or bad, by its line.
        #[test]
        fn any_file_gives_each_row_one_verdict(bytes in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b'@'), Just(b':'),
                        Just(b' '), Just(0xef), Just(0xbb), b'a'..=b'e', b'0'..=b'3'],
            0..200,
        )) {
            if let Ok(roster) = parse(&bytes) {
                let (good, bad) = check(&roster, &guess(&roster.headers));
                prop_assert_eq!(good.len() + bad.len(), roster.rows.len());
                let mut lines: Vec<u64> = good.iter().map(|r| r.line).chain(bad.iter().map(|b| b.line)).collect();
                lines.sort_unstable();
                let read: Vec<u64> = roster.rows.iter().map(|(l, _)| *l).collect();
                prop_assert_eq!(lines, read);
            }
        }

        /// A row's line is the line it stands on in the file, blank lines
        /// and Windows line ends included.
        #[test]
        fn rows_keep_their_lines(blanks in proptest::collection::vec(any::<bool>(), 1..40), crlf in any::<bool>()) {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("recipient,name{end}");
            let mut expected = Vec::new();
            for (i, blank) in blanks.iter().enumerate() {
                if !blank {
                    text.push_str(&format!("e{i}@example.org,Earner {i}"));
                    expected.push(i as u64 + 2);
                }
                text.push_str(end);
            }
            if expected.is_empty() {
                prop_assert!(parse(text.as_bytes()).is_err(), "a roster of no rows");
                return Ok(());
            }
            let roster = parse(text.as_bytes()).unwrap();
            let (good, bad) = check(&roster, &guess(&roster.headers));
            prop_assert!(bad.is_empty(), "{:?}", bad);
            prop_assert_eq!(good.iter().map(|r| r.line).collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn headers_are_guessed_and_rows_checked_by_line() {
        let text = "\u{feff}Full Name,E-mail,Valid Until\n\
                    Ada Lovelace,ada@example.org,2030-01-01\n\
                    \n\
                    Bad Row,not-an-address,2030-01-01\n\
                    Late,late@example.org,1999-13-01\n";
        let roster = parse(text.as_bytes()).unwrap();
        assert_eq!(roster.rows.len(), 3);
        let mapping = guess(&roster.headers);
        assert_eq!(mapping.get(Field::Name), Some(0));
        assert_eq!(mapping.get(Field::Email), Some(1));
        assert_eq!(
            mapping.get(Field::Recipient),
            Some(1),
            "addresses are the recipients"
        );
        assert_eq!(mapping.get(Field::ValidUntil), Some(2));
        let (good, bad) = check(&roster, &mapping);
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].line, 2);
        assert_eq!(good[0].email.as_deref(), Some("ada@example.org"));
        let vc = good[0].credential();
        assert_eq!(vc["credentialSubject"]["name"], "Ada Lovelace");
        assert_eq!(vc["validUntil"], "2030-01-01T23:59:59Z");
        assert!(vc["credentialSubject"]["identifier"][0]["identityHash"].is_string());
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![4, 5]);
        assert!(bad[0].reason.starts_with("recipient:"), "{}", bad[0].reason);
        assert!(
            bad[1].reason.starts_with("validUntil:"),
            "{}",
            bad[1].reason
        );
    }

    #[test]
    fn a_did_recipient_may_be_mailed_and_an_emailed_one_only_at_its_address() {
        let text = "recipient,email\n\
                    did:example:ada,ada@example.org\n\
                    bob@example.org,eve@example.org\n";
        let roster = parse(text.as_bytes()).unwrap();
        let (good, bad) = check(&roster, &guess(&roster.headers));
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].recipient, Recipient::Did("did:example:ada".into()));
        assert_eq!(good[0].email.as_deref(), Some("ada@example.org"));
        assert_eq!(bad[0].line, 3);
        assert!(bad[0].reason.contains("only to the recipient"));
    }

    #[test]
    fn an_unmapped_recipient_and_bad_files_are_refused() {
        let roster = parse(b"name\nAda\n").unwrap();
        let (good, bad) = check(&roster, &guess(&roster.headers));
        assert!(good.is_empty());
        assert_eq!(bad[0].reason, "recipient: empty");
        assert!(parse(b"recipient\n").unwrap_err().contains("no rows"));
        assert!(parse(b"").is_err());
        assert!(parse(b"a,\"b\n1,2\n").is_err(), "an unclosed quote");
        assert!(parse(&vec![b'x'; MAX_BYTES + 1])
            .unwrap_err()
            .contains("MB"));
        let many = format!("recipient\n{}", "a@b.org\n".repeat(MAX_ROWS + 1));
        assert!(parse(many.as_bytes()).unwrap_err().contains("rows"));
        let (_, bad) = check(
            &parse(b"recipient,validFrom,validUntil\na@b.org,2030-01-02,2030-01-01\n").unwrap(),
            &guess(&["recipient".into(), "validFrom".into(), "validUntil".into()]),
        );
        assert!(bad[0].reason.contains("not after"), "{}", bad[0].reason);
    }
}
