// The browser verifier: the same named checks as `cairn verify --rpc-url`.
// (Placeholder signatures; the implementation replaces the bodies.)
import type { Report, PageVerdict } from "./report";

export interface VerifyOptions {
  /** JSON-RPC URLs of chain nodes; every registry read is asked of each and
   * they must agree. Empty: the chain checks cannot be made. */
  rpcUrls: string[];
  /** Validity is judged as of this time (default: now). */
  now?: Date;
}

/** What a dropped or picked file holds, read without uploading it. */
export interface Input {
  /** `credential` (JSON), `png`, `svg` (baked badges), `bundle`. */
  kind: "credential" | "png" | "svg" | "bundle";
  /** The credential, or the report of why none could be read. */
  credential?: Record<string, unknown>;
  error?: string;
}

export async function readFile(bytes: Uint8Array, fileName: string): Promise<Input> {
  throw new Error(`not yet: ${fileName} ${bytes.length}`);
}

export async function verify(credential: unknown, options: VerifyOptions): Promise<Report> {
  throw new Error(`not yet: ${typeof credential} ${options.rpcUrls.length}`);
}

export function pageVerdict(report: Report): PageVerdict {
  return report.verdict;
}
