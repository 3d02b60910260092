// The browser verifier: the same named checks, in the same order and with
// the same statuses, as `cairn verify --rpc-url URL --json` gives for one
// credential (verifier/src/verification.rs and chain_verification.rs are the
// specification, with docs/proof-format.md). Everything runs in the
// reader's browser: the credential is never uploaded, contexts are bundled,
// did:key is resolved locally, and the only network traffic is JSON-RPC to
// the chain nodes given.
//
//   const input = await readFile(bytes, file.name);
//   const report = await verifyInput(input, { rpcUrls: ["/devchain"] });
//   pageVerdict(report); // "valid" | "revoked" | "expired" | ...

import type { Embedded, Report, PageVerdict, Status } from "./report";
import { clrCredentials, displayName } from "./credential";
import { checkChain, prefetch } from "./chain";
import { EXPIRED_PREFIX, unreadableReport, verdictOf, verifyOffline } from "./offline";
import { get, isObject, parseJsonBytes, parseJsonText, type Json } from "./json";
import { forgetExpansions } from "./integrity";
import { MAX_BAKED_BYTES, sniff, unbake } from "./image";
import { fromDate } from "./rfc3339";

export type { Report, Check, Status, PageVerdict } from "./report";
export { unreadableReport } from "./offline";
export { documentLoader, contextUrls } from "./contexts";
export { MAX_BAKED_BYTES, MAX_IMAGE_BYTES } from "./image";

/** The largest JSON file read: the node's request body limit (MAX_BODY). */
export const MAX_JSON_BYTES = 1 << 20;

export interface VerifyOptions {
  /** JSON-RPC URLs of chain nodes; every registry read is asked of each and
   * they must agree. Relative URLs resolve against the page. Empty: no
   * chain checks at all, as `cairn verify` without `--rpc-url`. */
  rpcUrls: string[];
  /** Validity is judged as of this time (default: now). */
  now?: Date;
  /** Blocks an anchor must be deep (default: per chain, as `cairn verify`). */
  confirmations?: number;
}

/** What a dropped or picked file holds, read without uploading it. */
export interface Input {
  /** `credential` (JSON), `png`, `svg` (baked badges), `bundle`. */
  kind: "credential" | "png" | "svg" | "bundle";
  /** The credential, or the report of why none could be read. */
  credential?: Record<string, unknown>;
  /** Why no credential could be read: the detail of the report's failing
   * `json` check (see `verifyInput`, `unreadableReport`). */
  error?: string;
}

const PRESENTATION =
  "cannot read: a verifiable presentation, which this verifier does not verify (verify its credentials one by one, or use cairn verify)";

function isPresentation(doc: Json): boolean {
  const t = get(doc, "type");
  return t === "VerifiablePresentation" || (Array.isArray(t) && t.includes("VerifiablePresentation"));
}

/** A credential from a parsed document: a proof bundle gives its
 * credential; a presentation is not verified here. */
function fromDocument(kind: Input["kind"], doc: Json): Input {
  if (!isObject(doc)) return { kind, error: "not a JSON object" };
  if (isPresentation(doc)) {
    return { kind, error: PRESENTATION };
  }
  const vc = get(doc, "verifiableCredential");
  if (vc !== undefined && get(doc, "anchorBundle") !== undefined) {
    if (!isObject(vc)) return { kind: kind === "credential" ? "bundle" : kind, error: "not a JSON object" };
    return { kind: kind === "credential" ? "bundle" : kind, credential: vc };
  }
  return { kind, credential: doc };
}

/** Parses JSON text as the Rust verifier does (serde_json's rules, number
 * lexemes kept: `3.0` is not `3` to its JSON-LD). Use it for a credential
 * taken from text (the page's data) rather than JSON.parse, so that a
 * credential holding such numbers verifies as `cairn verify` says. Throws
 * on malformed JSON. */
export function parseJson(text: string): unknown {
  const parsed = parseJsonText(text);
  if ("error" in parsed) throw new SyntaxError(`malformed JSON: ${parsed.error}`);
  return parsed.value;
}

/** Reads a file as `cairn verify` does: a baked PNG or SVG (by its bytes,
 * whatever its name), else JSON: a credential, or a proof bundle
 * `{verifiableCredential, anchorBundle}`. */
