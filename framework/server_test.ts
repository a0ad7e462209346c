import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type ComponentChildren, type ComponentType, h } from "preact";
import { Signal, signal } from "@preact/signals";
import { Head } from "./runtime.ts";
import { deserialize } from "./serializer.ts";
import { writeBuild } from "./build.ts";
import { buildIslands } from "./bundle.ts";
import { type App, createApp } from "./server.ts";
import { createTempProject, type TempProject } from "./testing.ts";
import type {
  AppProps,
  FreshConfig,
  Handler,
  Handlers,
  IslandModule,
  Manifest,
  MiddlewareModule,
  PageProps,
  RouteModule,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

interface Fetched {
  status: number;
  headers: Headers;
  /** The whole body as text ("" when there is none). */
  body: string;
  hasBody: boolean;
}

interface TestApp extends AsyncDisposable {
  app: App;
  project: TempProject;
  /** Calls the app's handler and reads the whole body. */
  fetch(path: string, init?: RequestInit): Promise<Fetched>;
}

interface TestAppOptions {
  config?: FreshConfig;
  /** Files of the temp project, e.g. `static/hello.txt`. */
  files?: Record<string, string>;
  /** An existing project (for island tests); it stays the caller's to remove. */
  project?: TempProject;
  islands?: Record<string, IslandModule>;
}

/** An app over an in-memory manifest whose root is a temp project folder. */
async function testApp(
  routes: Manifest["routes"],
  options: TestAppOptions = {},
): Promise<TestApp> {
  const ownProject = !options.project;
  const project = options.project ?? await createTempProject(options.files ?? {});
  try {
    const manifest: Manifest = {
      routes,
      islands: options.islands ?? {},
      baseUrl: project.manifestUrl,
    };
    const app = await createApp(manifest, options.config ?? {}, { buildIfStale: true });
    return {
      app,
      project,
      fetch: (path, init) => call(app, path, init),
      async [Symbol.asyncDispose]() {
        if (ownProject) await project[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    if (ownProject) await project[Symbol.asyncDispose]();
    throw e;
  }
}

async function call(app: App, path: string, init?: RequestInit): Promise<Fetched> {
  const res = await app.handler(new Request(new URL(path, "http://localhost"), init));
  const hasBody = res.body !== null;
  return { status: res.status, headers: res.headers, body: await res.text(), hasBody };
}

/** A route module with a page component and optional handlers. */
function route(page?: ComponentType<PageProps>, handler?: Handlers): RouteModule {
  return { default: page, handler };
}

/** A page that renders `text` in a <main>. */
function textPage(text: string | ((props: PageProps) => string)): RouteModule {
  return route((props) => h("main", null, typeof text === "string" ? text : text(props)));
}

function middleware(...handlers: Handler[]): MiddlewareModule {
  return { handler: handlers };
}

/** Runs `fn` with console.error captured; returns what was logged, one string per call. */
async function captureErrors(fn: () => Promise<void>): Promise<string[]> {
  const logged: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    logged.push(
      args.map((a) => a instanceof Error ? `${a.message}\n${a.stack}` : String(a)).join(" "),
    );
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return logged;
}

/** The nonce of a Content-Security-Policy header (script-src and style-src must agree). */
function cspNonce(headers: Headers): string {
  const csp = headers.get("Content-Security-Policy") ?? "";
  const script = csp.match(/script-src [^;]*'nonce-([^']+)'/)?.[1];
  const style = csp.match(/style-src [^;]*'nonce-([^']+)'/)?.[1];
  assert.ok(script, `no script nonce in ${csp}`);
  assert.equal(style, script);
  return script;
}

/** Every inline `<script>` and `<style>` start tag of a page. */
function inlineTags(html: string): string[] {
  return [...html.matchAll(/<(script|style)\b[^>]*>/g)].map((m) => m[0]);
}

function assertSecurityHeaders(res: Fetched, what: string) {
  assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff", what);
  assert.equal(res.headers.get("Referrer-Policy"), "strict-origin-when-cross-origin", what);
  assert.match(res.headers.get("Content-Security-Policy") ?? "", /frame-ancestors 'none'/, what);
  assert.match(res.headers.get("Content-Security-Policy") ?? "", /default-src 'self'/, what);
}

/** `<head>...</head>` of a page. */
function headOf(html: string): string {
  const m = html.match(/<head>([\s\S]*)<\/head>/);
  assert.ok(m, "page has a <head>");
  return m[1];
}

/** Contents of the page's `<style nonce>` (the extracted CSS). */
function styleOf(html: string): string {
  const m = html.match(/<style nonce="[^"]+">([\s\S]*?)<\/style>/);
  assert.ok(m, "page has a <style nonce>");
  return m[1];
}

// ---------------------------------------------------------------------------------------------
// Pages, methods and handlers

Deno.test("GET of a page: 200, HTML document", async () => {
  await using t = await testApp({ "./routes/index.tsx": textPage("Hello page") });
  const res = await t.fetch("/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Type"), "text/html; charset=utf-8");
  assert.match(res.body, /^<!DOCTYPE html><html lang="en"><head>/);
  assert.match(res.body, /<body><main>Hello page<\/main>[\s\S]*<\/body><\/html>$/);
});

Deno.test("HEAD is answered by the GET handler, without a body, with the same headers", async () => {
  const seen: string[] = [];
  await using t = await testApp({
    "./routes/index.tsx": route(() => h("p", null, "body text"), {
      GET(req, ctx) {
        seen.push(req.method);
        return ctx.render(undefined, { headers: { "X-Custom": "yes" } });
      },
    }),
  });
  const get = await t.fetch("/");
  const head = await t.fetch("/", { method: "HEAD" });
  assert.deepEqual(seen, ["GET", "HEAD"]);
  assert.equal(head.status, 200);
  assert.equal(head.hasBody, false);
  assert.equal(head.body, "");
  const withoutNonce = (res: Fetched) =>
    [...res.headers].map(([k, v]) => [k, v.replaceAll(cspNonce(res.headers), "N")]);
  assert.deepEqual(withoutNonce(head), withoutNonce(get));
  assert.equal(head.headers.get("X-Custom"), "yes");
});

Deno.test("405 lists the allowed methods, with HEAD wherever GET works", async () => {
  const ok: Handler = () => new Response("ok");
  await using t = await testApp({
    "./routes/new.ts": route(undefined, { POST: ok }),
    "./routes/page.tsx": textPage("page"),
    "./routes/item.tsx": route(() => h("p", null), { POST: ok, DELETE: ok }),
    "./routes/api.ts": route(undefined, { GET: ok, PUT: ok }),
  });
  const cases: [string, string, string][] = [
    ["GET", "/new", "POST"],
    ["HEAD", "/new", "POST"],
    ["POST", "/page", "GET, HEAD"],
    ["PUT", "/item", "GET, HEAD, POST, DELETE"],
    ["DELETE", "/api", "GET, HEAD, PUT"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await t.fetch(path, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("Allow"), allow, `${method} ${path}`);
    assertSecurityHeaders(res, `${method} ${path}`);
  }
});

Deno.test("a handler object dispatches by method; ctx.render passes data to the page", async () => {
  await using t = await testApp({
    "./routes/item.tsx": route(
      ({ data }: PageProps) => h("p", null, `data=${(data as { n: number }).n}`),
      {
        GET: (_req, ctx) => ctx.render({ n: 7 }),
        async POST(req) {
          return Response.json({ got: await req.text() }, { status: 201 });
        },
      },
    ),
  });
  const get = await t.fetch("/item");
  assert.equal(get.status, 200);
  assert.match(get.body, /<p>data=7<\/p>/);
  const post = await t.fetch("/item", { method: "POST", body: "hi" });
  assert.equal(post.status, 201);
  assert.deepEqual(JSON.parse(post.body), { got: "hi" });
});

Deno.test("a function handler answers every method", async () => {
  await using t = await testApp({
    "./routes/echo.ts": route(undefined, (req) => new Response(`method=${req.method}`)),
  });
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    const res = await t.fetch("/echo", { method });
    assert.equal(res.status, 200, method);
    assert.equal(res.body, `method=${method}`);
  }
  const head = await t.fetch("/echo", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.hasBody, false);
});

Deno.test("ctx.params and page params are decoded route parameters", async () => {
  await using t = await testApp({
    "./routes/rooms/[id].tsx": route(
      ({ params }: PageProps) => h("p", null, `page:${params.id}`),
      { GET: (_req, ctx) => ctx.render(undefined, { headers: { "X-Id": ctx.params.id } }) },
    ),
    "./routes/files/[...path].ts": route(undefined, (_req, ctx) => Response.json(ctx.params)),
  });
  const room = await t.fetch("/rooms/a%20b");
  assert.equal(room.headers.get("X-Id"), "a b");
  assert.match(room.body, /<p>page:a b<\/p>/);
  const files = await t.fetch("/files/x/y.txt");
  assert.deepEqual(JSON.parse(files.body), { path: "x/y.txt" });
});

Deno.test("state set by middlewares, outermost first, reaches the page", async () => {
  await using t = await testApp({
    "./routes/_middleware.ts": middleware((_req, ctx) => {
      ctx.state.user = "ada";
      return ctx.next();
    }),
    "./routes/admin/_middleware.ts": middleware((_req, ctx) => {
      ctx.state.role = `admin of ${ctx.state.user}`;
      return ctx.next();
    }),
    "./routes/admin/index.tsx": textPage(({ state }) => `${state.user} / ${state.role}`),
  });
  const res = await t.fetch("/admin");
  assert.match(res.body, /<main>ada \/ admin of ada<\/main>/);
});

Deno.test("middleware can answer on its own or change the response of the rest", async () => {
  let pageRendered = 0;
  await using t = await testApp({
    "./routes/_middleware.ts": middleware(async (req, ctx) => {
      if (new URL(req.url).searchParams.has("deny")) {
        return new Response("denied", { status: 401 });
      }
      const res = await ctx.next();
      res.headers.set("X-Wrapped", "yes");
      return res;
    }),
    "./routes/index.tsx": textPage(() => `rendered ${++pageRendered}`),
  });
  const denied = await t.fetch("/?deny");
  assert.equal(denied.status, 401);
  assert.equal(denied.body, "denied");
  assert.equal(pageRendered, 0, "the page did not run");
  assertSecurityHeaders(denied, "short-circuited");

  const wrapped = await t.fetch("/");
  assert.equal(wrapped.status, 200);
  assert.equal(wrapped.headers.get("X-Wrapped"), "yes");
  assert.match(wrapped.body, /rendered 1/);
});

// ---------------------------------------------------------------------------------------------
// 404 and 500

Deno.test("unknown paths render _404 with status 404, after the root middleware", async () => {
  await using t = await testApp({
    "./routes/_middleware.ts": middleware(async (_req, ctx) => {
      const res = await ctx.next();
      res.headers.set("X-Seen", "root");
      return res;
    }),
    "./routes/_404.tsx": textPage(({ url }) => `Nothing at ${url.pathname}`),
    "./routes/index.tsx": textPage("home"),
    "./routes/[room].tsx": route(() => h("p", null, "room"), {
      GET: (_req, ctx) => ctx.params.room === "ok" ? ctx.render() : ctx.renderNotFound(),
    }),
  });
  const missing = await t.fetch("/no/such/page");
  assert.equal(missing.status, 404);
  assert.match(missing.body, /<main>Nothing at \/no\/such\/page<\/main>/);
  assert.equal(missing.headers.get("X-Seen"), "root");
  assertSecurityHeaders(missing, "404");

  const fromHandler = await t.fetch("/nope");
  assert.equal(fromHandler.status, 404);
  assert.match(fromHandler.body, /Nothing at \/nope/);
  assert.equal((await t.fetch("/ok")).status, 200);
});

Deno.test("without _404 a default 404 page is rendered", async () => {
  await using t = await testApp({ "./routes/index.tsx": textPage("home") });
  const res = await t.fetch("/missing");
  assert.equal(res.status, 404);
  assert.match(res.headers.get("Content-Type") ?? "", /^text\/html/);
  assert.match(res.body, /404: page not found/);
});

const SECRET = "db password is hunter2";

/** Routes whose handler throws, with a _500 page that shows whatever error it is given. */
function failingRoutes(errorPage?: ComponentType<PageProps>): Manifest["routes"] {
  return {
    "./routes/boom.ts": route(undefined, () => {
      throw new Error(SECRET);
    }),
    "./routes/_500.tsx": route(
      errorPage ??
        (({ error }: PageProps) =>
          h(
            "main",
            null,
            "Custom error page",
            error instanceof Error && h("pre", null, error.stack),
          )),
    ),
  };
}

Deno.test("a thrown error renders _500 with status 500 and is logged with method and path", async () => {
  await using t = await testApp(failingRoutes());
  let res!: Fetched;
  const logged = await captureErrors(async () => {
    res = await t.fetch("/boom?x=1", { method: "POST" });
  });
  assert.equal(res.status, 500);
  assert.match(res.body, /Custom error page/);
  assertSecurityHeaders(res, "500");
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^POST \/boom\?x=1 failed:/);
  assert.ok(logged[0].includes(SECRET), "the error itself is logged");
});

