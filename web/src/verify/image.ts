// Reading the credential baked into a badge image (verifier/src/image.rs
// `unbake`): a PNG's `iTXt` chunk with keyword `openbadgecredential`, or an
// SVG's `openbadges:credential` element. Exactly one must be there; the
// limits are the Rust side's.
//
// PNG: chunks and their CRCs through png-chunks-extract; the rest follows
// the Rust `png` decoder: a bad CRC on an ancillary chunk (a baked
// credential whose text was edited in place) drops that chunk, on a
// critical one it refuses the file; the image data must inflate to every
// row. The iTXt fields are split here (png-chunk-itxt needs Node's zlib and
// compiles its parser with `new Function`, which the pages' CSP forbids);
// compressed text inflates with the platform's DecompressionStream.
// SVG: the platform's DOMParser (a test in Node sets one on globalThis).

import extractChunks from "png-chunks-extract";
import { parseJsonText, rustTrim, type Json } from "./json";

/** The largest image a badge class may have. */
export const MAX_IMAGE_BYTES = 1 << 20;
/** The largest baked image read back (an image with its credential). */
export const MAX_BAKED_BYTES = MAX_IMAGE_BYTES + (4 << 20);
/** The largest width or height of a baked badge read back. */
export const MAX_BAKED_DIMENSION = 16384;
export const PNG_KEYWORD = "openbadgecredential";
export const OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type ImageKind = "png" | "svg";

/** Why no credential could be read from an image (the Rust ImageError). */
export class ImageError extends Error {}

/** The image's format from its first bytes, as the Rust `sniff`. */
export function sniff(bytes: Uint8Array): ImageKind | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  let i = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  // ASCII whitespace as Rust's `is_ascii_whitespace` (no vertical tab).
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0c || bytes[i] === 0x0d)) i++;
  return i < bytes.length && bytes[i] === 0x3c ? "svg" : null;
}

/** Reads the credential baked into a PNG or SVG image. */
export async function unbake(image: Uint8Array): Promise<Json> {
  if (image.length > MAX_BAKED_BYTES) {
    throw new ImageError(`the image is ${image.length} bytes; at most ${MAX_BAKED_BYTES} are accepted`);
  }
  const kind = sniff(image);
  if (!kind) throw new ImageError("not a PNG or SVG image");
  const texts = kind === "png" ? await pngCredentials(image) : svgCredentials(image);
  if (texts.length === 0) throw new ImageError("the image holds no baked credential");
  if (texts.length > 1) throw new ImageError(`the image holds ${texts.length} baked credentials; a baked badge holds one`);
  const parsed = parseJsonText(rustTrim(await texts[0]()));
  if ("error" in parsed) throw new ImageError(`the baked credential is not a JSON object: ${parsed.error}`);
  if (typeof parsed.value !== "object" || parsed.value === null || Array.isArray(parsed.value)) {
    throw new ImageError("the baked credential is not a JSON object: not an object");
  }
  return parsed.value;
}

// --- PNG -------------------------------------------------------------------

const png = (m: string) => new ImageError(`not a valid PNG: ${m}`);

interface Chunk {
  type: string;
  start: number;
  end: number;
  data: Uint8Array;
}