export async function readFile(bytes: Uint8Array, fileName: string): Promise<Input> {
  if (/\.(ndjson|jsonl)$/.test(fileName)) {
    return { kind: "credential", error: "cannot read: an NDJSON file holds many credentials; verify them one by one (or with cairn verify)" };
  }
  const image = sniff(bytes);
  if (image) {
    if (bytes.length > MAX_BAKED_BYTES) {
      return { kind: image, error: `cannot read: the image is ${bytes.length} bytes; at most ${MAX_BAKED_BYTES} are accepted` };
    }
    try {
      return fromDocument(image, await unbake(bytes));
    } catch (e) {
      return { kind: image, error: `cannot read: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  if (bytes.length > MAX_JSON_BYTES) {
    return { kind: "credential", error: `cannot read: the file is ${bytes.length} bytes; at most ${MAX_JSON_BYTES} are accepted` };
  }
  const parsed = parseJsonBytes(bytes);
  if ("error" in parsed) return { kind: "credential", error: `malformed JSON: ${parsed.error}` };
  return fromDocument("credential", parsed.value);
}

/** The URLs to read the chain from, relative ones resolved against the
 * page. */
function resolve(urls: string[]): string[] {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return urls.map((u) => {
    try {
      new URL(u);
      return u;
    } catch {
      try {
        return base ? new URL(u, base).href : u;
      } catch {
        return u;
      }
    }
  });
}

/** Verifies one credential (or a proof bundle's credential) as of
 * `options.now`: the offline checks, then, with `rpcUrls`, the chain
 * checks. Never throws for a bad credential: the report says why. */
export async function verify(credential: unknown, options: VerifyOptions): Promise<Report> {
  const report = await verifyOne(credential, options);
  // As `split_bundle` in Rust: a bundle only when both members are there.
  const inner = get(credential as Json, "verifiableCredential");
  const doc = inner !== undefined && get(credential as Json, "anchorBundle") !== undefined ? inner : credential;
  await checkEmbedded(doc, report, options);
  return report;
}

/** The most credentials one `ClrCredential` may embed, as in Rust. */
const MAX_EMBEDDED = 256;

/** A `ClrCredential`'s embedded credentials, each verified in full; the
 * record is valid only if every one is (`embedded-credentials`, as
 * `Verification::check_embedded` in the Rust verifier). */
async function checkEmbedded(doc: unknown, report: Report, options: VerifyOptions): Promise<void> {
  const inside = clrCredentials(doc);
  if (inside === null) return;
  if (inside.length > MAX_EMBEDDED) {
    addCheck(report, "embedded-credentials", "fail", `${inside.length} credentials: at most ${MAX_EMBEDDED} are verified`);
    return;
  }
  const failed: string[] = [];
  let unknown = 0;
  report.credentials = [];
  for (const vc of inside) {
    const r: Embedded = isObject(vc)
      ? await verifyOne(vc, options)
      : unreadableReport("cannot read: not a credential object (an enveloped credential is not read)");
    const name = displayName(vc);
    if (name !== undefined) r.name = name;
    if (r.verdict === "unknown") unknown += 1;
    if (r.verdict === "invalid") failed.push(`${name ?? "unnamed"} (${r.id ?? "no id"}): ${pageVerdict(r)}`);
    report.credentials.push(r);
  }
  const count = report.credentials.length;
  if (failed.length > 0) addCheck(report, "embedded-credentials", "fail", failed.join("; "));
  else if (unknown > 0) addCheck(report, "embedded-credentials", "could-not-check", `${unknown} of ${count} could not be checked in full`);
  else addCheck(report, "embedded-credentials", "pass", `${count} valid`);
}

function addCheck(report: Report, name: string, status: Status, detail: string): void {
  report.checks.push({ name, status, detail });
  report.verdict = verdictOf(report.checks);
}

async function verifyOne(credential: unknown, options: VerifyOptions): Promise<Report> {
  forgetExpansions();
  const now = fromDate(options.now ?? new Date());
  let doc = credential as Json;
  const vc = get(doc, "verifiableCredential");
  if (vc !== undefined && get(doc, "anchorBundle") !== undefined) doc = vc;
  else if (isPresentation(doc)) return unreadableReport(PRESENTATION);
  const urls = resolve(options.rpcUrls ?? []);
  // The chain reads and the binding document's check start first, so the
  // network round trips overlap the offline checks.
  const pre = urls.length > 0 && isObject(doc) ? prefetch(doc, urls) : null;
  const report = await verifyOffline(doc, now);
  if (pre && isObject(doc)) {
    const confirmations =
      options.confirmations === undefined || !Number.isFinite(options.confirmations) ? undefined : BigInt(Math.max(0, Math.floor(options.confirmations)));
    await checkChain(doc, report, pre, confirmations);
  }
  return report;
}

/** The report for what `readFile` gave: its credential verified, or the
 * unreadable report. */
export async function verifyInput(input: Input, options: VerifyOptions): Promise<Report> {
  if (input.error !== undefined || input.credential === undefined) {
    return unreadableReport(input.error ?? "cannot read: no credential");
  }
  return verify(input.credential, options);
}

/** What a page shows: the verdict, refined for people. A credential that
 * fails only because its issuer revoked or suspended it, or only because
 * its validity period is over, says so; any other failure is `invalid`. */
export function pageVerdict(report: Report): PageVerdict {
  if (report.verdict !== "invalid") return report.verdict;
  const failing = report.checks.filter((c) => c.status === "fail");
  if (failing.length !== 1) return "invalid";
  const [only] = failing;
  const detail = only.detail ?? "";
  if (only.name === "revocation" && detail.startsWith("revoked")) return "revoked";
  if (only.name === "revocation" && detail.startsWith("suspended")) return "suspended";
  if (only.name === "validity" && detail.startsWith(EXPIRED_PREFIX)) return "expired";
  return "invalid";
}
