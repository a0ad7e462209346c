import {
  type ComponentChildren,
  type ComponentType,
  createContext,
  Fragment,
  h,
  options,
  type VNode,
} from "preact";
import { useContext } from "preact/hooks";
import { renderToString } from "preact-render-to-string";
import type { LayoutComponent, PageComponent, PageFrame } from "./router.ts";
import { HeadContext } from "./runtime.ts";
import { serialize } from "./serializer.ts";
import type {
  AppProps,
  FreshContext,
  LayoutContext,
  LayoutProps,
  PageProps,
  RouteContext,
} from "./types.ts";
import type { StyleEngine } from "./twind.ts";

/** Where the browser finds the island code of this build. */
export interface ClientAssets {
  /** URL of the client runtime module. */
  runtime: string;
  /** Island name -> URL of its module. */
  islands: Record<string, string>;
  /** Every module a given module imports statically, transitively (for modulepreload). */
  preloads(urls: string[]): string[];
}

export interface RenderInput {
  page: PageComponent;
  /** `_app` and the layouts around the page; without it, the default document alone. */
  frame?: PageFrame;
  props: PageProps;
  /** The request, which async routes, layouts and apps are called with. */
  req?: Request;
  /** The handler's context: async components get its `remoteAddr` and `renderNotFound`. */
  ctx?: FreshContext;
  /** Island components of the app and their names. */
  islands: Map<ComponentType, string>;
  assets: ClientAssets;
  styles: StyleEngine;
  nonce: string;
  /** Extra HTML for the end of `<body>` (dev live reload). */
  bodyEnd?: string;
}

/** The element that wraps each island in the HTML; `display: contents` keeps layout unchanged. */
export const ISLAND_TAG = "island-root";
export const STATE_ID = "__FRSH_STATE";

interface ActiveRender {
  islands: Map<ComponentType, string>;
  /** `[name, props]` of every island found, in document order. */
  found: [string, Record<string, unknown>][];
}

/** Set while renderToString runs; rendering is synchronous, so one slot is enough. */
let active: ActiveRender | null = null;
/** Set while the island wrapper creates the real island vnode, so the hook lets it through. */
let creatingIsland = false;
const InIsland = createContext(false);

/**
 * The marker component of every island an app has rendered with. Vnodes are given it when
 * created, which for an async route is before its render starts; which render it belongs to,
 * and whether it is an island of that app, the marker finds out when it renders.
 */
const markers = new WeakMap<ComponentType, ComponentType>();
const registered = new WeakSet<Map<ComponentType, string>>();

function register(islands: Map<ComponentType, string>) {
  if (registered.has(islands)) return;
  registered.add(islands);
  for (const Island of islands.keys()) {
    if (!markers.has(Island)) markers.set(Island, islandMarker(Island));
  }
}

function islandMarker(Island: ComponentType) {
  return function IslandMarker(props: Record<string, unknown>) {
    creatingIsland = true;
    const inner = h(Island, props);
    creatingIsland = false;
    // An island inside another island is part of that island's tree in the browser.
    const nested = useContext(InIsland);
    const name = active?.islands.get(Island);
    if (!active || name === undefined || nested) return inner;
    const id = active.found.push([name, props]) - 1;
    return h(
      InIsland.Provider,
      { value: true },
      h(ISLAND_TAG, { "data-island": name, "data-id": String(id) }, inner),
    );
  };
}

const previousVnodeHook = options.vnode;
options.vnode = (vnode: VNode) => {
  if (!creatingIsland && typeof vnode.type === "function") {
    const marker = markers.get(vnode.type as ComponentType);
    if (marker) vnode.type = marker;
  }
  previousVnodeHook?.(vnode);
};

function renderSync(vnode: VNode<unknown>, render: ActiveRender): string {
  const outer = active;
  active = render;
  try {
    return renderToString(vnode);
  } finally {
    active = outer;
    creatingIsland = false;
  }
}

const escapeAttr = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function DefaultApp({ Component }: AppProps) {
  return h(
    "html",
    { lang: "en" },
    h(
      "head",
      null,
      h("meta", { charset: "utf-8" }),
      h("meta", { name: "viewport", content: "width=device-width, initial-scale=1" }),
    ),
    h("body", null, h(Component, null)),
  );
}

