// JSON as the Rust verifier (serde_json) reads it, and small helpers for
// reading documents without tripping over JavaScript's prototypes.

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v[key]` when `v` is an object that has that member itself (serde's
 * `Value::get`): never a prototype's `constructor` or `__proto__`. */
export function get(v: unknown, key: string): Json | undefined {
  if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
  return v[key];
}

/** `v[key]` as a string, if it is one (serde's `.and_then(Value::as_str)`). */
export function str(v: unknown, key: string): string | undefined {
  const x = get(v, key);
  return typeof x === "string" ? x : undefined;
}

/** Rust's `char::is_whitespace` (Unicode White_Space), which differs from
 * JavaScript's `\s` (U+0085 is one, U+FEFF is not). */
export const WHITESPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const HAS_WHITESPACE = new RegExp(`[${WHITESPACE}]`, "u");
const TRIM = new RegExp(`^[${WHITESPACE}]+|[${WHITESPACE}]+$`, "gu");

export function hasWhitespace(s: string): boolean {
  return HAS_WHITESPACE.test(s);
}

/** Rust's `str::trim`. */
export function rustTrim(s: string): string {
  return s.replace(TRIM, "");
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why serde_json would refuse a value JSON.parse accepted: nesting of 128
 * or more (its recursion limit), a number out of range, a lone surrogate. */
function serdeRefusal(v: unknown, depth: number): string | null {
  if (typeof v === "number") return Number.isFinite(v) ? null : "number out of range";
  if (typeof v === "string") return LONE_SURROGATE.test(v) ? "lone surrogate in hex escape" : null;
  if (typeof v !== "object" || v === null) return null;
  if (depth + 1 >= 128) return "recursion limit exceeded";
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = serdeRefusal(x, depth + 1);
      if (r) return r;
    }
    return null;
  }
  for (const [k, x] of Object.entries(v)) {
    if (LONE_SURROGATE.test(k)) return "lone surrogate in hex escape";
    const r = serdeRefusal(x, depth + 1);
    if (r) return r;
  }
  return null;
}

/** Number lexemes as written, where they differ from JavaScript's own
 * form of the value (`3.0`, `1e-07`, `12345678901234567890`): the Rust
 * verifier keeps them (serde_json's `arbitrary_precision`, on in its
 * build), and they enter its JCS digest and its RDF. By container, then
 * by member name or array index. */
export const LEXEMES = new WeakMap<object, Map<string, string>>();

/** The number at `container[key]` as written in the JSON it came from. */
export function lexeme(container: object, key: string | number, value: number): string {
  return LEXEMES.get(container)?.get(String(key)) ?? String(value);
}

/** Records the lexemes of `text` (valid JSON) against `root`, the value
 * JSON.parse made of it. For duplicate members, the last one counts, as in
 * JSON.parse. */
function recordLexemes(text: string, root: Json): void {
  if (!/[0-9]/.test(text)) return;
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const skipString = () => {
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
  };
  const skipNumber = () => {
    while (i < text.length && /[-+0-9.eE]/.test(text[i])) i++;
  };
  const skipValue = (): void => {
    ws();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === "{" || c === "[") {
      let depth = 0;
      do {
        const d = text[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === "{" || d === "[") depth++;
        else if (d === "}" || d === "]") depth--;
        i++;
      } while (depth > 0);
      return;
    }
    if (c === "-" || (c >= "0" && c <= "9")) return skipNumber();
    i += c === "f" ? 5 : 4;
  };
  const member = (container: object, key: string, v: Json | undefined, start: number) => {
    i = start;
    ws();
    const c = text[i];
    if (c === "-" || (c >= "0" && c <= "9")) {
      const from = i;
      skipNumber();
      const lex = text.slice(from, i);
      const map = LEXEMES.get(container);
      if (typeof v === "number" && lex !== String(v)) {
        if (map) map.set(key, lex);
        else LEXEMES.set(container, new Map([[key, lex]]));
      } else map?.delete(key);
    } else walk(v);
  };
  const walk = (v: Json | undefined): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const starts = new Map<string, number>();
      ws();
      while (text[i] !== "}") {
        const from = i;
        skipString();
        const key = JSON.parse(text.slice(from, i)) as string;
        ws();
        i++; // ':'
        starts.set(key, i);
        skipValue();
        ws();
        if (text[i] === ",") {
          i++;
          ws();
        }
      }
      const end = i + 1;
      if (isObject(v)) for (const [key, start] of starts) member(v, key, v[key], start);
      i = end;
    } else if (c === "[") {
      i++;
      const starts: number[] = [];
      ws();
      while (text[i] !== "]") {
        starts.push(i);
        skipValue();
        ws();
        if (text[i] === ",") {
          i++;
          ws();
        }
      }
      const end = i + 1;
      if (Array.isArray(v)) starts.forEach((start, k) => member(v, String(k), v[k], start));
      i = end;
    } else {
      skipValue();
    }
  };
  walk(root);
}

/** Parses JSON text as serde_json does: the value, or why not. Number
 * lexemes are kept (see LEXEMES). */
export function parseJsonText(text: string): { value: Json } | { error: string } {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  const refusal = serdeRefusal(value, 0);
  if (refusal) return { error: refusal };
  recordLexemes(text, value);
  return { value };
}

/** Parses JSON bytes: UTF-8 only, a byte order mark is not JSON. */
export function parseJsonBytes(bytes: Uint8Array): { value: Json } | { error: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { error: "invalid UTF-8" };
  }
  return parseJsonText(text);
}

/** serde_json's `Value` equality: objects as maps, arrays in order. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

/** A u64 as serde reads one from JSON: a non-negative integer written as
 * one (`7`, not `7.0`); `written` is its lexeme, when known. */
export function asU64(v: unknown, written?: string): bigint | null {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 18446744073709551615) return null;
  if (written !== undefined && !/^-?[0-9]+$/.test(written)) return null;
  return written !== undefined && /^[0-9]+$/.test(written) ? BigInt(written) : BigInt(v);
}

/** Rust's `str::parse::<u64>()`: an optional `+`, then ASCII digits only. */
export function parseU64(s: string): bigint | null {
  if (!/^\+?[0-9]+$/.test(s)) return null;
  const n = BigInt(s);
  return n <= 18446744073709551615n ? n : null;
}

const HEX = /^[0-9a-fA-F]*$/;

/** The `hex` crate's `decode`: an even number of hex digits, no prefix. */
export function hexDecode(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !HEX.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `const_hex`'s fixed-size decode (alloy's `B256`, `Address`): an optional
 * `0x`/`0X`, then exactly `n` bytes of hex. */
export function hexFixed(s: string, n: number): Uint8Array | null {
  const t = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  const b = hexDecode(t);
  return b && b.length === n ? b : null;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
