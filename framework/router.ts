import type {
  AsyncLayout,
  AsyncRoute,
  Handler,
  LayoutProps,
  Manifest,
  MiddlewareModule,
  PageProps,
  RouteModule,
} from "./types.ts";
import type { ComponentType } from "preact";

/** A page component: a plain one of its props, or an async one of `(req, ctx)`. */
// deno-lint-ignore no-explicit-any -- pages declare their own data and state types
export type PageComponent = ComponentType<PageProps<any, any>> | AsyncRoute<any, any>;

/** A `_layout.tsx` or `_app.tsx` component, plain or async. */
// deno-lint-ignore no-explicit-any -- see above
export type LayoutComponent = ComponentType<LayoutProps<any, any>> | AsyncLayout<any, any>;

/**
 * What wraps a page, outermost first: `_app.tsx` (undefined: the default document), then the
 * `_layout.tsx` of each folder down to the page's, as the configs of the page and the layouts
 * allow (`skipAppWrapper`, `skipInheritedLayouts`).
 */
export interface PageFrame {
  app?: LayoutComponent;
  layouts: LayoutComponent[];
}

/** A route compiled from one file in `routes/`. */
export interface Route {
  /** The file, relative to the project root, e.g. `./routes/[room].tsx`. */
  file: string;
  /** URLPattern pathname syntax, e.g. `/:room`. */
  pattern: string;
  module: RouteModule;
  /** Middlewares that apply, outermost (root folder) first. */
  middlewares: Handler[];
  /** `_app` and the layouts around the page. */
  frame: PageFrame;
  /** Sort key: one rank per segment (0 static, 1 param, 2 catch-all). */
  rank: number[];
  matcher: URLPattern;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** Special files of the routes folder. */
export interface SpecialRoutes {
  app?: RouteModule;
  notFound?: RouteModule;
  error?: RouteModule;
  /** What wraps the 404 page: `_app` and the root `_layout`, as for a page at the root. */
  notFoundFrame: PageFrame;
  /** What wraps the 500 page. */
  errorFrame: PageFrame;
}

const ROUTE_FILE = /\.(tsx|ts|jsx|js)$/;

/**
 * Converts a route file path to a URLPattern pathname, following Fresh's conventions:
 * `index` is the folder itself, `[name]` one segment, `[...name]` any number of segments,
 * `(group)` folders are only for organisation and add no segment.
 */
export function fileToPattern(file: string): string {
  const rel = file.replace(/^\.?\/?routes\//, "").replace(ROUTE_FILE, "");
  const segments = rel.split("/").filter((s) => !/^\(.+\)$/.test(s));
  if (segments.at(-1) === "index") segments.pop();
  const parts = segments.map((segment) => {
    const rest = segment.match(/^\[\.\.\.([A-Za-z_][A-Za-z0-9_]*)\]$/);
    if (rest) return `:${rest[1]}*`;
    const param = segment.match(/^\[([A-Za-z_][A-Za-z0-9_]*)\]$/);
    if (param) return `:${param[1]}`;
    if (/[[\]]/.test(segment)) {
      throw new Error(
        `Route file ${file}: segment "${segment}" is not a valid dynamic segment. ` +
          `Use [name] for one segment or [...name] for the rest of the path.`,
      );
    }
    // Static text in a URLPattern must not be read as pattern syntax.
    return segment.replace(/[:*?+(){}\\]/g, (c) => `\\${c}`);
  });
  return "/" + parts.join("/");
}

/** One rank per segment so that static beats `[param]` beats `[...rest]`, segment by segment. */
export function patternRank(pattern: string): number[] {
  return pattern.split("/").slice(1).map((s) =>
    s.endsWith("*") && s.startsWith(":") ? 2 : s.startsWith(":") ? 1 : 0
  );
}

export function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    // A path that ends earlier is less specific than one that goes on with a static segment,
    // but a trailing catch-all also matches the shorter path, so rank the missing segment as 1.5.
    const x = a[i] ?? 1.5, y = b[i] ?? 1.5;
    if (x !== y) return x - y;
  }
  return 0;
}

function isMiddleware(file: string): boolean {
  return /\/_middleware\.(tsx|ts|jsx|js)$/.test(file);
}

function isLayout(file: string): boolean {
  return /\/_layout\.(tsx|ts|jsx|js)$/.test(file);
}

function folderOf(file: string): string {
  return file.replace(/^\.?\/?routes/, "").replace(/\/[^/]*$/, "");
}

function asArray(handler: MiddlewareModule["handler"]): Handler[] {
  return (Array.isArray(handler) ? handler : [handler]) as Handler[];
}

/** The entries of `byFolder` whose folder is `folder` or above it, outermost first. */
function inherited<T>(byFolder: Map<string, T>, folder: string): T[] {
  return [...byFolder.entries()]
    .filter(([dir]) => folder === dir || folder.startsWith(dir + "/"))
    .sort(([a], [b]) => a.length - b.length)
    .map(([, value]) => value);
}

