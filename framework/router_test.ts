import assert from "node:assert/strict";
import { h } from "preact";
import {
  buildRoutes,
  compareRanks,
  fileToPattern,
  matchRoute,
  type PageFrame,
  patternRank,
  rootMiddlewares,
} from "./router.ts";
import type { Handler, LayoutProps, Manifest, MiddlewareModule, RouteModule } from "./types.ts";

const page = (): RouteModule => ({ default: () => null });

function manifestOf(routes: Manifest["routes"]): Manifest {
  return { routes, islands: {}, baseUrl: "file:///project/fresh.gen.ts" };
}

/** Route patterns of `files`, in match order. */
function orderOf(...files: string[]): string[] {
  const { routes } = buildRoutes(manifestOf(Object.fromEntries(files.map((f) => [f, page()]))));
  return routes.map((r) => r.pattern);
}

/** Which pattern (and params) serves `pathname` among routes built from `files`. */
function resolve(files: string[], pathname: string) {
  const { routes } = buildRoutes(manifestOf(Object.fromEntries(files.map((f) => [f, page()]))));
  const match = matchRoute(routes, pathname);
  return match && { pattern: match.route.pattern, params: match.params };
}

/** A distinct middleware; routes are compared by which of these they hold. */
function middleware(): Handler {
  return (_req, ctx) => ctx.next();
}

// fileToPattern

Deno.test("fileToPattern: index files are their folder", () => {
  assert.equal(fileToPattern("./routes/index.tsx"), "/");
  assert.equal(fileToPattern("./routes/blog/index.ts"), "/blog");
  assert.equal(fileToPattern("./routes/a/b/index.jsx"), "/a/b");
});

Deno.test("fileToPattern: static files, with or without the ./ prefix", () => {
  assert.equal(fileToPattern("./routes/about.tsx"), "/about");
  assert.equal(fileToPattern("routes/docs/intro.js"), "/docs/intro");
  assert.equal(fileToPattern("./routes/new.ts"), "/new");
});

Deno.test("fileToPattern: [param] is one segment, [...rest] the rest of the path", () => {
  assert.equal(fileToPattern("./routes/[room].tsx"), "/:room");
  assert.equal(fileToPattern("./routes/api/rooms/[room]/ws.ts"), "/api/rooms/:room/ws");
  assert.equal(fileToPattern("./routes/docs/[...slug].tsx"), "/docs/:slug*");
  assert.equal(fileToPattern("./routes/[...rest].tsx"), "/:rest*");
});

Deno.test("fileToPattern: (group) folders add no segment", () => {
  assert.equal(fileToPattern("./routes/(marketing)/pricing.tsx"), "/pricing");
  assert.equal(fileToPattern("./routes/(a)/(b)/index.tsx"), "/");
  assert.equal(fileToPattern("./routes/shop/(auth)/[id].tsx"), "/shop/:id");
});

Deno.test("fileToPattern: URLPattern syntax in static names is escaped", () => {
  assert.equal(fileToPattern("./routes/a+b.ts"), "/a\\+b");
  assert.deepEqual(resolve(["./routes/a+b.ts"], "/a+b"), { pattern: "/a\\+b", params: {} });
  assert.equal(resolve(["./routes/a+b.ts"], "/aab"), null);
});

Deno.test("fileToPattern: malformed dynamic segments are rejected with a hint", () => {
  for (
    const file of [
      "./routes/[room.tsx",
      "./routes/x[id].tsx",
      "./routes/[a-b].tsx",
      "./routes/[...].tsx",
      "./routes/[[opt]].tsx",
    ]
  ) {
    assert.throws(
      () => fileToPattern(file),
      (e: Error) => e.message.includes(file) && e.message.includes("[...name]"),
      file,
    );
  }
});

// ranking

Deno.test("patternRank: one rank per segment", () => {
  assert.deepEqual(patternRank("/"), [0]);
  assert.deepEqual(patternRank("/api/rooms/:room/ws"), [0, 0, 1, 0]);
  assert.deepEqual(patternRank("/:rest*"), [2]);
  assert.ok(compareRanks(patternRank("/new"), patternRank("/:room")) < 0);
  assert.ok(compareRanks(patternRank("/:room"), patternRank("/:rest*")) < 0);
});

