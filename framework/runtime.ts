/**
 * What pages, components and islands import from the framework. Safe in the browser: nothing
 * here pulls in server code.
 */
import { type ComponentChildren, createContext } from "preact";
import { useContext } from "preact/hooks";

/** Collects `<Head>` children during a server render; absent in the browser. */
export const HeadContext = createContext<ComponentChildren[] | null>(null);

/** Puts its children (title, meta, link) into the document's `<head>` when rendered on the server. */
export function Head({ children }: { children?: ComponentChildren }) {
  const head = useContext(HeadContext);
  head?.push(children);
  return null;
}

/** True while rendering on the server, false in the browser. */
export const IS_BROWSER = typeof document !== "undefined";
