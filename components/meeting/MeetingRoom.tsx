import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Meeting } from "../../mesh/engine.ts";
import { audioLevel } from "../../mesh/media.ts";
import { ChatPanel } from "./ChatPanel.tsx";
import { ControlBar } from "./ControlBar.tsx";
import { autoplay } from "./media_elements.tsx";
import { ParticipantsPanel } from "./ParticipantsPanel.tsx";
import { Toasts } from "./Toasts.tsx";
import { type TileModel, VideoTile } from "./VideoTile.tsx";

/** Audio level above which a participant counts as speaking. */
const SPEAKING = 0.04;

/**
 * Columns and rows for n tiles so that every tile fits on screen, 1 to 8 people (plus screens),
 * on a phone (narrow) or a desktop. Class names are whole literals for the style build.
 */
const COLS = ["grid-cols-1", "grid-cols-2", "grid-cols-3", "grid-cols-4"];
const ROWS = ["grid-rows-1", "grid-rows-2", "grid-rows-3", "grid-rows-4", "grid-rows-5"];

function gridClass(n: number, wide: boolean): string {
  const cols = wide ? (n <= 1 ? 1 : n <= 4 ? 2 : n <= 6 ? 3 : 4) : (n <= 2 ? 1 : 2);
  const rows = Math.min(ROWS.length, Math.ceil(n / cols));
  return `${COLS[cols - 1]} ${ROWS[rows - 1]}`;
}

