/**
 * Pages in their frame, rendered by the real app over requests: `_layout` files nested inside
 * `_app`, and async components (`defineRoute`, `defineLayout`, `defineApp`), with islands and
 * `<Head>` in them.
 */
import assert from "node:assert/strict";
import { h } from "preact";
import { defineApp, defineLayout, defineRoute } from "./mod.ts";
import { Head } from "./runtime.ts";
import { deserialize } from "./serializer.ts";
import { type App, createApp } from "./server.ts";
import { createTempProject, type TempProject } from "./testing.ts";
import type {
  FreshConfig,
  IslandModule,
  LayoutProps,
  Manifest,
  MiddlewareModule,
  PageProps,
  RouteModule,
} from "./types.ts";

/** An app over in-memory routes in a temp project; `await using` removes the project. */
async function testApp(
  routes: Manifest["routes"],
  options: { project?: TempProject; islands?: Record<string, IslandModule>; config?: FreshConfig } =
    {},
) {
  const project = options.project ?? await createTempProject({});
  const app: App = await createApp(
    { routes, islands: options.islands ?? {}, baseUrl: project.manifestUrl },
    options.config ?? {},
  );
  return {
    app,
    async fetch(path: string) {
      const res = await app.handler(new Request(new URL(path, "http://localhost")));
      return { status: res.status, headers: res.headers, body: await res.text() };
    },
    async [Symbol.asyncDispose]() {
      if (!options.project) await project[Symbol.asyncDispose]();
    },
  };
}

/** A layout that wraps what it is given in `<tag class=name>`. */
function layout(tag: string, name: string, config?: RouteModule["config"]): RouteModule {
  return {
    default: ({ Component }: LayoutProps) => h(tag, { class: name }, h(Component, null)),
    config,
  };
}

/** An `_app` whose `<html>` says it is the app's. */
const APP: RouteModule = {
  default: ({ Component }: LayoutProps) =>
    h("html", { lang: "x-app" }, h("head", null), h("body", null, h(Component, null))),
};

/** A root middleware that signs everyone in as ada. */
const USER: MiddlewareModule = {
  handler: (_req, ctx) => {
    ctx.state.user = "ada";
    return ctx.next();
  },
};

/** The page's `<body>` contents, without what the framework appends. */
function bodyOf(html: string): string {
  return html.match(/<body>([\s\S]*?)(<script|<\/body>)/)?.[1] ?? "";
}

Deno.test("_layout files wrap the page inside _app, the root folder's outermost", async () => {
  await using t = await testApp({
    "./routes/_app.tsx": APP,
    "./routes/_layout.tsx": layout("div", "root"),
    "./routes/admin/_layout.tsx": layout("section", "admin"),
    "./routes/admin/[id].tsx": {
      default: ({ params, url }: PageProps) => h("main", null, `${params.id} ${url.pathname}`),
    },
    "./routes/index.tsx": { default: () => h("main", null, "home") },
  });
  const admin = await t.fetch("/admin/7");
  assert.match(admin.body, /^<!DOCTYPE html><html lang="x-app">/);
  assert.equal(
    bodyOf(admin.body),
    '<div class="root"><section class="admin"><main>7 /admin/7</main></section></div>',
  );
  const home = await t.fetch("/");
  assert.equal(bodyOf(home.body), '<div class="root"><main>home</main></div>');
});

Deno.test("layouts get the page's props: data from the handler, state, params", async () => {
  await using t = await testApp({
    "./routes/_middleware.ts": USER,
    "./routes/[room]/_layout.tsx": {
      default: ({ Component, data, state, params }: LayoutProps<{ n: number }>) =>
        h(
          "div",
          { "data-n": data.n, "data-user": state.user, "data-room": params.room },
          h(
            Component,
            null,
          ),
        ),
    },
    "./routes/[room]/index.tsx": {
      default: ({ data }: PageProps<{ n: number }>) => h("p", null, `page ${data.n}`),
      handler: { GET: (_req, ctx) => ctx.render({ n: 5 }) },
    },
  });
  const { body } = await t.fetch("/r1");
  assert.equal(
    bodyOf(body),
    '<div data-n="5" data-user="ada" data-room="r1"><p>page 5</p></div>',
  );
});

