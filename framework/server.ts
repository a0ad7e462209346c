/**
 * The server entry: `createApp` for main.ts, `deno task dev` and tests. Server-only (rendering,
 * twind, static files, `node:` modules); routes, components and islands import `mod.ts`, which
 * never reaches this module.
 *
 * Nothing here imports the bundler statically: a production server serves the prebuilt `_fresh/`
 * (`deno task build`) and never loads esbuild; `prepareBuild` imports `bundle.ts` only in dev, or
 * when the caller asked for a build in memory (`buildIfStale`, for tests).
 */
import { type ComponentType, h } from "preact";
import { type BuildResult, loadBuild, preloadList } from "./build.ts";
import { compressResponse } from "./compress.ts";
import { contentSecurityPolicy, createNonce, withSecurityHeaders } from "./headers.ts";
import { type ClientAssets, renderPage } from "./render.ts";
import { buildRoutes, matchRoute, type PageFrame, rootMiddlewares, type Route } from "./router.ts";
import { islandName } from "./manifest.ts";
import { createStaticHandler, serveBytes } from "./static.ts";
import { createStyleEngine } from "./twind.ts";
import type {
  Context,
  FreshConfig,
  Handler,
  Manifest,
  PageProps,
  RouteModule,
  State,
} from "./types.ts";

/** URL prefix of the island bundles (`/_frsh/js/<file>`). */
export const ASSET_PREFIX = "/_frsh/js/";
const ALIVE_PATH = "/_frsh/alive";
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** What `createApp` returns. */
export interface App {
  /** The request handler, for `Deno.serve` or `export default { fetch }`. */
  handler: (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
  /** The island build in use. */
  build: BuildResult | null;
  /** The compiled route table, in match order. */
  routes: Route[];
}

/** How `createApp` gets its island bundles outside dev mode. */
export interface AppOptions {
  /**
   * Build the islands in memory when `_fresh/` is missing or stale, instead of refusing to
   * start. For tests and tools that run from a checkout whose sources change; a production
   * server leaves it off, so that it never loads the bundler (Deno Deploy cannot run it) and
   * never serves what the sources no longer say.
   */
  buildIfStale?: boolean;
}

/** Project root: the folder of the manifest file. */
export function projectRoot(manifest: Manifest): string {
  return decodeURIComponent(new URL(".", manifest.baseUrl).pathname).replace(/\/$/, "");
}

/**
 * Loads the prebuilt island bundles; builds them in memory in dev, or when they are missing or
 * stale and `options.buildIfStale` allows it. Otherwise a missing or stale build is an error that
 * says to run `deno task build`.
 */
async function prepareBuild(
  manifest: Manifest,
  config: FreshConfig,
  root: string,
  options: AppOptions,
): Promise<BuildResult | null> {
  const islands: Record<string, string> = {};
  for (const file of Object.keys(manifest.islands)) {
    islands[islandName(file)] = `${root}/${file.slice(2)}`;
  }
  if (Object.keys(islands).length === 0) return null;
  const outDir = `${root}/${config.build?.outDir ?? "_fresh"}`;
  if (!config.dev) {
    const loaded = await loadBuild(outDir, root, islands);
    if (typeof loaded !== "string") return loaded;
    if (!options.buildIfStale) {
      throw new Error(
        `Cannot serve the island bundles in ${outDir}: ${loaded}. Run \`deno task build\` ` +
          "before starting the server (`deno task start` does it for you). A production server " +
          "never bundles at start.",
      );
    }
    if (loaded !== "no prebuilt bundles") {
      console.warn(
        `Not using ${outDir}: ${loaded}. Building islands in memory; run \`deno task build\`.`,
      );
    }
  }
  // Imported here, not at the top: loading esbuild costs start-up time and memory in every
  // isolate of `deno serve --parallel`, for a bundler a fresh prebuilt build never needs.
  const { buildIslands } = await import("./bundle.ts");
  return await buildIslands({
    root,
    islands,
    runtimeEntry: `${root}/framework/client.ts`,
    dev: config.dev,
    target: config.build?.target,
  });
}

function clientAssets(build: BuildResult | null): ClientAssets {
  const islands: Record<string, string> = {};
  for (const [name, file] of Object.entries(build?.manifest.islands ?? {})) {
    islands[name] = ASSET_PREFIX + file;
  }
  return {
    runtime: ASSET_PREFIX + (build?.manifest.runtime ?? ""),
    islands,
    preloads(urls) {
      const names = urls.map((u) => u.slice(ASSET_PREFIX.length));
      return preloadList(build?.manifest.imports ?? {}, names).map((n) => ASSET_PREFIX + n);
    },
  };
}

/** Server-sent events that tell the dev page to reload once the server restarted. */
function aliveStream(bootId: string): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(`retry: 300\ndata: ${bootId}\n\n`));
    },
  });
  return new Response(body, {
    headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-store" },
  });
}

