/**
 * The server run the way Deno Deploy runs it, in a copy of the checkout: the build step
 * `deno task build`, then `deno serve main.ts` with no permission to write files or run
 * programs (so no bundler at start) and rooms in `MOOZ_KV=:memory:`. Without the build step the
 * server must refuse to start and say what to run.
 */
import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { PEER_ID_PATTERN } from "../signaling/protocol.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { join } from "../signaling/testing.ts";
import { buildIfStale } from "./prebuilt.ts";
import { copyProject } from "./project_copy.ts";

/** What Deno Deploy allows an app: network, reading its own files, the environment. */
const DEPLOY_PERMISSIONS = [
  "--deny-run",
  "--deny-write",
  "--deny-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-env",
];

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface Served {
  origin: string;
  process: Deno.ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
}

function serveLikeDeploy(root: string): Served {
  const port = freePort();
  const process = new Deno.Command(Deno.execPath(), {
    args: ["serve", ...DEPLOY_PERMISSIONS, `--port=${port}`, "--host=127.0.0.1", "main.ts"],
    cwd: root,
    env: { MOOZ_KV: ":memory:", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([collect(process.stdout), collect(process.stderr)]);
  const exited = process.status.then(async (s) => {
    await drained;
    return s.code;
  });
  return { origin: `http://127.0.0.1:${port}`, process, output: () => text, exited };
}

/** Waits until /healthz says 200, or throws with the server's output if it exits first. */
async function waitHealthy(served: Served): Promise<void> {
  let exited = false;
  served.exited.then(() => (exited = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the server exited before serving:\n${served.output()}`);
    try {
      const res = await fetch(`${served.origin}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100)); // polling a port that is not open yet
  }
  throw new Error(`no healthy /healthz within 60 s:\n${served.output()}`);
}

/** GET with an explicit Accept-Encoding; the body as it came over the wire, not decoded. */
async function getRaw(url: string, acceptEncoding: string) {
  // Deno's fetch decodes br and gzip bodies itself; a raw HTTP/1.1 request keeps them as sent.
  const { hostname, port, pathname, search } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const request = `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
      `Accept-Encoding: ${acceptEncoding}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
    const end = indexOf(bytes, new TextEncoder().encode("\r\n\r\n"));
    const head = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
    const status = Number(head[0].split(" ")[1]);
    const headers = new Headers();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    assert.equal(headers.get("transfer-encoding"), null, "a body of known length");
    return { status, headers, body: bytes.subarray(end + 4) };
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server already */ }
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("no end of headers");
}

function decode(body: Uint8Array, coding: string | null): Uint8Array {
  if (coding === "br") return new Uint8Array(brotliDecompressSync(body));
  if (coding === "gzip") return new Uint8Array(gunzipSync(body));
  return body;
}

Deno.test("deployed as on Deno Deploy: deno task build, then deno serve without write or run", async (t) => {
  await using project = await copyProject();

  await t.step("without _fresh/ the server exits and says to run deno task build", async () => {
    const served = serveLikeDeploy(project.root);
    let code: number;
    const timer = setTimeout(() => served.process.kill("SIGKILL"), 60_000);
    try {
      code = await served.exited;
    } finally {
      clearTimeout(timer);
    }
    assert.notEqual(code, 0, served.output());
    assert.match(served.output(), /no prebuilt bundles\. Run `deno task build` before starting/);
    assert.doesNotMatch(served.output(), /Listening on/);
  });

  await t.step("deno task build writes _fresh/ with .br and .gz beside each bundle", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "build"],
      cwd: project.root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    assert.match(text, /Built \d+ islands into _fresh\//);
    const manifest = JSON.parse(await Deno.readTextFile(`${project.root}/_fresh/manifest.json`));
    for (const name of Object.keys(manifest.imports)) {
      assert.deepEqual(manifest.precompressed[name].includes("br"), true, name);
    }
    // Built once; the start task's check finds it up to date.
    assert.match(await buildIfStale(project.root), /up to date/);
  });

  const served = serveLikeDeploy(project.root);
  try {
    await waitHealthy(served);
    const { origin } = served;

    await t.step("the landing page, compressed", async () => {
      const res = await getRaw(`${origin}/`, "gzip, deflate, br, zstd");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.equal(res.headers.get("vary"), "Accept-Encoding");
      assert.equal(res.headers.get("content-length"), String(res.body.byteLength));
      assert.match(new TextDecoder().decode(decode(res.body, "gzip")), /New meeting/);
    });

    await t.step("the meeting page and its island bundles, br and gzip", async () => {
      const res = await fetch(`${origin}/${newRoomId()}`);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.match(html, /Ready to join\?/);
      const bundles = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) =>
        m[1]
      );
      assert.ok(bundles.length > 1, "the meeting page preloads its island bundles");
      for (const url of bundles) {
        const plain = await getRaw(origin + url, "identity");
        assert.equal(plain.status, 200, url);
        assert.equal(plain.headers.get("content-encoding"), null, url);
        for (const coding of ["br", "gzip"]) {
          const accept = coding === "br" ? "gzip, deflate, br, zstd" : "br;q=0, gzip";
          const got = await getRaw(origin + url, accept);
          assert.equal(got.status, 200, url);
          assert.equal(got.headers.get("content-encoding"), coding, `${url} ${accept}`);
          assert.equal(got.headers.get("vary"), "Accept-Encoding", url);
          assert.equal(got.headers.get("content-length"), String(got.body.byteLength), url);
          assert.ok(got.body.byteLength < plain.body.byteLength, `${url} ${coding} is smaller`);
          assert.deepEqual(decode(got.body, coding), plain.body, `${url} ${coding}`);
        }
      }
    });

    await t.step("an unknown page is a 404 page", async () => {
      const res = await fetch(`${origin}/no/such/page`);
      assert.equal(res.status, 404);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      await res.body?.cancel();
      const bundle = await fetch(`${origin}/_frsh/js/nope.js`);
      assert.equal(bundle.status, 404);
      await bundle.body?.cancel();
    });

    await t.step("/healthz is ok", async () => {
      const res = await fetch(`${origin}/healthz`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).ok, true);
    });

    await t.step("two sockets join one room and exchange a signal", async () => {
      const room = newRoomId();
      const ws = `${origin.replace("http", "ws")}/api/rooms/${room}/ws`;
      await using ada = await join(ws, "Ada", { origin });
      await using bob = await join(ws, "Bob", { origin });
      assert.match(ada.peer, PEER_ID_PATTERN);
      assert.deepEqual(bob.welcome.members.map((m) => m.name), ["Ada", "Bob"]);
      ada.socket.send({ type: "signal", to: bob.peer, payload: { hello: "deployed" } });
      assert.deepEqual((await bob.socket.next("signal")).payload, { hello: "deployed" });
    });

    assert.doesNotMatch(served.output(), /PermissionDenied|NotCapable|Requires .* access/);
  } catch (err) {
    console.error(`--- server output ---\n${served.output()}`);
    throw err;
  } finally {
    served.process.kill("SIGTERM");
    await served.exited;
  }
});
