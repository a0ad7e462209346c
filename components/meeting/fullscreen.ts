/**
 * Full screen for one element (the meeting screen, a shared screen's tile) through the Fullscreen
 * API. Browsers without it for elements (iPhone Safari) get no button: `canFullscreen` is false.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";

/** The icon of full-screen buttons (24×24, four corners). */
export const FULLSCREEN_ICON =
  "M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z";

/** Whether this browser can show an element full screen (false on the server). */
export function canFullscreen(): boolean {
  return typeof document !== "undefined" && document.fullscreenEnabled === true;
}

/**
 * Whether the element `target` gives is full screen now (Esc or the browser's own controls may
 * end it at any time), and a toggle for a button.
 */
export function useFullscreen(
  target: () => Element | null | undefined,
): { active: boolean; toggle(): void } {
  const active = useSignal(false);
  useEffect(() => {
    const update = () => (active.value = !!target() && document.fullscreenElement === target());
    // Browsers leave full screen on Esc themselves; where one passes the key on to the page
    // instead (headless Chromium, some embedded views), it still works.
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && active.peek()) document.exitFullscreen().catch(() => {});
    };
    document.addEventListener("fullscreenchange", update);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("fullscreenchange", update);
      document.removeEventListener("keydown", onKey);
    };
  }, []);
  return {
    active: active.value,
    toggle: () => {
      const el = target();
      const done = !el
        ? null
        : document.fullscreenElement === el
        ? document.exitFullscreen()
        : el.requestFullscreen();
      // Refused (no user gesture, a policy): nothing changes and the button stays as it was.
      done?.catch(() => {});
    },
  };
}
