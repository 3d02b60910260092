// The rules of the VC Data Model 2.0 that a JSON-LD processor does not
// check, and Open Badges 3.0's: verifier/src/credential.rs, rule for rule
// (`check_data_model`, `check_open_badge`, `is_badge`). Each returns the
// first problem, named by its field.

import { get, hasWhitespace, isObject, type Json } from "./json";
import { parseRfc3339, compare } from "./rfc3339";

export const CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2";
export const CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1";
export const OB_CONTEXTS = [
  "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
];

/** A problem with one field, shown as `field: reason`. */
export class FieldError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {}
  toString(): string {
    return `${this.field}: ${this.reason}`;
  }
}

function hasType(v: unknown, ty: string): boolean {
  const t = get(v, "type");
  if (typeof t === "string") return t === ty;
  if (Array.isArray(t)) return t.some((x) => x === ty);
  return false;
}

/** A string, a language value (`{"@value"}`), or an array of them. */
function isText(v: Json | undefined): boolean {
  if (typeof v === "string") return v.length > 0;
  if (isObject(v)) return typeof get(v, "@value") === "string";
  if (Array.isArray(v)) return v.length > 0 && v.every((x) => !Array.isArray(x) && isText(x));
  return false;
}

function isUri(v: Json | undefined): boolean {
  if (typeof v !== "string") return false;
  const i = v.indexOf(":");
  return i > 0 && i < v.length - 1 && !hasWhitespace(v);
}

function checkAchievement(a: Json | undefined, at: string): FieldError | null {
  if (!isObject(a)) return new FieldError(at, "must be an object");
  if (!isUri(get(a, "id"))) return new FieldError(`${at}.id`, "missing or not a URI (a badge class needs a stable id)");
  if (!hasType(a, "Achievement")) return new FieldError(`${at}.type`, 'must include "Achievement"');
  for (const field of ["name", "description"]) {
    if (!isText(get(a, field))) return new FieldError(`${at}.${field}`, "missing, or not a string or language value");
  }
  const c = get(a, "criteria");
  if (!(isObject(c) && (isUri(get(c, "id")) || get(c, "narrative") !== undefined))) {
    return new FieldError(`${at}.criteria`, 'missing (an object with "id" or "narrative")');
  }
  return null;
}

export const BADGE_TYPES = ["OpenBadgeCredential", "AchievementCredential", "EndorsementCredential", "ClrCredential"];

/** Whether the credential's `type` says it is an Open Badge. */
export function isBadge(vc: unknown): boolean {
  const t = get(vc, "type");
  if (typeof t === "string") return BADGE_TYPES.includes(t);
  if (Array.isArray(t)) return t.some((x) => typeof x === "string" && BADGE_TYPES.includes(x));
  return false;
}

function contextUrls(vc: unknown): string[] | FieldError {
  const c = get(vc, "@context");
  if (Array.isArray(c)) return c.filter((x): x is string => typeof x === "string");
  if (typeof c === "string") return [c];
  return new FieldError("@context", "missing");
}

/** The first `@context` entry, when it is a URL. */
export function firstContext(doc: unknown): string | undefined {
  const c = get(doc, "@context");
  if (Array.isArray(c)) return typeof c[0] === "string" ? c[0] : undefined;
  if (typeof c === "string") return c;
  return undefined;
}

const TYPED_MEMBERS = ["credentialStatus", "credentialSchema", "evidence", "refreshService", "termsOfUse", "renderMethod"];

function items(v: Json, member: string): [string, Json][] {
  return Array.isArray(v) ? v.map((x, i) => [`${member}[${i}]`, x]) : [[member, v]];
}

function checkBitstringEntry(entry: Json, at: string): FieldError | null {
  const purpose = get(entry, "statusPurpose");
  if (typeof purpose !== "string" || purpose.length === 0) {
    return new FieldError(`${at}.statusPurpose`, "missing: a BitstringStatusListEntry says what its bit means");
  }
  const index = get(entry, "statusListIndex");
  if (!(typeof index === "string" && index.length > 0 && index.length <= 20 && /^[0-9]+$/.test(index))) {
    return new FieldError(`${at}.statusListIndex`, "must be a non-negative integer written as a string");
  }
  if (!isUri(get(entry, "statusListCredential"))) {
    return new FieldError(`${at}.statusListCredential`, "missing or not a URL");
  }
  return null;
}

function checkRelatedResources(related: Json | undefined): FieldError | null {
  if (related === undefined) return null;
  const seen = new Set<string>();
  for (const [at, item] of items(related, "relatedResource")) {
    if (!isObject(item)) return new FieldError(at, "must be an object");
    if (!isUri(get(item, "id"))) return new FieldError(`${at}.id`, "missing or not a URL");
    const id = get(item, "id") as string;
    if (seen.has(id)) return new FieldError(`${at}.id`, "names a resource another entry names");
    seen.add(id);
    if (get(item, "digestSRI") === undefined && get(item, "digestMultibase") === undefined) {
      return new FieldError(at, "needs a digestSRI or a digestMultibase");
    }
  }
  return null;
}

