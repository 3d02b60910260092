// Reading the registry contract from chain nodes that must agree
// (verifier/src/registry.rs): every read goes to every node, in parallel;
// two answers that differ are a disagreement (it fails the check it
// touches), a node that does not answer leaves the fact unknown. Answers
// are kept for the reader's life, so a read started early (to save round
// trips) is the same read the checks use later.

import { createClient, decodeFunctionResult, encodeEventTopics, encodeFunctionData, http, type Client, type Hex } from "viem";
import { abi } from "../../../contracts/artifacts/CairnRegistry.json";
import { hexFixed, toHex } from "./json";
import { address, type Address } from "./proof";

const ABI = abi as readonly unknown[] as import("viem").Abi;

/** The `Anchored` event's topic 0. */
const ANCHORED_TOPIC = (encodeEventTopics({ abi: ABI, eventName: "Anchored" })[0] as string).toLowerCase();

export type ReadErrorKind = "url" | "rpc" | "disagree" | "chain-mismatch" | "no-quorum";

/** Why a fact could not be read, worded as the Rust `ReadError`. */
export class ReadError extends Error {
  constructor(
    readonly kind: ReadErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface AnchorFacts {
  issuer: Address;
  blockNumber: bigint;
  timestamp: bigint;
  leafCount: bigint;
}

export interface BindingFacts {
  account: Address;
  blockNumber: bigint;
  timestamp: bigint;
}

export interface AnchorTransaction {
  blockNumber: bigint;
  blockHash: Uint8Array;
}

export interface Bitmaps {
  revoked: bigint[];
  suspended: bigint[];
}

/** Confirmations asked for by default on a chain (registry.rs). */
export function defaultConfirmations(chainId: bigint): bigint {
  switch (chainId) {
    case 31337n:
    case 1337n:
      return 1n;
    case 137n:
      return 128n;
    case 10n:
    case 8453n:
      return 30n;
    case 42161n:
      return 240n;
    default:
      return 12n;
  }
}

/** Bit `index` of a status bitmap: word `index / 256`, least significant
 * bit first. */
export function bit(words: bigint[], index: bigint): boolean {
  const w = words[Number(index / 256n)];
  return w !== undefined && ((w >> (index % 256n)) & 1n) === 1n;
}

/** A value as the Rust side debug-prints it in a disagreement, and the key
 * two answers are compared by. */
function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? `0x${toHex(x)}` : x));
}

const hexQuantity = (n: bigint) => `0x${n.toString(16)}` as Hex;

function quantity(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]+$/.test(v)) throw new Error(`${what} is not a quantity`);
  return BigInt(v);
}

function hash32(v: unknown, what: string): Uint8Array {
  const b = typeof v === "string" ? hexFixed(v, 32) : null;
  if (!b) throw new Error(`${what} is not a 32-byte hash`);
  return b;
}

