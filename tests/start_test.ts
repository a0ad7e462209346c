/**
 * `deno task start` as a user runs it: the real command from deno.json, `deno serve --parallel`
 * on a free port, serving the landing page, a room page and the island bundles.
 */
import assert from "node:assert/strict";
import { newRoomId } from "../signaling/room_id.ts";

const ROOT = new URL("..", import.meta.url).pathname;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The `start` task's command line, split into words (it contains no quoting). */
async function startCommand(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const words = (config.tasks.start as string).split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1);
}

async function waitUntilServing(origin: string, server: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
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
  throw new Error(`deno task start did not answer on ${origin} within 60 s`);
}

Deno.test("deno task start serves the landing page, a room page and the islands", async () => {
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = new Deno.Command(Deno.execPath(), {
    args: await startCommand(),
    cwd: ROOT,
    env: { PORT: String(port), HOSTNAME: "127.0.0.1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(server.stdout).text(),
    new Response(server.stderr).text(),
  ]);
  try {
    await waitUntilServing(origin, server);

    const landing = await fetch(origin + "/");
    assert.equal(landing.status, 200);
    const html = await landing.text();
    assert.match(html, /New meeting/);
    const bundles = [...html.matchAll(/href="(\/_frsh\/js\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(bundles.length > 0, "the landing page preloads its island bundles");
    for (const url of bundles) {
      const res = await fetch(origin + url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      await res.body?.cancel();
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
  }
});
