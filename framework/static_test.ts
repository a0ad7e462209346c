import assert from "node:assert/strict";
import { join } from "node:path";
import { createStaticHandler, pathnameToSegments, serveBytes } from "./static.ts";

const SECRET = "TOP SECRET";

interface Fixture {
  /** Folder being served. */
  root: string;
  /** Temp folder holding everything, removed after the test. */
  tmp: string;
}

/*
 * tmp/
 *   secret.txt, secret-dir/passwd     outside, two levels above root
 *   site/secret.txt                   outside, right next to root
 *   site/static/                      root
 *     hello.txt, hello world.txt, app.js, %2e%2e (a literal name)
 *     nested/deep/data.json
 *     .env, .git/config
 *     in-link.txt -> hello.txt        symlink staying inside root
 *     out-link.txt -> ../../secret.txt
 *     out-dir -> ../../secret-dir
 *     hidden-link.txt -> .env         inside root but to a dotfile
 *   root-link -> site/static          root reached through a symlink
 */
async function withFixture(fn: (fx: Fixture) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "static_test_" });
  try {
    const root = join(tmp, "site", "static");
    await Deno.mkdir(join(root, "nested", "deep"), { recursive: true });
    await Deno.mkdir(join(root, ".git"));
    await Deno.mkdir(join(tmp, "secret-dir"));
    await Deno.writeTextFile(join(tmp, "secret.txt"), `${SECRET} two up`);
    await Deno.writeTextFile(
      join(tmp, "secret-dir", "passwd"),
      `${SECRET} dir`,
    );
    await Deno.writeTextFile(
      join(tmp, "site", "secret.txt"),
      `${SECRET} sibling`,
    );
    await Deno.writeTextFile(join(root, "hello.txt"), "hello world\n");
    await Deno.writeTextFile(join(root, "hello world.txt"), "spaced");
    await Deno.writeTextFile(join(root, "app.js"), "console.log(1);");
    await Deno.writeTextFile(join(root, "%2e%2e"), "literal percent name");
    await Deno.writeTextFile(
      join(root, "nested", "deep", "data.json"),
      '{"ok":true}',
    );
    await Deno.writeTextFile(join(root, ".env"), `${SECRET} env`);
    await Deno.writeTextFile(join(root, ".git", "config"), `${SECRET} git`);
    await Deno.symlink("hello.txt", join(root, "in-link.txt"));
    await Deno.symlink(
      join("..", "..", "secret.txt"),
      join(root, "out-link.txt"),
    );
    await Deno.symlink(join("..", "..", "secret-dir"), join(root, "out-dir"));
    await Deno.symlink(".env", join(root, "hidden-link.txt"));
    await Deno.symlink(join("site", "static"), join(tmp, "root-link"));
    await fn({ root, tmp });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

function get(path: string, init?: RequestInit): Request {
  return new Request(`http://localhost${path}`, init);
}

Deno.test("serves a file with body, type, length and validators", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    const res = await handle(get("/hello.txt"));
    assert.ok(res);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "hello world\n");
    assert.equal(res.headers.get("Content-Type"), "text/plain; charset=utf-8");
    assert.equal(res.headers.get("Content-Length"), "12");
    assert.equal(
      res.headers.get("Cache-Control"),
      "public, max-age=0, must-revalidate",
    );
    assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff");

    const info = await Deno.stat(join(root, "hello.txt"));
    assert.ok(info.mtime);
    const mtime = Math.floor(info.mtime.getTime()).toString(36);
    assert.equal(res.headers.get("ETag"), `W/"${(12).toString(36)}-${mtime}"`);
    assert.equal(res.headers.get("Last-Modified"), info.mtime.toUTCString());
  });
});

Deno.test("serves nested files, encoded names and in-root symlinks", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({
      root,
      cacheControl: "public, max-age=60",
    });
    const cases: Array<[string, string, string]> = [
      [
        "/nested/deep/data.json",
        '{"ok":true}',
        "application/json; charset=utf-8",
      ],
      ["/hello%20world.txt", "spaced", "text/plain; charset=utf-8"],
      ["/app.js", "console.log(1);", "text/javascript; charset=utf-8"],
      ["/in-link.txt", "hello world\n", "text/plain; charset=utf-8"],
      // Decoded once: "%252e%252e" names the literal file "%2e%2e".
      ["/%252e%252e", "literal percent name", "application/octet-stream"],
    ];
    for (const [path, body, type] of cases) {
      const res = await handle(get(path));
      assert.ok(res, path);
      assert.equal(await res.text(), body, path);
      assert.equal(res.headers.get("Content-Type"), type, path);
      assert.equal(
        res.headers.get("Cache-Control"),
        "public, max-age=60",
        path,
      );
    }
  });
});

