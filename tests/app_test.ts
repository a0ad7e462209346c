/** HTTP tests of the real app: its manifest, config and routes, through the app's handler. */
import assert from "node:assert/strict";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";
import { BROWSER_SAFE_MODULES, importGraph } from "../framework/testing.ts";
import { isRoomId, newRoomId } from "../signaling/room_id.ts";

// Builds the islands in memory when _fresh/ is missing or stale: the tests run from a checkout.
const app = await createApp(manifest, config, { buildIfStale: true });

interface Fetched {
  status: number;
  headers: Headers;
  body: string;
}

async function fetchApp(path: string, init?: RequestInit): Promise<Fetched> {
  const res = await app.handler(new Request(new URL(path, "http://localhost"), init));
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The page's text with tags removed and the common entities decoded, for phrase checks. */
function textOf(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/g, "")
    .replace(/<[^>]*>/g, " ")
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ");
}

/**
 * POST /new and return the room id it redirects to. The server makes no key: it sends the
 * browser to `/<room>#new`, where the page makes one (islands/Meeting.tsx).
 */
async function createRoom(): Promise<string> {
  const res = await fetchApp("/new", { method: "POST" });
  assert.equal(res.status, 303);
  const location = res.headers.get("Location") ?? "";
  assert.match(location, /^\/[^/#]+#new$/);
  return location.slice(1, -"#new".length);
}

Deno.test("home page: 200 with the New meeting button and the join form", async () => {
  const res = await fetchApp("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Type") ?? "", /^text\/html/);
  const text = textOf(res.body);
  assert.match(text, /New meeting/);
  assert.match(text, /Join with a meeting link/);
  assert.match(text, /a meeting id alone is no longer enough/);
  assert.match(res.body, /<form method="post" action="\/new">/);
  assert.match(res.body, /data-island="JoinForm"/);
  // The Join field submits nothing to the server: a pasted link's key must stay in the browser.
  const field = res.body.match(/<input[^>]*id="join-room"[^>]*>/)?.[0] ?? "";
  assert.ok(field, "the Join field is rendered");
  assert.ok(!/\sname=/.test(field), `the Join field has a name, so a form GET sends it: ${field}`);
  assert.match(res.body, /<noscript>[\s\S]*Meetings need JavaScript[\s\S]*<\/noscript>/);
});

Deno.test("POST /new redirects to a new, valid room id each time", async () => {
  const a = await createRoom();
  const b = await createRoom();
  assert.ok(isRoomId(a), a);
  assert.ok(isRoomId(b), b);
  assert.notEqual(a, b);
});

Deno.test("GET /new is not allowed: 405 with Allow: POST", async () => {
  const res = await fetchApp("/new");
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("Allow"), "POST");
});

Deno.test("a valid room id shows the pre-join screen, and the page sends no Referer", async () => {
  const id = newRoomId();
  const res = await fetchApp(`/${id}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Referrer-Policy"), "no-referrer");
  assert.match(res.body, /<meta name="referrer" content="no-referrer"\/?>/);
  const text = textOf(res.body);
  assert.match(text, /Ready to join\?/);
  assert.ok(text.includes(id), "the room id is shown");
  assert.match(res.body, /data-island="Meeting"/);
  assert.match(res.body, /<meta name="robots" content="noindex"\/?>/);
});

Deno.test("malformed room ids get the friendly 404 page", async () => {
  const id = newRoomId();
  const paths = [
    "/abc",
    `/${id.toUpperCase()}`,
    `/${id.replaceAll("-", "")}`,
    `/${id}x`,
    "/<script>",
    '/"><img src=x onerror=alert(1)>',
    "/%3Cscript%3E",
    "/%ZZ",
  ];
  for (const path of paths) {
    const res = await fetchApp(path);
    assert.equal(res.status, 404, path);
    assert.match(textOf(res.body), /This meeting link isn't valid/, path);
    assert.ok(!/<script>|<img src/.test(res.body), `${path} is not reflected as markup`);
  }
});

Deno.test("other unknown pages get the generic 404 page", async () => {
  const res = await fetchApp("/some/where");
  assert.equal(res.status, 404);
  assert.match(textOf(res.body), /Page not found/);
});

Deno.test("?room= (old Join links): 400 saying the whole link is needed, input never echoed", async () => {
  const id = newRoomId();
  const key = "AAECAwQFBgcICQoLDA0ODw";
  const inputs = [
    `https://meet.example/${id}#${key}`,
    `http://localhost:8000/${id}/?utm=x#${key}`,
    ` ${id.toUpperCase()} `,
    id,
    'garbage"><b>x',
  ];
  for (const input of inputs) {
    const res = await fetchApp(`/?room=${encodeURIComponent(input)}`);
    assert.equal(res.status, 400, input);
    assert.equal(res.headers.get("Location"), null, input);
    assert.match(textOf(res.body), /Joining needs the whole meeting link, with its key after #/);
    assert.match(res.body, /aria-invalid="true"/);
    // Neither the key nor anything else typed comes back: the page never holds what was sent.
    for (const part of [key, id, "garbage", "<b>x"]) {
      assert.ok(!res.body.includes(part), `${input}: the page echoes ${part}`);
    }
  }
});

Deno.test("/favicon.svg is served as SVG", async () => {
  const res = await fetchApp("/favicon.svg");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Type") ?? "", /^image\/svg\+xml/);
  assert.match(res.body, /<svg[\s>]/);
});

Deno.test("island bundles referenced by the home page are served", async () => {
  const home = await fetchApp("/");
  const urls = [...home.body.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) =>
    m[1]
  );
  assert.ok(urls.length >= 2, "runtime and JoinForm at least");
  for (const url of urls) {
    const res = await fetchApp(url);
    assert.equal(res.status, 200, url);
    assert.match(res.headers.get("Content-Type") ?? "", /javascript/);
  }
});

Deno.test("main.ts, the production entry, imports neither the bundler nor esbuild up front", async () => {
  const graph = await importGraph("main.ts");
  assert.ok(graph.has("framework/server.ts"), "the walk reaches the server");
  assert.ok(!graph.has("framework/bundle.ts"), "main.ts imports the bundler statically");
  assert.ok(!graph.has("npm:esbuild"), "main.ts imports esbuild statically");
});

Deno.test("islands reach no server code: only browser-safe framework modules, no node:", async () => {
  const islands = Object.keys(manifest.islands);
  assert.ok(islands.length > 0);
  for (const island of islands) {
    // Every kind of import: esbuild bundles dynamic imports too.
    const graph = await importGraph(island.slice(2), { dynamic: true, types: true });
    const leaks = [...graph].filter((m) =>
      (m.startsWith("framework/") && !BROWSER_SAFE_MODULES.includes(m)) ||
      m.startsWith("node:") ||
      ["npm:esbuild", "npm:@twind/core", "npm:preact-render-to-string"].includes(m)
    );
    assert.deepEqual(leaks, [], island);
  }
});