Deno.test("ordering: static before [param] before [...rest]", () => {
  const order = orderOf("./routes/[...rest].tsx", "./routes/[room].tsx", "./routes/new.ts");
  assert.deepEqual(order, ["/new", "/:room", "/:rest*"]);
  const files = ["./routes/[...rest].tsx", "./routes/[room].tsx", "./routes/new.ts"];
  assert.equal(resolve(files, "/new")?.pattern, "/new");
  assert.deepEqual(resolve(files, "/k3fq"), { pattern: "/:room", params: { room: "k3fq" } });
  assert.deepEqual(resolve(files, "/a/b/c"), { pattern: "/:rest*", params: { rest: "a/b/c" } });
});

Deno.test("ordering: compared segment by segment", () => {
  const files = ["./routes/[a]/[b]/[c]/[d].tsx", "./routes/api/rooms/[room]/ws.ts"];
  assert.deepEqual(orderOf(...files), ["/api/rooms/:room/ws", "/:a/:b/:c/:d"]);
  assert.deepEqual(resolve(files, "/api/rooms/r1/ws"), {
    pattern: "/api/rooms/:room/ws",
    params: { room: "r1" },
  });
  assert.equal(resolve(files, "/api/rooms/r1/other")?.pattern, "/:a/:b/:c/:d");
  // A static first segment wins even when later segments are dynamic.
  assert.deepEqual(orderOf("./routes/[x]/b.tsx", "./routes/a/[y].tsx"), ["/a/:y", "/:x/b"]);
});

Deno.test("ordering: a path that ends beats a catch-all that also matches it", () => {
  const files = ["./routes/docs/[...rest].tsx", "./routes/docs/index.tsx", "./routes/index.tsx"];
  assert.equal(resolve(files, "/docs")?.pattern, "/docs");
  assert.deepEqual(resolve(files, "/docs/a/b"), {
    pattern: "/docs/:rest*",
    params: { rest: "a/b" },
  });
  assert.equal(resolve(["./routes/[...rest].tsx", "./routes/index.tsx"], "/")?.pattern, "/");
});

// matchRoute

Deno.test("matchRoute: params are percent-decoded", () => {
  const files = ["./routes/[room].tsx", "./routes/café.tsx"];
  assert.deepEqual(resolve(files, "/hello%20world"), {
    pattern: "/:room",
    params: { room: "hello world" },
  });
  assert.deepEqual(resolve(files, "/%E2%9C%93%2F"), { pattern: "/:room", params: { room: "✓/" } });
  // Non-ASCII static names match their percent-encoded request path.
  assert.equal(resolve(files, "/caf%C3%A9")?.pattern, "/café");
});

Deno.test("matchRoute: malformed percent-encoding matches nothing", () => {
  const files = ["./routes/[room].tsx", "./routes/[...rest].tsx"];
  assert.equal(resolve(files, "/%E0%A4%A"), null);
  assert.equal(resolve(files, "/%ZZ"), null);
  assert.equal(resolve(files, "/a/b%"), null);
});

Deno.test("matchRoute: no route, no match", () => {
  assert.equal(resolve(["./routes/new.ts"], "/old"), null);
  assert.equal(resolve(["./routes/new.ts"], "/new/x"), null);
});

// buildRoutes

Deno.test("buildRoutes: _app, _404 and _500 are special at the routes root", () => {
  const app = page(), notFound = page(), error = page();
  const { routes, special } = buildRoutes(manifestOf({
    "./routes/_app.tsx": app,
    "./routes/_404.tsx": notFound,
    "./routes/_500.tsx": error,
    "./routes/index.tsx": page(),
  }));
  assert.equal(special.app, app);
  assert.equal(special.notFound, notFound);
  assert.equal(special.error, error);
  assert.deepEqual(routes.map((r) => r.file), ["./routes/index.tsx"]);
});

Deno.test("buildRoutes: special names below the root are rejected", () => {
  for (const file of ["./routes/admin/_404.tsx", "./routes/(group)/_app.tsx"]) {
    assert.throws(
      () => buildRoutes(manifestOf({ [file]: page() })),
      (e: Error) => e.message.startsWith(file) && e.message.includes("at the routes root"),
    );
  }
});

Deno.test("buildRoutes: unknown _files are rejected with a helpful error", () => {
  assert.throws(
    () => buildRoutes(manifestOf({ "./routes/_render.tsx": page() })),
    (e: Error) =>
      e.message.includes("./routes/_render.tsx") &&
      e.message.includes("_app, _404 and _500") && e.message.includes("_layout") &&
      e.message.includes("rename"),
  );
});

Deno.test("buildRoutes: entries outside ./routes/ are rejected", () => {
  assert.throws(
    () => buildRoutes(manifestOf({ "./islands/X.tsx": page() })),
    /regenerate fresh\.gen\.ts/,
  );
});