Deno.test("in production the 500 page gets no error details; in dev it does", async () => {
  await using prod = await testApp(failingRoutes());
  let prodRes!: Fetched;
  await captureErrors(async () => {
    prodRes = await prod.fetch("/boom");
  });
  assert.equal(prodRes.status, 500);
  assert.ok(!prodRes.body.includes(SECRET), "no error message");
  assert.ok(!/\bat .*:\d+:\d+/.test(prodRes.body), "no stack trace");
  assert.ok(!prodRes.body.includes("<pre>"));

  await using dev = await testApp(failingRoutes(), { config: { dev: true } });
  let devRes!: Fetched;
  await captureErrors(async () => {
    devRes = await dev.fetch("/boom");
  });
  assert.equal(devRes.status, 500);
  assert.ok(devRes.body.includes(SECRET), "dev shows the error");
  assert.match(devRes.body, /<pre>Error: /);
});

Deno.test("when _500 throws too, a plain 500 is sent and both errors are logged", async () => {
  await using t = await testApp(failingRoutes(() => {
    throw new Error("the error page broke");
  }));
  let res!: Fetched;
  const logged = await captureErrors(async () => {
    res = await t.fetch("/boom");
  });
  assert.equal(res.status, 500);
  assert.equal(res.body, "Internal Server Error");
  assert.ok(!res.body.includes(SECRET));
  assertSecurityHeaders(res, "plain 500");
  assert.equal(logged.length, 2);
  assert.match(logged[0], /^GET \/boom failed:/);
  assert.match(logged[1], /_500 page failed too:[\s\S]*the error page broke/);
});

