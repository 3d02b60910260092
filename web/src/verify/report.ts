// A verification report, the same shape as one credential of
// `cairn verify --json` (cairn_verifier::verification::Report), so that the
// two implementations can be compared check by check.

export type Status = "pass" | "fail" | "could-not-check" | "absent";

export interface Check {
  /** kebab-case, as the Rust verifier names it: json, data-model,
   * open-badges, contexts, signature, issuer-key, proof-purpose, validity,
   * inclusion, binding, anchor, revocation. */
  name: string;
  status: Status;
  detail?: string;
}

export interface Report {
  verdict: "valid" | "invalid" | "unknown";
  id?: string;
  issuer?: string;
  /** The anchor block's time (RFC 3339): when the credential provably existed. */
  anchoredAt?: string;
  checks: Check[];
  warnings?: string[];
  /** A learner record's embedded credentials, each verified on its own. */
  credentials?: Embedded[];
}

/** One credential inside another (a `ClrCredential`'s), with its report. */
export interface Embedded extends Report {
  name?: string;
}

/** What a page shows: the report's verdict, refined for people. */
export type PageVerdict = "valid" | "invalid" | "revoked" | "suspended" | "expired" | "unknown";
