// The checks that need a chain (verifier/src/chain_verification.rs
// `ChainVerifier::check` and `judge`): inclusion, binding, anchor and
// revocation, reported in the Rust order with the Rust outcomes. The reads
// are all started at once (`prefetch`), since each node answers in about a
// millisecond on loopback and a round trip more or less is most of the
// time; the checks then consume them in the Rust order, and a read the Rust
// verifier would not have made is never looked at.

import { accountDid, covers, verifyBinding, type Binding } from "./binding";
import { get, toHex, bytesEqual, type JsonObject } from "./json";
import { anchorEntryOf, credentialDigest, verifyInclusion, type AnchorEntry } from "./proof";
import { ReadError, RegistryReader, bit, defaultConfirmations } from "./registry";
import { daysBetween, fmtTime, fromSeconds, parseRfc3339, toRfc3339, type Instant } from "./rfc3339";
import type { Report, Status } from "./report";

export const BACKDATING_TOLERANCE_DAYS = 30n;

const ZERO_ADDRESS = new Uint8Array(20);
const UINT24_MAX = 16_777_215n;

type Outcome<T> = { ok: true; value: T } | { ok: false; status: Status; detail: string };
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const err = <T>(status: Status, detail: string): Outcome<T> => ({ ok: false, status, detail });

function readOutcome<T>(e: unknown): Outcome<T> {
  if (e instanceof ReadError) return err(e.kind === "disagree" ? "fail" : "could-not-check", e.message);
  return err("could-not-check", e instanceof Error ? e.message : String(e));
}

const b256 = (b: Uint8Array) => `0x${toHex(b)}`;

/** Adds a check and keeps the verdict in step (Rust `Report::add`). */
export function add(report: Report, name: string, status: Status, detail: string): void {
  report.checks.push(detail ? { name, status, detail } : { name, status });
  report.verdict = report.checks.some((c) => c.status === "fail")
    ? "invalid"
    : report.checks.some((c) => c.status === "could-not-check")
      ? "unknown"
      : "valid";
}

/** The anchor entry, or every chain check reported and null. */
function entryOrReport(doc: JsonObject, report: Report): AnchorEntry | null {
  let status: Status;
  let why: string;
  try {
    const entry = anchorEntryOf(doc);
    if (entry) return entry;
    status = "absent";
    why = "not anchored: the credential carries no anchor proof (its batch is not anchored yet, or another system issued it)";
  } catch (e) {
    status = "fail";
    why = (e as Error).message;
  }
  for (const name of ["inclusion", "binding", "anchor", "revocation"]) add(report, name, status, why);
  return null;
}

/** Chain reads for one credential, started as soon as its entry is known. */
export interface Prefetch {
  reader: RegistryReader;
  entry: AnchorEntry | null;
  /** The binding document's check, run while the reads travel. */
  binding: Promise<Binding> | null;
}

/** Starts every read the checks of `doc` may need, and the binding
 * document's check; nothing is reported here. */
export function prefetch(doc: JsonObject, rpcUrls: string[]): Prefetch {
  const reader = new RegistryReader(rpcUrls);
  let entry: AnchorEntry | null = null;
  try {
    entry = anchorEntryOf(doc);
  } catch {
    entry = null;
  }
  if (!entry) return { reader, entry: null, binding: null };
  reader.chainId().catch(() => {});
  reader.anchor(entry.registry, entry.root).catch(() => {});
  reader.blockHash(entry.blockNumber).catch(() => {});
  reader.anchorTransaction(entry.registry, entry.root, entry.transaction).catch(() => {});
  reader.head().catch(() => {});
  if (entry.inclusion.leafCount <= UINT24_MAX) {
    reader.status(entry.registry, entry.root, entry.inclusion.leafCount).catch(() => {});
  }
  // The binding's registration: its hash is the JCS digest of the document
  // as it stands, whatever its signature turns out to be.
  const registry = entry.registry;
  const binding = verifyBinding(entry.binding);
  binding.catch(() => {});
  if (typeof entry.binding === "object" && entry.binding !== null && !Array.isArray(entry.binding)) {
    reader.binding(registry, credentialDigest(entry.binding)).catch(() => {});
  }
  return { reader, entry, binding };
}

/** The binding for the credential (chain_verification.rs
 * `Bindings::for_credential`, with no registry pinned). */
