import type { ComponentChildren, ComponentType, JSX } from "preact";

/** Per-request state shared by middlewares and handlers (`ctx.state`). */
export type State = Record<string, unknown>;

/** What a route handler, a middleware and a page receive alongside the request. */
export interface Context<S = State, D = unknown> {
  /** The request URL, parsed once. */
  readonly url: URL;
  /** Route parameters: `[room].tsx` gives `params.room`, `[...rest].tsx` gives `params.rest`. */
  readonly params: Record<string, string>;
  /** Mutable per-request state, shared along the middleware chain. */
  state: S;
  /** The remote address, when the server knows it. */
  readonly remoteAddr?: Deno.NetAddr;
  /** Renders the route's page component with `data` (status 200 unless given). */
  render(data?: D, init?: ResponseInit): Promise<Response>;
  /** Renders the `_404` page with status 404. */
  renderNotFound(): Promise<Response>;
  /** In a middleware: runs the rest of the chain and returns its response. */
  next(): Promise<Response>;
}

/** A route handler or middleware: answers the request, or calls `ctx.next()` for the rest. */
export type Handler<D = unknown, S = State> = (
  req: Request,
  ctx: Context<S, D>,
) => Response | Promise<Response>;

/** The HTTP methods a route can have handlers for (HEAD falls back to GET). */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/** A route's handlers: one function for every method, or one per method. */
export type Handlers<D = unknown, S = State> =
  | Handler<D, S>
  | Partial<Record<Method, Handler<D, S>>>;

/** Props of a page component. */
export interface PageProps<D = unknown, S = State> {
  /** The request URL. */
  url: URL;
  /** Route parameters, as in `ctx.params`. */
  params: Record<string, string>;
  /** The state the middlewares left in `ctx.state`. */
  state: S;
  /** What the handler passed to `ctx.render(data)`; undefined when it passed nothing. */
  data: D;
  /** Set on `_500` pages: what was thrown. */
  error?: unknown;
}

/** Props of `_app.tsx`: render `<Component />` where the page goes. */
export interface AppProps<S = State> extends Omit<PageProps<unknown, S>, "data"> {
  /** The page being rendered. */
  Component: ComponentType;
}

/** A module in `routes/`. */
export interface RouteModule {
  /** The page component; `_app.tsx` exports an `AppProps` component here instead. */
  // deno-lint-ignore no-explicit-any -- pages declare their own data and state types
  default?: ComponentType<PageProps<any, any>> | ComponentType<AppProps<any>>;
  /** The route's handlers: one function for every method, or one per method. */
  // deno-lint-ignore no-explicit-any -- handlers declare their own data types
  handler?: Handlers<any, any>;
  /** Per-route settings. */
  config?: RouteConfig;
}

/** A route module's `config` export. */
export interface RouteConfig {
  /** Overrides the path pattern derived from the file name (URLPattern syntax). */
  routeOverride?: string;
}

/** A `_middleware.ts` module: runs for every route below its folder. */
export interface MiddlewareModule {
  /** One middleware, or several run in order. */
  // deno-lint-ignore no-explicit-any -- state types are chosen by the app
  handler: Handler<unknown, any> | Handler<unknown, any>[];
}

/** A module in `islands/`: its default export is hydrated in the browser. */
export interface IslandModule {
  /** The island component. */
  // deno-lint-ignore no-explicit-any -- island props are whatever the island declares
  default: ComponentType<any>;
}

/**
 * The app's generated manifest (`fresh.gen.ts`): every route and island module keyed by its
 * path relative to the project root, e.g. `"./routes/[room].tsx"`.
 */
export interface Manifest {
  /** Every module of `routes/`, pages, endpoints and `_middleware.ts`. */
  routes: Record<string, RouteModule | MiddlewareModule>;
  /** Every module of `islands/`. */
  islands: Record<string, IslandModule>;
  /** `import.meta.url` of the manifest: locates the project root. */
  baseUrl: string;
}

/** twind's settings, as in its `defineConfig`. */
export interface TwindOptions {
  /** twind presets, e.g. `presetTailwind()`. */
  // deno-lint-ignore no-explicit-any -- twind's own config type is generic over theme and presets
  presets?: any[];
  /** Theme values and extensions. */
  // deno-lint-ignore no-explicit-any -- see above
  theme?: any;
  /** Extra rules. */
  // deno-lint-ignore no-explicit-any -- see above
  rules?: any[];
}

/** `fresh.config.ts`. */
export interface FreshConfig {
  /** The style engine's settings (server-side only). */
  twind?: TwindOptions;
  /** Island bundle settings. */
  build?: {
    /** esbuild target for island bundles. Default `["chrome109", "firefox115", "safari16"]`. */
    target?: string[];
    /** Output folder for `deno task build`, relative to the project root. Default `_fresh`. */
    outDir?: string;
  };
  /** Folder of public files, relative to the project root. Default `static`. */
  staticDir?: string;
  /** Extra Content-Security-Policy directives, merged into the defaults. */
  csp?: Record<string, string[]>;
  /** Dev mode: live reload, unminified bundles, error details in the browser. */
  dev?: boolean;
}

export type { ComponentChildren, JSX };
