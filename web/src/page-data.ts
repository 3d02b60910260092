// The data a page is rendered from: the node (and `cairn-node export-site`)
// writes it as JSON into `<script type="application/json" id="cairn-page">`.
// The Rust side of this wire format is `cairn::published::PageData`; the two
// change together.

export interface ChainInfo {
  /** CAIP-2 id of the chain the node anchors on, e.g. `eip155:31337`. */
  chain: string;
  /** JSON-RPC URLs the page reads the registry from (the node's
   * `--public-rpc-url`s); relative URLs resolve against the page. With
   * several, every read is asked of each and they must agree. */
  rpcUrls: string[];
  /** The node's embedded dev chain: its anchors prove nothing to outsiders. */
  dev: boolean;
}

export interface Downloads {
  /** The credential baked into the badge image (PNG), if the image is one. */
  png?: string;
  /** The credential baked into the badge image (SVG), if the image is one. */
  svg?: string;
  /** The credential as JSON (its newest form, with its anchor proof). */
  json: string;
  /** `{"verifiableCredential", "anchorBundle"}`, once anchored. */
  bundle?: string;
  /** The badge image to show on the page (PNG or SVG), asked for so that showing it counts no download. */
  picture?: string;
}

export interface BadgePageData {
  page: "badge";
  chain: ChainInfo;
  /** The credential, as `GET /credentials/{id}` serves it. */
  credential: Record<string, unknown>;
  /** This page's stable public address. */
  shareUrl: string;
  downloads: Downloads;
  /** Endorsement credentials the node knows for this badge (may be empty). */
  endorsements: Record<string, unknown>[];
}

export interface VerifyPageData {
  page: "verify";
  chain: ChainInfo;
}

/** Where a claim link stands: `open` until a wallet takes the credential
 * (`claimed`), the link's time is up (`expired`) or too many wrong
 * transaction codes were tried (`locked`). */
export type ClaimState = "open" | "claimed" | "expired" | "locked" | "withdrawn";

/** The claim page (`/claim/{token}`): an earner takes a credential into a
 * wallet. The transaction code (PIN), if any, is never part of it. */
export interface ClaimPageData {
  page: "claim";
  /** The credential, as `GET /credentials/{id}` serves it. */
  credential: Record<string, unknown>;
  state: ClaimState;
  /** When the link stops working (RFC 3339). */
  expires: string;
  /** The OpenID4VCI credential offer, `openid-credential-offer://?credential_offer_uri=…`. */
  offer: string;
  /** A PNG QR code of `offer`. */
  offerQr: string;
  /** The VC-API interaction URL (`…/interactions/{token}?iuv=1`). */
  interactionUrl: string;
  /** A PNG QR code of the Learner Credential Wallet's link. */
  interactionQr: string;
  /** What the Learner Credential Wallet button opens. */
  lcwUrl: string;
  downloads: Downloads;
}

export type PageData = BadgePageData | VerifyPageData | ClaimPageData;
