// What frames the pages: the bar at the top (what the page is, the
// language switch) and the footer (how the page checks).
import { h } from "./dom";
import type { I18n } from "./i18n";
import { languageSwitch } from "./language-switch";

export function topBar(i18n: I18n): HTMLElement {
  return h(
    "header",
    { class: "top-bar" },
    h("p", { class: "top-bar-title" }, h("span", { class: "mark", "aria-hidden": "true" }, "◆"), " ", i18n.t("site-title")),
    languageSwitch(i18n),
  );
}

/** The footer: how the page checks, or what `message` says instead. */
export function pageFooter(i18n: I18n, message = "footer-how"): HTMLElement {
  return h("footer", { class: "page-footer" }, h("p", null, i18n.t(message)));
}

/** What is shown when the page has no data it can read. */
export function brokenPage(i18n: I18n): HTMLElement[] {
  return [
    topBar(i18n),
    h(
      "div",
      { class: "page" },
      h(
        "section",
        { class: "card", id: "page-error" },
        h("h1", null, i18n.t("page-error-heading")),
        h("p", null, i18n.t("page-error")),
      ),
    ),
  ];
}