type AsyncComponent = (req: Request, ctx: LayoutContext) => Promise<ComponentChildren | Response>;

/** Async components are told apart from plain ones as Fresh 1.x does: by being async functions. */
function isAsync(component: unknown): component is AsyncComponent {
  return typeof component === "function" && component.constructor.name === "AsyncFunction";
}

function noNotFound(): Promise<Response> {
  return Promise.reject(
    new Error("ctx.renderNotFound() is only available while answering a request for a route."),
  );
}

/**
 * The page inside its layouts inside `_app`, as one component. Async ones are called first,
 * outermost first, each with a `ctx.Component` that renders the levels inside it; the first
 * to return a `Response` ends the render with it.
 */
async function composePage(input: RenderInput): Promise<ComponentType | Response> {
  const { props } = input;
  const levels: (LayoutComponent | PageComponent)[] = [
    input.frame?.app ?? DefaultApp,
    ...(input.frame?.layouts ?? []),
    input.page,
  ];
  const last = levels.length - 1;
  const resolved: ComponentType<LayoutProps>[] = [];
  /** Renders level `i` and, through its `Component`, the levels inside it. */
  const inner = (i: number): ComponentType => () =>
    i === last
      ? h(resolved[i] as ComponentType<PageProps>, props)
      : h(resolved[i], { ...props, Component: inner(i + 1) });
  const context: RouteContext = {
    url: props.url,
    params: props.params,
    state: props.state,
    remoteAddr: input.ctx?.remoteAddr,
    renderNotFound: input.ctx?.renderNotFound ?? noNotFound,
    data: props.data,
    error: props.error,
  };
  for (const [i, level] of levels.entries()) {
    if (!isAsync(level)) {
      resolved[i] = level as ComponentType<LayoutProps>;
      continue;
    }
    if (!input.req) throw new Error("An async route, layout or app needs the request to render.");
    const ctx = i === last ? context : { ...context, Component: inner(i + 1) };
    const out = await level(input.req, ctx as LayoutContext);
    if (out instanceof Response) return out;
    resolved[i] = () => h(Fragment, null, out);
  }
  return inner(0);
}

/**
 * Renders a full HTML document: page inside its layouts and `_app`, head tags, extracted CSS
 * and island boot code; or the `Response` an async route, layout or app returned instead.
 */
export async function renderPage(input: RenderInput): Promise<string | Response> {
  const { nonce } = input;
  register(input.islands);
  const Page = await composePage(input);
  if (Page instanceof Response) return Page;
  const head: ComponentChildren[] = [];
  const render: ActiveRender = { islands: input.islands, found: [] };
  const tree = h(HeadContext.Provider, { value: head }, h(Page, null)) as VNode<unknown>;
  let html = renderSync(tree, render);

  const headHtml = head.length ? renderToString(h("x", null, head)).slice(3, -4) : "";
  let bodyEnd = input.bodyEnd ?? "";
  let headEnd = headHtml;
  if (render.found.length) {
    const names = [...new Set(render.found.map(([name]) => name))];
    const urls = names.map((n) => input.assets.islands[n]);
    const modules = [input.assets.runtime, ...urls];
    for (const url of input.assets.preloads(modules)) {
      headEnd += `<link rel="modulepreload" href="${escapeAttr(url)}">`;
    }
    const imports = names.map((_, i) => `import i${i} from ${JSON.stringify(urls[i])};`).join("");
    const table = names.map((n, i) => `${JSON.stringify(n)}:i${i}`).join(",");
    bodyEnd += `<script id="${STATE_ID}" type="application/json" nonce="${nonce}">${
      serialize(render.found)
    }</script><script type="module" nonce="${nonce}">import{boot}from${
      JSON.stringify(input.assets.runtime)
    };${imports}boot({${table}});</script>`;
  }

  const css = input.styles.extract(html, render.found.map(([name]) => name));
  headEnd += `<style nonce="${nonce}">${ISLAND_TAG}{display:contents}${css}</style>`;
  html = insertBefore(html, "</head>", headEnd);
  html = insertBefore(html, "</body>", bodyEnd);
  return "<!DOCTYPE html>" + html;
}

function insertBefore(html: string, tag: string, text: string): string {
  if (!text) return html;
  const at = html.lastIndexOf(tag);
  return at === -1 ? html + text : html.slice(0, at) + text + html.slice(at);
}