function errorText(e: unknown): string {
  if (e && typeof e === "object") {
    const { shortMessage, details } = e as { shortMessage?: unknown; details?: unknown };
    if (typeof shortMessage === "string") {
      return typeof details === "string" && details && !shortMessage.includes(details) ? `${shortMessage} (${details})` : shortMessage;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

/** Reads the registry from the chain nodes at `urls`, which must agree. */
export class RegistryReader {
  readonly urls: string[];
  private readonly clients: Client[];
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(urls: string[], options: { timeoutMs?: number } = {}) {
    this.urls = urls;
    this.clients = urls.map((url) => createClient({ transport: http(url, { retryCount: 0, timeout: options.timeoutMs ?? 10_000, batch: false }) }));
  }

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      // A read started early and never used must not be an unhandled
      // rejection.
      p.catch(() => {});
      this.cache.set(key, p);
    }
    return p;
  }

  private request(client: Client, method: string, params: unknown[]): Promise<unknown> {
    return (client.request as (a: { method: string; params: unknown[] }) => Promise<unknown>)({ method, params });
  }

  /** Asks every node; one answer when all answered alike. */
  private async agreed<T>(what: string, ask: (client: Client) => Promise<T>): Promise<T> {
    const answers = await Promise.allSettled(this.clients.map((c) => ask(c)));
    let first: { url: string; value: T; shown: string } | undefined;
    let answered = 0;
    let last = "";
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i];
      if (a.status === "fulfilled") {
        answered++;
        const shown = show(a.value);
        if (!first) first = { url: this.urls[i], value: a.value, shown };
        else if (first.shown !== shown) {
          throw new ReadError("disagree", `the chain nodes disagree on ${what}: ${first.url} says ${first.shown}, ${this.urls[i]} says ${shown}`);
        }
      } else {
        last = `${this.urls[i]}: ${errorText(a.reason)}`;
      }
    }
    if (first && answered >= this.urls.length) return first.value;
    throw new ReadError("no-quorum", `only ${answered} of the ${this.urls.length} chain nodes needed answered: ${last || "no chain node answered"}`);
  }

  /** The chain id every node serves (registry.rs `connect`). */
  chainId(): Promise<bigint> {
    return this.once("chainId", async () => {
      if (this.urls.length === 0) throw new ReadError("no-quorum", "no chain node given");
      const answers = await Promise.allSettled(this.clients.map((c) => this.request(c, "eth_chainId", [])));
      let chain: { id: bigint; url: string } | undefined;
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i];
        if (a.status === "rejected") throw new ReadError("rpc", `${this.urls[i]}: ${errorText(a.reason)}`);
        let id: bigint;
        try {
          id = quantity(a.value, "the chain id");
        } catch (e) {
          throw new ReadError("rpc", `${this.urls[i]}: ${errorText(e)}`);
        }
        if (!chain) chain = { id, url: this.urls[i] };
        else if (chain.id !== id) {
          throw new ReadError("chain-mismatch", `${this.urls[i]} serves chain ${id}, not ${chain.id} like ${chain.url}`);
        }
      }
      return (chain as { id: bigint }).id;
    });
  }

  private async call(client: Client, registry: Address, functionName: string, args: unknown[]): Promise<unknown> {
    const data = encodeFunctionData({ abi: ABI, functionName, args });
    const out = await this.request(client, "eth_call", [{ to: registry.text, data }, "latest"]);
    return decodeFunctionResult({ abi: ABI, functionName, data: out as Hex });
  }

  /** `anchors(root)`. */
  anchor(registry: Address, root: Uint8Array): Promise<AnchorFacts> {
    const r = `0x${toHex(root)}`;
    return this.once(`anchor ${registry.text} ${r}`, () =>
      this.agreed(`the anchor of root ${r}`, async (c) => {
        const [issuer, blockNumber, timestamp, leafCount] = (await this.call(c, registry, "anchors", [r])) as [string, bigint, bigint, bigint];
        const max = 18446744073709551615n;
        return {
          issuer: address(hexFixed(issuer, 20) as Uint8Array),
          blockNumber,
          timestamp,
          leafCount: leafCount > max ? max : leafCount,
        };
      }),
    );
  }

  /** `bindings(hash)`. */
  binding(registry: Address, hash: Uint8Array): Promise<BindingFacts> {
    const h = `0x${toHex(hash)}`;
    return this.once(`binding ${registry.text} ${h}`, () =>
      this.agreed(`binding ${h}`, async (c) => {
        const [account, blockNumber, timestamp] = (await this.call(c, registry, "bindings", [h])) as [string, bigint, bigint];
        return { account: address(hexFixed(account, 20) as Uint8Array), blockNumber, timestamp };
      }),
    );
  }

  /** Both bitmaps of `root`, `leafCount` bits each, in one call. */
  status(registry: Address, root: Uint8Array, leafCount: bigint): Promise<Bitmaps> {
    const r = `0x${toHex(root)}`;
    let words = (leafCount + 255n) / 256n;
    if (words < 1n) words = 1n;
    return this.once(`status ${registry.text} ${r} ${words}`, () =>
      this.agreed(`the status of root ${r}`, async (c) => {
        const [revoked, suspended] = (await this.call(c, registry, "statusWords", [r, 0n, words])) as [readonly bigint[], readonly bigint[]];
        return { revoked: [...revoked], suspended: [...suspended] };
      }),
    );
  }

  /** The hash of canonical block `number`, null if the chain has none. */
  blockHash(number: bigint): Promise<Uint8Array | null> {
    return this.once(`block ${number}`, () =>
      this.agreed(`block ${number}`, async (c) => {
        const b = await this.request(c, "eth_getBlockByNumber", [hexQuantity(number), false]);
        if (b === null) return null;
        if (typeof b !== "object") throw new Error("not a block");
        return hash32((b as { hash?: unknown }).hash, "the block hash");
      }),
    );
  }

  /** Where transaction `tx` was mined, if it succeeded and its receipt
   * holds the registry's `Anchored` log for `root`; null otherwise. */
  anchorTransaction(registry: Address, root: Uint8Array, tx: Uint8Array): Promise<AnchorTransaction | null> {
    const t = `0x${toHex(tx)}`;
    const rootTopic = `0x${toHex(root)}`;
    return this.once(`tx ${registry.text} ${rootTopic} ${t}`, () =>
      this.agreed(`transaction ${t}`, async (c) => {
        const r = await this.request(c, "eth_getTransactionReceipt", [t]);
        if (r === null) return null;
        if (typeof r !== "object") throw new Error("not a receipt");
        const receipt = r as { status?: unknown; logs?: unknown; blockNumber?: unknown; blockHash?: unknown };
        if (!Array.isArray(receipt.logs)) throw new Error("a receipt without logs");
        const registryHex = `0x${toHex(registry.bytes)}`;
        const anchors = receipt.logs.some((l: { address?: unknown; topics?: unknown }) => {
          const topics = Array.isArray(l?.topics) ? (l.topics as unknown[]) : [];
          return (
            typeof l?.address === "string" &&
            l.address.toLowerCase() === registryHex &&
            typeof topics[0] === "string" &&
            topics[0].toLowerCase() === ANCHORED_TOPIC &&
            typeof topics[1] === "string" &&
            topics[1].toLowerCase() === rootTopic
          );
        });
        const ok = typeof receipt.status === "string" && BigInt(quantity(receipt.status, "the status")) === 1n;
        if (!(ok && anchors)) return null;
        return {
          blockNumber: receipt.blockNumber == null ? 0n : quantity(receipt.blockNumber, "the block number"),
          blockHash: receipt.blockHash == null ? new Uint8Array(32) : hash32(receipt.blockHash, "the block hash"),
        };
      }),
    );
  }

  /** The chain head: the lowest among the nodes (a lagging node can only
   * make an anchor look shallower). */
  head(): Promise<bigint> {
    return this.once("head", async () => {
      const answers = await Promise.allSettled(this.clients.map((c) => this.request(c, "eth_blockNumber", [])));
      let lowest: bigint | undefined;
      let answered = 0;
      let last = "";
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i];
        try {
          if (a.status === "rejected") throw a.reason;
          const n = quantity(a.value, "the block number");
          answered++;
          lowest = lowest === undefined || n < lowest ? n : lowest;
        } catch (e) {
          last = `${this.urls[i]}: ${errorText(e)}`;
        }
      }
      if (lowest !== undefined && answered >= this.urls.length) return lowest;
      throw new ReadError("no-quorum", `only ${answered} of the ${this.urls.length} chain nodes needed answered: ${last}`);
    });
  }
}