Deno.test("skipInheritedLayouts and skipAppWrapper change what is rendered", async () => {
  await using t = await testApp({
    "./routes/_app.tsx": APP,
    "./routes/_layout.tsx": layout("div", "root"),
    "./routes/plain/_layout.tsx": layout("section", "plain", { skipInheritedLayouts: true }),
    "./routes/plain/index.tsx": { default: () => h("main", null, "plain") },
    "./routes/alone.tsx": {
      default: () => h("main", null, "alone"),
      config: { skipInheritedLayouts: true, skipAppWrapper: true },
    },
  });
  const plain = await t.fetch("/plain");
  assert.match(plain.body, /<html lang="x-app">/);
  assert.equal(bodyOf(plain.body), '<section class="plain"><main>plain</main></section>');
  const alone = await t.fetch("/alone");
  // Without _app, the framework's default document.
  assert.match(alone.body, /^<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/);
  assert.equal(bodyOf(alone.body), "<main>alone</main>");
});

Deno.test("the 404 and 500 pages are wrapped by _app and the root _layout", async () => {
  await using t = await testApp({
    "./routes/_app.tsx": APP,
    "./routes/_layout.tsx": layout("div", "root"),
    "./routes/admin/_layout.tsx": layout("section", "admin"),
    "./routes/_404.tsx": { default: () => h("main", null, "not here") },
    "./routes/_500.tsx": { default: () => h("main", null, "broken") },
    "./routes/admin/fail.tsx": {
      default: () => {
        throw new Error("page failed");
      },
    },
  });
  const missing = await t.fetch("/admin/missing");
  assert.equal(missing.status, 404);
  assert.equal(bodyOf(missing.body), '<div class="root"><main>not here</main></div>');
  const original = console.error;
  console.error = () => {};
  try {
    const failed = await t.fetch("/admin/fail");
    assert.equal(failed.status, 500);
    assert.match(failed.body, /<html lang="x-app">/);
    assert.equal(bodyOf(failed.body), '<div class="root"><main>broken</main></div>');
  } finally {
    console.error = original;
  }
});

// ---------------------------------------------------------------------------------------------
// Async components

Deno.test("defineRoute: called with the request and a context of params, state and data", async () => {
  const seen: string[] = [];
  await using t = await testApp({
    "./routes/_middleware.ts": USER,
    "./routes/items/[id].tsx": {
      handler: {
        GET: (_req, ctx) => ctx.render({ title: "From the handler" }, { status: 201 }),
      },
      default: defineRoute<{ title: string }, { user: string }>(async (req, ctx) => {
        seen.push(req.headers.get("X-Test") ?? "no header");
        // Something the page waits for, as a database read would be.
        const loaded = await Promise.resolve(`item ${ctx.params.id} for ${ctx.state.user}`);
        return h(
          "main",
          null,
          h(Head, null, h("title", null, ctx.data.title)),
          `${loaded} at ${ctx.url.pathname}`,
        );
      }),
    },
    "./routes/plain.tsx": {
      // A plain function that returns a promise is an async route too, through defineRoute.
      default: defineRoute(() => Promise.resolve(h("main", null, "plain promise"))),
    },
  });
  const res = await t.app.handler(
    new Request("http://localhost/items/42", { headers: { "X-Test": "sent" } }),
  );
  const body = await res.text();
  assert.equal(res.status, 201, "the handler's status stays");
  assert.deepEqual(seen, ["sent"]);
  assert.match(body, /<title>From the handler<\/title>[\s\S]*<\/head>/);
  assert.equal(bodyOf(body), "<main>item 42 for ada at /items/42</main>");
  const plain = await t.fetch("/plain");
  assert.equal(bodyOf(plain.body), "<main>plain promise</main>");
});

Deno.test("defineRoute: a Response returned instead of elements is sent as it is", async () => {
  await using t = await testApp({
    "./routes/_404.tsx": { default: () => h("main", null, "no such item") },
    "./routes/items/[id].tsx": {
      default: defineRoute(async (_req, ctx) => {
        if (ctx.params.id === "old") return Response.redirect("http://localhost/items/new", 303);
        if (ctx.params.id === "gone") return await ctx.renderNotFound();
        return h("main", null, ctx.params.id);
      }),
    },
  });
  const moved = await t.fetch("/items/old");
  assert.equal(moved.status, 303);
  assert.equal(moved.headers.get("Location"), "http://localhost/items/new");
  assert.match(moved.headers.get("Content-Security-Policy") ?? "", /default-src 'self'/);
  const gone = await t.fetch("/items/gone");
  assert.equal(gone.status, 404);
  assert.equal(bodyOf(gone.body), "<main>no such item</main>");
  assert.equal(bodyOf((await t.fetch("/items/7")).body), "<main>7</main>");
});

