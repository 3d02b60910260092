// The verify page (`/verify`): a credential file (JSON, baked PNG or SVG,
// proof bundle, CLR) dropped or picked, read and verified in this browser;
// nothing is uploaded.
import type { VerifyPageData } from "../page-data";
import { readFile, type Input } from "../verify/index";
import { h, replaceChildren } from "./dom";
import type { I18n } from "./i18n";
import { obj } from "./credential";
import { credentialHeader } from "./credential-view";
import { devChainNotice, verificationPanel } from "./verification-panel";
import { pageFooter, topBar } from "./layout";

/** Larger files are refused before they are read. */
const MAX_BYTES = 32 * 1024 * 1024;

const ACCEPT = ".json,.jsonld,.png,.svg,application/json,application/ld+json,image/png,image/svg+xml";

export function renderVerifyPage(root: HTMLElement, data: VerifyPageData, i18n: I18n): void {
  const input = h("input", { type: "file", id: "file-input", accept: ACCEPT, hidden: true });
  const choose = h("button", { type: "button", id: "choose-file", class: "button button-primary" }, i18n.t("file-choose"));
  choose.addEventListener("click", () => input.click());
  const zone = h(
    "div",
    { id: "drop-zone", class: "drop-zone" },
    h("p", { class: "drop-title" }, i18n.t("drop-title")),
    h("p", null, choose),
    h("p", { class: "drop-formats" }, i18n.t("drop-formats")),
    input,
  );
  const result = h("div", { id: "verify-result", class: "verify-result" });
  let current = 0;
  let picture: string | undefined;

  async function check(file: File): Promise<void> {
    const token = ++current;
    const panel = verificationPanel(data.chain, i18n, { devNotice: false });
    const name = h("p", { class: "file-name", id: "file-name" }, i18n.t("verify-file", { name: file.name }));
    replaceChildren(result, name, panel.element);
    let read: Input;
    try {
      if (file.size > MAX_BYTES) throw new Error(i18n.t("verify-file-too-large"));
      read = await readFile(new Uint8Array(await file.arrayBuffer()), file.name);
    } catch (e) {
      read = { kind: "credential", error: e instanceof Error ? e.message : String(e) };
    }
    if (token !== current) return;
    const cred = obj(read.credential);
    if (!cred) {
      await panel.run(undefined, read.error ?? i18n.t("verify-no-credential"));
      return;
    }
    try {
      // A baked badge is its own picture; nothing is fetched from elsewhere.
      if (picture) URL.revokeObjectURL(picture);
      picture = read.kind === "png" || read.kind === "svg" ? URL.createObjectURL(file) : undefined;
      const summary = credentialHeader(cred, picture, i18n, { heading: "h2", remoteImages: false });
      result.insertBefore(h("article", { class: "credential card" }, summary), panel.element);
    } catch {
      // A credential too odd to summarise is still verified.
    }
    await panel.run(cred);
  }

  function take(files: FileList | null | undefined): void {
    const file = files?.[0];
    if (file) void check(file);
  }
  input.addEventListener("change", () => {
    take(input.files);
    input.value = "";
  });

  // Files dropped anywhere on the page are taken (and never opened by the
  // browser in place of the page); the zone shows where.
  let depth = 0;
  const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes("Files") ?? false;
  document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    take(e.dataTransfer?.files);
  });

  replaceChildren(
    root,
    topBar(i18n),
    h(
      "div",
      { class: "page", id: "verify-page" },
      h(
        "section",
        { class: "card intro", "aria-labelledby": "verify-title" },
        h("h1", { id: "verify-title" }, i18n.t("verify-heading")),
        h("p", null, i18n.t("verify-intro")),
        h("p", { class: "notice notice-private", id: "nothing-uploaded" }, h("strong", null, i18n.t("verify-private-title")), " ", i18n.t("verify-private")),
        data.chain?.dev ? devChainNotice(i18n, "dev-chain-notice-verify") : null,
        zone,
      ),
      result,
    ),
    pageFooter(i18n),
  );
  document.title = i18n.t("verify-title");
}