Deno.test("serves when root itself is reached through a symlink", async () => {
  await withFixture(async ({ tmp }) => {
    const handle = createStaticHandler({ root: join(tmp, "root-link") });
    const res = await handle(get("/hello.txt"));
    assert.ok(res);
    assert.equal(await res.text(), "hello world\n");
    assert.equal(await handle(get("/out-link.txt")), null);
  });
});

Deno.test("HEAD sends headers without a body", async () => {
  await withFixture(async ({ root }) => {
    const res = await createStaticHandler({ root })(
      get("/hello.txt", { method: "HEAD" }),
    );
    assert.ok(res);
    assert.equal(res.status, 200);
    assert.equal(res.body, null);
    assert.equal(res.headers.get("Content-Length"), "12");
    assert.equal(res.headers.get("Content-Type"), "text/plain; charset=utf-8");
    assert.match(res.headers.get("ETag") ?? "", /^W\/"[0-9a-z]+-[0-9a-z]+"$/);
  });
});

Deno.test("If-None-Match answers 304 for matching tags, lists and *", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    const first = await handle(get("/hello.txt", { method: "HEAD" }));
    assert.ok(first);
    const etag = first.headers.get("ETag");
    assert.ok(etag);

    const matching = [
      etag,
      `"nope", ${etag}`,
      `"a",${etag} , "b"`,
      "*",
      etag.slice(2),
    ];
    for (const header of matching) {
      for (const method of ["GET", "HEAD"]) {
        const res = await handle(
          get("/hello.txt", { method, headers: { "If-None-Match": header } }),
        );
        assert.ok(res, header);
        assert.equal(res.status, 304, `${method} ${header}`);
        assert.equal(res.body, null);
        assert.equal(res.headers.get("ETag"), etag);
        assert.equal(
          res.headers.get("Cache-Control"),
          "public, max-age=0, must-revalidate",
        );
      }
    }

    const stale = await handle(
      get("/hello.txt", { headers: { "If-None-Match": 'W/"0-0", "x"' } }),
    );
    assert.ok(stale);
    assert.equal(stale.status, 200);
    assert.equal(await stale.text(), "hello world\n");
  });
});

Deno.test("If-Modified-Since applies only without If-None-Match", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    const future = new Date(Date.now() + 86_400_000).toUTCString();
    const past = new Date(0).toUTCString();

    const notModified = await handle(
      get("/hello.txt", { headers: { "If-Modified-Since": future } }),
    );
    assert.equal(notModified?.status, 304);

    const modified = await handle(
      get("/hello.txt", { headers: { "If-Modified-Since": past } }),
    );
    assert.ok(modified);
    assert.equal(modified.status, 200);
    await modified.body?.cancel();

    const both = await handle(get("/hello.txt", {
      headers: { "If-Modified-Since": future, "If-None-Match": '"other"' },
    }));
    assert.ok(both);
    assert.equal(both.status, 200);
    await both.body?.cancel();
  });
});

Deno.test("traversal, hidden files and escaping symlinks are never served", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    const attempts = [
      "/../secret.txt",
      "/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E%2Fsecret.txt",
      "/%2E%2e%2f%2e%2E%2fsecret.txt",
      "/..%2fsecret.txt",
      "/..%2F..%2Fsecret.txt",
      "/nested/..%2f..%2f..%2fsecret.txt",
      "/%252e%252e%252fsecret.txt",
      "/%252e%252e%252f%252e%252e%252fsecret.txt",
      "/..\\secret.txt",
      "/..%5csecret.txt",
      "/..%5C..%5Csecret.txt",
      "/hello.txt%00",
      "/hello.txt%00.png",
      "/%00../secret.txt",
      "/static/../../etc/passwd",
      "//etc/passwd",
      "//secret.txt",
      "/%2fsecret.txt",
      "/out-link.txt",
      "/out-dir/passwd",
      "/hidden-link.txt",
      "/.env",
      "/%2eenv",
      "/.git/config",
      "/.git/",
      "/nested/../.env",
      "/%",
      "/%zz",
      "/%E0%A4%A",
    ];
    for (const path of attempts) {
      const res = await handle(get(path));
      const body = res ? await res.text() : "";
      assert.ok(!body.includes(SECRET), `${path} leaked: ${body}`);
      assert.equal(res, null, `${path} should not be served`);
    }
  });
});

