// The wire formats of Cairn's proofs (docs/proof-format.md): the proof set,
// the anchor proof entry with exactly the parsing rules of
// verifier/src/proof.rs (`AnchorEntry::of`) and merkle.rs, the credential
// digest (JCS, RFC 8785) and the RFC 9162 inclusion proof.

import canonicalize from "canonicalize";
import { sha256 } from "@noble/hashes/sha2";
import { getAddress } from "viem";
import { LEXEMES, asU64, get, hexDecode, hexFixed, isObject, parseU64, str, toHex, bytesEqual, type Json, type JsonObject } from "./json";

export const ANCHOR_PROOF_TYPE = "CairnAnchorProof2026";

/** The proofs of `doc` (none without a `proof`), or why `proof` is not a
 * proof set. */
export function proofs(doc: Json): Json[] | string {
  const p = get(doc, "proof");
  if (p === undefined) return [];
  if (Array.isArray(p)) return p;
  if (isObject(p)) return [p];
  return "`proof` is neither an object nor an array";
}

export function isAnchorEntry(proof: Json): boolean {
  return str(proof, "type") === ANCHOR_PROOF_TYPE;
}

/** SHA-256 of the JCS form of `credential` without its anchor proofs: a
 * proof set of one is written as that one object. */
export function credentialDigest(credential: JsonObject): Uint8Array {
  const list = proofs(credential);
  const copy: JsonObject = {};
  for (const [k, v] of Object.entries(credential)) {
    if (k !== "proof") Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  if (typeof list === "string") {
    copy.proof = get(credential, "proof") as Json;
  } else {
    const kept = list.filter((p) => !isAnchorEntry(p));
    if (kept.length === 1) copy.proof = kept[0];
    else if (kept.length > 1) copy.proof = kept;
  }
  return sha256(new TextEncoder().encode(jcs(copy)));
}

/** JCS (RFC 8785). Numbers are written in their ECMAScript form whatever
 * their lexeme (the Rust digest does the same, checked against anchored
 * credentials holding `3.0` and `1e-07`). */
export function jcs(value: Json): string {
  return canonicalize(value) ?? "";
}

export interface InclusionProof {
  leafIndex: bigint;
  leafCount: bigint;
  path: Uint8Array[];
}

/** A chain address, with its EIP-55 form for display. */
export interface Address {
  bytes: Uint8Array;
  /** `0x` and the checksummed hex. */
  text: string;
}

export function address(bytes: Uint8Array): Address {
  return { bytes, text: getAddress(`0x${toHex(bytes)}`) };
}

/** alloy's `Address` from a string: an optional `0x`, 40 hex digits in any
 * case (the checksum is not checked). */
export function parseAddress(s: string): Address | null {
  const b = hexFixed(s, 20);
  return b ? address(b) : null;
}

export interface AnchorEntry {
  chain: string;
  chainId: bigint;
  registry: Address;
  transaction: Uint8Array;
  blockNumber: bigint;
  blockHash: Uint8Array;
  root: Uint8Array;
  inclusion: InclusionProof;
  binding: Json;
}

/** alloy's `B256` as serde reads it: a hex string (optional `0x`), or an
 * array of 32 bytes. */
function b256(v: Json | undefined, field: string): Uint8Array {
  if (typeof v === "string") {
    const b = hexFixed(v, 32);
    if (!b) throw new Error(`${field}: not 32 bytes of hex`);
    return b;
  }
  if (Array.isArray(v) && v.length === 32 && v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 255)) {
    return Uint8Array.from(v as number[]);
  }
  throw new Error(`${field}: expected 32 bytes, represented as a hex string of length 64, an array of u8, or raw bytes`);
}

function u64(container: JsonObject, field: string): bigint {
  const v = get(container, field);
  if (v === undefined) throw new Error(`missing field \`${field}\``);
  const n = asU64(v, LEXEMES.get(container)?.get(field));
  if (n === null) throw new Error(`${field}: expected u64`);
  return n;
}

function string(v: Json | undefined, field: string): string {
  if (v === undefined) throw new Error(`missing field \`${field}\``);
  if (typeof v !== "string") throw new Error(`${field}: expected a string`);
  return v;
}