async function forCredential(entry: AnchorEntry, issuer: string, checked: Promise<Binding>): Promise<Outcome<Binding>> {
  let b: Binding;
  try {
    b = await checked;
  } catch (e) {
    return err("fail", (e as Error).message);
  }
  if (b.issuer !== issuer) {
    return err("fail", `the binding is signed by ${b.issuer}, not by the credential's issuer ${issuer}`);
  }
  if (b.chainId !== entry.chainId) return err("fail", `the binding names chain eip155:${b.chainId}, not ${entry.chain}`);
  if (b.registry === null) {
    return err(
      "fail",
      `the binding names no registry (it predates registry pinning): pin the issuer's registry with --registry ${entry.registry.text} to accept it`,
    );
  }
  if (!bytesEqual(b.registry.bytes, entry.registry.bytes)) {
    return err(
      "fail",
      `the binding names registry ${b.registry.text}, not the anchor proof's ${entry.registry.text}: no other registry speaks for the issuer`,
    );
  }
  return ok(b);
}

interface AnchorSeen {
  issuer: { bytes: Uint8Array; text: string };
  blockNumber: bigint;
  blockHash: Uint8Array;
  timestamp: bigint;
  leafCount: bigint;
  vouched: string;
}

/** The rules tying binding and anchor together; reports `binding` and
 * `anchor`; true when both stand. */
function judge(doc: JsonObject, entry: AnchorEntry, issuer: string, binding: Outcome<Binding>, anchorIn: Outcome<AnchorSeen>, report: Report): boolean {
  let anchor = anchorIn;
  if (anchor.ok) {
    const a = anchor.value;
    if (a.blockNumber !== entry.blockNumber) {
      anchor = err("fail", `the anchor proof's blockNumber ${entry.blockNumber} is not the anchor's block ${a.blockNumber}`);
    } else if (!bytesEqual(a.blockHash, entry.blockHash)) {
      anchor = err("fail", `the anchor proof's blockHash ${b256(entry.blockHash)} is not block ${a.blockNumber}'s hash ${b256(a.blockHash)}`);
    } else if (a.leafCount !== entry.inclusion.leafCount) {
      anchor = err("fail", `the anchor covers ${a.leafCount} leaves, the proof says ${entry.inclusion.leafCount}`);
    } else if (binding.ok && !bytesEqual(a.issuer.bytes, binding.value.account.bytes)) {
      anchor = err(
        "fail",
        `anchored by ${a.issuer.text}, an account the issuer's binding does not name (it names ${binding.value.account.text})`,
      );
    }
  }
  if (binding.ok && anchor.ok) {
    const at = fromSeconds(anchor.value.timestamp);
    if (!covers(binding.value, at)) {
      binding = err("fail", `the binding of ${binding.value.account.text} does not cover the anchor's time ${toRfc3339(at)}`);
    }
  }
  if (binding.ok) {
    add(report, "binding", "pass", `${accountDid(binding.value.chainId, binding.value.account)} speaks for ${issuer}`);
  } else {
    add(report, "binding", binding.status, binding.detail);
  }
  if (anchor.ok) {
    const a = anchor.value;
    const at = fromSeconds(a.timestamp);
    report.anchoredAt = fmtTime(at);
    add(report, "anchor", "pass", `block ${a.blockNumber}, ${toRfc3339(at)}, ${a.vouched}`);
    const vf = get(doc, "validFrom");
    const from: Instant | null = typeof vf === "string" ? parseRfc3339(vf) : null;
    if (from) {
      const days = daysBetween(from, at);
      if (days > BACKDATING_TOLERANCE_DAYS) {
        (report.warnings ??= []).push(
          `validFrom ${toRfc3339(from)} is ${days} days before the anchor (${toRfc3339(at)}), the earliest time the credential provably existed`,
        );
      }
    }
  } else {
    add(report, "anchor", anchor.status, anchor.detail);
  }
  return binding.ok && anchor.ok;
}

/** `anchor_block`: the canonical hash of the anchor's block and the head,
 * after checking the entry's transaction anchored the root there. */
async function anchorBlock(reader: RegistryReader, entry: AnchorEntry, number: bigint): Promise<Outcome<[Uint8Array, bigint]>> {
  let hash: Uint8Array | null;
  try {
    hash = await reader.blockHash(number);
  } catch (e) {
    return readOutcome(e);
  }
  if (hash === null) return err("could-not-check", `the chain nodes do not have block ${number} yet`);
  try {
    const t = await reader.anchorTransaction(entry.registry, entry.root, entry.transaction);
    if (!(t && bytesEqual(t.blockHash, hash))) {
      return err(
        "fail",
        `the anchor proof's transaction ${b256(entry.transaction)} is not the one that anchored root ${toHex(entry.root)} in block ${number}`,
      );
    }
  } catch (e) {
    return readOutcome(e);
  }
  try {
    return ok([hash, await reader.head()]);
  } catch (e) {
    return readOutcome(e);
  }
}

