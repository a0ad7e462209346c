/**
 * Who is in a meeting before joining it: the pre-join screen asks the server
 * (`GET /api/rooms/{room}`, PROTOCOL.md "Room info") and opens the members' sealed cards with the
 * meeting key (`member_card.ts`), so a full meeting is known before "Join" and people see who
 * is there. The answer is checked like anything from the network: a malformed one is no answer.
 *
 * @example
 * ```ts
 * const seen = await fetchOccupancy(location.origin, room, key.bytes);
 * if (seen?.full) showFull(seen.members, seen.capacity);
 * ```
 */
import { MAX_CAPACITY } from "../signaling/limits.ts";

/** The room as the pre-join screen shows it. */
export interface Occupancy {
  /** People holding a place (those reconnecting included). */
  members: number;
  capacity: number;
  /** Joining now would be refused: every place is taken. */
  full: boolean;
  /** A host locked it: only hosts get in. */
  locked: boolean;
  /** Newcomers wait until a host lets them in. */
  lobby: boolean;
  /** A host ended it: nobody gets in. */
  ended: boolean;
  /** Who is there, in join order: a name, or null for someone whose card did not open. */
  names: (string | null)[];
}

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 &&
  value <= MAX_CAPACITY;

/**
 * Asks the server who is in `room` and opens their cards with the meeting key's bytes. Null
 * when the server cannot be asked or answers something else (the screen then says nothing).
 */
export async function fetchOccupancy(
  origin: string,
  room: string,
  key: Uint8Array,
  signal?: AbortSignal,
): Promise<Occupancy | null> {
  let body: Record<string, unknown>;
  try {
    const res = await fetch(new URL(`/api/rooms/${encodeURIComponent(room)}`, origin), {
      signal,
      cache: "no-store",
    });
    if (!res.ok) return null;
    body = await res.json();
  } catch {
    return null;
  }
  const { members, capacity, full, locked, lobby, ended, cards } = body ?? {};
  if (
    !isCount(members) || !isCount(capacity) || capacity < 1 || typeof full !== "boolean" ||
    typeof locked !== "boolean" || typeof lobby !== "boolean" || typeof ended !== "boolean" ||
    !Array.isArray(cards) || cards.length > MAX_CAPACITY
  ) return null;
  // One entry per member: a missing card is someone whose name we cannot know.
  const padded = Array.from({ length: members }, (_, i) => cards[i] ?? null);
  let names: (string | null)[];
  try {
    const { openCards } = await import("./member_card.ts");
    names = await openCards(key, room, padded);
  } catch {
    names = padded.map(() => null);
  }
  return { members, capacity, full, locked, lobby, ended, names };
}