Deno.test("buildRoutes: two files for one pattern are rejected", () => {
  const cases = [
    ["./routes/[room].tsx", "./routes/[id].tsx"],
    ["./routes/about.tsx", "./routes/(info)/about.tsx"],
    ["./routes/blog.tsx", "./routes/blog/index.tsx"],
    ["./routes/[...a].tsx", "./routes/[...b].ts"],
  ];
  for (const [a, b] of cases) {
    assert.throws(
      () => buildRoutes(manifestOf({ [a]: page(), [b]: page() })),
      (e: Error) => e.message.includes(a) && e.message.includes(b) && e.message.includes("both"),
    );
  }
  // Different kinds of segment do not collide.
  assert.doesNotThrow(() =>
    buildRoutes(manifestOf({ "./routes/[room].tsx": page(), "./routes/[...rest].tsx": page() }))
  );
});

Deno.test("buildRoutes: escaped colons in static names are not parameters", () => {
  const { routes } = buildRoutes(
    manifestOf({ "./routes/a:b.ts": page(), "./routes/a:c.ts": page() }),
  );
  assert.equal(matchRoute(routes, "/a:b")?.route.file, "./routes/a:b.ts");
  assert.equal(matchRoute(routes, "/a:c")?.route.file, "./routes/a:c.ts");
});

Deno.test("buildRoutes: routeOverride replaces the file's pattern", () => {
  const mod: RouteModule = { default: () => null, config: { routeOverride: "/r/:id" } };
  const { routes } = buildRoutes(manifestOf({ "./routes/anything.tsx": mod }));
  assert.equal(matchRoute(routes, "/r/42")?.params.id, "42");
  assert.equal(matchRoute(routes, "/anything"), null);
});

Deno.test("buildRoutes: nested middlewares apply outermost first, only below their folder", () => {
  const [root, admin, users1, users2, auth, adminx] = Array.from({ length: 6 }, middleware);
  const { routes } = buildRoutes(manifestOf({
    "./routes/_middleware.ts": { handler: root },
    "./routes/admin/_middleware.ts": { handler: admin },
    "./routes/admin/users/_middleware.tsx": { handler: [users1, users2] },
    "./routes/(auth)/_middleware.ts": { handler: auth },
    "./routes/adminx/_middleware.ts": { handler: adminx },
    "./routes/index.tsx": page(),
    "./routes/admin/index.tsx": page(),
    "./routes/admin/users/[id].tsx": page(),
    "./routes/(auth)/login.tsx": page(),
    "./routes/adminx/index.tsx": page(),
  }));
  const chain = (file: string) => routes.find((r) => r.file === file)!.middlewares;
  assert.deepEqual(chain("./routes/index.tsx"), [root]);
  assert.deepEqual(chain("./routes/admin/index.tsx"), [root, admin]);
  assert.deepEqual(chain("./routes/admin/users/[id].tsx"), [root, admin, users1, users2]);
  assert.deepEqual(chain("./routes/(auth)/login.tsx"), [root, auth]);
  assert.deepEqual(chain("./routes/adminx/index.tsx"), [root, adminx]);
});

Deno.test("buildRoutes: a _middleware without a handler is rejected", () => {
  assert.throws(
    () => buildRoutes(manifestOf({ "./routes/_middleware.ts": {} as MiddlewareModule })),
    /must export `handler`/,
  );
});

// Layouts

/** A distinct layout module, with an optional config. */
function layout(config?: RouteModule["config"]): RouteModule {
  return { default: ({ Component }: LayoutProps) => h(Component, null), config };
}

/** The frame of each route built from `files`, as names of the modules given in `names`. */
function framesOf(files: Manifest["routes"]): Record<string, { app?: string; layouts: string[] }> {
  const nameOf = new Map(
    Object.entries(files).map(([file, mod]) => [(mod as RouteModule).default, file]),
  );
  const { routes, special } = buildRoutes(manifestOf(files));
  const named = (frame: PageFrame) => ({
    app: frame.app && nameOf.get(frame.app),
    layouts: frame.layouts.map((l) => nameOf.get(l)!),
  });
  return {
    ...Object.fromEntries(routes.map((r) => [r.file, named(r.frame)])),
    _404: named(special.notFoundFrame),
    _500: named(special.errorFrame),
  };
}