const IEND_CHUNK = new Uint8Array([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

/** The chunks up to IEND, with their bounds checked. */
function walk(bytes: Uint8Array): Chunk[] {
  const chunks: Chunk[] = [];
  let at = 8;
  for (;;) {
    if (at + 8 > bytes.length) throw png("unexpected end of file: no IEND chunk");
    const len = u32(bytes, at);
    if (len > 0x7fffffff) throw png("a chunk is longer than 2^31 - 1 bytes");
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw png(`invalid chunk type ${JSON.stringify(type)}`);
    const end = at + 12 + len;
    if (end > bytes.length) throw png(`the ${type} chunk runs past the end of the file`);
    chunks.push({ type, start: at, end, data: bytes.subarray(at + 8, at + 8 + len) });
    at = end;
    if (type === "IEND") return chunks;
  }
}

/** Whether each chunk's CRC holds, by png-chunks-extract: the whole file
 * at once, and only when that fails, each chunk in a file of its own. */
function crcs(bytes: Uint8Array, chunks: Chunk[]): boolean[] {
  const good = chunks.map(() => true);
  try {
    extractChunks(bytes.subarray(0, chunks[chunks.length - 1].end));
    return good;
  } catch {
    // Find which.
  }
  const ihdr = bytes.subarray(chunks[0].start, chunks[0].end);
  const alone = (c: Chunk): boolean => {
    const parts = c === chunks[0] ? [ihdr] : [ihdr, bytes.subarray(c.start, c.end)];
    const size = 8 + parts.reduce((n, p) => n + p.length, 0) + IEND_CHUNK.length;
    const file = new Uint8Array(size);
    file.set(PNG_SIGNATURE, 0);
    let at = 8;
    for (const p of parts) {
      file.set(p, at);
      at += p.length;
    }
    file.set(IEND_CHUNK, at);
    try {
      extractChunks(file);
      return true;
    } catch {
      return false;
    }
  };
  if (!alone(chunks[0])) return chunks.map((c) => c !== chunks[0]);
  return chunks.map((c) => c.type === "IEND" || alone(c));
}

const COLOR_CHANNELS: Record<number, [number, number[]]> = {
  0: [1, [1, 2, 4, 8, 16]],
  2: [3, [8, 16]],
  3: [1, [1, 2, 4, 8]],
  4: [2, [8, 16]],
  6: [4, [8, 16]],
};

/** Where filter bytes sit in the inflated image data: one segment per
 * interlace pass, rows of a fixed stride. */
function rowLayout(width: number, height: number, bitsPerPixel: number, interlaced: boolean): { start: number; rows: number; stride: number }[] {
  const stride = (w: number) => 1 + Math.ceil((w * bitsPerPixel) / 8);
  if (!interlaced) return [{ start: 0, rows: height, stride: stride(width) }];
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  const out: { start: number; rows: number; stride: number }[] = [];
  let start = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w <= 0 || h <= 0) continue;
    out.push({ start, rows: h, stride: stride(w) });
    start += h * stride(w);
  }
  return out;
}

/** Inflates the image data as far as the image needs, checking every row's
 * filter byte: a corrupt or short image is refused, as the Rust decoder,
 * which decodes every row, refuses it. */
async function checkImageData(idat: Uint8Array[], layout: { start: number; rows: number; stride: number }[]): Promise<void> {
  if (typeof DecompressionStream === "undefined") return;
  const total = layout.reduce((n, s) => n + s.rows * s.stride, 0);
  // A zlib stream: its header checked, its Adler-32 trailer not (the Rust
  // decoder ignores it), so the deflate data alone is inflated.
  const data = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of idat) {
    data.set(c, at);
    at += c.length;
  }
  if (data.length < 2 || (data[0] & 0x0f) !== 8 || (data[0] * 256 + data[1]) % 31 !== 0 || (data[1] & 0x20) !== 0) {
    throw png("the image data is not a zlib stream");
  }
  const body = data.length > 6 ? data.subarray(2, data.length - 4) : data.subarray(2);
  const stream = new Blob([body as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  let seen = 0;
  try {
    while (seen < total) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        throw png(`the image data does not inflate (${e instanceof Error ? e.message : String(e)})`);
      }
      if (next.done) break;
      const chunk = next.value;
      const from = seen;
      const to = Math.min(seen + chunk.length, total);
      for (const seg of layout) {
        const segEnd = seg.start + seg.rows * seg.stride;
        if (segEnd <= from || seg.start >= to) continue;
        let k = Math.max(0, Math.ceil((from - seg.start) / seg.stride));
        for (let p = seg.start + k * seg.stride; p < to && k < seg.rows; k++, p += seg.stride) {
          if (chunk[p - from] > 4) throw png(`invalid filter method ${chunk[p - from]}`);
        }
      }
      seen += chunk.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (seen < total) throw png("premature end of image data");
}

/** Splits an iTXt chunk as the Rust decoder does; null for one it would
 * ignore as malformed. */
function itxt(data: Uint8Array): { keyword: string; compressed: boolean; text: Uint8Array } | null {
  const nul = data.indexOf(0);
  if (nul < 1 || nul > 79) return null;
  const keyword = String.fromCharCode(...data.subarray(0, nul));
  const rest = data.subarray(nul + 1);
  if (rest.length < 2) return null;
  const flag = rest[0];
  const method = rest[1];
  if (flag > 1) return null;
  const compressed = flag === 1;
  if (compressed && method !== 0) return null;
  const second = rest.indexOf(0, 2);
  if (second < 0) return null;
  const language = rest.subarray(2, second);
  const third = rest.indexOf(0, second + 1);
  if (third < 0) return null;
  const translated = rest.subarray(second + 1, third);
  const text = rest.subarray(third + 1);
  if (language.some((b) => b > 0x7f)) return null;
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  try {
    utf8.decode(translated);
    if (!compressed) utf8.decode(text);
  } catch {
    return null;
  }
  return { keyword, compressed, text };
}

async function inflateText(data: Uint8Array): Promise<string> {
  if (typeof DecompressionStream === "undefined") throw png("compressed text cannot be inflated here");
  const reader = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate")).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        throw png("text chunk could not be inflated");
      }
      if (next.done) break;
      size += next.value.length;
      if (size > MAX_BAKED_BYTES) throw png("out of decompression space");
      parts.push(next.value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw png("the text is not UTF-8");
  }
}

