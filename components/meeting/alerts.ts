/**
 * What the meeting screen tells a person who looks elsewhere: unread messages in the tab's title
 * ("(2) Meeting · Mooz"), and sounds when someone joins or leaves and when a message arrives in
 * a panel that is closed.
 */
import { effect } from "@preact/signals-core";
import { useEffect, useRef } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { Controls } from "./controls.ts";
import { playSound } from "./sounds.ts";

/** The page title with the unread count in front, as browsers' tabs show it. */
export function unreadTitle(base: string, unread: number): string {
  return unread > 0 ? `(${unread > 99 ? "99+" : unread}) ${base}` : base;
}

/**
 * Unread messages of the panels that are closed (a panel that shows them has them read): the
 * counts of the bar's panel buttons that count "unread", not another thing ("waiting").
 */
export function unreadCount(controls: Controls): number {
  return controls.panels.reduce(
    (n, item) => item.countLabel === undefined && !item.expanded ? n + (item.count ?? 0) : n,
    0,
  );
}

/** Keeps the title's unread count and plays the meeting's sounds while the meeting shows. */
export function useAlerts(meeting: MeetingCore, controls: Controls): void {
  const unread = unreadCount(controls);
  const previous = useRef(unread);
  const base = useRef<string | null>(null);

  useEffect(() => {
    base.current ??= document.title;
    document.title = unreadTitle(base.current, unread);
    // Only a rise is news; opening the panel brings it down, silently.
    if (unread > previous.current) playSound("message");
    previous.current = unread;
  }, [unread]);
  useEffect(() => () => void (base.current !== null && (document.title = base.current)), []);

  // Joins and leaves, from the core's toasts: they are never about ourselves.
  useEffect(() => {
    let seen = meeting.notices.peek().reduce((max, n) => Math.max(max, n.id), 0);
    return effect(() => {
      for (const n of meeting.notices.value) {
        if (n.id <= seen) continue;
        seen = n.id;
        if (n.kind === "join" || n.kind === "leave") playSound(n.kind);
      }
    });
  }, []);
}
