#!/usr/bin/env node
// Plays the Learner Credential Wallet (LCW) claiming a badge from a Cairn
// claim page over VC-API exchanges (VCALM), with LCW's own libraries, for
// Cairn's tests:
//
//   node tests/interop/lcw-wallet.mjs CLAIM_URL [MODE]
//
// What LCW 2.2.10 does (openwallet-foundation-labs/learner-credential-wallet:
// app/lib/interactionUrl.ts, app/lib/navigationUtil.ts,
// app/screens/ExchangeCredentials/ExchangeCredentials.tsx, app/lib/exchanges.ts,
// app/lib/composeVp.ts), and so what this script does:
//   1. GET the interaction URL (here: the claim page's `interactionUrl`, read
//      from <script id="cairn-page">) with Accept: application/json; the
//      answer must be 2xx JSON with a `protocols` map holding `vcapi`.
//   2. POST {} to protocols.vcapi (Content-Type: application/json); the
//      answer must hold `verifiablePresentationRequest` with exactly one
//      DIDAuthentication query (object or array) and both `challenge` and
//      `domain` (composeVp.ts refuses DID Auth without either).
//   3. Sign a DID Auth presentation: vc.createPresentation({holder}) (VC 2.0
//      context, the @digitalcredentials/vc 10 default) and vc.signPresentation
//      with Ed25519Signature2020, the VPR's challenge and domain, proof purpose
//      authentication, key an Ed25519VerificationKey2020 did:key (a fresh one
//      per run here; LCW keeps one per profile). LCW ignores acceptedMethods
//      and acceptedCryptosuites.
//   4. POST {"verifiablePresentation": VP} to the same vcapi URL (LCW 2.2.x
//      ignores the VPR's `interact`; LCW <= 2.2.7 posted to
//      interact.service[0].serviceEndpoint: a different one is warned about).
//   5. Take the credentials from the answer's `verifiablePresentation`: its
//      `type` must include VerifiablePresentation (2.2.x extractCredentialsFrom)
//      and `verifiableCredential` must be a non-empty array (<= 2.2.7 took [0]).
// Unlike LCW 2.2.10, this script keeps the credential issued after DID Auth:
// 2.2.10 drops it (its isVPRFlow guard, upstream issue #957), which is a wallet
// bug, not a protocol requirement.
// Before sending, the script checks its own presentation with
// @digitalcredentials/vc (so a refusal by the node cannot be the script's
// fault); after, it verifies the received credential with
// @digitalcredentials/verifier-core, as LCW does to show it.
//
// Output, one JSON line on stdout:
//   no MODE (or "claim"): {"did": holder DID, "credential": VC,
//     "verified": {"verified", "signatureValid", "expirationValid",
//     "statuses", "registeredIssuer", "errors", "warnings", "log", "raw"}}
//     "verified.verified" is true only if verifier-core reports no error, a
//     valid signature, a valid expiration step and every status entry checked
//     and unset; the registry check (no registries are passed, offline) and
//     the OB schema check (its fetch is refused) are warnings only. "log" is
//     verifier-core's per-check log, "raw" its whole result less the
//     credential and stack traces.
//   wrong-challenge | wrong-domain | bad-signature: {"mode", "status", "body"}
//     for the POST of a presentation signed with another challenge, another
//     domain, or altered after signing (an `id` added, so the signed content
//     no longer matches the proof; challenge and domain are right).
//   replay: {"mode", "status", "body", "secondExchange": {"step", "status",
//     "body"}, "claimState"}: the exchange is completed once, then the same
//     presentation is POSTed again to the same exchange (status, body); then
//     a second exchange is begun from the same interaction URL with the same
//     wallet DID and followed as far as the node lets it ("step" is the one
//     that answered non-2xx: "interaction", "request" or "presentation", or
//     "presentation" with a 2xx status if the node issued again);
//     "claimState" is the claim page's `state` afterwards.
// "body" is the parsed JSON answer, or its text if not JSON.
// Exit 0 when the run completed (for the negative modes: the node answered
// the probe, whatever the status), 1 on any unexpected failure (message on
// stderr), 2 on a usage error, 3 if the Node dependencies are missing.
//
// Offline but for the node: globalThis.fetch is wrapped before any library
// loads and lets through only data: URLs, loopback (127.0.0.0/8, localhost,
// [::1]) and the claim URL's own host; anything else is refused with an error
// naming the URL (listed on stderr). The document loader is LCW's
// (securityLoader({fetchRemoteContexts: true}) from
// @digitalcredentials/security-document-loader): the contexts it needs are
// bundled in its npm dependencies and did:key resolves locally, so the guard
// only stops what LCW would fetch from the internet (verifier-core's OB
// schema check). Status lists on the node are fetched. Library chatter on
// the console goes to stderr.

