// The JSON-LD contexts the verifier knows: the same set the Rust verifier
// bundles (verifier/src/context.rs). Nothing is ever fetched: any other URL
// is refused, naming it, as `cairn verify` refuses it.
//
// The Open Badges 3.0 contexts are verifier/contexts/*.json themselves (one
// source of truth with the Rust side); the rest come from the npm context
// packages (their documents are the ones ssi bundles, compared key for key,
// except multikey/v1, where the npm document also defines `expires`), and
// the VC examples context, in no package, is its one-line published text.

import * as credentialsContext from "@digitalbazaar/credentials-context";
import dataIntegrityContext from "@digitalbazaar/data-integrity-context";
import multikeyContext from "@digitalbazaar/multikey-context";
import securityContext from "@digitalbazaar/security-context";
import didContext from "did-context";
import ed25519Context from "ed25519-signature-2020-context";
import ob30 from "../../../verifier/contexts/ob-v3p0-context-3.0.json";
import ob301 from "../../../verifier/contexts/ob-v3p0-context-3.0.1.json";
import ob302 from "../../../verifier/contexts/ob-v3p0-context-3.0.2.json";
import ob303 from "../../../verifier/contexts/ob-v3p0-context-3.0.3.json";
import clr201 from "../../../verifier/contexts/clr-v2p0-context-2.0.1.json";
import obExtensions from "../../../verifier/contexts/ob-v3p0-extensions.json";
import { CLR_V2P0, OB_CONTEXTS } from "./credential";

const CONTEXTS = new Map<string, unknown>();

function add(url: string, map: Map<string, unknown>): void {
  const doc = map.get(url);
  if (doc === undefined) throw new Error(`context package lacks ${url}`);
  CONTEXTS.set(url, doc);
}

add("https://www.w3.org/ns/credentials/v2", credentialsContext.contexts);
add("https://www.w3.org/2018/credentials/v1", credentialsContext.contexts);
add("https://www.w3.org/ns/credentials/undefined-terms/v2", credentialsContext.contexts);
add("https://w3id.org/security/data-integrity/v1", dataIntegrityContext.contexts);
add("https://w3id.org/security/data-integrity/v2", dataIntegrityContext.contexts);
add("https://w3id.org/security/multikey/v1", multikeyContext.contexts);
add("https://w3id.org/security/v2", securityContext.contexts);
add("https://www.w3.org/ns/did/v1", didContext.contexts);
add("https://w3id.org/security/suites/ed25519-2020/v1", ed25519Context.contexts);
CONTEXTS.set("https://www.w3.org/ns/credentials/examples/v2", {
  "@context": { "@vocab": "https://www.w3.org/ns/credentials/examples#" },
});
CONTEXTS.set(OB_CONTEXTS[0], ob30);
CONTEXTS.set(OB_CONTEXTS[1], ob301);
CONTEXTS.set(OB_CONTEXTS[2], ob302);
CONTEXTS.set(OB_CONTEXTS[3], ob303);
CONTEXTS.set(CLR_V2P0, clr201);
CONTEXTS.set("https://purl.imsglobal.org/spec/ob/v3p0/extensions.json", obExtensions);

/** Whether `url` is a context the verifier can serve. */
export function knows(url: string): boolean {
  return CONTEXTS.has(url);
}

/** The URLs of every bundled context. */
export function contextUrls(): string[] {
  return [...CONTEXTS.keys()];
}

/** The catch-all `@vocab` namespaces of the bundled contexts: a term that
 * expands into one of them is one no context defines (as in
 * verifier/src/integrity.rs `VOCAB_NAMESPACES`). */
export const VOCAB_NAMESPACES = [
  "https://www.w3.org/ns/credentials/undefined-term#",
  "https://www.w3.org/ns/credentials/examples#",
  "https://www.w3.org/ns/credentials/issuer-dependent#",
];

/** A jsonld.js document loader that serves the bundled contexts and refuses
 * every other URL: nothing is fetched. (did:key verification methods are
 * resolved locally by the proof checks, never as JSON-LD documents: a
 * `did:` URL in `@context` is refused here, as the Rust verifier refuses
 * it.) */
export async function documentLoader(url: string): Promise<{ contextUrl: null; documentUrl: string; document: unknown }> {
  const document = CONTEXTS.get(url);
  if (document === undefined) {
    throw new Error("unknown JSON-LD context (this verifier never fetches contexts)");
  }
  return { contextUrl: null, documentUrl: url, document };
}
