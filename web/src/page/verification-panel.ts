// The verification panel: runs the browser verifier on a credential against
// the chain's JSON-RPC and shows its verdict, for people first (a headline
// with a symbol, never colour alone), then each named check.
//
// Hooks: `<section id="verification">` carries `data-verdict` (a
// PageVerdict) only once the checks are done, and `aria-busy` while they
// run; each check is `<li data-check="{name}" data-status="{status}">`.
import { pageVerdict, verify, verifyInput } from "../verify/index";
import type { Check, PageVerdict, Report } from "../verify/report";
import type { ChainInfo } from "../page-data";
import { h, replaceChildren, svg } from "./dom";
import type { I18n } from "./i18n";
import { validUntil, type Json } from "./credential";

// The verdicts' symbols, drawn (a font may lack a glyph), 24 x 24.
const SYMBOL: Record<PageVerdict | "pending", string> = {
  valid: '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
  invalid: '<path d="M7 7l10 10M17 7L7 17"/>',
  revoked: '<circle cx="12" cy="12" r="7.5"/><path d="M6.8 17.2L17.2 6.8"/>',
  suspended: '<path d="M9.5 6.5v11M14.5 6.5v11"/>',
  expired: '<circle cx="12" cy="12" r="7.5"/><path d="M12 8v4.2l2.8 1.8"/>',
  unknown: '<path d="M9.2 9.3a2.9 2.9 0 1 1 4 2.7c-.8.4-1.2 1-1.2 1.8v.4"/><path d="M12 17.6v.1"/>',
  pending: '<path d="M7 12h.01M12 12h.01M17 12h.01"/>',
};

function symbolSvg(state: PageVerdict | "pending"): Element {
  return svg(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24" fill="none" ' +
      'stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round">' +
      `${SYMBOL[state]}</svg>`,
  );
}

const VERDICTS: readonly string[] = ["valid", "invalid", "revoked", "suspended", "expired", "unknown"];

const STATUS_SYMBOL: Record<string, string> = {
  pass: "✓",
  fail: "✗",
  "could-not-check": "?",
  absent: "–",
};

/** The development chain's warning: of a credential's anchors (the badge
 * page), or of the chain the page reads (the verify page). */
export function devChainNotice(i18n: I18n, id: "dev-chain-notice" | "dev-chain-notice-verify"): HTMLElement {
  return h(
    "p",
    { class: "notice notice-warning", id: "dev-chain-notice", role: "note" },
    h("strong", null, i18n.t("dev-chain-title")),
    " ",
    i18n.t(id),
  );
}

/** Page-relative RPC URLs made absolute. */
export function rpcUrls(chain: ChainInfo | undefined): string[] {
  const out: string[] = [];
  for (const u of chain?.rpcUrls ?? []) {
    try {
      out.push(new URL(u, location.href).href);
    } catch {
      // Not a URL: left out; with none left, the chain checks say so.
    }
  }
  return out;
}

export interface Panel {
  element: HTMLElement;
  /** Verifies `credential` (or shows why it cannot be) and shows the
   * outcome; never throws. With `unreadable` (why a file held no
   * credential), shows the report `cairn verify` gives such a file. */
  run(credential: unknown, unreadable?: string): Promise<PageVerdict>;
}