Deno.test("buildRoutes: _layout files wrap the pages of their folder and below, outermost first", () => {
  const frames = framesOf({
    "./routes/_app.tsx": layout(),
    "./routes/_layout.tsx": layout(),
    "./routes/admin/_layout.tsx": layout(),
    "./routes/admin/users/_layout.ts": layout(),
    "./routes/(shop)/_layout.tsx": layout(),
    "./routes/index.tsx": page(),
    "./routes/admin/index.tsx": page(),
    "./routes/admin/users/[id].tsx": page(),
    "./routes/adminx/index.tsx": page(),
    "./routes/(shop)/cart.tsx": page(),
  });
  const app = "./routes/_app.tsx", root = "./routes/_layout.tsx";
  assert.deepEqual(frames["./routes/index.tsx"], { app, layouts: [root] });
  assert.deepEqual(frames["./routes/admin/index.tsx"], {
    app,
    layouts: [root, "./routes/admin/_layout.tsx"],
  });
  assert.deepEqual(frames["./routes/admin/users/[id].tsx"], {
    app,
    layouts: [root, "./routes/admin/_layout.tsx", "./routes/admin/users/_layout.ts"],
  });
  // A folder that only starts like another gets none of its layouts.
  assert.deepEqual(frames["./routes/adminx/index.tsx"], { app, layouts: [root] });
  assert.deepEqual(frames["./routes/(shop)/cart.tsx"], {
    app,
    layouts: [root, "./routes/(shop)/_layout.tsx"],
  });
  // The 404 and 500 pages get what a page at the root gets.
  assert.deepEqual(frames._404, { app, layouts: [root] });
  assert.deepEqual(frames._500, { app, layouts: [root] });
});

Deno.test("buildRoutes: skipInheritedLayouts and skipAppWrapper, in pages and in layouts", () => {
  const frames = framesOf({
    "./routes/_app.tsx": layout(),
    "./routes/_layout.tsx": layout(),
    "./routes/a/_layout.tsx": layout(),
    "./routes/a/b/_layout.tsx": layout({ skipInheritedLayouts: true }),
    "./routes/a/b/c/_layout.tsx": layout(),
    "./routes/bare/_layout.tsx": layout({ skipAppWrapper: true }),
    "./routes/a/b/c/page.tsx": page(),
    "./routes/a/alone.tsx": { default: () => null, config: { skipInheritedLayouts: true } },
    "./routes/a/raw.tsx": { default: () => null, config: { skipAppWrapper: true } },
    "./routes/bare/page.tsx": page(),
    "./routes/_404.tsx": { default: () => null, config: { skipInheritedLayouts: true } },
  });
  const app = "./routes/_app.tsx";
  // A layout that skips inherited ones is where the chain starts; those inside it still apply.
  assert.deepEqual(frames["./routes/a/b/c/page.tsx"], {
    app,
    layouts: ["./routes/a/b/_layout.tsx", "./routes/a/b/c/_layout.tsx"],
  });
  assert.deepEqual(frames["./routes/a/alone.tsx"], { app, layouts: [] });
  assert.deepEqual(frames["./routes/a/raw.tsx"], {
    app: undefined,
    layouts: ["./routes/_layout.tsx", "./routes/a/_layout.tsx"],
  });
  // One layout that skips _app takes it away from every page it wraps.
  assert.deepEqual(frames["./routes/bare/page.tsx"], {
    app: undefined,
    layouts: ["./routes/_layout.tsx", "./routes/bare/_layout.tsx"],
  });
  assert.deepEqual(frames._404, { app, layouts: [] });
  assert.deepEqual(frames._500, { app, layouts: ["./routes/_layout.tsx"] });
});

Deno.test("buildRoutes: a _layout without a default export is rejected", () => {
  assert.throws(
    () => buildRoutes(manifestOf({ "./routes/admin/_layout.tsx": { config: {} } })),
    (e: Error) =>
      e.message.includes("./routes/admin/_layout.tsx") && e.message.includes("default export"),
  );
});

Deno.test("rootMiddlewares: the routes root's _middleware only, in any module flavour", () => {
  for (const ext of ["ts", "tsx", "js", "jsx"]) {
    const [a, b, admin] = Array.from({ length: 3 }, middleware);
    const handlers = rootMiddlewares(manifestOf({
      [`./routes/_middleware.${ext}`]: { handler: [a, b] },
      "./routes/admin/_middleware.ts": { handler: admin },
    }));
    assert.deepEqual(handlers, [a, b], ext);
  }
  const single = middleware();
  assert.deepEqual(
    rootMiddlewares(manifestOf({ "./routes/_middleware.ts": { handler: single } })),
    [
      single,
    ],
  );
  const nestedOnly = manifestOf({ "./routes/admin/_middleware.ts": { handler: middleware() } });
  assert.deepEqual(rootMiddlewares(nestedOnly), []);
});
