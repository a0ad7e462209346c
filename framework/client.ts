/**
 * The browser runtime: revives the props the server serialized and hydrates every island in
 * place. The page's inline boot script imports this module and the page's island modules.
 */
import { type ComponentType, h, hydrate } from "preact";
import { deserialize } from "./serializer.ts";

const ISLAND_TAG = "island-root";
const STATE_ID = "__FRSH_STATE";

export function boot(islands: Record<string, ComponentType>): void {
  const state = document.getElementById(STATE_ID)?.textContent;
  if (!state) return;
  const found = deserialize(state) as [string, Record<string, unknown>][];
  for (const root of document.querySelectorAll<HTMLElement>(ISLAND_TAG)) {
    const [name, props] = found[Number(root.dataset.id)] ?? [];
    const Island = name === undefined ? undefined : islands[name];
    if (!Island || name !== root.dataset.island) {
      console.error(`Island ${root.dataset.island} has no code or state on this page.`);
      continue;
    }
    try {
      hydrate(h(Island, props), root);
    } catch (err) {
      // One broken island must not keep the others from working.
      console.error(`Island ${name} failed to hydrate:`, err);
    }
  }
}
