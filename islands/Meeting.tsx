import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { EndScreen } from "../components/meeting/EndScreen.tsx";
import { MeetingRoom } from "../components/meeting/MeetingRoom.tsx";
import { type JoinChoice, PreJoin } from "../components/meeting/PreJoin.tsx";
import { Meeting as MeetingEngine } from "../mesh/engine.ts";
import { LocalMedia } from "../mesh/media.ts";
import { socketUrl } from "../signaling/client.ts";

interface IceResponse {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
}

/** The meeting page: pre-join, the meeting itself, and what happened when it ends. */
export default function Meeting({ room }: { room: string }) {
  const supported = useSignal(true);
  const media = useSignal<LocalMedia | null>(null);
  const meeting = useSignal<MeetingEngine | null>(null);
  const joining = useSignal(false);
  const error = useSignal("");

  useEffect(() => {
    supported.value = typeof RTCPeerConnection !== "undefined" && typeof WebSocket !== "undefined";
    media.value = new LocalMedia();
    const onUnload = () => meeting.value?.leave();
    addEventListener("pagehide", onUnload);
    return () => removeEventListener("pagehide", onUnload);
  }, []);

  async function join({ name, micOn }: JoinChoice) {
    joining.value = true;
    error.value = "";
    let ice: IceResponse;
    try {
      const res = await fetch("/api/ice");
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      ice = await res.json();
    } catch {
      joining.value = false;
      error.value = "Can't reach the meeting server. Check your connection and try again.";
      return;
    }
    const engine = new MeetingEngine({
      signalingUrl: socketUrl(location.origin, room),
      name,
      media: media.value!,
      rtc: { iceServers: ice.iceServers, iceTransportPolicy: ice.iceTransportPolicy },
    });
    if (!micOn) engine.setMicMuted(true);
    // A handle for the browser's devtools and the end-to-end tests.
    (globalThis as { __mooz?: unknown }).__mooz = { meeting: engine };
    meeting.value = engine;
    joining.value = false;
  }

  function rejoin() {
    meeting.value?.dispose();
    meeting.value = null;
    media.value = new LocalMedia();
  }

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
  const end = m?.end.value;
  return (
    <main
      id="meeting"
      data-phase={m ? m.phase.value : "prejoin"}
      data-end={end?.kind}
      class="flex min-h-0 flex-1 flex-col"
    >
      {end
        ? <EndScreen end={end} onRejoin={rejoin} />
        : m
        ? <MeetingRoom meeting={m} room={room} />
        : (
          <PreJoin
            key={media.value}
            room={room}
            media={media.value}
            joining={joining.value}
            error={error.value}
            onJoin={join}
          />
        )}
    </main>
  );
}
