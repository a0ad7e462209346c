/**
 * Whether the server isolate holding a member is alive, from one key per isolate
 * (`["isolates", id]`) instead of one beat key per member.
 *
 * Why per isolate: a member's socket lives exactly as long as its isolate does, unless the socket
 * closes, and a close marks the member disconnected at once (`RoomStore.disconnect`). So "is the
 * server holding this member alive" is a question about the isolate, and an isolate answers it
 * with one write per heartbeat however many members it serves (before, it rewrote one key per
 * member, and a sweep had to read every room to find the stale ones). The member's own beat key
 * (`["rooms", id, "beat", peer]`) is now written only when it is placed on an isolate (join,
 * resume): it keeps a member that was just placed alive until its isolate's next beat, and judges
 * members stored by an older version, whose isolates wrote no such key.
 *
 * A member's "held beat" (what snapshots show as `heartbeatAt` and what `RoomStore` judges) is the
 * later of its own beat and its isolate's; 0 (`STOPPED_BEAT`) once its isolate stopped cleanly.
 */
import { KV_LIMITS } from "./limits.ts";
import { chunk } from "./kv_chunks.ts";
import { sweepKeys } from "./keys.ts";
import type { Member } from "./types.ts";

/** `["isolates", id]`: the last heartbeat of one server isolate. */
export interface IsolateBeat {
  /** When the isolate last beat (its clock), or stopped. */
  beatAt: number;
  /** The isolate stopped cleanly: its members count as members of a stopped server at once. */
  stopped: boolean;
  /**
   * When a sweep first took this isolate for lost and marked members of it disconnected. The
   * isolate's next beat sees this and puts back its members whose sockets are still open (it had
   * only failed to write its beats). Null while nobody did.
   */
  lostAt: number | null;
  /** The sweep that is visiting this lost isolate's rooms, and until when others leave it to it. */
  sweep?: { by: string; until: number };
}

/** What a member's liveness is judged from once its isolate stopped cleanly: as old as can be. */
export const STOPPED_BEAT = 0;

/** Whether `beat` says its isolate is alive at `now` (beaten within `timeoutMs`, not stopped). */
export function isolateLive(beat: IsolateBeat | null, now: number, timeoutMs: number): boolean {
  return beat !== null && !beat.stopped && now - beat.beatAt <= timeoutMs;
}

/**
 * The time a connected member was last known alive: the later of its own beat (its placement on
 * its isolate, or, from an older version, its last per-member beat; its join time if missing) and
 * its isolate's beat; `STOPPED_BEAT` when its isolate stopped cleanly.
 */
export function heldBeat(
  member: Member,
  ownBeat: number | null,
  isolate: IsolateBeat | null | undefined,
): number {
  if (isolate?.stopped) return STOPPED_BEAT;
  return Math.max(ownBeat ?? member.joinedAt, isolate?.beatAt ?? -Infinity);
}

/**
 * The beat entries of `isolates` (each read once), in as few calls as `getMany` allows. Not
 * retried: callers wrap it.
 */
export async function readIsolateBeats(
  kv: Deno.Kv,
  isolates: Iterable<string>,
): Promise<Map<string, Deno.KvEntryMaybe<IsolateBeat>>> {
  const ids = [...new Set(isolates)];
  const parts = await Promise.all(
    chunk(ids, KV_LIMITS.getManyKeys).map((part) =>
      kv.getMany<IsolateBeat[]>(part.map((id) => sweepKeys.isolate(id)))
    ),
  );
  const beats = new Map<string, Deno.KvEntryMaybe<IsolateBeat>>();
  parts.flat().forEach((entry, i) => beats.set(ids[i], entry));
  return beats;
}

/** The isolates holding `members` that are connected (only theirs can be lost). */
export function connectedIsolates(members: Iterable<Member>): Set<string> {
  const ids = new Set<string>();
  for (const m of members) if (m.connected) ids.add(m.isolate);
  return ids;
}
