// A small element builder, and the URL rules for anything a credential
// names: its text is only ever set as text, its URLs only as http(s) (or
// images as data: URLs), so that a credential cannot script the page.

export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** `<tag attrs>children</tag>`: attributes set as given (`true` as an
 * empty attribute; false, null and undefined left out), strings as text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

/** Replaces an element's children. */
export function replaceChildren(el: Element, ...children: (Child | Child[])[]): void {
  el.textContent = "";
  append(el, children);
}

/** `url` resolved against the page when it is http or https, else nothing. */
export function linkUrl(url: unknown): string | undefined {
  if (typeof url !== "string" || url === "") return undefined;
  try {
    const u = new URL(url, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** An image source from a credential: http(s), or a data: URL of an image. */
export function imageUrl(url: unknown): string | undefined {
  if (typeof url === "string" && /^data:image\/(png|svg\+xml|jpeg|gif|webp)[;,]/i.test(url)) {
    return url;
  }
  return linkUrl(url);
}

/** Markup that is the page's own (never a credential's), parsed once. */
export function svg(markup: string): Element {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  return document.importNode(doc.documentElement, true);
}
