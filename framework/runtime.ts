/**
 * `$fresh/runtime.ts` (deno.json's import map points it here): what pages, components and
 * islands use at run time, as in Fresh 1.x. Safe in the browser: nothing here pulls in server
 * code.
 */
import { type ComponentChildren, type Context, createContext } from "preact";
import { useContext } from "preact/hooks";

/** What `<Head>` elements collect into during a server render. */
type HeadChildren = ComponentChildren[] | null;

/** Collects `<Head>` children during a server render; absent in the browser. */
export const HeadContext: Context<HeadChildren> = createContext<HeadChildren>(null);

/** Puts its children (title, meta, link) into the document's `<head>` when rendered on the server. */
export function Head({ children }: { children?: ComponentChildren }): null {
  const head = useContext(HeadContext);
  head?.push(children);
  return null;
}

/** True in the browser, false while rendering on the server. */
export const IS_BROWSER = typeof document !== "undefined";

/**
 * The URL of a file of `static/`, as Fresh's `asset()` gives it. Unchanged here: static files
 * are served with an ETag and revalidated (framework/static.ts), so they need no cache-busting
 * query to stay fresh.
 */
export function asset(path: string): string {
  return path;
}
