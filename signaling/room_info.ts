/**
 * `GET /api/rooms/{room}`: who is in a room, for the pre-join screen (PROTOCOL.md, "Room info"):
 * how many hold a place, the capacity, whether it is full, locked, behind a lobby or ended, and
 * each member's `join.card` as the browser sealed it. The server knows no names: the page opens
 * the cards with the meeting key from its link.
 *
 * One KV read of the room's meta and tombstone and one short listing of its member records per
 * request; nothing is written, and an idle room costs nothing. Answers are never cached
 * (`Cache-Control: no-store`): the pre-join screen asks again every few seconds. Each client
 * address has a budget of `ROOM_INFO_PER_MIN` requests a minute per isolate, counted like the
 * signaling sockets' (forwarded.ts: not for loopback without a trusted proxy).
 */
import { clientKey } from "./client_limits.ts";
import { clientAddress } from "./forwarded.ts";
import { type EndedRoom, roomKeys } from "./keys.ts";
import { CLIENT_TABLE_MAX_IDLE, ROOM_INFO_PER_MIN } from "./limits.ts";
import type { JsonValue, RoomInfo } from "./protocol.ts";
import { isRoomId } from "./room_id.ts";
import { normalizeMeta } from "./room_read.ts";
import { endedAt } from "./room_roles.ts";
import type { Member, RoomMeta } from "./types.ts";

/** What the endpoint needs; one per isolate (the hub's). */
export interface RoomInfoOptions {
  kv: Deno.Kv;
  /** Capacity of rooms that do not exist yet (`MOOZ_ROOM_CAPACITY`). */
  capacity: number;
  /** `MOOZ_TRUST_PROXY`: who the client is (forwarded.ts). */
  trustProxy: number;
  /** Requests per client address per minute; default `ROOM_INFO_PER_MIN`. */
  perMin?: number;
  /** Addresses remembered at most; default `CLIENT_TABLE_MAX_IDLE`. */
  maxAddresses?: number;
  /** Clock (tests). */
  now?: () => number;
}

const NO_STORE = { "Cache-Control": "no-store" };

/**
 * The room as people about to join see it. A room that does not exist (nobody there yet, or
 * everyone left) has no members and the default capacity.
 *
 * @example
 * ```ts
 * const info = await readRoomInfo(kv, "k3fq-9xmp-2hdw-7rtc-a4ze", 8);
 * if (info.full) console.log(`full (${info.members} of ${info.capacity})`);
 * ```
 */
export async function readRoomInfo(
  kv: Deno.Kv,
  room: string,
  capacity: number,
  now = Date.now(),
): Promise<RoomInfo> {
  const memberPrefix = [...roomKeys.room(room), "member"];
  const [[metaEntry, endedEntry], records] = await Promise.all([
    kv.getMany<[RoomMeta, EndedRoom]>([roomKeys.room(room), roomKeys.ended(room)]),
    // Not atomic with the meta: a member who joins in between shows without a card for one
    // answer, one who left is not in the meta's list. The next answer is right.
    Array.fromAsync(kv.list<Member>({ prefix: memberPrefix }, { batchSize: 100 })),
  ]);
  const ended = endedAt(endedEntry.value, now);
  if (!metaEntry.value || ended) {
    return { members: 0, capacity, full: false, locked: false, lobby: false, ended, cards: [] };
  }
  const meta = normalizeMeta(metaEntry.value);
  const cards = new Map<string, JsonValue>();
  for (const { value } of records) if (value.card !== undefined) cards.set(value.peer, value.card);
  return {
    members: meta.members.length,
    capacity: meta.capacity,
    full: meta.members.length >= meta.capacity,
    locked: meta.locked,
    lobby: meta.lobby,
    ended: false,
    cards: meta.members.map((peer) => cards.get(peer) ?? null),
  };
}

/** A token bucket per client address, the table bounded (least recently used forgotten). */
class Budgets {
  readonly #perMs: number;
  readonly #table = new Map<string, { tokens: number; at: number }>();

  constructor(readonly perMin: number, readonly maxAddresses: number) {
    this.#perMs = perMin / 60_000;
  }

  /** Takes one request: 0 when allowed, else the milliseconds until one will be. */
  take(key: string, now: number): number {
    const entry = this.#table.get(key) ?? { tokens: this.perMin, at: now };
    this.#table.delete(key);
    entry.tokens = Math.min(this.perMin, entry.tokens + (now - entry.at) * this.#perMs);
    entry.at = now;
    const wait = entry.tokens >= 1 ? 0 : Math.ceil((1 - entry.tokens) / this.#perMs);
    if (wait === 0) entry.tokens -= 1;
    // Re-inserted, so the table's order is least recently used first.
    this.#table.set(key, entry);
    if (this.#table.size > this.maxAddresses) {
      this.#table.delete(this.#table.keys().next().value as string);
    }
    return wait;
  }
}

/**
 * The endpoint of one isolate: validates the room id, counts the client's budget, reads the room.
 *
 * @example
 * ```ts
 * const info = new RoomInfoEndpoint({ kv, capacity: 8, trustProxy: 0 });
 * Deno.serve((req, { remoteAddr }) => info.handle(req, "k3fq-9xmp-2hdw-7rtc-a4ze", remoteAddr));
 * ```
 */
export class RoomInfoEndpoint {
  readonly #opts: RoomInfoOptions;
  readonly #budgets: Budgets;

  constructor(opts: RoomInfoOptions) {
    this.#opts = opts;
    this.#budgets = new Budgets(
      opts.perMin ?? ROOM_INFO_PER_MIN,
      opts.maxAddresses ?? CLIENT_TABLE_MAX_IDLE,
    );
  }

  /** Answers `GET /api/rooms/{room}` (JSON, never cached); see the module comment. */
  async handle(req: Request, room: string, remoteAddr?: Deno.Addr): Promise<Response> {
    const refuse = (status: number, error: string, message: string, headers = {}) =>
      Response.json({ error, message }, { status, headers: { ...NO_STORE, ...headers } });
    if (!isRoomId(room)) {
      return refuse(
        400,
        "bad-room",
        "That is not a meeting id: it looks like k3fq-9xmp-2hdw-7rtc-a4ze. Check the link.",
      );
    }
    const now = (this.#opts.now ?? Date.now)();
    const address = clientAddress(req, remoteAddr, this.#opts.trustProxy);
    const waitMs = address === null ? 0 : this.#budgets.take(clientKey(address), now);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return refuse(
        429,
        "rate-limited",
        `Too many requests from your network address; try again in ${seconds} s.`,
        { "Retry-After": String(seconds) },
      );
    }
    try {
      const info = await readRoomInfo(this.#opts.kv, room, this.#opts.capacity, now);
      return Response.json(info, { headers: NO_STORE });
    } catch (err) {
      console.error(`Room info of ${room} could not be read:`, err);
      return refuse(503, "unavailable", "The room store did not answer; try again in a moment.");
    }
  }
}