/**
 * The frame of a page in `folder`, as Fresh 1.x builds it: the layouts of its folder and those
 * above, up to the innermost one that skips inherited layouts; none if the page itself skips
 * them. `_app` goes around them unless the page or one of those layouts skips it.
 */
function frameOf(
  page: RouteModule,
  folder: string,
  layoutByFolder: Map<string, RouteModule>,
  app: RouteModule | undefined,
): PageFrame {
  let layouts = page.config?.skipInheritedLayouts ? [] : inherited(layoutByFolder, folder);
  const root = layouts.findLastIndex((l) => l.config?.skipInheritedLayouts);
  if (root > 0) layouts = layouts.slice(root);
  const skipApp = page.config?.skipAppWrapper || layouts.some((l) => l.config?.skipAppWrapper);
  return {
    app: skipApp ? undefined : app?.default as LayoutComponent | undefined,
    layouts: layouts.map((l) => l.default as LayoutComponent),
  };
}

/** Compiles the manifest's routes into a sorted route table. */
export function buildRoutes(manifest: Manifest): { routes: Route[]; special: SpecialRoutes } {
  const found: Partial<SpecialRoutes> = {};
  const middlewareByFolder = new Map<string, Handler[]>();
  const layoutByFolder = new Map<string, RouteModule>();
  const pages: [string, RouteModule][] = [];

  for (const [file, mod] of Object.entries(manifest.routes)) {
    if (!file.startsWith("./routes/") || !ROUTE_FILE.test(file)) {
      throw new Error(
        `Manifest entry ${file} is not a file of ./routes/: regenerate fresh.gen.ts.`,
      );
    }
    const name = file.slice(file.lastIndexOf("/") + 1).replace(ROUTE_FILE, "");
    const atRoot = file.lastIndexOf("/") === "./routes".length;
    if (isMiddleware(file)) {
      const m = mod as MiddlewareModule;
      if (typeof m.handler !== "function" && !Array.isArray(m.handler)) {
        throw new Error(`${file} must export \`handler\` (a function or an array of functions).`);
      }
      middlewareByFolder.set(folderOf(file), asArray(m.handler));
    } else if (isLayout(file)) {
      if (typeof (mod as RouteModule).default !== "function") {
        throw new Error(`${file} must export a layout component as its default export.`);
      }
      layoutByFolder.set(folderOf(file), mod as RouteModule);
    } else if (atRoot && name === "_app") found.app = mod as RouteModule;
    else if (atRoot && name === "_404") found.notFound = mod as RouteModule;
    else if (atRoot && name === "_500") found.error = mod as RouteModule;
    else if (name.startsWith("_")) {
      throw new Error(
        `${file}: only _app, _404 and _500 (at the routes root), _layout and _middleware are ` +
          `special; rename the file or move it out of routes/.`,
      );
    } else pages.push([file, mod as RouteModule]);
  }
  const special: SpecialRoutes = {
    ...found,
    notFoundFrame: frameOf(found.notFound ?? {}, "", layoutByFolder, found.app),
    errorFrame: frameOf(found.error ?? {}, "", layoutByFolder, found.app),
  };

  const routes = pages.map(([file, module]): Route => {
    const pattern = module.config?.routeOverride ?? fileToPattern(file);
    const folder = folderOf(file);
    return {
      file,
      pattern,
      module,
      middlewares: inherited(middlewareByFolder, folder).flat(),
      frame: frameOf(module, folder, layoutByFolder, found.app),
      rank: patternRank(pattern),
      matcher: new URLPattern({ pathname: pattern }),
    };
  });
  routes.sort((a, b) => compareRanks(a.rank, b.rank) || a.pattern.localeCompare(b.pattern));

  const seen = new Map<string, string>();
  for (const r of routes) {
    // Parameter names do not matter; an escaped `\:` is static text, not a parameter.
    const key = r.pattern.replace(/(?<!\\):[A-Za-z0-9_]+/g, ":");
    const other = seen.get(key);
    if (other) throw new Error(`Routes ${other} and ${r.file} both match ${r.pattern}.`);
    seen.set(key, r.file);
  }
  return { routes, special };
}

/** Middlewares for requests that match no route (they still run, e.g. for logging or auth). */
export function rootMiddlewares(manifest: Manifest): Handler[] {
  // Same file types as buildRoutes accepts, so a root `_middleware.js` also runs for 404s.
  const file = Object.keys(manifest.routes).find((f) =>
    /^\.\/routes\/_middleware\.(tsx|ts|jsx|js)$/.test(f)
  );
  return file ? asArray((manifest.routes[file] as MiddlewareModule).handler) : [];
}

/** Finds the first route matching `pathname`; params are percent-decoded. */
export function matchRoute(routes: Route[], pathname: string): RouteMatch | null {
  for (const route of routes) {
    const m = route.matcher.exec({ pathname });
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      for (const [k, v] of Object.entries(m.pathname.groups)) {
        params[k] = v === undefined ? "" : decodeURIComponent(v);
      }
    } catch {
      return null; // Malformed percent-encoding: no route can mean it.
    }
    return { route, params };
  }
  return null;
}
