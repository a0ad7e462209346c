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

/** Video only (always muted: sound plays through StreamAudio, so video can come and go). */
export function StreamVideo(
  { stream, mirror = false, fit = "cover", label }: {
    stream: MediaStream | null;
    mirror?: boolean;
    fit?: "cover" | "contain";
    label?: string;
  },
) {
  const ref = useStream<HTMLVideoElement>(stream);
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
