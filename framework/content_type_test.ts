import assert from "node:assert/strict";
import { contentTypeFor, DEFAULT_CONTENT_TYPE } from "./content_type.ts";

Deno.test("contentTypeFor maps known extensions", () => {
  const cases: Array<[string, string]> = [
    ["index.html", "text/html; charset=utf-8"],
    ["style.css", "text/css; charset=utf-8"],
    ["app.js", "text/javascript; charset=utf-8"],
    ["chunk.mjs", "text/javascript; charset=utf-8"],
    ["data.json", "application/json; charset=utf-8"],
    ["app.js.map", "application/json; charset=utf-8"],
    ["readme.txt", "text/plain; charset=utf-8"],
    ["logo.svg", "image/svg+xml; charset=utf-8"],
    ["site.webmanifest", "application/manifest+json; charset=utf-8"],
    ["feed.xml", "application/xml; charset=utf-8"],
    ["a.png", "image/png"],
    ["a.jpg", "image/jpeg"],
    ["a.jpeg", "image/jpeg"],
    ["a.gif", "image/gif"],
    ["a.webp", "image/webp"],
    ["a.avif", "image/avif"],
    ["favicon.ico", "image/x-icon"],
    ["f.woff", "font/woff"],
    ["f.woff2", "font/woff2"],
    ["f.ttf", "font/ttf"],
    ["f.otf", "font/otf"],
    ["m.wasm", "application/wasm"],
    ["doc.pdf", "application/pdf"],
    ["s.mp3", "audio/mpeg"],
    ["v.mp4", "video/mp4"],
    ["v.webm", "video/webm"],
    ["s.ogg", "audio/ogg"],
    ["s.wav", "audio/wav"],
  ];
  for (const [name, expected] of cases) {
    assert.equal(contentTypeFor(name), expected, name);
  }
});

Deno.test("contentTypeFor uses only the last extension of the file name", () => {
  assert.equal(contentTypeFor("/srv/static/img/Photo.JPG"), "image/jpeg");
  assert.equal(
    contentTypeFor("C:\\site\\static\\main.CSS"),
    "text/css; charset=utf-8",
  );
  assert.equal(contentTypeFor("archive.tar.gz"), DEFAULT_CONTENT_TYPE);
  // The dot in the directory name must not be read as an extension.
  assert.equal(contentTypeFor("/dir.html/README"), DEFAULT_CONTENT_TYPE);
});

Deno.test("contentTypeFor falls back to octet-stream", () => {
  assert.equal(DEFAULT_CONTENT_TYPE, "application/octet-stream");
  for (
    const name of [
      "Makefile",
      "file.unknown",
      "trailing.",
      "x.constructor",
      "x.__proto__",
    ]
  ) {
    assert.equal(contentTypeFor(name), DEFAULT_CONTENT_TYPE, name);
  }
});
