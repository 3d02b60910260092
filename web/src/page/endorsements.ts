// Endorsements of a badge (OB 3.0 EndorsementCredentials): who endorses it,
// what they say, when; each checked in the browser like the badge itself.
import { pageVerdict, verify } from "../verify/index";
import type { PageVerdict } from "../verify/report";
import { h } from "./dom";
import type { I18n } from "./i18n";
import { obj, partyOf, pickText, subjectOf, validFrom, type Json } from "./credential";
import { text } from "./credential-view";

export interface EndorsementList {
  element: HTMLElement;
  /** Verifies each endorsement in turn; never throws. */
  run(rpcUrls: string[]): Promise<void>;
}

export function endorsementsSection(endorsements: unknown[], i18n: I18n): EndorsementList | null {
  const creds = endorsements.map(obj).filter((e): e is Json => e !== undefined);
  if (!creds.length) return null;
  const items = creds.map((cred) => {
    const endorser = partyOf(cred.issuer, i18n.preferred);
    const comment = pickText(subjectOf(cred)?.endorsementComment, i18n.preferred);
    const from = validFrom(cred);
    const status = h("span", { class: "endorsement-status" }, i18n.t("verdict-pending"));
    const li = h(
      "li",
      { class: "endorsement" },
      h(
        "p",
        { class: "endorsement-by" },
        endorser.name ? text("strong", endorser.name, i18n) : h("strong", { class: "did" }, endorser.id ?? "?"),
        from ? h("time", { datetime: from }, i18n.date(from)) : null,
        status,
      ),
      comment ? text("blockquote", comment, i18n) : null,
    );
    return { cred, li, status };
  });
  const element = h(
    "section",
    { id: "endorsements", class: "card", "aria-labelledby": "endorsements-title" },
    h("h2", { id: "endorsements-title" }, i18n.t("endorsements-heading")),
    h("ul", { class: "endorsement-list" }, items.map((i) => i.li)),
  );
  async function run(rpcUrls: string[]): Promise<void> {
    for (const { cred, li, status } of items) {
      let verdict: PageVerdict = "unknown";
      if (globalThis.crypto?.subtle) {
        try {
          verdict = pageVerdict(await verify(cred, { rpcUrls }));
        } catch {
          verdict = "unknown";
        }
      }
      const id = i18n.has(`endorsement-${verdict}`) ? `endorsement-${verdict}` : "endorsement-unknown";
      status.textContent = i18n.t(id);
      li.dataset.verdict = verdict;
    }
  }
  return { element, run };
}
