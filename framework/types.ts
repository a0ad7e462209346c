import type { ComponentChildren, ComponentType, JSX } from "preact";

/** Per-request state shared by middlewares and handlers (`ctx.state`). */
export type State = Record<string, unknown>;

/**
 * What a route handler and a middleware receive alongside the request: Fresh 1.x's
 * `FreshContext`, state type first as there.
 */
export interface FreshContext<S = State, D = unknown> {
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

/** The handler context under its earlier name. */
export type Context<S = State, D = unknown> = FreshContext<S, D>;

/** A route handler or middleware: answers the request, or calls `ctx.next()` for the rest. */
export type Handler<D = unknown, S = State> = (
  req: Request,
  ctx: FreshContext<S, D>,
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

/** Props of a `_layout.tsx` component: render `<Component />` where the page goes. */
export interface LayoutProps<D = unknown, S = State> extends PageProps<D, S> {
  /** What the layout wraps: the next layout in, or the page. */
  Component: ComponentType;
}

/** Props of `_app.tsx`, which wraps every page and its layouts in the document. */
export type AppProps<D = unknown, S = State> = LayoutProps<D, S>;

/**
 * What an async route component (`defineRoute`) receives after the request: the handler's
 * context without `render` and `next` (the page is what renders), with the handler's data.
 */
export interface RouteContext<D = unknown, S = State>
  extends Omit<FreshContext<S, D>, "render" | "next"> {
  /** What the handler passed to `ctx.render(data)`; undefined when it passed nothing. */
  data: D;
  /** Set on `_500` pages in dev: what was thrown. */
  error?: unknown;
}

/** What an async layout or app (`defineLayout`, `defineApp`) receives after the request. */
export interface LayoutContext<D = unknown, S = State> extends RouteContext<D, S> {
  /** What the layout wraps: the next layout in, or the page. */
  Component: ComponentType;
}

/**
 * A route component that loads what it shows itself: called with the request and its context,
 * it returns the page's elements, or a `Response` sent instead of the page.
 */
export type AsyncRoute<D = unknown, S = State> = (
  req: Request,
  ctx: RouteContext<D, S>,
) => Promise<ComponentChildren | Response>;

/** An async `_layout.tsx` or `_app.tsx`: as {@link AsyncRoute}, and renders `ctx.Component`. */
export type AsyncLayout<D = unknown, S = State> = (
  req: Request,
  ctx: LayoutContext<D, S>,
) => Promise<ComponentChildren | Response>;

/** A module in `routes/`. */
export interface RouteModule {
  /**
   * The page component; `_app.tsx` and `_layout.tsx` export a `LayoutProps` component here
   * instead. Either may be an async function of `(req, ctx)` (`defineRoute`, `defineLayout`).
   */
  default?:
    // deno-lint-ignore no-explicit-any -- pages declare their own data and state types
    | ComponentType<PageProps<any, any>>
    // deno-lint-ignore no-explicit-any -- see above
    | ComponentType<LayoutProps<any, any>>
    // deno-lint-ignore no-explicit-any -- see above
    | AsyncRoute<any, any>
    // deno-lint-ignore no-explicit-any -- see above
    | AsyncLayout<any, any>;
  /** The route's handlers: one function for every method, or one per method. */
  // deno-lint-ignore no-explicit-any -- handlers declare their own data types
  handler?: Handlers<any, any>;
  /** Per-route settings; a `_layout.tsx` may set those of `LayoutConfig`. */
  config?: RouteConfig;
}

/** A `_layout.tsx` module's `config` export. */
export interface LayoutConfig {
  /** Render without the `_layout` files of the folders above this one. */
  skipInheritedLayouts?: boolean;
  /** Render without `_app.tsx`: the framework's default document wraps the page instead. */
  skipAppWrapper?: boolean;
}

/** A route module's `config` export. */
export interface RouteConfig {
  /** Overrides the path pattern derived from the file name (URLPattern syntax). */
  routeOverride?: string;
  /** Render the page without any `_layout` file. */
  skipInheritedLayouts?: boolean;
  /** Render without `_app.tsx`: the framework's default document wraps the page instead. */
  skipAppWrapper?: boolean;
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