import {randomUUID} from 'node:crypto';
import {
  EXPIRATION_STEP, REGISTRY_STEP, SIGNATURE_STEP, STATUS_STEP_SUFFIX,
  compactLog, describeError, installFetchGuard, rawOf,
} from './verifier-core-report.mjs';

const USAGE = 'usage: node tests/interop/lcw-wallet.mjs CLAIM_URL ' +
  '[claim|wrong-challenge|wrong-domain|replay|bad-signature]';
const MODES = new Set(
  ['claim', 'wrong-challenge', 'wrong-domain', 'replay', 'bad-signature']);

// verifier-core's log ids (src/constants/verificationSteps.ts, and the
// `${statusPurpose}_status` entries @digitalcredentials/vc adds); same
// reading as lcw-verify.mjs.

class WalletError extends Error {}

function fail(message) {
  throw new WalletError(message);
}

function usageError(message) {
  process.stderr.write(`lcw-wallet.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  for(const arg of argv) {
    if(arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if(arg.startsWith('-')) {
      usageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if(positional.length < 1 || positional.length > 2) {
    usageError(positional.length === 0 ?
      'no claim URL given' : 'too many arguments');
  }
  const [claimUrl, mode = 'claim'] = positional;
  let url;
  try {
    url = new URL(claimUrl);
  } catch(e) {
    usageError(`not a URL: ${claimUrl}`);
  }
  if(url.protocol !== 'http:' && url.protocol !== 'https:') {
    usageError(`the claim URL must be http(s): ${claimUrl}`);
  }
  if(!MODES.has(mode)) {
    usageError(`unknown mode ${mode}`);
  }
  return {claimUrl: url.href, nodeHost: url.hostname, mode};
}

// Imported lazily, after the fetch guard, so a missing `npm ci` is reported
// as such (exit 3) and nothing loads with an unguarded fetch.
async function loadLibraries() {
  try {
    const [vc, {Ed25519Signature2020}, {Ed25519VerificationKey2020},
      {securityLoader}, verifierCore] = await Promise.all([
      import('@digitalcredentials/vc'),
      import('@digitalcredentials/ed25519-signature-2020'),
      import('@digitalcredentials/ed25519-verification-key-2020'),
      import('@digitalcredentials/security-document-loader'),
      import('@digitalcredentials/verifier-core'),
    ]);
    return {vc, Ed25519Signature2020, Ed25519VerificationKey2020,
      securityLoader, verifierCore};
  } catch(e) {
    process.stderr.write(
      `lcw-wallet.mjs: cannot load the Node dependencies (${e.message}); ` +
      'run `npm ci --ignore-scripts` in the repository root\n');
    process.exit(3);
  }
}

// ---------------------------------------------------------------- HTTP ----

function parseBody(text) {
  if(text === '') {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch(e) {
    return text;
  }
}

async function request(method, url, {headers = {}, json} = {}) {
  const init = {method, headers: {...headers}, redirect: 'follow'};
  if(json !== undefined) {
    // As LCW's sendToExchanger: Content-Type only, no Accept.
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch(e) {
    fail(`${method} ${url}: ${e.cause?.message ?? e.message}`);
  }
  const text = await response.text();
  return {status: response.status, ok: response.ok,
    contentType: response.headers.get('content-type'), text,
    body: parseBody(text)};
}

function describeAnswer({status, text}) {
  const shown = text.length > 600 ? `${text.slice(0, 600)}...` : text;
  return `HTTP ${status}: ${shown === '' ? '(empty body)' : shown}`;
}

// ---------------------------------------------------------- claim page ----

async function readClaimPage(claimUrl) {
  const answer = await request('GET', claimUrl, {headers: {Accept: 'text/html'}});
  if(!answer.ok) {
    fail(`claim page ${claimUrl}: ${describeAnswer(answer)}`);
  }
  const match = answer.text.match(
    /<script\b[^>]*\bid\s*=\s*["']cairn-page["'][^>]*>([\s\S]*?)<\/script\s*>/i);
  if(match === null) {
    fail(`claim page ${claimUrl}: no <script id="cairn-page">`);
  }
  try {
    return JSON.parse(match[1]);
  } catch(e) {
    fail(`claim page ${claimUrl}: cairn-page is not JSON: ${e.message}`);
  }
}

// LCW's isInteractionUrl/parseInteractionUrl (app/lib/interactionUrl.ts).
function lcwInteractionUrl(text) {
  const prefix = 'interaction:';
  if(text.startsWith(prefix)) {
    const inner = text.slice(prefix.length);
    return /^https?%3A/i.test(inner) ? decodeURIComponent(inner) : inner;
  }
  try {
    return new URL(text).searchParams.has('iuv') ? text : null;
  } catch(e) {
    return null;
  }
}

function interactionUrlOf(page, claimUrl) {
  if(typeof page.interactionUrl !== 'string') {
    fail('claim page: no "interactionUrl" string in cairn-page');
  }
  const absolute = new URL(page.interactionUrl, claimUrl).href;
  const url = lcwInteractionUrl(absolute);
  if(url === null) {
    fail(`claim page: LCW would not take interactionUrl ${absolute} ` +
      'for an interaction URL (no iuv parameter)');
  }
  // The LCW button: only the interaction: scheme and LCW's deep links open
  // the app from a browser (app.config.js); say so when it is something else.
  if(typeof page.lcwUrl === 'string' && !page.lcwUrl.startsWith('interaction:') &&
    !page.lcwUrl.startsWith('dccrequest://') &&
    !page.lcwUrl.startsWith('org.dcconsortium://') &&
    !page.lcwUrl.startsWith('https://lcw.app/')) {
    process.stderr.write(`lcw-wallet.mjs: warning: lcwUrl ${page.lcwUrl} ` +
      'is no scheme LCW registers; a phone browser will not open LCW with it\n');
  }
  return url;
}

// ------------------------------------------------------------ exchange ----

// Step 1: the interaction URL's protocols.
async function openInteraction(interactionUrl) {
  const answer = await request('GET', interactionUrl,
    {headers: {Accept: 'application/json'}});
  return answer;
}

function vcapiOf(answer, interactionUrl) {
  if(!answer.ok) {
    fail(`GET ${interactionUrl}: ${describeAnswer(answer)}`);
  }
  const protocols = answer.body?.protocols;
  if(protocols === null || typeof protocols !== 'object') {
    fail(`GET ${interactionUrl}: no "protocols" map: ${describeAnswer(answer)}`);
  }
  if(typeof protocols.vcapi !== 'string') {
    fail(`GET ${interactionUrl}: no protocols.vcapi (LCW supports only ` +
      `vcapi): ${describeAnswer(answer)}`);
  }
  return new URL(protocols.vcapi, interactionUrl).href;
}

// Step 2: POST {} and read the VPR the way LCW does.
async function startExchange(exchangeUrl) {
  return request('POST', exchangeUrl, {json: {}});
}

function vprOf(answer, exchangeUrl) {
  if(!answer.ok) {
    fail(`POST {} ${exchangeUrl}: ${describeAnswer(answer)}`);
  }
  const vpr = answer.body?.verifiablePresentationRequest;
  if(vpr === null || typeof vpr !== 'object') {
    fail(`POST {} ${exchangeUrl}: no verifiablePresentationRequest: ` +
      describeAnswer(answer));
  }
  const queries = Array.isArray(vpr.query) ? vpr.query : [vpr.query];
  const didAuth = queries.filter(q => q?.type === 'DIDAuthentication');
  if(didAuth.length !== 1) {
    fail(`POST {} ${exchangeUrl}: LCW needs exactly one DIDAuthentication ` +
      `query, got ${didAuth.length}: ${describeAnswer(answer)}`);
  }
  if(!vpr.challenge || !vpr.domain) {
    fail(`POST {} ${exchangeUrl}: LCW refuses DID Auth without both ` +
      `"challenge" and "domain": ${describeAnswer(answer)}`);
  }
  const interactUrl = vpr.interact?.service?.[0]?.serviceEndpoint;
  if(interactUrl !== undefined && interactUrl !== exchangeUrl) {
    process.stderr.write(`lcw-wallet.mjs: warning: VPR interact points at ` +
      `${interactUrl}; LCW 2.2.x POSTs to ${exchangeUrl}, LCW <= 2.2.7 to ` +
      'the interact URL\n');
  }
  return vpr;
}

// Step 3: the wallet's key and its DID Auth presentation, as composeVp.ts.
async function makeWallet(libs) {
  const key = await libs.Ed25519VerificationKey2020.generate();
  const did = `did:key:${key.fingerprint()}`;
  key.controller = did;
  key.id = `${did}#${key.fingerprint()}`;
  return {key, did};
}

async function signDidAuth(libs, wallet, {challenge, domain}) {
  const presentation = libs.vc.createPresentation(
    {holder: wallet.did, verify: false});
  return libs.vc.signPresentation({
    presentation,
    challenge,
    domain,
    documentLoader: libs.documentLoader,
    suite: new libs.Ed25519Signature2020({signer: wallet.key.signer()}),
  });
}

// The script's own check that what it sends is a valid DID Auth.
async function selfCheck(libs, presentation, {challenge, domain}) {
  const result = await libs.vc.verify({
    presentation,
    challenge,
    domain,
    suite: new libs.Ed25519Signature2020(),
    documentLoader: libs.documentLoader,
  });
  if(!result.verified) {
    const why = result.error?.errors?.map(e => e.message).join('; ') ??
      result.error?.message ?? JSON.stringify(result.presentationResult);
    fail(`the script's own presentation does not verify: ${why}`);
  }
}

// Step 4.
async function present(exchangeUrl, presentation) {
  return request('POST', exchangeUrl,
    {json: {verifiablePresentation: presentation}});
}

// Step 5.
function issuedCredentialOf(answer, exchangeUrl) {
  if(!answer.ok) {
    fail(`POST verifiablePresentation ${exchangeUrl}: ` +
      describeAnswer(answer));
  }
  const vp = answer.body?.verifiablePresentation;
  if(vp === null || typeof vp !== 'object') {
    fail(`POST verifiablePresentation ${exchangeUrl}: no ` +
      `verifiablePresentation in the answer: ${describeAnswer(answer)}`);
  }
  const types = [].concat(vp.type ?? []);
  if(!types.includes('VerifiablePresentation')) {
    fail('answer\'s verifiablePresentation.type lacks ' +
      '"VerifiablePresentation" (LCW 2.2.x would find no credential): ' +
      describeAnswer(answer));
  }
  if(!Array.isArray(vp.verifiableCredential) ||
    vp.verifiableCredential.length === 0) {
    fail('answer\'s verifiablePresentation.verifiableCredential is not a ' +
      'non-empty array (LCW <= 2.2.7 would find no credential): ' +
      describeAnswer(answer));
  }
  if(vp.verifiableCredential.length > 1) {
    process.stderr.write('lcw-wallet.mjs: warning: ' +
      `${vp.verifiableCredential.length} credentials issued; ` +
      'reporting the first\n');
  }
  return vp.verifiableCredential[0];
}

// The steps up to the presentation request, shared by every mode.
async function begin(libs, claimUrl) {
  const page = await readClaimPage(claimUrl);
  const interactionUrl = interactionUrlOf(page, claimUrl);
  const interaction = await openInteraction(interactionUrl);
  const exchangeUrl = vcapiOf(interaction, interactionUrl);
  const vpr = vprOf(await startExchange(exchangeUrl), exchangeUrl);
  return {page, interactionUrl, exchangeUrl, vpr};
}

// ----------------------------------------------------------- verifying ----

function summarize(result, refusedUrls) {
  const errors = [];
  const warnings = [];
  for(const e of result.errors ?? []) {
    errors.push(describeError(e));
  }
  if(result.error !== undefined) {
    errors.push(`credential: ${describeError(result.error)}`);
  }
  const log = compactLog(Array.isArray(result.log) ? result.log : []);
  const step = id => log.find(entry => entry.id === id);
  const signature = step(SIGNATURE_STEP);
  const signatureValid = signature === undefined ? null :
    signature.valid === true;
  if(signatureValid !== true && errors.length === 0) {
    errors.push(`${SIGNATURE_STEP}: not reported valid`);
  }
  const expiration = step(EXPIRATION_STEP);
  const expirationValid = expiration === undefined ? null :
    expiration.valid === true;
  if(signatureValid && expirationValid !== true) {
    errors.push(`${EXPIRATION_STEP}: ${expiration === undefined ?
      'not checked' : 'expired'}`);
  }
  const statuses = log.filter(entry => entry.id.endsWith(STATUS_STEP_SUFFIX));
  for(const entry of statuses) {
    if(entry.error !== undefined) {
      errors.push(`${entry.id}: ${entry.error.name}: ${entry.error.message}`);
    } else if(entry.valid !== true) {
      errors.push(`${entry.id}: status bit is set`);
    }
  }
  const registry = step(REGISTRY_STEP);
  const registeredIssuer = registry === undefined ? null :
    registry.valid === true;
  if(registeredIssuer === false) {
    warnings.push(`${REGISTRY_STEP}: issuer is in no known DID registry ` +
      '(none passed: offline)');
  }
  const schemaCheck = (result.additionalInformation ?? [])
    .find(info => info.id === 'schema_check');
  if(schemaCheck !== undefined && typeof schemaCheck.results === 'string') {
    // A refused schema fetch comes back as "INVALID_SCHEMA - possibly not a
    // valid url": say what happened instead.
    if(schemaCheck.results.startsWith('INVALID_SCHEMA') &&
      refusedUrls.length > 0) {
      warnings.push('schema_check: not run (offline: the schema was not ' +
        'fetched)');
    } else if(schemaCheck.results !== 'NO_SCHEMA') {
      warnings.push(`schema_check: ${schemaCheck.results}`);
    }
  } else if(Array.isArray(schemaCheck?.results)) {
    for(const r of schemaCheck.results) {
      if(r.result?.valid !== true) {
        warnings.push(`schema_check: ${r.schema}: not valid`);
      }
    }
  }
  if(refusedUrls.length > 0) {
    warnings.push(`refused (offline): ${[...new Set(refusedUrls)].join(' ')}`);
  }
  return {
    verified: errors.length === 0 && signatureValid === true &&
      expirationValid === true,
    signatureValid, expirationValid, statuses, registeredIssuer,
    errors, warnings, log,
    raw: rawOf(result),
  };
}

async function verifyIssued(libs, credential, refusedUrls) {
  let result;
  try {
    // As LCW (app/lib/validate.ts); offline, no registries are fetched.
    result = await libs.verifierCore.verifyCredential(
      {credential, knownDIDRegistries: []});
  } catch(e) {
    result = {errors: [{name: 'exception', message: e?.message ?? String(e)}]};
  }
  return summarize(result, refusedUrls);
}

// --------------------------------------------------------------- modes ----

function probeLine(mode, answer) {
  return {mode, status: answer.status, body: answer.body};
}

async function claim(libs, claimUrl, refusedUrls) {
  const {exchangeUrl, vpr} = await begin(libs, claimUrl);
  const wallet = await makeWallet(libs);
  const vp = await signDidAuth(libs, wallet, vpr);
  await selfCheck(libs, vp, vpr);
  const credential = issuedCredentialOf(
    await present(exchangeUrl, vp), exchangeUrl);
  const verified = await verifyIssued(libs, credential, refusedUrls);
  return {did: wallet.did, credential, verified};
}

async function wrongProof(libs, claimUrl, mode) {
  const {exchangeUrl, vpr} = await begin(libs, claimUrl);
  const wallet = await makeWallet(libs);
  const signed = {challenge: vpr.challenge, domain: vpr.domain};
  if(mode === 'wrong-challenge') {
    signed.challenge = `${randomUUID()}`;
  } else if(mode === 'wrong-domain') {
    signed.domain = 'https://wrong-domain.example';
  }
  const vp = await signDidAuth(libs, wallet, signed);
  await selfCheck(libs, vp, signed);
  if(mode === 'bad-signature') {
    // Signed content changed after signing; proof, challenge, domain intact.
    vp.id = `urn:uuid:${randomUUID()}`;
  }
  return probeLine(mode, await present(exchangeUrl, vp));
}

async function replay(libs, claimUrl) {
  const {interactionUrl, exchangeUrl, vpr} = await begin(libs, claimUrl);
  const wallet = await makeWallet(libs);
  const vp = await signDidAuth(libs, wallet, vpr);
  await selfCheck(libs, vp, vpr);
  issuedCredentialOf(await present(exchangeUrl, vp), exchangeUrl);

  // The same presentation, the same exchange.
  const again = await present(exchangeUrl, vp);
  const line = probeLine('replay', again);

  // A second exchange for the same claim, the same wallet DID (LCW keeps
  // one per profile), followed until the node refuses.
  const second = await (async () => {
    const interaction = await openInteraction(interactionUrl);
    if(!interaction.ok) {
      return {step: 'interaction', status: interaction.status,
        body: interaction.body};
    }
    const secondExchangeUrl = vcapiOf(interaction, interactionUrl);
    const started = await startExchange(secondExchangeUrl);
    if(!started.ok) {
      return {step: 'request', status: started.status, body: started.body};
    }
    const secondVpr = vprOf(started, secondExchangeUrl);
    const secondVp = await signDidAuth(libs, wallet, secondVpr);
    const presented = await present(secondExchangeUrl, secondVp);
    return {step: 'presentation', status: presented.status,
      body: presented.body};
  })();
  line.secondExchange = second;

  let claimState = null;
  try {
    const page = await readClaimPage(claimUrl);
    claimState = page.state ?? null;
  } catch(e) {
    process.stderr.write(
      `lcw-wallet.mjs: warning: claim page after the claim: ${e.message}\n`);
  }
  line.claimState = claimState;
  return line;
}

async function main() {
  const {claimUrl, nodeHost, mode} = parseArgs(process.argv.slice(2));
  // Library chatter must not reach stdout, which is for the JSON line.
  console.log = console.info = console.debug = console.warn = console.error;
  const refusedUrls = installFetchGuard('lcw-wallet.mjs', nodeHost);
  const libs = await loadLibraries();
  libs.documentLoader =
    libs.securityLoader({fetchRemoteContexts: true}).build();

  let line;
  try {
    if(mode === 'claim') {
      line = await claim(libs, claimUrl, refusedUrls);
    } else if(mode === 'replay') {
      line = await replay(libs, claimUrl);
    } else {
      line = await wrongProof(libs, claimUrl, mode);
    }
  } catch(e) {
    const message = e instanceof WalletError ? e.message :
      `unexpected error: ${e?.stack ?? e}`;
    process.stderr.write(`lcw-wallet.mjs: ${mode}: ${message}\n`);
    if(refusedUrls.length > 0) {
      process.stderr.write('lcw-wallet.mjs: refused (offline): ' +
        `${[...new Set(refusedUrls)].join(' ')}\n`);
    }
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
  // exitCode rather than exit() so buffered stdout is flushed to a pipe.
  process.exitCode = 0;
}

await main();
