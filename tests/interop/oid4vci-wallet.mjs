#!/usr/bin/env node
// Plays an OpenID4VCI 1.0 wallet against a Cairn claim page, for the
// wallet-claim tests (issue 15). The protocol is spoken by someone else's
// client, @openid4vc/openid4vci (OpenWallet Foundation), so a pass means a
// third-party wallet stack can claim Cairn badges with the pre-authorized
// code flow.
//
//   node tests/interop/oid4vci-wallet.mjs CLAIM_URL TX_CODE [MODE]
//
// TX_CODE is the transaction code the node printed at issuance, or "-" when
// the offer has none. Steps: GET the claim page, read the JSON in
// <script id="cairn-page">, GET `offerQr` (relative to CLAIM_URL), decode the
// PNG's QR code (jsqr), resolve the `openid-credential-offer://` link (by
// credential_offer_uri), fetch issuer and authorization server metadata, trade
// the pre-authorized code (+ tx_code) for an access token, get a c_nonce from
// the nonce endpoint, make a fresh key named as did:key, prove possession with
// an `openid4vci-proof+jwt` (kid did:key:z..#z..), request the credential and
// verify it with Digital Bazaar's stack (tests/interop/verify.mjs).
//
// MODE (default "happy"):
//   happy, es256     one line {"mode", "did", "kid", "alg", "credential",
//                    "verified", "verifyErrors", "holderBound"}; es256 uses a
//                    P-256 did:key and ES256 instead of Ed25519/EdDSA. Exit 0
//                    only if the credential verified and its
//                    credentialSubject.id is the wallet's DID (the line is
//                    printed either way).
//   reused-code      token request once (ok), then again with the same code
//   wrong-tx-code    token request with a wrong transaction code
//   stale-nonce      one good credential request, then a second one (same
//                    access token, fresh valid proof) reusing its c_nonce
//   unknown-nonce    credential request with a made-up nonce
//   wrong-aud        proof JWT whose aud is not the credential issuer
//   other-key        kid names one did:key, the JWT is signed by another key
//   Each prints one line {"mode", "status", "error", "body", "expected",
//   "contentType"} ("expected": the error code OpenID4VCI 1.0 prescribes) and
//   exits 0 when the node answered with an OAuth/OID4VCI error (4xx,
//   Content-Type application/json, body with a string "error"), whatever the
//   code; the caller compares "error" with what it expects.
//
// Any unexpected failure: a message on stderr, exit 1. Usage error: exit 2.
// Network: only the claim URL's origin is ever contacted (fetch is fenced).
// Every mode spends the offer's pre-authorized code: use a fresh claim each.
//
// Environment: VERIFY_ARGS, a JSON array of extra arguments for verify.mjs
// (e.g. ["--context", "URL=PATH"]).

import {spawnSync} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {Openid4vciClient, setGlobalConfig} from '@openid4vc/openid4vci';
import {clientAuthenticationAnonymous} from '@openid4vc/oauth2';
import * as jose from 'jose';
import jsQR from 'jsqr';
import {PNG} from 'pngjs';
import * as base58 from 'base58-universal';

const USAGE = 'usage: node tests/interop/oid4vci-wallet.mjs CLAIM_URL TX_CODE ' +
  '[happy|es256|reused-code|wrong-tx-code|stale-nonce|unknown-nonce|wrong-aud|other-key]';
const MODES = ['happy', 'es256', 'reused-code', 'wrong-tx-code', 'stale-nonce',
  'unknown-nonce', 'wrong-aud', 'other-key'];
const PRE_AUTH_GRANT = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
const OFFER_SCHEME = 'openid-credential-offer://';
const HERE = dirname(fileURLToPath(import.meta.url));

