// Types for the untyped packages the verifier uses: only what it calls.

declare module "jsonld" {
  interface JsonLd {
    canonize(input: unknown, options: Record<string, unknown>): Promise<string>;
    toRDF(input: unknown, options: Record<string, unknown>): Promise<unknown>;
    expand(input: unknown, options: Record<string, unknown>): Promise<unknown>;
  }
  const jsonld: JsonLd;
  export default jsonld;
}

declare module "base58-universal" {
  /** Undefined when `input` holds a character outside the alphabet. */
  export function decode(input: string): Uint8Array | undefined;
  export function encode(input: Uint8Array, maxline?: number): string;
}

declare module "@digitalbazaar/ed25519-multikey" {
  interface KeyPair {
    verifier(): { verify(a: { data: Uint8Array; signature: Uint8Array }): Promise<boolean> };
  }
  export function from(key: Record<string, unknown>): Promise<KeyPair>;
}

declare module "@digitalbazaar/ecdsa-multikey" {
  interface KeyPair {
    verifier(): { verify(a: { data: Uint8Array; signature: Uint8Array }): Promise<boolean> };
  }
  export function from(key: Record<string, unknown>): Promise<KeyPair>;
  export function fromJwk(a: { jwk: Record<string, unknown>; secretKey?: boolean }): Promise<KeyPair>;
}

declare module "@digitalbazaar/credentials-context" {
  export const contexts: Map<string, unknown>;
}

declare module "@digitalbazaar/data-integrity-context" {
  const pkg: { contexts: Map<string, unknown> };
  export default pkg;
}

declare module "@digitalbazaar/multikey-context" {
  const pkg: { contexts: Map<string, unknown> };
  export default pkg;
}

declare module "@digitalbazaar/security-context" {
  const pkg: { contexts: Map<string, unknown> };
  export default pkg;
}

declare module "did-context" {
  const pkg: { contexts: Map<string, unknown> };
  export default pkg;
}

declare module "ed25519-signature-2020-context" {
  const pkg: { contexts: Map<string, unknown> };
  export default pkg;
}

declare module "png-chunks-extract" {
  /** The chunks of a PNG; throws on a bad header, a CRC mismatch or a
   * missing IEND. */
  export default function extractChunks(data: Uint8Array): { name: string; data: Uint8Array }[];
}

declare module "rdf-canonize" {
  /** RDFC-1.0 of an RDF dataset (jsonld.js's `toRDF` form): N-Quads. */
  export function canonize(dataset: unknown, options: { algorithm: string; format?: string; maxWorkFactor?: number; createMessageDigest?: () => { update(m: string): void; digest(): Promise<string> } }): Promise<string>;
  /** The N-Quads serializer rdf-canonize hashes and sorts with. */
  export const NQuads: unknown;
}
