// What a credential says, shown: the badge image, the achievement, the
// earner, the issuer and the dates (both pages), and the achievement's
// description and criteria (the badge page).
import { h, imageUrl, linkUrl, svg, type Attrs } from "./dom";
import type { I18n } from "./i18n";
import {
  achievementOf,
  list,
  obj,
  partyOf,
  pickText,
  str,
  subjectOf,
  titleOf,
  validFrom,
  validUntil,
  type Json,
  type Text,
} from "./credential";

/** A piece of a credential's text, marked with its language when it is
 * not the page's. */
export function text<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  t: Text,
  i18n: I18n,
  attrs: Attrs = {},
): HTMLElementTagNameMap[K] {
  const lang = t.lang && t.lang.toLowerCase().split(/[-_]/)[0] !== i18n.lang ? t.lang : undefined;
  return h(tag, { ...attrs, lang, dir: t.dir }, t.text);
}

const PLACEHOLDER =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120" width="120" height="120">' +
  '<circle cx="60" cy="58" r="46" fill="none" stroke="currentColor" stroke-width="4" stroke-dasharray="8 6"/>' +
  '<path d="M60 32L66 49L85 50L70 61L75 79L60 69L45 79L50 61L35 50L54 49Z" fill="currentColor" opacity=".45"/></svg>';

/** The badge image (the page's baked PNG or SVG), or a neutral placeholder. */
export function badgeImage(src: string | undefined, name: string, i18n: I18n): HTMLElement {
  // The page's own files: the node's baked image, or the file dropped.
  const url = src?.startsWith("blob:") ? src : imageUrl(src);
  if (url) {
    return h(
      "div",
      { class: "badge-image" },
      h("img", {
        id: "badge-image",
        src: url,
        alt: i18n.t("badge-image-alt", { name }),
        width: 160,
        height: 160,
        decoding: "async",
      }),
    );
  }
  const placeholder = h("div", {
    id: "badge-image",
    class: "badge-placeholder",
    role: "img",
    "aria-label": i18n.t("badge-image-none"),
    "data-placeholder": true,
  });
  placeholder.appendChild(svg(PLACEHOLDER));
  return h("div", { class: "badge-image" }, placeholder);
}

/** An OB 3.0 achievement type, in words: its message, or an `ext:` type's
 * own name spaced out. */
export function achievementType(v: unknown, i18n: I18n): string | undefined {
  const names = list(v)
    .filter((t): t is string => typeof t === "string" && t !== "")
    .map((t) => {
      if (i18n.has(`achievement-type-${t}`)) return i18n.t(`achievement-type-${t}`);
      return t.replace(/^ext:/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
    });
  return names.length ? names.join(", ") : undefined;
}

function time(iso: string, label: string, id: string): HTMLTimeElement {
  return h("time", { id, datetime: iso }, label);
}

function row(term: string, ...value: (Node | string)[]): HTMLElement {
  return h("div", null, h("dt", null, term), h("dd", null, ...value));
}

/** The issuer's line: its logo, its name (linked to its site) and the site. */
function issuerRow(cred: Json, i18n: I18n, remoteImages: boolean): HTMLElement {
  const issuer = partyOf(cred.issuer, i18n.preferred);
  const site = linkUrl(issuer.url);
  const name = issuer.name
    ? text("span", issuer.name, i18n, { id: "issuer-name" })
    : h("span", { id: "issuer-name", class: "did" }, issuer.id ?? "?");
  const logo = imageUrl(issuer.image);
  const allowed = logo !== undefined && (remoteImages || logo.startsWith("data:"));
  const logoEl = allowed
    ? h("img", {
        class: "issuer-logo",
        src: logo,
        alt: i18n.t("issuer-logo-alt", { issuer: issuer.name?.text ?? issuer.id ?? "" }),
        width: 32,
        height: 32,
        decoding: "async",
      })
    : null;
  // A logo that cannot be had (the issuer's site gone) is left out.
  logoEl?.addEventListener("error", () => logoEl.remove());
  return row(
    i18n.t("issued-by"),
    h(
      "span",
      { class: "issuer", id: "issuer" },
      logoEl,
      h(
        "span",
        null,
        name,
        site
          ? h("a", { id: "issuer-url", class: "issuer-url", href: site, rel: "noopener" }, displayUrl(site))
          : null,
      ),
    ),
  );
}

/** `https://example.org/` as `example.org`. */
function displayUrl(url: string): string {
  return url.replace(/^https?:\/\//, "").replace(/\/$/, "");
}

/** The heading of a credential: image, type, name, earner, issuer, dates.
 * Without `remoteImages`, no image is fetched from a URL the credential
 * names (the verify page tells no one what it checks). */
export function credentialHeader(
  cred: Json,
  image: string | undefined,
  i18n: I18n,
  options: { heading: "h1" | "h2"; remoteImages: boolean },
): HTMLElement {
  const heading = options.heading;
  const a = achievementOf(cred);
  const title = titleOf(cred, i18n.preferred) ?? { text: i18n.t("credential-untitled") };
  const type = achievementType(a?.achievementType, i18n);
  const earner = pickText(subjectOf(cred)?.name, i18n.preferred);
  const from = validFrom(cred);
  const until = validUntil(cred);
  const expired = until !== undefined && new Date(until).getTime() < Date.now();
  const facts = h(
    "dl",
    { class: "facts" },
    earner ? row(i18n.t("awarded-to"), text("strong", earner, i18n, { id: "earner-name" })) : null,
    issuerRow(cred, i18n, options.remoteImages),
    from ? row(i18n.t("issued-on"), time(from, i18n.date(from), "issued-on")) : null,
    until
      ? row(
          i18n.t(expired ? "expired-on" : "expires-on"),
          time(until, i18n.date(until), "expires-on"),
        )
      : null,
  );
  return h(
    "header",
    { class: "credential-header" },
    badgeImage(image, title.text, i18n),
    h(
      "div",
      { class: "credential-heading" },
      type ? h("p", { class: "achievement-type", id: "achievement-type" }, type) : null,
      text(heading, title, i18n, { id: "achievement-name" }),
      facts,
    ),
  );
}

/** The achievement's description and criteria. */
export function achievementDetails(cred: Json, i18n: I18n): HTMLElement | null {
  const a = achievementOf(cred);
  const description = pickText(a?.description, i18n.preferred) ?? pickText(cred.description, i18n.preferred);
  const criteria = obj(a?.criteria);
  const narrative = pickText(criteria?.narrative, i18n.preferred);
  const criteriaUrl = linkUrl(str(criteria?.id));
  if (!description && !narrative && !criteriaUrl) return null;
  return h(
    "section",
    { id: "achievement", class: "card", "aria-labelledby": "achievement-title" },
    h("h2", { id: "achievement-title" }, i18n.t("achievement-heading")),
    description ? text("p", description, i18n, { id: "achievement-description", class: "prose" }) : null,
    narrative || criteriaUrl
      ? h(
          "div",
          { id: "criteria" },
          h("h3", null, i18n.t("criteria-heading")),
          narrative ? text("p", narrative, i18n, { class: "prose" }) : null,
          criteriaUrl
            ? h("p", null, h("a", { href: criteriaUrl, rel: "noopener", id: "criteria-link" }, i18n.t("criteria-link")))
            : null,
        )
      : null,
  );
}
