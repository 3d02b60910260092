// Reading what a page shows from a credential (VC 2.0 or 1.1, Open Badges
// 3.0), tolerant of every shape the standards allow and of none at all:
// what is missing or malformed is simply not shown.

export type Json = Record<string, unknown>;

/** A piece of text in one language (VC 2.0 language value), or in none. */
export interface Text {
  text: string;
  lang?: string;
  dir?: "ltr" | "rtl";
}

export function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

/** A value that may be one or a list, as a list. */
export function list(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

export function types(v: Json | undefined): string[] {
  return list(v?.type).filter((t): t is string => typeof t === "string");
}

function asText(v: unknown): Text | undefined {
  const s = str(v);
  if (s) return { text: s };
  const o = obj(v);
  const value = str(o?.["@value"]);
  if (!o || !value) return undefined;
  const lang = str(o["@language"]);
  const dir = o["@direction"] === "rtl" || o["@direction"] === "ltr" ? o["@direction"] : undefined;
  return { text: value, lang, dir };
}

function primary(tag: string | undefined): string | undefined {
  return tag?.toLowerCase().split(/[-_]/)[0];
}

/** A plain string, a language value or a list of them: the text in the
 * first of `langs` it has, else the one without a language, else English,
 * else the first. */
export function pickText(v: unknown, langs: readonly string[]): Text | undefined {
  const texts = list(v).map(asText).filter((t): t is Text => t !== undefined);
  for (const want of langs.map(primary)) {
    const t = texts.find((x) => primary(x.lang) === want);
    if (t) return t;
  }
  return texts.find((x) => !x.lang) ?? texts.find((x) => primary(x.lang) === "en") ?? texts[0];
}

/** The languages a credential is written in: its `inLanguage`, then the
 * languages of its names and descriptions, in order. */
export function credentialLangs(cred: Json): string[] {
  const a = achievementOf(cred);
  const tags: unknown[] = [a?.inLanguage, cred.inLanguage];
  for (const v of [a?.name, cred.name, a?.description, cred.description]) {
    for (const x of list(v)) tags.push(obj(x)?.["@language"]);
  }
  return [...new Set(tags.filter((t): t is string => typeof t === "string" && t !== ""))];
}

/** The (first) subject. */
export function subjectOf(cred: Json): Json | undefined {
  return list(cred.credentialSubject).map(obj).find((s) => s !== undefined);
}

export function achievementOf(cred: Json): Json | undefined {
  return obj(subjectOf(cred)?.achievement);
}

/** An image's URL: a string, or an OB 3.0 `Image` (`{id, caption}`). */
export function imageOf(v: unknown): string | undefined {
  return str(v) ?? str(obj(v)?.id);
}

export interface Party {
  id?: string;
  name?: Text;
  url?: string;
  image?: string;
}

/** An issuer: a URL (a DID) or an OB 3.0 `Profile`. */
export function partyOf(v: unknown, langs: readonly string[]): Party {
  const s = str(v);
  if (s) return { id: s };
  const o = obj(v) ?? {};
  return {
    id: str(o.id),
    name: pickText(o.name, langs),
    url: str(o.url),
    image: imageOf(o.image),
  };
}

export function validFrom(cred: Json): string | undefined {
  return str(cred.validFrom) ?? str(cred.issuanceDate);
}

export function validUntil(cred: Json): string | undefined {
  return str(cred.validUntil) ?? str(cred.expirationDate);
}

/** The achievement's name, else the credential's own. */
export function titleOf(cred: Json, langs: readonly string[]): Text | undefined {
  return pickText(achievementOf(cred)?.name, langs) ?? pickText(cred.name, langs);
}