Deno.test("an error thrown by a middleware renders _500 too", async () => {
  await using t = await testApp({
    ...failingRoutes(),
    "./routes/_middleware.ts": middleware(() => {
      throw new Error(SECRET);
    }),
    "./routes/index.tsx": textPage("home"),
  });
  let res!: Fetched;
  const logged = await captureErrors(async () => {
    res = await t.fetch("/");
  });
  assert.equal(res.status, 500);
  assert.match(res.body, /Custom error page/);
  assert.match(logged[0], /^GET \/ failed:/);
});

// ---------------------------------------------------------------------------------------------
// Security headers, CSP nonces, redirects

Deno.test("the CSP nonce matches every inline script and style, and changes per response", async () => {
  // Dev mode adds the live reload script, so the page has an inline script without islands.
  await using t = await testApp({
    "./routes/index.tsx": textPage("home"),
  }, { config: { dev: true } });
  const a = await t.fetch("/");
  const b = await t.fetch("/");
  const nonceA = cspNonce(a.headers);
  assert.notEqual(cspNonce(b.headers), nonceA);
  assert.ok(nonceA.length >= 22, "at least 128 bits");
  const tags = inlineTags(a.body);
  assert.ok(tags.some((tag) => tag.startsWith("<script")), "dev page has a script");
  assert.ok(tags.some((tag) => tag.startsWith("<style")));
  for (const tag of tags) assert.ok(tag.includes(` nonce="${nonceA}"`), tag);
});

