// Data Integrity proofs (`eddsa-rdfc-2022`, `ecdsa-rdfc-2019` with P-256,
// and `Ed25519Signature2020`) verified as verifier/src/integrity.rs does:
// hashData = SHA-256(canon(proofConfig)) || SHA-256(canon(document)), with
// the proof configuration carrying the document's `@context`; errors of the
// same kinds, in the same order, so the checks built on them agree.
//
// RDF canonicalization is jsonld.js (RDFC-1.0, through rdf-canonize), run
// once per document: its events tell which of the Rust verifier's three
// term policies (`Check`, `Vocab`, `Allow`) the document passes, so one
// expansion answers the contexts check and every proof over it.

import jsonld from "jsonld";
import * as rdfCanonize from "rdf-canonize";
import * as base58 from "base58-universal";
import * as Ed25519Multikey from "@digitalbazaar/ed25519-multikey";
import * as EcdsaMultikey from "@digitalbazaar/ecdsa-multikey";
import { sha256 } from "@noble/hashes/sha2";
import { documentLoader, VOCAB_NAMESPACES } from "./contexts";
import { get, isObject, lexeme, str, toHex, type Json, type JsonObject } from "./json";
import { proofs } from "./proof";

export const EDDSA_RDFC_2022 = "eddsa-rdfc-2022";
export const ECDSA_RDFC_2019 = "ecdsa-rdfc-2019";
export const ED25519_SIGNATURE_2020 = "Ed25519Signature2020";

/** How undefined terms are treated (verifier/src/integrity.rs `Terms`). */
export type Terms = "check" | "allow" | "vocab";

export type IntegrityKind = "jsonld" | "terms" | "proof" | "key" | "bad-signature" | "too-complex";

/** Why a proof does not verify, displayed as the Rust `IntegrityError`. */
export class IntegrityError extends Error {
  constructor(
    readonly kind: IntegrityKind,
    readonly detail: string,
  ) {
    super(
      kind === "jsonld"
        ? `JSON-LD: ${detail}`
        : kind === "proof"
          ? `proof: ${detail}`
          : kind === "bad-signature"
            ? "the signature does not verify"
            : detail,
    );
  }
}

const utf8 = new TextEncoder();

const keyError = (vm: string, reason: string) => new IntegrityError("key", `verification method ${vm}: ${reason}`);

/** What one expansion of a document says, under every term policy. */
interface Expansion {
  /** JSON-LD processing failed: every policy fails with this. */
  error?: string;
  /** The canonical N-Quads (what `Allow` signs, and `Check` and `Vocab`
   * when they pass: they then drop nothing). */
  nquads?: string;
  /** Why `Vocab` (and so `Check`) fails: a term nothing maps, or another
   * lossy step. */
  lossy?: string;
  /** Why `Check` fails when only catch-all `@vocab` mappings are at fault. */
  vocab?: string;
  /** The terms mapped into the bundled contexts' catch-all namespaces. */
  vocabTerms?: string[];
  /** Why the dataset cannot be canonicalized (too many alike blank nodes). */
  tooComplex?: string;
}

/** jsonld.js events for what the Rust verifier's strict expansion refuses
 * (a term or a type no context defines, mappings that are no IRI); the
 * rest of jsonld.js's safe-mode list (relative ids, language tags,
 * `@direction`, empty objects...) it accepts, and so does this. */
const LOSSY_EVENTS = new Set([
  "invalid property",
  "invalid reverse property",
  "relative @type reference",
  "relative @vocab reference",
  "relative predicate reference",
  "blank node predicate",
]);

/** An embedded context written as a context document (`{"@context": {}}`)
 * is read as the context itself, as integrity.rs `unwrapped` does. */
function unwrapped(context: Json): Json {
  const wrapped = (v: Json) => isObject(v) && Object.keys(v).length === 1 && isObject(get(v, "@context"));
  if (Array.isArray(context) && context.some(wrapped)) {
    return context.map((v) => (wrapped(v) ? (get(v, "@context") as Json) : v));
  }
  return wrapped(context) ? (get(context, "@context") as Json) : context;
}

