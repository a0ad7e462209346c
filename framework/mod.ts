/**
 * `$fresh/server.ts` (deno.json's import map points it here): what Fresh 1.x's module of that
 * name gives routes and `fresh.config.ts`, the types a route declares and the `define*`
 * helpers. `<Head>` and `IS_BROWSER` are in `$fresh/runtime.ts` (runtime.ts), as in Fresh.
 *
 * A component may take its props' types from here and end up in an island bundle, so nothing
 * reachable from here may import server code: not `server.ts` (rendering, twind, static files,
 * `node:` modules), not the bundler and its esbuild. Hence no `start()` here, unlike Fresh:
 * main.ts and tests import `createApp` from `server.ts` directly.
 * framework/boundaries_test.ts walks this module's import graph to keep it that way.
 */
import type { AsyncLayout, AsyncRoute, FreshConfig, State } from "./types.ts";

export type {
  AppProps,
  AsyncLayout,
  AsyncRoute,
  Context,
  FreshConfig,
  FreshContext,
  Handler,
  Handlers,
  LayoutConfig,
  LayoutContext,
  LayoutProps,
  Manifest,
  PageProps,
  RouteConfig,
  RouteContext,
  State,
} from "./types.ts";

/** Identity helper that type-checks `fresh.config.ts`. */
export function defineConfig(config: FreshConfig): FreshConfig {
  return config;
}

/**
 * An async route component: `export default defineRoute(async (req, ctx) => <main>…</main>)`.
 * It may also return a `Response`, sent instead of the page (`ctx.renderNotFound()`, a redirect).
 */
export function defineRoute<D = unknown, S = State>(fn: AsyncRoute<D, S>): AsyncRoute<D, S> {
  // The renderer tells async components from plain ones by being async functions, as Fresh
  // does; the wrapper is one even when `fn` is a plain function that returns a promise.
  return async (req, ctx) => await fn(req, ctx);
}

/** An async `_layout.tsx`: as {@link defineRoute}, and renders `<ctx.Component />` inside. */
export function defineLayout<D = unknown, S = State>(fn: AsyncLayout<D, S>): AsyncLayout<D, S> {
  return async (req, ctx) => await fn(req, ctx);
}

/** An async `_app.tsx`: as {@link defineLayout}, around every page and its layouts. */
export function defineApp<D = unknown, S = State>(fn: AsyncLayout<D, S>): AsyncLayout<D, S> {
  return async (req, ctx) => await fn(req, ctx);
}
