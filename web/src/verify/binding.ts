// The issuer binding document (verifier/src/binding.rs `verify_binding`):
// a VC 2.0 credential signed by the issuer's did:key naming the chain
// account (did:pkh) and the registry it anchors in; its hash is what the
// registry's `bindings(hash)` holds.

import { CREDENTIALS_V2 } from "./credential";
import { deepEqual, get, isObject, parseU64, str, type Json, type JsonObject } from "./json";
import { credentialDigest, parseAddress, type Address } from "./proof";
import { IntegrityError, verifyOver } from "./integrity";
import { compare, parseRfc3339, type Instant } from "./rfc3339";

export const BINDING_NAME = "Cairn anchoring account";
export const ANCHOR_REGISTRY_IRI = "https://github.com/cairn-vc/cairn/blob/main/docs/proof-format.md#anchorregistry";

const BINDING_CONTEXT: Json = [CREDENTIALS_V2, { anchorRegistry: { "@id": ANCHOR_REGISTRY_IRI, "@type": "@id" } }];

export interface Binding {
  issuer: string;
  chainId: bigint;
  account: Address;
  validFrom: Instant;
  validUntil: Instant | null;
  registry: Address | null;
  hash: Uint8Array;
}

/** Whether the binding covers time `t`, both ends inclusive. */
export function covers(b: Binding, t: Instant): boolean {
  return compare(b.validFrom, t) <= 0 && (b.validUntil === null || compare(t, b.validUntil) <= 0);
}

/** `did:pkh:eip155:<chainId>:<EIP-55 address>`. */
export function accountDid(chainId: bigint, account: Address): string {
  return `did:pkh:eip155:${chainId}:${account.text}`;
}

/** A CAIP-10 `eip155` account id, with `did:pkh:` before it or not. */
function parseCaip10(s: string): [bigint, Address] | null {
  const t = s.startsWith("did:pkh:") ? s.slice(8) : s;
  if (!t.startsWith("eip155:")) return null;
  const rest = t.slice(7);
  const i = rest.indexOf(":");
  if (i < 0) return null;
  const chain = parseU64(rest.slice(0, i));
  const addr = parseAddress(rest.slice(i + 1));
  return chain === null || addr === null ? null : [chain, addr];
}

/** Why a binding document is refused, displayed as the Rust BindingError. */
export class BindingError extends Error {}

const shape = (m: string) => new BindingError(`binding document: ${m}`);

/** serde's `String` field. */
function field(doc: Json, name: string, optional = false): string | null {
  const v = get(doc, name);
  if (v === undefined || (optional && v === null)) {
    if (optional) return null;
    throw shape(`not a binding document: missing field \`${name}\``);
  }
  if (typeof v !== "string") throw shape(`not a binding document: invalid type for \`${name}\`, expected a string`);
  return v;
}

/** The subject: `{id, anchorRegistry?}`, or (serde reads structs from
 * sequences too) `[id, anchorRegistry?]`. */
function subject(doc: Json): { id: string; anchorRegistry: string | null } {
  const s = get(doc, "credentialSubject");
  if (s === undefined) throw shape("not a binding document: missing field `credentialSubject`");
  if (Array.isArray(s)) {
    if (s.length === 0) throw shape("not a binding document: invalid length 0, expected struct BindingSubject");
    if (s.length > 2) throw shape(`not a binding document: invalid length ${s.length}, expected struct BindingSubject`);
    if (typeof s[0] !== "string") throw shape("not a binding document: invalid type for the subject's id");
    const r = s[1];
    if (r !== undefined && r !== null && typeof r !== "string") throw shape("not a binding document: invalid type for anchorRegistry");
    return { id: s[0], anchorRegistry: typeof r === "string" ? r : null };
  }
  if (!isObject(s)) throw shape("not a binding document: invalid type for `credentialSubject`");
  const id = field(s, "id") as string;
  const anchorRegistry = field(s, "anchorRegistry", true);
  return { id, anchorRegistry };
}

/** Checks a binding document's shape and its signature by its own
 * issuer's did:key; returns what it binds. Throws a BindingError. */
export async function verifyBinding(doc: Json): Promise<Binding> {
  if (str(doc, "name") !== BINDING_NAME) throw shape("not a Cairn binding document");
  const context = get(doc, "@context");
  if (!deepEqual(context, BINDING_CONTEXT) && !deepEqual(context, [CREDENTIALS_V2])) {
    throw shape("the @context is not a binding document's");
  }
  field(doc, "name");
  const issuer = field(doc, "issuer") as string;
  const validFromText = field(doc, "validFrom") as string;
  const validUntilText = field(doc, "validUntil", true);
  const sub = subject(doc);
  const parsed = sub.id.startsWith("did:pkh:") ? parseCaip10(sub.id) : null;
  if (!parsed) throw shape("credentialSubject.id is not a did:pkh:eip155 account");
  const [chainId, account] = parsed;
  let registry: Address | null = null;
  if (sub.anchorRegistry !== null) {
    const r = parseCaip10(sub.anchorRegistry);
    if (!r) throw shape("anchorRegistry is not an eip155 CAIP-10 account id");
    if (r[0] !== chainId) throw shape("anchorRegistry is on another chain than the account");
    registry = r[1];
  }
  const validFrom = parseRfc3339(validFromText);
  if (!validFrom) throw shape("validFrom is not a date-time");
  let validUntil: Instant | null = null;
  if (validUntilText !== null) {
    validUntil = parseRfc3339(validUntilText);
    if (!validUntil) throw shape("validUntil is not a date-time");
  }
  const proof = get(doc, "proof");
  if (proof === undefined) throw shape("no proof");
  const signer = str(proof, "verificationMethod") ?? "";
  if (signer.split("#")[0] !== issuer) {
    throw new BindingError(`the binding document is signed by ${signer}, not by its issuer ${issuer}`);
  }
  try {
    await verifyOver(doc as JsonObject, true, proof, "check");
  } catch (e) {
    if (e instanceof IntegrityError) throw new BindingError(`binding document signature: ${e.message}`);
    throw e;
  }
  return { issuer, chainId, account, validFrom, validUntil, registry, hash: credentialDigest(doc as JsonObject) };
}