Deno.test("security headers are on every kind of response", async () => {
  await using t = await testApp({
    "./routes/index.tsx": textPage("home"),
    "./routes/api.ts": route(undefined, { GET: () => Response.json({ ok: true }) }),
  }, { files: { "static/hello.txt": "hello" } });
  for (const path of ["/", "/api", "/hello.txt", "/missing", "/_frsh/js/nope.js"]) {
    assertSecurityHeaders(await t.fetch(path), path);
  }
  const page = await t.fetch("/");
  assert.equal(page.headers.get("X-Frame-Options"), "DENY");
  assert.match(page.headers.get("Permissions-Policy") ?? "", /camera=\(self\)/);
});

Deno.test("headers set by a handler win; config.csp adds to the policy", async () => {
  await using t = await testApp({
    "./routes/index.tsx": textPage("home"),
    "./routes/embed.ts": route(undefined, () =>
      new Response("x", {
        headers: {
          "Content-Security-Policy": "frame-ancestors https://a.example",
          "X-Frame-Options": "SAMEORIGIN",
        },
      })),
  }, { config: { csp: { "connect-src": ["wss://signal.example"] } } });
  const embed = await t.fetch("/embed");
  assert.equal(embed.headers.get("Content-Security-Policy"), "frame-ancestors https://a.example");
  assert.equal(embed.headers.get("X-Frame-Options"), "SAMEORIGIN");
  const page = await t.fetch("/");
  assert.match(
    page.headers.get("Content-Security-Policy") ?? "",
    /connect-src 'self' wss:\/\/signal\.example/,
  );
});

Deno.test("Response.redirect from a handler still gets the security headers", async () => {
  await using t = await testApp({
    "./routes/old.ts": route(undefined, {
      GET: (req) => Response.redirect(new URL("/new", req.url), 301),
    }),
  });
  const res = await t.fetch("/old");
  assert.equal(res.status, 301);
  assert.equal(res.headers.get("Location"), "http://localhost/new");
  assertSecurityHeaders(res, "redirect");
});

// ---------------------------------------------------------------------------------------------
// Documents: head, styles, scripts

Deno.test("<Head> children go into <head>, after _app's own head", async () => {
  const App = ({ Component }: AppProps) =>
    h(
      "html",
      null,
      h("head", null, h("meta", { charset: "utf-8" })),
      h("body", null, h(Component, null)),
    );
  await using t = await testApp({
    "./routes/_app.tsx": { default: App } as RouteModule,
    "./routes/index.tsx": route(() =>
      h(
        "main",
        null,
        h(
          Head,
          null,
          h("title", null, "My <title>"),
          h("meta", { name: "robots", content: "noindex" }),
        ),
        "content",
      )
    ),
  });
  const { body } = await t.fetch("/");
  const head = headOf(body);
  assert.match(
    head,
    /^<meta charset="utf-8"\/?><title>My &lt;title><\/title><meta name="robots" content="noindex"\/?>/,
  );
  assert.doesNotMatch(body.slice(body.indexOf("<body>")), /<title>/);
  assert.match(body, /<body><main>content<\/main>/);
});

Deno.test("twind CSS for the page's classes is in the nonce'd <style>", async () => {
  await using t = await testApp({
    "./routes/index.tsx": route(() => h("main", { class: "p-4 text-red-500 sm:p-8" }, "styled")),
  });
  const { body, headers } = await t.fetch("/");
  const css = styleOf(body);
  assert.ok(headOf(body).includes(`<style nonce="${cspNonce(headers)}">`));
  assert.match(css, /^island-root\{display:contents\}/);
  for (const rule of [".p-4{", ".text-red-500{", ".sm\\:p-8{"]) assert.ok(css.includes(rule), rule);
  assert.ok(!css.includes(".p-2{"), "only classes in use");
});

