//! Document shapes and their canonical templates: the JSON-LD work of
//! canonicalizing a credential, done once for every credential of a shape.
//!
//! Expansion is most of what canonicalizing a credential costs: VC 2.0 and
//! Open Badges 3.0 define hundreds of terms, and every typed node
//! (`Achievement`, `AchievementSubject`, `Profile`, status entries) brings a
//! type-scoped context that the `json-ld` crate applies by copying the whole
//! active context. Yet an issuer's credentials share a shape: the same
//! members, types and nesting, with different strings in them (names, ids,
//! dates, status indices).
//!
//! Where a string lands in the RDF dataset, as a literal or as an IRI,
//! depends on its member and the contexts, not on the string, with two
//! exceptions this module keeps in the shape:
//! - values that steer expansion: `type` and the keywords (`@context`,
//!   `@type`, `@language`...) are kept whole;
//! - an IRI expands to itself only if its scheme is not a prefix the active
//!   context defines (where a context defines `ex`, `ex:thing` expands to
//!   the prefix's IRI followed by `thing`), so a string's class is kept:
//!   text, or an IRI with its scheme and whether an authority (`//`) follows.
//!
//! A shape's template comes from expanding a probe: the document with a
//! token of the same class in place of each string. A token that comes out
//! whole, as a literal's value or as a subject, object or graph IRI, marks a
//! slot. A token anywhere else (a predicate, a type, a datatype, a language,
//! part of a longer IRI) or nowhere shows a value that steers expansion
//! after all (`proofPurpose`'s value is a term, a context may alias `@type`):
//! that value is fixed in the shape's key and the probe made again. Filling
//! the slots gives the quads that expanding the document gives; RDFC-1.0
//! then labels and orders them as ever. A property test holds the result to
//! full canonicalization.

use std::collections::HashMap;

use serde_json::{Map, Value};
use ssi::json_ld::rdf_types::{Id, LexicalQuad, Literal, LiteralType, Quad, Term};
use ssi::json_ld::{Iri, IriBuf};

use crate::context::Contexts;

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// What a shape keeps of a string.
#[derive(Debug, PartialEq, Eq)]
enum Class<'a> {
    Text,
    Iri { scheme: &'a str, authority: bool },
}

fn class(s: &str) -> Class<'_> {
    if Iri::new(s).is_err() {
        return Class::Text;
    }
    match s.split_once(':') {
        Some((scheme, rest)) => Class::Iri {
            scheme,
            authority: rest.starts_with("//"),
        },
        None => Class::Text,
    }
}

/// Members whose values steer expansion rather than fill it: kept whole.
fn steers(member: &str) -> bool {
    member == "type" || (member.starts_with('@') && member != "@id" && member != "@value")
}

/// A document's shape (`key`) and the strings that fill it, in document
/// order.
pub(crate) struct Shape<'a> {
    pub key: String,
    pub values: Vec<&'a str>,
    /// The first IRI (or member name) whose percent-encoding does not
    /// decode to UTF-8, which the `json-ld` crate cannot hash.
    pub bad_iri: Option<&'a str>,
    /// Whether a nested object has its own `@context` (which
    /// [`plain_contexts`] does not read).
    pub nested_context: bool,
}

fn bad_percent(s: &str) -> bool {
    s.contains('%')
        && percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .is_err()
}

impl<'a> Shape<'a> {
    /// The shape of `doc` without its members named in `skip`.
    pub fn of(doc: &'a Map<String, Value>, skip: &[&str]) -> Self {
        let mut shape = Shape {
            key: String::with_capacity(1024),
            values: Vec::with_capacity(32),
            bad_iri: None,
            nested_context: false,
        };
        shape.object(doc, skip);
        shape
    }

    fn nested(&mut self, map: &'a Map<String, Value>) {
        self.nested_context |= map.contains_key("@context");
        self.object(map, &[]);
    }

    fn object(&mut self, map: &'a Map<String, Value>, skip: &[&str]) {
        self.key.push('{');
        for (member, value) in map {
            if skip.contains(&member.as_str()) {
                continue;
            }
            if bad_percent(member) {
                self.bad_iri.get_or_insert(member);
            }
            self.key.push_str(&Value::from(member.as_str()).to_string());
            self.key.push(':');
            if steers(member) {
                self.key.push_str(&value.to_string());
            } else {
                self.value(value);
            }
            self.key.push(',');
        }
        self.key.push('}');
    }

