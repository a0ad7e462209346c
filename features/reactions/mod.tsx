/** Reactions: a picker over the control bar, and emoji floating over the sender's tile. */
import { useEffect, useRef } from "preact/hooks";
import { featureModule } from "../../components/meeting/slots.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { type Emoji, REACTIONS, reactions, SHOW_MS } from "./reactions.ts";

/** A smiling face (24×24 path, drawn in currentColor). */
const SMILE_ICON =
  "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm-3.5-9a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM12 17.5a5.5 5.5 0 0 0 5-3.2l-1.8-.8a3.5 3.5 0 0 1-6.4 0l-1.8.8a5.5 5.5 0 0 0 5 3.2z";

/**
 * The picker the bar's "Reactions" button opens over the bar; it stays open for several
 * reactions. The core closes it on Esc and returns focus to the button.
 */
function ReactionPicker({ meeting }: { meeting: MeetingCore; close(): void }) {
  const feature = meeting.feature(reactions);
  const group = useRef<HTMLDivElement>(null);
  // Opening moves focus to the first emoji, so the keyboard can go on from there.
  useEffect(() => group.current?.querySelector("button")?.focus(), []);
  return (
    <div
      ref={group}
      role="group"
      aria-label="Send a reaction"
      class="flex gap-1 rounded-full bg-slate-800 p-1.5 shadow-xl ring-1 ring-slate-700"
    >
      {(Object.keys(REACTIONS) as Emoji[]).map((emoji) => (
        <button
          key={emoji}
          type="button"
          aria-label={`React with ${REACTIONS[emoji]}`}
          title={REACTIONS[emoji]}
          disabled={!feature.canSend.value}
          onClick={() => feature.send(emoji)}
          class="flex h-10 w-10 items-center justify-center rounded-full text-2xl hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 disabled:opacity-40"
        >
          <span aria-hidden="true" class="font-emoji">{emoji}</span>
        </button>
      ))}
    </div>
  );
}

/** One emoji rising and fading over the tile (set through the CSSOM: the CSP allows no inline style). */
function Floating({ emoji, name }: { emoji: Emoji; name: string }) {
  const ref = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.left = `${15 + Math.random() * 55}%`;
    el.style.transitionDuration = `${SHOW_MS}ms`;
    const frame = requestAnimationFrame(() => {
      el.style.transform = "translateY(-9rem)";
      el.style.opacity = "0";
    });
    return () => cancelAnimationFrame(frame);
  }, []);
  return (
    <span
      ref={ref}
      role="img"
      aria-label={`${name} reacted with ${REACTIONS[emoji]}`}
      data-reaction={emoji}
      class="absolute bottom-10 font-emoji text-4xl transition-all ease-out"
    >
      {emoji}
    </span>
  );
}

export default featureModule(reactions, {
  controls: [{ id: "reactions", label: "Reactions", icon: SMILE_ICON, Popup: ReactionPicker }],
  TileOverlay: ({ meeting, peer }) => {
    const active = meeting.feature(reactions).active.value.filter((r) => r.peer === peer);
    if (active.length === 0) return null;
    const name = peer === null
      ? "You"
      : meeting.peers.value.find((p) => p.peer === peer)?.name ?? "Someone";
    return (
      <div class="pointer-events-none absolute inset-0 overflow-hidden">
        {active.map((r) => <Floating key={r.id} emoji={r.emoji} name={name} />)}
      </div>
    );
  },
});
