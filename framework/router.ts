import type { Handler, Manifest, MiddlewareModule, RouteModule } from "./types.ts";

/** A route compiled from one file in `routes/`. */
export interface Route {
  /** The file, relative to the project root, e.g. `./routes/[room].tsx`. */
  file: string;
  /** URLPattern pathname syntax, e.g. `/:room`. */
  pattern: string;
  module: RouteModule;
  /** Middlewares that apply, outermost (root folder) first. */
  middlewares: Handler[];
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

function folderOf(file: string): string {
  return file.replace(/^\.?\/?routes/, "").replace(/\/[^/]*$/, "");
}

function asArray(handler: MiddlewareModule["handler"]): Handler[] {
  return (Array.isArray(handler) ? handler : [handler]) as Handler[];
}

/** Compiles the manifest's routes into a sorted route table. */
export function buildRoutes(manifest: Manifest): { routes: Route[]; special: SpecialRoutes } {
  const special: SpecialRoutes = {};
  const middlewareByFolder = new Map<string, Handler[]>();
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
    } else if (atRoot && name === "_app") special.app = mod as RouteModule;
    else if (atRoot && name === "_404") special.notFound = mod as RouteModule;
    else if (atRoot && name === "_500") special.error = mod as RouteModule;
    else if (name.startsWith("_")) {
      throw new Error(
        `${file}: only _app, _404 and _500 (at the routes root) and _middleware are special; ` +
          `rename the file or move it out of routes/.`,
      );
    } else pages.push([file, mod as RouteModule]);
  }

  const routes = pages.map(([file, module]): Route => {
    const pattern = module.config?.routeOverride ?? fileToPattern(file);
    const folder = folderOf(file);
    const middlewares = [...middlewareByFolder.entries()]
      .filter(([dir]) => folder === dir || folder.startsWith(dir + "/"))
      .sort(([a], [b]) => a.length - b.length)
      .flatMap(([, handlers]) => handlers);
    return {
      file,
      pattern,
      module,
      middlewares,
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
