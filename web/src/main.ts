// The pages' browser code (web/dist/cairn.js): reads the page's data from
// `<script type="application/json" id="cairn-page">`, picks the language,
// and renders the badge page, the verify page or the claim page into
// `<main id="cairn">`.
// `window.cairn` exposes the verifier to scripts and tests.
import { pageVerdict, parseJson, readFile, verify } from "./verify/index";
import type { PageData } from "./page-data";
import { I18n, chooseLang } from "./page/i18n";
import { credentialLangs, obj } from "./page/credential";
import { replaceChildren } from "./page/dom";
import { renderBadgePage } from "./page/badge-page";
import { renderVerifyPage } from "./page/verify-page";
import { renderClaimPage } from "./page/claim-page";
import { brokenPage } from "./page/layout";

declare global {
  interface Window {
    cairn: {
      verify: typeof verify;
      readFile: typeof readFile;
      pageVerdict: typeof pageVerdict;
    };
  }
}

window.cairn = { verify, readFile, pageVerdict };

// A page with no icon of its own gets one, so that the browser does not
// ask the server for /favicon.ico (a 404 is an error in the console).
const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E" +
  "%3Cpath d='M8 1l7 7-7 7-7-7z' fill='%231d5ea8'/%3E%3C/svg%3E";
if (!document.querySelector('link[rel~="icon"]')) {
  const link = document.createElement("link");
  link.rel = "icon";
  link.href = ICON;
  document.head.appendChild(link);
}

function pageData(): PageData | undefined {
  try {
    // Read as the Rust verifier reads JSON: `3.0` stays a double, as
    // signed, where JSON.parse would make it the integer 3.
    const data: unknown = parseJson(document.getElementById("cairn-page")?.textContent ?? "");
    const page = obj(data);
    const known = page?.page === "badge" || page?.page === "verify" || page?.page === "claim";
    return page && known ? (page as unknown as PageData) : undefined;
  } catch {
    return undefined;
  }
}

function start(): void {
  const root = document.getElementById("cairn");
  if (!root) return;
  const data = pageData();
  const cred = data?.page === "badge" || data?.page === "claim" ? obj(data.credential) : undefined;
  const readerLangs = navigator.languages?.length ? navigator.languages : [navigator.language];
  const lang = chooseLang(location.search, readerLangs, cred ? credentialLangs(cred) : []);
  const i18n = new I18n(lang, readerLangs);
  document.documentElement.lang = lang;
  root.dataset.lang = lang;
  try {
    if (data?.page === "badge") renderBadgePage(root, data, i18n);
    else if (data?.page === "verify") renderVerifyPage(root, data, i18n);
    else if (data?.page === "claim") renderClaimPage(root, data, i18n);
    else replaceChildren(root, brokenPage(i18n));
  } catch {
    replaceChildren(root, brokenPage(i18n));
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
