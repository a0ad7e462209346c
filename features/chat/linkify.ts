/**
 * Splits chat text into text and links for display. The UI renders the parts as text nodes and
 * `<a>` elements, never as HTML.
 */

export type TextPart = { kind: "text"; text: string } | {
  kind: "link";
  href: string;
  text: string;
};

/** A URL runs to whitespace or a character that cannot appear unescaped in one. */
const URL_CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
/** Punctuation that usually ends the sentence rather than the URL. */
const TRAILING = ".,;:!?'\"…。、";
const CLOSERS: Record<string, string> = { ")": "(", "]": "[" };

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}

/** Drops trailing punctuation; a closing paren stays when it balances one in the URL. */
function trimTrailing(url: string): string {
  for (;;) {
    const last = url[url.length - 1];
    const opener = CLOSERS[last];
    if (opener ? count(url, opener) >= count(url, last) : !TRAILING.includes(last)) return url;
    url = url.slice(0, -1);
  }
}

/** The absolute http(s) URL to link to, or null: no other scheme ever becomes a link. */
function safeHref(candidate: string): string | null {
  try {
    const url = new URL(/^www\./i.test(candidate) ? `https://${candidate}` : candidate);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/** Splits plain text into text and http(s) links (`www.` ones link to https). */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0; // end of what is already in `parts`
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index;
    // Not inside an email address, a path or a longer host name ("user@www.x", "a.www.x").
    const before = text[start - 1] ?? "";
    if (before && "@./".includes(before)) continue;
    const candidate = trimTrailing(match[0]);
    // Trimming may leave no more than the prefix ("www..." or "http://...").
    const href = /^(?:https?:\/\/|www\.)./i.test(candidate) ? safeHref(candidate) : null;
    if (href === null) continue;
    if (start > at) parts.push({ kind: "text", text: text.slice(at, start) });
    parts.push({ kind: "link", href, text: candidate });
    at = start + candidate.length;
  }
  if (at < text.length) parts.push({ kind: "text", text: text.slice(at) });
  return parts;
}
