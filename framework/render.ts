import {
  type ComponentChildren,
  type ComponentType,
  createContext,
  h,
  options,
  type VNode,
} from "preact";
import { useContext } from "preact/hooks";
import { renderToString } from "preact-render-to-string";
import { HeadContext } from "./runtime.ts";
import { serialize } from "./serializer.ts";
import type { AppProps, PageProps } from "./types.ts";
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
  page: ComponentType<PageProps>;
  app?: ComponentType<AppProps>;
  props: PageProps;
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
  wrappers: Map<ComponentType, ComponentType>;
}

/** Set while renderToString runs; rendering is synchronous, so one slot is enough. */
let active: ActiveRender | null = null;
/** Set while the island wrapper creates the real island vnode, so the hook lets it through. */
let creatingIsland = false;
const InIsland = createContext(false);

function islandWrapper(render: ActiveRender, name: string, Island: ComponentType) {
  return function IslandMarker(props: Record<string, unknown>) {
    creatingIsland = true;
    const inner = h(Island, props);
    creatingIsland = false;
    // An island inside another island is part of that island's tree in the browser.
    if (useContext(InIsland)) return inner;
    const id = render.found.push([name, props]) - 1;
    return h(
      InIsland.Provider,
      { value: true },
      h(ISLAND_TAG, { "data-island": name, "data-id": String(id) }, inner),
    );
  };
}

const previousVnodeHook = options.vnode;
options.vnode = (vnode: VNode) => {
  const render = active;
  if (render && !creatingIsland && typeof vnode.type === "function") {
    const name = render.islands.get(vnode.type as ComponentType);
    if (name) {
      let wrapper = render.wrappers.get(vnode.type as ComponentType);
      if (!wrapper) {
        wrapper = islandWrapper(render, name, vnode.type as ComponentType);
        render.wrappers.set(vnode.type as ComponentType, wrapper);
      }
      vnode.type = wrapper;
    }
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

/** Renders a full HTML document: page inside `_app`, head tags, extracted CSS and island boot code. */
export function renderPage(input: RenderInput): string {
  const { props, nonce } = input;
  const head: ComponentChildren[] = [];
  const render: ActiveRender = { islands: input.islands, found: [], wrappers: new Map() };
  const Page = input.page;
  const App = input.app ?? DefaultApp;
  const Component = () => h(Page, props);
  const tree = h(
    HeadContext.Provider,
    { value: head },
    h(App, { url: props.url, params: props.params, state: props.state, Component }),
  ) as VNode<unknown>;
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
