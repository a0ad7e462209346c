/** The framework's server-side API, for main.ts, dev tooling and routes. */
export { type App, createApp } from "./server.ts";
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
export function defineConfig(config: import("./types.ts").FreshConfig) {
  return config;
}