class WalletError extends Error {}
const fail = message => {
  throw new WalletError(message);
};
const say = object => process.stdout.write(`${JSON.stringify(object)}\n`);

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  if(argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const [claimUrl, txArg, mode = 'happy', ...rest] = argv;
  const usage = message => {
    process.stderr.write(`oid4vci-wallet.mjs: ${message}\n${USAGE}\n`);
    process.exit(2);
  };
  if(claimUrl === undefined || txArg === undefined) {
    usage('CLAIM_URL and TX_CODE are required');
  }
  if(rest.length > 0) {
    usage(`unexpected arguments: ${rest.join(' ')}`);
  }
  let url;
  try {
    url = new URL(claimUrl);
  } catch {
    usage(`CLAIM_URL is not a URL: ${claimUrl}`);
  }
  if(!MODES.includes(mode)) {
    usage(`unknown MODE ${mode}`);
  }
  const txCode = txArg === '-' || txArg === '' ? undefined : txArg;
  if(mode === 'wrong-tx-code' && txCode === undefined) {
    usage('wrong-tx-code needs the real TX_CODE (to send a different one)');
  }
  return {claimUrl: url, txCode, mode};
}

// -------------------------------------------------------------------- fetch

// Only the node is contacted: any other origin (a stray absolute URL in the
// metadata, say) is an error naming it rather than a request.
function fencedFetch(origin) {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if(url.origin !== origin) {
      throw new WalletError(
        `refusing to contact ${url.href}: only ${origin} (the node) is allowed`);
    }
    return fetch(input, init);
  };
}

async function readJsonBody(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------- claim page

async function readClaimPage(claimUrl, fetchNode) {
  const response = await fetchNode(claimUrl, {headers: {Accept: 'text/html'}});
  if(!response.ok) {
    fail(`GET ${claimUrl} answered ${response.status}`);
  }
  const html = await response.text();
  const match = /<script\b[^>]*\bid\s*=\s*["']cairn-page["'][^>]*>([\s\S]*?)<\/script\s*>/i
    .exec(html);
  if(!match) {
    fail(`no <script id="cairn-page"> in ${claimUrl}`);
  }
  let page;
  try {
    page = JSON.parse(match[1]);
  } catch(e) {
    fail(`<script id="cairn-page"> is not JSON: ${e.message}`);
  }
  if(page?.page !== 'claim') {
    fail(`cairn-page.page is ${JSON.stringify(page?.page)}, expected "claim"`);
  }
  if(page.state !== 'open') {
    fail(`claim state is ${JSON.stringify(page.state)}, expected "open"`);
  }
  if(typeof page.offerQr !== 'string') {
    fail('cairn-page has no string "offerQr"');
  }
  return page;
}

async function offerFromQr(page, claimUrl, fetchNode) {
  const qrUrl = new URL(page.offerQr, claimUrl);
  const response = await fetchNode(qrUrl);
  if(!response.ok) {
    fail(`GET ${qrUrl} answered ${response.status}`);
  }
  const type = response.headers.get('content-type') ?? '';
  if(!type.toLowerCase().startsWith('image/png')) {
    fail(`GET ${qrUrl} has Content-Type ${JSON.stringify(type)}, expected image/png`);
  }
  let png;
  try {
    png = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
  } catch(e) {
    fail(`${qrUrl} is not a readable PNG: ${e.message}`);
  }
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset,
    png.data.byteLength), png.width, png.height);
  if(!code) {
    fail(`no QR code found in ${qrUrl} (${png.width}x${png.height})`);
  }
  const link = code.data;
  if(!link.startsWith(OFFER_SCHEME)) {
    fail(`QR code holds ${JSON.stringify(link)}, not an ${OFFER_SCHEME} link`);
  }
  if(page.offer !== undefined && page.offer !== link) {
    fail(`QR code (${link}) differs from cairn-page.offer (${page.offer})`);
  }
  return link;
}

// -------------------------------------------------------------- keys, did:key

const ED25519_PUB = [0xed, 0x01];
const P256_PUB = [0x80, 0x24]; // varint of multicodec 0x1200

