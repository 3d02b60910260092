// The badge page (`/b/{share-id}`): the credential for people, verified in
// the reader's browser against the chain, with its files and ways to share.
import type { BadgePageData } from "../page-data";
import { h, replaceChildren } from "./dom";
import type { I18n } from "./i18n";
import { obj, partyOf, titleOf } from "./credential";
import { achievementDetails, credentialHeader } from "./credential-view";
import { rpcUrls, verificationPanel } from "./verification-panel";
import { endorsementsSection } from "./endorsements";
import { downloadsSection } from "./downloads";
import { shareSection } from "./share";
import { pageFooter, topBar } from "./layout";
import { tell } from "./events";

export function renderBadgePage(root: HTMLElement, data: BadgePageData, i18n: I18n): void {
  const cred = obj(data.credential) ?? {};
  const panel = verificationPanel(data.chain, i18n, { devNotice: true });
  const endorsements = endorsementsSection(Array.isArray(data.endorsements) ? data.endorsements : [], i18n);
  const image = data.downloads?.picture;
  replaceChildren(
    root,
    topBar(i18n),
    h(
      "div",
      { class: "page", id: "badge-page" },
      h(
        "article",
        { class: "credential card" },
        credentialHeader(cred, image, i18n, { heading: "h1", remoteImages: true }),
        panel.element,
      ),
      achievementDetails(cred, i18n),
      endorsements?.element,
      h(
        "div",
        { class: "columns" },
        downloadsSection(data.downloads, i18n),
        typeof data.shareUrl === "string" ? shareSection(cred, data.shareUrl, i18n) : null,
      ),
    ),
    pageFooter(i18n),
  );
  const title = titleOf(cred, i18n.preferred)?.text;
  const issuer = partyOf(cred.issuer, i18n.preferred).name?.text;
  if (title) document.title = issuer ? `${title} — ${issuer}` : title;
  void panel.run(data.credential).then(() => {
    tell("verified");
    return endorsements?.run(rpcUrls(data.chain));
  });
}
