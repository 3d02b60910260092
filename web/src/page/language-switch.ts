// The language switch: one link per language, each setting `?lang=` on this
// page's own address (which wins over the reader's and the credential's
// languages).
import { h } from "./dom";
import { LANGS, type I18n } from "./i18n";

export function languageSwitch(i18n: I18n): HTMLElement {
  const links = LANGS.map((lang) => {
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    const current = lang === i18n.lang;
    return h(
      "li",
      null,
      h(
        "a",
        {
          href: url.pathname + url.search + url.hash,
          hreflang: lang,
          lang,
          "data-lang": lang,
          "aria-current": current ? "true" : undefined,
        },
        i18n.t(`lang-name-${lang}`),
      ),
    );
  });
  return h(
    "nav",
    { id: "lang-switch", class: "lang-switch", "aria-label": i18n.t("lang-switch-label") },
    h("ul", null, links),
  );
}
