/**
 * What pages, components and islands import from the framework. Safe in the browser: nothing
 * here pulls in server code.
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

/** True while rendering on the server, false in the browser. */
export const IS_BROWSER = typeof document !== "undefined";
