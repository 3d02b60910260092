#!/usr/bin/env node
// Independent reader of baked Open Badges 3.0 images for Cairn's tests.
//
// Reads a badge image that Cairn baked and takes the credential back out
// with code that shares nothing with Cairn's baker, so a round trip through
// here shows that someone else's parsers find the credential where the spec
// puts it:
//
//   node tests/interop/unbake.mjs extract IMAGE OUT.json
//   node tests/interop/unbake.mjs naive IMAGE OUT.json
//   node tests/interop/unbake.mjs pixels A.png B.png
//
// extract  The spec's way. PNG: the chunks are read with png-chunks-extract
//          (which checks every CRC) and each iTXt chunk is decoded with
//          png-chunk-itxt; there must be exactly one iTXt chunk with the
//          keyword "openbadgecredential" and no tEXt/zTXt chunk with it.
//          SVG: the document is parsed with @xmldom/xmldom; the root must be
//          an SVG <svg> element and there must be exactly one element
//          "credential" in the namespace https://purl.imsglobal.org/ob/v3p0
//          (usually written <openbadges:credential>). Its text (the CDATA
//          sections, or the whole text when there is no CDATA) is written to
//          OUT.json as UTF-8, unchanged.
// naive    The Learner Credential Wallet's way (app/lib/import.ts, readFile):
//          decode the whole file as UTF-8 without looking at its structure,
//          find the first "openbadgecredential", take the first "{" after
//          it and count every "{" and "}" (inside JSON strings too) until
//          the count is back to zero; that slice must parse as JSON. PNG only
//          in the wallet; for an SVG the same scan starts after the first
//          "<openbadges:credential" ("lcwReadsFormat": false says the wallet
//          itself would not read it). The slice is written to OUT.json
//          unchanged (the wallet parses it and passes on a re-serialised
//          copy).
// pixels   Decodes both PNGs with pngjs (16-bit samples kept as they are)
//          and compares the RGBA samples, so a bake can be shown to leave
//          the picture alone. pngjs checks the CRCs of the chunks it decodes
//          and skips ancillary ones unread: extract checks those.
//
// Prints one JSON line: {"mode", "image", "format", "out", "chunks", ...} for
// extract and naive, {"mode", "a", "b", "same", "width", "height", ...} for
// pixels, with "error" instead of the results when the run fails. Exit 0 on
// success (pixels: the images are the same), 1 on failure (pixels: they
// differ), 2 on a usage error, 3 if the Node dependencies are missing.
// Fully offline: only the files named on the command line are read.

import {readFileSync, writeFileSync} from 'node:fs';

const USAGE =
  'usage: node tests/interop/unbake.mjs extract IMAGE OUT.json\n' +
  '       node tests/interop/unbake.mjs naive IMAGE OUT.json\n' +
  '       node tests/interop/unbake.mjs pixels A.png B.png';

