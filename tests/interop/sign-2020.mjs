#!/usr/bin/env node
// Issues a VC 1.1 credential signed Ed25519Signature2020 with Digital
// Bazaar's stack (@digitalbazaar/vc, @digitalbazaar/ed25519-signature-2020),
// as much of the installed base (the Learner Credential Wallet among them)
// still does, for Cairn's tests to verify.
//
//   node tests/interop/sign-2020.mjs SUBJECT-DID
//
// Prints the signed credential as one JSON line. The key is fresh, its
// controller its own did:key. Fully offline: the document loader knows the
// contexts it needs and nothing else.

import * as vc from '@digitalbazaar/vc';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {Ed25519VerificationKey2020} from
  '@digitalbazaar/ed25519-verification-key-2020';
import * as credentialsCtx from '@digitalbazaar/credentials-context';
import * as suiteCtx from 'ed25519-signature-2020-context';

const subject = process.argv[2];
if(!subject) {
  process.stderr.write('usage: node tests/interop/sign-2020.mjs SUBJECT-DID\n');
  process.exit(2);
}

const contextsOf = pkg => pkg.contexts ?? pkg.default?.contexts;
const contexts = new Map([
  ['https://www.w3.org/2018/credentials/v1',
    contextsOf(credentialsCtx).get('https://www.w3.org/2018/credentials/v1')],
  [suiteCtx.constants?.CONTEXT_URL ?? suiteCtx.default.constants.CONTEXT_URL,
    contextsOf(suiteCtx).get(
      suiteCtx.constants?.CONTEXT_URL ?? suiteCtx.default.constants.CONTEXT_URL)],
]);
const documentLoader = async url => {
  const document = contexts.get(url);
  if(document === undefined) {
    throw new Error(`sign-2020.mjs: no document for ${url}`);
  }
  return {contextUrl: null, documentUrl: url, document};
};

const key = await Ed25519VerificationKey2020.generate();
const did = `did:key:${key.fingerprint()}`;
key.controller = did;
key.id = `${did}#${key.fingerprint()}`;

const credential = {
  '@context': [
    'https://www.w3.org/2018/credentials/v1',
    'https://w3id.org/security/suites/ed25519-2020/v1'
  ],
  id: 'urn:uuid:9a1e2f4c-6b7d-4e8f-9a0b-1c2d3e4f5a6b',
  type: ['VerifiableCredential'],
  issuer: did,
  issuanceDate: '2024-05-01T00:00:00Z',
  expirationDate: '2099-05-01T00:00:00Z',
  credentialSubject: {id: subject}
};
const suite = new Ed25519Signature2020({key});
const signed = await vc.issue({credential, suite, documentLoader});
process.stdout.write(JSON.stringify(signed) + '\n');
