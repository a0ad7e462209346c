import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { EndScreen } from "../components/meeting/EndScreen.tsx";
import { PreJoin } from "../components/meeting/PreJoin.tsx";
import { MeetingCore } from "../mesh/meeting.ts";

/**
 * The meeting screen and the features load while the person is on the pre-join screen: the page
 * is usable sooner, and joining waits for them only if they are not there yet.
 */
const loadScreen = () =>
  Promise.all([import("../components/meeting/MeetingRoom.tsx"), import("../features/mod.ts")]);

/**
 * The meeting page: creates the meeting core and renders its phase (pre-join, the meeting, its
 * end). Everything else happens in the core (mesh/meeting.ts) and the features.
 */
export default function Meeting({ room }: { room: string }) {
  const supported = useSignal(true);
  const meeting = useSignal<MeetingCore | null>(null);
  /** A fresh pre-join screen per meeting core after the first (rejoin), not for the first. */
  const attempt = useSignal(0);
  const screen = useSignal<Awaited<ReturnType<typeof loadScreen>> | null>(null);

  const start = () => {
    const previous = meeting.peek();
    previous?.dispose();
    if (previous) attempt.value++;
    const loading = loadScreen();
    loading.then((loaded) => (screen.value = loaded), () => {});
    const core = new MeetingCore({
      room,
      features: async () => (await loading)[1].FEATURES.map((f) => f.definition),
    });
    // A handle for the browser's devtools and the end-to-end tests.
    (globalThis as { __mooz?: unknown }).__mooz = { meeting: core };
    meeting.value = core;
  };

  useEffect(() => {
    supported.value = typeof RTCPeerConnection !== "undefined" && typeof WebSocket !== "undefined";
    start();
    const onUnload = () => meeting.peek()?.leave();
    addEventListener("pagehide", onUnload);
    return () => removeEventListener("pagehide", onUnload);
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

  const m = meeting.value;
  const phase = m?.phase.value ?? "prejoin";
  const end = m?.end.value;
  const Room = screen.value?.[0].MeetingRoom;
  const features = screen.value?.[1].FEATURES;
  return (
    <main
      id="meeting"
      data-phase={phase}
      data-end={end?.kind}
      class="flex min-h-0 flex-1 flex-col"
    >
      {end
        ? <EndScreen end={end} onRejoin={start} />
        : m && Room && features && phase !== "prejoin" && phase !== "joining"
        ? <Room meeting={m} features={features} />
        : <PreJoin key={attempt.value} room={room} meeting={m} />}
    </main>
  );
}