    fn value(&mut self, value: &'a Value) {
        match value {
            Value::String(s) => {
                match class(s) {
                    Class::Text => self.key.push_str("$t"),
                    Class::Iri { scheme, authority } => {
                        if bad_percent(s) {
                            self.bad_iri.get_or_insert(s);
                        }
                        self.key.push_str(if authority { "$a" } else { "$i" });
                        self.key.push_str(scheme);
                    }
                }
                self.values.push(s);
            }
            Value::Array(items) => {
                self.key.push('[');
                for item in items {
                    self.value(item);
                    self.key.push(',');
                }
                self.key.push(']');
            }
            Value::Object(map) => self.nested(map),
            other => self.key.push_str(&other.to_string()),
        }
    }

    /// What the probe holds for each value: a token of the value's class
    /// holding `nonce` (random per process, so no document can hold a token
    /// by design), or for the slots in `fixed`, the value itself. `None` if
    /// a token would not be of its value's class.
    pub fn tokens(&self, nonce: &str, fixed: &[usize]) -> Option<Vec<String>> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                if fixed.contains(&i) {
                    return Some(value.to_string());
                }
                let token = match class(value) {
                    Class::Text => format!("cairn slot {nonce} {i}"),
                    Class::Iri {
                        scheme,
                        authority: false,
                    } => format!("{scheme}:cairn-slot-{nonce}-{i}"),
                    Class::Iri {
                        scheme,
                        authority: true,
                    } => format!("{scheme}://cairn-slot-{nonce}-{i}.invalid/"),
                };
                (class(&token) == class(value)).then_some(token)
            })
            .collect()
    }

    /// The shape's key with the values of the slots in `fixed`, each as its
    /// slot number and its JSON string: no two sets of fixed values give the
    /// same key. With none fixed (an issuer's credentials), the key itself.
    pub fn key_with(&self, fixed: &[usize]) -> std::borrow::Cow<'_, str> {
        if fixed.is_empty() {
            return self.key.as_str().into();
        }
        let mut key = self.key.clone();
        for &i in fixed {
            let value = Value::from(self.values.get(i).copied().unwrap_or_default());
            key.push_str(&format!(" {i}={value}"));
        }
        key.into()
    }
}

