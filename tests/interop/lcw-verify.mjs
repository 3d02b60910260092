#!/usr/bin/env node
// The Learner Credential Wallet's verdict on a credential, for Cairn's tests.
//
// The wallet (LCW) verifies with @digitalcredentials/verifier-core, calling
// its verifyCredential({credential, knownDIDRegistries}); this script makes
// that same call, with the verifier's clock optionally set off from the
// machine's, so a test can reproduce what a phone whose clock is behind (or
// ahead of) the node's says about a credential and its status lists:
//
//   node tests/interop/lcw-verify.mjs [--clock-offset-seconds N]
//                                     [--registry-issuer DID ...] CREDENTIAL.json
//
// --clock-offset-seconds N  The verifier's "now" is the machine's plus N
//          seconds (negative: the verifier is behind). verifier-core takes no
//          `now`: it and the libraries under it (@digitalcredentials/vc for
//          the credential, a nested older copy of it for each status list
//          credential) read the clock with `new Date()` when they check
//          validFrom/validUntil. So before any of them is imported,
//          globalThis.Date is replaced by a function that builds real Date
//          objects (same prototype, so instanceof and every method behave as
//          before) and differs only where the current time is read: `new
//          Date()` with no argument, `Date()` and Date.now() are shifted by N
//          seconds; `new Date(x)`, Date.parse and Date.UTC are untouched.
//          Node's own internals (fetch, timers) keep the real clock.
// --registry-issuer DID  LCW passes DCC's "known DID registries" (fetched from
//          the internet) and shows an issuer found in none of them as a
//          warning. Offline, this script passes an empty list, so
//          "registered_issuer" is false; with this option it passes one local
//          registry (a data: URL, nothing is fetched) listing DID, so that
//          check passes as it would for a registered issuer.
//
// Prints one JSON line:
//   {"file", "clockOffsetSeconds", "verifierNow", "verified",
//    "signatureValid", "revoked", "suspended", "registeredIssuer",
//    "notYetValid", "errors": [..], "warnings": [..], "log": [..],
//    "raw": {..}}
// "log" is verifier-core's per-check log ({id, valid} or {id, error: {name,
// message}}); "raw" its whole result, less the credential it echoes and any
// stack traces. "verified" is true only if verifier-core's result has no
// error and its log says the signature is valid, the credential is not
// expired, and every status entry was checked and is not set; the issuer
// registry check is left out (see "warnings"). "revoked" and "suspended" are
// true or false when that status list was checked, null when it was not
// (no such entry, or the check failed: see "errors", e.g.
// "revocation_status: status_list_not_yet_valid: ..."). "notYetValid" is
// true if the credential's own validFrom or a status list's is after the
// verifier's now: the errors say which. Exit 0 if verified,
// 1 if not, 2 on a usage error, 3 if the Node dependencies are missing.
//
// verifier-core checks the status lists before the credential's own dates.
// A status list whose validFrom is after the verifier's now shows as
// "revocation_status" with error status_list_not_yet_valid, the rest of the
// log intact. A credential whose own validFrom is after it makes
// @digitalcredentials/vc throw instead: verifier-core then returns that error
// and a log with only "registered_issuer" (the signature and status results
// are lost), so "signatureValid", "revoked" and "suspended" are null and the
// error is "credential: Error: The current date time (...) is before
// "validFrom" (...)". Either way "verified" is false.
//
// Offline but for loopback: verifier-core's document loader serves the
// contexts bundled in its npm dependencies and resolves did:key locally, but
// fetches any other http(s) URL, and its Open Badges schema check fetches
// the OB JSON schema from purl.imsglobal.org. Every library here fetches
// through globalThis.fetch, which is wrapped before they load: it lets
// through data: URLs and http(s) to 127.0.0.0/8, localhost and [::1] (the
// node's status lists) and refuses anything else with an error naming the
// URL, listed in "refusedUrls". So the schema check does not run (a
// warning, not part of LCW's verdict). Library chatter on the console goes
// to stderr, so stdout carries only the JSON line.

import {readFileSync} from 'node:fs';
import {
  EXPIRATION_STEP, REGISTRY_STEP, SIGNATURE_STEP, STATUS_STEP_SUFFIX,
  compactLog, describeError, installFetchGuard, rawOf,
} from './verifier-core-report.mjs';

const USAGE =
  'usage: node tests/interop/lcw-verify.mjs [--clock-offset-seconds N] ' +
  '[--registry-issuer DID ...] CREDENTIAL.json';

// verifier-core's log ids (src/constants/verificationSteps.ts, and the
// `${statusPurpose}_status` entries @digitalcredentials/vc adds).
// How a validFrom after the verifier's clock shows: verifier-core's name for
// a status list's (src/constants/errors.ts), @digitalcredentials/vc's
// message for the credential's own.
const STATUS_LIST_NOT_YET_VALID = 'status_list_not_yet_valid';
const VC_NOT_YET_VALID = 'is before "validFrom"';