/** The baked credential texts of a PNG, as thunks (only one is ever
 * inflated: they are counted first). */
async function pngCredentials(bytes: Uint8Array): Promise<(() => Promise<string>)[]> {
  const chunks = walk(bytes);
  if (chunks[0].type !== "IHDR") throw png("the first chunk is not IHDR");
  const crcOk = crcs(bytes, chunks);
  const critical = (c: Chunk) => c.type.charCodeAt(0) < 0x61;
  chunks.forEach((c, i) => {
    if (!crcOk[i] && critical(c)) throw png(`CRC error: the ${c.type} chunk is corrupt`);
  });
  const ihdr = chunks[0].data;
  if (ihdr.length !== 13) throw png("IHDR is not 13 bytes");
  const width = u32(ihdr, 0);
  const height = u32(ihdr, 4);
  const [depth, color, compression, filter, interlace] = ihdr.subarray(8, 13);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw png("invalid image dimensions");
  const channels = COLOR_CHANNELS[color];
  if (!channels || !channels[1].includes(depth)) throw png(`invalid colour type ${color} with bit depth ${depth}`);
  if (compression !== 0 || filter !== 0 || interlace > 1) throw png("unknown compression, filter or interlace method");
  if (width > MAX_BAKED_DIMENSION || height > MAX_BAKED_DIMENSION) {
    throw new ImageError(`the image is ${width} x ${height} pixels; at most ${MAX_BAKED_DIMENSION} x ${MAX_BAKED_DIMENSION} are accepted`);
  }
  const idat: Uint8Array[] = [];
  let idatDone = false;
  const credentials: (() => Promise<string>)[] = [];
  chunks.forEach((c, i) => {
    if (i === 0) return;
    if (c.type === "IHDR") throw png("a second IHDR chunk");
    if (c.type === "IDAT") {
      if (idatDone) throw png("the image data (IDAT) is not in one sequence");
      if (crcOk[i]) idat.push(c.data);
      return;
    }
    if (idat.length > 0) idatDone = true;
    if (critical(c) && !["PLTE", "IEND"].includes(c.type)) throw png(`unrecognized critical chunk ${c.type}`);
    if (c.type !== "iTXt" || !crcOk[i]) return;
    const t = itxt(c.data);
    if (!t || t.keyword !== PNG_KEYWORD) return;
    credentials.push(async () => (t.compressed ? inflateText(t.text) : new TextDecoder().decode(t.text)));
  });
  if (idat.length === 0) throw png("no image data (IDAT)");
  await checkImageData(idat, rowLayout(width, height, channels[0] * depth, interlace === 1));
  return credentials;
}

// --- SVG -------------------------------------------------------------------

function svgCredentials(bytes: Uint8Array): (() => Promise<string>)[] {
  const body = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    throw new ImageError("not a valid SVG: not UTF-8");
  }
  const Parser = (globalThis as { DOMParser?: typeof DOMParser }).DOMParser;
  if (!Parser) throw new ImageError("not a valid SVG: no XML parser here");
  let doc: Document;
  try {
    doc = new Parser().parseFromString(text, "image/svg+xml");
  } catch (e) {
    throw new ImageError(`not a valid SVG: ${e instanceof Error ? e.message : String(e)}`);
  }
  const error = doc.getElementsByTagNameNS("*", "parsererror")[0] ?? doc.getElementsByTagName("parsererror")[0];
  if (error) throw new ImageError(`not a valid SVG: ${(error.textContent ?? "").trim().split("\n")[0]}`);
  const found: (() => Promise<string>)[] = [];
  const elements = doc.getElementsByTagNameNS(OB_NAMESPACE, "credential");
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i];
    let inside = false;
    for (let p = e.parentNode; p; p = p.parentNode) {
      if ((p as Element).namespaceURI === OB_NAMESPACE && (p as Element).localName === "credential") inside = true;
    }
    if (inside) continue;
    const content = e.textContent ?? "";
    found.push(async () => content);
  }
  return found;
}