async function makeHolder(kind) {
  const alg = kind === 'p256' ? 'ES256' : 'EdDSA';
  const {publicKey, privateKey} = await jose.generateKeyPair(alg, {extractable: true});
  const jwk = await jose.exportJWK(publicKey);
  let raw;
  let prefix;
  if(kind === 'p256') {
    const x = jose.base64url.decode(jwk.x);
    const y = jose.base64url.decode(jwk.y);
    raw = new Uint8Array([(y[y.length - 1] & 1) ? 0x03 : 0x02, ...x]);
    prefix = P256_PUB;
  } else {
    raw = jose.base64url.decode(jwk.x);
    prefix = ED25519_PUB;
  }
  const multibase = `z${base58.encode(new Uint8Array([...prefix, ...raw]))}`;
  const did = `did:key:${multibase}`;
  return {alg, did, kid: `${did}#${multibase}`, publicJwk: jwk, privateKey};
}

async function signJwt({header, payload}, privateKey) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(privateKey);
}

// What the library builds (createCredentialRequestJwtProof), by hand, so the
// negative modes can bend one field.
function proofJwt({holder, signingKey = holder.privateKey, aud, nonce}) {
  return signJwt({
    header: {alg: holder.alg, kid: holder.kid, typ: 'openid4vci-proof+jwt'},
    payload: {nonce, aud, iat: Math.floor(Date.now() / 1000)},
  }, signingKey);
}

// --------------------------------------------------------------- the client

function makeClient(fetchNode, holders) {
  return new Openid4vciClient({
    callbacks: {
      fetch: fetchNode,
      generateRandom: n => new Uint8Array(randomBytes(n)),
      hash: (data, alg) => {
        const name = {'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512'}[alg];
        if(!name) {
          fail(`unsupported hash ${alg}`);
        }
        return new Uint8Array(createHash(name).update(data).digest());
      },
      // Pre-authorized code flow without client authentication.
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async (signer, {header, payload}) => {
        const holder = holders.find(h => signer.method === 'did' && h.kid === signer.didUrl);
        if(!holder) {
          fail(`asked to sign for unknown signer ${JSON.stringify(signer)}`);
        }
        return {jwt: await signJwt({header, payload}, holder.privateKey),
          signerJwk: holder.publicJwk};
      },
    },
  });
}

// Runs the flow up to (and including) the access token.
async function start({claimUrl, txCode, fetchNode, client}) {
  const page = await readClaimPage(claimUrl, fetchNode);
  const link = await offerFromQr(page, claimUrl, fetchNode);
  const offer = await client.resolveCredentialOffer(link);
  const grant = offer.grants?.[PRE_AUTH_GRANT];
  if(!grant) {
    fail(`credential offer has no ${PRE_AUTH_GRANT} grant`);
  }
  if(grant.tx_code && txCode === undefined) {
    fail('the offer requires a tx_code but TX_CODE is "-"');
  }
  if(!grant.tx_code && txCode !== undefined) {
    fail('TX_CODE given but the offer has no tx_code object');
  }
  const configurationId = offer.credential_configuration_ids[0];
  if(configurationId === undefined) {
    fail('credential offer has no credential_configuration_ids');
  }
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  // Only with "V1" does the library send credential_configuration_id; it
  // reads metadata without any credential_metadata as draft 14.
  if(issuerMetadata.originalDraftVersion !== 'V1') {
    fail('the library reads the issuer metadata as OpenID4VCI ' +
      `${issuerMetadata.originalDraftVersion}, not 1.0 (V1): a credential ` +
      'configuration needs "credential_metadata"');
  }
  if(!issuerMetadata.knownCredentialConfigurations[configurationId]) {
    fail(`credential configuration ${configurationId} is missing from, or ` +
      'invalid in, the issuer metadata');
  }
  return {page, link, offer, grant, configurationId, issuerMetadata};
}

async function accessToken(client, flow, txCode) {
  const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: flow.offer, issuerMetadata: flow.issuerMetadata, txCode,
  });
  return accessTokenResponse.access_token;
}

// -------------------------------------------------------------- raw requests

