// The console's script (web/dist/console.js): what the server-rendered
// console pages do better with a little script. Every page works without
// it; it adds the badge class's live preview, the roster's progress bar,
// and a confirmation before a destructive form is sent.

/** The class form's preview: the badge page's look, as the staff types. */
function classPreview(): void {
  const form = document.getElementById("class-form");
  const preview = document.getElementById("preview");
  if (!(form instanceof HTMLFormElement) || !preview) return;
  let lang = preview.dataset.lang ?? "";
  const show = (): void => {
    for (const part of ["name", "description", "criteria"]) {
      const field = form.querySelector<HTMLInputElement | HTMLTextAreaElement>(
        `[data-preview="${part}"][lang="${CSS.escape(lang)}"]`,
      );
      const out = document.getElementById(`preview-${part}`);
      if (out) {
        out.textContent = field?.value ?? "";
        out.lang = lang;
      }
    }
  };
  form.addEventListener("input", show);
  for (const button of document.querySelectorAll<HTMLButtonElement>("[data-lang-switch]")) {
    button.addEventListener("click", () => {
      lang = button.dataset.langSwitch ?? lang;
      for (const b of document.querySelectorAll("[data-lang-switch]")) {
        b.setAttribute("aria-pressed", String(b === button));
      }
      show();
    });
  }
  const image = document.getElementById("image");
  const img = document.getElementById("preview-image");
  if (image instanceof HTMLInputElement && img instanceof HTMLImageElement) {
    let url: string | undefined;
    image.addEventListener("change", () => {
      const file = image.files?.[0];
      if (!file) return;
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(file);
      img.src = url;
      img.hidden = false;
    });
  }
}

interface Progress {
  total: number;
  done: number;
  failed: number;
  held: number;
  issued: number;
  finished: boolean;
}

/** The roster's progress bar: asks the node until the roster is issued. */
function rosterProgress(): void {
  const job = document.getElementById("job");
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  const result = document.getElementById("result");
  const url = job?.dataset.progress;
  if (!url || !(bar instanceof HTMLProgressElement) || !text || !result) return;
  const poll = async (): Promise<void> => {
    let p: Progress;
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      p = (await response.json()) as Progress;
    } catch {
      setTimeout(() => void poll(), 2000);
      return;
    }
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    bar.textContent = `${p.done} of ${p.total}`;
    if (p.finished) {
      text.textContent =
        `Done: ${p.issued} issued` +
        (p.held ? `, ${p.held} held already` : "") +
        (p.failed ? `, ${p.failed} failed.` : ".");
      result.hidden = false;
      job?.setAttribute("data-finished", "true");
    } else {
      text.textContent = `${p.done} of ${p.total} rows done.`;
      setTimeout(() => void poll(), 400);
    }
  };
  void poll();
}

/** Forms marked `data-confirm` ask before they are sent. */
function confirmations(): void {
  for (const form of document.querySelectorAll<HTMLFormElement>("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm ?? "Are you sure?")) event.preventDefault();
    });
  }
}

classPreview();
rosterProgress();
confirmations();