/** Adds the chain checks of `doc` to its offline report. */
export async function checkChain(doc: JsonObject, report: Report, pre: Prefetch, confirmationsAsked?: bigint): Promise<void> {
  const entry = entryOrReport(doc, report);
  if (!entry) return;
  const reader = pre.reader;
  if (credentialDigestOk(doc, entry)) {
    add(report, "inclusion", "pass", `leaf ${entry.inclusion.leafIndex} of ${entry.inclusion.leafCount} under root ${toHex(entry.root)}`);
  } else {
    add(report, "inclusion", "fail", "the Merkle path does not lead from this credential to the anchored root");
  }
  let chainId: bigint;
  try {
    chainId = await reader.chainId();
  } catch (e) {
    // `cairn verify` stops before any check when it cannot connect; a page
    // has a report to show.
    const why = `cannot use the chain nodes: ${(e as Error).message}`;
    for (const name of ["binding", "anchor", "revocation"]) add(report, name, "could-not-check", why);
    return;
  }
  if (entry.chainId !== chainId) {
    const why = `anchored on ${entry.chain}, but the chain nodes serve eip155:${chainId}`;
    for (const name of ["binding", "anchor", "revocation"]) add(report, name, "could-not-check", why);
    return;
  }
  let confirmations = confirmationsAsked ?? defaultConfirmations(chainId);
  if (confirmations < 1n) confirmations = 1n;
  const issuer = report.issuer ?? "";

  let binding: Outcome<Binding>;
  const forIssuer = await forCredential(entry, issuer, pre.binding ?? verifyBinding(entry.binding));
  if (forIssuer.ok) {
    const b = forIssuer.value;
    try {
      const f = await reader.binding(entry.registry, b.hash);
      if (bytesEqual(f.account.bytes, ZERO_ADDRESS)) {
        binding = err("fail", `the registry holds no such binding: the issuer never bound ${b.account.text}`);
      } else if (!bytesEqual(f.account.bytes, b.account.bytes)) {
        binding = err("fail", `the binding was registered by ${f.account.text}, not by the account it names, ${b.account.text}`);
      } else {
        binding = ok(b);
      }
    } catch (e) {
      binding = readOutcome(e);
    }
  } else {
    binding = forIssuer;
  }

  let anchor: Outcome<AnchorSeen>;
  try {
    const a = await reader.anchor(entry.registry, entry.root);
    if (bytesEqual(a.issuer.bytes, ZERO_ADDRESS)) {
      anchor = err("fail", `root ${toHex(entry.root)} was never anchored in registry ${entry.registry.text}`);
    } else {
      const block = await anchorBlock(reader, entry, a.blockNumber);
      if (!block.ok) {
        anchor = block;
      } else {
        const [blockHash, head] = block.value;
        const depth = head + 1n - a.blockNumber > 0n ? head + 1n - a.blockNumber : 0n;
        anchor =
          depth < confirmations
            ? err("could-not-check", `${depth} of ${confirmations} confirmations so far`)
            : ok({
                issuer: a.issuer,
                blockNumber: a.blockNumber,
                blockHash,
                timestamp: a.timestamp,
                leafCount: a.leafCount,
                vouched: `${depth} confirmations`,
              });
      }
    }
  } catch (e) {
    anchor = readOutcome(e);
  }

  if (!judge(doc, entry, issuer, binding, anchor, report)) {
    add(report, "revocation", "could-not-check", "the anchor or binding does not stand, so the registry's flags say nothing");
    return;
  }
  try {
    const maps = await reader.status(entry.registry, entry.root, entry.inclusion.leafCount);
    const index = entry.inclusion.leafIndex;
    if (bit(maps.revoked, index)) add(report, "revocation", "fail", "revoked by its issuer");
    else if (bit(maps.suspended, index)) add(report, "revocation", "fail", "suspended by its issuer");
    else {
      const head = await reader.head().catch(() => 0n);
      add(report, "revocation", "pass", `neither revoked nor suspended as of block ${head}`);
    }
  } catch (e) {
    const o = readOutcome<never>(e);
    if (!o.ok) add(report, "revocation", o.status, o.detail);
  }
}

function credentialDigestOk(doc: JsonObject, entry: AnchorEntry): boolean {
  return verifyInclusion(entry.inclusion, credentialDigest(doc), entry.root);
}