/** Every catch-all `@vocab` a `@context` value declares inline. */
function inlineVocabs(context: Json | undefined, out: Set<string>): Set<string> {
  if (Array.isArray(context)) {
    for (const c of context) inlineVocabs(c, out);
  } else if (isObject(context)) {
    for (const [k, v] of Object.entries(context)) {
      if (k === "@vocab" && typeof v === "string") out.add(v);
      else if (typeof v === "object") inlineVocabs(v, out);
    }
  }
  return out;
}

let expansions = new WeakMap<object, Map<boolean, Promise<Expansion>>>();

/** Forgets the expansions made so far: a verification starts afresh, so a
 * document changed in place since is expanded again. */
export function forgetExpansions(): void {
  expansions = new WeakMap();
}

/** The expansion of `doc` (without its `proof` member when `skipProof`),
 * made once per document. */
export function expansion(doc: JsonObject, skipProof: boolean): Promise<Expansion> {
  let byDoc = expansions.get(doc);
  if (!byDoc) {
    byDoc = new Map();
    expansions.set(doc, byDoc);
  }
  let e = byDoc.get(skipProof);
  if (!e) {
    e = expand(doc, skipProof);
    byDoc.set(skipProof, e);
  }
  return e;
}

// Language tags. jsonld.js lowercases them and keeps ill-formed ones; the
// Rust verifier (the `json-ld` crate) keeps their case and drops a literal
// whose tag is not well-formed (RFC 5646). Tags go through jsonld.js
// encoded (as lowercase hex, so nothing of them is lost), and come back
// as written, or drop their quad, before canonicalization.
const LANG_PREFIX = "x-cairnlng";

function encodeTag(tag: string): string {
  let hex = "";
  for (const b of new TextEncoder().encode(tag)) hex += b.toString(16).padStart(2, "0");
  return `${LANG_PREFIX}-${hex.match(/.{1,8}/g)?.join("-") ?? ""}`;
}

function decodeTag(encoded: string): string | null {
  if (!encoded.startsWith(`${LANG_PREFIX}-`) && encoded !== LANG_PREFIX) return null;
  const hex = encoded.slice(LANG_PREFIX.length + 1).replace(/-/g, "");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return new TextDecoder().decode(bytes);
}

const ALNUM = "[a-z0-9]";
const LANGTAG = new RegExp(
  "^(?:" +
    // langtag
    `(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})` +
    `(?:-[a-z]{4})?` +
    `(?:-(?:[a-z]{2}|[0-9]{3}))?` +
    `(?:-(?:${ALNUM}{5,8}|[0-9]${ALNUM}{3}))*` +
    `(?:-[0-9a-wyz](?:-${ALNUM}{2,8})+)*` +
    `(?:-x(?:-${ALNUM}{1,8})+)?` +
    // privateuse
    `|x(?:-${ALNUM}{1,8})+` +
    // grandfathered
    "|en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu" +
    "|sgn-be-fr|sgn-be-nl|sgn-ch-de|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang" +
    ")$",
  "i",
);

/** A copy of `v` with every `@language` string encoded; the original when
 * it holds none. */
function encodeLanguages(v: Json): { value: Json; found: boolean } {
  if (Array.isArray(v)) {
    let found = false;
    const out = v.map((x) => {
      const r = encodeLanguages(x);
      found ||= r.found;
      return r.value;
    });
    return found ? { value: out, found } : { value: v, found: false };
  }
  if (!isObject(v)) return { value: v, found: false };
  let found = false;
  const entries: [string, Json][] = Object.entries(v).map(([k, x]) => {
    if (k === "@language" && typeof x === "string") {
      found = true;
      return [k, encodeTag(x)];
    }
    const r = encodeLanguages(x);
    found ||= r.found;
    return [k, r.value];
  });
  if (!found) return { value: v, found: false };
  const out: JsonObject = {};
  for (const [k, x] of entries) Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  return { value: out, found: true };
}

