// Sharing a badge page: LinkedIn's add-to-profile link (a certification
// with its fields filled), the link itself with a copy button, and a QR
// code of it.
import { toString as qrSvg } from "qrcode";
import { h, linkUrl, svg } from "./dom";
import type { I18n } from "./i18n";
import { partyOf, titleOf, validFrom, validUntil, str, type Json } from "./credential";
import { tell } from "./events";

/** LinkedIn's add-to-profile URL for a certification. */
export function linkedInUrl(cred: Json, shareUrl: string, i18n: I18n): string {
  const p = new URLSearchParams({ startTask: "CERTIFICATION_NAME" });
  const name = titleOf(cred, i18n.preferred)?.text;
  if (name) p.set("name", name);
  const issuer = partyOf(cred.issuer, i18n.preferred);
  const org = issuer.name?.text;
  if (org) p.set("organizationName", org);
  const from = yearMonth(validFrom(cred));
  if (from) {
    p.set("issueYear", from[0]);
    p.set("issueMonth", from[1]);
  }
  const until = yearMonth(validUntil(cred));
  if (until) {
    p.set("expirationYear", until[0]);
    p.set("expirationMonth", until[1]);
  }
  p.set("certUrl", shareUrl);
  const id = str(cred.id);
  if (id) p.set("certId", id);
  return `https://www.linkedin.com/profile/add?${p}`;
}

function yearMonth(iso: string | undefined): [string, string] | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  return [String(d.getUTCFullYear()), String(d.getUTCMonth() + 1)];
}

/** Copies `text`: the Clipboard API, else the old way from `field`. */
async function copy(text: string, field: HTMLInputElement): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (no permission, not focused): the old way below.
  }
  field.focus();
  field.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

export function shareSection(cred: Json, shareUrl: string, i18n: I18n): HTMLElement | null {
  const url = linkUrl(shareUrl);
  if (!url) return null;
  const field = h("input", {
    id: "share-url",
    type: "text",
    readonly: true,
    value: url,
    spellcheck: "false",
  });
  const status = h("span", { class: "copy-status", id: "copy-status", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", id: "copy-link", class: "button" }, i18n.t("share-copy"));
  button.addEventListener("click", () => {
    tell("copy-link");
    void copy(url, field).then((ok) => {
      status.textContent = i18n.t(ok ? "share-copied" : "share-copy-manually");
      if (!ok) field.select();
    });
  });
  field.addEventListener("focus", () => field.select());

  const qr = h("figure", { class: "qr", id: "qr-code" });
  qrSvg(url, { type: "svg", margin: 2, errorCorrectionLevel: "M", color: { dark: "#000000", light: "#ffffff" } })
    .then((markup) => {
      const image = svg(markup);
      image.setAttribute("role", "img");
      image.setAttribute("aria-label", i18n.t("share-qr-label"));
      const file = URL.createObjectURL(new Blob([markup], { type: "image/svg+xml" }));
      qr.append(
        image,
        h(
          "figcaption",
          null,
          h("a", { href: file, download: "qr-code.svg", id: "qr-download" }, i18n.t("share-qr-download")),
        ),
      );
    })
    .catch(() => qr.remove());

  const linkedIn = h(
    "a",
    {
      id: "share-linkedin",
      class: "button button-linkedin",
      href: linkedInUrl(cred, url, i18n),
      target: "_blank",
      rel: "noopener noreferrer",
    },
    i18n.t("share-linkedin"),
  );
  linkedIn.addEventListener("click", () => tell("linkedin"));
  return h(
    "section",
    { id: "share", class: "card", "aria-labelledby": "share-title" },
    h("h2", { id: "share-title" }, i18n.t("share-heading")),
    h(
      "div",
      { class: "share-body" },
      h(
        "div",
        { class: "share-actions" },
        h("p", null, linkedIn),
        h("label", { for: "share-url", class: "field-label" }, i18n.t("share-link-label")),
        h("div", { class: "copy-row" }, field, button),
        status,
      ),
      qr,
    ),
  );
}
