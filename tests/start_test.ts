/**
 * `deno task start` as a user runs it: the real task from deno.json, in a copy of the checkout
 * without `_fresh/`, on a free port given by PORT and HOSTNAME. It builds the islands (with their
 * `.br` and `.gz` forms), then serves with `deno serve` (one isolate), the only child of `deno task`:
 * the build step has exited, so no parent process of the server stays behind besides `deno task`.
 */
import assert from "node:assert/strict";
import { brotliDecompressSync } from "node:zlib";
import { serveV8FlagsArg } from "../framework/v8_flags.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { copyProject } from "./project_copy.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitUntilServing(origin: string, server: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  let exited = false;
  server.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error("deno task start exited before serving");
    try {
      const res = await fetch(origin + "/");
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100)); // polling a port that is not open yet
    }
  }
  throw new Error(`deno task start did not answer on ${origin} within 120 s`);
}

/** Linux: the processes whose parent is `pid`, with their command lines. */
async function childrenOf(pid: number): Promise<{ pid: number; argv: string[] }[]> {
  const children: { pid: number; argv: string[] }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // Field 4 (ppid) follows the command name in parentheses, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      children.push({ pid: Number(entry.name), argv: cmdline.split("\0").filter(Boolean) });
    } catch {
      // The process exited while we looked.
    }
  }
  return children;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("deno task start builds, then serves with deno serve as the only child of deno task", async () => {
  await using project = await copyProject();
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: project.root,
    env: {
      PORT: String(port),
      HOSTNAME: "127.0.0.1",
      MOOZ_KV: ":memory:",
      DENO_JOBS: "",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(server.stdout).text(),
    new Response(server.stderr).text(),
  ]);
  let serverPid = 0;
  try {
    await waitUntilServing(origin, server);

    if (Deno.build.os === "linux") {
      // Serving means the build step is done: `deno serve` is all that runs under `deno task`.
      const children = await childrenOf(server.pid);
      assert.equal(children.length, 1, JSON.stringify(children));
      const [serve] = children;
      serverPid = serve.pid;
      assert.equal(serve.argv[1], "serve", serve.argv.join(" "));
      // DENO_JOBS is unset here: one isolate (framework/cli.ts says why).
      assert.ok(!serve.argv.includes("--parallel"), serve.argv.join(" "));
      for (const flag of [`--port=${port}`, "--host=127.0.0.1", serveV8FlagsArg()]) {
        assert.ok(serve.argv.includes(flag), `${flag} in ${serve.argv.join(" ")}`);
      }
      assert.equal(serve.argv.at(-1), "main.ts");
      assert.deepEqual(await childrenOf(serve.pid), [], "deno serve starts no processes");
    }

    const landing = await fetch(origin + "/");
    assert.equal(landing.status, 200);
    const html = await landing.text();
    assert.match(html, /New meeting/);
    const bundles = [...html.matchAll(/href="(\/_frsh\/js\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(bundles.length > 0, "the landing page preloads its island bundles");
    for (const url of bundles) {
      // The build at start wrote the compressed forms too.
      const file = `${project.root}/_fresh/js/${url.slice("/_frsh/js/".length)}`;
      assert.ok(await exists(`${file}.br`), `${file}.br`);
      assert.ok(await exists(`${file}.gz`), `${file}.gz`);
      const res = await fetch(origin + url, { headers: { "Accept-Encoding": "br" } });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      // fetch() decodes br itself; the decoded bytes must be the file on disk.
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), await Deno.readFile(file), url);
      const br = await Deno.readFile(`${file}.br`);
      assert.deepEqual(new Uint8Array(brotliDecompressSync(br)), await Deno.readFile(file), url);
    }

    const room = await fetch(`${origin}/${newRoomId()}`);
    assert.equal(room.status, 200);
    assert.match(await room.text(), /Ready to join\?/);

    const created = await fetch(origin + "/new", { method: "POST", redirect: "manual" });
    assert.equal(created.status, 303);
    await created.body?.cancel();
  } finally {
    server.kill("SIGTERM");
    await server.status;
    const [out, err] = await output;
    if (!/Listening on/.test(out + err)) console.error(out, err);
    assert.match(out + err, /Building islands \(no prebuilt bundles\)/);
  }
  if (serverPid) {
    // deno task passed the SIGTERM on: the server does not outlive it.
    const deadline = Date.now() + 30_000;
    while (await exists(`/proc/${serverPid}/cmdline`) && !(await isZombie(serverPid))) {
      if (Date.now() > deadline) throw new Error(`deno serve (${serverPid}) outlived deno task`);
      await new Promise((r) => setTimeout(r, 50)); // polling for the process to be gone
    }
  }
});

async function isZombie(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat === "" || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}