/** VC Data Model 2.0 (or 1.1) rules; the first problem, or null. */
export function checkDataModel(vc: unknown): FieldError | null {
  if (!isObject(vc)) return new FieldError("(document)", "must be a JSON object");
  const contexts = contextUrls(vc);
  if (contexts instanceof FieldError) return contexts;
  const v1 = contexts[0] === CREDENTIALS_V1;
  if (!v1 && contexts[0] !== CREDENTIALS_V2) {
    return new FieldError("@context", `must start with ${CREDENTIALS_V2} (VC Data Model 2.0) or ${CREDENTIALS_V1} (1.1)`);
  }
  if (v1 && get(vc, "issuanceDate") === undefined) return new FieldError("issuanceDate", "missing (VC Data Model 1.1)");
  if (!hasType(vc, "VerifiableCredential")) return new FieldError("type", 'must include "VerifiableCredential"');
  if (get(vc, "id") !== undefined && !isUri(get(vc, "id"))) return new FieldError("id", "not a URL");
  const issuer = get(vc, "issuer");
  if (typeof issuer === "string") {
    if (!isUri(issuer)) return new FieldError("issuer", "not a URL");
  } else if (isObject(issuer)) {
    if (!isUri(get(issuer, "id"))) return new FieldError("issuer.id", "missing or not a URL");
  } else if (issuer === undefined) {
    return new FieldError("issuer", "missing");
  } else {
    return new FieldError("issuer", "must be a URL or an object with an id");
  }
  for (const field of ["name", "description"]) {
    const v = get(vc, field);
    if (v !== undefined && !isText(v)) return new FieldError(field, "not a string or language value");
  }
  const names = v1 ? ["issuanceDate", "expirationDate"] : ["validFrom", "validUntil"];
  const period: (ReturnType<typeof parseRfc3339> | undefined)[] = [undefined, undefined];
  for (let i = 0; i < 2; i++) {
    const v = get(vc, names[i]);
    if (v === undefined) continue;
    if (typeof v !== "string") return new FieldError(names[i], "must be a date-time string");
    const t = parseRfc3339(v);
    if (!t) return new FieldError(names[i], "not a date-time with a time zone (RFC 3339)");
    period[i] = t;
  }
  const [from, until] = period;
  if (from && until && compare(until, from) < 0) {
    return new FieldError(names[1], `${get(vc, names[1])} is before ${names[0]} ${get(vc, names[0])}`);
  }
  const subject = get(vc, "credentialSubject");
  if (isObject(subject)) {
    if (Object.keys(subject).length === 0) {
      return new FieldError("credentialSubject", "holds no claim: a subject needs at least one property");
    }
  } else if (Array.isArray(subject) && subject.length > 0) {
    const i = subject.findIndex((s) => !isObject(s) || Object.keys(s).length === 0);
    if (i >= 0) return new FieldError(`credentialSubject[${i}]`, "must be an object holding at least one claim");
  } else if (subject === undefined) {
    return new FieldError("credentialSubject", "missing");
  } else {
    return new FieldError("credentialSubject", "must be an object or a non-empty array of objects");
  }
  const related = checkRelatedResources(get(vc, "relatedResource"));
  if (related) return related;
  for (const member of TYPED_MEMBERS) {
    const v = get(vc, member);
    if (v === undefined) continue;
    for (const [at, item] of items(v, member)) {
      if (!isObject(item)) return new FieldError(at, "must be an object");
      const t = get(item, "type");
      const typed =
        (typeof t === "string" && t.length > 0) ||
        (Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && x.length > 0));
      if (!typed) return new FieldError(`${at}.type`, "missing: VC 2.0 requires a type here");
      if (get(item, "id") !== undefined && !isUri(get(item, "id"))) return new FieldError(`${at}.id`, "not a URL");
      if (member === "credentialSchema" && get(item, "id") === undefined) {
        return new FieldError(`${at}.id`, "missing: a schema is named by its URL");
      }
      if (member === "credentialStatus" && hasType(item, "BitstringStatusListEntry")) {
        const e = checkBitstringEntry(item, at);
        if (e) return e;
      }
    }
  }
  return null;
}

/** The Comprehensive Learner Record 2.0 context (`ClrCredential`). */
export const CLR_V2P0 = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json";

const ASSOCIATION_TYPES = [
  "exactMatchOf",
  "isChildOf",
  "isParentOf",
  "isPartOf",
  "isPeerOf",
  "isRelatedTo",
  "precedes",
  "replacedBy",
];

/** The credentials a CLR 2.0 `ClrCredential` embeds; null for any other
 * document (as `clr_credentials` in verifier/src/credential.rs). */
export function clrCredentials(vc: unknown): unknown[] | null {
  if (!isObject(vc) || !hasType(vc, "ClrCredential")) return null;
  const subject = get(vc, "credentialSubject");
  if (subject === undefined) return null;
  const subjects = Array.isArray(subject) ? subject : [subject];
  const out: unknown[] = [];
  for (const s of subjects) {
    const inside = get(s as Json, "verifiableCredential");
    if (Array.isArray(inside)) out.push(...inside);
    else if (inside !== undefined) out.push(inside);
  }
  return out;
}