Deno.test("defineLayout and defineApp: async frames, outermost called first", async () => {
  const calls: string[] = [];
  await using t = await testApp({
    "./routes/_app.tsx": {
      default: defineApp(async (_req, ctx) => {
        calls.push("app");
        const lang = await Promise.resolve("x-async");
        return h("html", { lang }, h("head", null), h("body", null, h(ctx.Component, null)));
      }),
    },
    "./routes/_layout.tsx": {
      default: defineLayout(async (req, ctx) => {
        calls.push("layout");
        if (new URL(req.url).searchParams.has("deny")) {
          return new Response("denied", { status: 403 });
        }
        const user = await Promise.resolve(ctx.state.user ?? "guest");
        return h("div", { "data-user": user }, h(ctx.Component, null));
      }),
    },
    "./routes/index.tsx": {
      default: defineRoute(async () => {
        calls.push("page");
        return await Promise.resolve(h("main", null, "page"));
      }),
    },
  });
  const ok = await t.fetch("/");
  assert.deepEqual(calls, ["app", "layout", "page"]);
  assert.match(ok.body, /^<!DOCTYPE html><html lang="x-async">/);
  assert.equal(bodyOf(ok.body), '<div data-user="guest"><main>page</main></div>');
  calls.length = 0;
  const denied = await t.fetch("/?deny");
  assert.equal(denied.status, 403);
  assert.equal(denied.body, "denied");
  assert.deepEqual(calls, ["app", "layout"], "the page is not called once a layout answered");
});

Deno.test("an async _app still renders the 500 page, which gets the error in dev", async () => {
  await using t = await testApp({
    "./routes/_app.tsx": {
      default: defineApp(async (_req, ctx) =>
        await Promise.resolve(h("html", null, h("body", null, h(ctx.Component, null))))
      ),
    },
    "./routes/_500.tsx": {
      default: defineRoute(async (_req, ctx) =>
        await Promise.resolve(h("main", null, `failed: ${(ctx.error as Error).message}`))
      ),
    },
    "./routes/index.tsx": {
      default: defineRoute(() => Promise.reject(new Error("no database"))),
    },
  }, { config: { dev: true } });
  const original = console.error;
  console.error = () => {};
  try {
    const res = await t.fetch("/");
    assert.equal(res.status, 500);
    assert.equal(bodyOf(res.body), "<main>failed: no database</main>");
  } finally {
    console.error = original;
  }
});

// ---------------------------------------------------------------------------------------------
// Islands in async routes

/** An island that imports from `$fresh/runtime.ts`, as a Fresh app's would. */
const GREETING = `
import { IS_BROWSER } from "$fresh/runtime.ts";

export default function Greeting({ name }: { name: string }) {
  return <p class="greeting">Hello {name}{IS_BROWSER ? "" : " (server)"}</p>;
}
`;

/** `[name, props]` of every island of a page, from its state script. */
function islandsOf(html: string): [string, Record<string, unknown>][] {
  const json = html.match(/<script id="__FRSH_STATE" type="application\/json"[^>]*>([^<]*)</);
  return json ? deserialize(json[1]) as [string, Record<string, unknown>][] : [];
}

Deno.test("islands in async routes are found, each in its own request's page", async () => {
  await using project = await createTempProject({
    "islands/Greeting.tsx": GREETING,
    // The bundler resolves `$fresh/runtime.ts` with the project's import map, as Deno does.
    "deno.json": await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  });
  const island: IslandModule = await project.import("islands/Greeting.tsx");
  const Greeting = island.default;
  // The first request's route waits until the second has been rendered whole, so the two
  // renders overlap: what each finds must still be its own.
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  await using t = await testApp({
    "./routes/[name].tsx": {
      default: defineRoute(async (_req, ctx) => {
        const greeting = h(Greeting, { name: ctx.params.name });
        if (ctx.params.name === "first") await gate;
        return h("main", null, h(Head, null, h("title", null, ctx.params.name)), greeting);
      }),
    },
    // Dev mode bundles the islands at start, with no `_fresh/` to build first.
  }, { project, islands: { "./islands/Greeting.tsx": island }, config: { dev: true } });

  const first = t.fetch("/first");
  const second = await t.fetch("/second");
  release();
  const pages: [string, string][] = [["first", (await first).body], ["second", second.body]];
  for (const [name, body] of pages) {
    assert.deepEqual(islandsOf(body), [["Greeting", { name }]], name);
    assert.equal(
      bodyOf(body),
      `<main><island-root data-island="Greeting" data-id="0"><p class="greeting">Hello ${name} (server)</p></island-root></main>`,
    );
    assert.match(body, new RegExp(`<title>${name}</title>`));
    assert.doesNotMatch(body, new RegExp(`<title>${name === "first" ? "second" : "first"}<`));
  }
});
