import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import {
  compressBytes,
  compressResponse,
  isCompressible,
  MAX_COMPRESS_BYTES,
  MIN_COMPRESS_BYTES,
  negotiateEncoding,
  parseAcceptEncoding,
  precompress,
  varyOnAcceptEncoding,
} from "./compress.ts";

const BOTH = ["br", "gzip"] as const;

Deno.test("negotiateEncoding: the highest weight wins, ties go to the server's order", () => {
  const cases: [string | null, "br" | "gzip" | null][] = [
    ["gzip, deflate, br, zstd", "br"],
    ["gzip, deflate", "gzip"],
    ["br", "br"],
    ["br;q=0.5, gzip;q=0.8", "gzip"],
    ["BR;Q=1, GZIP;q=0.9", "br"],
    ["x-gzip", "gzip"],
    [" gzip ; q=0.3 , br ; q=0.2 ", "gzip"],
    ["*", "br"],
    ["*;q=0.5, br;q=0.1", "gzip"],
    ["deflate, zstd", null],
    ["identity", null],
    ["", null],
    [null, null],
  ];
  for (const [header, expected] of cases) {
    assert.equal(negotiateEncoding(header, BOTH), expected, String(header));
  }
  assert.equal(negotiateEncoding("gzip, br", ["gzip", "br"]), "gzip", "server order on a tie");
  assert.equal(negotiateEncoding("br", ["gzip"]), null, "only what is available");
});

Deno.test("negotiateEncoding: q=0 refuses a coding, however it is written", () => {
  const cases: [string, "br" | "gzip" | null][] = [
    ["br;q=0, gzip", "gzip"],
    ["br; q=0.000, gzip", "gzip"],
    ["gzip;q=0, br;q=0", null],
    ["*;q=0", null],
    ["*;q=0, gzip", "gzip"],
    ["br;q=0, *", "gzip"],
    // A weight that is not a qvalue is not a yes.
    ["br;q=2, gzip;q=0.1", "gzip"],
    ["br;q=abc, gzip;q=0.1", "gzip"],
    ["br;q=-1", null],
    // identity preferred over every coding on offer.
    ["identity;q=1, gzip;q=0.5", null],
  ];
  for (const [header, expected] of cases) {
    assert.equal(negotiateEncoding(header, BOTH), expected, header);
  }
});

Deno.test("parseAcceptEncoding keeps a coding's first weight and skips empty items", () => {
  assert.deepEqual(
    [...parseAcceptEncoding("gzip;q=0.5, , gzip, br;foo=bar")],
    [["gzip", 0.5], ["br", 1]],
  );
});

Deno.test("compressBytes and precompress round-trip; precompress skips what does not shrink", () => {
  const text = new TextEncoder().encode("const meeting = 'mooz';\n".repeat(200));
  for (const effort of ["fast", "max"] as const) {
    assert.deepEqual(new Uint8Array(gunzipSync(compressBytes(text, "gzip", effort))), text);
    assert.deepEqual(new Uint8Array(brotliDecompressSync(compressBytes(text, "br", effort))), text);
  }
  assert.deepEqual(Object.keys(precompress(text)), ["br", "gzip"]);
  const random = crypto.getRandomValues(new Uint8Array(4096));
  assert.deepEqual(precompress(random), {}, "random bytes do not compress");
});

Deno.test("isCompressible: text formats yes, already-compressed media and event streams no", () => {
  for (
    const type of [
      "text/html; charset=utf-8",
      "text/css",
      "text/javascript; charset=utf-8",
      "application/json",
      "image/svg+xml; charset=utf-8",
      "text/plain; version=0.0.4; charset=utf-8",
      "Application/JSON",
    ]
  ) {
    assert.ok(isCompressible(type), type);
  }
  for (
    const type of [
      "image/png",
      "image/webp",
      "font/woff2",
      "video/webm",
      "application/octet-stream",
      "text/event-stream",
      null,
    ]
  ) {
    assert.ok(!isCompressible(type), String(type));
  }
});

Deno.test("varyOnAcceptEncoding adds the header once, beside others", () => {
  const headers = new Headers();
  varyOnAcceptEncoding(headers);
  varyOnAcceptEncoding(headers);
  assert.equal(headers.get("Vary"), "Accept-Encoding");
  const other = new Headers({ Vary: "Origin" });
  varyOnAcceptEncoding(other);
  assert.equal(other.get("Vary"), "Origin, Accept-Encoding");
  const star = new Headers({ Vary: "*" });
  varyOnAcceptEncoding(star);
  assert.equal(star.get("Vary"), "*");
});

const PAGE = "<!DOCTYPE html><main>" + '<p class="text-slate-700">Hello</p>'.repeat(100);
const get = (acceptEncoding?: string, method = "GET") =>
  new Request("http://localhost/", {
    method,
    headers: acceptEncoding === undefined ? {} : { "Accept-Encoding": acceptEncoding },
  });
const html = (body: BodyInit | null = PAGE, headers: HeadersInit = {}) =>
  new Response(body, { headers: { "Content-Type": "text/html; charset=utf-8", ...headers } });

async function decoded(res: Response): Promise<string> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const coding = res.headers.get("Content-Encoding");
  if (coding !== null) {
    assert.equal(res.headers.get("Content-Length"), String(bytes.byteLength), "Content-Length");
  }
  const plain = coding === "br"
    ? brotliDecompressSync(bytes)
    : coding === "gzip"
    ? gunzipSync(bytes)
    : bytes;
  return new TextDecoder().decode(plain);
}

