// The offline checks (verifier/src/verification.rs `Verifier::verify_value`),
// in its order and with its outcomes: json, data-model, open-badges (for
// badges), contexts, signature (one per issuer proof), issuer-key,
// proof-purpose, validity.

import { checkDataModel, checkOpenBadge, CREDENTIALS_V1, firstContext, isBadge } from "./credential";
import { ECDSA_RDFC_2019, ED25519_SIGNATURE_2020, EDDSA_RDFC_2022, IntegrityError, checkTerms, verifyProof, vocabTerms, type Terms } from "./integrity";
import { get, isObject, str, type Json, type JsonObject } from "./json";
import { proofs } from "./proof";
import { compare, parseRfc3339, toRfc3339, type Instant } from "./rfc3339";
import type { Check, Report, Status } from "./report";

export const ISSUER_SUITES = [EDDSA_RDFC_2022, ECDSA_RDFC_2019];

type Result = { status: Status; detail: string };
const pass = (detail = ""): Result => ({ status: "pass", detail });
const fail = (detail: string): Result => ({ status: "fail", detail });
const unchecked = (detail: string): Result => ({ status: "could-not-check", detail });

export function verdictOf(checks: Check[]): Report["verdict"] {
  if (checks.some((c) => c.status === "fail")) return "invalid";
  if (checks.some((c) => c.status === "could-not-check")) return "unknown";
  return "valid";
}

/** A report from checks (details dropped when empty, as in the JSON). */
export function finish(results: [string, Result][], id?: string, issuer?: string, warnings: string[] = []): Report {
  const checks: Check[] = results.map(([name, r]) => (r.detail ? { name, status: r.status, detail: r.detail } : { name, status: r.status }));
  const report: Report = { verdict: verdictOf(checks), checks };
  if (id !== undefined) report.id = id;
  if (issuer !== undefined) report.issuer = issuer;
  if (warnings.length) report.warnings = warnings;
  return report;
}

/** The report of a document that cannot be read at all: one `json` check
 * that fails with `detail`. */
export function unreadableReport(detail: string): Report {
  return finish([["json", fail(detail)]]);
}

function issuerId(doc: JsonObject): string | undefined {
  const i = get(doc, "issuer");
  if (typeof i === "string") return i;
  if (isObject(i)) return str(i, "id");
  return undefined;
}

/** The issuer proofs: Data Integrity proofs of a suite Cairn accepts, and
 * Ed25519Signature2020, in proof set order; or why there are none. */
function issuerProofs(doc: JsonObject): Json[] | string {
  const list = proofs(doc);
  if (typeof list === "string") return list;
  if (get(doc, "proof") === undefined) return "the credential has no proof";
  const ours = list.filter((p) => {
    const t = str(p, "type");
    if (t === "DataIntegrityProof") {
      const suite = str(p, "cryptosuite");
      return suite !== undefined && ISSUER_SUITES.includes(suite);
    }
    return t === ED25519_SIGNATURE_2020;
  });
  if (ours.length === 0) {
    return `no DataIntegrityProof with cryptosuite ${ISSUER_SUITES.join(" or ")}, and no ${ED25519_SIGNATURE_2020}`;
  }
  return ours;
}

function suiteOf(proof: Json): string {
  return str(proof, "type") === ED25519_SIGNATURE_2020 ? ED25519_SIGNATURE_2020 : (str(proof, "cryptosuite") ?? "");
}

async function signatureOutcome(p: Promise<void>, proof: Json): Promise<Result> {
  try {
    await p;
    return pass(suiteOf(proof));
  } catch (e) {
    return fail(e instanceof IntegrityError && e.kind === "bad-signature" ? "the signature does not verify" : (e as Error).message);
  }
}

/** The proof's verification method must be a key of the issuer's DID: for
 * did:key, the method's DID is the issuer. */
function checkIssuerKey(proof: Json, issuer: string): Result {
  const vm = str(proof, "verificationMethod");
  if (vm === undefined) return fail("proof has no verificationMethod");
  const did = vm.split("#")[0];
  if (!issuer.startsWith("did:key:")) return fail(`issuer \`${issuer}\` is not a did:key, so its keys cannot be known offline`);
  if (did !== issuer) return fail(`signed by ${did}, which is not the issuer ${issuer}`);
  return pass(vm);
}

/** Whether `validity` failed because the credential's period is over. */
export const EXPIRED_PREFIX = "expired at ";

