// Tells the issuer's node what a badge page's reader did there (its
// verification ran, a share button was used), for the issuer's analytics:
// a GET of `events` at the site's root, which the node counts (not per
// credential for a reader who sends DNT or Sec-GPC; nothing about the
// reader is kept) and an exported site answers with an empty file.
export type PageEvent = "verified" | "linkedin" | "copy-link";

export function tell(event: PageEvent): void {
  // `/b/{share}` on the node, `/b/{share}/` or `/b/{share}/index.html` on
  // an exported site, under the site's own path.
  const m = /^(.*)\/b\/([^/]+)(?:\/(?:index\.html)?)?$/.exec(location.pathname);
  if (!m) return;
  let share: string;
  try {
    share = decodeURIComponent(m[2]);
  } catch {
    return;
  }
  const query = new URLSearchParams({ share, event });
  fetch(`${m[1]}/events?${query}`, {
    keepalive: true,
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  }).catch(() => undefined);
}