Deno.test("a page without islands has no <script> at all", async () => {
  await using t = await testApp({ "./routes/index.tsx": textPage("static page") });
  const { body } = await t.fetch("/");
  assert.doesNotMatch(body, /<script/i);
  assert.doesNotMatch(body, /modulepreload/);
});

// ---------------------------------------------------------------------------------------------
// Static files and bundle URLs

Deno.test("files of static/ are served; paths out of it are not", async () => {
  await using t = await testApp({ "./routes/index.tsx": textPage("home") }, {
    files: { "static/hello.txt": "hello from static", "secret.txt": "TOP SECRET" },
  });
  const hello = await t.fetch("/hello.txt");
  assert.equal(hello.status, 200);
  assert.equal(hello.body, "hello from static");
  assert.match(hello.headers.get("Content-Type") ?? "", /^text\/plain/);
  for (
    const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/static/..%2f..%2fsecret.txt",
    ]
  ) {
    const res = await t.fetch(path);
    assert.equal(res.status, 404, path);
    assert.ok(!res.body.includes("TOP SECRET"), path);
  }
});

Deno.test("unknown /_frsh/js/ files are 404", async () => {
  await using t = await testApp({ "./routes/[...rest].tsx": textPage("catch-all") });
  for (const path of ["/_frsh/js/nope.js", "/_frsh/js/", "/_frsh/js/..%2f..%2fdeno.lock"]) {
    const res = await t.fetch(path);
    assert.equal(res.status, 404, path);
    assert.ok(!res.body.includes("catch-all"), path);
  }
});

// ---------------------------------------------------------------------------------------------
// Islands

const COUNTER = `
import type { Signal } from "@preact/signals";

export default function Counter({ count, label }: { count: Signal<number>; label: string }) {
  return (
    <div class="flex gap-2">
      <button class="px-3 text-sky-700" onClick={() => count.value++}>{label}: {count}</button>
      {count.value > 100 && <p class="text-fuchsia-800">That is a lot</p>}
    </div>
  );
}
`;

const OUTER = `
import type { Signal } from "@preact/signals";
import Counter from "./Counter.tsx";

export default function Outer({ count }: { count: Signal<number> }) {
  return <section class="outer"><Counter count={count} label="inner" /></section>;
}
`;

interface Islands extends AsyncDisposable {
  project: TempProject;
  Counter: ComponentType<{ count: Signal<number>; label: string }>;
  Outer: ComponentType<{ count: Signal<number> }>;
  modules: Record<string, IslandModule>;
}

/** A temp project with the Counter and Outer islands, imported from the project itself. */
async function islandProject(): Promise<Islands> {
  const project = await createTempProject({
    "islands/Counter.tsx": COUNTER,
    "islands/Outer.tsx": OUTER,
  });
  try {
    const counter = await project.import("islands/Counter.tsx");
    const outer = await project.import("islands/Outer.tsx");
    return {
      project,
      Counter: counter.default,
      Outer: outer.default,
      modules: { "./islands/Counter.tsx": counter, "./islands/Outer.tsx": outer },
      [Symbol.asyncDispose]: () => project[Symbol.asyncDispose](),
    };
  } catch (e) {
    await project[Symbol.asyncDispose]();
    throw e;
  }
}

async function islandApp(
  islands: Islands,
  routes: Manifest["routes"],
  config: FreshConfig = {},
): Promise<TestApp> {
  return await testApp(routes, { project: islands.project, islands: islands.modules, config });
}

/** The JSON of the page's one island state script. */
function stateJson(html: string): string {
  const scripts = [
    ...html.matchAll(/<script id="__FRSH_STATE" type="application\/json"[^>]*>([^<]*)<\/script>/g),
  ];
  assert.equal(scripts.length, 1, "exactly one state script");
  return scripts[0][1];
}

/** `[name, props]` of every island on a page, from its state script. */
function islandState(html: string): [string, Record<string, unknown>][] {
  return deserialize(stateJson(html)) as [string, Record<string, unknown>][];
}

/** The modulepreload URLs in the page's head. */
function preloadsOf(html: string): string[] {
  return [...headOf(html).matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
}

function islandMarkers(html: string): string[] {
  return [...html.matchAll(/<island-root data-island="([^"]+)" data-id="(\d+)">/g)].map((m) =>
    `${m[1]}#${m[2]}`
  );
}

/**
 * A page rendering `children()` in a <main>. Island elements must be created while the page
 * renders (as in any component), not beforehand: the renderer recognises islands as they are
 * created.
 */
function page(children: () => ComponentChildren): RouteModule {
  return route(() => h("main", null, children()));
}