const LIVE_RELOAD = (nonce: string) =>
  `<script type="module" nonce="${nonce}">let b;new EventSource(${
    JSON.stringify(ALIVE_PATH)
  }).onmessage=(e)=>{if(b&&b!==e.data)location.reload();b=e.data};</script>`;

function DefaultNotFound() {
  return h("main", null, h("h1", null, "404: page not found"));
}

function DefaultError() {
  return h("main", null, h("h1", null, "500: something went wrong"));
}

/**
 * Creates the app: route table, island build, style engine and the request handler. Outside dev
 * mode the islands must have been built (`deno task build`) from the current sources, unless
 * `options.buildIfStale` is set.
 */
export async function createApp(
  manifest: Manifest,
  config: FreshConfig = {},
  options: AppOptions = {},
): Promise<App> {
  const root = projectRoot(manifest);
  const dev = config.dev ?? false;
  const { routes, special } = buildRoutes(manifest);
  const notFoundMiddlewares = rootMiddlewares(manifest);
  const build = await prepareBuild(manifest, config, root, options);
  const assets = clientAssets(build);
  const styles = createStyleEngine(config.twind ?? {}, build?.manifest.classes ?? {});
  const serveStatic = createStaticHandler({ root: `${root}/${config.staticDir ?? "static"}` });
  const islands = new Map<ComponentType, string>();
  for (const [file, mod] of Object.entries(manifest.islands)) {
    islands.set(mod.default, islandName(file));
  }
  const bootId = crypto.randomUUID();

  async function render(
    page: ComponentType<PageProps>,
    props: PageProps,
    nonce: string,
    init: ResponseInit | undefined,
    frame: PageFrame,
    req: Request,
    ctx?: Context,
  ): Promise<Response> {
    const html = await renderPage({
      page,
      frame,
      req,
      ctx,
      props,
      islands,
      assets,
      styles,
      nonce,
      bodyEnd: dev ? LIVE_RELOAD(nonce) : undefined,
    });
    // An async route, layout or app may answer with a response of its own.
    if (html instanceof Response) return html;
    const headers = new Headers(init?.headers);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "text/html; charset=utf-8");
    return new Response(html, { ...init, headers });
  }

  function makeContext(
    req: Request,
    url: URL,
    params: Record<string, string>,
    page: ComponentType<PageProps> | undefined,
    nonce: string,
    info: Deno.ServeHandlerInfo | undefined,
    chain: Handler[],
    frame: PageFrame = { layouts: [] },
  ): Context {
    let index = 0;
    const ctx: Context = {
      url,
      params,
      state: {} as State,
      remoteAddr: info?.remoteAddr as Deno.NetAddr | undefined,
      render(data, init) {
        if (!page) {
          throw new Error(
            `${url.pathname}: ctx.render() was called but the route has no page component.`,
          );
        }
        return render(page, { url, params, state: ctx.state, data }, nonce, init, frame, req, ctx);
      },
      renderNotFound() {
        const NotFound = (special.notFound?.default ?? DefaultNotFound) as ComponentType<PageProps>;
        const props = { url, params, state: ctx.state, data: undefined };
        return render(NotFound, props, nonce, { status: 404 }, special.notFoundFrame, req, ctx);
      },
      async next() {
        const handler = chain[index++];
        if (!handler) throw new Error("ctx.next() was called by the last handler of the chain.");
        return await handler(req, ctx);
      },
    };
    return ctx;
  }

  /** The handler for `method` on `route`, or the list of allowed methods for a 405. */
  function handlerFor(route: Route, method: string): Handler | string[] {
    const { handler, default: page } = route.module as RouteModule;
    if (typeof handler === "function") return handler as Handler;
    const table = (handler ?? {}) as Partial<Record<string, Handler>>;
    const renderPageHandler: Handler | undefined = page ? (_req, ctx) => ctx.render() : undefined;
    const get = table.GET ?? renderPageHandler;
    const resolved = table[method] ??
      (method === "HEAD" ? get : method === "GET" ? get : undefined);
    if (resolved) return resolved;
    const allowed = METHODS.filter((m) => table[m] || ((m === "GET" || m === "HEAD") && get));
    return allowed;
  }

  async function dispatch(
    req: Request,
    url: URL,
    nonce: string,
    info?: Deno.ServeHandlerInfo,
  ): Promise<Response> {
    if (url.pathname.startsWith(ASSET_PREFIX)) {
      const name = url.pathname.slice(ASSET_PREFIX.length);
      const file = build?.files.get(name);
      if (!file) return new Response("Not found", { status: 404 });
      return serveBytes(req, file, {
        contentType: "text/javascript; charset=utf-8",
        etag: `"${name}"`,
        cacheControl: dev ? "no-cache" : "public, max-age=31536000, immutable",
        encoded: build?.encoded.get(name),
      });
    }
    if (dev && url.pathname === ALIVE_PATH) return aliveStream(bootId);
    const file = await serveStatic(req);
    if (file) return file;

    const match = matchRoute(routes, url.pathname);
    if (!match) {
      const ctx = makeContext(req, url, {}, undefined, nonce, info, []);
      const notFound: Handler = (_r, c) => c.renderNotFound();
      const chain = [...notFoundMiddlewares, notFound];
      const full = makeContext(req, url, {}, undefined, nonce, info, chain);
      void ctx;
      return await full.next();
    }
    const { route, params } = match;
    const handler = handlerFor(route, req.method);
    const final: Handler = Array.isArray(handler)
      ? () =>
        new Response(`Method ${req.method} is not allowed here. Allowed: ${handler.join(", ")}.`, {
          status: 405,
          headers: { Allow: handler.join(", ") },
        })
      : handler;
    const page = route.module.default as ComponentType<PageProps> | undefined;
    const chain = [...route.middlewares, final];
    const ctx = makeContext(req, url, params, page, nonce, info, chain, route.frame);
    return await ctx.next();
  }

  async function renderError(req: Request, url: URL, err: unknown, nonce: string) {
    console.error(`${req.method} ${url.pathname}${url.search} failed:`, err);
    try {
      const ErrorPage = (special.error?.default ?? DefaultError) as ComponentType<PageProps>;
      // The error object reaches the page only in dev: it may carry internals.
      const props = { url, params: {}, state: {}, data: undefined, error: dev ? err : undefined };
      return await render(ErrorPage, props, nonce, { status: 500 }, special.errorFrame, req);
    } catch (pageErr) {
      console.error("The _500 page failed too:", pageErr);
      return new Response("Internal Server Error", { status: 500 });
    }
  }

  async function handler(req: Request, info?: Deno.ServeHandlerInfo): Promise<Response> {
    const nonce = createNonce();
    const url = new URL(req.url);
    let res: Response;
    try {
      res = await dispatch(req, url, nonce, info);
    } catch (err) {
      res = await renderError(req, url, err, nonce);
    }
    // Before a HEAD's body is dropped, so that it gets the Vary its GET gets.
    if (res.status !== 101) res = await compressResponse(req, res);
    if (req.method === "HEAD" && res.body) {
      await res.body.cancel();
      res = new Response(null, res);
    }
    // A WebSocket upgrade (101) takes no headers: skip building the policy on that hot path.
    if (res.status === 101) return res;
    return withSecurityHeaders(res, contentSecurityPolicy(nonce, config.csp));
  }

  return { handler, build, routes };
}