function tokenEndpointOf(flow) {
  return flow.issuerMetadata.authorizationServers[0].token_endpoint;
}

async function rawTokenRequest(flow, fetchNode, txCode) {
  const form = new URLSearchParams({
    grant_type: PRE_AUTH_GRANT,
    'pre-authorized_code': flow.grant['pre-authorized_code'],
  });
  if(txCode !== undefined) {
    form.set('tx_code', txCode);
  }
  const response = await fetchNode(tokenEndpointOf(flow), {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: form.toString(),
  });
  return {status: response.status,
    contentType: response.headers.get('content-type'),
    body: await readJsonBody(response)};
}

async function rawCredentialRequest(flow, fetchNode, token, jwt) {
  const response = await fetchNode(
    flow.issuerMetadata.credentialIssuer.credential_endpoint, {
      method: 'POST',
      headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
      body: JSON.stringify({
        credential_configuration_id: flow.configurationId,
        proofs: {jwt: [jwt]},
      }),
    });
  return {status: response.status,
    contentType: response.headers.get('content-type'),
    body: await readJsonBody(response)};
}

// Prints a negative mode's line; the node must have answered with an error.
// Like the library, the Content-Type must contain "application/json"
// (application/problem+json does not, and a wallet would not parse it).
function reportError(mode, expected, {status, contentType, body}, extra = {}) {
  const error = typeof body === 'object' && body !== null ? body.error : undefined;
  say({mode, status, error, body, expected, contentType, ...extra});
  if(status < 400 || status >= 500 || typeof error !== 'string') {
    fail(`${mode}: expected an OAuth/OID4VCI error response, got HTTP ` +
      `${status} ${JSON.stringify(body)}`);
  }
  if(!(contentType ?? '').toLowerCase().includes('application/json')) {
    fail(`${mode}: error response has Content-Type ${JSON.stringify(contentType)}, ` +
      'not application/json');
  }
}

// ------------------------------------------------------------- verification

