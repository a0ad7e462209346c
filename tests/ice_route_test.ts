/** `GET /api/ice` through the real app: manifest, framework routing and the route module. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";

const SECRET = "route-test-secret";
const ENV = {
  MOOZ_STUN_URLS: "stun:stun.example.org:3478",
  MOOZ_TURN_URLS: "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
  MOOZ_TURN_SECRET: SECRET,
  MOOZ_TURN_TTL_S: "900",
  MOOZ_ICE_TRANSPORT_POLICY: "relay",
};

const app = await createApp(manifest, config, { buildIfStale: true });

function fetchApp(path: string, init?: RequestInit): Promise<Response> {
  return Promise.resolve(app.handler(new Request(new URL(path, "http://localhost"), init)));
}

/**
 * The route reads its settings once per isolate (each test file runs in its own isolate), on its
 * first request: set them for that request, then put the environment back as it was.
 */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("GET /api/ice: configured STUN and TURN, fresh credentials, never cached", async () => {
  const before = Date.now();
  const res = await withEnv(ENV, () => fetchApp("/api/ice"));
  const after = Date.now();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
  assert.equal(res.headers.get("Cache-Control"), "no-store");
  const text = await res.text();
  assert.doesNotMatch(text, new RegExp(SECRET), "the TURN secret reached the browser");

  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body).sort(), ["expiresAt", "iceServers", "iceTransportPolicy"]);
  assert.equal(body.iceTransportPolicy, "relay");
  assert.ok(body.expiresAt >= Math.floor(before / 1000) * 1000 + 900_000);
  assert.ok(body.expiresAt <= after + 900_000);
  const [stun, turn] = body.iceServers;
  assert.deepEqual(stun, { urls: ["stun:stun.example.org:3478"] });
  assert.deepEqual(turn.urls, [
    "turn:turn.example.org:3478?transport=udp",
    "turns:turn.example.org:5349",
  ]);
  assert.equal(turn.username, `${body.expiresAt / 1000}:mooz`);
  assert.equal(turn.credential, createHmac("sha1", SECRET).update(turn.username).digest("base64"));
});

Deno.test("GET /api/ice keeps the settings it read first; HEAD works, POST is refused", async () => {
  // Changed settings are not read again by this isolate: the first request's still apply.
  const res = await withEnv(
    { ...ENV, MOOZ_ICE_TRANSPORT_POLICY: "all" },
    () => fetchApp("/api/ice"),
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.iceTransportPolicy, "relay");
  assert.equal(body.iceServers.length, 2);

  const head = await fetchApp("/api/ice", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("Cache-Control"), "no-store");
  assert.equal(await head.text(), "");

  const post = await fetchApp("/api/ice", { method: "POST" });
  assert.equal(post.status, 405);
  assert.match(post.headers.get("Allow") ?? "", /GET/);
  await post.body?.cancel();
});

Deno.test("GET /api/ice with malformed settings: 500 without details, the variable in the log", async () => {
  // A separate process, since this isolate has already read its settings.
  const script = `
    import config from "./fresh.config.ts";
    import manifest from "./fresh.gen.ts";
    import { createApp } from "./framework/server.ts";
    const app = await createApp(manifest, config, { buildIfStale: true });
    for (let i = 0; i < 2; i++) {
      const res = await app.handler(new Request("http://localhost/api/ice"));
      console.log(JSON.stringify({
        status: res.status,
        cacheControl: res.headers.get("Cache-Control"),
        body: await res.json(),
      }));
    }`;
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("..", import.meta.url),
    env: { MOOZ_TURN_URLS: "turn:turn.example.org:3478", MOOZ_TURN_SECRET: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(stderr);
  const lines = new TextDecoder().decode(stdout).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, log);
  for (const line of lines) {
    assert.equal(line.status, 500);
    assert.equal(line.cacheControl, "no-store");
    assert.match(line.body.error, /ICE configuration is invalid/);
    assert.doesNotMatch(line.body.error, /MOOZ_/);
  }
  // Logged once, naming the variable.
  assert.equal(
    log.match(/ICE configuration is invalid: MOOZ_TURN_URLS is set but/g)?.length,
    1,
    log,
  );
});
