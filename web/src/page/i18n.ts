// The pages' languages: Fluent messages (web/locales/*.ftl, bundled as
// text), the choice of language, and dates formatted for it.
import { FluentBundle, FluentResource, type FluentVariable } from "@fluent/bundle";
import en from "../../locales/en.ftl";
import fr from "../../locales/fr.ftl";

const MESSAGES = { en, fr } as const;
export type Lang = keyof typeof MESSAGES;
export const LANGS = Object.keys(MESSAGES) as Lang[];

/** The supported language a BCP 47 tag asks for, by its primary subtag. */
export function supported(tag: unknown): Lang | undefined {
  if (typeof tag !== "string") return undefined;
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return (LANGS as string[]).includes(primary) ? (primary as Lang) : undefined;
}

/** `?lang=xx` first (the page's language switch), then the reader's
 * languages (Accept-Language), then the credential's, then English. */
export function chooseLang(
  query: string,
  readerLangs: readonly string[],
  credentialLangs: readonly string[],
): Lang {
  const asked = supported(new URLSearchParams(query).get("lang"));
  if (asked) return asked;
  for (const tag of readerLangs) {
    const l = supported(tag);
    if (l) return l;
  }
  for (const tag of credentialLangs) {
    const l = supported(tag);
    if (l) return l;
  }
  return "en";
}

export type Args = Record<string, FluentVariable>;

export class I18n {
  readonly lang: Lang;
  /** The reader's own languages, in their order of preference, then this
   * page's: for picking among a credential's language values. */
  readonly preferred: string[];
  private readonly bundles: FluentBundle[];
  private readonly dates = new Map<string, Intl.DateTimeFormat>();

  constructor(lang: Lang, readerLangs: readonly string[] = []) {
    this.lang = lang;
    this.preferred = [lang, ...readerLangs.filter((l) => supported(l) !== lang)];
    this.bundles = [lang, ...(lang === "en" ? [] : ["en" as Lang])].map((l) => {
      const b = new FluentBundle(l, { useIsolating: false });
      b.addResource(new FluentResource(MESSAGES[l]));
      return b;
    });
  }

  has(id: string): boolean {
    return this.bundles.some((b) => b.hasMessage(id));
  }

  /** The message `id` in this language (English when it has none). */
  t(id: string, args?: Args): string {
    for (const b of this.bundles) {
      const m = b.getMessage(id);
      if (m?.value) {
        const errors: Error[] = [];
        return b.formatPattern(m.value, args ?? null, errors);
      }
    }
    return id;
  }

  /** The message `id` with elements in place of some of its variables
   * (`nodes`), wherever the translation puts them. */
  parts(id: string, nodes: Record<string, Node>, args: Args = {}): (Node | string)[] {
    const keys = Object.keys(nodes);
    const marked: Args = { ...args };
    keys.forEach((k, i) => (marked[k] = `\u{E000}${i}\u{E001}`));
    return this.t(id, marked)
      .split(/\u{E000}(\d+)\u{E001}/u)
      .map((piece, j) => (j % 2 ? nodes[keys[Number(piece)]] : piece))
      .filter((p) => p !== "");
  }

  /** A date, as `2 December 2026`; the text given back if it is none. */
  date(iso: string): string {
    return this.format(iso, { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
  }

  /** A moment, with the reader's time zone named. */
  dateTime(iso: string): string {
    return this.format(iso, {
      year: "numeric",
      month: "long",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      timeZoneName: "short",
    });
  }

  private format(iso: string, options: Intl.DateTimeFormatOptions): string {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const key = JSON.stringify(options);
    let f = this.dates.get(key);
    if (!f) {
      f = new Intl.DateTimeFormat(this.lang, options);
      this.dates.set(key, f);
    }
    return f.format(d);
  }
}
