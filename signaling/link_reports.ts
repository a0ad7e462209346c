/**
 * Members' reports of their links (PROTOCOL.md, "Full-mesh guarantee"): what the store keeps of a
 * new report. Pure; the store applies it inside its transaction.
 */
import { LINK_STATES, type Links, type LinkState, type PeerId } from "./types.ts";

/**
 * The stored report after a member reports `states`: only current members other than itself,
 * only known states, and `since` kept while a link stays in the same state, where "connecting" and
 * "failed" are one state, "not connected" (an ICE restart must not restart the mesh deadline).
 *
 * @example
 * ```ts
 * nextLinkReport({ B: { state: "connecting", since: 1 } }, { B: "failed", X: "connected" }, {
 *   self: "A", members: ["A", "B"], now: 5,
 * }); // { B: { state: "failed", since: 1 } }: X is no member, and B was not connected before either
 * ```
 */
export function nextLinkReport(
  previous: Links,
  states: Record<PeerId, LinkState>,
  room: { self: PeerId; members: PeerId[]; now: number },
): Links {
  const next: Links = {};
  for (const [other, state] of Object.entries(states)) {
    if (other === room.self || !room.members.includes(other) || !LINK_STATES.includes(state)) {
      continue;
    }
    const before = previous[other];
    const same = before !== undefined &&
      (before.state === state || (before.state !== "connected" && state !== "connected"));
    next[other] = { state, since: same ? before.since : room.now };
  }
  return next;
}

/** Whether two reports hold the same states since the same times. */
export function sameLinks(a: Links, b: Links): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) =>
    b[k] !== undefined && a[k].state === b[k].state && a[k].since === b[k].since
  );
}

/**
 * What a member's new report would store, or null when nothing is to be written: the member is
 * not in the room (any more), or the report equals the stored one.
 *
 * @example
 * ```ts
 * const next = changedLinkReport(meta.members, "A", stored, { B: "connected" }, Date.now());
 * if (next) op.set(keys.links(room, "A"), next);
 * ```
 */
export function changedLinkReport(
  members: PeerId[] | undefined,
  self: PeerId,
  stored: Links | null,
  states: Record<PeerId, LinkState>,
  now: number,
): Links | null {
  if (!members?.includes(self)) return null;
  const previous = stored ?? {};
  const next = nextLinkReport(previous, states, { self, members, now });
  return sameLinks(previous, next) ? null : next;
}