Deno.test("an island page: markers, one state script, boot module, preload links", async () => {
  await using islands = await islandProject();
  await using t = await islandApp(islands, {
    "./routes/index.tsx": page(() => h(islands.Counter, { count: signal(3), label: "clicks" })),
  });
  const { body, headers } = await t.fetch("/");
  assert.deepEqual(islandMarkers(body), ["Counter#0"]);
  assert.match(
    body,
    /<island-root data-island="Counter" data-id="0"><div class="flex gap-2"><button class="px-3 text-sky-700">clicks: 3<\/button><\/div><\/island-root>/,
  );
  const [[name, props]] = islandState(body);
  assert.equal(name, "Counter");
  assert.equal(props.label, "clicks");
  assert.ok(props.count instanceof Signal);
  assert.equal(props.count.value, 3);

  const nonce = cspNonce(headers);
  for (const tag of inlineTags(body)) assert.ok(tag.includes(` nonce="${nonce}"`), tag);
  const build = t.app.build!;
  const boot = body.match(/<script type="module" nonce="[^"]+">([^<]*)<\/script>/)?.[1] ?? "";
  assert.ok(boot.includes(`/_frsh/js/${build.manifest.runtime}`), boot);
  assert.ok(boot.includes(`/_frsh/js/${build.manifest.islands.Counter}`), boot);
  assert.ok(!boot.includes(build.manifest.islands.Outer), "only the islands on the page");

  const preloads = preloadsOf(body);
  assert.ok(preloads.includes(`/_frsh/js/${build.manifest.runtime}`));
  assert.ok(preloads.includes(`/_frsh/js/${build.manifest.islands.Counter}`));
  assert.equal(new Set(preloads).size, preloads.length, "no duplicate preloads");
  for (const url of preloads) {
    const res = await t.fetch(url);
    assert.equal(res.status, 200, url);
    assert.equal(res.headers.get("Content-Type"), "text/javascript; charset=utf-8");
    assert.equal(res.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
    const etag = res.headers.get("ETag");
    assert.ok(etag, url);
    const again = await t.fetch(url, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304, url);
    assert.equal(again.body, "");
  }
});

Deno.test("one signal passed to two islands is serialized once and revives as one", async () => {
  await using islands = await islandProject();
  const count = signal(5);
  await using t = await islandApp(islands, {
    "./routes/index.tsx": page(() => [
      h(islands.Counter, { count, label: "a" }),
      h(islands.Counter, { count, label: "b" }),
    ]),
  });
  const { body } = await t.fetch("/");
  assert.deepEqual(islandMarkers(body), ["Counter#0", "Counter#1"]);
  assert.equal(stateJson(body).match(/"Signal"/g)?.length, 1, "the signal is stored once");
  const state = islandState(body);
  assert.deepEqual(state.map(([, p]) => p.label), ["a", "b"]);
  assert.ok(state[0][1].count instanceof Signal);
  assert.equal(state[0][1].count, state[1][1].count, "the same signal object");
});

Deno.test("an island inside an island is part of the outer one", async () => {
  await using islands = await islandProject();
  await using t = await islandApp(islands, {
    "./routes/index.tsx": page(() => h(islands.Outer, { count: signal(1) })),
  });
  const { body } = await t.fetch("/");
  assert.deepEqual(islandMarkers(body), ["Outer#0"]);
  assert.equal(body.match(/<island-root/g)?.length, 1);
  assert.match(body, /<section class="outer"><div class="flex gap-2"><button[^>]*>inner: 1</);
  assert.deepEqual(islandState(body).map(([name]) => name), ["Outer"]);
});

Deno.test("island-only classes are styled on island pages only", async () => {
  await using islands = await islandProject();
  await using t = await islandApp(islands, {
    "./routes/index.tsx": page(() => h(islands.Counter, { count: signal(0), label: "x" })),
    "./routes/plain.tsx": route(() => h("main", { class: "text-sky-700" }, "no islands")),
  });
  assert.ok(t.app.build!.manifest.classes.Counter.includes("text-fuchsia-800"));
  // Never rendered on the server (count <= 100), but the island may render it later.
  const withIsland = await t.fetch("/");
  assert.doesNotMatch(withIsland.body, /<p class="text-fuchsia-800"/);
  assert.ok(styleOf(withIsland.body).includes(".text-fuchsia-800{"));
  const plain = await t.fetch("/plain");
  assert.doesNotMatch(plain.body, /<script/);
  assert.ok(styleOf(plain.body).includes(".text-sky-700{"));
  assert.ok(!styleOf(plain.body).includes(".text-fuchsia-800{"));
});

Deno.test("in dev, island bundles are revalidated, not cached as immutable; HEAD works", async () => {
  await using islands = await islandProject();
  await using dev = await islandApp(islands, {
    "./routes/index.tsx": page(() => h(islands.Counter, { count: signal(0), label: "x" })),
  }, { dev: true });
  const url = `/_frsh/js/${dev.app.build!.manifest.islands.Counter}`;
  const res = await dev.fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Cache-Control"), "no-cache");
  const head = await dev.fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.hasBody, false);
  assert.equal(head.headers.get("ETag"), res.headers.get("ETag"));
});