/** `chain`'s id when it is `eip155:<id>`. */
export function chainIdOf(chain: string): bigint | null {
  return chain.startsWith("eip155:") ? parseU64(chain.slice(7)) : null;
}

/** The anchor entry of `doc`: null without one; throws a message naming
 * what is wrong with a malformed one, or with two. */
export function anchorEntryOf(doc: Json): AnchorEntry | null {
  const list = proofs(doc);
  if (typeof list === "string") throw new Error(list);
  const entries = list.filter(isAnchorEntry);
  if (entries.length === 0) return null;
  if (entries.length > 1) throw new Error("more than one anchor proof");
  const e = entries[0] as JsonObject;
  let entry: AnchorEntry;
  try {
    const chain = string(get(e, "chain"), "chain");
    const registryText = string(get(e, "registry"), "registry");
    const registry = parseAddress(registryText);
    if (!registry) throw new Error(`\`${registryText}\` is not an address`);
    if (get(e, "transaction") === undefined) throw new Error("missing field `transaction`");
    const transaction = b256(get(e, "transaction"), "transaction");
    const blockNumber = u64(e, "blockNumber");
    if (get(e, "blockHash") === undefined) throw new Error("missing field `blockHash`");
    const blockHash = b256(get(e, "blockHash"), "blockHash");
    const rootText = string(get(e, "root"), "root");
    const root = hexDecode(rootText.startsWith("0x") ? rootText.slice(2) : rootText);
    if (!root || root.length !== 32) throw new Error("`root` is not 32 bytes of hex");
    const leafIndex = u64(e, "leafIndex");
    const leafCount = u64(e, "leafCount");
    const pathValue = get(e, "path");
    if (pathValue === undefined) throw new Error("missing field `path`");
    if (!Array.isArray(pathValue)) throw new Error("path: expected a sequence");
    const path = pathValue.map((h) => {
      if (typeof h !== "string") throw new Error("path: expected a string");
      const b = hexDecode(h);
      if (!b) throw new Error("path: invalid hex");
      if (b.length !== 32) throw new Error("a path hash must be 32 bytes");
      return b;
    });
    const binding = get(e, "binding");
    if (binding === undefined) throw new Error("missing field `binding`");
    entry = {
      chain,
      chainId: 0n,
      registry,
      transaction,
      blockNumber,
      blockHash,
      root,
      inclusion: { leafIndex, leafCount, path },
      binding,
    };
  } catch (err) {
    throw new Error(`the anchor proof: ${(err as Error).message}`);
  }
  const id = chainIdOf(entry.chain);
  if (id === null) throw new Error("the anchor proof's `chain` is not eip155:<id>");
  entry.chainId = id;
  return entry;
}

function leafHash(digest: Uint8Array): Uint8Array {
  const b = new Uint8Array(33);
  b[0] = 0;
  b.set(digest, 1);
  return sha256(b);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const b = new Uint8Array(65);
  b[0] = 1;
  b.set(left, 1);
  b.set(right, 33);
  return sha256(b);
}

/** How many siblings leaf `index` of `count` has on its way up. */
function pathLength(index: bigint, count: bigint): number {
  let n = 0;
  while (count > 1n) {
    if ((index ^ 1n) < count) n++;
    index /= 2n;
    count = (count + 1n) / 2n;
  }
  return n;
}

/** Whether `digest` is leaf `leafIndex` of the tree with `root`: RFC 9162,
 * a node without a sibling carried up, the path of exactly the length the
 * position needs. */
export function verifyInclusion(p: InclusionProof, digest: Uint8Array, root: Uint8Array): boolean {
  if (p.leafIndex >= p.leafCount) return false;
  if (p.path.length !== pathLength(p.leafIndex, p.leafCount)) return false;
  let node = leafHash(digest);
  let index = p.leafIndex;
  let count = p.leafCount;
  let next = 0;
  while (count > 1n) {
    if ((index ^ 1n) < count) {
      const sibling = p.path[next++];
      node = index & 1n ? nodeHash(sibling, node) : nodeHash(node, sibling);
    }
    index /= 2n;
    count = (count + 1n) / 2n;
  }
  return bytesEqual(node, root);
}