Deno.test("compressResponse: gzip first on the fly, br when only br is taken or weighs more", async () => {
  const cases: [string | undefined, string | null][] = [
    ["gzip, deflate, br, zstd", "gzip"],
    ["br", "br"],
    ["gzip;q=0.5, br", "br"],
    ["br;q=0, gzip", "gzip"],
    ["gzip;q=0, br;q=0", null],
    ["identity", null],
    [undefined, null],
  ];
  for (const [accept, coding] of cases) {
    const res = await compressResponse(get(accept), html());
    assert.equal(res.headers.get("Content-Encoding"), coding, String(accept));
    assert.equal(res.headers.get("Vary"), "Accept-Encoding", String(accept));
    assert.equal(await decoded(res), PAGE, String(accept));
  }
});

Deno.test("compressResponse leaves small, foreign, opted-out and non-GET responses as they are", async () => {
  const small = "x".repeat(MIN_COMPRESS_BYTES - 1);
  const png = new Response(new Uint8Array(4096), { headers: { "Content-Type": "image/png" } });
  const cases: [string, Request, Response][] = [
    ["small", get("gzip"), html(small)],
    ["image", get("gzip"), png],
    ["encoded", get("gzip"), html(PAGE, { "Content-Encoding": "br" })],
    ["no-transform", get("gzip"), html(PAGE, { "Cache-Control": "private, no-transform" })],
    ["HEAD", get("gzip", "HEAD"), html()],
    ["POST", get("gzip", "POST"), html()],
    ["event stream", get("gzip"), html(PAGE, { "Content-Type": "text/event-stream" })],
  ];
  for (const [label, req, res] of cases) {
    const out = await compressResponse(req, res);
    assert.ok(out.headers.get("Content-Encoding") !== "gzip", label);
    if (label === "image" || label === "event stream" || label === "no-transform") {
      // Never compressed for anyone: no Vary needed.
      assert.equal(out.headers.get("Vary"), null, label);
      await out.body?.cancel();
    } else if (label === "encoded") {
      await out.body?.cancel();
    } else {
      assert.equal(
        out.headers.get("Vary"),
        "Accept-Encoding",
        `${label}: another client may get it compressed`,
      );
      assert.equal(await out.text(), label === "small" ? small : PAGE, label);
    }
  }
  // A 304 has no body: nothing to compress, and its headers are the handler's.
  const notModified = new Response(null, { status: 304, headers: { ETag: '"a"' } });
  assert.equal(await compressResponse(get("gzip"), notModified), notModified);
});

Deno.test("compressResponse: a strong ETag turns weak, and Vary keeps what was there", async () => {
  const res = await compressResponse(get("gzip"), html(PAGE, { ETag: '"v1"', Vary: "Origin" }));
  assert.equal(res.headers.get("Content-Encoding"), "gzip");
  assert.equal(res.headers.get("ETag"), 'W/"v1"');
  assert.equal(res.headers.get("Vary"), "Origin, Accept-Encoding");
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const weak = await compressResponse(get("gzip"), html(PAGE, { ETag: 'W/"v1"' }));
  assert.equal(weak.headers.get("ETag"), 'W/"v1"');
  await weak.body?.cancel();
});

Deno.test("compressResponse keeps the status, and reads a stream of unknown length", async () => {
  const chunks = [PAGE.slice(0, 100), PAGE.slice(100)].map((c) => new TextEncoder().encode(c));
  const stream = ReadableStream.from(chunks);
  const res = await compressResponse(
    get("gzip"),
    new Response(stream, { status: 404, headers: { "Content-Type": "text/html" } }),
  );
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("Content-Encoding"), "gzip");
  assert.equal(await decoded(res), PAGE);
});

Deno.test("compressResponse sends a body over the limit uncompressed and whole", async () => {
  const big = new Uint8Array(MAX_COMPRESS_BYTES + 10).fill(0x61);
  // As a stream without Content-Length: read up to the limit, then passed on as it is.
  const streamed = await compressResponse(
    get("gzip"),
    new Response(ReadableStream.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]), {
      headers: { "Content-Type": "text/plain" },
    }),
  );
  assert.equal(streamed.headers.get("Content-Encoding"), null);
  assert.equal((await streamed.arrayBuffer()).byteLength, big.byteLength);
  // With Content-Length: not read at all.
  const declared = await compressResponse(
    get("gzip"),
    new Response(big, {
      headers: { "Content-Type": "text/plain", "Content-Length": String(big.byteLength) },
    }),
  );
  assert.equal(declared.headers.get("Content-Encoding"), null);
  assert.equal((await declared.arrayBuffer()).byteLength, big.byteLength);
});

Deno.test("compressResponse: a fetched response (immutable headers) still gets Vary", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => html());
  const fetched = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.throws(() => fetched.headers.set("X-Probe", "1"), TypeError, "headers are immutable");
  const out = await compressResponse(get("identity"), fetched);
  assert.equal(out.headers.get("Vary"), "Accept-Encoding");
  assert.equal(await out.text(), PAGE);
});

Deno.test("compressResponse: a response it does not compress keeps its Content-Length on the wire", async () => {
  // Reading `res.body` turns a body of known length into a stream, which Deno sends chunked:
  // raw HTTP clients (health checks, load balancers) then miss the length.
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => compressResponse(req, Response.json({ ok: true })),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const head = text.slice(0, text.indexOf("\r\n\r\n")).toLowerCase();
    assert.match(head, /content-length: 11/);
    assert.doesNotMatch(head, /transfer-encoding/);
    assert.match(head, /vary: accept-encoding/);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
});
