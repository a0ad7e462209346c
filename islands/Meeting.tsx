import { useSignal } from "@preact/signals";
import { effect, type Signal } from "@preact/signals-core";
import { useEffect, useRef } from "preact/hooks";
import { EndScreen } from "../components/meeting/EndScreen.tsx";
import { IncompleteLink } from "../components/meeting/IncompleteLink.tsx";
import { type MediaWanted, PreJoin } from "../components/meeting/PreJoin.tsx";
import { MeetingCore, type MeetingKey } from "../mesh/meeting.ts";
import { newMeetingKey, parseMeetingKey } from "../mesh/meeting_key.ts";

/**
 * The meeting screen and the features load while the person is on the pre-join screen: the page
 * is usable sooner, and joining waits for them only if they are not there yet.
 */
const loadScreen = () =>
  Promise.all([
    import("../components/meeting/MeetingRoom.tsx"),
    import("../features/mod.ts"),
    // The lobby's page comes after "Join", like the meeting screen: not on the first load.
    import("../components/meeting/WaitingScreen.tsx"),
  ]);

/**
 * The fragment "New meeting" lands on: `routes/new.ts` answers with `/<room>#new`.
 *
 * Why the key is made here and not by the server or the landing page: the server must never know
 * it, and the landing page's "New meeting" is a plain form POST (it works, and creates nothing by
 * GET, without JavaScript). So the server picks the room, and the meeting page, seeing this
 * marker, makes the key in the browser and writes it into the address bar with `replaceState`
 * before anything else happens: the address bar then holds the whole link to share, a reload
 * keeps it, and Back does not return to `#new`.
 */
const NEW_MEETING_FRAGMENT = "#new";

/** The key of the page's link: made for a new meeting, else read from the fragment. */
function readKey(): ReturnType<typeof parseMeetingKey> {
  if (location.hash === NEW_MEETING_FRAGMENT) {
    const url = new URL(location.href);
    url.hash = newMeetingKey();
    history.replaceState(history.state, "", url);
  }
  return parseMeetingKey(location.hash);
}

/**
 * Follows the meeting key a host rotates (after removing someone) into the address bar, with
 * `replaceState`: copying the link or reloading then carries the new key, and no `hashchange`
 * fires (which would start the page over). Also into `key`, so "Rejoin" uses it. Returns a stop.
 */
function followKey(core: MeetingCore, key: Signal<MeetingKey | null>): () => void {
  return effect(() => {
    const current = core.room.key.value;
    if (!current || current === key.peek()?.key) return;
    const parsed = parseMeetingKey(current);
    if (!parsed.ok) return;
    key.value = { key: parsed.key, bytes: parsed.bytes };
    const url = new URL(location.href);
    url.hash = parsed.key;
    history.replaceState(history.state, "", url);
  });
}

/**
 * Remembers, when the meeting ends, whether the microphone and camera were on: "Rejoin" (or "Try
 * again") opens them as the person left them. Read when the end is set, before the core
 * releases its devices. Returns a stop.
 */
function followMedia(core: MeetingCore, wanted: { current: MediaWanted | undefined }): () => void {
  return effect(() => {
    if (!core.end.value) return;
    const media = core.media;
    wanted.current = { mic: media.micOn.peek(), camera: media.video.peek() !== null };
  });
}

/**
 * The meeting page: reads the key from the link, creates the meeting core and renders its phase
 * (pre-join, the meeting, its end), or the incomplete-link screen when the link has no valid key.
 * Everything else happens in the core (mesh/meeting.ts) and the features.
 */
export default function Meeting({ room }: { room: string }) {
  const supported = useSignal(true);
  /** Why the link has no usable key; null while reading it (and on the server) or when it has. */
  const incomplete = useSignal<"missing" | "malformed" | null>(null);
  const key = useSignal<MeetingKey | null>(null);
  const meeting = useSignal<MeetingCore | null>(null);
  /** A fresh pre-join screen per meeting core after the first (rejoin), not for the first. */
  const attempt = useSignal(0);
  const screen = useSignal<Awaited<ReturnType<typeof loadScreen>> | null>(null);
  /** Stops following the previous core's key and media (see `followKey`, `followMedia`). */
  const stopFollowing = useRef<(() => void) | null>(null);
  /** Microphone and camera as they were when the last meeting ended; none at first. */
  const mediaWanted = useRef<MediaWanted | undefined>(undefined);

  const start = () => {
    const k = key.peek();
    if (k === null) return;
    const previous = meeting.peek();
    previous?.dispose();
    if (previous) attempt.value++;
    const loading = loadScreen();
    loading.then((loaded) => (screen.value = loaded), () => {});
    const core = new MeetingCore({
      room,
      key: k,
      features: async () => (await loading)[1].FEATURES.map((f) => f.definition),
    });
    // A handle for the browser's devtools and the end-to-end tests.
    (globalThis as { __mooz?: unknown }).__mooz = { meeting: core };
    meeting.value = core;
    stopFollowing.current?.();
    const stops = [followKey(core, key), followMedia(core, mediaWanted)];
    stopFollowing.current = () => stops.forEach((stop) => stop());
  };

  useEffect(() => {
    supported.value = typeof RTCPeerConnection !== "undefined" && typeof WebSocket !== "undefined";
    const parsed = readKey();
    if (parsed.ok) {
      key.value = { key: parsed.key, bytes: parsed.bytes };
      start();
    } else {
      // No core: no camera, no socket, nothing joins without the key.
      incomplete.value = parsed.reason;
    }
    // The meeting is bound to the key it started with; another key (the person completed or
    // edited the link in the address bar) is another meeting, so the page starts over.
    const onHashChange = () => location.reload();
    const onUnload = () => meeting.peek()?.leave();
    addEventListener("hashchange", onHashChange);
    addEventListener("pagehide", onUnload);
    return () => {
      removeEventListener("hashchange", onHashChange);
      removeEventListener("pagehide", onUnload);
    };
  }, []);

  if (!supported.value) {
    return (
      <section class="flex flex-1 flex-col items-center justify-center py-16 text-center">
        <h1 class="text-2xl font-bold text-white">This browser can't join meetings</h1>
        <p class="mt-3 max-w-prose text-slate-300">
          Mooz needs WebRTC. Use a current version of Chrome, Edge, Firefox or Safari.
        </p>
      </section>
    );
  }

  if (incomplete.value !== null) {
    return (
      <main id="meeting" data-phase="incomplete-link" class="flex min-h-0 flex-1 flex-col">
        <IncompleteLink reason={incomplete.value} />
      </main>
    );
  }

  const m = meeting.value;
  const phase = m?.phase.value ?? "prejoin";
  const end = m?.end.value;
  const Room = screen.value?.[0].MeetingRoom;
  const features = screen.value?.[1].FEATURES;
  // Loaded before the session starts: joining waits for the features, which load with it.
  const Waiting = screen.value?.[2].WaitingScreen;
  return (
    <main
      id="meeting"
      data-phase={phase}
      data-end={end?.kind}
      class="flex min-h-0 flex-1 flex-col"
    >
      {end
        // We got in if we ever had a peer id: a refusal at the door is "Try again", not "Rejoin".
        ? <EndScreen end={end} joined={m?.self.value != null} onRejoin={start} />
        : m && Waiting && phase === "waiting"
        ? <Waiting meeting={m} name={m.local.value?.name ?? ""} />
        : m && Room && features && phase !== "prejoin" && phase !== "joining"
        ? <Room meeting={m} features={features} />
        : (
          <PreJoin
            key={attempt.value}
            room={room}
            meeting={m}
            media={mediaWanted.current}
          />
        )}
    </main>
  );
}