export function verificationPanel(
  chain: ChainInfo | undefined,
  i18n: I18n,
  options: { devNotice: boolean },
): Panel {
  const headline = h("p", { class: "verdict-headline", id: "verdict-headline" });
  const symbol = h("span", { class: "verdict-symbol", "aria-hidden": "true" });
  const explanation = h("p", { class: "verdict-detail", id: "verdict-detail" });
  const verdictBox = h(
    "div",
    { class: "verdict", role: "status", "aria-live": "polite" },
    symbol,
    h("div", null, headline, explanation),
  );
  const body = h("div", { class: "verification-body" });
  const element = h(
    "section",
    { id: "verification", class: "verification", "aria-labelledby": "verification-title" },
    h("h2", { id: "verification-title", class: "visually-hidden" }, i18n.t("verification-heading")),
    verdictBox,
    chain?.dev && options.devNotice ? devChainNotice(i18n, "dev-chain-notice") : null,
    body,
  );

  function show(state: PageVerdict | "pending", title: string, detail: string): void {
    element.dataset.state = state;
    replaceChildren(symbol, symbolSvg(state));
    headline.textContent = title;
    explanation.textContent = detail;
  }

  function done(verdict: PageVerdict): PageVerdict {
    element.removeAttribute("aria-busy");
    element.dataset.verdict = verdict;
    return verdict;
  }

  async function run(credential: unknown, unreadable?: string): Promise<PageVerdict> {
    element.removeAttribute("data-verdict");
    element.setAttribute("aria-busy", "true");
    replaceChildren(body);
    show("pending", i18n.t("verdict-pending"), i18n.t("verdict-pending-detail"));
    // Without WebCrypto (plain http from another host) nothing can be checked.
    if (!globalThis.crypto?.subtle) {
      show("unknown", i18n.t("verdict-unknown"), "");
      explanation.appendChild(h("span", { id: "insecure-context" }, i18n.t("insecure-context")));
      return done("unknown");
    }
    try {
      const options = { rpcUrls: rpcUrls(chain) };
      const report =
        unreadable === undefined
          ? await verify(credential, options)
          : await verifyInput({ kind: "credential", error: unreadable }, options);
      const verdict = pageVerdict(report);
      if (!VERDICTS.includes(verdict)) throw new Error(`no such verdict: ${String(verdict)}`);
      const cred = credential !== null && typeof credential === "object" ? (credential as Json) : {};
      const until = validUntil(cred);
      const expiredOn = verdict === "expired" && until ? { date: i18n.date(until) } : undefined;
      if (unreadable !== undefined) {
        show(verdict, i18n.t("verify-read-error"), unreadable);
      } else {
        show(
          verdict,
          i18n.t(verdict === "expired" && !until ? "verdict-expired-undated" : `verdict-${verdict}`, expiredOn),
          i18n.t(verdict === "valid" && !report.anchoredAt ? "verdict-valid-unanchored-detail" : `verdict-${verdict}-detail`),
        );
      }
      replaceChildren(body, ...details(report, options.rpcUrls.length, i18n));
      return done(verdict);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return fail(i18n.t("verdict-unknown"), message, `${i18n.t("verify-error")} `);
    }
  }

  function fail(title: string, message: string, prefix = ""): PageVerdict {
    show("unknown", title, prefix);
    explanation.appendChild(h("span", { class: "error-detail", id: "verify-error" }, message));
    replaceChildren(body);
    return done("unknown");
  }

  return { element, run };
}

function details(report: Report, rpcCount: number, i18n: I18n): HTMLElement[] {
  const out: HTMLElement[] = [];
  const checks = Array.isArray(report.checks) ? report.checks : [];
  const anchorChecked = checks.some((c) => c.name === "anchor");
  // The anchor's time proves when this credential existed only if this
  // credential is the one the anchored root holds.
  const proven = checks.every((c) => !["inclusion", "anchor"].includes(c.name) || c.status === "pass");
  if (report.anchoredAt && proven) {
    const at = h("time", { id: "anchored-at", datetime: report.anchoredAt }, i18n.dateTime(report.anchoredAt));
    out.push(h("p", { class: "anchored-at" }, i18n.parts("anchored-at", { date: at })));
  } else if (anchorChecked) {
    out.push(h("p", { class: "anchored-at", id: "not-anchored" }, i18n.t("anchored-at-none")));
  }
  const warnings = Array.isArray(report.warnings) ? report.warnings.filter((w) => typeof w === "string") : [];
  if (warnings.length) {
    out.push(
      h(
        "div",
        { class: "warnings", id: "verification-warnings" },
        h("h3", null, i18n.t("warnings-heading")),
        h("ul", null, warnings.map((w) => h("li", null, w))),
      ),
    );
  }
  out.push(
    h(
      "details",
      { class: "checks", open: true },
      h("summary", null, i18n.t("checks-heading")),
      h("ul", { id: "checks" }, checks.map((c) => checkItem(c, i18n))),
      h(
        "p",
        { class: "checked-where" },
        rpcCount > 0 ? i18n.t("checked-where", { count: rpcCount }) : i18n.t("checked-where-none"),
      ),
    ),
  );
  return out;
}

function checkItem(c: Check, i18n: I18n): HTMLElement {
  const name = String(c.name);
  const status = String(c.status);
  const label = i18n.has(`check-${name}`) ? i18n.t(`check-${name}`) : name;
  const statusText = i18n.has(`status-${status}`) ? i18n.t(`status-${status}`) : status;
  return h(
    "li",
    { "data-check": name, "data-status": status },
    h("span", { class: "check-symbol", "aria-hidden": "true" }, STATUS_SYMBOL[status] ?? "?"),
    h(
      "span",
      { class: "check-text" },
      h("span", { class: "check-label" }, label),
      h("span", { class: "check-status" }, statusText),
      c.detail ? h("span", { class: "check-detail" }, String(c.detail)) : null,
    ),
  );
}
