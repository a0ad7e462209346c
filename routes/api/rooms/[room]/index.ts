import type { Handlers } from "$fresh/server.ts";
import { getHub } from "../../../../signaling/hub_singleton.ts";

/**
 * `GET /api/rooms/{room}`: how many are in the room, whether it is full, locked or ended, and
 * their sealed name cards, for the pre-join screen; see signaling/PROTOCOL.md, "Room info".
 */
export const handler: Handlers = {
  async GET(req, ctx) {
    return await (await getHub()).handleRoomInfo(req, ctx.params.room, ctx.remoteAddr);
  },
};