function usageError(message) {
  process.stderr.write(`lcw-verify.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  let offsetSeconds = 0;
  const registryIssuers = [];
  const files = [];
  for(let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if(arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if(arg === '--clock-offset-seconds') {
      const value = argv[++i];
      // Number('') is 0: insist on digits.
      if(value === undefined || !/^[+-]?\d+(\.\d+)?$/.test(value)) {
        usageError(
          `--clock-offset-seconds expects a number of seconds, got "${value}"`);
      }
      offsetSeconds = Number(value);
    } else if(arg === '--registry-issuer') {
      const did = argv[++i];
      if(did === undefined || !did.startsWith('did:')) {
        usageError(`--registry-issuer expects a DID, got "${did}"`);
      }
      registryIssuers.push(did);
    } else if(arg === '--') {
      files.push(...argv.slice(i + 1));
      break;
    } else if(arg.startsWith('-')) {
      usageError(`unknown option ${arg}`);
    } else {
      files.push(arg);
    }
  }
  if(files.length !== 1) {
    usageError(files.length === 0 ?
      'no credential file given' : 'exactly one credential file is verified');
  }
  return {offsetSeconds, registryIssuers, file: files[0]};
}

// Shifts what the libraries read as the current time by offsetMs. A plain
// function rather than a class, so that `Date()` called without `new` still
// works and the objects it makes have Date.prototype itself.
function installShiftedClock(offsetMs) {
  const RealDate = globalThis.Date;
  const now = () => RealDate.now() + offsetMs;
  function Date(...args) {
    if(new.target === undefined) {
      return new RealDate(now()).toString();
    }
    return Reflect.construct(
      RealDate, args.length === 0 ? [now()] : args, new.target);
  }
  Object.setPrototypeOf(Date, RealDate); // Date.parse, Date.UTC
  Object.defineProperty(Date, 'prototype', {value: RealDate.prototype});
  Object.defineProperty(Date, 'now', {
    value: now, writable: true, configurable: true,
  });
  globalThis.Date = Date;
}

// Imported lazily (and only after the clock and fetch are in place) so a
// missing `npm ci` is reported as such (exit 3) and cannot be mistaken by
// the Rust test for a verification failure (exit 1).
async function loadVerifierCore() {
  try {
    return await import('@digitalcredentials/verifier-core');
  } catch(e) {
    process.stderr.write(
      `lcw-verify.mjs: cannot load the Node dependencies (${e.message}); ` +
      'run `npm ci --ignore-scripts` in the repository root\n');
    process.exit(3);
  }
}

// A dcc-legacy registry (the format issuer-registry-client reads) listing
// the given DIDs, as a data: URL so that nothing is fetched.
function localRegistries(dids) {
  if(dids.length === 0) {
    return [];
  }
  const registry = {};
  for(const did of dids) {
    registry[did] = {name: 'Cairn test issuer', url: '', location: ''};
  }
  const json = JSON.stringify({registry});
  return [{
    type: 'dcc-legacy',
    name: 'lcw-verify.mjs local registry',
    url: `data:application/json,${encodeURIComponent(json)}`,
  }];
}

function summarize({result, credential, refusedUrls}) {
  const errors = [];
  const warnings = [];
  const line = {
    verified: false,
    signatureValid: null,
    revoked: null,
    suspended: null,
    registeredIssuer: null,
    errors,
    warnings,
  };

  // Fatal results (bad signature, malformed credential, an exception in
  // verifier-core) have "errors" and no log.
  for(const e of result.errors ?? []) {
    errors.push(describeError(e));
    if(e?.name === 'invalid_signature') {
      line.signatureValid = false;
    }
  }
  // A failed check that @digitalcredentials/vc throws without a log entry
  // (e.g. the credential's own validFrom is after the verifier's now) is
  // left by verifier-core as a top-level "error".
  if(result.error !== undefined) {
    errors.push(`credential: ${describeError(result.error)}`);
  }

  const log = Array.isArray(result.log) ? result.log : [];
  line.log = compactLog(log);
  const step = id => log.find(entry => entry.id === id);

  const signature = step(SIGNATURE_STEP);
  if(signature !== undefined) {
    line.signatureValid = signature.valid === true;
  }
  if(signature?.valid !== true && errors.length === 0) {
    errors.push(`${SIGNATURE_STEP}: not reported valid`);
  }
  const expiration = step(EXPIRATION_STEP);
  if(expiration?.valid !== true && line.signatureValid) {
    errors.push(`${EXPIRATION_STEP}: ${expiration === undefined ?
      'not checked' : 'expired'}`);
  }

  // Status: one "<purpose>_status" entry per BitstringStatusListEntry when
  // the lists were checked; a single "revocation_status" entry with an error
  // when any of them could not be (verifier-core names it so whatever the
  // purpose).
  const statusEntries = log.filter(entry =>
    entry.id.endsWith(STATUS_STEP_SUFFIX));
  for(const entry of statusEntries) {
    if(entry.error !== undefined) {
      errors.push(
        `${entry.id}: ${entry.error.name}: ${entry.error.message}`);
    } else if(entry.valid !== true) {
      errors.push(`${entry.id}: status bit is set`);
    }
  }
  const statusOf = purpose => {
    const entry = step(`${purpose}${STATUS_STEP_SUFFIX}`);
    return entry === undefined || entry.error !== undefined ?
      null : entry.valid !== true;
  };
  line.revoked = statusOf('revocation');
  line.suspended = statusOf('suspension');
  const hasStatus = credential !== null && typeof credential === 'object' &&
    credential.credentialStatus !== undefined;
  if(hasStatus && line.signatureValid && statusEntries.length === 0) {
    errors.push('credentialStatus: not checked');
  }

  const registry = step(REGISTRY_STEP);
  if(registry !== undefined) {
    line.registeredIssuer = registry.valid === true;
    if(!line.registeredIssuer) {
      warnings.push(`${REGISTRY_STEP}: issuer is in no known DID registry`);
    }
    for(const r of registry.uncheckedRegistries ?? []) {
      warnings.push(`${REGISTRY_STEP}: registry not checked: ${r.name}`);
    }
  }
  const schemaCheck = (result.additionalInformation ?? [])
    .find(info => info.id === 'schema_check');
  if(schemaCheck !== undefined) {
    const {results} = schemaCheck;
    if(typeof results === 'string') {
      // A refused schema fetch comes back as "INVALID_SCHEMA - possibly not
      // a valid url": say what happened instead.
      if(results.startsWith('INVALID_SCHEMA') && refusedUrls.length > 0) {
        warnings.push('schema_check: not run (offline: the schema was not ' +
          'fetched, see refusedUrls)');
      } else if(results !== 'NO_SCHEMA') {
        warnings.push(`schema_check: ${results}`);
      }
    } else {
      for(const r of results ?? []) {
        if(r.result?.valid !== true) {
          warnings.push(`schema_check: ${r.schema}: not valid`);
        }
      }
    }
  }

  // The credential's own validFrom (vc's message) or a status list's
  // (verifier-core's status_list_not_yet_valid) after the verifier's now.
  line.notYetValid = errors.some(e =>
    e.includes(STATUS_LIST_NOT_YET_VALID) || e.includes(VC_NOT_YET_VALID));

  line.verified = errors.length === 0 && line.signatureValid === true &&
    expiration?.valid === true &&
    statusEntries.every(entry => entry.valid === true) &&
    (!hasStatus || statusEntries.length > 0);
  return line;
}

async function main() {
  const {offsetSeconds, registryIssuers, file} =
    parseArgs(process.argv.slice(2));

  // Library chatter (the schema check and the registry client log with
  // console.log) must not reach stdout, which is for the JSON line.
  console.log = console.info = console.debug = console.error;
  if(offsetSeconds !== 0) {
    installShiftedClock(Math.round(offsetSeconds * 1000));
  }
  const refusedUrls = installFetchGuard('lcw-verify.mjs');
  const verifierCore = await loadVerifierCore();

  const head = {
    file,
    clockOffsetSeconds: offsetSeconds,
    verifierNow: new Date().toISOString(),
  };
  let credential;
  try {
    credential = JSON.parse(readFileSync(file, 'utf8'));
  } catch(e) {
    const line = {...head, verified: false, signatureValid: null,
      revoked: null, suspended: null, registeredIssuer: null,
      notYetValid: false, errors: [`cannot read file: ${e.message}`],
      warnings: [], log: []};
    process.stdout.write(`${JSON.stringify(line)}\n`);
    process.exitCode = 1;
    return;
  }

  // verifier-core catches its own exceptions and returns them as
  // {errors: [{name: 'unknown_error', ...}]}; this catch is a last resort.
  let result;
  try {
    result = await verifierCore.verifyCredential({
      credential,
      knownDIDRegistries: localRegistries(registryIssuers),
    });
  } catch(e) {
    result = {errors: [{name: 'exception', message: e?.message ?? String(e)}]};
  }

  const line = {...head, ...summarize({result, credential, refusedUrls})};
  if(refusedUrls.length > 0) {
    line.refusedUrls = [...new Set(refusedUrls)];
  }
  line.raw = rawOf(result);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  // exitCode rather than exit() so buffered stdout is flushed to a pipe.
  process.exitCode = line.verified ? 0 : 1;
}

await main();
