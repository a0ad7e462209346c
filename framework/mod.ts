/**
 * The framework's browser-safe API, for routes, components and islands: the types a route
 * declares, `<Head>`, `IS_BROWSER` and `defineConfig`.
 *
 * Islands are bundled for the browser, so nothing reachable from here may import server code:
 * not `server.ts` (rendering, twind, static files, `node:` modules), not the bundler and its
 * esbuild. `createApp` lives in `server.ts`, which main.ts and tests import directly.
 * framework/boundaries_test.ts walks this module's import graph to keep it that way.
 */
import type { FreshConfig } from "./types.ts";

export type {
  AppProps,
  Context,
  FreshConfig,
  Handler,
  Handlers,
  Manifest,
  PageProps,
  RouteConfig,
  State,
} from "./types.ts";
export { Head, IS_BROWSER } from "./runtime.ts";

/** Identity helper that type-checks `fresh.config.ts`. */
export function defineConfig(config: FreshConfig): FreshConfig {
  return config;
}