Deno.test("pathnameToSegments rejects raw paths that URL parsing would normalize", () => {
  const rejected = [
    "/../secret.txt",
    "/nested/../../secret.txt",
    "/./hello.txt",
    "/..\\secret.txt",
    "/nested\\..\\..\\secret.txt",
    "/%2e%2e/secret.txt",
    "/.%2e/secret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/hello.txt%00",
    "/hello.txt\0",
    "//etc/passwd",
    "/nested/",
    "/",
    "etc/passwd",
    "/.env",
    "/%",
  ];
  for (const path of rejected) {
    assert.equal(pathnameToSegments(path), null, path);
  }
  assert.deepEqual(pathnameToSegments("/nested/deep/data.json"), [
    "nested",
    "deep",
    "data.json",
  ]);
  assert.deepEqual(pathnameToSegments("/hello%20world.txt"), [
    "hello world.txt",
  ]);
  assert.deepEqual(pathnameToSegments("/%252e%252e%252f"), ["%2e%2e%2f"]);
});

Deno.test("directories, missing files and other methods are left to later routes", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    for (
      const path of [
        "/",
        "/nested",
        "/nested/",
        "/nested/deep",
        "/missing.txt",
        "/hello.txt/x",
      ]
    ) {
      assert.equal(await handle(get(path)), null, path);
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      assert.equal(await handle(get("/hello.txt", { method })), null, method);
    }
  });
});

Deno.test("names not in root are answered from the listing, without file system calls", async () => {
  await withFixture(async ({ root }) => {
    const handle = createStaticHandler({ root });
    // The first request reads the listing.
    assert.ok(await handle(get("/hello.txt")));
    const realPath = Deno.realPath;
    const stat = Deno.stat;
    let calls = 0;
    Deno.realPath = (path) => (calls++, realPath(path));
    Deno.stat = (path) => (calls++, stat(path));
    try {
      for (const path of ["/api/rooms/abc/ws", "/missing.txt", "/room-name", "/new"]) {
        assert.equal(await handle(get(path)), null, path);
      }
      assert.equal(calls, 0);
      // A listed name still gets every check.
      assert.equal(await handle(get("/out-link.txt")), null);
      assert.ok(calls > 0);
    } finally {
      Deno.realPath = realPath;
      Deno.stat = stat;
    }
  });
});

Deno.test("a file added to root is served once the listing is read again", async () => {
  await withFixture(async ({ root }) => {
    const fresh = createStaticHandler({ root, listingMaxAgeMs: 0 });
    const cached = createStaticHandler({ root, listingMaxAgeMs: 60_000 });
    assert.equal(await fresh(get("/added.txt")), null);
    assert.equal(await cached(get("/added.txt")), null);
    await Deno.writeTextFile(join(root, "added.txt"), "added");
    assert.equal(await (await fresh(get("/added.txt")))?.text(), "added");
    // Within maxAge a miss is answered from the listing read before the file existed.
    assert.equal(await cached(get("/added.txt")), null);
    // Removed files are refused by the checks behind the listing.
    await Deno.remove(join(root, "added.txt"));
    assert.equal(await fresh(get("/added.txt")), null);
  });
});

Deno.test("a missing root serves nothing instead of throwing", async () => {
  const handle = createStaticHandler({ root: "/definitely/not/a/real/root" });
  assert.equal(await handle(get("/hello.txt")), null);
});