/** What a credential calls itself: its achievement's name, else its own. */
export function displayName(vc: unknown): string | undefined {
  const text = (v: unknown): string | undefined => {
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.length > 0 ? text(v[0]) : undefined;
    if (isObject(v)) return text(get(v, "@value"));
    return undefined;
  };
  const subject = get(vc as Json, "credentialSubject");
  const achievement = isObject(subject) ? get(subject, "achievement") : undefined;
  return (isObject(achievement) ? text(get(achievement, "name")) : undefined) ?? text(get(vc as Json, "name"));
}

/** A `ClrCredential`'s own rules beyond those it shares with Open Badges. */
function checkLearnerRecord(vc: Json, contexts: string[]): FieldError | null {
  if (!contexts.includes(CLR_V2P0)) return new FieldError("@context", `a ClrCredential names ${CLR_V2P0}`);
  const subject = get(vc, "credentialSubject");
  if (!isObject(subject)) return new FieldError("credentialSubject", "must be one object");
  if (!hasType(subject, "ClrSubject")) return new FieldError("credentialSubject.type", 'must include "ClrSubject"');
  const inside = get(subject, "verifiableCredential");
  if (!Array.isArray(inside) || inside.length === 0) {
    return new FieldError("credentialSubject.verifiableCredential", "must be a non-empty array of credentials");
  }
  const associations = get(subject, "association");
  if (associations !== undefined) {
    if (!Array.isArray(associations)) return new FieldError("credentialSubject.association", "must be an array");
    for (const [i, a] of associations.entries()) {
      const at = (f: string) => `credentialSubject.association[${i}].${f}`;
      const t = get(a as Json, "associationType");
      if (typeof t !== "string" || !ASSOCIATION_TYPES.includes(t)) {
        return new FieldError(at("associationType"), `must be one of ${ASSOCIATION_TYPES.join(", ")}`);
      }
      for (const f of ["sourceId", "targetId"]) {
        if (!isUri(get(a as Json, f))) return new FieldError(at(f), "missing or not a URI");
      }
    }
  }
  return null;
}

/** The Open Badges 3.0 rules beyond VC 2.0; the first problem, or null. */
export function checkOpenBadge(vc: unknown): FieldError | null {
  if (!isObject(vc)) return new FieldError("(document)", "must be a JSON object");
  const contexts = contextUrls(vc);
  if (contexts instanceof FieldError) return contexts;
  if (!contexts.some((c) => OB_CONTEXTS.includes(c))) return new FieldError("@context", "no Open Badges 3.0 context");
  const endorsement = hasType(vc, "EndorsementCredential");
  const record = hasType(vc, "ClrCredential");
  if (!(endorsement || record || hasType(vc, "OpenBadgeCredential") || hasType(vc, "AchievementCredential"))) {
    return new FieldError("type", 'must include "OpenBadgeCredential"');
  }
  if (!isUri(get(vc, "id"))) return new FieldError("id", "missing or not a URI");
  if (!isText(get(vc, "name"))) return new FieldError("name", "missing");
  const issuer = get(vc, "issuer");
  if (isObject(issuer)) {
    if (!isUri(get(issuer, "id"))) return new FieldError("issuer.id", "missing or not a URI");
    if (!hasType(issuer, "Profile")) return new FieldError("issuer.type", 'must include "Profile"');
  } else {
    return new FieldError("issuer", "must be an object (an OB 3.0 Profile)");
  }
  if (get(vc, "validFrom") === undefined) return new FieldError("validFrom", "missing");
  if (record) return checkLearnerRecord(vc, contexts);
  const subject = get(vc, "credentialSubject");
  if (Array.isArray(subject)) return new FieldError("credentialSubject", "must be a single AchievementSubject");
  if (!isObject(subject)) return new FieldError("credentialSubject", "missing");
  // An endorsement's subject is what it endorses: an EndorsementSubject
  // naming it by id.
  if (endorsement) {
    if (!hasType(subject, "EndorsementSubject")) {
      return new FieldError("credentialSubject.type", 'must include "EndorsementSubject"');
    }
    if (!isUri(get(subject, "id"))) {
      return new FieldError("credentialSubject.id", "missing or not a URI: the endorsed achievement or profile");
    }
    return null;
  }
  if (!hasType(subject, "AchievementSubject")) {
    return new FieldError("credentialSubject.type", 'must include "AchievementSubject"');
  }
  if (get(subject, "id") === undefined && get(subject, "identifier") === undefined) {
    return new FieldError("credentialSubject", 'needs an "id" or an "identifier"');
  }
  const a = get(subject, "achievement");
  if (a === undefined) return new FieldError("credentialSubject.achievement", "missing");
  return checkAchievement(a, "credentialSubject.achievement");
}