function verifyCredential(credential) {
  const dir = mkdtempSync(join(tmpdir(), 'oid4vci-wallet-'));
  try {
    const file = join(dir, 'credential.json');
    writeFileSync(file, JSON.stringify(credential, null, 2));
    let extra = [];
    if(process.env.VERIFY_ARGS) {
      extra = JSON.parse(process.env.VERIFY_ARGS);
    }
    const run = spawnSync(process.execPath,
      [join(HERE, 'verify.mjs'), ...extra, file], {encoding: 'utf8'});
    if(run.status !== 0 && run.status !== 1) {
      fail(`verify.mjs exited ${run.status}: ${run.stderr || run.error?.message}`);
    }
    const line = run.stdout.trim().split('\n').filter(Boolean).pop();
    let result;
    try {
      result = JSON.parse(line);
    } catch {
      fail(`verify.mjs printed no JSON line: ${run.stdout}${run.stderr}`);
    }
    return result;
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

function credentialOf(credentialResponse) {
  const entry = credentialResponse.credentials?.[0] ?? credentialResponse.credential;
  const credential = entry?.credential ?? entry;
  if(credential === null || typeof credential !== 'object' || Array.isArray(credential)) {
    fail('credential response has no ldp_vc credential object: ' +
      JSON.stringify(credentialResponse));
  }
  return credential;
}

// -------------------------------------------------------------------- modes

async function run({claimUrl, txCode, mode}) {
  setGlobalConfig({allowInsecureUrls: claimUrl.protocol === 'http:'});
  const fetchNode = fencedFetch(claimUrl.origin);
  const holder = await makeHolder(mode === 'es256' ? 'p256' : 'ed25519');
  const client = makeClient(fetchNode, [holder]);
  const flow = await start({claimUrl, txCode, fetchNode, client});
  const issuer = flow.issuerMetadata.credentialIssuer.credential_issuer;

  if(mode === 'wrong-tx-code') {
    const wrong = txCode.replace(/.$/, c =>
      /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : (c === 'a' ? 'b' : 'a'));
    reportError(mode, 'invalid_grant', await rawTokenRequest(flow, fetchNode, wrong));
    return 0;
  }

  const token = await accessToken(client, flow, txCode);

  if(mode === 'reused-code') {
    reportError(mode, 'invalid_grant', await rawTokenRequest(flow, fetchNode, txCode));
    return 0;
  }

  const {c_nonce: nonce} = await client.requestNonce({issuerMetadata: flow.issuerMetadata});

  if(mode === 'unknown-nonce') {
    const madeUp = jose.base64url.encode(randomBytes(24));
    const jwt = await proofJwt({holder, aud: issuer, nonce: madeUp});
    reportError(mode, 'invalid_nonce', await rawCredentialRequest(flow, fetchNode, token, jwt));
    return 0;
  }
  if(mode === 'wrong-aud') {
    const jwt = await proofJwt({holder, aud: 'https://not-the-issuer.invalid', nonce});
    reportError(mode, 'invalid_proof', await rawCredentialRequest(flow, fetchNode, token, jwt));
    return 0;
  }
  if(mode === 'other-key') {
    const other = await makeHolder('ed25519');
    const jwt = await proofJwt({holder, signingKey: other.privateKey, aud: issuer, nonce});
    reportError(mode, 'invalid_proof', await rawCredentialRequest(flow, fetchNode, token, jwt));
    return 0;
  }

  // happy, es256, stale-nonce: the library does the proof and the request.
  const {jwt} = await client.createCredentialRequestJwtProof({
    issuerMetadata: flow.issuerMetadata,
    credentialConfigurationId: flow.configurationId,
    signer: {method: 'did', didUrl: holder.kid, alg: holder.alg},
    nonce,
  });
  const {credentialResponse} = await client.retrieveCredentials({
    issuerMetadata: flow.issuerMetadata,
    credentialConfigurationId: flow.configurationId,
    accessToken: token,
    proofs: {jwt: [jwt]},
  });
  const credential = credentialOf(credentialResponse);

  if(mode === 'stale-nonce') {
    // A fresh, otherwise valid proof that reuses the spent c_nonce.
    const again = await proofJwt({holder, aud: issuer, nonce});
    reportError(mode, 'invalid_nonce',
      await rawCredentialRequest(flow, fetchNode, token, again), {firstStatus: 200});
    return 0;
  }

  const verification = verifyCredential(credential);
  const subjects = [credential.credentialSubject].flat();
  const holderBound = subjects.length === 1 && subjects[0]?.id === holder.did;
  say({
    mode, did: holder.did, kid: holder.kid, alg: holder.alg, credential,
    verified: verification.verified === true,
    verifyErrors: verification.errors ?? [],
    holderBound,
  });
  if(verification.verified !== true) {
    process.stderr.write(`oid4vci-wallet.mjs: the credential did not verify: ${
      JSON.stringify(verification.errors)}\n`);
  }
  if(!holderBound) {
    process.stderr.write('oid4vci-wallet.mjs: credentialSubject.id is ' +
      `${JSON.stringify(subjects.map(s => s?.id))}, not ${holder.did}\n`);
  }
  return verification.verified === true && holderBound ? 0 : 1;
}

// Library errors carry the node's answer; show it.
function describe(error) {
  const parts = [error?.message ?? String(error)];
  const response = error?.response?.response ?? error?.response;
  if(response?.status !== undefined) {
    parts.push(`(HTTP ${response.status} from ${response.url})`);
  }
  if(error?.errorResponse) {
    parts.push(JSON.stringify(error.errorResponse));
  }
  // ValidationError already puts the zod issues in its message.
  if(error?.cause) {
    parts.push(`cause: ${error.cause?.message ?? error.cause}`);
  }
  return parts.join(' ');
}

try {
  process.exitCode = await run(parseArgs(process.argv.slice(2)));
} catch(error) {
  process.stderr.write(`oid4vci-wallet.mjs: ${describe(error)}\n`);
  process.exitCode = 1;
}
