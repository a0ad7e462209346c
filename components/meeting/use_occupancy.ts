/**
 * Keeps the pre-join screen's view of who is in the meeting fresh: asks at once, then every
 * `OCCUPANCY_POLL_MS` while the page is visible, and again when the page comes back into view or
 * the window gets focus. A hidden page asks nothing. One small request at a time, cancelled when
 * the screen goes (joining).
 */
import { type Signal, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { parseMeetingKey } from "../../mesh/meeting_key.ts";
import { fetchOccupancy, type Occupancy } from "../../mesh/room_occupancy.ts";

/** How often the pre-join screen asks while visible: a place can free up at any time. */
export const OCCUPANCY_POLL_MS = 5_000;
/** Focus and visibility often come together: one request for both. */
const MIN_GAP_MS = 1_000;

/**
 * The room's occupancy for `room`, its cards opened with `key` (the meeting key as in the link);
 * null until the first answer, and while the server cannot be asked. Null `key` (rendering on the
 * server): none.
 */
export function useOccupancy(room: string, key: string | null): Signal<Occupancy | null> {
  const occupancy = useSignal<Occupancy | null>(null);
  useEffect(() => {
    const parsed = parseMeetingKey(key ?? "");
    if (!parsed.ok) return;
    const bytes = parsed.bytes;
    const stop = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let askedAt = 0;
    const ask = async () => {
      clearTimeout(timer);
      if (inFlight || stop.signal.aborted || document.visibilityState === "hidden") return;
      inFlight = true;
      askedAt = Date.now();
      const seen = await fetchOccupancy(location.origin, room, bytes, stop.signal);
      inFlight = false;
      if (stop.signal.aborted) return;
      // A failed ask keeps what was known: it is a moment old, and says more than nothing.
      if (seen) occupancy.value = seen;
      timer = setTimeout(ask, OCCUPANCY_POLL_MS);
    };
    const soon = () => {
      if (Date.now() - askedAt >= MIN_GAP_MS) void ask();
    };
    addEventListener("focus", soon);
    document.addEventListener("visibilitychange", soon);
    void ask();
    return () => {
      stop.abort();
      clearTimeout(timer);
      removeEventListener("focus", soon);
      document.removeEventListener("visibilitychange", soon);
    };
  }, [room, key]);
  return occupancy;
}