// OB 3.0 baking: the PNG iTXt keyword, and the SVG element's namespace and
// local name.
const PNG_KEYWORD = 'openbadgecredential';
const OB_NAMESPACE = 'https://purl.imsglobal.org/ob/v3p0';
const SVG_LOCAL_NAME = 'credential';
const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';
// What the naive scan looks for in an SVG: the element with its usual
// prefix (a naive reader knows no namespaces).
const SVG_NAIVE_KEYWORD = '<openbadges:credential';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function usageError(message) {
  process.stderr.write(`unbake.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  if(argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const [mode, ...rest] = argv;
  if(!['extract', 'naive', 'pixels'].includes(mode)) {
    usageError(mode === undefined ? 'no mode given' : `unknown mode ${mode}`);
  }
  if(rest.length !== 2) {
    usageError(`${mode} takes exactly two file arguments`);
  }
  return {mode, first: rest[0], second: rest[1]};
}

// Imported lazily so a missing `npm ci` is reported as such (exit 3) and
// cannot be mistaken by the Rust test for an extraction failure (exit 1).
async function loadLibraries() {
  try {
    const [chunksExtract, itxt, pngjs, xmldom] = await Promise.all([
      import('png-chunks-extract'),
      import('png-chunk-itxt'),
      import('pngjs'),
      import('@xmldom/xmldom'),
    ]);
    // All four are CommonJS: take the exports from wherever Node's export
    // detection put them.
    return {
      extractChunks: chunksExtract.default,
      decodeItxt: itxt.decodeSync ?? itxt.default.decodeSync,
      PNG: pngjs.PNG ?? pngjs.default.PNG,
      DOMParser: xmldom.DOMParser ?? xmldom.default.DOMParser,
    };
  } catch(e) {
    process.stderr.write(
      `unbake.mjs: cannot load the Node dependencies (${e.message}); ` +
      'run `npm ci --ignore-scripts` in the repository root\n');
    process.exit(3);
  }
}

// Thrown for every "this image does not pass" case; its message goes into
// the JSON line, its fields too (e.g. how many chunks were found).
class Failure extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.fields = fields;
  }
}

function readBytes(path) {
  try {
    return readFileSync(path);
  } catch(e) {
    throw new Failure(`cannot read file: ${e.message}`);
  }
}

function isPng(bytes) {
  return bytes.length >= PNG_SIGNATURE.length &&
    PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

// By content, not by file name: PNG by its signature, SVG if the text
// starts (after an optional BOM and white space) with markup.
function formatOf(bytes) {
  if(isPng(bytes)) {
    return 'png';
  }
  const head = new TextDecoder('utf-8').decode(bytes.subarray(0, 64));
  return /^\s*</.test(head) ? 'svg' : null;
}

function writeOut(path, text) {
  try {
    writeFileSync(path, text, 'utf8');
  } catch(e) {
    throw new Failure(`cannot write ${path}: ${e.message}`);
  }
}

const utf8Length = s => Buffer.byteLength(s, 'utf8');

// The keyword of a tEXt or zTXt chunk: Latin-1 up to the first NUL.
function latin1Keyword(data) {
  const nul = data.indexOf(0);
  return Buffer.from(data.subarray(0, nul < 0 ? data.length : nul))
    .toString('latin1');
}

function extractPng(bytes, libs) {
  let chunks;
  try {
    chunks = libs.extractChunks(bytes);
  } catch(e) {
    throw new Failure(`not a readable PNG: ${e.message}`);
  }
  const firstIdat = chunks.findIndex(c => c.name === 'IDAT');
  const found = [];
  const otherTextChunks = [];
  chunks.forEach((chunk, index) => {
    if(chunk.name === 'tEXt' || chunk.name === 'zTXt') {
      if(latin1Keyword(chunk.data) === PNG_KEYWORD) {
        otherTextChunks.push(chunk.name);
      }
      return;
    }
    if(chunk.name !== 'iTXt') {
      return;
    }
    let decoded;
    try {
      decoded = libs.decodeItxt(chunk.data);
    } catch(e) {
      throw new Failure(`iTXt chunk ${index} cannot be decoded: ${e.message}`);
    }
    if(decoded.keyword === PNG_KEYWORD) {
      found.push({index, chunk, decoded});
    }
  });
  if(found.length !== 1 || otherTextChunks.length > 0) {
    const fields = {chunks: found.length};
    if(otherTextChunks.length > 0) {
      fields.otherTextChunks = otherTextChunks;
    }
    throw new Failure(
      `expected exactly one iTXt chunk with keyword "${PNG_KEYWORD}" and ` +
      `no tEXt/zTXt chunk with it, found ${found.length} iTXt` +
      (otherTextChunks.length ? ` and ${otherTextChunks.join(', ')}` : ''),
      fields);
  }
  const [{index, chunk, decoded}] = found;

  // png-chunk-itxt decodes the text leniently (bad UTF-8 becomes U+FFFD, a
  // leading BOM is dropped). The spec wants UTF-8, and the test wants the
  // exact text: decode the same bytes strictly and insist both agree.
  if(!decoded.compressionFlag) {
    const headerLength = utf8Length(decoded.keyword) + 1 + 2 +
      utf8Length(decoded.languageTag) + 1 +
      utf8Length(decoded.translatedKeyword) + 1;
    let strict;
    try {
      strict = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})
        .decode(chunk.data.subarray(headerLength));
    } catch(e) {
      throw new Failure('the iTXt text is not valid UTF-8', {chunks: 1});
    }
    if(strict !== decoded.text) {
      throw new Failure(
        'the iTXt text decodes differently when read strictly ' +
        '(byte order mark?)', {chunks: 1});
    }
  }
  return {
    text: decoded.text,
    fields: {
      chunks: 1,
      chunkIndex: index,
      afterIdat: firstIdat >= 0 && index > firstIdat,
      compressed: decoded.compressionFlag,
      languageTag: decoded.languageTag,
      translatedKeyword: decoded.translatedKeyword,
    },
  };
}

function extractSvg(bytes, libs) {
  let source;
  try {
    source = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch(e) {
    throw new Failure('the SVG is not valid UTF-8');
  }
  const warnings = [];
  let document;
  try {
    document = new libs.DOMParser({
      onError(level, message) {
        if(level === 'warning') {
          warnings.push(message);
        } else {
          // Stops the parser: the badge must be well-formed XML.
          throw new Error(message);
        }
      },
    }).parseFromString(source, 'image/svg+xml');
  } catch(e) {
    throw new Failure(`not well-formed XML: ${e.message}`);
  }
  const root = document.documentElement;
  if(!root || root.namespaceURI !== SVG_NAMESPACE || root.localName !== 'svg') {
    throw new Failure('the root element is not an SVG <svg> element');
  }
  const elements = Array.from(
    document.getElementsByTagNameNS(OB_NAMESPACE, SVG_LOCAL_NAME));
  if(elements.length !== 1) {
    throw new Failure(
      `expected exactly one {${OB_NAMESPACE}}${SVG_LOCAL_NAME} element, ` +
      `found ${elements.length}`, {chunks: elements.length});
  }
  const [element] = elements;

  // The credential is meant to sit in CDATA; white space around the CDATA
  // section is layout, anything else next to it is an error.
  const children = Array.from(element.childNodes);
  const cdata = children.filter(n => n.nodeType === 4 /* CDATA_SECTION */);
  let text;
  if(cdata.length === 0) {
    text = element.textContent;
  } else {
    const stray = children.find(n => n.nodeType !== 4 &&
      !(n.nodeType === 3 /* TEXT */ && /^\s*$/.test(n.data)));
    if(stray) {
      throw new Failure(
        'the credential element mixes CDATA with other content',
        {chunks: 1});
    }
    text = cdata.map(n => n.data).join('');
  }
  let firstElement = root.firstChild;
  while(firstElement && firstElement.nodeType !== 1 /* ELEMENT */) {
    firstElement = firstElement.nextSibling;
  }
  const fields = {
    chunks: 1,
    prefix: element.prefix,
    firstInSvg: firstElement === element,
    cdataSections: cdata.length,
  };
  if(warnings.length > 0) {
    fields.warnings = warnings;
  }
  return {text, fields};
}

function isJson(text) {
  try {
    JSON.parse(text);
    return true;
  } catch(e) {
    return false;
  }
}

function extract(image, out, libs) {
  const bytes = readBytes(image);
  const format = formatOf(bytes);
  if(format === null) {
    throw new Failure('neither a PNG nor an SVG');
  }
  let text;
  let fields;
  try {
    ({text, fields} = format === 'png' ?
      extractPng(bytes, libs) : extractSvg(bytes, libs));
  } catch(e) {
    if(e instanceof Failure) {
      e.fields = {format, ...e.fields};
    }
    throw e;
  }
  writeOut(out, text);
  return {format, ...fields, bytes: utf8Length(text), json: isJson(text)};
}

// Mirrors the wallet's readFile (see the header): no chunk structure, no
// JSON string awareness, the first keyword wins.
function naive(image, out) {
  const bytes = readBytes(image);
  const format = formatOf(bytes);
  if(format === null) {
    throw new Failure('neither a PNG nor an SVG');
  }
  const keyword = format === 'png' ? PNG_KEYWORD : SVG_NAIVE_KEYWORD;
  const common = {format, lcwReadsFormat: format === 'png', keyword};
  // Like the wallet: lenient UTF-8 over the whole file, binary data and all
  // (bad bytes become U+FFFD, ASCII is never swallowed).
  const decoded = new TextDecoder('utf-8').decode(bytes);
  const keywordAt = decoded.indexOf(keyword);
  if(keywordAt < 0) {
    throw new Failure(`"${keyword}" does not occur`, {...common, chunks: 0});
  }
  const start = decoded.indexOf('{', keywordAt + keyword.length);
  if(start < 0) {
    throw new Failure(`no "{" after "${keyword}"`, {...common, chunks: 0});
  }
  let depth = 0;
  let end = start;
  for(; end < decoded.length; end++) {
    const c = decoded[end];
    if(c === '{') {
      depth++;
    } else if(c === '}') {
      depth--;
    }
    if(depth === 0) {
      break;
    }
  }
  if(depth !== 0) {
    throw new Failure('the braces after the keyword never balance',
      {...common, chunks: 0});
  }
  const text = decoded.slice(start, end + 1);
  try {
    JSON.parse(text);
  } catch(e) {
    throw new Failure(
      `the brace-counted text is not JSON: ${e.message}`,
      {...common, chunks: 0, bytes: utf8Length(text)});
  }
  writeOut(out, text);
  return {
    ...common,
    chunks: 1,
    // Offsets in the decoded text (what the wallet indexes), not in bytes.
    keywordAt,
    jsonAt: start,
    bytes: utf8Length(text),
  };
}

function decodePixels(path, libs) {
  const bytes = readBytes(path);
  try {
    // skipRescale keeps 16-bit samples exact; every colour type comes out
    // as RGBA, so the comparison is of pixels, not of encodings.
    return libs.PNG.sync.read(bytes, {skipRescale: true});
  } catch(e) {
    throw new Failure(`${path}: not a decodable PNG: ${e.message}`);
  }
}

function pixels(a, b, libs) {
  const pa = decodePixels(a, libs);
  const pb = decodePixels(b, libs);
  const line = {width: pa.width, height: pa.height};
  if(pa.width !== pb.width || pa.height !== pb.height) {
    return {
      same: false, ...line, widthB: pb.width, heightB: pb.height,
      reason: 'dimensions differ',
    };
  }
  if(pa.data.constructor !== pb.data.constructor) {
    // One is 16-bit, the other 8-bit: not the same samples.
    return {same: false, ...line, reason: 'bit depths differ'};
  }
  let differingPixels = 0;
  for(let i = 0; i < pa.data.length; i += 4) {
    if(pa.data[i] !== pb.data[i] || pa.data[i + 1] !== pb.data[i + 1] ||
      pa.data[i + 2] !== pb.data[i + 2] || pa.data[i + 3] !== pb.data[i + 3]) {
      differingPixels++;
    }
  }
  return {same: differingPixels === 0, ...line, differingPixels};
}

async function main() {
  const {mode, first, second} = parseArgs(process.argv.slice(2));
  const libs = await loadLibraries();
  const head = mode === 'pixels' ?
    {mode, a: first, b: second} : {mode, image: first, out: second};
  let line;
  let ok;
  try {
    if(mode === 'pixels') {
      line = {...head, ...pixels(first, second, libs)};
      ok = line.same;
    } else {
      const fields = mode === 'extract' ?
        extract(first, second, libs) : naive(first, second);
      line = {...head, ...fields};
      ok = true;
    }
  } catch(e) {
    if(!(e instanceof Failure)) {
      throw e;
    }
    line = {...head, ...e.fields, error: e.message};
    ok = false;
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
  // exitCode rather than exit() so buffered stdout is flushed to a pipe.
  process.exitCode = ok ? 0 : 1;
}

await main();
