import assert from "node:assert/strict";
import { linkify, type TextPart } from "./linkify.ts";

const t = (text: string): TextPart => ({ kind: "text", text });
const l = (text: string, href = text): TextPart => ({ kind: "link", href, text });

Deno.test("linkify: plain text stays one part; empty text has none", () => {
  assert.deepEqual(linkify("hello world"), [t("hello world")]);
  assert.deepEqual(linkify(""), []);
});

Deno.test("linkify: http(s) links among text, href normalized by URL", () => {
  assert.deepEqual(linkify("see https://example.com/a?b=1#c now"), [
    t("see "),
    l("https://example.com/a?b=1#c"),
    t(" now"),
  ]);
  assert.deepEqual(linkify("http://Example.COM"), [l("http://Example.COM", "http://example.com/")]);
  assert.deepEqual(linkify("HTTPS://x.io/A"), [l("HTTPS://x.io/A", "https://x.io/A")]);
  assert.deepEqual(linkify("a https://a.io b http://b.io"), [
    t("a "),
    l("https://a.io", "https://a.io/"),
    t(" b "),
    l("http://b.io", "http://b.io/"),
  ]);
  assert.deepEqual(linkify("line\nhttps://a.io/x\nnext"), [
    t("line\n"),
    l("https://a.io/x"),
    t("\nnext"),
  ]);
});

Deno.test("linkify: www. links go to https", () => {
  assert.deepEqual(linkify("go to www.example.com/path today"), [
    t("go to "),
    l("www.example.com/path", "https://www.example.com/path"),
    t(" today"),
  ]);
});

Deno.test("linkify: trailing punctuation ends the sentence, not the URL", () => {
  for (const end of [".", ",", ";", ":", "!", "?", ")", "...", "!?", "'", '"', ")."]) {
    assert.deepEqual(
      linkify(`x https://a.io/p${end}`),
      [t("x "), l("https://a.io/p"), t(end)],
      `ending ${end}`,
    );
  }
  assert.deepEqual(linkify("(see https://a.io/p)"), [t("(see "), l("https://a.io/p"), t(")")]);
  assert.deepEqual(linkify("Visit www.a.io."), [
    t("Visit "),
    l("www.a.io", "https://www.a.io/"),
    t("."),
  ]);
});

Deno.test("linkify: balanced parens stay in the URL", () => {
  const wiki = "https://en.wikipedia.org/wiki/Mesh_(networking)";
  assert.deepEqual(linkify(`${wiki} is`), [l(wiki), t(" is")]);
  assert.deepEqual(linkify(`(${wiki}).`), [t("("), l(wiki), t(").")]);
  assert.deepEqual(linkify("https://a.io/x[1]"), [l("https://a.io/x[1]")]);
  assert.deepEqual(linkify("https://a.io/x[1]]"), [l("https://a.io/x[1]"), t("]")]);
});

Deno.test("linkify: never a link with another scheme", () => {
  for (
    const text of [
      "javascript:alert(1)",
      "JavaScript://www.example.com/%0aalert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox",
      "file:///etc/passwd",
      "ftp://example.com",
      "mailto:ada@example.com",
      "ada@www.example.com",
    ]
  ) {
    const links = linkify(text).filter((p) => p.kind === "link");
    assert.deepEqual(links, [], text);
  }
  // A URL after another scheme is still only ever an http(s) link.
  for (const part of linkify("javascript:https://a.io javascript:www.a.io")) {
    if (part.kind === "link") assert.match(part.href, /^https?:\/\//);
  }
});

Deno.test("linkify: a bare prefix or an invalid host is text", () => {
  for (const text of ["http://", "http:// x", "https://.", "www.", "www...", "http://[bad"]) {
    assert.deepEqual(linkify(text), [t(text)], text);
  }
  assert.deepEqual(linkify("xhttps://a.io"), [t("xhttps://a.io")]);
});

Deno.test("linkify: URLs stop at whitespace, quotes and angle brackets", () => {
  assert.deepEqual(linkify('<https://a.io/x>"'), [t("<"), l("https://a.io/x"), t('>"')]);
  assert.deepEqual(linkify("https://a.io/ü\tz"), [
    l("https://a.io/ü", "https://a.io/%C3%BC"),
    t("\tz"),
  ]);
});

Deno.test("linkify: parts always reassemble into the original text", () => {
  const samples = [
    "mix www.a.io, https://b.io/(x)) and (http://c.io/?q=a.b). ok",
    "https://a.io https://a.io",
    "@www.a.io ./www.b.io /https://c.io",
    "😀https://a.io/😀!",
  ];
  for (const text of samples) {
    assert.equal(linkify(text).map((p) => p.text).join(""), text, text);
  }
});
