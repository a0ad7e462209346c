/**
 * A member's card: what people about to join may see of it (PROTOCOL.md, "Room info"). The
 * browser seals `{ name }` with the meeting key and sends it with `join` (`join.card`); the
 * server keeps it with the member, opaque, and lists the room's cards at `GET /api/rooms/{room}`.
 * A pre-join page opens them with the key of its link: someone with the whole link sees who is
 * there, the server and anyone with only the room id see ciphertext.
 *
 * Sealed like a lobby knock (`key_ring.ts`), as from and to the pseudo-peer `CARD_PEER`, so a
 * card opens only as a card of this room: not as a signal or a knock, nor in another room. Each
 * card is opened by a session of its own (no replay state across cards): the server may show a
 * card twice or leave one out, as it may anyway, but cannot read, alter or make one up.
 *
 * @example
 * ```ts
 * const card = await sealCard(key.bytes, room, "Ada"); // sent as join.card
 * const names = await openCards(key.bytes, room, info.cards); // ["Ada", null, ...]
 * ```
 */
import { checkName, isObject } from "./checks.ts";
import { type SealedEnvelope, Sealer } from "./seal.ts";

/** Sender and recipient of every card: 16 characters, a peer id no server hands out. */
export const CARD_PEER = "mooz-member-card";

/** Seals `{ name }` as a card of `room` with the meeting key's bytes. */
export async function sealCard(
  key: Uint8Array,
  room: string,
  name: string,
): Promise<SealedEnvelope> {
  const sealer = await Sealer.create({ key, room });
  return await sealer.session(CARD_PEER).seal(CARD_PEER, { name });
}

/**
 * Opens a room's cards with the meeting key's bytes: each one's name, or null for a card that
 * is missing, does not open with this key (another link's key, an older key of the meeting, or
 * forged) or holds no valid name. Never throws for a card; rejects only for a key or room
 * `Sealer.create` refuses.
 */
export async function openCards(
  key: Uint8Array,
  room: string,
  cards: readonly unknown[],
): Promise<(string | null)[]> {
  const sealer = await Sealer.create({ key, room });
  return await Promise.all(cards.map(async (card) => {
    if (card === null) return null;
    const opened = await sealer.session(CARD_PEER).open(CARD_PEER, card);
    return opened.ok && isObject(opened.payload) ? checkName(opened.payload.name) : null;
  }));
}
