import { useEffect, useRef } from "preact/hooks";
import { followSpeaker } from "./audio_output.ts";

/**
 * Browsers refuse to start audio before the page got a click; the meeting offers a button. The
 * page's one autoplay state, shared by every media element (a documented singleton: the browser's
 * autoplay policy is per page, not per meeting).
 */
export const autoplay = {
  blocked: false,
  listeners: new Set<() => void>(),
  report() {
    if (this.blocked) return;
    this.blocked = true;
    this.listeners.forEach((fn) => fn());
  },
  /** Retries every media element after a click. */
  resume() {
    this.blocked = false;
    document.querySelectorAll<HTMLMediaElement>("audio, video").forEach((el) => {
      el.play().catch(() => {});
    });
    this.listeners.forEach((fn) => fn());
  },
};

function useStream<T extends HTMLMediaElement>(stream: MediaStream | null) {
  const ref = useRef<T>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (el.srcObject !== stream) el.srcObject = stream;
    if (stream) {
      el.play().catch((err: DOMException) => err.name === "NotAllowedError" && autoplay.report());
    }
  }, [stream]);
  return ref;
}

/**
 * Video only (always muted: sound plays through StreamAudio, so video can come and go).
 * `onFrames` hears the picture's size once frames arrive, and null while there are none yet (a
 * new stream, a screen share still starting), so the tile can say it is loading.
 */
export function StreamVideo(
  { stream, mirror = false, fit = "cover", label, onFrames }: {
    stream: MediaStream | null;
    mirror?: boolean;
    fit?: "cover" | "contain";
    label?: string;
    onFrames?: (size: { width: number; height: number } | null) => void;
  },
) {
  const ref = useStream<HTMLVideoElement>(stream);
  const listener = useRef(onFrames);
  listener.current = onFrames;
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const report = () =>
      listener.current?.(
        el.videoWidth > 0 ? { width: el.videoWidth, height: el.videoHeight } : null,
      );
    report();
    // "resize" comes with the first frame and whenever the picture changes shape; "emptied"
    // when the stream is replaced.
    const events = ["resize", "loadeddata", "emptied"];
    events.forEach((e) => el.addEventListener(e, report));
    return () => events.forEach((e) => el.removeEventListener(e, report));
  }, [stream]);
  return (
    <video
      ref={ref}
      autoPlay
      playsInline
      muted
      aria-label={label}
      class={`h-full w-full bg-slate-900 ${fit === "cover" ? "object-cover" : "object-contain"} ${
        mirror ? "-scale-x-100" : ""
      }`}
    />
  );
}

/** The sound of a remote stream, on the speaker chosen in the settings. */
export function StreamAudio({ stream }: { stream: MediaStream | null }) {
  const ref = useStream<HTMLAudioElement>(stream);
  useEffect(() => ref.current ? followSpeaker(ref.current) : undefined, []);
  return <audio ref={ref} autoPlay />;
}