/// Whether the contexts a document names (inline, or bundled and named by
/// URL, and the scoped contexts in them) let its shapes have templates:
/// every term they define is plain.
/// - Its name has no `:`. An IRI-looking string that is itself a term (a
///   context may define `urn:` or `urn:x`) expands to the term's mapping,
///   where the shape assumes an IRI expands to itself.
/// - It aliases no keyword but `id` (`@id`) and `type` (`@type`), which the
///   shape knows. An alias of `@graph` or `@included` would put its nodes in
///   a set where equal nodes merge, which distinct probe tokens never do.
/// - It is no reverse property, and the context imports nothing.
///
/// Checked once per shape, when its template is made; any doubt (an
/// unknown context, more than a few dozen to read) says no.
pub(crate) async fn plain_contexts(context: Option<&Value>, loader: &Contexts) -> bool {
    use ssi::json_ld::syntax::{Parse, Value as Json};
    use ssi::json_ld::Loader;
    let Some(context) = context else {
        return true;
    };
    let Ok((root, _)) = Json::parse_str(&context.to_string()) else {
        return false;
    };
    let mut pending = vec![root];
    let mut read = std::collections::HashSet::new();
    for _ in 0..64 {
        let Some(context) = pending.pop() else {
            return true;
        };
        match context {
            Json::String(url) => {
                if !read.insert(url.to_string()) {
                    continue;
                }
                let Ok(iri) = Iri::new(url.as_str()) else {
                    return false;
                };
                let Ok(doc) = loader.load(iri).await else {
                    return false;
                };
                match doc
                    .document()
                    .as_object()
                    .and_then(|o| o.get("@context").next())
                {
                    Some(inner) => pending.push(inner.clone()),
                    None => return false,
                }
            }
            Json::Array(items) => pending.extend(items),
            Json::Object(definitions) => {
                for entry in definitions.iter() {
                    let (term, definition) = (entry.key.as_str(), &entry.value);
                    if term == "@import" {
                        return false;
                    }
                    if term.starts_with('@') {
                        continue;
                    }
                    if term.contains(':') {
                        return false;
                    }
                    let target = match definition {
                        Json::String(s) => Some(s.as_str()),
                        Json::Object(o) => {
                            if o.get("@reverse").next().is_some() {
                                return false;
                            }
                            if let Some(scoped) = o.get("@context").next() {
                                pending.push(scoped.clone());
                            }
                            o.get("@id").next().and_then(Json::as_str)
                        }
                        _ => None,
                    };
                    if let Some(keyword) = target.filter(|t| t.starts_with('@')) {
                        if !matches!((term, keyword), ("id", "@id") | ("type", "@type")) {
                            return false;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// `doc` as [`Shape::of`] walks it, with `tokens[i]` in place of the `i`th
/// string it takes as a value.
pub(crate) fn probe(doc: &Map<String, Value>, skip: &[&str], tokens: &[String]) -> Value {
    fn object(
        map: &Map<String, Value>,
        skip: &[&str],
        tokens: &mut std::slice::Iter<String>,
    ) -> Value {
        let mut out = Map::new();
        for (member, value) in map {
            if skip.contains(&member.as_str()) {
                continue;
            }
            let value = if steers(member) {
                value.clone()
            } else {
                walk(value, tokens)
            };
            out.insert(member.clone(), value);
        }
        Value::Object(out)
    }
    fn walk(value: &Value, tokens: &mut std::slice::Iter<String>) -> Value {
        match value {
            Value::String(_) => Value::String(tokens.next().cloned().unwrap_or_default()),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, tokens)).collect()),
            Value::Object(map) => object(map, &[], tokens),
            other => other.clone(),
        }
    }
    object(doc, skip, &mut tokens.iter())
}

/// A subject, object IRI or graph: as the probe gave it, or a slot.
#[derive(Debug)]
enum Node {
    Fixed(Id),
    Slot(usize),
}

#[derive(Debug)]
enum Object {
    Fixed(Term),
    Iri(usize),
    Literal(usize, LiteralType),
}

/// The quads of a shape, with slots for its strings.
#[derive(Debug)]
pub(crate) struct Template {
    quads: Vec<(Node, IriBuf, Object, Option<Node>)>,
}

/// Reads the probe's quads, telling tokens from the rest.
struct Reader<'a> {
    index: HashMap<&'a str, usize>,
    nonce: &'a str,
    seen: Vec<bool>,
    /// Slots whose token came out where a string may not stand.
    misplaced: Vec<usize>,
    /// A token came out that names no slot: no template.
    lost: bool,
}

impl Reader<'_> {
    /// A whole token: its slot. A token inside something else: the slots
    /// it names are misplaced.
    fn slot(&mut self, s: &str) -> Option<usize> {
        match self.index.get(s) {
            Some(&i) => {
                self.seen[i] = true;
                Some(i)
            }
            None => {
                self.misplace(s);
                None
            }
        }
    }

    /// Marks the slots whose tokens occur in `s` as misplaced.
    fn misplace(&mut self, s: &str) {
        for (at, _) in s.match_indices(self.nonce) {
            // A token's slot number follows its nonce and one separator.
            let digits: String = s[at + self.nonce.len()..]
                .chars()
                .skip(1)
                .take_while(char::is_ascii_digit)
                .collect();
            match digits.parse() {
                Ok(i) if i < self.seen.len() => self.misplaced.push(i),
                _ => self.lost = true,
            }
        }
    }

    fn node(&mut self, id: Id) -> Node {
        if let Id::Iri(iri) = &id {
            if let Some(i) = self.slot(iri.as_str()) {
                return Node::Slot(i);
            }
        }
        Node::Fixed(id)
    }
}

/// Why a probe gave no template.
pub(crate) enum Refusal {
    /// These slots' values steer expansion here (a value that only a
    /// vocabulary or term makes an IRI, a hidden alias of `@type`...):
    /// fixing them in the shape may give a template.
    Fix(Vec<usize>),
    Never,
}

impl Template {
    /// The template a probe's quads make, if every token (of the slots not
    /// in `fixed`) came out whole, where a string may go, at least once.
    pub fn new(
        quads: Vec<LexicalQuad>,
        tokens: &[String],
        fixed: &[usize],
        nonce: &str,
    ) -> Result<Self, Refusal> {
        let mut reader = Reader {
            index: tokens
                .iter()
                .enumerate()
                .filter(|(i, _)| !fixed.contains(i))
                .map(|(i, t)| (t.as_str(), i))
                .collect(),
            nonce,
            seen: (0..tokens.len()).map(|i| fixed.contains(&i)).collect(),
            misplaced: Vec::new(),
            lost: false,
        };
        let mut out = Vec::with_capacity(quads.len());
        for Quad(s, p, o, g) in quads {
            reader.misplace(p.as_str());
            let object = match o {
                Term::Id(id) => match reader.node(id) {
                    // A type steers expansion: never a slot.
                    Node::Slot(i) if p.as_str() == RDF_TYPE => {
                        reader.misplaced.push(i);
                        Object::Iri(i)
                    }
                    Node::Slot(i) => Object::Iri(i),
                    Node::Fixed(id) => Object::Fixed(Term::Id(id)),
                },
                Term::Literal(Literal { value, type_ }) => {
                    match &type_ {
                        LiteralType::Any(iri) => reader.misplace(iri.as_str()),
                        LiteralType::LangString(tag) => reader.misplace(tag.as_str()),
                    }
                    match reader.slot(&value) {
                        Some(i) => Object::Literal(i, type_),
                        None => Object::Fixed(Term::Literal(Literal::new(value, type_))),
                    }
                }
            };
            let s = reader.node(s);
            let g = g.map(|g| reader.node(g));
            out.push((s, p, object, g));
        }
        let mut refused = reader.misplaced;
        refused.extend((0..tokens.len()).filter(|&i| !reader.seen[i]));
        refused.sort_unstable();
        refused.dedup();
        match (reader.lost, refused.is_empty()) {
            (true, _) => Err(Refusal::Never),
            (false, true) => Ok(Self { quads: out }),
            (false, false) => Err(Refusal::Fix(refused)),
        }
    }

    /// The quads with `values` in the slots; `None` if a value in an IRI
    /// slot is not an IRI.
    pub fn fill(&self, values: &[&str]) -> Option<Vec<LexicalQuad>> {
        let iri = |i: usize| IriBuf::new(values.get(i)?.to_string()).ok();
        let node = |n: &Node| -> Option<Id> {
            Some(match n {
                Node::Fixed(id) => id.clone(),
                Node::Slot(i) => Id::Iri(iri(*i)?),
            })
        };
        self.quads
            .iter()
            .map(|(s, p, o, g)| {
                let o = match o {
                    Object::Fixed(term) => term.clone(),
                    Object::Iri(i) => Term::Id(Id::Iri(iri(*i)?)),
                    Object::Literal(i, type_) => {
                        Term::Literal(Literal::new(values.get(*i)?.to_string(), type_.clone()))
                    }
                };
                let g = match g {
                    Some(g) => Some(node(g)?),
                    None => None,
                };
                Some(Quad(node(s)?, p.clone(), o, g))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classes() {
        assert_eq!(class("Registered Nurse"), Class::Text);
        assert_eq!(class(""), Class::Text);
        assert_eq!(class("_:b0"), Class::Text);
        assert_eq!(class("#fragment"), Class::Text);
        assert_eq!(
            class("urn:uuid:6a9e6f1e"),
            Class::Iri {
                scheme: "urn",
                authority: false
            }
        );
        assert_eq!(
            class("https://board.example/rn"),
            Class::Iri {
                scheme: "https",
                authority: true
            }
        );
        // A scheme starts with a letter.
        assert_eq!(class("2026-01-01T00:00:00Z"), Class::Text);
    }

    #[test]
    fn shape_keeps_structure_types_and_classes_not_strings() {
        let a = json!({"@context": ["x"], "type": ["T"], "id": "urn:a", "name": "A", "n": 1, "proof": {}});
        let b = json!({"@context": ["x"], "type": ["T"], "id": "urn:b", "name": "B", "n": 1, "proof": {"x": 1}});
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        let (sa, sb) = (Shape::of(a, &["proof"]), Shape::of(b, &["proof"]));
        assert_eq!(sa.key, sb.key);
        assert_eq!(sa.values, ["urn:a", "A"]);
        for other in [
            json!({"@context": ["y"], "type": ["T"], "id": "urn:b", "name": "B", "n": 1}),
            json!({"@context": ["x"], "type": ["U"], "id": "urn:b", "name": "B", "n": 1}),
            json!({"@context": ["x"], "type": ["T"], "id": "did:b", "name": "B", "n": 1}),
            json!({"@context": ["x"], "type": ["T"], "id": "urn:b", "name": "B", "n": 2}),
            json!({"@context": ["x"], "type": ["T"], "id": "urn:b", "name": ["B"], "n": 1}),
        ] {
            assert_ne!(
                Shape::of(other.as_object().unwrap(), &["proof"]).key,
                sa.key,
                "{other}"
            );
        }
    }

    #[test]
    fn bundled_contexts_are_plain_and_tricky_ones_are_not() {
        fn block_on<F: std::future::Future>(f: F) -> F::Output {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(f)
        }
        let contexts = Contexts::standard();
        let vc = json!("https://www.w3.org/ns/credentials/v2");
        for plain in [
            json!([vc, crate::context::OB_V3_0_3]),
            json!([vc, "https://w3id.org/security/data-integrity/v2", {"ex": "https://example.org/ns#"}]),
            json!([vc, {"licence": {"@id": "https://example.org/licence", "@type": "@id"}}]),
        ] {
            let ok = block_on(plain_contexts(Some(&plain), &contexts));
            assert!(ok, "{plain}");
        }
        for tricky in [
            json!([vc, {"urn:": "https://evil.example/"}]),
            json!([vc, {"urn:x": null}]),
            json!([vc, {"r": {"@reverse": "https://evil.example/r"}}]),
            json!([vc, {"g": "@graph"}]),
            json!([vc, {"inc": {"@id": "@included"}}]),
            json!([vc, {"T": {"@id": "https://e/T", "@context": {"kind": "@type"}}}]),
            json!([vc, {"@import": "https://example.org/more"}]),
            json!([vc, "https://example.org/unknown"]),
        ] {
            let ok = block_on(plain_contexts(Some(&tricky), &contexts));
            assert!(!ok, "{tricky}");
        }
    }

    #[test]
    fn fixed_values_never_share_a_key() {
        let a = json!({"id": "_:s", "name": "n\u{0}x"});
        let b = json!({"id": "_:s\u{0}n", "name": "x"});
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        let (sa, sb) = (Shape::of(a, &[]), Shape::of(b, &[]));
        assert_eq!(sa.key, sb.key);
        assert_ne!(sa.key_with(&[0, 1]), sb.key_with(&[0, 1]));
        let c = json!({"id": "_:s", "name": "x"});
        let sc = Shape::of(c.as_object().unwrap(), &[]);
        assert_ne!(sc.key_with(&[0]), sc.key_with(&[1]));
    }

    #[test]
    fn probe_puts_tokens_where_the_shape_takes_values() {
        let doc = json!({"@context": ["x"], "type": "T", "id": "urn:a", "s": {"v": ["t", 2, "https://e/x"]}});
        let doc = doc.as_object().unwrap();
        let shape = Shape::of(doc, &[]);
        let fixed = shape.tokens("n0nce", &[1]).unwrap();
        assert_eq!(fixed[1], "t");
        let tokens = shape.tokens("n0nce", &[]).unwrap();
        assert_eq!(
            probe(doc, &[], &tokens),
            json!({"@context": ["x"], "type": "T", "id": "urn:cairn-slot-n0nce-0",
                   "s": {"v": ["cairn slot n0nce 1", 2, "https://cairn-slot-n0nce-2.invalid/"]}})
        );
    }
}
