/**
 * The one escaping helper for text a terminal shows. Event fields, file names and policy values are
 * attacker-controlled: an ANSI escape can rewrite the screen and a bidi override (U+202E) can make
 * "gpj.exe" read as "exe.jpg". Each such character is printed as a visible \uXXXX escape, which
 * is also a valid JSON escape, so JSON output stays JSON with the same values.
 *
 * Escaped: C0 controls, DEL, C1 controls, the bidi embeddings/overrides/isolates and marks
 * (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and the Unicode line/paragraph separators.
 */

/* eslint-disable no-control-regex -- matching control characters is the point */
const FIELD = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// The same set minus tab and newline, for whole multi-line outputs (tables, reports).
const TEXT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One field (a path, an argument, a message) on one line: every control character escaped. */
export function printable(s: string): string {
  return s.replace(FIELD, escape);
}

/** A whole output that may span lines: like printable(), but tab and newline are kept. */
export function printableText(s: string): string {
  return s.replace(TEXT, escape);
}
