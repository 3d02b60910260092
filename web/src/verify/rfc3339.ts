// RFC 3339 date-times read exactly as the Rust verifier reads them
// (chrono's `DateTime::parse_from_rfc3339`): `T`, `t` or a space between
// date and time, any number of fraction digits (nanoseconds kept, the rest
// skipped), a leap second `60`, `Z`/`z` or an offset from -23:59 to +23:59
// (the minus may be U+2212). Times compare to the nanosecond, as chrono's do.

/** An instant: UTC seconds since the epoch and nanoseconds; a leap second
 * is second 59 with 1e9 or more nanoseconds, so the pair orders as chrono
 * orders it. */
export interface Instant {
  secs: bigint;
  nanos: number;
}

const DAY = 86_400n;

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/** Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
function daysFromCivil(y: number, m: number, d: number): bigint {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return BigInt(era) * 146097n + BigInt(doe) - 719468n;
}

function civilFromDays(z: bigint): [number, number, number] {
  const zz = z + 719468n;
  const era = (zz >= 0n ? zz : zz - 146096n) / 146097n;
  const doe = Number(zz - era * 146097n);
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = Number(BigInt(yoe) + era * 400n) + (m <= 2 ? 1 : 0);
  return [y, m, d];
}

const digit = (c: string | undefined): number => (c !== undefined && c >= "0" && c <= "9" ? c.charCodeAt(0) - 48 : -1);

/** Parses `s` as chrono does; `null` when chrono would refuse it. */
export function parseRfc3339(s: string): Instant | null {
  // chrono indexes bytes; every byte it looks at in the first 19 must be
  // ASCII, so a string with anything else there fails either way.
  if (new TextEncoder().encode(s).length < 19) return null;
  const d = (i: number): number => digit(s[i]);
  const two = (i: number): number => {
    const a = d(i);
    const b = d(i + 1);
    return a < 0 || b < 0 ? -1 : a * 10 + b;
  };
  const y0 = two(0);
  const y1 = two(2);
  if (y0 < 0 || y1 < 0 || s[4] !== "-") return null;
  const year = y0 * 100 + y1;
  const month = two(5);
  if (month < 0 || s[7] !== "-") return null;
  const day = two(8);
  if (day < 0) return null;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (s[10] !== "T" && s[10] !== "t" && s[10] !== " ") return null;
  const hour = two(11);
  if (hour < 0 || s[13] !== ":") return null;
  const min = two(14);
  if (min < 0 || s[16] !== ":") return null;
  let sec = two(17);
  if (sec < 0) return null;
  let nanos = 0;
  if (sec === 60) {
    sec = 59;
    nanos = 1_000_000_000;
  }
  let rest: string;
  if (s[19] === ".") {
    let i = 20;
    let frac = "";
    while (i < s.length && digit(s[i]) >= 0) {
      if (frac.length < 9) frac += s[i];
      i++;
    }
    if (frac.length === 0) return null;
    nanos += Number(frac.padEnd(9, "0"));
    rest = s.slice(i);
  } else {
    rest = s.slice(19);
  }
  if (hour >= 24 || min >= 60 || sec >= 60 || nanos >= 2_000_000_000) return null;
  // The offset.
  let offset: number;
  if (rest[0] === "Z" || rest[0] === "z") {
    offset = 0;
    rest = rest.slice(1);
  } else {
    let negative: boolean;
    if (rest[0] === "+") negative = false;
    else if (rest[0] === "-" || rest[0] === "\u2212") negative = true;
    else return null;
    rest = rest.slice(1);
    const h1 = digit(rest[0]);
    const h2 = digit(rest[1]);
    if (h1 < 0 || h2 < 0) return null;
    if (rest[2] !== ":") return null;
    const m1 = digit(rest[3]);
    const m2 = digit(rest[4]);
    if (m1 < 0 || m1 > 5 || m2 < 0) return null;
    const secs = (h1 * 10 + h2) * 3600 + (m1 * 10 + m2) * 60;
    offset = negative ? -secs : secs;
    rest = rest.slice(5);
  }
  if (rest.length !== 0) return null;
  if (!(-86_400 < offset && offset < 86_400)) return null;
  const local = daysFromCivil(year, month, day) * DAY + BigInt(hour * 3600 + min * 60 + sec);
  return { secs: local - BigInt(offset), nanos };
}

/** An instant from whole seconds since the epoch (a block time). */
export function fromSeconds(secs: bigint): Instant {
  return { secs, nanos: 0 };
}

/** The instant of a JavaScript `Date` (milliseconds). */
export function fromDate(date: Date): Instant {
  const ms = BigInt(Math.floor(date.getTime()));
  const secs = ms >= 0n ? ms / 1000n : -((-ms + 999n) / 1000n);
  return { secs, nanos: Number(ms - secs * 1000n) * 1_000_000 };
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compare(a: Instant, b: Instant): number {
  if (a.secs !== b.secs) return a.secs < b.secs ? -1 : 1;
  return a.nanos - b.nanos;
}

/** Whole days from `from` to `to`, truncated toward zero (chrono's
 * `(to - from).num_days()`). */
export function daysBetween(from: Instant, to: Instant): bigint {
  const ns = (to.secs - from.secs) * 1_000_000_000n + BigInt(to.nanos - from.nanos);
  return ns / (DAY * 1_000_000_000n);
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

function parts(t: Instant): { date: string; time: string; frac: string } {
  let secs = t.secs;
  let nanos = t.nanos;
  let leap = false;
  if (nanos >= 1_000_000_000) {
    leap = true;
    nanos -= 1_000_000_000;
  }
  let days = secs / DAY;
  let rem = secs - days * DAY;
  if (rem < 0n) {
    rem += DAY;
    days -= 1n;
  }
  secs = rem;
  const [y, m, d] = civilFromDays(days);
  const r = Number(secs);
  const hh = Math.floor(r / 3600);
  const mm = Math.floor((r % 3600) / 60);
  const ss = (r % 60) + (leap ? 1 : 0);
  const year = y < 0 ? "-" + pad(-y, 4) : y > 9999 ? "+" + String(y) : pad(y, 4);
  let frac = "";
  if (nanos !== 0) {
    frac = nanos % 1_000_000 === 0 ? "." + pad(nanos / 1_000_000, 3) : nanos % 1000 === 0 ? "." + pad(nanos / 1000, 6) : "." + pad(nanos, 9);
  }
  return { date: `${year}-${pad(m, 2)}-${pad(d, 2)}`, time: `${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}`, frac };
}

/** chrono's `to_rfc3339()` of a UTC time: `2026-01-01T00:00:00+00:00`,
 * with the fraction when there is one. */
export function toRfc3339(t: Instant): string {
  const p = parts(t);
  return `${p.date}T${p.time}${p.frac}+00:00`;
}

/** How Cairn writes times (`fmt_time`): UTC, whole seconds, `Z`. */
export function fmtTime(t: Instant): string {
  const p = parts(t);
  return `${p.date}T${p.time}Z`;
}
