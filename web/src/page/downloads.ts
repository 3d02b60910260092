// A badge page's files: the baked badge images, the credential as JSON and
// its proof bundle, each a link with `download`.
import type { Downloads } from "../page-data";
import { h, linkUrl } from "./dom";
import type { I18n } from "./i18n";

const KINDS = ["png", "svg", "json", "bundle"] as const;

/** A file name for a download: the path's last segment, else `badge.{kind}`. */
function fileName(url: string, kind: (typeof KINDS)[number]): string {
  const last = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  const ext = kind === "bundle" ? "json" : kind;
  return /^[\w.-]+$/.test(last) && last.includes(".") ? last : `badge-${kind}.${ext}`;
}

export function downloadsSection(downloads: Downloads | undefined, i18n: I18n): HTMLElement | null {
  const items = KINDS.flatMap((kind) => {
    const url = linkUrl(downloads?.[kind]);
    if (!url) return [];
    return [
      h(
        "li",
        null,
        h(
          "a",
          { href: url, download: fileName(url, kind), "data-download": kind, class: "download" },
          h("span", { class: "download-label" }, i18n.t(`download-${kind}`)),
          h("span", { class: "download-hint" }, i18n.t(`download-${kind}-hint`)),
        ),
      ),
    ];
  });
  if (!items.length) return null;
  return h(
    "section",
    { id: "downloads", class: "card", "aria-labelledby": "downloads-title" },
    h("h2", { id: "downloads-title" }, i18n.t("downloads-heading")),
    h("ul", { class: "downloads" }, items),
  );
}
