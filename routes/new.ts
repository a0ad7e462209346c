import type { Handlers } from "../framework/mod.ts";
import { newRoomId } from "../signaling/room_id.ts";

/** "New meeting": a POST, so that prefetchers and crawlers never create rooms. */
export const handler: Handlers = {
  POST() {
    return new Response(null, { status: 303, headers: { Location: `/${newRoomId()}` } });
  },
};