// N-Quads as the Rust verifier writes them when it canonicalizes (ssi's
// URDNA2015 over rdf-types' display): in a literal only `"`, `\`, line feed
// and carriage return are escaped, where rdf-canonize 5 (RDF 1.2 canonical
// N-Quads) also escapes tab, backspace, form feed and the other control
// characters. The escaping enters the blank node hashes and the sort, so it
// is rdf-canonize's serializer itself that writes the Rust form.
interface Term {
  termType: string;
  value: string;
  language?: string;
  datatype?: { value: string };
}
const RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";
const XSD_STRING = "http://www.w3.org/2001/XMLSchema#string";
const iri = (v: string) => v.replace(/[\u0000-\u0020<>"{}|^`\\]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
const literal = (v: string) => v.replace(/["\\\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`));
const node = (t: Term) => (t.termType === "NamedNode" ? `<${iri(t.value)}>` : `_:${t.value}`);
(rdfCanonize.NQuads as { serializeQuadComponents: (s: Term, p: Term, o: Term, g: Term) => string }).serializeQuadComponents = (s, p, o, g) => {
  let q = `${node(s)} ${node(p)} `;
  if (o.termType === "Literal") {
    q += `"${literal(o.value)}"`;
    const dt = o.datatype?.value;
    if (dt === RDF_LANGSTRING) {
      if (o.language) q += `@${o.language}`;
    } else if (dt !== XSD_STRING) {
      q += `^^<${iri(dt ?? XSD_STRING)}>`;
    }
  } else {
    q += node(o);
  }
  if (g.termType === "NamedNode" || g.termType === "BlankNode") q += ` ${node(g)}`;
  return `${q} .\n`;
};

/** The member names of `v`, by their lowercase form. */
function keySpellings(v: Json, out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  if (Array.isArray(v)) for (const x of v) keySpellings(x, out);
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const lower = k.toLowerCase();
      let set = out.get(lower);
      if (!set) out.set(lower, (set = new Set()));
      set.add(k);
      keySpellings(x, out);
    }
  }
  return out;
}

interface Quad {
  subject: Term;
  predicate: Term;
  object: Term;
  graph: Term;
}

const serialize = (q: Quad) => (rdfCanonize.NQuads as { serializeQuadComponents: (s: Term, p: Term, o: Term, g: Term) => string }).serializeQuadComponents(q.subject, q.predicate, q.object, q.graph);

/** The dataset as a set: a quad that expansion gives twice counts once. */
function dedup(quads: Quad[]): Quad[] {
  const seen = new Set<string>();
  return quads.filter((q) => {
    const k = serialize(q);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** SHA-256 for rdf-canonize's blank node hashes, from @noble/hashes:
 * synchronous, where the default goes through crypto.subtle per hash. */
function createMessageDigest() {
  const h = sha256.create();
  return {
    update(message: string) {
      h.update(utf8.encode(message));
    },
    async digest() {
      return toHex(h.digest());
    },
  };
}

/** The most blank nodes RDFC-1.0 may have to tell apart through one another
 * at once (integrity.rs `MAX_ALIKE_BLANK_NODES`). */
export const MAX_ALIKE_BLANK_NODES = 5;

/** integrity.rs `check_complexity`: refuses a dataset where RDFC-1.0's
 * work could grow without bound (a cluster of more than five blank nodes
 * that look alike and point at each other); null when it may proceed. */
function complexity(quads: Quad[]): string | null {
  const blank = (t: Term) => t.termType === "BlankNode";
  const positioned = (q: Quad): [string, string][] => {
    const out: [string, string][] = [];
    if (blank(q.subject)) out.push(["s", q.subject.value]);
    if (blank(q.object)) out.push(["o", q.object.value]);
    if (blank(q.graph)) out.push(["g", q.graph.value]);
    return out;
  };
  const toQuads = new Map<string, Quad[]>();
  const related = new Map<string, string[]>();
  for (const q of quads) {
    const comps = positioned(q);
    for (const [, b] of comps) {
      const list = toQuads.get(b);
      if (list) list.push(q);
      else toQuads.set(b, [q]);
    }
    for (const [, x] of comps) {
      let list = related.get(x);
      if (!list) related.set(x, (list = []));
      for (const [position, c] of comps) {
        if (c !== x) list.push(`${position}\u0000${position === "g" ? "" : q.predicate.value}\u0000${c}`);
      }
    }
  }
  for (const list of related.values()) list.sort();
  if (related.size <= MAX_ALIKE_BLANK_NODES && [...related.values()].every((l) => l.every((x, i) => i === 0 || l[i - 1] !== x))) {
    return null;
  }
  const blanks = [...toQuads.keys()];
  const index = new Map(blanks.map((b, i) => [b, i]));
  const hashes = blanks.map((b) => {
    const lines = (toQuads.get(b) as Quad[]).map((q) => {
      const swap = (t: Term): Term => (blank(t) ? { termType: "BlankNode", value: t.value === b ? "a" : "z" } : t);
      return serialize({ subject: swap(q.subject), predicate: q.predicate, object: swap(q.object), graph: swap(q.graph) });
    });
    lines.sort();
    return toHex(sha256(new TextEncoder().encode(lines.join(""))));
  });
  const byHash = new Map<string, number>();
  for (const h of hashes) byHash.set(h, (byHash.get(h) ?? 0) + 1);
  const alike = hashes.map((h) => (byHash.get(h) as number) > 1);
  const tooComplex = (what: string) =>
    `too complex to canonicalize: ${what} (RDFC-1.0's work would grow with their factorial); at most ${MAX_ALIKE_BLANK_NODES}`;
  for (let i = 0; i < blanks.length; i++) {
    if (!alike[i]) continue;
    const groups = new Map<string, number>();
    for (const entry of related.get(blanks[i]) ?? []) {
      const [position, predicate, c] = entry.split("\u0000");
      const j = index.get(c);
      const cls = j !== undefined && alike[j] ? hashes[j] : c;
      const key = `${position}\u0000${predicate}\u0000${cls}`;
      const n = (groups.get(key) ?? 0) + 1;
      groups.set(key, n);
      if (n > MAX_ALIKE_BLANK_NODES) {
        return tooComplex("a blank node is related the same way to more than the bound of alike blank nodes, or to one more often");
      }
    }
  }
  const parent = blanks.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (const q of quads) {
    let first: number | undefined;
    for (const [, b] of positioned(q)) {
      const i = index.get(b) as number;
      if (!alike[i]) continue;
      if (first === undefined) first = i;
      else parent[root(first)] = root(i);
    }
  }
  const sizes = new Map<number, number>();
  for (let i = 0; i < blanks.length; i++) {
    if (!alike[i]) continue;
    const r = root(i);
    const n = (sizes.get(r) ?? 0) + 1;
    sizes.set(r, n);
    if (n > MAX_ALIKE_BLANK_NODES) return tooComplex("more alike blank nodes point at each other than the bound");
  }
  return null;
}

// Numbers. The Rust verifier turns a JSON number into RDF from its lexeme
// (`3.0` is a double, `3` an integer) and writes doubles in the shortest
// round-trip form (`1.7976931348623157E308`); jsonld.js sees only the
// JavaScript value, and writes 16 digits. It also rewrites a string typed
// xsd:double (`"1.5"` becomes `1.5E0`), which Rust keeps as written. When a
// document holds numbers (or mentions doubles), it is expanded with each
// number replaced by a marker, the markers become the literals Rust makes,
// and only then is it turned into RDF.
const XSD = "http://www.w3.org/2001/XMLSchema#";
const XSD_DOUBLE = `${XSD}double`;
const XSD_INTEGER = `${XSD}integer`;
const DOUBLE_MARK = "urn:x-cairn-verifier:double";
const MARKER_BASE = 1e15;

/** Rust's `pretty_dtoa` with E notation: shortest round trip, `.0` added. */
function dtoa(v: number): string {
  const [mantissa, exp] = v.toExponential().split("e");
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${exp.startsWith("+") ? exp.slice(1) : exp}`;
}

function isI64(lex: string): boolean {
  if (!/^-?(0|[1-9][0-9]*)$/.test(lex)) return false;
  const n = BigInt(lex);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

interface Marked {
  value: number;
  lexeme: string;
}

/** A copy of `v` with every number outside `@context` replaced by a marker
 * (`markers` says which was which); the original when it holds none. */
function markNumbers(v: Json, markers: Map<number, Marked>): Json {
  if (Array.isArray(v) || isObject(v)) {
    let changed = false;
    const out: JsonObject | Json[] = Array.isArray(v) ? [] : {};
    for (const [k, x] of Object.entries(v)) {
      let y = x;
      if (typeof x === "number") {
        const m = MARKER_BASE + markers.size;
        markers.set(m, { value: x, lexeme: lexeme(v, k, x) });
        y = m;
      } else if (k !== "@context") {
        y = markNumbers(x, markers);
      }
      changed ||= y !== x;
      if (Array.isArray(out)) out.push(y);
      else Object.defineProperty(out, k, { value: y, enumerable: true, writable: true, configurable: true });
    }
    return changed ? out : v;
  }
  return v;
}

function hasNumbers(v: Json): boolean {
  if (typeof v === "number") return true;
  if (Array.isArray(v)) return v.some(hasNumbers);
  if (isObject(v)) return Object.entries(v).some(([k, x]) => k !== "@context" && hasNumbers(x));
  return false;
}

function unmark(v: unknown, markers: Map<number, Marked>): unknown {
  if (typeof v === "number") return markers.get(v)?.value ?? v;
  if (Array.isArray(v)) return v.map((x) => unmark(x, markers));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unmark(x, markers)]));
  return v;
}

/** Rewrites the expanded document's literals as the Rust verifier makes
 * them. */
function fixLiterals(v: unknown, markers: Map<number, Marked>): void {
  if (Array.isArray(v)) {
    for (const x of v) fixLiterals(x, markers);
    return;
  }
  if (!v || typeof v !== "object") return;
  const o = v as Record<string, unknown>;
  if ("@value" in o) {
    const value = o["@value"];
    const type = typeof o["@type"] === "string" ? (o["@type"] as string) : undefined;
    if (type === "@json") {
      o["@value"] = unmark(value, markers);
    } else if (typeof value === "number" && markers.has(value)) {
      const { value: n, lexeme: lex } = markers.get(value) as Marked;
      const integer = isI64(lex);
      const text = integer && type !== XSD_DOUBLE ? lex : dtoa(n);
      const dt = type ?? (integer ? XSD_INTEGER : XSD_DOUBLE);
      o["@value"] = text;
      o["@type"] = dt === XSD_DOUBLE ? DOUBLE_MARK : dt;
    } else if (typeof value === "string" && type === XSD_DOUBLE) {
      o["@type"] = DOUBLE_MARK;
    }
    return;
  }
  for (const x of Object.values(o)) fixLiterals(x, markers);
}

async function expand(doc: JsonObject, skipProof: boolean): Promise<Expansion> {
  let input: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) {
    if (skipProof && k === "proof") continue;
    // Own data properties only, `__proto__` included, as JSON has them.
    Object.defineProperty(input, k, { value: k === "@context" ? unwrapped(v) : v, enumerable: true, writable: true, configurable: true });
  }
  // Lexemes are looked up in the document's own containers: the top level
  // is `doc`'s.
  const markers = new Map<number, Marked>();
  const slow = hasNumbers(input) || JSON.stringify(input).includes("double");
  if (slow) {
    const marked = markNumbers(doc, markers) as JsonObject;
    const copy: JsonObject = {};
    for (const k of Object.keys(input)) Object.defineProperty(copy, k, { value: k === "@context" ? input[k] : marked[k], enumerable: true, writable: true, configurable: true });
    input = copy;
  }
  const languages = encodeLanguages(input);
  input = languages.value as JsonObject;
  const events: { code: string; message: string; details?: Record<string, unknown> }[] = [];
  const eventHandler = ({ event, next }: { event: { code: string; level: string; message: string; details?: Record<string, unknown> }; next: () => void }) => {
    if (event.level === "warning" && LOSSY_EVENTS.has(event.code)) events.push(event);
    next();
  };
  const options = { documentLoader, safe: false, base: null, produceGeneralizedRdf: false, eventHandler };
  let quads: Quad[];
  try {
    let dataset: Quad[];
    if (slow) {
      const expanded = await jsonld.expand(input, options);
      fixLiterals(expanded, markers);
      dataset = (await jsonld.toRDF(expanded, { ...options, skipExpansion: true })) as Quad[];
      for (const q of dataset) {
        if (q.object.termType === "Literal" && q.object.datatype?.value === DOUBLE_MARK) q.object.datatype.value = XSD_DOUBLE;
      }
    } else {
      dataset = (await jsonld.toRDF(input, options)) as Quad[];
    }
    // Tags come back as written (an encoded `@language`, or a language
    // map's key, which jsonld.js lowercased), or their quad goes.
    let spellings: Map<string, Set<string>> | undefined;
    dataset = dataset.filter((q) => {
      if (q.object.termType !== "Literal" || !q.object.language) return true;
      let tag = decodeTag(q.object.language);
      if (tag === null) {
        spellings ??= keySpellings(doc);
        const written = spellings.get(q.object.language);
        tag = written && written.size === 1 ? [...written][0] : q.object.language;
      }
      if (!LANGTAG.test(tag)) return false;
      q.object.language = tag;
      return true;
    });
    quads = dedup(dataset);
  } catch (e) {
    return { error: jsonldMessage(e) };
  }
  const result: Expansion = {};
  const lossy = events[0];
  if (lossy) {
    const property = lossy.details?.property;
    result.lossy =
      lossy.code === "invalid property" && typeof property === "string"
        ? `undefined term \`${property}\`: no context in @context defines it`
        : `${lossy.message} (${lossy.code})`;
  }
  // Terms that only a catch-all @vocab maps: the bundled contexts' and any
  // the document declares inline; an IRI anywhere in a quad that one of
  // them starts (the Rust verifier looks for `<namespace` in its N-Quads).
  const namespaces = [...new Set([...VOCAB_NAMESPACES, ...inlineVocabs(get(doc, "@context"), new Set())])];
  const terms: string[] = [];
  let first: string | undefined;
  for (const q of quads) {
    for (const t of [q.subject, q.predicate, q.object, q.graph]) {
      const value = t.termType === "NamedNode" ? t.value : t.termType === "Literal" ? t.datatype?.value : undefined;
      if (!value) continue;
      for (const ns of namespaces) {
        if (!value.startsWith(ns)) continue;
        first ??= value.slice(ns.length);
        if (VOCAB_NAMESPACES.includes(ns)) terms.push(value.slice(ns.length));
      }
    }
  }
  if (first !== undefined) {
    result.vocab = `undefined term \`${first}\`: no context in @context defines it (only a catch-all @vocab maps it)`;
  }
  result.vocabTerms = [...new Set(terms)].sort();
  const tooComplex = complexity(quads);
  if (tooComplex) {
    result.tooComplex = tooComplex;
    return result;
  }
  try {
    result.nquads = await rdfCanonize.canonize(quads, { algorithm: "RDFC-1.0", maxWorkFactor: Infinity, createMessageDigest });
  } catch (e) {
    result.tooComplex = `cannot canonicalize: ${jsonldMessage(e)}`;
  }
  return result;
}

function jsonldMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const details = (e as { details?: { cause?: unknown; url?: unknown; code?: unknown } }).details;
  const cause = details?.cause;
  if (typeof details?.url === "string" && cause instanceof Error) {
    return `@context: loading document \`${details.url}\` failed: ${cause.message}`;
  }
  const code = typeof details?.code === "string" ? ` (${details.code})` : "";
  return `${e.message}${code}`;
}

/** The canonical N-Quads of `doc` under `terms`, or the error the Rust
 * canonicalizer gives. */
async function canonical(doc: JsonObject, skipProof: boolean, terms: Terms): Promise<string> {
  const e = await expansion(doc, skipProof);
  if (e.error !== undefined) throw new IntegrityError(terms === "allow" ? "jsonld" : "terms", e.error);
  if (terms !== "allow" && e.lossy) throw new IntegrityError("terms", e.lossy);
  if (terms === "check" && e.vocab) throw new IntegrityError("terms", e.vocab);
  if (e.tooComplex !== undefined) throw new IntegrityError("too-complex", e.tooComplex);
  return e.nquads as string;
}

/** The strict expansion of `doc` without its proofs (the contexts check):
 * null when it passes, else why not. */
export async function checkTerms(doc: JsonObject): Promise<string | null> {
  const e = await expansion(doc, true);
  return e.error ?? e.lossy ?? e.vocab ?? null;
}

/** The terms of `doc` that only a catch-all `@vocab` maps (the Rust
 * `vocab_terms`), or an error when a term is not even mapped. */
export async function vocabTerms(doc: JsonObject): Promise<string[]> {
  await canonical(doc, true, "vocab");
  return (await expansion(doc, true)).vocabTerms ?? [];
}


async function hashData(doc: JsonObject, withoutProof: boolean, config: JsonObject, terms: Terms): Promise<Uint8Array> {
  const docNquads = await canonical(doc, withoutProof, terms);
  const configNquads = await canonical(config, false, "allow");
  const out = new Uint8Array(64);
  out.set(sha256(utf8.encode(configNquads)), 0);
  out.set(sha256(utf8.encode(docNquads)), 32);
  return out;
}

type PublicKey = { kind: "ed25519" | "p256"; verify: (data: Uint8Array, signature: Uint8Array) => Promise<boolean> };

const keys = new Map<string, Promise<PublicKey>>();

/** Reads an unsigned varint (a multicodec code). */
function varint(bytes: Uint8Array): [number, number] | null {
  let value = 0;
  for (let i = 0; i < Math.min(bytes.length, 9); i++) {
    value += (bytes[i] & 0x7f) * 2 ** (7 * i);
    if ((bytes[i] & 0x80) === 0) return [value, i + 1];
  }
  return null;
}

/** The public key of a did:key verification method, resolved locally (for
 * did:key the key is the DID): Ed25519 or P-256 only, as in Rust. */
function didKeyPublic(vm: string): Promise<PublicKey> {
  const hash = vm.indexOf("#");
  const did = hash < 0 ? vm : vm.slice(0, hash);
  const fragment = hash < 0 ? "" : vm.slice(hash + 1);
  if (!did.startsWith("did:key:")) throw keyError(vm, "not a did:key verification method");
  const id = did.slice("did:key:".length);
  if (fragment !== "" && fragment !== id) throw keyError(vm, "the fragment does not name the DID's key");
  if (!id.startsWith("z")) throw keyError(vm, "did:key must be base58-btc");
  const bytes = base58.decode(id.slice(1));
  if (!bytes) throw keyError(vm, "not base58-btc");
  const codec = varint(bytes);
  if (!codec) throw keyError(vm, "not a multicodec key");
  const [code, len] = codec;
  const key = bytes.slice(len);
  if (code === 0xed) {
    if (key.length !== 32) throw keyError(vm, "an Ed25519 key is 32 bytes");
  } else if (code === 0x1200) {
    if (!((key.length === 33 && (key[0] === 2 || key[0] === 3)) || (key.length === 65 && key[0] === 4))) {
      throw keyError(vm, "not a P-256 public key");
    }
  } else {
    throw keyError(vm, `unsupported key type (multicodec 0x${code.toString(16)})`);
  }
  let known = keys.get(id);
  if (!known) {
    known = importKey(vm, did, id, code === 0xed ? "ed25519" : "p256", key);
    keys.set(id, known);
  }
  return known;
}

async function importKey(vm: string, did: string, id: string, kind: "ed25519" | "p256", key: Uint8Array): Promise<PublicKey> {
  try {
    let pair: { verifier(): { verify(a: { data: Uint8Array; signature: Uint8Array }): Promise<boolean> } };
    if (kind === "ed25519") {
      pair = await Ed25519Multikey.from({ type: "Multikey", controller: did, id: `${did}#${id}`, publicKeyMultibase: id });
    } else if (key.length === 33) {
      pair = await EcdsaMultikey.from({ type: "Multikey", controller: did, id: `${did}#${id}`, publicKeyMultibase: id });
    } else {
      const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      pair = await EcdsaMultikey.fromJwk({ jwk: { kty: "EC", crv: "P-256", x: b64(key.slice(1, 33)), y: b64(key.slice(33)) } });
    }
    const verifier = pair.verifier();
    return {
      kind,
      verify: async (data, signature) => {
        try {
          return (await verifier.verify({ data, signature })) === true;
        } catch {
          return false;
        }
      },
    };
  } catch (e) {
    throw keyError(vm, e instanceof Error ? e.message : String(e));
  }
}

/** Verifies one proof over `doc` (its own `proof` member left out when
 * `withoutProof`), as integrity.rs `verify_over`. */
export async function verifyOver(doc: JsonObject, withoutProof: boolean, proof: Json, terms: Terms): Promise<void> {
  if (!isObject(proof)) throw new IntegrityError("proof", "not an object");
  const config: JsonObject = {};
  for (const [k, v] of Object.entries(proof)) {
    if (k !== "proofValue") Object.defineProperty(config, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  const proofValue = get(proof, "proofValue");
  if (typeof proofValue !== "string") throw new IntegrityError("proof", "no proofValue");
  const suite = str(config, "type") === ED25519_SIGNATURE_2020 ? ED25519_SIGNATURE_2020 : (str(config, "cryptosuite") ?? "");
  const vm = str(config, "verificationMethod");
  if (vm === undefined) throw new IntegrityError("proof", "no verificationMethod");
  const context = get(doc, "@context");
  if (context === undefined) throw new IntegrityError("jsonld", "the document has no @context");
  config["@context"] = context;
  if (!proofValue.startsWith("z")) {
    throw new IntegrityError("proof", proofValue === "" ? "proofValue: empty multibase" : "proofValue is not base58-btc");
  }
  const signature = base58.decode(proofValue.slice(1));
  if (!signature) throw new IntegrityError("proof", "proofValue: not base58-btc");
  const key = await didKeyPublic(vm);
  const data = await hashData(doc, withoutProof, config, terms);
  let ok: boolean;
  if ((suite === EDDSA_RDFC_2022 || suite === ED25519_SIGNATURE_2020) && key.kind === "ed25519") {
    if (signature.length !== 64) throw new IntegrityError("bad-signature", "");
    ok = await key.verify(data, signature);
  } else if (suite === ECDSA_RDFC_2019 && key.kind === "p256") {
    if (signature.length !== 64) throw new IntegrityError("bad-signature", "");
    ok = await key.verify(data, signature);
  } else if (suite === EDDSA_RDFC_2022 || suite === ECDSA_RDFC_2019 || suite === ED25519_SIGNATURE_2020) {
    throw keyError(vm, `wrong key type for ${suite}`);
  } else {
    throw new IntegrityError("proof", `unsupported cryptosuite \`${suite}\``);
  }
  if (!ok) throw new IntegrityError("bad-signature", "");
}

/** The proofs a chained proof names in `previousProof`, as the document's
 * `proof` member was when it signed: null for a proof that starts no
 * chain (integrity.rs `previous_of`). Throws a message when broken. */
export function previousOf(doc: JsonObject, proof: Json): Json | null {
  const previous = get(proof, "previousProof");
  let ids: string[];
  if (previous === undefined) return null;
  if (typeof previous === "string") ids = [previous];
  else if (Array.isArray(previous) && previous.length > 0) {
    if (!previous.every((x): x is string => typeof x === "string")) throw new Error("previousProof holds a non-string");
    ids = previous;
  } else throw new Error("previousProof must be a proof id or an array of them");
  const set = proofs(doc);
  if (typeof set === "string") throw new Error(set);
  const found = ids.map((id) => {
    const p = set.find((x) => str(x, "id") === id);
    if (p === undefined) throw new Error(`previousProof \`${id}\` is not in the proof set: the chain is broken`);
    return p;
  });
  return typeof previous === "string" ? found[0] : found;
}

/** Verifies an issuer proof: over the document alone, or, for a link of a
 * proof chain, over the document with the proofs it names. */
export async function verifyProof(doc: JsonObject, proof: Json, terms: Terms): Promise<void> {
  let previous: Json | null;
  try {
    previous = previousOf(doc, proof);
  } catch (e) {
    throw new IntegrityError("proof", (e as Error).message);
  }
  if (previous === null) return verifyOver(doc, true, proof, terms);
  const secured: JsonObject = { ...doc };
  Object.defineProperty(secured, "proof", { value: previous, enumerable: true, writable: true, configurable: true });
  return verifyOver(secured, false, proof, terms);
}
