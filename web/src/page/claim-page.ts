// The claim page (`/claim/{token}`): an earner takes the credential awarded
// to them into a wallet, the Learner Credential Wallet (VC-API) or another
// (OpenID4VCI), or downloads its files. The transaction code (PIN) the
// issuer may have given separately is never on the page.
import type { ClaimPageData, ClaimState } from "../page-data";
import { h, imageUrl, replaceChildren, type Child } from "./dom";
import type { I18n } from "./i18n";
import { obj, titleOf } from "./credential";
import { credentialHeader } from "./credential-view";
import { downloadsSection } from "./downloads";
import { pageFooter, topBar } from "./layout";

const STATES: readonly ClaimState[] = ["open", "claimed", "expired", "locked", "withdrawn"];

/** The schemes a wallet link may have: the web's, and the wallets' own. */
const WALLET_SCHEMES = [
  "https:",
  "http:",
  "openid-credential-offer:",
  "haip:",
  "interaction:",
  "dccrequest:",
  "msprequest:",
];

/** `url` resolved against the page when its scheme opens a wallet (never
 * `javascript:` or the like), else nothing. */
function walletUrl(url: unknown): string | undefined {
  if (typeof url !== "string" || url === "") return undefined;
  try {
    const u = new URL(url, location.href);
    return WALLET_SCHEMES.includes(u.protocol) ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** One way into a wallet: what to do, the QR code to scan, the link to open. */
function walletSection(
  id: string,
  i18n: I18n,
  parts: { heading: string; help: string; qr: unknown; qrId: string; qrAlt: string; link: unknown; linkId: string; open: string },
  ...more: Child[]
): HTMLElement | null {
  const src = imageUrl(parts.qr);
  const href = walletUrl(parts.link);
  if (!src && !href) return null;
  return h(
    "section",
    { id, class: "card wallet", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, i18n.t(parts.heading)),
    h(
      "div",
      { class: "wallet-body" },
      h(
        "div",
        { class: "wallet-actions" },
        h("p", null, i18n.t(parts.help)),
        href
          ? h("p", null, h("a", { id: parts.linkId, class: "button button-primary", href }, i18n.t(parts.open)))
          : null,
        ...more,
      ),
      src
        ? h(
            "figure",
            { class: "qr" },
            h("img", { id: parts.qrId, src, alt: i18n.t(parts.qrAlt), width: 180, height: 180, decoding: "async" }),
          )
        : null,
    ),
  );
}

/** What the page says of the link, by its state. */
function stateMessage(state: ClaimState, expires: string, i18n: I18n): HTMLElement {
  const until = Number.isNaN(new Date(expires).getTime())
    ? undefined
    : h("time", { id: "claim-expires", datetime: expires }, i18n.dateTime(expires));
  switch (state) {
    case "open":
      return h(
        "p",
        { id: "claim-status" },
        i18n.t("claim-intro"),
        until ? [" ", ...i18n.parts("claim-until", { date: until })] : null,
      );
    case "claimed":
      return h("p", { id: "claim-status", class: "notice" }, i18n.t("claim-claimed"));
    case "expired":
      return h(
        "p",
        { id: "claim-status", class: "notice notice-warning" },
        until ? i18n.parts("claim-expired", { date: until }) : i18n.t("claim-expired-undated"),
      );
    case "locked":
      return h("p", { id: "claim-status", class: "notice notice-error" }, i18n.t("claim-locked"));
    case "withdrawn":
      return h("p", { id: "claim-status", class: "notice notice-error" }, i18n.t("claim-withdrawn"));
  }
}

export function renderClaimPage(root: HTMLElement, data: ClaimPageData, i18n: I18n): void {
  // A state this code does not know is data it cannot read (the caller
  // shows the broken page), never an open link by default.
  if (!STATES.includes(data.state)) throw new Error(`unknown claim state ${String(data.state)}`);
  const state = data.state;
  const cred = obj(data.credential) ?? {};
  const image = data.downloads?.picture;
  const open = state === "open";
  replaceChildren(
    root,
    topBar(i18n),
    h(
      "div",
      { class: "page", id: "claim-page" },
      h(
        "section",
        { id: "claim", class: "card intro", "data-state": state, "aria-labelledby": "claim-title" },
        h("h1", { id: "claim-title" }, i18n.t("claim-heading")),
        stateMessage(state, typeof data.expires === "string" ? data.expires : "", i18n),
      ),
      h("article", { class: "credential card" }, credentialHeader(cred, image, i18n, { heading: "h2", remoteImages: true })),
      open
        ? h(
            "div",
            { class: "columns" },
            walletSection("lcw", i18n, {
              heading: "claim-lcw-heading",
              help: "claim-lcw-help",
              qr: data.interactionQr,
              qrId: "lcw-qr",
              qrAlt: "claim-lcw-qr-alt",
              link: data.lcwUrl,
              linkId: "lcw-link",
              open: "claim-lcw-open",
            }),
            walletSection(
              "oid4vci",
              i18n,
              {
                heading: "claim-oid4vci-heading",
                help: "claim-oid4vci-help",
                qr: data.offerQr,
                qrId: "offer-qr",
                qrAlt: "claim-oid4vci-qr-alt",
                link: data.offer,
                linkId: "offer-link",
                open: "claim-oid4vci-open",
              },
              h("p", { class: "wallet-note", id: "tx-code-note" }, i18n.t("claim-tx-code")),
            ),
          )
        : null,
      downloadsSection(data.downloads, i18n),
    ),
    pageFooter(i18n, "claim-footer"),
  );
  const title = titleOf(cred, i18n.preferred)?.text;
  document.title = title ? i18n.t("claim-title", { name: title }) : i18n.t("claim-heading");
}