function checkValidity(doc: JsonObject, now: Instant): Result {
  const v1 = firstContext(doc) === CREDENTIALS_V1;
  const [fromField, untilField] = v1 ? ["issuanceDate", "expirationDate"] : ["validFrom", "validUntil"];
  const parse = (field: string): Instant | null | Result => {
    const v = get(doc, field);
    if (v === undefined) return null;
    if (typeof v !== "string") return fail(`${field} is not a string`);
    return parseRfc3339(v) ?? fail(`${field} \`${v}\` is not an RFC 3339 date-time`);
  };
  const from = parse(fromField);
  if (from && "status" in from) return from;
  const until = parse(untilField);
  if (until && "status" in until) return until;
  if (from && compare(now, from) < 0) return fail(`not valid before ${toRfc3339(from)}`);
  if (until) {
    if (compare(now, until) > 0) return fail(`${EXPIRED_PREFIX}${toRfc3339(until)}`);
    return pass(`valid until ${toRfc3339(until)}`);
  }
  return pass("no expiry");
}

/** Verifies one credential, parsed, as of `now`, with no network. */
export async function verifyOffline(doc: Json, now: Instant): Promise<Report> {
  if (!isObject(doc)) return finish([["json", fail("not a JSON object")]]);
  const results: [string, Result][] = [["json", pass()]];
  const warnings: string[] = [];
  const id = str(doc, "id");
  const issuer = issuerId(doc);

  const dm = checkDataModel(doc);
  results.push(["data-model", dm ? fail(dm.toString()) : pass()]);
  if (isBadge(doc)) {
    const ob = checkOpenBadge(doc);
    results.push(["open-badges", ob ? fail(ob.toString()) : pass()]);
  }

  const set = issuerProofs(doc);
  let contexts: Result | undefined;
  const signatures: Result[] = [];
  const checkContexts = async (): Promise<Result> => {
    const m = await checkTerms(doc);
    return m === null ? pass() : fail(m);
  };
  if (typeof set === "string") {
    signatures.push(fail(set));
  } else {
    for (let i = 0; i < set.length; i++) {
      const p = set[i];
      const terms: Terms = i === 0 ? "check" : "allow";
      let outcome: Result;
      try {
        await verifyProof(doc, p, terms);
        outcome = pass(suiteOf(p));
      } catch (e) {
        if (!(e instanceof IntegrityError)) throw e;
        if (e.kind === "terms") {
          // Terms only a catch-all @vocab maps are the issuer's to define:
          // a warning; a term nothing maps fails the contexts check.
          let vocab: string[] | null;
          try {
            vocab = await vocabTerms(doc);
          } catch {
            vocab = null;
          }
          if (vocab !== null) {
            warnings.push(
              `terms no context defines, which only a catch-all @vocab maps (their meaning is the issuer's to say): ${vocab.join(", ")}`,
            );
            contexts = pass();
            outcome = await signatureOutcome(verifyProof(doc, p, "vocab"), p);
          } else {
            contexts = fail(e.message);
            outcome = await signatureOutcome(verifyProof(doc, p, "allow"), p);
          }
        } else if (e.kind === "bad-signature") {
          outcome = fail("the signature does not verify");
        } else {
          if (i === 0) contexts = await checkContexts();
          outcome = fail(e.message);
        }
      }
      if (i === 0 && contexts === undefined) contexts = pass();
      const vm = str(p, "verificationMethod") ?? "(no key)";
      if (set.length === 1) signatures.push(outcome);
      else if (outcome.status === "pass") signatures.push(pass(`${outcome.detail} by ${vm}`));
      else if (outcome.status === "fail") signatures.push(fail(`the proof by ${vm}: ${outcome.detail}`));
      else signatures.push(outcome);
    }
  }
  results.push(["contexts", contexts ?? (await checkContexts())]);
  for (const s of signatures) results.push(["signature", s]);

  // The issuer's own proof: the first whose key is the issuer's.
  let own: Json | undefined;
  if (typeof set !== "string") {
    own = issuer !== undefined ? (set.find((p) => checkIssuerKey(p, issuer).status === "pass") ?? set[0]) : set[0];
  }
  let keyCheck: Result;
  if (own === undefined) keyCheck = unchecked("no issuer proof");
  else if (issuer === undefined) keyCheck = fail("the credential names no issuer");
  else keyCheck = checkIssuerKey(own, issuer);
  results.push(["issuer-key", keyCheck]);

  let purpose: Result;
  if (own === undefined) purpose = unchecked("no issuer proof");
  else {
    const pp = str(own, "proofPurpose");
    purpose = pp === "assertionMethod" ? pass() : pp !== undefined ? fail(`proof purpose is \`${pp}\`, not \`assertionMethod\``) : fail("proof has no proofPurpose");
  }
  results.push(["proof-purpose", purpose]);
  results.push(["validity", checkValidity(doc, now)]);
  return finish(results, id, issuer, warnings);
}