Deno.test("serveBytes answers 200, HEAD and 304", async () => {
  const body = new TextEncoder().encode("export const x = 1;");
  const init = {
    contentType: "text/javascript; charset=utf-8",
    etag: '"abc123"',
    cacheControl: "public, max-age=31536000, immutable",
  };

  const ok = serveBytes(get("/_app/x.js"), body, init);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("Content-Type"), init.contentType);
  assert.equal(ok.headers.get("Content-Length"), String(body.byteLength));
  assert.equal(ok.headers.get("ETag"), '"abc123"');
  assert.equal(ok.headers.get("Cache-Control"), init.cacheControl);
  assert.equal(ok.headers.get("X-Content-Type-Options"), "nosniff");
  assert.equal(await ok.text(), "export const x = 1;");

  const head = serveBytes(get("/_app/x.js", { method: "HEAD" }), body, init);
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.equal(head.headers.get("Content-Length"), String(body.byteLength));

  for (const header of ['"abc123"', 'W/"abc123"', '"zzz", "abc123"', "*"]) {
    const res = serveBytes(
      get("/_app/x.js", { headers: { "If-None-Match": header } }),
      body,
      init,
    );
    assert.equal(res.status, 304, header);
    assert.equal(res.body, null);
    assert.equal(res.headers.get("ETag"), '"abc123"');
  }

  const stale = serveBytes(
    get("/_app/x.js", { headers: { "If-None-Match": '"old"' } }),
    body,
    init,
  );
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
});

Deno.test("serveBytes quotes bare tags and refuses other methods", async () => {
  const body = new Uint8Array([1, 2, 3]);
  const init = {
    contentType: "application/octet-stream",
    etag: "h1",
    cacheControl: "no-cache",
  };
  const res = serveBytes(get("/a.bin"), body, init);
  assert.equal(res.headers.get("ETag"), '"h1"');
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), body);

  const post = serveBytes(get("/a.bin", { method: "POST" }), body, init);
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("Allow"), "GET, HEAD");
});

Deno.test("serveBytes with precompressed forms: the accepted one, its own ETag, Vary", async () => {
  const body = new TextEncoder().encode("export const x = 1;".repeat(10));
  const encoded = { br: new Uint8Array([1, 2]), gzip: new Uint8Array([3, 4, 5]) };
  const init = {
    contentType: "text/javascript",
    etag: '"x.js"',
    cacheControl: "no-cache",
    encoded,
  };
  const cases: [string | null, string | null, Uint8Array, string][] = [
    ["gzip, br", "br", encoded.br, '"x.js-br"'],
    ["gzip", "gzip", encoded.gzip, '"x.js-gzip"'],
    ["br;q=0, gzip", "gzip", encoded.gzip, '"x.js-gzip"'],
    ["br;q=0, gzip;q=0", null, body, '"x.js"'],
    [null, null, body, '"x.js"'],
  ];
  for (const [accept, coding, bytes, etag] of cases) {
    const req = get("/x.js", { headers: accept === null ? {} : { "Accept-Encoding": accept } });
    const res = serveBytes(req, body, init);
    assert.equal(res.headers.get("Content-Encoding"), coding, String(accept));
    assert.equal(res.headers.get("ETag"), etag, String(accept));
    assert.equal(res.headers.get("Vary"), "Accept-Encoding", String(accept));
    assert.equal(res.headers.get("Content-Length"), String(bytes.byteLength), String(accept));
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes, String(accept));
  }
  const revalidated = serveBytes(
    get("/x.js", { headers: { "Accept-Encoding": "br", "If-None-Match": '"x.js-br"' } }),
    body,
    init,
  );
  assert.equal(revalidated.status, 304);
  assert.equal(revalidated.headers.get("Vary"), "Accept-Encoding");
  // Without precompressed forms nothing varies.
  const plain = serveBytes(get("/x.js", { headers: { "Accept-Encoding": "br" } }), body, {
    ...init,
    encoded: undefined,
  });
  assert.equal(plain.headers.get("Vary"), null);
  assert.equal(plain.headers.get("ETag"), '"x.js"');
  await plain.body?.cancel();
});

Deno.test("static files of compressible types vary on Accept-Encoding, in 200 and 304", async () => {
  await withFixture(async ({ root }) => {
    await Deno.writeFile(join(root, "photo.png"), new Uint8Array(64));
    const handle = createStaticHandler({ root, listingMaxAgeMs: 0 });
    for (const path of ["/hello.txt", "/app.js", "/nested/deep/data.json"]) {
      const res = (await handle(get(path)))!;
      assert.equal(res.headers.get("Vary"), "Accept-Encoding", path);
      const etag = res.headers.get("ETag")!;
      await res.body?.cancel();
      const again = (await handle(get(path, { headers: { "If-None-Match": etag } })))!;
      assert.equal(again.status, 304, path);
      assert.equal(again.headers.get("Vary"), "Accept-Encoding", path);
    }
    const photo = (await handle(get("/photo.png")))!;
    assert.equal(photo.headers.get("Vary"), null);
    await photo.body?.cancel();
  });
});
