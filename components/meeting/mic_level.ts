import { type Signal, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { LocalMedia } from "../../mesh/local_media.ts";

/**
 * The microphone's level, 0..1, as a signal: 0 while muted or without a microphone. Read every
 * `everyMs`, or at the display's frame rate when not given (a meter that moves with the voice).
 */
export function useMicLevel(media: LocalMedia | undefined, everyMs?: number): Signal<number> {
  const level = useSignal(0);
  const track = media?.audio.value;
  useEffect(() => {
    const meter = media?.meter();
    if (!media || !meter) return;
    const read = () => (level.value = media.micOn.peek() ? meter.read() : 0);
    let stop: () => void;
    if (everyMs === undefined) {
      let frame = 0;
      const tick = () => {
        read();
        frame = requestAnimationFrame(tick);
      };
      tick();
      stop = () => cancelAnimationFrame(frame);
    } else {
      const timer = setInterval(read, everyMs);
      stop = () => clearInterval(timer);
    }
    return () => {
      stop();
      meter.close();
    };
  }, [track]);
  return level;
}