// ---------------------------------------------------------------------------------------------
// Compression and the prebuilt build

interface Raw {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  hasBody: boolean;
}

async function rawFetch(app: App, path: string, init?: RequestInit): Promise<Raw> {
  const res = await app.handler(new Request(new URL(path, "http://localhost"), init));
  const hasBody = res.body !== null;
  return {
    status: res.status,
    headers: res.headers,
    bytes: new Uint8Array(await res.arrayBuffer()),
    hasBody,
  };
}

/** The body decoded per its Content-Encoding, after checking Content-Length against the wire bytes. */
function decodedBody(res: Raw): Uint8Array {
  const coding = res.headers.get("Content-Encoding");
  if (coding !== null) {
    assert.equal(res.headers.get("Content-Length"), String(res.bytes.byteLength), "Content-Length");
  }
  if (coding === "br") return new Uint8Array(brotliDecompressSync(res.bytes));
  if (coding === "gzip") return new Uint8Array(gunzipSync(res.bytes));
  assert.equal(coding, null, "an unexpected coding");
  return res.bytes;
}

const ae = (value: string, extra: Record<string, string> = {}) => ({
  headers: { "Accept-Encoding": value, ...extra },
});

Deno.test("island bundles go out precompressed: br first, gzip, or as they are; 304 per coding", async () => {
  await using islands = await islandProject();
  await using t = await islandApp(islands, {
    "./routes/index.tsx": page(() => h(islands.Counter, { count: signal(0), label: "x" })),
  });
  const build = t.app.build!;
  // The largest file (Preact's chunk): the smallest ones may not shrink with gzip's header.
  const [name] = [...build.files].sort(([, a], [, b]) => b.byteLength - a.byteLength)[0];
  assert.deepEqual(build.manifest.precompressed[name], ["br", "gzip"]);
  const url = `/_frsh/js/${name}`;
  const original = build.files.get(name)!;
  const cases: [string | null, string | null][] = [
    ["gzip, deflate, br, zstd", "br"],
    ["gzip", "gzip"],
    ["br;q=0, gzip", "gzip"],
    ["br;q=0.5, gzip;q=0.9", "gzip"],
    ["gzip;q=0, br;q=0", null],
    ["identity", null],
    [null, null],
  ];
  const etags = new Map<string | null, string>();
  for (const [accept, coding] of cases) {
    const res = await rawFetch(t.app, url, accept === null ? {} : ae(accept));
    assert.equal(res.status, 200, String(accept));
    assert.equal(res.headers.get("Content-Encoding"), coding, String(accept));
    assert.equal(res.headers.get("Vary"), "Accept-Encoding", String(accept));
    assert.equal(res.headers.get("Content-Type"), "text/javascript; charset=utf-8");
    assert.equal(res.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
    assert.deepEqual(decodedBody(res), original, `${accept}: decoded bytes are the bundle`);
    if (coding !== null) assert.ok(res.bytes.byteLength < original.byteLength, String(accept));
    const etag = res.headers.get("ETag")!;
    if (etags.has(coding)) assert.equal(etags.get(coding), etag, "one ETag per coding");
    etags.set(coding, etag);
  }
  assert.equal(new Set(etags.values()).size, 3, `an ETag per coding: ${[...etags.values()]}`);

  // Revalidation: a coding's own ETag gives 304, with Vary; another coding's does not.
  const br = etags.get("br")!;
  const notModified = await rawFetch(t.app, url, ae("br, gzip", { "If-None-Match": br }));
  assert.equal(notModified.status, 304);
  assert.equal(notModified.hasBody, false);
  assert.equal(notModified.headers.get("ETag"), br);
  assert.equal(notModified.headers.get("Vary"), "Accept-Encoding");
  const gzip = await rawFetch(t.app, url, ae("gzip", { "If-None-Match": br }));
  assert.equal(gzip.status, 200, "the br ETag does not validate the gzip body");
  assert.equal(gzip.headers.get("Content-Encoding"), "gzip");
  const plain = await rawFetch(t.app, url, { headers: { "If-None-Match": etags.get(null)! } });
  assert.equal(plain.status, 304);

  // HEAD: the GET's headers, no body.
  const head = await rawFetch(t.app, url, { method: "HEAD", ...ae("br") });
  assert.equal(head.status, 200);
  assert.equal(head.hasBody, false);
  assert.equal(head.headers.get("Content-Encoding"), "br");
  assert.equal(head.headers.get("Content-Length"), String(build.encoded.get(name)!.br!.byteLength));
});

/** A page's HTML with its per-response nonce blanked, so two responses can be compared. */
const withoutNonce = (html: string) => html.replaceAll(/nonce="[^"]+"/g, 'nonce=""');

Deno.test("pages are compressed on the fly when accepted (gzip first), with Vary; small ones not", async () => {
  const long = "Every meeting is end-to-end encrypted, with nothing to turn on. ".repeat(40);
  await using t = await testApp({
    "./routes/index.tsx": textPage(long),
    "./routes/small.tsx": route(() => h("p", null, "tiny")),
    "./routes/api.ts": {
      handler: () => Response.json({ rows: Array.from({ length: 400 }, (_, i) => i) }),
    },
  });
  const identity = await rawFetch(t.app, "/");
  assert.equal(identity.headers.get("Content-Encoding"), null);
  assert.equal(identity.headers.get("Vary"), "Accept-Encoding");
  const plain = withoutNonce(new TextDecoder().decode(identity.bytes));
  for (
    const [accept, coding] of [
      ["gzip, deflate, br, zstd", "gzip"],
      ["br", "br"],
      ["gzip;q=0.1, br", "br"],
      ["gzip;q=0", null],
    ] as const
  ) {
    const res = await rawFetch(t.app, "/", ae(accept));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Content-Encoding"), coding, accept);
    assert.equal(res.headers.get("Vary"), "Accept-Encoding", accept);
    assert.match(res.headers.get("Content-Type") ?? "", /^text\/html/);
    assertSecurityHeaders({ ...res, body: "" }, accept);
    const html = withoutNonce(new TextDecoder().decode(decodedBody(res)));
    assert.equal(html, plain, `${accept}: decoded page`);
    if (coding) assert.ok(res.bytes.byteLength < identity.bytes.byteLength / 4, accept);
  }
  // HEAD does not compress, but varies like its GET.
  const head = await rawFetch(t.app, "/", { method: "HEAD", ...ae("gzip") });
  assert.equal(head.hasBody, false);
  assert.equal(head.headers.get("Vary"), "Accept-Encoding");

  const small = await rawFetch(t.app, "/small", ae("gzip, br"));
  assert.equal(small.headers.get("Content-Encoding"), null, "under 1 KB: not worth it");
  assert.match(new TextDecoder().decode(small.bytes), /<p>tiny<\/p>/);

  const api = await rawFetch(t.app, "/api", ae("gzip"));
  assert.equal(api.headers.get("Content-Encoding"), "gzip", "JSON from a handler too");
  assert.equal(JSON.parse(new TextDecoder().decode(decodedBody(api))).rows.length, 400);
});

Deno.test("static files: text types compressed on the fly, images never; 304 keeps Vary", async () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg">${
    '<circle cx="5" cy="5" r="4" fill="#4f46e5"/>'.repeat(60)
  }</svg>`;
  const png = crypto.getRandomValues(new Uint8Array(4096));
  await using t = await testApp({ "./routes/index.tsx": textPage("home") }, {
    files: { "static/logo.svg": svg },
  });
  await Deno.writeFile(`${t.project.root}/static/photo.png`, png);

  const res = await rawFetch(t.app, "/logo.svg", ae("gzip, br"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Encoding"), "gzip");
  assert.equal(res.headers.get("Vary"), "Accept-Encoding");
  assert.match(res.headers.get("ETag") ?? "", /^W\//, "a weak ETag for every coding");
  assert.equal(new TextDecoder().decode(decodedBody(res)), svg);
  const again = await rawFetch(
    t.app,
    "/logo.svg",
    ae("gzip, br", { "If-None-Match": res.headers.get("ETag")! }),
  );
  assert.equal(again.status, 304);
  assert.equal(again.headers.get("Vary"), "Accept-Encoding");

  const photo = await rawFetch(t.app, "/photo.png", ae("gzip, br"));
  assert.equal(photo.status, 200);
  assert.equal(photo.headers.get("Content-Encoding"), null, "a PNG is compressed already");
  assert.equal(photo.headers.get("Vary"), null);
  assert.deepEqual(photo.bytes, png);
});

Deno.test("without buildIfStale, a missing or stale _fresh/ stops createApp and says to build", async () => {
  await using islands = await islandProject();
  const manifest: Manifest = {
    routes: { "./routes/index.tsx": textPage("home") },
    islands: islands.modules,
    baseUrl: islands.project.manifestUrl,
  };
  await assert.rejects(
    () => createApp(manifest),
    /_fresh: no prebuilt bundles\. Run `deno task build` before starting the server/,
  );

  const built = await buildIslands({
    root: islands.project.root,
    islands: islands.project.islandPaths("Counter", "Outer"),
    runtimeEntry: `${islands.project.root}/framework/client.ts`,
  });
  await writeBuild(`${islands.project.root}/_fresh`, built);
  const app = await createApp(manifest);
  assert.equal(app.build?.manifest.inputsHash, built.manifest.inputsHash, "the prebuilt build");
  assert.deepEqual(app.build?.encoded, built.encoded, "with its .br and .gz files");
  const name = built.manifest.islands.Counter;
  const res = await rawFetch(app, `/_frsh/js/${name}`, ae("br"));
  assert.equal(res.headers.get("Content-Encoding"), "br");
  assert.deepEqual(decodedBody(res), built.files.get(name));

  await islands.project.write("islands/Counter.tsx", COUNTER.replace("That is a lot", "Lots"));
  await assert.rejects(
    () => createApp(manifest),
    /_fresh: sources changed since the build\. Run `deno task build`/,
  );
});