/** Whether the viewport is at least tablet-wide; follows resizes and rotation. */
function useWide(): boolean {
  const wide = useSignal(true);
  useEffect(() => {
    const query = matchMedia("(min-width: 640px)");
    const update = () => (wide.value = query.matches);
    update();
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return wide.value;
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

export function MeetingRoom({ meeting, room }: { meeting: Meeting; room: string }) {
  const panel = useSignal<"chat" | "people" | null>(null);
  const pinned = useSignal<string | null>(null);
  const seen = useSignal(0);
  const selfLevel = useSignal(0);
  const soundBlocked = useSignal(autoplay.blocked);
  const wide = useWide();

  const status = meeting.status.value;
  const self = meeting.self.value;
  const members = meeting.members.value;

  // Unread: messages from others that arrived while the chat was closed.
  const chat = meeting.chat.value;
  useEffect(() => {
    if (panel.value === "chat") seen.value = chat.length;
  }, [panel.value, chat.length]);
  const unread = chat.slice(seen.value).filter((m) => m.from !== self).length;

  // The local speaking highlight, from the microphone itself (no stats for our own audio).
  useEffect(() => {
    const track = meeting.media.audio;
    if (!track) return;
    const meter = audioLevel(track);
    const timer = setInterval(() => {
      selfLevel.value = track.enabled ? meter.read() : 0;
    }, 250);
    return () => {
      clearInterval(timer);
      meter.close();
    };
  }, [meeting.media.audio]);

  useEffect(() => {
    const update = () => (soundBlocked.value = autoplay.blocked);
    autoplay.listeners.add(update);
    return () => void autoplay.listeners.delete(update);
  }, []);

  const actions = {
    mic: () => meeting.setMicMuted(!status.audioMuted),
    camera: () => void meeting.setCameraOff(!status.videoOff),
    share: () => meeting.screen.value ? meeting.stopScreenShare() : void meeting.startScreenShare(),
    hand: () => meeting.raiseHand(!status.handRaised),
    chat: () => (panel.value = panel.value === "chat" ? null : "chat"),
    people: () => (panel.value = panel.value === "people" ? null : "people"),
    copy: async () => {
      try {
        await navigator.clipboard.writeText(`${location.origin}/${room}`);
        meeting.notify("info", "Invite link copied.");
      } catch {
        meeting.notify("error", `Copying was blocked: the link is ${location.origin}/${room}`);
      }
    },
    leave: () => meeting.leave(),
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        panel.value = null;
        return;
      }
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const action =
        ({ m: "mic", v: "camera", s: "share", h: "hand", c: "chat", p: "people" } as const)[
          e.key.toLowerCase() as "m"
        ];
      if (!action) return;
      e.preventDefault();
      actions[action]();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  // Tiles: ours first, then everyone in join order; screens get their own tiles.
  const peers = meeting.peers.value;
  const loudest = peers.reduce<{ peer: string | null; level: number }>(
    (best, p) =>
      p.audioLevel > best.level && !p.status.audioMuted
        ? { peer: p.peer, level: p.audioLevel }
        : best,
    { peer: null, level: SPEAKING },
  );
  const tiles: TileModel[] = [{
    key: "self:camera",
    peer: self ?? "self",
    kind: "camera",
    name: status.name,
    self: true,
    stream: meeting.media.video ? meeting.media.stream : null,
    videoOff: status.videoOff,
    muted: status.audioMuted,
    handRaised: status.handRaised,
    link: "self",
    online: true,
    quality: null,
    speaking: selfLevel.value > SPEAKING && selfLevel.value >= loudest.level,
  }];
  if (meeting.screen.value) {
    tiles.push({
      ...tiles[0],
      key: "self:screen",
      kind: "screen",
      stream: meeting.screen.value,
      speaking: false,
    });
  }
  for (const p of peers) {
    const base = {
      peer: p.peer,
      name: p.status.name,
      self: false,
      muted: p.status.audioMuted,
      handRaised: p.status.handRaised,
      link: p.link,
      online: p.online,
      quality: p.quality,
    };
    tiles.push({
      ...base,
      key: `${p.peer}:camera`,
      kind: "camera",
      stream: p.camera,
      videoOff: p.status.videoOff || !p.camera?.getVideoTracks().length,
      speaking: loudest.peer === p.peer,
    });
    if (p.screen) {
      tiles.push({
        ...base,
        key: `${p.peer}:screen`,
        kind: "screen",
        stream: p.screen,
        videoOff: false,
        speaking: false,
      });
    }
  }

  // A shared screen goes on the stage by itself, unless someone pinned something else.
  const screenTile = tiles.find((t) => t.kind === "screen" && !t.self);
  const stageKey = pinned.value && tiles.some((t) => t.key === pinned.value)
    ? pinned.value
    : screenTile?.key ?? null;
  const stage = stageKey ? tiles.find((t) => t.key === stageKey)! : null;
  const rest = stage ? tiles.filter((t) => t !== stage) : tiles;
  const phase = meeting.phase.value;

  return (
    <div class="flex min-h-0 flex-1 flex-col gap-3 pb-3">
      <Toasts notices={meeting.notices.value} onDismiss={(id) => meeting.dismissNotice(id)} />
      {phase === "reconnecting" && (
        <p
          role="alert"
          class="rounded-xl bg-amber-900/60 px-4 py-2 text-center text-sm text-amber-100 ring-1 ring-amber-700"
        >
          Reconnecting to the meeting… Your video and audio keep flowing meanwhile.
        </p>
      )}
      {phase === "joining" && (
        <p
          role="status"
          class="rounded-xl bg-slate-800 px-4 py-2 text-center text-sm text-slate-200"
        >
          Joining the meeting…
        </p>
      )}
      {soundBlocked.value && (
        <div
          role="alert"
          class="flex items-center justify-center gap-3 rounded-xl bg-indigo-950 px-4 py-2 text-sm text-indigo-100 ring-1 ring-indigo-800"
        >
          The browser paused the sound until you click.
          <button
            type="button"
            onClick={() => autoplay.resume()}
            class="rounded-lg bg-indigo-600 px-3 py-1 font-semibold text-white hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
          >
            Turn on sound
          </button>
        </div>
      )}
      <div class="flex min-h-0 flex-1 gap-3">
        <section
          aria-label="Participants' video"
          class="flex min-h-0 min-w-0 flex-1 flex-col gap-3"
        >
          {stage && (
            <div class="min-h-0 flex-1">
              <VideoTile
                tile={stage}
                pinned={stageKey === pinned.value}
                onPin={(k) => (pinned.value = k)}
                large
              />
            </div>
          )}
          <div
            class={stage
              ? "grid auto-cols-[minmax(9rem,12rem)] grid-flow-col gap-3 overflow-x-auto"
              : `grid min-h-0 flex-1 gap-3 ${gridClass(rest.length, wide)}`}
          >
            {rest.map((t) => (
              <VideoTile
                key={t.key}
                tile={t}
                pinned={false}
                onPin={(k) => (pinned.value = k)}
                large={!stage}
              />
            ))}
          </div>
        </section>
        {panel.value && (
          <div class="fixed inset-0 z-40 bg-slate-950 p-3 sm:static sm:z-auto sm:w-80 sm:bg-transparent sm:p-0">
            {panel.value === "chat"
              ? (
                <ChatPanel
                  messages={chat}
                  self={self}
                  onSend={(text) => meeting.sendChat(text)}
                  onClose={() => (panel.value = null)}
                />
              )
              : (
                <ParticipantsPanel
                  people={tiles.filter((t) => t.kind === "camera")}
                  capacity={members.length ? meeting.capacity.value : null}
                  onClose={() => (panel.value = null)}
                />
              )}
          </div>
        )}
      </div>
      <ControlBar
        micOn={!status.audioMuted}
        cameraOn={!status.videoOff}
        sharing={meeting.screen.value !== null}
        canShare={typeof navigator !== "undefined" && !!navigator.mediaDevices?.getDisplayMedia}
        handRaised={status.handRaised}
        chatOpen={panel.value === "chat"}
        peopleOpen={panel.value === "people"}
        unread={unread}
        onMic={actions.mic}
        onCamera={actions.camera}
        onShare={actions.share}
        onHand={actions.hand}
        onChat={actions.chat}
        onPeople={actions.people}
        onCopy={actions.copy}
        onLeave={actions.leave}
      />
    </div>
  );
}
