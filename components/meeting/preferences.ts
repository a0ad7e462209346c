/**
 * The person's meeting preferences: what the settings dialog changes and the meeting screen reads.
 * Each is a signal kept in localStorage (under `mooz:pref:<name>`), so it holds across meetings
 * and reloads; where storage is missing or refuses (private windows, the server), the defaults
 * hold for the page's life.
 *
 * @example Read and change one
 * ```ts
 * import { preferences } from "./preferences.ts";
 * if (preferences.shortcuts.value) handleKey(event);
 * preferences.sounds.value = false; // stored at once
 * ```
 */
import { effect, type Signal, signal } from "@preact/signals-core";

/** How the tiles are laid out: everyone alike, or the speaker large with a strip of the rest. */
export type Layout = "grid" | "speaker";

/** Every preference with its default. */
export interface Preferences {
  /** Single-key shortcuts (M, V, …) work; off for people whose speech or switch input types keys (WCAG 2.1.4). */
  shortcuts: boolean;
  /** Sounds for join, leave, chat and raised hands. */
  sounds: boolean;
  /** Our own tile is hidden from our screen (the others still see us). */
  hideSelfView: boolean;
  /** Tile layout. */
  layout: Layout;
  /** The browser's noise suppression on the microphone. */
  noiseSuppression: boolean;
}

const DEFAULTS: Preferences = {
  shortcuts: true,
  sounds: true,
  hideSelfView: false,
  layout: "grid",
  noiseSuppression: true,
};

const PREFIX = "mooz:pref:";

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // Some browsers throw on access when storage is blocked.
  }
}

/** The stored value if it has the default's type (and, for the layout, a known value). */
function read<K extends keyof Preferences>(name: K): Preferences[K] {
  const fallback = DEFAULTS[name];
  try {
    const raw = storage()?.getItem(PREFIX + name);
    if (raw == null) return fallback;
    const value = JSON.parse(raw);
    if (typeof value !== typeof fallback) return fallback;
    if (name === "layout" && value !== "grid" && value !== "speaker") return fallback;
    return value;
  } catch {
    return fallback;
  }
}

function persisted<K extends keyof Preferences>(name: K): Signal<Preferences[K]> {
  const s = signal(read(name));
  let first = true;
  effect(() => {
    const value = s.value;
    // The first run only subscribes: writing the default back would pin it in storage.
    if (first) return void (first = false);
    try {
      storage()?.setItem(PREFIX + name, JSON.stringify(value));
    } catch {
      // Full or refused storage: the preference holds for this page only.
    }
  });
  return s;
}

/** The preferences of this browser, one signal each. */
export const preferences: { readonly [K in keyof Preferences]: Signal<Preferences[K]> } = {
  shortcuts: persisted("shortcuts"),
  sounds: persisted("sounds"),
  hideSelfView: persisted("hideSelfView"),
  layout: persisted("layout"),
  noiseSuppression: persisted("noiseSuppression"),
};
